//! Unit tests for `SoloWriter` and `SoloReader` (one writer, many readers).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use noclobber::{ReadError, SoloWriter, Versioned};

#[test]
fn channel_write_read() {
    let (mut w, r) = SoloWriter::<[u64; 4]>::channel([1; 4]);
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: [1; 4],
            version: 0
        }
    );
    assert_eq!(w.write([2; 4]), 1);
    assert_eq!(r.read(), [2; 4]);
    assert_eq!((r.version(), w.version()), (1, 1));
    // The writer reads too.
    assert_eq!(w.read(), [2; 4]);
}

#[test]
fn many_publications_cycle_through_every_slot_count() {
    fn run<const S: usize>() {
        let mut w = SoloWriter::<[u32; 2], S>::with_slots([0, 0]);
        let r = w.reader();
        for i in 1..=50u32 {
            assert_eq!(w.write([i, !i]), u64::from(i));
            let expect = Versioned {
                value: [i, !i],
                version: u64::from(i),
            };
            assert_eq!(r.read_versioned(), expect);
            assert_eq!(r.try_read(), Ok(expect));
        }
    }
    run::<2>();
    run::<3>();
    run::<4>();
    run::<7>();
}

#[test]
fn odd_sizes_and_zero_sized_values() {
    let mut w = SoloWriter::<[u8; 13], 3>::with_slots([7; 13]);
    let r = w.reader();
    w.write([9; 13]);
    assert_eq!(r.read(), [9; 13]);
    let (mut w, r) = SoloWriter::<()>::channel(());
    assert_eq!(w.write(()), 1);
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: (),
            version: 1
        }
    );
    let (mut w, r) = SoloWriter::<u8>::channel(0);
    w.update(|x| x + 200);
    assert_eq!(r.read(), 200);
}

#[test]
fn update_reads_the_last_publication() {
    let (mut w, r) = SoloWriter::<u64>::channel(1);
    for i in 1..=20 {
        let now = w.update(|x| x * 2);
        assert_eq!(
            now,
            Versioned {
                value: 1 << i,
                version: i
            }
        );
    }
    assert_eq!(r.read(), 1 << 20);
}

#[test]
fn panicking_update_publishes_nothing() {
    let (mut w, r) = SoloWriter::<u64>::channel(5);
    let outcome = catch_unwind(AssertUnwindSafe(|| w.update(|_| panic!("no"))));
    assert!(outcome.is_err());
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: 5,
            version: 0
        }
    );
    assert_eq!(w.write(6), 1);
}

#[test]
fn readers_clone_and_outlive_the_writer() {
    let (mut w, r) = SoloWriter::<u64>::channel(0);
    let r2 = r.clone();
    let r3 = w.reader();
    w.write(3);
    drop(w);
    assert_eq!((r.read(), r2.read(), r3.read()), (3, 3, 3));
}

#[test]
fn bounded_reads() {
    let (mut w, r) = SoloWriter::<[u64; 3]>::channel([0; 3]);
    w.write([4; 3]);
    assert_eq!(r.try_read().map(|v| v.value), Ok([4; 3]));
    let v = r.read_timeout(Duration::from_millis(1)).unwrap();
    assert_eq!(
        v,
        Versioned {
            value: [4; 3],
            version: 1
        }
    );
    // A zero timeout still makes one attempt.
    assert_eq!(r.read_timeout(Duration::ZERO).unwrap().version, 1);
    // Every error an in-process read can return says what happened (its
    // `Corrupt` payload is `Infallible`: only shared files can be corrupt).
    let errors: [ReadError; 2] = [ReadError::Interrupted, ReadError::TimedOut];
    assert!(errors.iter().all(|e| !e.to_string().is_empty()));
}

#[test]
fn debug_shows_value_and_version() {
    let (mut w, r) = SoloWriter::<u32>::channel(1);
    w.write(2);
    for (s, name) in [
        (format!("{r:?}"), "SoloReader"),
        (format!("{w:?}"), "SoloWriter"),
    ] {
        assert!(
            s == format!("{name} {{ value: 2, version: 1, slots: 2 }}"),
            "{s}"
        );
    }
}

#[test]
fn writer_moves_to_another_thread() {
    let (mut w, r) = SoloWriter::<u64>::channel(0);
    std::thread::spawn(move || {
        for i in 1..=100 {
            w.write(i);
        }
    })
    .join()
    .unwrap();
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: 100,
            version: 100
        }
    );
}
