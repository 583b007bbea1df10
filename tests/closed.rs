//! The writer-gone signal and the reader cursor, with real threads: dropping
//! a `SoloWriter` closes its readers; every waiter sees the final version,
//! then `Closed`; the cursor follows `tokio::sync::watch::Receiver`'s
//! semantics (a fresh cursor has seen the current value; after the writer is
//! gone an unseen value is returned once, then `Closed`, and `has_changed`
//! errs at once).

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use noclobber::{Cursor, Publisher, Readable, SeqLock, SoloReader, SoloWriter, WaitError};

#[path = "common/watchdog.rs"]
mod watchdog;

/// Starts the watchdog of a test here: a waiter never woken by the close.
fn watchdog(name: &'static str) -> watchdog::Watchdog {
    watchdog::Watchdog::start(name, "a waiter missed the close")
}

/// Waiters per run; more than the 2 cores, so some are preempted anywhere.
const WAITERS: usize = 8;
const ROUNDS: usize = if cfg!(miri) { 2 } else { 200 };

/// Follows `reader` with `wait_newer` and an unbounded timeout from version
/// `seen` until it is closed; returns the versions seen (each newer than the
/// last).
fn follow(reader: &SoloReader<[u64; 4]>, mut seen: u64) -> Vec<u64> {
    let mut got = Vec::new();
    loop {
        match reader.wait_newer(seen, Duration::MAX) {
            Ok(v) => {
                assert_eq!(v.value, [v.version; 4], "torn");
                assert!(v.version > seen, "went back: {} after {seen}", v.version);
                seen = v.version;
                got.push(seen);
            }
            Err(WaitError::Closed) => return got,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Many waiters, the writer dropped in the middle of a stream of
/// publications: every waiter returns, the last version it saw is the final
/// one, and the final value stays readable.
#[test]
fn every_waiter_sees_the_final_version_then_closed() {
    let _watchdog = watchdog("every_waiter_sees_the_final_version_then_closed");
    for round in 0..ROUNDS {
        let (mut writer, reader) = SoloWriter::channel([0u64; 4]);
        let last = 1 + (round as u64 * 7) % 50;
        let start = Barrier::new(WAITERS + 1);
        let seen: Vec<Vec<u64>> = thread::scope(|s| {
            let waiters: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let reader = reader.clone();
                    let start = &start;
                    s.spawn(move || {
                        start.wait();
                        follow(&reader, 0)
                    })
                })
                .collect();
            start.wait();
            for v in 1..=last {
                writer.write([v; 4]);
                if v % 8 == 0 {
                    thread::yield_now();
                }
            }
            drop(writer);
            waiters.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for (i, got) in seen.iter().enumerate() {
            assert_eq!(
                got.last(),
                Some(&last),
                "round {round}, waiter {i}: {got:?}"
            );
        }
        assert!(reader.is_closed());
        assert_eq!(reader.read_versioned().value, [last; 4]);
        assert_eq!(reader.try_read().map(|v| v.version), Ok(last));
    }
}

/// A waiter already asleep when the writer drops wakes at once, with or
/// without a timeout; a wait started after the close returns at once.
#[test]
fn a_sleeping_waiter_wakes_at_the_close() {
    let _watchdog = watchdog("a_sleeping_waiter_wakes_at_the_close");
    let (writer, reader) = SoloWriter::channel(5u32);
    thread::scope(|s| {
        let r = reader.clone();
        let unbounded = s.spawn(move || r.wait_newer(0, Duration::MAX));
        let r = reader.clone();
        let bounded = s.spawn(move || r.wait_newer(0, Duration::from_secs(600)));
        thread::sleep(Duration::from_millis(20));
        drop(writer);
        assert_eq!(unbounded.join().unwrap(), Err(WaitError::Closed));
        assert_eq!(bounded.join().unwrap(), Err(WaitError::Closed));
    });
    assert_eq!(reader.wait_newer(0, Duration::MAX), Err(WaitError::Closed));
    // An older `seen` still gets the value first.
    let (mut writer, reader) = SoloWriter::channel(0u32);
    writer.write(1);
    drop(writer);
    assert_eq!(reader.wait_newer(0, Duration::MAX).map(|v| v.value), Ok(1));
    assert_eq!(reader.wait_newer(1, Duration::MAX), Err(WaitError::Closed));
}

/// The writer's own view, and the types without a writer handle, are never
/// closed.
#[test]
fn only_a_gone_single_writer_closes() {
    let (writer, reader) = SoloWriter::channel(0u8);
    assert!(!Readable::is_closed(&writer) && !reader.is_closed());
    let lock = SeqLock::new(0u8);
    let p = Publisher::new(0u8);
    assert!(!Readable::is_closed(&lock) && !Readable::is_closed(&p));
    assert_eq!(
        lock.wait_newer(0, Duration::from_millis(1)),
        Err(WaitError::TimedOut)
    );
    drop(writer);
}

/// A fresh cursor is not notified; a write is seen once; after the writer
/// is gone the unseen final value comes once, then `Closed`, and
/// `has_changed` errs even with it unseen.
#[test]
fn cursor_follows_watch_semantics() {
    let (mut writer, reader) = SoloWriter::channel(0u64);
    let mut cursor = Cursor::new(reader.clone());
    assert_eq!(cursor.has_changed(), Ok(false));
    assert_eq!(
        cursor.changed_timeout(Duration::from_millis(1)),
        Err(WaitError::TimedOut)
    );
    writer.write(1);
    assert_eq!(cursor.has_changed(), Ok(true));
    assert_eq!(
        cursor.changed_timeout(Duration::ZERO).map(|v| v.value),
        Ok(1)
    );
    assert_eq!(cursor.has_changed(), Ok(false));
    // mark_changed makes the current value new again; mark_unchanged hides a
    // real new one (it stays readable).
    cursor.mark_changed();
    assert_eq!(cursor.has_changed(), Ok(true));
    assert_eq!(
        cursor.changed_timeout(Duration::ZERO).map(|v| v.value),
        Ok(1)
    );
    writer.write(2);
    cursor.mark_unchanged();
    assert_eq!(cursor.has_changed(), Ok(false));
    assert_eq!(cursor.read_and_update(), 2);
    // A clone has seen what the original has seen; each then goes its way.
    writer.write(3);
    let mut other = cursor.clone();
    assert_eq!(other.read_and_update(), 3);
    assert_eq!(
        (cursor.has_changed(), other.has_changed()),
        (Ok(true), Ok(false))
    );
    // The final value, then the close.
    writer.write(4);
    drop(writer);
    assert_eq!(cursor.has_changed(), Err(WaitError::Closed));
    assert_eq!(
        cursor.changed_timeout(Duration::MAX).map(|v| v.value),
        Ok(4)
    );
    assert_eq!(
        cursor.changed_timeout(Duration::MAX),
        Err(WaitError::Closed)
    );
    assert_eq!(other.changed_timeout(Duration::MAX).map(|v| v.value), Ok(4));
    assert_eq!(other.changed_timeout(Duration::MAX), Err(WaitError::Closed));
    // Readable after the close, through the cursor too.
    assert_eq!(cursor.source().read(), 4);
    assert_eq!(reader.read(), 4);
}

/// A cursor over types without a writer handle waits for the next write.
#[test]
fn cursor_over_any_readable() {
    let p = Publisher::new(0u32);
    let lock = std::sync::Arc::new(SeqLock::new(0u32));
    thread::scope(|s| {
        let mut by_ref = Cursor::new(&p);
        let mut by_arc = Cursor::new(lock.clone());
        let a = s.spawn(move || by_ref.changed_timeout(Duration::from_secs(60)));
        let b = s.spawn(move || by_arc.changed_timeout(Duration::from_secs(60)));
        thread::sleep(Duration::from_millis(10));
        p.write(7);
        lock.write(8);
        assert_eq!(a.join().unwrap().map(|v| v.value), Ok(7));
        assert_eq!(b.join().unwrap().map(|v| v.value), Ok(8));
    });
}
