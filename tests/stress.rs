//! Real-thread stress tests: more threads than cores (4 and 8 on 2 cores) so the
//! scheduler preempts threads in the middle of operations.
//!
//! Invariants: no lost update (exact sums), no torn read (8-word payloads whose
//! words must all be equal), versions never go backwards for one reader, and a
//! value written before a `join` is seen after it.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Barrier;

use noclobber::{
    Publisher, ReadError, SeqLock, ShardedCounter, SoloWriter, Versioned, VersionedCell,
};

const THREADS: [u64; 2] = [4, 8];

/// Operations per thread: enough to preempt mid-operation many times in
/// release builds, small under Miri.
fn ops() -> u64 {
    if cfg!(miri) {
        30
    } else if cfg!(debug_assertions) {
        5_000
    } else {
        200_000
    }
}

/// An 8-word payload whose words are all `x`.
fn wide(x: u64) -> [u64; 8] {
    [x; 8]
}

fn assert_whole(v: &[u64; 8]) -> u64 {
    assert!(v.iter().all(|&w| w == v[0]), "torn read: {v:?}");
    v[0]
}

#[test]
fn versioned_update_loses_nothing() {
    for threads in THREADS {
        let small = VersionedCell::new(0u64);
        let large = VersionedCell::new([0u64; 4]);
        let start = Barrier::new(threads as usize);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..ops() {
                        small.update(|x| x + 1);
                        large.update(|x| x.map(|w| w + 1));
                    }
                });
            }
        });
        let total = threads * ops();
        assert_eq!(
            small.read_versioned(),
            Versioned {
                value: total,
                version: total
            }
        );
        assert_eq!(
            large.read_versioned(),
            Versioned {
                value: [total; 4],
                version: total
            }
        );
    }
}

#[test]
fn versioned_write_if_retry_loops_lose_nothing() {
    fn retry_add<T: bytemuck::NoUninit>(cell: &VersionedCell<T>, f: impl Fn(T) -> T) {
        let mut seen = cell.read_versioned();
        loop {
            match cell.write_if(seen.version, f(seen.value)) {
                Ok(v) => return assert_eq!(v, seen.version + 1),
                Err(now) => {
                    assert!(now.version > seen.version, "versions went backwards");
                    seen = now;
                }
            }
        }
    }
    for threads in THREADS {
        let small = VersionedCell::new(0u32);
        let large = VersionedCell::new([0u64; 3]);
        let start = Barrier::new(threads as usize);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..ops() {
                        retry_add(&small, |x| x + 1);
                        retry_add(&large, |x| x.map(|w| w + 1));
                    }
                });
            }
        });
        let total = threads * ops();
        assert_eq!(
            small.read_versioned(),
            Versioned {
                value: total as u32,
                version: total
            }
        );
        assert_eq!(
            large.read_versioned(),
            Versioned {
                value: [total; 3],
                version: total
            }
        );
    }
}

/// Every `swap` returns what it replaced: over all threads, the replaced
/// values plus the final one are the initial value and every value swapped in,
/// each exactly once, and the replaced versions are `0..total`, each once.
#[test]
fn versioned_swap_hands_every_value_on_exactly_once() {
    for threads in THREADS {
        let small = VersionedCell::new(0u64);
        let large = VersionedCell::new([0u64; 4]);
        let start = Barrier::new(threads as usize);
        let returned: Vec<[Versioned<u64>; 2]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (small, large, start) = (&small, &large, &start);
                    s.spawn(move || {
                        start.wait();
                        let mut got: Vec<[Versioned<u64>; 2]> = Vec::with_capacity(ops() as usize);
                        for i in 0..ops() {
                            let x = t * ops() + i + 1;
                            let a = small.swap(x);
                            let b = large.swap([x; 4]);
                            assert!(b.value.iter().all(|&w| w == b.value[0]), "torn: {b:?}");
                            let b = Versioned {
                                value: b.value[0],
                                version: b.version,
                            };
                            if let Some([pa, pb]) = got.last() {
                                // One thread's swaps are ordered: versions go up.
                                assert!(a.version > pa.version && b.version > pb.version);
                            }
                            got.push([a, b]);
                        }
                        got
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let total = threads * ops();
        let large_last = large.read_versioned();
        assert_eq!(large_last.value, [large_last.value[0]; 4], "torn");
        let last = [
            small.read_versioned(),
            Versioned {
                value: large_last.value[0],
                version: large_last.version,
            },
        ];
        for path in 0..2 {
            assert_eq!(last[path].version, total);
            let mut values: Vec<u64> = returned.iter().map(|r| r[path].value).collect();
            values.push(last[path].value);
            values.sort_unstable();
            assert!(
                values.iter().copied().eq(0..=total),
                "path {path}: a value was handed on twice or never"
            );
            let mut versions: Vec<u64> = returned.iter().map(|r| r[path].version).collect();
            versions.sort_unstable();
            assert!(
                versions.iter().copied().eq(0..total),
                "path {path}: replaced versions"
            );
        }
    }
}

/// `fetch_update` with a closure that declines at a limit: exactly `limit`
/// calls succeed, each returning a distinct previous version (the value equals
/// its version, as every write adds 1), and every refusal shows the limit.
#[test]
fn versioned_fetch_update_counts_each_success_once() {
    for threads in THREADS {
        let limit = threads * ops() / 2;
        let small = VersionedCell::new(0u64);
        let large = VersionedCell::new([0u64; 3]);
        let start = Barrier::new(threads as usize);
        let oks: Vec<[Option<u64>; 2]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let mut got = Vec::new();
                        for _ in 0..ops() {
                            let a = match small.fetch_update(|x| (x < limit).then_some(x + 1)) {
                                Ok(prev) => {
                                    assert_eq!(prev.value, prev.version);
                                    Some(prev.version)
                                }
                                Err(now) => {
                                    assert_eq!(
                                        now,
                                        Versioned {
                                            value: limit,
                                            version: limit
                                        }
                                    );
                                    None
                                }
                            };
                            let b = match large
                                .fetch_update(|x| (x[0] < limit).then(|| x.map(|w| w + 1)))
                            {
                                Ok(prev) => {
                                    assert_eq!(prev.value, [prev.version; 3], "torn or lost");
                                    Some(prev.version)
                                }
                                Err(now) => {
                                    assert_eq!(
                                        now,
                                        Versioned {
                                            value: [limit; 3],
                                            version: limit
                                        }
                                    );
                                    None
                                }
                            };
                            got.push([a, b]);
                        }
                        got
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        for path in 0..2 {
            let mut versions: Vec<u64> = oks.iter().filter_map(|r| r[path]).collect();
            versions.sort_unstable();
            assert!(
                versions.iter().copied().eq(0..limit),
                "path {path}: previous versions"
            );
        }
        assert_eq!(
            small.read_versioned(),
            Versioned {
                value: limit,
                version: limit
            }
        );
        assert_eq!(
            large.read_versioned(),
            Versioned {
                value: [limit; 3],
                version: limit
            }
        );
    }
}

#[test]
fn versioned_large_reads_are_never_torn() {
    for threads in THREADS {
        let cell = VersionedCell::new(wide(0));
        let writers = threads / 2;
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let writer_handles: Vec<_> = (0..writers)
                .map(|_| {
                    s.spawn(|| {
                        (0..ops()).for_each(|_| {
                            cell.update(|v| wide(v[0] + 1));
                        })
                    })
                })
                .collect();
            for _ in writers..threads {
                s.spawn(|| {
                    let mut last = 0;
                    while !done.load(Relaxed) {
                        let Versioned { value, version } = cell.read_versioned();
                        // Every write adds 1, so value and version move together.
                        assert_eq!(assert_whole(&value), version);
                        assert!(version >= last, "version went backwards");
                        last = version;
                    }
                });
            }
            writer_handles.into_iter().for_each(|h| h.join().unwrap());
            done.store(true, Relaxed);
        });
        assert_eq!(cell.read_versioned().value, wide(writers * ops()));
    }
}

#[test]
fn seqlock_update_loses_nothing_and_reads_are_never_torn() {
    for threads in THREADS {
        let lock = SeqLock::new(wide(0));
        let writers = threads / 2;
        let done = AtomicBool::new(false);
        let start = Barrier::new(writers as usize);
        std::thread::scope(|s| {
            let writer_handles: Vec<_> = (0..writers)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        (0..ops()).for_each(|_| {
                            lock.update(|v| wide(v[0] + 1));
                        })
                    })
                })
                .collect();
            for _ in writers..threads {
                s.spawn(|| {
                    let mut last = 0;
                    while !done.load(Relaxed) {
                        let Versioned { value, version } = lock.read_versioned();
                        assert_eq!(assert_whole(&value), version);
                        assert!(version >= last, "version went backwards");
                        last = version;
                        if let Ok(v) = lock.try_read() {
                            assert_whole(&v.value);
                        }
                    }
                });
            }
            writer_handles.into_iter().for_each(|h| h.join().unwrap());
            done.store(true, Relaxed);
        });
        let total = writers * ops();
        assert_eq!(
            lock.read_versioned(),
            Versioned {
                value: wide(total),
                version: total
            }
        );
    }
}

#[test]
fn seqlock_plain_writes_from_many_writers_are_never_torn() {
    for threads in THREADS {
        let lock = SeqLock::new(wide(0));
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let writers: Vec<_> = (1..=threads / 2)
                .map(|id| {
                    let lock = &lock;
                    s.spawn(move || {
                        (0..ops()).for_each(|i| {
                            lock.write(wide(id << 32 | i));
                        })
                    })
                })
                .collect();
            for _ in threads / 2..threads {
                s.spawn(|| {
                    while !done.load(Relaxed) {
                        assert_whole(&lock.read());
                    }
                });
            }
            writers.into_iter().for_each(|h| h.join().unwrap());
            done.store(true, Relaxed);
        });
        assert_eq!(lock.version(), threads / 2 * ops());
    }
}

/// Several writers (`write` and `write_if`), several readers, 8-word values
/// tagged writer << 32 | sequence.
fn publisher_stress<const S: usize>(threads: u64) {
    let p: Publisher<[u64; 8], S> = Publisher::with_slots(wide(0));
    let writers = threads / 2;
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer_handles: Vec<_> = (1..=writers)
            .map(|id| {
                let p = &p;
                s.spawn(move || {
                    let mut mine = 0;
                    for i in 0..ops() {
                        if i % 2 == 0 {
                            p.write(wide(id << 32 | i));
                            mine += 1;
                        } else {
                            let seen = p.read_versioned();
                            if p.write_if(seen.version, wide(id << 32 | i)).is_ok() {
                                mine += 1;
                            }
                        }
                    }
                    // Published before the join, so seen after it (checked below).
                    p.write(wide(id << 32 | u32::MAX as u64));
                    mine + 1
                })
            })
            .collect();
        for _ in writers..threads {
            s.spawn(|| {
                let mut last = 0;
                while !done.load(Relaxed) {
                    let Versioned { value, version } = p.read_versioned();
                    assert_whole(&value);
                    assert!(
                        version >= last,
                        "version went backwards: {version} < {last}"
                    );
                    last = version;
                }
            });
        }
        let published: u64 = writer_handles.into_iter().map(|h| h.join().unwrap()).sum();
        done.store(true, Relaxed);
        // Every successful publication is counted exactly once in the version.
        assert_eq!(p.version(), published);
        // The last publication happened before the joins: it is what we read.
        let last = assert_whole(&p.read());
        assert_eq!(last & 0xffff_ffff, u64::from(u32::MAX));
    });
}

#[test]
fn publisher_two_slots() {
    THREADS.into_iter().for_each(publisher_stress::<2>);
}

#[test]
fn publisher_three_slots() {
    THREADS.into_iter().for_each(publisher_stress::<3>);
}

#[test]
fn publisher_single_writer_values_follow_versions() {
    let p: Publisher<[u64; 8], 2> = Publisher::with_slots(wide(0));
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let mut last = 0;
                while !done.load(Relaxed) {
                    let Versioned { value, version } = p.read_versioned();
                    // One writer publishing 1, 2, 3, ...: value == version.
                    assert_eq!(assert_whole(&value), version);
                    assert!(version >= last);
                    last = version;
                }
            });
        }
        s.spawn(|| {
            for i in 1..=ops() {
                assert_eq!(p.write(wide(i)), i);
            }
            done.store(true, Relaxed);
        });
    });
}

#[test]
fn counter_sums_exactly() {
    for threads in THREADS {
        for shards in [1, 2, 64] {
            let c = ShardedCounter::with_shards(shards);
            let start = Barrier::new(threads as usize);
            std::thread::scope(|s| {
                for t in 0..threads {
                    let (c, start) = (&c, &start);
                    s.spawn(move || {
                        let local = c.local();
                        start.wait();
                        for i in 0..ops() {
                            // Mixed signs: +2, -1 per pair; net +1 per pair.
                            let delta = if (i + t) % 2 == 0 { 2 } else { -1 };
                            // Half the threads go through a local handle.
                            if t % 2 == 0 {
                                c.add(delta);
                            } else {
                                local.add(delta);
                            }
                        }
                    });
                }
            });
            let pairs = (threads * ops() / 2) as i64;
            assert_eq!(c.sum(), pairs, "threads {threads} shards {shards}");
        }
    }
}

#[test]
fn counter_take_during_adds_counts_each_add_once() {
    for threads in THREADS {
        let c = ShardedCounter::with_shards(4);
        let adders_done = AtomicBool::new(false);
        let taken = std::thread::scope(|s| {
            let adders: Vec<_> = (0..threads - 2)
                .map(|_| s.spawn(|| (0..ops()).for_each(|_| c.inc())))
                .collect();
            let takers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let mut taken = 0;
                        while !adders_done.load(Relaxed) {
                            let t = c.take();
                            assert!(t >= 0, "a take returned {t}: counted something twice");
                            taken += t;
                        }
                        taken
                    })
                })
                .collect();
            adders.into_iter().for_each(|h| h.join().unwrap());
            adders_done.store(true, Relaxed);
            takers.into_iter().map(|h| h.join().unwrap()).sum::<i64>()
        });
        assert_eq!(taken + c.sum(), ((threads - 2) * ops()) as i64);
    }
}

#[test]
fn counter_sum_stays_within_bounds_during_adds() {
    let c = ShardedCounter::new();
    let started = std::sync::atomic::AtomicI64::new(0);
    let completed = std::sync::atomic::AtomicI64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let adders: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..ops() {
                        started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        c.inc();
                        completed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        s.spawn(|| {
            while !done.load(Relaxed) {
                let low = completed.load(std::sync::atomic::Ordering::SeqCst);
                let sum = c.sum();
                let high = started.load(std::sync::atomic::Ordering::SeqCst);
                assert!(
                    low <= sum && sum <= high,
                    "{low} <= {sum} <= {high} violated"
                );
            }
        });
        adders.into_iter().for_each(|h| h.join().unwrap());
        done.store(true, Relaxed);
    });
    assert_eq!(c.sum(), 3 * ops() as i64);
}

/// Short-lived threads per churning thread (issue 14: shards handed on by
/// exiting threads) and adds per short-lived thread.
fn churn() -> (u64, u64) {
    if cfg!(miri) {
        (3, 10)
    } else if cfg!(debug_assertions) {
        (50, 200)
    } else {
        (400, 2_000)
    }
}

/// Threads that start, add and exit, 4 at a time on 2 shards (so slots are
/// taken over all the time, and some threads share), while one thread takes and
/// another sums. Adds are all positive here: every take and every sum lies in
/// `0..=total`, and the takes plus the final sum are exact.
#[test]
fn counter_thread_churn_with_concurrent_take_and_sum() {
    let c = ShardedCounter::with_shards(2);
    let (threads, adds) = churn();
    let done = AtomicBool::new(false);
    let total = (4 * threads * adds * 2) as i64;
    let taken = std::thread::scope(|s| {
        let churners: Vec<_> = (0..4)
            .map(|t| {
                let c = &c;
                s.spawn(move || {
                    for i in 0..threads {
                        std::thread::scope(|s| {
                            s.spawn(|| {
                                // Half through the counter, half through a handle.
                                if (i + t) % 2 == 0 {
                                    (0..adds).for_each(|_| c.add(2));
                                } else {
                                    let local = c.local();
                                    (0..adds).for_each(|_| local.add(2));
                                }
                            });
                        });
                    }
                })
            })
            .collect();
        let taker = s.spawn(|| {
            let mut taken = 0;
            while !done.load(Relaxed) {
                let t = c.take();
                assert!((0..=total).contains(&t), "take {t} outside 0..={total}");
                taken += t;
            }
            taken
        });
        s.spawn(|| {
            while !done.load(Relaxed) {
                let sum = c.sum();
                assert!((0..=total).contains(&sum), "sum {sum} outside 0..={total}");
            }
        });
        churners.into_iter().for_each(|h| h.join().unwrap());
        done.store(true, Relaxed);
        taker.join().unwrap()
    });
    assert_eq!(taken + c.sum(), total);
}

/// The same with signed adds (+3, -1, -1 per round: net +1) and two takers:
/// takes are exact for any mix of signs (issue 14).
#[test]
fn counter_thread_churn_signed_adds_two_takers() {
    let c = ShardedCounter::with_shards(2);
    let (threads, adds) = churn();
    let done = AtomicBool::new(false);
    let taken = std::thread::scope(|s| {
        let churners: Vec<_> = (0..3)
            .map(|_| {
                let c = &c;
                s.spawn(move || {
                    for _ in 0..threads {
                        std::thread::scope(|s| {
                            s.spawn(|| {
                                for _ in 0..adds {
                                    c.add(3);
                                    c.dec();
                                    c.dec();
                                }
                            });
                        });
                    }
                })
            })
            .collect();
        let takers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut taken = 0i64;
                    while !done.load(Relaxed) {
                        taken += c.take();
                    }
                    taken
                })
            })
            .collect();
        churners.into_iter().for_each(|h| h.join().unwrap());
        done.store(true, Relaxed);
        takers.into_iter().map(|h| h.join().unwrap()).sum::<i64>()
    });
    assert_eq!(taken + c.take(), (3 * threads * adds) as i64);
    assert_eq!(c.sum(), 0);
}

/// Handles kept in a thread-local whose destructor still adds through them,
/// on one shard with 4 threads churning: the exiting thread's slot must stay
/// held until the handle is gone, or a new owner of the shard races with it
/// (a plain load + store on both sides: lost adds).
#[test]
fn counter_handles_in_thread_locals_during_churn() {
    use noclobber::counter::LocalCounter;
    use std::cell::RefCell;

    static C: std::sync::OnceLock<ShardedCounter> = std::sync::OnceLock::new();
    struct AddOnDrop(LocalCounter<'static>, u64);
    impl Drop for AddOnDrop {
        fn drop(&mut self) {
            for i in 0..self.1 {
                self.0.inc();
                if i % 64 == 0 {
                    // Widen the window in which a new owner could race.
                    std::thread::yield_now();
                }
            }
        }
    }
    std::thread_local! {
        static HANDLE: RefCell<Option<AddOnDrop>> = const { RefCell::new(None) };
    }
    let c = C.get_or_init(|| ShardedCounter::with_shards(1));
    let (threads, adds) = churn();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(move || {
                for _ in 0..threads {
                    std::thread::spawn(move || {
                        // Registered before the counter's exit hook, so (std
                        // runs thread-local destructors in reverse order of
                        // registration) the handle drops after the hook ran.
                        HANDLE.with(|_| ());
                        (0..adds).for_each(|_| c.inc());
                        HANDLE.with(|h| *h.borrow_mut() = Some(AddOnDrop(c.local(), adds)));
                    })
                    .join()
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(c.take(), (4 * threads * 2 * adds) as i64);
}

/// A `write_if` that staged a slot, lost the commit race and then found the
/// version changed gives its claim on the slot back: with 2 slots that is the
/// only free one, and a claim kept would make every writer wait forever.
#[test]
fn publisher_contended_write_if_never_wedges() {
    use std::sync::mpsc;
    use std::time::Duration;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let p: Publisher<[u64; 2], 2> = Publisher::with_slots([0; 2]);
        let start = Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..ops() * 4 {
                        let seen = p.read_versioned();
                        let _ = p.write_if(seen.version, [seen.value[0] + 1; 2]);
                    }
                });
            }
        });
        // Each success added 1 to the value and to the version.
        let Versioned { value, version } = p.read_versioned();
        tx.send((value, version)).unwrap();
    });
    let limit = if cfg!(miri) { 3600 } else { 60 };
    let (value, version) = rx
        .recv_timeout(Duration::from_secs(limit))
        .expect("writers wedged: no progress within the time limit");
    assert_eq!(value, [version; 2]);
}

/// One writer, `readers` readers on 2 cores: every value read is whole and
/// belongs to its version (word `i` of version `n` is `n * 8 + i`, so a copy
/// mixing two publications or two slots is caught), versions never go back for
/// a reader, a bounded read fails only as `Interrupted` and only when the head
/// moved, and the last publication is seen after `join`.
fn solo_stress<const S: usize>(readers: u64) {
    let value = |n: u64| core::array::from_fn::<u64, 8, _>(|i| n * 8 + i as u64);
    let mut w = SoloWriter::<[u64; 8], S>::with_slots(value(0));
    let r = w.reader();
    let done = AtomicBool::new(false);
    let start = Barrier::new(readers as usize + 1);
    let writes = ops() * 2;
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            for n in 1..=writes {
                assert_eq!(w.write(value(n)), n);
            }
            done.store(true, Relaxed);
        });
        for k in 0..readers {
            let (r, done, start) = (r.clone(), &done, &start);
            s.spawn(move || {
                start.wait();
                let mut last = 0;
                while !done.load(Relaxed) {
                    let v = if k % 2 == 0 {
                        r.read_versioned()
                    } else {
                        let before = r.version();
                        match r.try_read() {
                            Ok(v) => v,
                            Err(ReadError::Interrupted) => {
                                assert!(r.version() > before, "interrupted without a publication");
                                continue;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    };
                    assert_eq!(v.value, value(v.version), "torn or mismatched read");
                    assert!(v.version >= last, "version went back");
                    last = v.version;
                }
            });
        }
    });
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: value(writes),
            version: writes
        }
    );
}

#[test]
fn solo_two_slots_reads_never_torn() {
    // 7 readers only natively: under Miri every thread multiplies the run time.
    let readers: &[u64] = if cfg!(miri) { &[3] } else { &[3, 7] };
    for &r in readers {
        solo_stress::<2>(r);
    }
}

#[test]
fn solo_three_slots_reads_never_torn() {
    solo_stress::<3>(4);
}
