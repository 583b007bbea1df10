#![cfg(noclobber_loom)]
//! Loom models of `SoloWriter` and `SoloReader` (one writer, per-slot seqlock
//! stamps), with `SLOTS = 2` and 3.
//!
//! Run with
//! `RUSTFLAGS="--cfg noclobber_loom" cargo test --release --test loom_solo`.
//! Every model runs at preemption bound 3 unless `LOOM_MAX_PREEMPTIONS` is set;
//! `scripts/ci-loom.sh` runs the file with the defaults and again at bound 5.
//!
//! All of this ring's atomics are 64-bit, so loom checks every ordering of it
//! (head, stamps, words, both fences), unlike the 128-bit multi-writer ring.
//! What is checked:
//! * a reader lapped once or twice in the middle of its copy retries and never
//!   returns a torn value or a value under another version;
//! * a bounded read fails only as `Interrupted`, and only after the head moved
//!   (so a writer preempted, i.e. stopped, anywhere never makes a reader wait),
//!   and never finds an object a live writer is writing corrupt (in process
//!   memory that would panic);
//! * with one publication in flight the reader's one attempt always succeeds,
//!   wherever the writer is stopped (between the stamp and the words included).

use loom::thread;
use noclobber::{ReadError, SoloReader, SoloWriter, Versioned};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

type Pair = [u64; 2];

/// Publication `n`: two words that only match each other (and `n`) when
/// copied from that one publication.
fn val(n: u64) -> Pair {
    [n, !n]
}

fn check(v: &Versioned<Pair>) {
    assert_eq!(v.value, val(v.version), "torn or mismatched read: {v:?}");
}

/// One bounded read: whole if `Ok`; `Interrupted` only if the head moved past
/// the version the attempt started from; never any other error.
fn bounded<const S: usize>(r: &SoloReader<Pair, S>) -> Option<Versioned<Pair>> {
    let before = r.version();
    match r.try_read() {
        Ok(v) => {
            check(&v);
            assert!(v.version >= before, "read went back");
            Some(v)
        }
        Err(ReadError::Interrupted) => {
            assert!(
                r.version() > before,
                "interrupted, yet nothing was published"
            );
            None
        }
        Err(e) => panic!("live writer, yet {e}"),
    }
}

/// The writer publishes `writes` values while the main thread reads `reads`
/// times: each read whole, versions never going back, and after `join` the
/// last value.
fn lapped_reader<const S: usize>(writes: u64, reads: usize) {
    let mut w = SoloWriter::<Pair, S>::with_slots(val(0));
    let r = w.reader();
    let writer = thread::spawn(move || {
        for n in 1..=writes {
            assert_eq!(w.write(val(n)), n);
        }
    });
    let mut last = 0;
    for _ in 0..reads {
        let v = r.read_versioned();
        check(&v);
        assert!(v.version >= last, "version went back");
        last = v.version;
    }
    writer.join().unwrap();
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: val(writes),
            version: writes
        }
    );
}

// With 2 slots, 2 publications reuse the initial slot (lapped once) and 3
// reuse it and its neighbour (lapped twice); with 3 slots it takes 3 and 4.

#[test]
fn lapped_once_slots2() {
    model(3, || lapped_reader::<2>(2, 1));
}

#[test]
fn lapped_twice_slots2() {
    model(3, || lapped_reader::<2>(3, 1));
}

#[test]
fn lapped_once_slots3() {
    model(3, || lapped_reader::<3>(3, 1));
}

#[test]
fn lapped_twice_slots3() {
    model(3, || lapped_reader::<3>(4, 1));
}

#[test]
fn two_reads_slots2() {
    model(3, || lapped_reader::<2>(2, 2));
}

/// Bounded reads under lapping: every failure is explained by a publication.
#[test]
fn bounded_reads_fail_only_when_lapped_slots2() {
    model(3, || {
        let (mut w, r) = SoloWriter::<Pair>::channel(val(0));
        // Two publications: the second reuses the initial slot, so a reader
        // preempted mid-copy is lapped.
        let writer = thread::spawn(move || {
            for n in 1..=2 {
                w.write(val(n));
            }
        });
        bounded(&r);
        bounded(&r);
        writer.join().unwrap();
        assert_eq!(bounded(&r).map(|v| v.version), Some(2));
    });
}

/// One publication in flight: the writer may be preempted anywhere (after
/// the odd stamp and before the words, between words, before the head), and
/// the reader's single attempt must still succeed: readers never wait for a
/// stopped writer. Two readers, one on each side of the head store.
#[test]
fn writer_stopped_anywhere_never_blocks_one_attempt() {
    fn run<const S: usize>() {
        let mut w = SoloWriter::<Pair, S>::with_slots(val(0));
        let r = w.reader();
        let other = {
            let r = r.clone();
            thread::spawn(move || {
                let v = r.try_read().expect("one attempt must succeed");
                check(&v);
            })
        };
        let writer = thread::spawn(move || {
            w.write(val(1));
        });
        let v = r.try_read().expect("one attempt must succeed");
        check(&v);
        other.join().unwrap();
        writer.join().unwrap();
    }
    model(3, run::<2>);
    model(3, run::<3>);
}

/// A writer that publishes and then updates: the update reads the writer's
/// own last value (its head slot, which a concurrent reader may be copying),
/// and the reader sees each value whole.
#[test]
fn update_and_reader_slots2() {
    model(3, || {
        let (mut w, r) = SoloWriter::<Pair>::channel(val(0));
        let writer = thread::spawn(move || {
            w.write(val(1));
            let now = w.update(|[a, _]| val(a + 1));
            assert_eq!(
                now,
                Versioned {
                    value: val(2),
                    version: 2
                }
            );
        });
        check(&r.read_versioned());
        writer.join().unwrap();
        assert_eq!(r.read(), val(2));
    });
}
