//! Shared multi-thread harness for the criterion benches (issue 4).
//!
//! # What one benchmark measures
//!
//! * The worker threads are spawned **once per benchmark** (one implementation at
//!   one thread count) and kept for all its warm-up and measurement samples.
//! * The calling thread is worker 0, so `threads` workers use exactly `threads`
//!   OS threads (no idle coordinator stealing one of the few cores).
//! * Per sample, criterion asks for `iters`; worker 0 takes a timestamp, releases
//!   the other workers with a spinning gate (they park only after ~2 ms idle), and
//!   **every** worker performs `iters` operations. The sample time is from the
//!   release until the **slowest** worker finished.
//! * So criterion's "time" is **ns per operation per thread** (`elapsed / iters`),
//!   i.e. the latency of one op while `threads - 1` other threads do the same, and
//!   its throughput line (`Throughput::Elements(threads)`) is the aggregate rate
//!   `threads * iters / elapsed`. `bench_report` (`benches/src/bin/`) prints both.
//! * Optional background **writer** thread (reads-under-write scenarios): it is
//!   switched on before the readers are released, runs its write in a loop while
//!   they work (back to back, or paced at about one write per microsecond, see
//!   [`Writer`]), and is switched off after the slowest reader finished, so it is
//!   always writing while reads are timed. It is not timed itself; its rate is
//!   printed to stderr per benchmark (and measured by the report's fairness probe).
//!
//! Fairness (ops per thread) is not visible here by construction (every thread
//! does `iters` ops); the report command runs a fixed-time probe for that.

#![allow(dead_code)]

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use crossbeam_utils::CachePadded;

/// The payload used by the read/publish scenarios.
pub type Words4 = [u64; 4];

/// Criterion settings for the whole suite: 90 benchmarks on a 2-core machine
/// at about 5 s each (1 s warm-up, 3 s measurement, ~1 s analysis and plots):
/// about 8 minutes. 20 000 bootstrap resamples instead of criterion's
/// 100 000 cut the analysis and plotting time per benchmark from ~6 s to ~1 s.
/// Command-line flags (`--warm-up-time`, `--measurement-time`, `--sample-size`,
/// `--nresamples`, ...) still override these (`configure_from_args` runs after).
pub fn config() -> Criterion {
    set_criterion_home();
    Criterion::default()
        .sample_size(50)
        .nresamples(20_000)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        // Shared 2-vCPU VMs are noisy; do not flag 5 % wobbles as changes.
        .noise_threshold(0.05)
}

/// Cargo runs a bench with the bench crate's directory (`benches/`) as its
/// working directory, but resolves a relative `CARGO_TARGET_DIR` against the
/// directory it was started from (the repository root, in every documented
/// command). Criterion would resolve it against `benches/` and write its results
/// to `benches/target/...`; point it (through `CRITERION_HOME`, which it reads
/// first) at `<root>/$CARGO_TARGET_DIR/criterion`, where the report generator
/// `bench_report` looks. Called before any criterion code and before any thread
/// is spawned, so nothing reads the environment concurrently.
fn set_criterion_home() {
    if std::env::var_os("CRITERION_HOME").is_some() {
        return;
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        let target = std::path::PathBuf::from(target);
        if target.is_relative() {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("benches/ has a parent");
            std::env::set_var("CRITERION_HOME", root.join(target).join("criterion"));
        }
    }
}

/// `available_parallelism()`, at least 1.
pub fn max_threads() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// Thread counts to run: 1, 2, 4, ... up to `available_parallelism()`, plus
/// `available_parallelism()` itself (on this 2-core host: 1 and 2). Powers of
/// two keep the suite's run time bounded on big machines.
pub fn thread_counts() -> Vec<usize> {
    let max = max_threads();
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|&n| n <= max)
        .collect();
    if v.last() != Some(&max) {
        v.push(max);
    }
    v
}

/// Reader counts for the scenarios with one extra writer thread, so that
/// readers + writer never exceed `available_parallelism()` (at least 1 reader).
pub fn reader_counts_with_writer() -> Vec<usize> {
    let max = max_threads().saturating_sub(1).max(1);
    let mut v: Vec<usize> = thread_counts().into_iter().filter(|&n| n <= max).collect();
    if v.last() != Some(&max) {
        v.push(max);
    }
    v
}

/// Benchmarks `name` at `threads` threads: thread `tid` (0-based) runs the op
/// returned by `make(tid)` (called on that thread) `iters` times per sample.
pub fn bench<M, Op>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, threads: usize, make: M)
where
    M: Fn(usize) -> Op + Sync,
    Op: FnMut(),
{
    run(group, name, threads, &make, None::<fn()>);
}

/// Like [`bench`], with a background writer running `write` in a loop while the
/// `readers` reader threads are timed. The benchmark's parameter is the number
/// of reader threads.
pub fn bench_with_writer<M, Op, W>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    readers: usize,
    make: M,
    write: W,
) where
    M: Fn(usize) -> Op + Sync,
    Op: FnMut(),
    W: FnMut() + Send,
{
    run(group, name, readers, &make, Some(write));
}

/// How the background writer of a read scenario behaves.
#[derive(Clone, Copy, Debug)]
pub enum Writer {
    /// No writer: readers only.
    None,
    /// One write, then spin (touching no shared memory) until `period` has
    /// passed since the write started: a realistic "concurrent writer".
    Paced(Duration),
    /// Writes back to back: the worst case for optimistic readers.
    Busy,
}

/// Period of the paced writer: about one write per microsecond.
pub const WRITE_PERIOD: Duration = Duration::from_micros(1);

/// [`bench`] or [`bench_with_writer`] depending on `writer`.
pub fn bench_mode<M, Op, W>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    writer: Writer,
    make: M,
    mut write: W,
) where
    M: Fn(usize) -> Op + Sync,
    Op: FnMut(),
    W: FnMut() + Send,
{
    match writer {
        Writer::None => bench(group, name, threads, make),
        Writer::Busy => bench_with_writer(group, name, threads, make, write),
        Writer::Paced(period) => bench_with_writer(group, name, threads, make, move || {
            let start = Instant::now();
            write();
            while start.elapsed() < period {
                spin_loop();
            }
        }),
    }
}

/// State shared by the workers of one benchmark.
struct Shared {
    /// Bumped by worker 0 to start a sample.
    gen: CachePadded<AtomicU64>,
    /// Operations per worker in the current sample.
    iters: CachePadded<AtomicU64>,
    /// Helpers that finished the current sample.
    done: CachePadded<AtomicUsize>,
    /// Finish time of each helper, ns since `base`.
    finish: Vec<CachePadded<AtomicU64>>,
    base: Instant,
    stop: AtomicBool,
    /// Writer control: requested on/off, and the writer's acknowledged state.
    writer_on: CachePadded<AtomicBool>,
    writer_running: CachePadded<AtomicBool>,
    /// Writes done so far (stored only by the writer).
    writes: CachePadded<AtomicU64>,
}

/// Spin for a while, then park with a timeout, until `ready()`.
fn wait_until(mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut n = 0u32;
    while !ready() {
        n = n.wrapping_add(1);
        if n.is_multiple_of(1024) && start.elapsed() > Duration::from_millis(2) {
            thread::park_timeout(Duration::from_millis(1));
        } else {
            spin_loop();
        }
    }
}

fn helper<Op: FnMut()>(shared: &Shared, tid: usize, mut op: Op) {
    let mut seen = 0u64;
    loop {
        let mut gen = 0;
        wait_until(|| {
            gen = shared.gen.load(Ordering::Acquire);
            gen != seen || shared.stop.load(Ordering::Acquire)
        });
        if gen == seen {
            return; // stop requested
        }
        seen = gen;
        let iters = shared.iters.load(Ordering::Relaxed);
        for _ in 0..iters {
            op();
        }
        let t = shared.base.elapsed().as_nanos() as u64;
        shared.finish[tid].store(t, Ordering::Relaxed);
        shared.done.fetch_add(1, Ordering::Release);
    }
}

fn writer<W: FnMut()>(shared: &Shared, mut write: W) {
    let mut count = 0u64;
    loop {
        wait_until(|| {
            shared.writer_on.load(Ordering::Acquire) || shared.stop.load(Ordering::Acquire)
        });
        if !shared.writer_on.load(Ordering::Acquire) {
            return;
        }
        shared.writer_running.store(true, Ordering::Release);
        while shared.writer_on.load(Ordering::Relaxed) {
            write();
            count += 1;
            shared.writes.store(count, Ordering::Release);
        }
        shared.writer_running.store(false, Ordering::Release);
    }
}

fn run<M, Op, W>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    make: &M,
    write: Option<W>,
) where
    M: Fn(usize) -> Op + Sync,
    Op: FnMut(),
    W: FnMut() + Send,
{
    assert!(threads >= 1);
    let shared = Shared {
        gen: CachePadded::new(AtomicU64::new(0)),
        iters: CachePadded::new(AtomicU64::new(0)),
        done: CachePadded::new(AtomicUsize::new(0)),
        finish: (0..threads)
            .map(|_| CachePadded::new(AtomicU64::new(0)))
            .collect(),
        base: Instant::now(),
        stop: AtomicBool::new(false),
        writer_on: CachePadded::new(AtomicBool::new(false)),
        writer_running: CachePadded::new(AtomicBool::new(false)),
        writes: CachePadded::new(AtomicU64::new(0)),
    };
    let has_writer = write.is_some();
    let mut timed = Duration::ZERO;
    let mut timed_writes = 0u64;
    group.throughput(Throughput::Elements(threads as u64));
    thread::scope(|s| {
        let helpers: Vec<Thread> = (1..threads)
            .map(|tid| {
                let shared = &shared;
                s.spawn(move || helper(shared, tid, make(tid)))
                    .thread()
                    .clone()
            })
            .collect();
        let writer_thread: Option<Thread> = write.map(|w| {
            let shared = &shared;
            s.spawn(move || writer(shared, w)).thread().clone()
        });
        let mut op = make(0);
        group.bench_function(BenchmarkId::new(name, threads), |b| {
            b.iter_custom(|iters| {
                let mut writes_before = 0;
                if let Some(w) = &writer_thread {
                    // Start the writer and wait for its first write, so reads are
                    // only ever timed while it is writing.
                    writes_before = shared.writes.load(Ordering::Acquire);
                    shared.writer_on.store(true, Ordering::Release);
                    w.unpark();
                    while !(shared.writer_running.load(Ordering::Acquire)
                        && shared.writes.load(Ordering::Acquire) > writes_before)
                    {
                        spin_loop();
                    }
                    writes_before = shared.writes.load(Ordering::Acquire);
                }
                shared.iters.store(iters, Ordering::Relaxed);
                shared.done.store(0, Ordering::Relaxed);
                let t0 = Instant::now();
                shared.gen.fetch_add(1, Ordering::Release);
                for h in &helpers {
                    h.unpark();
                }
                for _ in 0..iters {
                    op();
                }
                let mut end = Instant::now();
                while shared.done.load(Ordering::Acquire) < helpers.len() {
                    spin_loop();
                }
                for f in &shared.finish[1..] {
                    end = end.max(shared.base + Duration::from_nanos(f.load(Ordering::Relaxed)));
                }
                if writer_thread.is_some() {
                    timed_writes += shared.writes.load(Ordering::Acquire) - writes_before;
                    shared.writer_on.store(false, Ordering::Release);
                    while shared.writer_running.load(Ordering::Acquire) {
                        spin_loop();
                    }
                }
                let elapsed = end.saturating_duration_since(t0);
                timed += elapsed;
                elapsed
            })
        });
        shared.stop.store(true, Ordering::Release);
        for t in helpers.iter().chain(writer_thread.iter()) {
            t.unpark();
        }
    });
    if has_writer && timed > Duration::from_millis(100) {
        eprintln!(
            "    [writer] {}/{}: {:.2} M writes/s while readers were timed",
            name,
            threads,
            timed_writes as f64 / timed.as_secs_f64() / 1e6
        );
    }
}
