#![cfg(all(noclobber_loom, feature = "async"))]
//! Loom models of the async waits (`wait_newer_async`, `Cursor::changed`;
//! `src/notify/wait_async.rs`): the registration race between a task that
//! checks the version, registers its waker and checks again, and a writer
//! that publishes and then wakes the registered tasks.
//!
//! Run with `RUSTFLAGS="--cfg noclobber_loom" cargo test --release
//! --features async --test loom_async`.
//!
//! Under loom the object's event is a list of wakers behind a loom mutex
//! (`listeners.rs`), and `loom::future::block_on` parks the thread until its
//! waker is woken. A lost wake-up therefore leaves the task parked for ever,
//! which loom reports as a deadlock: every model below fails if the task
//! does not check the version again after registering its listener, or if
//! the writer wakes the listeners before it publishes. Each writer outlives
//! the waits, except where the close is modelled: a single writer's drop
//! closes its object, which wakes everyone and would hide a lost wake-up.

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use noclobber::{Cursor, Publisher, SeqLock, SoloWriter, Versioned, VersionedCell, WaitError};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

fn check(v: Versioned<[u64; 2]>, newer_than: u64) -> u64 {
    assert!(v.version > newer_than, "not newer: {v:?}");
    assert_eq!(v.value, [v.version, !v.version], "torn: {v:?}");
    v.version
}

/// One publication by the single writer (a store, N4's asymmetric barrier),
/// one task.
#[test]
fn solo_task_sees_one_publication() {
    model(3, || {
        let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
        let t = thread::spawn(move || {
            w.write([1, !1]);
            w
        });
        check(block_on(r.wait_newer_async(0)).unwrap(), 0);
        drop(t.join().unwrap());
    });
}

/// Two tasks on two threads, one publication: it wakes every pending
/// future.
#[test]
fn solo_two_tasks_one_publication() {
    model(2, || {
        let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
        let r2 = r.clone();
        let t = thread::spawn(move || {
            w.write([1, !1]);
            w
        });
        let other = thread::spawn(move || check(block_on(r2.wait_newer_async(0)).unwrap(), 0));
        check(block_on(r.wait_newer_async(0)).unwrap(), 0);
        other.join().unwrap();
        drop(t.join().unwrap());
    });
}

/// One task waits again and again while the writer publishes twice: its
/// group's announcement outlives each wait (idle), the next wait reuses it,
/// and the writer's next publication retires it, racing with that wait's
/// join (`Group` in `src/notify/listeners.rs`).
#[test]
fn solo_task_waits_again_and_again() {
    model(2, || {
        let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
        let t = thread::spawn(move || {
            w.write([1, !1]);
            w.write([2, !2]);
            w
        });
        let mut seen = 0;
        while seen < 2 {
            seen = check(block_on(r.wait_newer_async(seen)).unwrap(), seen);
        }
        drop(t.join().unwrap());
    });
}

/// N6: the task announces itself in the sequence word, and the writer whose
/// lock CAS found the flag wakes it.
#[test]
fn seqlock_task_sees_one_write() {
    model(3, || {
        let lock = Arc::new(SeqLock::new([0u64, !0]));
        let l = Arc::clone(&lock);
        let t = thread::spawn(move || {
            l.write([1, !1]);
        });
        check(block_on(lock.wait_newer_async(0)).unwrap(), 0);
        t.join().unwrap();
    });
}

/// A publication by a `SeqCst` head CAS (N4).
#[test]
fn publisher_task_sees_one_publication() {
    model(2, || {
        let p = Arc::new(Publisher::<[u64; 2], 2>::with_slots([0, !0]));
        let q = Arc::clone(&p);
        let t = thread::spawn(move || {
            q.write([1, !1]);
        });
        check(block_on(p.wait_newer_async(0)).unwrap(), 0);
        t.join().unwrap();
    });
}

#[test]
fn versioned_cell_task_sees_one_update() {
    model(3, || {
        let cell = Arc::new(VersionedCell::new(0u64));
        let c = Arc::clone(&cell);
        let t = thread::spawn(move || {
            c.update(|x| x + 1);
        });
        let v = block_on(cell.wait_newer_async(0)).unwrap();
        assert_eq!((v.value, v.version), (1, 1));
        t.join().unwrap();
    });
}

/// N7 through a cursor: the writer publishes (or not) and goes away while a
/// task waits. The task gets the last value once, then `Closed`, and never
/// parks through the close.
#[test]
fn cursor_sees_the_last_value_then_closed() {
    for publish in [false, true] {
        model(3, move || {
            let (mut w, r) = SoloWriter::<[u64; 2]>::channel([0, !0]);
            let t = thread::spawn(move || {
                if publish {
                    w.write([1, !1]);
                }
                drop(w);
            });
            // Made before or after the publication: it has seen what is there.
            let mut cursor = Cursor::new(r);
            loop {
                let seen = cursor.seen();
                match block_on(cursor.changed()) {
                    Ok(v) => assert_eq!(check(v, seen), cursor.seen()),
                    Err(WaitError::Closed) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            let seen = cursor.seen();
            assert_eq!(seen, u64::from(publish), "lost the last publication");
            assert_eq!(block_on(cursor.changed()), Err(WaitError::Closed));
            t.join().unwrap();
        });
    }
}
