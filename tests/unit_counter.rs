//! Unit tests for `ShardedCounter`.

use noclobber::{ShardedCounter, MAX_SHARDS};

#[test]
fn add_inc_dec_sum_take() {
    let c = ShardedCounter::new();
    assert_eq!(c.sum(), 0);
    c.inc();
    c.inc();
    c.dec();
    c.add(40);
    c.add(-1);
    assert_eq!(c.sum(), 40);
    assert_eq!(c.take(), 40);
    assert_eq!(c.sum(), 0);
    assert_eq!(c.take(), 0);
    c.add(3);
    assert_eq!(c.take(), 3);
}

#[test]
fn shard_counts_are_clamped_powers_of_two() {
    assert_eq!(ShardedCounter::with_shards(0).shards(), 1);
    assert_eq!(ShardedCounter::with_shards(1).shards(), 1);
    assert_eq!(ShardedCounter::with_shards(5).shards(), 8);
    assert_eq!(ShardedCounter::with_shards(usize::MAX).shards(), MAX_SHARDS);
    assert!(ShardedCounter::new().shards() >= 2);
    assert!(ShardedCounter::default().shards().is_power_of_two());
}

#[test]
fn arithmetic_wraps_like_i64() {
    let c = ShardedCounter::with_shards(1);
    c.add(i64::MAX);
    c.inc();
    assert_eq!(c.sum(), i64::MIN);
    c.add(i64::MIN);
    assert_eq!(c.sum(), 0);
    c.add(i64::MIN);
    assert_eq!(c.take(), i64::MIN);
}

#[test]
fn threads_sharing_a_shard_use_the_shared_cell() {
    // One shard: the first thread owns it, the others fetch_add beside it.
    let c = ShardedCounter::with_shards(1);
    let n = if cfg!(miri) { 20 } else { 10_000 };
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| (0..n).for_each(|_| c.inc()));
        }
    });
    c.add(1);
    assert_eq!(c.sum(), 3 * n + 1);
    assert_eq!(c.take(), 3 * n + 1);
    assert_eq!(c.sum(), 0);
}

#[test]
fn debug_shows_sum_and_shards() {
    let c = ShardedCounter::with_shards(2);
    c.add(7);
    assert_eq!(format!("{c:?}"), "ShardedCounter { sum: 7, shards: 2 }");
}

#[test]
fn local_handles_count_on_owned_and_shared_shards() {
    // One shard: the first thread to touch it owns it, the others share it.
    let c = ShardedCounter::with_shards(1);
    let n = if cfg!(miri) { 20 } else { 10_000 };
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let local = c.local();
                for _ in 0..n {
                    local.inc();
                }
                local.add(5);
                local.dec();
            });
        }
    });
    assert_eq!(c.sum(), 3 * (n + 4));
    let local = c.local();
    local.add(-1);
    assert!(format!("{local:?}").starts_with("LocalCounter { owns_shard: "));
    assert_eq!(c.take(), 3 * (n + 4) - 1);
    assert_eq!(c.sum(), 0);
}
