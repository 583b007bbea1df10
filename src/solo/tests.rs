//! The body checks of a shared file (`validate`), on ordinary memory so that
//! Miri runs them too.

use super::*;

fn publisher<const S: usize>(publications: u64) -> Body<[u64; 2], S> {
    let p = Body::new([0; 2], ());
    for v in 1..=publications {
        p.store(v, &Buf::of([v; 2]));
    }
    p
}

#[test]
fn every_state_a_writer_leaves_is_valid() {
    fn run<const S: usize>() {
        for n in 0..3 * S as u64 {
            let p = publisher::<S>(n);
            assert_eq!(p.validate(), Ok(n));
            // A writer stopped or killed half-way through version n + 1.
            p.slot(n + 1).stamp.store(odd(n + 1), Ordering::Relaxed);
            assert_eq!(p.validate(), Ok(n));
            // ... or after its stamp, before the head.
            p.slot(n + 1).stamp.store(even(n + 1), Ordering::Relaxed);
            assert_eq!(p.validate(), Ok(n));
        }
    }
    run::<2>();
    run::<3>();
    run::<5>();
}

/// `open` and `attach` validate a file a live writer may be publishing
/// into: that must never look corrupt, whatever the writer's progress.
/// (Without the Acquire stamp loads of S4, Miri's weak-memory model may
/// pair a newer stamp with a stale head and report a false `Corrupt`.)
#[test]
fn a_live_writer_never_looks_corrupt() {
    let p = publisher::<2>(0);
    let n = if cfg!(miri) { 60 } else { 100_000 };
    std::thread::scope(|s| {
        s.spawn(|| {
            for v in 1..=n {
                p.store(v, &Buf::of([v; 2]));
            }
        });
        let mut last = 0;
        while last < n {
            let v = p.validate().expect("a live writer looked corrupt");
            assert!(v >= last);
            match p.attempt() {
                Ok(got) => assert_eq!(got.value, [got.version; 2]),
                Err(e) => assert_eq!(e, Fault::Interrupted),
            }
            last = v;
            std::thread::yield_now();
        }
    });
}

#[test]
fn states_no_writer_leaves_are_refused() {
    let p = publisher::<3>(4); // head 4 in slot 1; slot 2 holds 2, slot 0 holds 3
    let corrupt = |p: &Body<[u64; 2], 3>, slot: usize, stamp: u64| {
        let old = p.slots[slot].stamp.swap(stamp, Ordering::Relaxed);
        let err = p.validate().expect_err("accepted a corrupt body");
        assert!(
            err.contains(&format!("slot {slot} of 3 has stamp {stamp}")),
            "{err}"
        );
        p.slots[slot].stamp.store(old, Ordering::Relaxed);
        // The bounded read agrees when it is the head's slot.
        assert_eq!(p.validate(), Ok(4));
    };
    corrupt(&p, 1, odd(4)); // the head's slot half-written
    corrupt(&p, 1, even(1)); // the head's slot holding another version
    corrupt(&p, 0, even(0)); // an overwritten version
    corrupt(&p, 2, even(6)); // a version of another slot (6 % 3 == 0)
    corrupt(&p, 0, odd(6)); // a version two ahead of the head
    corrupt(&p, 2, 0); // never written, yet the head is past it
    corrupt(&p, 0, 12345); // nonsense
                           // Reads of a corrupt head slot fail as `Corrupt`, and never spin.
    p.slots[1].stamp.store(even(7), Ordering::Relaxed);
    let corrupt = |e| matches!(e, ReadError::Corrupt(_));
    assert!(p.try_read::<Corrupt>().is_err_and(corrupt));
    let long = std::time::Duration::from_secs(60);
    assert!(p.read_timeout::<Corrupt>(long).is_err_and(corrupt));
    // A head that names a version no slot holds.
    p.slots[1].stamp.store(even(4), Ordering::Relaxed);
    p.head.store(40, Ordering::Relaxed);
    assert!(p.validate().is_err());
    assert!(p.try_read::<Corrupt>().is_err_and(corrupt));
}
