//! Unit tests for `SeqLock`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use noclobber::{SeqLock, Versioned};

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
    assert_eq!(lock.try_read(), Some([5; 4]));
    assert_eq!(
        lock.try_read_versioned(),
        Some(Versioned {
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
        lock.try_read_versioned(),
        Some(Versioned {
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
