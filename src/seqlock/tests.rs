//! The `const fn new`, the waiter flag (N6) and the open check, on ordinary
//! memory (Miri runs these too).

use super::*;
use crate::words::word_count;

/// The `const fn new` stores the value's bytes, then zeroes, in the payload
/// words: compared with words made from `bytemuck::bytes_of` (run under
/// Miri too, which would also report an uninitialised byte in a word).
fn const_new_matches<T: NoUninit + PartialEq + fmt::Debug>(value: T) {
    let constant = Body::new(value, ());
    let mut bytes = alloc::vec![0u8; 8 * word_count::<T>()];
    bytes[..core::mem::size_of::<T>()].copy_from_slice(bytemuck::bytes_of(&value));
    for (i, expected) in bytes.chunks(8).enumerate() {
        assert_eq!(
            constant.words.at(i).load(Ordering::Relaxed),
            u64::from_ne_bytes(expected.try_into().unwrap()),
            "word {i} of {}",
            core::any::type_name::<T>()
        );
    }
    assert_eq!(constant.seq.load(Ordering::Relaxed), 0);
    assert_eq!(constant.read_versioned(), Versioned { value, version: 0 });
}

#[derive(Clone, Copy, PartialEq, Debug, bytemuck::NoUninit)]
#[repr(C)]
struct Odd {
    a: [u8; 3],
    b: [u8; 2],
}

#[test]
fn const_new_stores_the_bytes_then_zeroes() {
    const_new_matches(());
    const_new_matches(0xabu8);
    const_new_matches(0x0102_0304_0506_0708u64);
    const_new_matches([7u8; 9]);
    const_new_matches([1u64, 2, 3, 4]);
    const_new_matches([u16::MAX; 13]);
    const_new_matches(Odd {
        a: [1, 2, 3],
        b: [4, 5],
    });
}

static STATIC: SeqLock<[u64; 3]> = SeqLock::new([1, 2, 3]);

#[test]
fn static_seqlock_reads_and_writes() {
    assert_eq!(STATIC.read(), [1, 2, 3]);
    let v = STATIC.write([4, 5, 6]);
    assert_eq!(
        STATIC.read_versioned(),
        Versioned {
            value: [4, 5, 6],
            version: v
        }
    );
}

/// N6 in `notify/mod.rs`: a waiter about to sleep sets `WAITING` on the even
/// sequence; versions do not count it; the next write clears it and
/// wakes the waiter; an aborted write (a panic in `update`) keeps it for
/// the write after.
#[cfg(feature = "std")]
#[test]
fn a_sleeping_waiter_flags_the_sequence_until_the_next_write() {
    use std::time::{Duration, Instant};
    let lock = SeqLock::new(5u64);
    let flagged = || lock.body.seq.load(Ordering::Relaxed) & WAITING != 0;
    let wait_for_flag = || {
        let start = Instant::now();
        while !flagged() {
            assert!(start.elapsed() < Duration::from_secs(30), "no flag");
            std::thread::yield_now();
        }
    };
    std::thread::scope(|s| {
        let waiter = s.spawn(|| lock.wait_newer(0, Duration::from_secs(60)));
        wait_for_flag();
        assert_eq!(
            (lock.version(), lock.read()),
            (0, 5),
            "the flag is no version"
        );
        // An aborted write restores the flag with the sequence.
        let aborted = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            lock.update(|_| panic!("abort"));
        }));
        assert!(aborted.is_err() && flagged() && lock.version() == 0);
        assert_eq!(lock.write(6), 1);
        assert!(!flagged(), "the write that found the flag clears it");
        let v = waiter.join().unwrap().unwrap();
        assert_eq!((v.value, v.version), (6, 1));
    });
    // With nobody waiting, writes leave it clear.
    assert_eq!(lock.write(7), 2);
    assert!(!flagged());
}

/// the open check of a shared `SeqLock`: an even sequence, or an odd
/// one that a live writer moves, passes; one that stays odd is refused.
#[cfg(feature = "shm")]
#[test]
fn validate_refuses_only_a_sequence_that_stays_odd() {
    use std::time::Duration;
    let lock = Body::new([1u64; 2], ());
    assert_eq!(lock.validate(Duration::ZERO), Ok(()));
    lock.write([2; 2]);
    assert_eq!(lock.validate(Duration::ZERO), Ok(()));
    // A writer in the middle of a write that it finishes.
    std::thread::scope(|s| {
        let lock = &lock;
        let guard = lock.lock();
        let (go, started) = std::sync::mpsc::channel();
        let checker = s.spawn(move || {
            go.send(()).unwrap();
            lock.validate(Duration::from_secs(600))
        });
        started.recv().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        guard.commit(&Buf::of([3; 2]));
        assert_eq!(checker.join().unwrap(), Ok(()));
    });
    // Odd for good: a writer that died mid-write, or damage.
    lock.seq.store(7, Ordering::Relaxed);
    let err = lock.validate(Duration::from_millis(5)).unwrap_err();
    assert!(
        err.contains("the sequence is 7, odd, and did not move"),
        "{err}"
    );
    lock.seq.store(8, Ordering::Relaxed);
    assert_eq!(lock.validate(Duration::ZERO), Ok(()));
}
