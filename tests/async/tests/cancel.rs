//! Cancellation: futures dropped at every point of their wait (by
//! `tokio::select!` against short timers, and by `tokio::time::timeout`)
//! lose no publication, and the next wait returns what the dropped one
//! would have.

use std::sync::Arc;
use std::time::Duration;

use noclobber::{Cursor, Publisher, SeqLock, SoloWriter, WaitError};
use noclobber_async_tests::{newer, value_of};

const WRITES: u64 = 3000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Writes 1..=WRITES with pauses of varying length, so that timers fire
/// both while futures sleep and while they are about to complete.
fn write_all(mut write: impl FnMut(u64)) {
    for v in 1..=WRITES {
        write(v);
        if v % 7 == 0 {
            std::thread::sleep(Duration::from_micros(50 * (v % 5)));
        }
    }
}

/// 16 tasks per object wait with `select!` against a timer of 0 to 200 µs;
/// whichever loses is dropped. Each task must reach the last version.
#[test]
fn select_against_timers_loses_nothing() {
    runtime().block_on(async {
        let p = Arc::new(Publisher::new(value_of(0)));
        let lock = Arc::new(SeqLock::new(value_of(0)));
        let mut tasks = Vec::new();
        for i in 0..16u64 {
            let p = Arc::clone(&p);
            tasks.push(tokio::spawn(async move {
                let (mut seen, mut cancelled) = (0, 0u64);
                while seen < WRITES {
                    let timer = tokio::time::sleep(Duration::from_micros((i * 13 + seen) % 200));
                    tokio::select! {
                        got = p.wait_newer_async(seen) => seen = newer(got.unwrap(), seen),
                        () = timer => cancelled += 1,
                    }
                }
                cancelled
            }));
            let lock = Arc::clone(&lock);
            tasks.push(tokio::spawn(async move {
                let (mut seen, mut cancelled) = (0, 0u64);
                while seen < WRITES {
                    let wait = lock.wait_newer_async(seen);
                    match tokio::time::timeout(Duration::from_micros((i * 7 + seen) % 200), wait)
                        .await
                    {
                        Ok(got) => seen = newer(got.unwrap(), seen),
                        Err(_) => cancelled += 1,
                    }
                }
                cancelled
            }));
        }
        let writers = {
            let (p, lock) = (Arc::clone(&p), Arc::clone(&lock));
            std::thread::spawn(move || {
                write_all(|v| {
                    p.write(value_of(v));
                    lock.write(value_of(v));
                })
            })
        };
        let mut cancelled = 0;
        let all = async {
            for t in tasks {
                cancelled += t.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("a task is stuck");
        writers.join().unwrap();
        eprintln!("32 tasks reached version {WRITES}; {cancelled} waits were cancelled on the way");
        assert!(
            cancelled > 0,
            "no wait was cancelled: the test tested nothing"
        );
    });
}

/// A cursor's `changed` cancelled by a timer marks nothing seen: the cursor
/// still gets every value up to the last, then `Closed`.
#[test]
fn cancelled_changed_marks_nothing_seen() {
    runtime().block_on(async {
        let (mut w, r) = SoloWriter::channel(value_of(0));
        let tasks: Vec<_> = (0..16u64)
            .map(|i| {
                let mut cursor = Cursor::new(r.clone());
                tokio::spawn(async move {
                    let mut cancelled = 0u64;
                    loop {
                        let seen = cursor.seen();
                        let timer = Duration::from_micros((i * 11 + seen) % 150);
                        match tokio::time::timeout(timer, cursor.changed()).await {
                            Ok(Ok(v)) => assert_eq!(newer(v, seen), cursor.seen()),
                            Ok(Err(WaitError::Closed)) => break,
                            Ok(Err(e)) => panic!("{e}"),
                            Err(_) => {
                                assert_eq!(
                                    cursor.seen(),
                                    seen,
                                    "a cancelled wait marked a value seen"
                                );
                                cancelled += 1;
                            }
                        }
                    }
                    assert_eq!(cursor.seen(), WRITES);
                    cancelled
                })
            })
            .collect();
        let writer = std::thread::spawn(move || {
            write_all(|v| {
                w.write(value_of(v));
            })
        });
        let mut cancelled = 0;
        for t in tasks {
            cancelled += tokio::time::timeout(Duration::from_secs(120), t)
                .await
                .expect("a task is stuck")
                .unwrap();
        }
        writer.join().unwrap();
        assert!(
            cancelled > 0,
            "no wait was cancelled: the test tested nothing"
        );
    });
}
