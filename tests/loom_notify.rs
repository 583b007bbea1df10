#![cfg(noclobber_loom)]
//! Loom models of waiting for a newer version (`wait_newer`,
//! `src/notify/mod.rs`): the lost-wake-up race between a waiter that checks
//! the version and then sleeps, and a writer that publishes and then wakes.
//!
//! Run with
//! `RUSTFLAGS="--cfg noclobber_loom" cargo test --release --test loom_notify`.
//!
//! Under loom the futex is a compare-and-sleep under a mutex (as the kernel's
//! queue lock makes it), sleeps have no timeout, and both halves of the
//! store-load barrier are `SeqCst` fences. A lost wake-up therefore leaves the
//! waiter asleep for ever, which loom reports as a deadlock: every model below
//! fails if the writer wakes before it publishes, or if the waiter does not
//! check the version again after announcing itself.

use std::time::Duration;

use loom::sync::Arc;
use loom::thread;
use noclobber::{Publisher, SeqLock, SoloWriter, Versioned, VersionedCell};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

/// Waits for ever (loom does not model timeouts).
const FOREVER: Duration = Duration::MAX;

fn check(v: Versioned<[u64; 2]>, newer_than: u64) -> u64 {
    assert!(v.version > newer_than, "not newer: {v:?}");
    assert_eq!(v.value, [v.version, !v.version], "torn: {v:?}");
    v.version
}

/// One publication by the single writer, one waiter.
#[test]
fn solo_waiter_sees_one_publication() {
    model(3, || {
        let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
        // The writer outlives the wait: its drop would close, and wake the
        // waiter whether or not the publication did.
        let t = thread::spawn(move || {
            w.write([1, !1]);
            w
        });
        check(r.wait_newer(0, FOREVER).unwrap(), 0);
        drop(t.join().unwrap());
    });
}

/// Two publications, two waiters: each wakes for a newer version, and one
/// that waits again after the first publication still sees the second.
#[test]
fn solo_two_waiters_two_publications() {
    model(2, || {
        let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
        let r2 = r.clone();
        // The writer outlives the waits (its drop would wake them).
        let t = thread::spawn(move || {
            w.write([1, !1]);
            w.write([2, !2]);
            w
        });
        let other = thread::spawn(move || check(r2.wait_newer(0, FOREVER).unwrap(), 0));
        let mut seen = 0;
        while seen < 2 {
            seen = check(r.wait_newer(seen, FOREVER).unwrap(), seen);
        }
        other.join().unwrap();
        drop(t.join().unwrap());
    });
}

/// N7: the single writer goes away while a waiter checks and sleeps. The
/// waiter ends with `Closed` after seeing every publication the writer made
/// first (here: one, or none), never sleeping through the close. Fails if
/// the close skips its wake (a deadlock), if the waiter skips its check of
/// the flag, or if it checks the flag after the version (`Closed` with a
/// newer version there).
#[test]
fn solo_waiter_sees_the_close() {
    for publish in [false, true] {
        model(3, move || {
            let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
            let r2 = r.clone();
            let t = thread::spawn(move || {
                if publish {
                    w.write([1, !1]);
                }
                drop(w);
            });
            let mut seen = 0;
            loop {
                match r.wait_newer(seen, FOREVER) {
                    Ok(v) => seen = check(v, seen),
                    Err(noclobber::WaitError::Closed) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(seen, u64::from(publish), "lost the last publication");
            assert!(r2.is_closed());
            t.join().unwrap();
        });
    }
}

/// N6: the waiter announces itself in the sequence word (`WAITING`), and
/// the writer whose lock CAS found the flag wakes. Fails if the writer never
/// wakes, or wakes before its closing store, or if a waiter that finds the
/// sequence odd sleeps instead of polling (the writer's closing store erases
/// a flag set meanwhile).
#[test]
fn seqlock_waiter_sees_one_write() {
    model(3, || {
        let lock = Arc::new(SeqLock::new([0u64, !0]));
        let l = Arc::clone(&lock);
        let t = thread::spawn(move || {
            l.write([1, !1]);
        });
        check(lock.wait_newer(0, FOREVER).unwrap(), 0);
        t.join().unwrap();
    });
}

#[test]
fn publisher_waiter_sees_one_publication() {
    model(2, || {
        let p = Arc::new(Publisher::<[u64; 2], 2>::with_slots([0, !0]));
        let q = Arc::clone(&p);
        let t = thread::spawn(move || {
            q.write([1, !1]);
        });
        check(p.wait_newer(0, FOREVER).unwrap(), 0);
        t.join().unwrap();
    });
}

#[test]
fn versioned_cell_waiter_sees_one_update() {
    model(3, || {
        let cell = Arc::new(VersionedCell::new(0u64));
        let c = Arc::clone(&cell);
        let t = thread::spawn(move || {
            c.update(|x| x + 1);
        });
        let v = cell.wait_newer(0, FOREVER).unwrap();
        assert_eq!((v.value, v.version), (1, 1));
        t.join().unwrap();
    });
}

/// N6 with two writers: a waiter's flag set during one write is erased by
/// its closing store, so the waiter polls, then announces itself again for
/// the second write; it must see both, in order or skipping forward.
#[test]
fn seqlock_waiter_follows_two_writers() {
    model(2, || {
        let lock = Arc::new(SeqLock::new([0u64, !0]));
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let l = Arc::clone(&lock);
                thread::spawn(move || {
                    l.update(|[n, _]| [n + 1, !(n + 1)]);
                })
            })
            .collect();
        let mut seen = 0;
        while seen < 2 {
            seen = check(lock.wait_newer(seen, FOREVER).unwrap(), seen);
        }
        for w in writers {
            w.join().unwrap();
        }
    });
}

/// One write of `[1, !1]`, a waiter on this thread, and `other` on a third
/// thread beside them.
fn seqlock_write_waiter_and(other: fn(&SeqLock<[u64; 2]>)) {
    let lock = Arc::new(SeqLock::new([0u64, !0]));
    let l = Arc::clone(&lock);
    let writer = thread::spawn(move || {
        l.write([1, !1]);
    });
    let l = Arc::clone(&lock);
    let third = thread::spawn(move || other(&l));
    check(lock.wait_newer(0, FOREVER).unwrap(), 0);
    third.join().unwrap();
    writer.join().unwrap();
}

/// N6 with two waiters on one write: one flag in the sequence stands for
/// both, and the one wake-up reaches both.
#[test]
fn seqlock_two_waiters_one_write() {
    model(2, || {
        seqlock_write_waiter_and(|l| {
            check(l.wait_newer(0, FOREVER).unwrap(), 0);
        })
    });
}

/// N6 seen by a reader that does not wait: a write whose lock CAS found the
/// waiter's flag ends in `commit_flagged`, and its closing store must publish
/// the words to every reader, not only to the waiters it wakes (those acquire
/// them through the notifier's epoch as well). Fails if that store is
/// `Relaxed`: the plain reader then sees the new sequence with the old words.
#[test]
fn seqlock_plain_reader_beside_flagged_write() {
    model(2, || {
        seqlock_write_waiter_and(|l| {
            let v = l.read_versioned();
            assert_eq!(v.value, [v.version, !v.version], "torn: {v:?}");
        })
    });
}
