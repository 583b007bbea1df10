//! Counter increments: `ShardedCounter::inc` against a shared `AtomicU64`,
//! std and parking_lot `Mutex<u64>`, per-thread padded `fetch_add`, and the
//! physical limit (each thread owns a padded word: Relaxed load + store).
//!
//! Time = ns per increment per thread; throughput = all threads' increments/s.
//! See `benches/common/mod.rs` for the harness and `docs/benchmarks.md`.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use common::{bench, config, max_threads, thread_counts};
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_utils::CachePadded;
use noclobber::ShardedCounter;

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

criterion_group! {
    name = benches;
    config = config();
    targets = counter_inc
}
criterion_main!(benches);
