//! Unit tests for `SeqLock`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use noclobber::{ReadError, SeqLock, Versioned, WriteError};

#[test]
fn new_read_write_version() {
    let lock = SeqLock::new([1u64, 2, 3, 4]);
    assert_eq!(lock.read(), [1, 2, 3, 4]);
    assert_eq!(lock.version(), 0);
    assert_eq!(lock.write([5; 4]), 1);
    assert_eq!(
        lock.read_versioned(),
        Versioned {
            value: [5; 4],
            version: 1
        }
    );
    assert_eq!(lock.try_read().map(|v| v.value), Ok([5; 4]));
    assert_eq!(
        lock.try_read(),
        Ok(Versioned {
            value: [5; 4],
            version: 1
        })
    );
}

#[test]
fn update_is_read_modify_write() {
    let lock = SeqLock::new(1u32);
    for i in 1..=10 {
        assert_eq!(
            lock.update(|x| x * 2),
            Versioned {
                value: 1 << i,
                version: i
            }
        );
    }
    assert_eq!(lock.into_inner(), 1024);
}

#[test]
fn panic_in_update_leaves_value_and_lock_usable() {
    let lock = SeqLock::new([7u8; 5]);
    lock.write([8; 5]);
    let r = catch_unwind(AssertUnwindSafe(|| {
        lock.update(|_| panic!("closure failed"));
    }));
    assert!(r.is_err());
    assert_eq!(
        lock.try_read(),
        Ok(Versioned {
            value: [8; 5],
            version: 1
        })
    );
    // The lock is not left held: writers and readers carry on.
    assert_eq!(lock.write([9; 5]), 2);
    assert_eq!(lock.update(|v| v.map(|x| x + 1)).value, [10; 5]);
}

#[test]
fn default_from_debug_and_odd_sizes() {
    assert_eq!(SeqLock::<[u16; 3]>::default().read(), [0; 3]);
    let lock = SeqLock::from(-5i8);
    assert_eq!(format!("{lock:?}"), "SeqLock { value: -5, version: 0 }");
    let unit = SeqLock::new(());
    assert_eq!(unit.write(()), 1);
    let big = SeqLock::new([3u8; 100]);
    big.update(|mut v| {
        v[99] = 4;
        v
    });
    assert_eq!(big.read()[98..], [3, 4]);
}

/// While another writer holds the sequence odd (here: a thread parked
/// inside its `update` closure, as a writer process stopped mid-write would),
/// the bounded writes and reads give up within their bound and write nothing;
/// once it returns they succeed.
#[test]
fn bounded_writes_give_up_while_another_writer_holds_the_lock() {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let lock = SeqLock::new([1u64; 3]);
    let (entered, wait_entered) = mpsc::channel();
    std::thread::scope(|s| {
        // Inside the scope: if an assertion below fails, `leave` is dropped
        // before the scope joins the writer, which then returns instead of
        // hanging the test.
        let (leave, wait_leave) = mpsc::channel::<()>();
        let lock = &lock;
        s.spawn(move || {
            lock.update(|v| {
                entered.send(()).unwrap();
                let _ = wait_leave.recv();
                v.map(|w| w + 1)
            })
        });
        wait_entered.recv().unwrap();
        assert_eq!(lock.try_write([9; 3]), Err(WriteError::Busy));
        assert_eq!(
            lock.try_update(|_| unreachable!("f ran without the lock")),
            Err(WriteError::Busy)
        );
        assert_eq!(lock.try_read(), Err(ReadError::Interrupted));
        let start = Instant::now();
        assert_eq!(
            lock.write_timeout([9; 3], Duration::from_millis(30)),
            Err(WriteError::TimedOut)
        );
        let waited = lock.update_timeout(
            |_| unreachable!("f ran without the lock"),
            Duration::from_millis(30),
        );
        assert_eq!(waited, Err(WriteError::TimedOut));
        assert_eq!(
            lock.read_timeout(Duration::from_millis(30)),
            Err(ReadError::TimedOut)
        );
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(90),
            "gave up early: {elapsed:?}"
        );
        leave.send(()).unwrap();
        // Waits for the update to finish, then writes.
        assert_eq!(lock.write_timeout([7; 3], Duration::from_secs(60)), Ok(2));
    });
    assert_eq!(
        lock.read_versioned(),
        Versioned {
            value: [7; 3],
            version: 2
        }
    );
    assert_eq!(lock.try_write([8; 3]), Ok(3));
    let v = lock.try_update(|v| v.map(|w| w + 1)).unwrap();
    assert_eq!((v.value, v.version), ([9; 3], 4));
    let v = lock
        .update_timeout(|v| v.map(|w| w * 2), Duration::ZERO)
        .unwrap();
    assert_eq!((v.value, v.version), ([18; 3], 5));
}

/// An `update` closure that touches its own lock through the bounded forms
/// gets an error at once instead of spinning forever; nothing nested is
/// written, and a panic-free closure still commits.
#[test]
fn bounded_forms_inside_update_return_instead_of_spinning() {
    use std::time::Duration;
    let lock = SeqLock::new(5u64);
    let v = lock.update(|x| {
        assert_eq!(lock.try_read(), Err(ReadError::Interrupted));
        assert_eq!(
            lock.read_timeout(Duration::from_millis(5)),
            Err(ReadError::TimedOut)
        );
        assert_eq!(lock.try_write(100), Err(WriteError::Busy));
        assert_eq!(
            lock.write_timeout(100, Duration::from_millis(5)),
            Err(WriteError::TimedOut)
        );
        assert_eq!(lock.try_update(|y| y + 100), Err(WriteError::Busy));
        assert_eq!(
            lock.update_timeout(|y| y + 100, Duration::from_millis(5)),
            Err(WriteError::TimedOut)
        );
        x + 1
    });
    assert_eq!((v.value, v.version), (6, 1));
    assert_eq!(
        lock.read_versioned(),
        Versioned {
            value: 6,
            version: 1
        }
    );
}
