//! The lost update, at scale: T threads each add +1 N times to one counter.
//!
//! A naive read-then-write (`load`, then `store(x + 1)`) loses increments whenever
//! two threads read the same value; every other row must lose none. Every
//! noclobber primitive that several threads can write has a row;
//! `SoloWriter` has none because it cannot race at all: its `write` and
//! `update` take `&mut self`, so T threads cannot share it without a lock.
//!
//! ```text
//! cargo run --release --example lost_update [-- --threads T --ops N]
//! ```
//!
//! To add a row, add a [`Method`] to the list in `main`: the columns size
//! themselves to the longest name.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use noclobber::{Publisher, SeqLock, ShardedCounter, VersionedCell};

/// One row of the table: how to add 1, and how to read the total afterwards.
struct Method<'a> {
    name: &'static str,
    /// Only the naive row may lose updates; the program fails if another does.
    may_lose: bool,
    inc: Box<dyn Fn() + Sync + 'a>,
    total: Box<dyn Fn() -> u64 + 'a>,
}

impl<'a> Method<'a> {
    fn new(name: &'static str, inc: impl Fn() + Sync + 'a, total: impl Fn() -> u64 + 'a) -> Self {
        Method {
            name,
            may_lose: false,
            inc: Box::new(inc),
            total: Box::new(total),
        }
    }
}

fn main() {
    let (threads, ops) = parse_args();

    let naive = AtomicU64::new(0);
    let mutex = Mutex::new(0u64);
    let atomic = AtomicU64::new(0);
    let cell = VersionedCell::new(0u64);
    let seqlock = SeqLock::new(0u64);
    let publisher = Publisher::<u64, 4>::with_slots(0);
    let conditional = Publisher::<u64, 4>::with_slots(0);
    let counter = ShardedCounter::new();

    let methods = [
        Method {
            may_lose: true,
            ..Method::new(
                "naive load + store (AtomicU64)",
                || {
                    // The read-modify-write race: another thread may store in between.
                    let x = naive.load(Relaxed);
                    naive.store(black_box(x) + 1, Relaxed);
                },
                || naive.load(Relaxed),
            )
        },
        Method::new(
            "std::sync::Mutex",
            || *mutex.lock().unwrap() += 1,
            || *mutex.lock().unwrap(),
        ),
        Method::new(
            "AtomicU64::fetch_add",
            || {
                atomic.fetch_add(1, Relaxed);
            },
            || atomic.load(Relaxed),
        ),
        Method::new(
            "noclobber::VersionedCell::update",
            || {
                cell.update(|x| x + 1);
            },
            || cell.read(),
        ),
        Method::new(
            "noclobber::SeqLock::update",
            || {
                seqlock.update(|x| x + 1);
            },
            || seqlock.read(),
        ),
        Method::new(
            "noclobber::Publisher::update",
            || {
                publisher.update(|x| x + 1);
            },
            || publisher.read(),
        ),
        Method::new(
            "noclobber::Publisher::write_if (retry)",
            || {
                // Read, then write only if nobody wrote meanwhile.
                let mut seen = conditional.read_versioned();
                while let Err(now) = conditional.write_if(seen.version, seen.value + 1) {
                    seen = now;
                }
            },
            || conditional.read(),
        ),
        Method::new(
            "noclobber::ShardedCounter::inc",
            || counter.inc(),
            || counter.sum() as u64,
        ),
    ];

    println!(
        "{threads} threads x {ops} increments each, on {} hardware threads\n",
        cores()
    );
    let table = Table::new(methods.iter().map(|m| m.name));
    table.header();
    for method in &methods {
        table.row(method, threads, ops);
    }
    println!("\nOnly the first row may lose updates; the program fails if any other row does.");
}

/// Column widths: the method column fits the longest name.
struct Table {
    name: usize,
}

const COLUMNS: [(&str, usize); 4] = [("expected", 12), ("got", 12), ("lost", 12), ("M ops/s", 8)];

impl Table {
    fn new<'n>(names: impl Iterator<Item = &'n str>) -> Self {
        let name = names.map(str::len).chain([6]).max().unwrap_or(6);
        Table { name }
    }

    fn header(&self) {
        let mut line = format!("| {:<w$} |", "method", w = self.name);
        let mut rule = format!("|{}|", "-".repeat(self.name + 2));
        for (label, w) in COLUMNS {
            line += &format!(" {label:>w$} |");
            rule += &format!("{}:|", "-".repeat(w + 1));
        }
        println!("{line}\n{rule}");
    }

    /// Runs `method.inc` `ops` times on each of `threads` threads (released
    /// together by a barrier), prints one row, and exits with an error if a
    /// method that must not lose updates lost one.
    fn row(&self, method: &Method<'_>, threads: usize, ops: u64) {
        let barrier = Barrier::new(threads);
        let inc: &(dyn Fn() + Sync) = &*method.inc;
        let elapsed = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let start = Instant::now();
                        (0..ops).for_each(|_| inc());
                        start
                    })
                })
                .collect();
            let starts: Vec<Instant> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            starts.iter().min().map_or(Duration::ZERO, Instant::elapsed)
        });
        let expected = threads as u64 * ops;
        let got = (method.total)();
        let lost = expected.saturating_sub(got);
        let mops = expected as f64 / elapsed.as_secs_f64() / 1e6;
        let [e, g, l, m] = COLUMNS.map(|(_, w)| w);
        println!(
            "| {:<nw$} | {expected:>e$} | {got:>g$} | {lost:>l$} | {mops:>m$.1} |",
            method.name,
            nw = self.name
        );
        if !method.may_lose && got != expected {
            eprintln!("error: {} lost {lost} updates", method.name);
            std::process::exit(1);
        }
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
