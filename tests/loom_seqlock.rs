#![cfg(noclobber_loom)]
//! Loom models of `SeqLock`. Its sequence and payload words are 64-bit atomics,
//! which loom models with stale Relaxed loads, so the orderings of
//! `src/seqlock/` are checked here. Exceptions found by
//! `scripts/weaken-orderings`: weakening the Acquire load in `version()` is
//! missed by loom 0.7 (a writer that loads the sequence before its Release store
//! hides the stale read from loom's exploration; `version_message_passing`
//! passes although it should fail), and Miri catches it instead (see
//! docs/WEAKENING-REPORT.md).
//!
//! Run with
//! `RUSTFLAGS="--cfg noclobber_loom" cargo test --release --test loom_seqlock`.
//! Every model runs at preemption bound 3 (except
//! `aborted_update_then_update_no_lost_update`, bound 1: three writers spinning
//! on the sequence take over a minute at bound 2); set `LOOM_MAX_PREEMPTIONS`
//! to override the bound for every model. `scripts/ci-loom.sh` runs the file
//! with the defaults and again at bound 5.

use std::panic::{catch_unwind, AssertUnwindSafe};

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use noclobber::{SeqLock, Versioned};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

type Pair = [u64; 2];

/// The value written as version `n`: two equal words, so a torn read shows.
fn val(n: u64) -> Pair {
    [n, n]
}

/// Every write in these models writes `val(version)`: a consistent read has
/// both words equal to its version.
fn consistent(v: &Versioned<Pair>) {
    assert_eq!(v.value[0], v.value[1], "torn read: {v:?}");
    assert_eq!(v.value[0], v.version, "value and version disagree: {v:?}");
}

const DELIBERATE: &str = "noclobber-loom: deliberate panic in update";

/// Silences the deliberate panics (loom runs the closure hundreds of times).
fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<&str>()
                .copied()
                .or(p.downcast_ref::<String>().map(String::as_str));
            if msg != Some(DELIBERATE) {
                default(info);
            }
        }));
    });
}

fn panicking_update(lock: &SeqLock<Pair>) {
    let r = catch_unwind(AssertUnwindSafe(|| {
        lock.update(|_| panic!("{}", DELIBERATE));
    }));
    assert!(r.is_err());
}

// ---------------------------------------------------------------------------
// A reader racing a writer never accepts a torn copy, and the version it
// reports matches the value.

fn reader_never_torn(writes: u64, reads: usize) {
    let lock = Arc::new(SeqLock::new(val(0)));
    let writer = {
        let lock = lock.clone();
        thread::spawn(move || {
            for n in 1..=writes {
                assert_eq!(lock.write(val(n)), n);
            }
        })
    };
    let mut last = 0;
    for _ in 0..reads {
        if let Ok(v) = lock.try_read() {
            consistent(&v);
            assert!(v.version >= last, "version went backwards");
            last = v.version;
        }
    }
    let v = lock.read_versioned();
    consistent(&v);
    assert!(v.version >= last);
    writer.join().unwrap();
    // A reader after join sees the last write.
    let end = lock.read_versioned();
    assert_eq!(
        end,
        Versioned {
            value: val(writes),
            version: writes
        }
    );
}

#[test]
fn reader_never_torn_1w_1r() {
    model(3, || reader_never_torn(1, 1));
}

#[test]
fn reader_never_torn_2w_2r() {
    model(3, || reader_never_torn(2, 2));
}

// ---------------------------------------------------------------------------
// Several writers: `update` is atomic (no lost update), versions count writes.

#[test]
fn two_updaters_no_lost_update() {
    model(3, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || {
                    let done = lock.update(|[a, b]| [a + 1, b + 1]);
                    consistent(&done);
                    done.version
                })
            })
            .collect();
        let mut vs: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        vs.sort_unstable();
        assert_eq!(vs, [1, 2]);
        assert_eq!(
            lock.read_versioned(),
            Versioned {
                value: val(2),
                version: 2
            }
        );
    });
}

#[test]
fn two_updaters_and_reader() {
    model(3, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || {
                    consistent(&lock.update(|[a, b]| [a + 1, b + 1]));
                })
            })
            .collect();
        let v = lock.read_versioned();
        consistent(&v);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(
            lock.read_versioned(),
            Versioned {
                value: val(2),
                version: 2
            }
        );
    });
}

// ---------------------------------------------------------------------------
// An `update` whose closure panics leaves value and version unchanged and
// releases the lock.

#[test]
fn panicking_update_single_thread() {
    quiet_deliberate_panics();
    model(3, || {
        let lock = SeqLock::new(val(0));
        panicking_update(&lock);
        assert_eq!(
            lock.try_read(),
            Ok(Versioned {
                value: val(0),
                version: 0
            })
        );
        assert_eq!(lock.write(val(1)), 1);
        assert_eq!(
            lock.read_versioned(),
            Versioned {
                value: val(1),
                version: 1
            }
        );
    });
}

#[test]
fn panicking_update_races_writer_and_reader() {
    quiet_deliberate_panics();
    model(3, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let panicker = {
            let lock = lock.clone();
            thread::spawn(move || panicking_update(&lock))
        };
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || consistent(&lock.update(|[a, b]| [a + 1, b + 1])))
        };
        consistent(&lock.read_versioned());
        panicker.join().unwrap();
        writer.join().unwrap();
        assert_eq!(
            lock.read_versioned(),
            Versioned {
                value: val(1),
                version: 1
            }
        );
    });
}

// Writer W writes version 1; P's update panics after W (or before); a reader R
// that sees the sequence P restored must still see W's words. This needs the
// Release on the restoring store: P's plain store ends W's release sequence.
#[test]
fn aborted_update_passes_on_last_write() {
    quiet_deliberate_panics();
    model(3, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.write(val(1));
            })
        };
        let panicker = {
            let lock = lock.clone();
            thread::spawn(move || panicking_update(&lock))
        };
        if let Ok(v) = lock.try_read() {
            consistent(&v);
        }
        writer.join().unwrap();
        panicker.join().unwrap();
    });
}

// Same chain, but the third party is a writer doing read-modify-write.
// Three contending writers spinning on the sequence explode at bound 2 (over a
// minute), so this one runs at bound 1 (240 executions).
#[test]
fn aborted_update_then_update_no_lost_update() {
    quiet_deliberate_panics();
    model(1, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.update(|[a, b]| [a + 1, b + 1]);
            })
        };
        let panicker = {
            let lock = lock.clone();
            thread::spawn(move || panicking_update(&lock))
        };
        let done = lock.update(|[a, b]| [a + 1, b + 1]);
        consistent(&done);
        writer.join().unwrap();
        panicker.join().unwrap();
        let end = lock.read_versioned();
        consistent(&end);
        assert_eq!(end.version, 2, "an update was lost: {end:?}");
    });
}

// ---------------------------------------------------------------------------
// Message passing: what a writer did before `write` is visible to a thread
// that sees the new version through `version()`, `read_versioned()` or
// `try_read()`.

#[test]
fn version_message_passing() {
    model(3, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let data = Arc::new(UnsafeCell::new(0u64));
        let flag = Arc::new(AtomicU64::new(0));
        let writer = {
            let (lock, data, flag) = (lock.clone(), data.clone(), flag.clone());
            thread::spawn(move || {
                data.with_mut(|p| unsafe { *p = 42 });
                flag.store(1, Ordering::Relaxed);
                lock.write(val(1));
            })
        };
        if lock.version() == 1 {
            assert_eq!(flag.load(Ordering::Relaxed), 1);
            assert_eq!(data.with(|p| unsafe { *p }), 42);
        }
        if let Ok(v) = lock.try_read() {
            if v.version == 1 {
                assert_eq!(flag.load(Ordering::Relaxed), 1);
                assert_eq!(data.with(|p| unsafe { *p }), 42);
            }
        }
        writer.join().unwrap();
    });
}

// Writer-to-writer hand-over: a second writer's `update` closure sees the data
// the first writer published (Acquire CAS in `lock`).
#[test]
fn writer_to_writer_message_passing() {
    model(3, || {
        let lock = Arc::new(SeqLock::new(val(0)));
        let data = Arc::new(UnsafeCell::new(0u64));
        let writer = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || {
                data.with_mut(|p| unsafe { *p = 42 });
                lock.write(val(1));
            })
        };
        lock.update(|v| {
            if v == val(1) {
                assert_eq!(data.with(|p| unsafe { *p }), 42);
            }
            [v[0] + 1, v[1] + 1]
        });
        writer.join().unwrap();
    });
}
