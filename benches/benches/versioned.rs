//! `noclobber::VersionedCell<u64>`:
//! * `versioned_update_u64`: `update(|x| x + 1)` against std and parking_lot
//!   `Mutex<u64>` (lock, += 1), a `compare_exchange_weak` loop on `AtomicU64`,
//!   and `fetch_add` (reference: the hardware RMW), 1..=N threads on one cell
//!   (1 thread = uncontended, 2 = contended), plus `u128_cas_loop_ref`, the bare
//!   `portable_atomic::AtomicU128` CAS loop the cell is built on (reference);
//! * `versioned_read_u64`: `read_versioned` (value and version, the 0.1 `load`)
//!   against `Mutex` / `RwLock` read and a plain
//!   `AtomicU64::load` and one bare `AtomicU128::load` (references), 1..=N
//!   reader threads.
//!
//! Time = ns per op per thread. See `benches/common/mod.rs`.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use common::{bench, config, thread_counts};
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_utils::CachePadded;
use noclobber::VersionedCell;
use portable_atomic::AtomicU128;

fn versioned_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("versioned_update_u64");
    for t in thread_counts() {
        {
            let cell = &CachePadded::new(VersionedCell::new(0u64));
            bench(&mut g, "noclobber_versioned", t, move |_| {
                move || {
                    black_box(cell.update(|x| x + 1));
                }
            });
        }
        {
            let m = &CachePadded::new(Mutex::new(0u64));
            bench(&mut g, "std_mutex", t, move |_| {
                move || {
                    let mut v = m.lock().unwrap();
                    *v += 1;
                    black_box(*v);
                }
            });
        }
        {
            let m = &CachePadded::new(parking_lot::Mutex::new(0u64));
            bench(&mut g, "parking_lot_mutex", t, move |_| {
                move || {
                    let mut v = m.lock();
                    *v += 1;
                    black_box(*v);
                }
            });
        }
        {
            let a = &CachePadded::new(AtomicU64::new(0));
            bench(&mut g, "std_atomic_cas_loop", t, move |_| {
                move || {
                    let mut cur = a.load(Ordering::Relaxed);
                    loop {
                        match a.compare_exchange_weak(
                            cur,
                            cur + 1,
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        ) {
                            Ok(_) => break,
                            Err(now) => cur = now,
                        }
                    }
                    black_box(cur + 1);
                }
            });
        }
        {
            let a = &CachePadded::new(AtomicU64::new(0));
            bench(&mut g, "std_atomic_fetch_add", t, move |_| {
                move || {
                    black_box(a.fetch_add(1, Ordering::AcqRel));
                }
            });
        }
        {
            // Reference: the bare 128-bit (version, value) CAS loop that
            // `VersionedCell<u64>` is built on, without backoff.
            let a = &CachePadded::new(AtomicU128::new(0));
            bench(&mut g, "u128_cas_loop_ref", t, move |_| {
                move || {
                    let mut cur = a.load(Ordering::Acquire);
                    let next = loop {
                        let next = cur + (1 << 64) + 1;
                        match a.compare_exchange_weak(
                            cur,
                            next,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        ) {
                            Ok(_) => break next,
                            Err(now) => cur = now,
                        }
                    };
                    black_box(next);
                }
            });
        }
    }
    g.finish();
}

fn versioned_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("versioned_read_u64");
    for t in thread_counts() {
        {
            let cell = &CachePadded::new(VersionedCell::new(7u64));
            bench(&mut g, "noclobber_versioned", t, move |_| {
                move || {
                    black_box(cell.read_versioned());
                }
            });
        }
        {
            let m = &CachePadded::new(Mutex::new(7u64));
            bench(&mut g, "std_mutex", t, move |_| {
                move || {
                    black_box(*m.lock().unwrap());
                }
            });
        }
        {
            let m = &CachePadded::new(RwLock::new(7u64));
            bench(&mut g, "std_rwlock", t, move |_| {
                move || {
                    black_box(*m.read().unwrap());
                }
            });
        }
        {
            let m = &CachePadded::new(parking_lot::Mutex::new(7u64));
            bench(&mut g, "parking_lot_mutex", t, move |_| {
                move || {
                    black_box(*m.lock());
                }
            });
        }
        {
            let a = &CachePadded::new(AtomicU64::new(7));
            bench(&mut g, "std_atomic_load", t, move |_| {
                move || {
                    black_box(a.load(Ordering::Acquire));
                }
            });
        }
        {
            // Reference: one bare 128-bit atomic load (portable-atomic).
            let a = &CachePadded::new(AtomicU128::new(7));
            bench(&mut g, "u128_load_ref", t, move |_| {
                move || {
                    black_box(a.load(Ordering::Acquire));
                }
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = versioned_update, versioned_read
}
criterion_main!(benches);
