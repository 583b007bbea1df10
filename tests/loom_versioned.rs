#![cfg(noclobber_loom)]
//! Loom models of `VersionedCell`: the small path (value and version in one
//! 128-bit word) with `T = u64`, and the tagged-ring path with `T = [u64; 2]`.
//!
//! Run with
//! `RUSTFLAGS="--cfg noclobber_loom" cargo test --release --test loom_versioned`.
//! Every model runs at preemption bound 3; set `LOOM_MAX_PREEMPTIONS`
//! to override the bound for every model. `scripts/ci-loom.sh` runs the file
//! with the defaults and again at bound 5.
//!
//! Limitation: loom has no 128-bit atomic, so `src/sync.rs` models it with a loom
//! `Mutex`. The orderings written on the 128-bit head are therefore invisible to
//! these models (every head access synchronises); Miri checks those
//! (`tests/linearizability.rs`, module `visibility`). What these models do check
//! is the algorithm: no lost update, one CAS winner, monotone versions, no torn
//! value, and the ring's claim / tag protocol with the 64-bit claim words.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use noclobber::{Versioned, VersionedCell};

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

/// How a test value encodes a number, and how to check it is not torn.
trait Val: noclobber::bytemuck::NoUninit + Send + Sync + std::fmt::Debug + PartialEq + 'static {
    fn of(n: u64) -> Self;
    /// The number, panicking if the value is torn.
    fn num(&self) -> u64;
}

impl Val for u64 {
    fn of(n: u64) -> Self {
        n
    }
    fn num(&self) -> u64 {
        *self
    }
}

impl Val for [u64; 2] {
    fn of(n: u64) -> Self {
        [n, n.wrapping_mul(0x9E37_79B9_7F4A_7C15)]
    }
    fn num(&self) -> u64 {
        assert_eq!(
            self[1],
            self[0].wrapping_mul(0x9E37_79B9_7F4A_7C15),
            "torn value {self:?}"
        );
        self[0]
    }
}

/// Every write in these models is "+1", so a consistent snapshot has
/// value == version.
fn consistent<T: Val>(v: &Versioned<T>) {
    assert_eq!(
        v.value.num(),
        v.version,
        "value and version disagree: {v:?}"
    );
}

fn incr<T: Val>(x: T) -> T {
    T::of(x.num() + 1)
}

// ---------------------------------------------------------------------------
// No lost update: concurrent `update`s all land, each at its own version.

fn no_lost_update<T: Val>(per_thread: [u64; 2]) {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let handles: Vec<_> = per_thread
        .iter()
        .map(|&ops| {
            let cell = cell.clone();
            thread::spawn(move || {
                let mut mine = Vec::new();
                for _ in 0..ops {
                    let done = cell.update(incr::<T>);
                    consistent(&done);
                    mine.push(done.version);
                }
                mine
            })
        })
        .collect();
    let mut versions: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    versions.sort_unstable();
    let total: u64 = per_thread.iter().sum();
    // Each update committed a distinct version: 1..=total, none lost or doubled.
    assert_eq!(versions, (1..=total).collect::<Vec<_>>());
    let last = cell.read_versioned();
    consistent(&last);
    assert_eq!(last.version, total);
}

#[test]
fn small_no_lost_update_1x1() {
    model(3, || no_lost_update::<u64>([1, 1]));
}

#[test]
fn small_no_lost_update_2x1() {
    model(3, || no_lost_update::<u64>([2, 1]));
}

#[test]
fn large_no_lost_update_1x1() {
    model(3, || no_lost_update::<[u64; 2]>([1, 1]));
}

#[test]
fn large_no_lost_update_2x1() {
    model(3, || no_lost_update::<[u64; 2]>([2, 1]));
}

// ---------------------------------------------------------------------------
// `write_if`: exactly one of two racing CASes on the same version wins;
// the loser is told the winner's value and version, and a retry succeeds.

fn one_cas_winner<T: Val>() {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let handles: Vec<_> = [10u64, 20]
        .into_iter()
        .map(|mine| {
            let cell = cell.clone();
            thread::spawn(move || match cell.write_if(0, T::of(mine)) {
                Ok(version) => {
                    assert_eq!(version, 1);
                    (true, mine)
                }
                Err(current) => {
                    assert_eq!(current.version, 1, "lost CAS must see the winner");
                    let winner = current.value.num();
                    assert!(winner == 10 || winner == 20);
                    assert_ne!(winner, mine);
                    // Retry on what is really there: must succeed (nobody else writes).
                    assert_eq!(cell.write_if(1, T::of(mine + 1)), Ok(2));
                    (false, mine)
                }
            })
        })
        .collect();
    let results: Vec<(bool, u64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.0).count(),
        1,
        "exactly one winner"
    );
    let loser = results.iter().find(|r| !r.0).unwrap().1;
    let last = cell.read_versioned();
    assert_eq!((last.value.num(), last.version), (loser + 1, 2));
}

#[test]
fn small_one_cas_winner() {
    model(3, one_cas_winner::<u64>);
}

#[test]
fn large_one_cas_winner() {
    model(3, one_cas_winner::<[u64; 2]>);
}

// ---------------------------------------------------------------------------
// Versions strictly increase, and a reader (possibly lapped mid-copy on the
// ring path) never sees a torn value or a value that does not match its version.

fn reader_sees_monotone_untorn<T: Val>(writes: u64) {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let writer = {
        let cell = cell.clone();
        thread::spawn(move || {
            let mut last = 0;
            for _ in 0..writes {
                let v = cell.write(T::of(last + 1));
                assert_eq!(v, last + 1, "versions go up by exactly one");
                last = v;
            }
        })
    };
    let a = cell.read_versioned();
    let v = cell.version();
    let b = cell.read_versioned();
    consistent(&a);
    consistent(&b);
    assert!(
        a.version <= v && v <= b.version,
        "versions went backwards: {a:?} {v} {b:?}"
    );
    writer.join().unwrap();
    // A reader after join sees the last write.
    let last = cell.read_versioned();
    assert_eq!((last.value.num(), last.version), (writes, writes));
}

#[test]
fn small_reader_monotone() {
    model(3, || reader_sees_monotone_untorn::<u64>(2));
}

#[test]
fn large_reader_monotone_untorn() {
    model(3, || reader_sees_monotone_untorn::<[u64; 2]>(3));
}

// Two updaters and a reader at once (3 threads), ring path.
#[test]
fn large_two_updaters_and_reader() {
    model(3, || {
        let cell = Arc::new(VersionedCell::new(<[u64; 2]>::of(0)));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let cell = cell.clone();
                thread::spawn(move || consistent(&cell.update(incr::<[u64; 2]>)))
            })
            .collect();
        let a = cell.read_versioned();
        consistent(&a);
        for h in hs {
            h.join().unwrap();
        }
        let b = cell.read_versioned();
        assert!(a.version <= b.version);
        assert_eq!(b.version, 2);
        consistent(&b);
    });
}

// ---------------------------------------------------------------------------
// `checked_update` declines without writing; a racing write makes it re-run `f`.

fn checked_update_decline<T: Val>() {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let writer = {
        let cell = cell.clone();
        thread::spawn(move || cell.write(T::of(1)))
    };
    // Decline unless the value is 1: either we decline at version 0 (nothing
    // written) or commit 1 -> 2 after the writer.
    let r = cell.checked_update(|x| (x.num() == 1).then(|| T::of(2)));
    writer.join().unwrap();
    let last = cell.read_versioned();
    match r {
        Ok(done) => {
            assert_eq!((done.value.num(), done.version), (2, 2));
            assert_eq!(last.version, 2);
        }
        Err(seen) => {
            assert_eq!((seen.value.num(), seen.version), (0, 0));
            assert_eq!((last.value.num(), last.version), (1, 1));
        }
    }
}

#[test]
fn small_checked_update_decline() {
    model(3, checked_update_decline::<u64>);
}

#[test]
fn large_checked_update_decline() {
    model(3, checked_update_decline::<[u64; 2]>);
}

// ---------------------------------------------------------------------------
// Message passing: data written before a `write` is visible to a thread
// whose `read_versioned` / `version` / failed `write_if` sees that write.
// (Loom's mutex model of the 128-bit head makes this pass regardless of the
// head's orderings; kept as the spec, and the ring's claim words are still
// loom atomics.)

fn message_passing<T: Val>() {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let data = Arc::new(UnsafeCell::new(0u64));
    let writer = {
        let (cell, data) = (cell.clone(), data.clone());
        thread::spawn(move || {
            data.with_mut(|p| unsafe { *p = 42 });
            cell.write(T::of(1));
        })
    };
    if cell.read_versioned().version == 1 {
        assert_eq!(data.with(|p| unsafe { *p }), 42);
    }
    if let Err(now) = cell.write_if(5, T::of(9)) {
        if now.version == 1 {
            assert_eq!(data.with(|p| unsafe { *p }), 42);
        }
    }
    writer.join().unwrap();
}

#[test]
fn small_message_passing() {
    model(3, message_passing::<u64>);
}

#[test]
fn large_message_passing() {
    model(3, message_passing::<[u64; 2]>);
}

// ---------------------------------------------------------------------------
// swap: every value is handed on exactly once. Two swappers and an updater
// race; each returns what it replaced, so the replaced values plus the final
// value are the initial one and each value written, once each, and the
// replaced versions are 0, 1, 2.

fn swap_hands_each_value_on_once<T: Val>() {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let swappers: Vec<_> = [10u64, 20]
        .into_iter()
        .map(|x| {
            let cell = cell.clone();
            thread::spawn(move || {
                let old = cell.swap(T::of(x));
                (old.value.num(), old.version)
            })
        })
        .collect();
    // A third write that is not a swap: it adds 1 to whatever it replaced.
    let bumped = cell.update(|x| T::of(x.num() + 1));
    let mut replaced: Vec<(u64, u64)> = swappers.into_iter().map(|h| h.join().unwrap()).collect();
    let last = cell.read_versioned();
    assert_eq!(last.version, 3);
    let mut values: Vec<u64> = replaced.iter().map(|r| r.0).collect();
    values.push(last.value.num());
    // The updater replaced `bumped - 1` (and its result may be replaced by a swap).
    values.push(bumped.value.num() - 1);
    values.sort_unstable();
    let mut written = vec![0, 10, 20, bumped.value.num()];
    written.sort_unstable();
    assert_eq!(values, written, "a value was handed on twice or never");
    replaced.push((bumped.value.num() - 1, bumped.version - 1));
    replaced.sort_unstable_by_key(|r| r.1);
    assert_eq!(
        replaced.iter().map(|r| r.1).collect::<Vec<_>>(),
        [0, 1, 2],
        "replaced versions: {replaced:?}"
    );
}

#[test]
fn small_swap_hands_each_value_on_once() {
    model(3, swap_hands_each_value_on_once::<u64>);
}

#[test]
fn large_swap_hands_each_value_on_once() {
    model(3, swap_hands_each_value_on_once::<[u64; 2]>);
}

// ---------------------------------------------------------------------------
// fetch_update: with a limit of one increment, exactly one of two racing
// calls succeeds and returns version 0; the other declines and sees the
// winner's write. A reader meanwhile sees an untorn, consistent value.

fn fetch_update_one_winner<T: Val>() {
    let cell = Arc::new(VersionedCell::new(T::of(0)));
    let racer = {
        let cell = cell.clone();
        thread::spawn(move || cell.fetch_update(|x| (x.num() < 1).then(|| incr(x))))
    };
    let reader = {
        let cell = cell.clone();
        thread::spawn(move || consistent(&cell.read_versioned()))
    };
    let mine = cell.fetch_update(|x| (x.num() < 1).then(|| incr(x)));
    let theirs = racer.join().unwrap();
    reader.join().unwrap();
    let (won, lost) = match (mine, theirs) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("not exactly one winner: {other:?}"),
    };
    assert_eq!((won.value.num(), won.version), (0, 0), "previous value");
    assert_eq!(
        (lost.value.num(), lost.version),
        (1, 1),
        "declined snapshot"
    );
    let last = cell.read_versioned();
    assert_eq!((last.value.num(), last.version), (1, 1));
}

#[test]
fn small_fetch_update_one_winner() {
    model(3, fetch_update_one_winner::<u64>);
}

#[test]
fn large_fetch_update_one_winner() {
    model(3, fetch_update_one_winner::<[u64; 2]>);
}
