//! Counter increments: `ShardedCounter::inc` against a shared `AtomicU64`,
//! std and parking_lot `Mutex<u64>`, per-thread padded `fetch_add`, the
//! `thread_local` crate's per-object thread-local cells (`tl_thread_local`:
//! each thread's padded cell, Relaxed load + store, summed by iterating), and
//! the physical limit (each thread owns a padded word: Relaxed load + store).
//!
//! Time = ns per increment per thread; throughput = all threads' increments/s.
//! See `benches/common/mod.rs` for the harness and `docs/benchmarks.md`.
//!
//! Issue 14 (thread lifecycles):
//!
//! * `counter_churn`: one iteration is one **round**: `threads` threads start,
//!   each increments [`CHURN_ADDS`] times, and exits (joined). `noclobber_sharded`
//!   against `legacy_owner_cas` (the pre-issue-14 algorithm, copied below: shards
//!   claimed by CAS on an owner word, never given back), the `thread_local`
//!   crate's cells (`tl_thread_local`: a thread's id, and with it its cell, is
//!   reused by the next thread after it exits) and a shared
//!   `std_atomic_fetch_add`.
//! * `counter_fresh_thread`: `inc` from a thread started after 10,000 threads
//!   started, incremented once and exited (`noclobber_after_10k_churn`,
//!   `legacy_after_10k_churn`), against the same on a counter no thread ever
//!   churned (`ref_never_churned`), and `tl_after_10k_churn` for the
//!   `thread_local` crate. Time = ns per increment.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{bench, config, max_threads, thread_counts};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_utils::CachePadded;
use noclobber::ShardedCounter;
use thread_local::ThreadLocal;

/// The `thread_local` crate's way to a per-thread counter: one padded cell per
/// thread that used it, written only by that thread (Relaxed load + store, as
/// the owned shards), summed by iterating over the cells.
struct TlCounter(ThreadLocal<CachePadded<AtomicU64>>);

impl TlCounter {
    fn new() -> Self {
        TlCounter(ThreadLocal::new())
    }

    #[inline]
    fn inc(&self) {
        let cell = self.0.get_or_default();
        cell.store(cell.load(Relaxed).wrapping_add(1), Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|c| c.load(Relaxed)).sum()
    }
}

fn counter_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc");
    for t in thread_counts() {
        {
            // A fresh counter per benchmark, so its shards get fresh owners.
            let ctr = &ShardedCounter::new();
            bench(&mut g, "noclobber_sharded", t, move |_| move || ctr.inc());
            black_box(ctr.sum());
        }
        {
            // The per-thread handle: shard resolved once, outside the loop.
            let ctr = &ShardedCounter::new();
            bench(&mut g, "noclobber_sharded_local", t, move |_| {
                let local = ctr.local();
                move || local.inc()
            });
            black_box(ctr.sum());
        }
        {
            let tl = &TlCounter::new();
            bench(&mut g, "tl_thread_local", t, move |_| move || tl.inc());
            black_box(tl.sum());
        }
        {
            let a = &CachePadded::new(AtomicU64::new(0));
            bench(&mut g, "std_atomic_fetch_add", t, move |_| {
                move || {
                    a.fetch_add(1, Relaxed);
                }
            });
        }
        {
            let m = &CachePadded::new(Mutex::new(0u64));
            bench(&mut g, "std_mutex", t, move |_| {
                move || *m.lock().unwrap() += 1
            });
        }
        {
            let m = &CachePadded::new(parking_lot::Mutex::new(0u64));
            bench(&mut g, "parking_lot_mutex", t, move |_| {
                move || *m.lock() += 1
            });
        }
        {
            let per: &Vec<CachePadded<AtomicU64>> =
                &(0..max_threads()).map(|_| Default::default()).collect();
            bench(&mut g, "padded_per_thread_fetch_add", t, move |tid| {
                let a = &per[tid];
                move || {
                    a.fetch_add(1, Relaxed);
                }
            });
        }
        {
            // The owned-shard limit from DESIGN.md §3: no locked instruction.
            let per: &Vec<CachePadded<AtomicU64>> =
                &(0..max_threads()).map(|_| Default::default()).collect();
            bench(&mut g, "owned_shard_load_store", t, move |tid| {
                let a = &per[tid];
                move || a.store(a.load(Relaxed).wrapping_add(1), Relaxed)
            });
        }
    }
    g.finish();
}

/// Increments per thread per round of `counter_churn`: long enough that the
/// increments, not only the thread start, show (100,000 owned increments take
/// about 50 us, a thread start and exit about 30 us here).
const CHURN_ADDS: usize = 100_000;

/// Threads started and exited before `counter_fresh_thread` measures.
const CHURNED_THREADS: usize = 10_000;

/// Runs `inc` `n` times on each of `threads` new threads, joined (so their
/// thread-local destructors have run).
fn churn_round(threads: usize, n: usize, inc: &(dyn Fn() + Sync)) {
    thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| (0..n).for_each(|_| inc())))
            .collect();
        // Explicit joins wait for each thread's exit, destructors included; the
        // end of the scope alone waits only for the closures.
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

fn counter_churn(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_churn");
    let t = max_threads().min(2);
    g.throughput(Throughput::Elements((t * CHURN_ADDS) as u64));
    let mut run = |name: &str, inc: &(dyn Fn() + Sync)| {
        g.bench_function(BenchmarkId::new(name, t), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    churn_round(t, CHURN_ADDS, inc);
                }
                start.elapsed()
            })
        });
    };
    let ctr = ShardedCounter::new();
    run("noclobber_sharded", &|| ctr.inc());
    black_box(ctr.sum());
    let legacy = legacy::Counter::new();
    run("legacy_owner_cas", &|| legacy.inc());
    black_box(legacy.sum());
    let tl = TlCounter::new();
    run("tl_thread_local", &|| tl.inc());
    black_box(tl.sum());
    let a = CachePadded::new(AtomicU64::new(0));
    run("std_atomic_fetch_add", &|| {
        a.fetch_add(1, Relaxed);
    });
    black_box(a.load(Relaxed));
    g.finish();
}

/// A thread started now that runs `iters` increments per request and reports
/// the time they took: the timed thread of `counter_fresh_thread`.
fn fresh_thread<'s>(
    s: &'s thread::Scope<'s, '_>,
    inc: &'s (dyn Fn() + Sync),
) -> (mpsc::Sender<u64>, mpsc::Receiver<Duration>) {
    let (go, requests) = mpsc::channel::<u64>();
    let (report, times) = mpsc::channel();
    s.spawn(move || {
        for iters in requests {
            let start = Instant::now();
            for _ in 0..iters {
                inc();
            }
            report.send(start.elapsed()).unwrap();
        }
    });
    (go, times)
}

fn counter_fresh_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_fresh_thread");
    g.throughput(Throughput::Elements(1));
    let ctr = ShardedCounter::new();
    let never = ShardedCounter::new();
    let legacy = legacy::Counter::new();
    let tl = TlCounter::new();
    for _ in 0..CHURNED_THREADS {
        churn_round(1, 1, &|| {
            ctr.inc();
            legacy.inc();
            tl.inc();
        });
    }
    assert_eq!(ctr.sum(), CHURNED_THREADS as i64);
    assert_eq!(tl.sum(), CHURNED_THREADS as u64);
    let cases: [(&str, &(dyn Fn() + Sync)); 4] = [
        ("noclobber_after_10k_churn", &|| ctr.inc()),
        ("ref_never_churned", &|| never.inc()),
        ("legacy_after_10k_churn", &|| legacy.inc()),
        ("tl_after_10k_churn", &|| tl.inc()),
    ];
    for (name, inc) in cases {
        thread::scope(|s| {
            let (go, times) = fresh_thread(s, inc);
            g.bench_function(BenchmarkId::new(name, 1), |b| {
                b.iter_custom(|iters| {
                    go.send(iters).unwrap();
                    times.recv().unwrap()
                })
            });
        });
    }
    black_box((ctr.sum(), never.sum(), legacy.sum(), tl.sum()));
    g.finish();
}

/// The `ShardedCounter` add path before issue 14, for comparison: a per-thread
/// token from a global counter picks the shard; the first thread on a shard
/// claims it with a CAS on its owner word (on the same cache line as the total)
/// and keeps it after it exits, so later threads `fetch_add` the shared cell.
mod legacy {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

    use crossbeam_utils::CachePadded;

    pub struct Counter {
        shards: Box<[Shard]>,
    }

    #[derive(Default)]
    struct Shard {
        owned: CachePadded<(AtomicUsize, AtomicI64)>,
        shared: CachePadded<AtomicI64>,
    }

    fn token() -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        thread_local! {
            static TOKEN: Cell<usize> = const { Cell::new(0) };
        }
        TOKEN.with(|t| {
            if t.get() == 0 {
                t.set(NEXT.fetch_add(1, Relaxed));
            }
            t.get()
        })
    }

    impl Counter {
        pub fn new() -> Self {
            let n = (2 * super::max_threads()).next_power_of_two();
            Counter {
                shards: (0..n).map(|_| Shard::default()).collect(),
            }
        }

        #[inline]
        pub fn inc(&self) {
            let token = token();
            let shard = &self.shards[token & (self.shards.len() - 1)];
            let (owner, total) = &*shard.owned;
            let o = owner.load(Relaxed);
            if o == token || (o == 0 && owner.compare_exchange(0, token, Relaxed, Relaxed).is_ok())
            {
                total.store(total.load(Relaxed) + 1, Relaxed);
            } else {
                shard.shared.fetch_add(1, Relaxed);
            }
        }

        pub fn sum(&self) -> i64 {
            self.shards
                .iter()
                .map(|s| s.owned.1.load(Relaxed) + s.shared.load(Relaxed))
                .sum()
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = counter_inc, counter_churn, counter_fresh_thread
}
criterion_main!(benches);
