//! `wait_newer` with real threads: every publication is observed in order or
//! skipped only forward, values are whole, timeouts are honoured, and an idle
//! waiter sleeps. Four waiters on two cores, so waits race with publications
//! and with preemption.

use std::thread;
use std::time::{Duration, Instant};

use noclobber::{Publisher, ReadError, SeqLock, SoloPublisher, Versioned, VersionedCell};

const WAITERS: usize = 4;
const PUBLICATIONS: u64 = if cfg!(miri) { 20 } else { 3_000 };
/// Timeout of one wait: far above any wake-up on this host. A wait that
/// returns only at its timeout (its last check then finds the newer version)
/// missed its wake-up, and fails the test.
const WAIT: Duration = Duration::from_secs(5);
/// Slack allowed past a timeout before `wait_newer` returns (a loaded 2-core
/// machine deschedules threads for tens of milliseconds).
const LATE: Duration = Duration::from_secs(2);

type Value = [u64; 4];

fn val(n: u64) -> Value {
    [n, !n, n.rotate_left(17), n ^ 0x5555]
}

/// Waits for every version up to `PUBLICATIONS`, checking each result; returns
/// how many distinct versions this waiter saw.
fn follow(mut wait: impl FnMut(u64) -> Result<Versioned<Value>, ReadError>) -> u64 {
    let (mut seen, mut distinct) = (0, 0);
    while seen < PUBLICATIONS {
        let t = Instant::now();
        let v = wait(seen).unwrap_or_else(|e| panic!("wait after version {seen}: {e}"));
        assert!(t.elapsed() < WAIT, "no wake-up after version {seen}");
        assert!(v.version > seen, "not newer: {} after {seen}", v.version);
        assert_eq!(v.value, val(v.version), "torn or mismatched: {v:?}");
        seen = v.version;
        distinct += 1;
    }
    distinct
}

/// One writer publishing `1..=PUBLICATIONS` (pausing now and then so waiters
/// really sleep), `WAITERS` threads following it.
fn run<S: Sync>(
    shared: &S,
    publish: impl Fn(&S, u64) + Sync,
    wait: impl Fn(&S, u64) -> Result<Versioned<Value>, ReadError> + Sync,
) {
    thread::scope(|s| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| s.spawn(|| follow(|seen| wait(shared, seen))))
            .collect();
        s.spawn(|| {
            for n in 1..=PUBLICATIONS {
                publish(shared, n);
                if n % 64 == 0 {
                    thread::sleep(Duration::from_micros(200));
                }
            }
        });
        for w in waiters {
            let distinct = w.join().unwrap();
            assert!(distinct >= 1);
        }
    });
}

#[test]
fn solo_waiters_follow_the_writer() {
    let (w, r) = SoloPublisher::<Value, 2>::channel(val(0));
    let w = std::sync::Mutex::new(w);
    run(
        &r,
        |_, n| assert_eq!(w.lock().unwrap().publish(val(n)), n),
        |r, seen| r.wait_newer(seen, WAIT),
    );
}

#[test]
fn seqlock_waiters_follow_the_writer() {
    run(
        &SeqLock::new(val(0)),
        |l, n| assert_eq!(l.write(val(n)), n),
        |l, seen| l.wait_newer(seen, WAIT),
    );
}

#[test]
fn publisher_waiters_follow_the_writer() {
    run(
        &Publisher::<Value, 3>::new(val(0)),
        |p, n| assert_eq!(p.publish(val(n)), n),
        |p, seen| p.wait_newer(seen, WAIT),
    );
}

#[test]
fn versioned_cell_waiters_follow_the_writer() {
    run(
        &VersionedCell::new(val(0)),
        |c, n| assert_eq!(c.store(val(n)), n),
        |c, seen| c.wait_newer(seen, WAIT),
    );
}

/// A wait with nothing published returns `TimedOut`, not before its timeout
/// and not much after; a version that is already newer returns at once.
#[test]
fn timeouts_are_honoured() {
    let (mut w, r) = SoloPublisher::<Value, 2>::channel(val(0));
    let lock = SeqLock::new(val(0));
    let p = Publisher::<Value, 2>::new(val(0));
    let cell = VersionedCell::new(7u64);
    let waits: [&dyn Fn(Duration) -> Result<u64, ReadError>; 4] = [
        &|t| r.wait_newer(0, t).map(|v| v.version),
        &|t| lock.wait_newer(0, t).map(|v| v.version),
        &|t| p.wait_newer(0, t).map(|v| v.version),
        &|t| cell.wait_newer(0, t).map(|v| v.version),
    ];
    for (i, wait) in waits.iter().enumerate() {
        for timeout in [Duration::ZERO, Duration::from_millis(30)] {
            let t = Instant::now();
            assert_eq!(wait(timeout), Err(ReadError::TimedOut), "type {i}");
            let took = t.elapsed();
            assert!(
                took >= timeout,
                "type {i}: returned after {took:?} < {timeout:?}"
            );
            assert!(took < timeout + LATE, "type {i}: returned after {took:?}");
        }
    }
    w.publish(val(1));
    assert_eq!(r.wait_newer(0, Duration::ZERO).unwrap().version, 1);
}

/// A writer that stops in the middle of a `SeqLock` write (the sequence odd)
/// keeps waiters only until their timeout.
#[test]
fn seqlock_writer_stuck_mid_write_keeps_waiters_only_until_timeout() {
    let lock = SeqLock::new(val(0));
    let (release, stuck) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    thread::scope(|s| {
        s.spawn(|| {
            lock.update(|v| {
                stuck.wait();
                release.wait();
                v
            })
        });
        stuck.wait();
        let t = Instant::now();
        assert_eq!(
            lock.wait_newer(0, Duration::from_millis(50)),
            Err(ReadError::TimedOut)
        );
        assert!(t.elapsed() < Duration::from_millis(50) + LATE);
        release.wait();
    });
    assert_eq!(lock.wait_newer(0, WAIT).unwrap().version, 1);
}

#[cfg(all(target_os = "linux", not(miri)))]
#[path = "common/thread_cpu.rs"]
mod thread_cpu;

/// One waiter of `an_idle_waiter_sleeps`.
#[cfg(all(target_os = "linux", not(miri)))]
type IdleWait<'a> = &'a (dyn Fn() -> Result<Versioned<Value>, ReadError> + Sync);

/// A waiter of each type sleeps through an idle second (four waiters at
/// once, each timing its own thread). The target (under 1 ms of CPU) is
/// reported by `wake_report` (benches crate); this test only catches a waiter
/// that spins (a spinning waiter uses the whole second).
#[cfg(all(target_os = "linux", not(miri)))]
#[test]
fn an_idle_waiter_sleeps() {
    use thread_cpu::thread_cpu;
    let (_w, r) = SoloPublisher::<Value, 2>::channel(val(0));
    let lock = SeqLock::new(val(0));
    let p = Publisher::<Value, 2>::new(val(0));
    let cell = VersionedCell::new(val(0));
    let idle = Duration::from_secs(1);
    let waits: [(&str, IdleWait); 4] = [
        ("SoloPublisher", &|| r.wait_newer(0, idle)),
        ("SeqLock", &|| lock.wait_newer(0, idle)),
        ("Publisher", &|| p.wait_newer(0, idle)),
        ("VersionedCell", &|| cell.wait_newer(0, idle)),
    ];
    thread::scope(|s| {
        let threads: Vec<_> = waits
            .iter()
            .map(|(name, wait)| {
                s.spawn(move || {
                    let before = thread_cpu();
                    assert_eq!(wait(), Err(ReadError::TimedOut), "{name}");
                    (name, thread_cpu() - before)
                })
            })
            .collect();
        for t in threads {
            let (name, cpu) = t.join().unwrap();
            println!("CPU time of a {name} waiter over one idle second: {cpu:?}");
            assert!(
                cpu < Duration::from_millis(50),
                "an idle {name} waiter used {cpu:?} of CPU"
            );
        }
    });
}

/// `SeqLock` with two writers taking turns by `update` (N6: a waiter that
/// finds one write running polls, then announces itself for the next): the
/// waiters still see every version in order or skip forward, whole.
#[test]
fn seqlock_waiters_follow_two_writers() {
    let lock = SeqLock::new(val(0));
    thread::scope(|s| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| s.spawn(|| follow(|seen| lock.wait_newer(seen, WAIT))))
            .collect();
        for _ in 0..2 {
            s.spawn(|| {
                for i in 1..=PUBLICATIONS / 2 {
                    lock.update(|v| val(v[0] + 1));
                    if i % 32 == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            });
        }
        for w in waiters {
            assert!(w.join().unwrap() >= 1);
        }
    });
    assert_eq!(lock.version(), PUBLICATIONS);
}
