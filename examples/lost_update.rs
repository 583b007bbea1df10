//! The lost update, at scale: T threads each add +1 N times to one counter.
//!
//! A naive read-then-write (`load`, then `store(x + 1)`) loses increments whenever
//! two threads read the same value; every other row must lose none.
//!
//! ```text
//! cargo run --release --example lost_update [-- --threads T --ops N]
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use noclobber::{SeqLock, ShardedCounter, VersionedCell};

fn main() {
    let (threads, ops) = parse_args();
    println!(
        "{threads} threads x {ops} increments each, on {} hardware threads\n",
        cores()
    );
    println!("| method                          |     expected |          got |         lost | M ops/s |");
    println!("|---------------------------------|-------------:|-------------:|-------------:|--------:|");

    let naive = AtomicU64::new(0);
    row(
        "naive load + store (AtomicU64)",
        threads,
        ops,
        || {
            // The read-modify-write race: another thread may store in between.
            let x = naive.load(Relaxed);
            naive.store(black_box(x) + 1, Relaxed);
        },
        || naive.load(Relaxed),
    );

    let mutex = Mutex::new(0u64);
    row(
        "std::sync::Mutex",
        threads,
        ops,
        || *mutex.lock().unwrap() += 1,
        || *mutex.lock().unwrap(),
    );

    let atomic = AtomicU64::new(0);
    row(
        "AtomicU64::fetch_add",
        threads,
        ops,
        || {
            atomic.fetch_add(1, Relaxed);
        },
        || atomic.load(Relaxed),
    );

    let cell = VersionedCell::new(0u64);
    row(
        "noclobber::VersionedCell::update",
        threads,
        ops,
        || {
            cell.update(|x| x + 1);
        },
        || cell.load().value,
    );

    let seqlock = SeqLock::new(0u64);
    row(
        "noclobber::SeqLock::update",
        threads,
        ops,
        || {
            seqlock.update(|x| x + 1);
        },
        || seqlock.read(),
    );

    let counter = ShardedCounter::new();
    row(
        "noclobber::ShardedCounter::inc",
        threads,
        ops,
        || counter.inc(),
        || counter.sum() as u64,
    );

    println!("\nOnly the first row may lose updates; the program fails if any other row does.");
}

/// Runs `op` `ops` times on each of `threads` threads (released together by a
/// barrier), prints one table row, and exits with an error if a safe method lost
/// an update.
fn row(name: &str, threads: usize, ops: u64, op: impl Fn() + Sync, read: impl Fn() -> u64) {
    let barrier = Barrier::new(threads);
    let elapsed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    (0..ops).for_each(|_| op());
                    start
                })
            })
            .collect();
        let starts: Vec<Instant> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        starts.iter().min().map_or(Duration::ZERO, Instant::elapsed)
    });
    let expected = threads as u64 * ops;
    let got = read();
    let lost = expected.saturating_sub(got);
    let mops = expected as f64 / elapsed.as_secs_f64() / 1e6;
    println!("| {name:<31} | {expected:>12} | {got:>12} | {lost:>12} | {mops:>7.1} |");
    if !name.starts_with("naive") && got != expected {
        eprintln!("error: {name} lost {lost} updates");
        std::process::exit(1);
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn parse_args() -> (usize, u64) {
    let (mut threads, mut ops) = (cores() * 2, 1_000_000);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--threads", Some(v)) if v > 0 => threads = v as usize,
            ("--ops", Some(v)) if v > 0 => ops = v,
            _ => {
                eprintln!("usage: lost_update [--threads T] [--ops N]");
                std::process::exit(2);
            }
        }
    }
    (threads, ops)
}
