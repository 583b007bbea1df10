#![cfg(feature = "async")]
//! The async waits (feature `async`) with real threads and the smallest
//! executor (`common/block_on.rs`; runtimes are tested in `tests/async`):
//! every type's `wait_newer_async` returns newer versions only, untorn; a
//! single writer's readers end with `Closed` after its last value; tasks on
//! more threads than cores follow writers to the end (a lost wake-up hangs
//! the test, which its watchdog turns into a failure). Run under Miri too.

use std::sync::Arc;
use std::thread;

use noclobber::{
    Cursor, Publisher, Readable, SeqLock, SoloWriter, Versioned, VersionedCell, WaitError,
};

#[path = "common/block_on.rs"]
mod block_on;
use block_on::block_on;

const WRITES: u64 = if cfg!(miri) { 20 } else { 20_000 };
const FOLLOWERS: usize = 4;

fn value_of(v: u64) -> [u64; 2] {
    [v, !v]
}

fn newer(got: Versioned<[u64; 2]>, seen: u64) -> u64 {
    assert!(got.version > seen, "went back: {got:?} after {seen}");
    assert_eq!(got.value, value_of(got.version), "torn: {got:?}");
    got.version
}

/// Lets the followers catch up now and then, so that they wait (and are
/// woken) rather than always find a newer version.
fn pause(i: u64) {
    if i.is_multiple_of(8) {
        thread::yield_now();
    }
}

#[path = "common/watchdog.rs"]
mod watchdog;

/// Starts the watchdog of a test here: a task never woken.
fn watchdog(name: &'static str) -> watchdog::Watchdog {
    watchdog::Watchdog::start(name, "a task was never woken")
}

/// `FOLLOWERS` threads each await every newer version of `source` until
/// the last; `write` runs on its own thread.
fn follow_to_the_end<R: Readable<Value = [u64; 2]> + Sync>(
    source: &R,
    write: impl FnOnce() + Send,
) {
    thread::scope(|s| {
        let followers: Vec<_> = (0..FOLLOWERS)
            .map(|_| {
                s.spawn(|| {
                    block_on(async {
                        let mut seen = 0;
                        let mut steps = 0;
                        while seen < WRITES {
                            seen = newer(source.wait_newer_async(seen).await.unwrap(), seen);
                            steps += 1;
                        }
                        steps
                    })
                })
            })
            .collect();
        s.spawn(write);
        for f in followers {
            assert!(f.join().unwrap() >= 1);
        }
    });
}

#[test]
fn versioned_cell_tasks_follow_a_writer() {
    let _w = watchdog("versioned_cell_tasks_follow_a_writer");
    let cell = VersionedCell::new(value_of(0));
    follow_to_the_end(&cell, || {
        for v in 1..=WRITES {
            cell.write(value_of(v));
            pause(v);
        }
    });
}

#[test]
fn seqlock_tasks_follow_two_writers() {
    let _w = watchdog("seqlock_tasks_follow_two_writers");
    let lock = SeqLock::new(value_of(0));
    follow_to_the_end(&lock, || {
        // Two writers take turns through `update`, so the value stays the
        // version's.
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for i in 0..WRITES / 2 {
                        lock.update(|[v, _]| value_of(v + 1));
                        pause(i);
                    }
                });
            }
        });
    });
}

#[test]
fn publisher_tasks_follow_two_writers() {
    let _w = watchdog("publisher_tasks_follow_two_writers");
    let p = Publisher::new(value_of(0));
    follow_to_the_end(&p, || {
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for i in 0..WRITES / 2 {
                        p.update(|[v, _]| value_of(v + 1));
                        pause(i);
                    }
                });
            }
        });
    });
}

/// Tasks share the single writer's group announcement (`Group` in
/// `notify/listeners.rs`): many join and leave while the writer writes.
#[test]
fn solo_tasks_follow_the_writer_then_see_it_go() {
    let _w = watchdog("solo_tasks_follow_the_writer_then_see_it_go");
    let (mut w, r) = SoloWriter::channel(value_of(0));
    thread::scope(|s| {
        let followers: Vec<_> = (0..FOLLOWERS)
            .map(|_| {
                let mut cursor = Cursor::new(r.clone());
                s.spawn(move || {
                    block_on(async {
                        loop {
                            let seen = cursor.seen();
                            match cursor.changed().await {
                                Ok(v) => assert_eq!(newer(v, seen), cursor.seen()),
                                Err(WaitError::Closed) => break,
                                Err(e) => panic!("{e}"),
                            }
                        }
                        assert_eq!(cursor.seen(), WRITES, "closed before the last version");
                        assert_eq!(cursor.changed().await, Err(WaitError::Closed));
                    })
                })
            })
            .collect();
        s.spawn(move || {
            for v in 1..=WRITES {
                w.write(value_of(v));
                pause(v);
            }
        });
        followers.into_iter().for_each(|f| f.join().unwrap());
    });
}

/// A wait that is already satisfied completes on its first poll, on every
/// type, and a marked cursor returns the current value at once.
#[test]
fn a_newer_version_is_returned_at_once() {
    let cell = VersionedCell::new(1u32);
    cell.write(2);
    assert_eq!(
        block_on(cell.wait_newer_async(0)),
        Ok(Versioned {
            value: 2,
            version: 1
        })
    );
    let lock = SeqLock::new(1u32);
    lock.write(2);
    assert_eq!(
        block_on(lock.wait_newer_async(0)),
        Ok(Versioned {
            value: 2,
            version: 1
        })
    );
    let p = Publisher::new(1u32);
    p.write(2);
    assert_eq!(
        block_on(p.wait_newer_async(0)),
        Ok(Versioned {
            value: 2,
            version: 1
        })
    );
    let (mut w, r) = SoloWriter::channel(1u32);
    w.write(2);
    assert_eq!(
        block_on(r.wait_newer_async(0)),
        Ok(Versioned {
            value: 2,
            version: 1
        })
    );
    assert_eq!(
        block_on(w.wait_newer_async(0)),
        Ok(Versioned {
            value: 2,
            version: 1
        })
    );
    let mut cursor = Cursor::new(Arc::new(p));
    cursor.mark_changed();
    assert_eq!(
        block_on(cursor.changed()),
        Ok(Versioned {
            value: 2,
            version: 1
        })
    );
}

/// Through `&R`, `Box<R>` and `Arc<R>`, and a `dyn Readable`.
#[test]
fn forwarding_impls_wait_too() {
    let p = Arc::new(Publisher::new(0u32));
    let b: Box<dyn Readable<Value = u32, Corrupt = std::convert::Infallible> + Send + Sync> =
        Box::new(Arc::clone(&p));
    thread::scope(|s| {
        let t = s.spawn(|| block_on(b.wait_newer_async(0)));
        let u = s.spawn(|| block_on(Readable::wait_newer_async(&&*p, 0)));
        p.write(5);
        assert_eq!(t.join().unwrap().unwrap().value, 5);
        assert_eq!(u.join().unwrap().unwrap().value, 5);
    });
}
