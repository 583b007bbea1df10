//! Unit tests for `Publisher`.

use noclobber::{Publisher, Versioned};

#[test]
fn new_write_read() {
    let p: Publisher<[u64; 4], 2> = Publisher::with_slots([1; 4]);
    assert_eq!(
        p.read_versioned(),
        Versioned {
            value: [1; 4],
            version: 0
        }
    );
    assert_eq!(p.write([2; 4]), 1);
    assert_eq!(p.read(), [2; 4]);
    assert_eq!(p.version(), 1);
}

#[test]
fn many_publications_cycle_through_every_slot_count() {
    fn run<const S: usize>() {
        let p: Publisher<[u32; 2], S> = Publisher::with_slots([0, 0]);
        for i in 1..=50u32 {
            assert_eq!(p.write([i, !i]), u64::from(i));
            assert_eq!(
                p.read_versioned(),
                Versioned {
                    value: [i, !i],
                    version: u64::from(i)
                }
            );
        }
    }
    run::<2>();
    run::<3>();
    run::<4>();
    run::<7>();
}

#[test]
fn write_if_checks_the_version() {
    let p: Publisher<u16, 3> = Publisher::new(10);
    assert_eq!(p.write_if(0, 11), Ok(1));
    assert_eq!(
        p.write_if(0, 12),
        Err(Versioned {
            value: 11,
            version: 1
        })
    );
    assert_eq!(
        p.write_if(2, 12),
        Err(Versioned {
            value: 11,
            version: 1
        })
    );
    assert_eq!(p.write_if(1, 12), Ok(2));
    assert_eq!(p.into_inner(), 12);
}

#[test]
fn default_debug_small_and_zero_sized() {
    let p: Publisher<u8, 2> = Publisher::default();
    p.write(4);
    assert_eq!(
        format!("{p:?}"),
        "Publisher { value: 4, version: 1, slots: 2 }"
    );
    let unit: Publisher<(), 2> = Publisher::with_slots(());
    assert_eq!(unit.write(()), 1);
    assert_eq!(unit.read_versioned().version, 1);
}
