#![cfg(noclobber_loom)]
//! Loom models of `ShardedCounter`: owned shards (plain Relaxed load + store by
//! the owner) and the shared `fetch_add` cell, `sum` bounds and `take`.
//!
//! Run with
//! `RUSTFLAGS="--cfg noclobber_loom" cargo test --release --test loom_counter`.
//! Every model runs at preemption bound 3; set `LOOM_MAX_PREEMPTIONS`
//! to override the bound for every model. `scripts/ci-loom.sh` runs the file
//! with the defaults and again at bound 5.
//!
//! Each model runs with 1 shard (the first adder owns it, the others use the
//! shared cell) and with 4 shards (every thread owns its shard; loom's thread
//! tokens start at 1 in every execution).

use loom::sync::atomic::{AtomicI64, Ordering};
use loom::sync::Arc;
use loom::thread;
use noclobber::ShardedCounter;

#[path = "common/loom_model.rs"]
mod loom_model;
use loom_model::model;

// ---------------------------------------------------------------------------
// Concurrent adds, then sum and take after join: exact.

fn adds_then_exact(shards: usize) {
    let c = Arc::new(ShardedCounter::with_shards(shards));
    let hs: Vec<_> = [&[1i64, 2][..], &[4][..]]
        .into_iter()
        .map(|adds| {
            let c = c.clone();
            let adds = adds.to_vec();
            thread::spawn(move || adds.into_iter().for_each(|d| c.add(d)))
        })
        .collect();
    c.add(8);
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(c.sum(), 15);
    assert_eq!(c.take(), 15);
    assert_eq!(c.sum(), 0);
}

#[test]
fn adds_then_exact_1_shard() {
    model(3, || adds_then_exact(1));
}

#[test]
fn adds_then_exact_4_shards() {
    model(3, || adds_then_exact(4));
}

// ---------------------------------------------------------------------------
// take concurrent with adds: every add is counted by exactly one take (or the
// final one), and no take is negative when all adds are positive.

fn take_counts_each_add_once(shards: usize) {
    let c = Arc::new(ShardedCounter::with_shards(shards));
    let hs: Vec<_> = [&[1i64, 2][..], &[4][..]]
        .into_iter()
        .map(|adds| {
            let c = c.clone();
            let adds = adds.to_vec();
            thread::spawn(move || adds.into_iter().for_each(|d| c.add(d)))
        })
        .collect();
    let first = c.take();
    assert!((0..=7).contains(&first), "take out of range: {first}");
    for h in hs {
        h.join().unwrap();
    }
    let rest = c.take();
    assert!(rest >= 0);
    assert_eq!(first + rest, 7, "an add was lost or counted twice");
    assert_eq!(c.sum(), 0);
}

#[test]
fn take_counts_each_add_once_1_shard() {
    model(3, || take_counts_each_add_once(1));
}

#[test]
fn take_counts_each_add_once_4_shards() {
    model(3, || take_counts_each_add_once(4));
}

// Two takers racing while the owner adds twice: the later taker must not move
// `taken` backwards to a stale `total` (a negative take).
fn two_takers(shards: usize) {
    let c = Arc::new(ShardedCounter::with_shards(shards));
    let owner = {
        let c = c.clone();
        thread::spawn(move || {
            c.add(3);
            c.add(2);
        })
    };
    let taker = {
        let c = c.clone();
        thread::spawn(move || c.take())
    };
    let mine = c.take();
    let theirs = taker.join().unwrap();
    owner.join().unwrap();
    assert!(mine >= 0 && theirs >= 0, "negative take: {mine} {theirs}");
    let rest = c.take();
    assert_eq!(mine + theirs + rest, 5, "an add was lost or counted twice");
}

#[test]
fn two_takers_1_shard() {
    model(3, || two_takers(1));
}

#[test]
fn two_takers_4_shards() {
    model(3, || two_takers(4));
}

// The same through `local()` handles (the shard is resolved once per thread).
fn local_handles(shards: usize) {
    let c = Arc::new(ShardedCounter::with_shards(shards));
    let hs: Vec<_> = [&[1i64, 2][..], &[4][..]]
        .into_iter()
        .map(|adds| {
            let c = c.clone();
            let adds = adds.to_vec();
            thread::spawn(move || {
                let local = c.local();
                adds.into_iter().for_each(|d| local.add(d));
            })
        })
        .collect();
    let first = c.take();
    let s = c.sum();
    assert!(
        (0..=7).contains(&first) && (0..=7 - first).contains(&s),
        "take {first}, sum {s}"
    );
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(first + c.take(), 7, "an add was lost or counted twice");
    assert_eq!(c.sum(), 0);
}

#[test]
fn local_handles_1_shard() {
    model(3, || local_handles(1));
}

#[test]
fn local_handles_4_shards() {
    model(3, || local_handles(4));
}

// ---------------------------------------------------------------------------
// sum during concurrent adds: at least the adds completed before the call (as
// observed through a flag the adder sets afterwards), at most all adds, never
// negative even while a take moves shards.

fn sum_bounds(shards: usize) {
    let c = Arc::new(ShardedCounter::with_shards(shards));
    let completed = Arc::new(AtomicI64::new(0));
    let hs: Vec<_> = [&[1i64, 2][..], &[4][..]]
        .into_iter()
        .map(|adds| {
            let (c, completed) = (c.clone(), completed.clone());
            let adds = adds.to_vec();
            thread::spawn(move || {
                for d in adds {
                    c.add(d);
                    completed.fetch_add(d, Ordering::Release);
                }
            })
        })
        .collect();
    let before = completed.load(Ordering::Acquire);
    let s = c.sum();
    assert!(before <= s && s <= 7, "sum {s} outside [{before}, 7]");
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(c.sum(), 7);
}

#[test]
fn sum_bounds_1_shard() {
    model(3, || sum_bounds(1));
}

#[test]
fn sum_bounds_4_shards() {
    model(3, || sum_bounds(4));
}

fn sum_during_take(shards: usize) {
    let c = Arc::new(ShardedCounter::with_shards(shards));
    let owner = {
        let c = c.clone();
        thread::spawn(move || {
            c.add(3);
        })
    };
    let taker = {
        let c = c.clone();
        thread::spawn(move || c.take())
    };
    let s = c.sum();
    assert!((0..=3).contains(&s), "sum {s} outside [0, 3] during take");
    let taken = taker.join().unwrap();
    owner.join().unwrap();
    assert_eq!(taken + c.sum(), 3);
}

#[test]
fn sum_during_take_1_shard() {
    model(3, || sum_during_take(1));
}

#[test]
fn sum_during_take_4_shards() {
    model(3, || sum_during_take(4));
}
