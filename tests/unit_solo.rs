//! Unit tests for `SoloPublisher` (one writer, many readers).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use noclobber::{ReadError, SoloPublisher, Versioned};

#[test]
fn channel_publish_read() {
    let (mut w, r) = SoloPublisher::<[u64; 4], 2>::channel([1; 4]);
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: [1; 4],
            version: 0
        }
    );
    assert_eq!(w.publish([2; 4]), 1);
    assert_eq!(r.read(), [2; 4]);
    assert_eq!((r.version(), w.version()), (1, 1));
    // The writer reads too.
    assert_eq!(w.read(), [2; 4]);
}

#[test]
fn many_publications_cycle_through_every_slot_count() {
    fn run<const S: usize>() {
        let (mut w, r) = SoloPublisher::<[u32; 2], S>::channel([0, 0]);
        for i in 1..=50u32 {
            assert_eq!(w.publish([i, !i]), u64::from(i));
            let expect = Versioned {
                value: [i, !i],
                version: u64::from(i),
            };
            assert_eq!(r.read_versioned(), expect);
            assert_eq!(r.try_read_versioned(), Ok(expect));
        }
    }
    run::<2>();
    run::<3>();
    run::<4>();
    run::<7>();
}

#[test]
fn odd_sizes_and_zero_sized_values() {
    let (mut w, r) = SoloPublisher::<[u8; 13], 3>::channel([7; 13]);
    w.publish([9; 13]);
    assert_eq!(r.read(), [9; 13]);
    let (mut w, r) = SoloPublisher::<(), 2>::channel(());
    assert_eq!(w.publish(()), 1);
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: (),
            version: 1
        }
    );
    let (mut w, r) = SoloPublisher::<u8, 2>::channel(0);
    w.update(|x| x + 200);
    assert_eq!(r.read(), 200);
}

#[test]
fn update_reads_the_last_publication() {
    let (mut w, r) = SoloPublisher::<u64, 2>::channel(1);
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
    let (mut w, r) = SoloPublisher::<u64, 2>::channel(5);
    let outcome = catch_unwind(AssertUnwindSafe(|| w.update(|_| panic!("no"))));
    assert!(outcome.is_err());
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: 5,
            version: 0
        }
    );
    assert_eq!(w.publish(6), 1);
}

#[test]
fn readers_clone_and_outlive_the_writer() {
    let (mut w, r) = SoloPublisher::<u64, 2>::channel(0);
    let r2 = r.clone();
    let r3 = w.reader();
    w.publish(3);
    drop(w);
    assert_eq!((r.read(), r2.read(), r3.read()), (3, 3, 3));
}

#[test]
fn bounded_reads() {
    let (mut w, r) = SoloPublisher::<[u64; 3], 2>::channel([0; 3]);
    w.publish([4; 3]);
    assert_eq!(r.try_read(), Ok([4; 3]));
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
    assert!(!ReadError::Corrupt.to_string().is_empty());
}

#[test]
fn debug_shows_value_and_version() {
    let (mut w, r) = SoloPublisher::<u32, 2>::channel(1);
    w.publish(2);
    let s = format!("{r:?} {w:?}");
    assert!(
        s.contains("value: 2") && s.contains("version: 1") && s.contains("slots: 2"),
        "{s}"
    );
}

#[test]
fn writer_moves_to_another_thread() {
    let (mut w, r) = SoloPublisher::<u64, 2>::channel(0);
    std::thread::spawn(move || {
        for i in 1..=100 {
            w.publish(i);
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
