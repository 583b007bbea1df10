#![cfg(noclobber_loom)]
//! Loom models of `Publisher` (the tagged slot ring), with `SLOTS = 2` and 3.
//!
//! Run with
//! `RUSTFLAGS="--cfg noclobber_loom" cargo test --release --test loom_publisher`.
//! Every model runs at preemption bound 3; set `LOOM_MAX_PREEMPTIONS`
//! to override the bound for every model. `scripts/ci-loom.sh` runs the file
//! with the defaults and again at bound 5.
//!
//! Limitation: loom has no 128-bit atomic; `src/sync.rs` models the head and the
//! tagged words with a loom `Mutex` each, so their orderings are not weakened
//! here (Miri checks them: `tests/linearizability.rs`, module `visibility`). The
//! protocol itself (tickets, claims, tags, lapped readers and writers) is what
//! these models check: a reader preempted in the middle of its copy while
//! several publications lap it must retry, never return a mix.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use noclobber::{Publisher, Versioned};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

type Pair = [u64; 2];

/// Publication `n` of writer `w`: two words that only match each other when
/// copied from one publication.
fn val(w: u64, n: u64) -> Pair {
    let x = w << 32 | n;
    [x, !x]
}

fn untorn(v: &Pair) -> (u64, u64) {
    assert_eq!(v[1], !v[0], "torn read: {v:?}");
    (v[0] >> 32, v[0] & 0xffff_ffff)
}

/// With a single writer publishing `val(1, n)` as version `n`, the value a
/// reader gets must match its version.
fn consistent_single_writer(v: &Versioned<Pair>) {
    let (w, n) = untorn(&v.value);
    if v.version == 0 {
        assert_eq!((w, n), (0, 0), "{v:?}");
    } else {
        assert_eq!((w, n), (1, v.version), "value and version disagree: {v:?}");
    }
}

// ---------------------------------------------------------------------------
// One writer publishes `writes` times while a reader reads `reads` times: the
// reader, possibly lapped in the middle of a copy (with 2 slots one extra
// publication reuses its slot), never returns a torn or mismatched value, and
// versions never go backwards.

fn lapped_reader<const SLOTS: usize>(writes: u64, reads: usize) {
    let p: Arc<Publisher<Pair, SLOTS>> = Arc::new(Publisher::with_slots(val(0, 0)));
    let writer = {
        let p = p.clone();
        thread::spawn(move || {
            for n in 1..=writes {
                assert_eq!(p.write(val(1, n)), n, "versions count publications");
            }
        })
    };
    let mut last = 0;
    for _ in 0..reads {
        let v = p.read_versioned();
        consistent_single_writer(&v);
        assert!(v.version >= last, "version went backwards");
        last = v.version;
        assert!(p.version() >= last);
    }
    writer.join().unwrap();
    // A reader after join sees the last publication.
    let end = p.read_versioned();
    assert_eq!(
        end,
        Versioned {
            value: val(1, writes),
            version: writes
        }
    );
}

#[test]
fn lapped_reader_slots2_3_writes() {
    model(3, || lapped_reader::<2>(3, 1));
}

#[test]
fn lapped_reader_slots2_2_writes_2_reads() {
    model(3, || lapped_reader::<2>(2, 2));
}

#[test]
fn lapped_reader_slots3_4_writes() {
    model(3, || lapped_reader::<3>(4, 1));
}

#[test]
fn lapped_reader_slots3_2_writes_2_reads() {
    model(3, || lapped_reader::<3>(2, 2));
}

// Two readers overtaken by the same writer.
#[test]
fn two_readers_slots2() {
    model(3, || {
        let p: Arc<Publisher<Pair, 2>> = Arc::new(Publisher::with_slots(val(0, 0)));
        let writer = {
            let p = p.clone();
            thread::spawn(move || {
                for n in 1..=2 {
                    p.write(val(1, n));
                }
            })
        };
        let reader = {
            let p = p.clone();
            thread::spawn(move || consistent_single_writer(&p.read_versioned()))
        };
        consistent_single_writer(&p.read_versioned());
        writer.join().unwrap();
        reader.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// Several writers: no publication is lost or published twice, versions are
// 1..=n, a writer lapped mid-copy cannot scribble over a newer writer's slot
// (the reader would see a torn or foreign value), and the last value is one of
// the last publications.

fn two_writers<const SLOTS: usize>(per_writer: u64, reader: bool) {
    let p: Arc<Publisher<Pair, SLOTS>> = Arc::new(Publisher::with_slots(val(0, 0)));
    let writers: Vec<_> = (1..=2u64)
        .map(|w| {
            let p = p.clone();
            thread::spawn(move || {
                (1..=per_writer)
                    .map(|n| p.write(val(w, n)))
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    if reader {
        let v = p.read_versioned();
        untorn(&v.value);
    }
    let mut versions: Vec<u64> = writers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=2 * per_writer).collect::<Vec<_>>());
    let end = p.read_versioned();
    let (w, n) = untorn(&end.value);
    assert_eq!(end.version, 2 * per_writer);
    assert!(
        (w == 1 || w == 2) && n == per_writer,
        "last value is not a last publication: {end:?}"
    );
}

#[test]
fn two_writers_slots2() {
    model(3, || two_writers::<2>(1, false));
}

#[test]
fn two_writers_slots2_2_each() {
    model(3, || two_writers::<2>(2, false));
}

#[test]
fn two_writers_and_reader_slots2() {
    model(3, || two_writers::<2>(1, true));
}

#[test]
fn two_writers_and_reader_slots3() {
    model(3, || two_writers::<3>(1, true));
}

// ---------------------------------------------------------------------------
// `write_if`: of two writers with the same stale view, exactly one wins.

#[test]
fn write_if_one_winner() {
    model(3, || {
        let p: Arc<Publisher<Pair, 2>> = Arc::new(Publisher::with_slots(val(0, 0)));
        let hs: Vec<_> = (1..=2u64)
            .map(|w| {
                let p = p.clone();
                thread::spawn(move || match p.write_if(0, val(w, 1)) {
                    Ok(v) => {
                        assert_eq!(v, 1);
                        true
                    }
                    Err(now) => {
                        assert_eq!(now.version, 1);
                        let (winner, n) = untorn(&now.value);
                        assert_eq!(n, 1);
                        assert_ne!(winner, w);
                        false
                    }
                })
            })
            .collect();
        let wins = hs
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&won| won)
            .count();
        assert_eq!(wins, 1);
        assert_eq!(p.version(), 1);
    });
}

// A writer whose `write_if` stages a slot, loses the commit race and then
// declines (the version moved on) must give the slot back: with 2 slots, a claim
// newer than the head that nobody will publish would wedge every later writer
// (`linearizable_publisher_2_slots` hangs then). The final `write` must
// complete; a wedge shows up as loom exceeding its branch limit.
fn publish_if_loser_then_publish<const SLOTS: usize>() {
    let p: Arc<Publisher<Pair, SLOTS>> = Arc::new(Publisher::with_slots(val(0, 0)));
    let loser = {
        let p = p.clone();
        thread::spawn(move || p.write_if(0, val(1, 1)).is_ok())
    };
    let other = {
        let p = p.clone();
        thread::spawn(move || {
            p.write(val(2, 1));
        })
    };
    let won = loser.join().unwrap();
    other.join().unwrap();
    let v = if won { 3 } else { 2 };
    assert_eq!(p.write(val(2, 2)), v);
    assert_eq!(
        p.read_versioned(),
        Versioned {
            value: val(2, 2),
            version: v
        }
    );
}

#[test]
fn publish_if_loser_then_publish_slots2() {
    model(3, publish_if_loser_then_publish::<2>);
}

#[test]
fn publish_if_loser_then_publish_slots3() {
    model(3, publish_if_loser_then_publish::<3>);
}

// ---------------------------------------------------------------------------
// Message passing: what a writer did before `write` is visible to a reader
// that reads that publication. (Passes regardless of the head's orderings under
// loom's mutex model; kept as the spec.)

#[test]
fn message_passing() {
    model(3, || {
        let p: Arc<Publisher<Pair, 2>> = Arc::new(Publisher::with_slots(val(0, 0)));
        let data = Arc::new(UnsafeCell::new(0u64));
        let writer = {
            let (p, data) = (p.clone(), data.clone());
            thread::spawn(move || {
                data.with_mut(|ptr| unsafe { *ptr = 42 });
                p.write(val(1, 1));
            })
        };
        if p.read_versioned().version == 1 {
            assert_eq!(data.with(|ptr| unsafe { *ptr }), 42);
        }
        writer.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// The bounded reads. One writer laps a reader of 2 slots; each `try_read`
// either returns a whole value or `Interrupted`, never a corruption report
// (the head moved every time the copy failed; in process memory a corrupt
// object panics, which fails the model too), and `read_timeout` always ends
// with a value.

fn bounded_reads_fail_only_when_lapped<const SLOTS: usize>(writes: u64) {
    let p: Arc<Publisher<Pair, SLOTS>> = Arc::new(Publisher::with_slots(val(0, 0)));
    let writer = {
        let p = p.clone();
        thread::spawn(move || {
            for n in 1..=writes {
                p.write(val(1, n));
            }
        })
    };
    match p.try_read() {
        Ok(v) => consistent_single_writer(&v),
        Err(e) => assert_eq!(
            e,
            noclobber::ReadError::Interrupted,
            "a live writer looked {e}"
        ),
    }
    let v = p
        .read_timeout(std::time::Duration::from_secs(3600))
        .expect("read_timeout failed under a live writer");
    consistent_single_writer(&v);
    writer.join().unwrap();
    assert_eq!(p.try_read().map(|v| v.version), Ok(writes));
}

#[test]
fn bounded_reads_fail_only_when_lapped_slots2() {
    model(3, || bounded_reads_fail_only_when_lapped::<2>(2));
}

#[test]
fn bounded_reads_fail_only_when_lapped_slots3() {
    model(3, || bounded_reads_fail_only_when_lapped::<3>(3));
}
