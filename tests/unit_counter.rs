//! Unit tests for `ShardedCounter`.

use noclobber::counter::MAX_SHARDS;
use noclobber::ShardedCounter;

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

/// Threads started and exited one after the other, each adding through the
/// counter and through a handle (issue 14).
fn churn(c: &ShardedCounter, threads: i64) {
    for i in 0..threads {
        std::thread::scope(|s| {
            s.spawn(|| {
                c.add(i);
                let local = c.local();
                local.add(2 * i);
                local.dec();
            })
            .join()
            .unwrap();
        });
    }
}

#[test]
fn exited_threads_give_their_shards_back() {
    // 64 shards: far more than the live threads of this test binary, so every
    // thread that starts after the churn finds a free shard of its own.
    let c = ShardedCounter::with_shards(64);
    let n = if cfg!(miri) { 4 } else { 1000 };
    churn(&c, n);
    assert_eq!(c.sum(), 3 * n * (n - 1) / 2 - n);
    std::thread::scope(|s| {
        s.spawn(|| {
            let local = c.local();
            assert_eq!(format!("{local:?}"), "LocalCounter { owns_shard: true }");
            local.inc();
        })
        .join()
        .unwrap();
    });
    assert_eq!(c.take(), 3 * n * (n - 1) / 2 - n + 1);
    assert_eq!(c.sum(), 0);
}

#[test]
fn a_shard_keeps_its_count_across_owners() {
    // One shard: whichever thread holds the lowest slot owns it; the rest share.
    // Sequential owners must hand the count on exactly, takes in between.
    let c = ShardedCounter::with_shards(1);
    let mut taken = 0;
    for i in 0..if cfg!(miri) { 4 } else { 200 } {
        std::thread::scope(|s| {
            s.spawn(|| {
                c.add(5);
                c.add(-3);
            })
            .join()
            .unwrap();
        });
        if i % 3 == 0 {
            taken += c.take();
        }
    }
    let n = if cfg!(miri) { 4 } else { 200 };
    assert_eq!(taken + c.sum(), 2 * n);
}

#[test]
fn negative_takes_are_exact() {
    let c = ShardedCounter::with_shards(2);
    c.add(7);
    assert_eq!(c.take(), 7);
    c.add(-7);
    assert_eq!(c.take(), -7);
    assert_eq!(c.take(), 0);
    assert_eq!(c.sum(), 0);
}

/// A handle kept in a thread-local whose destructor still adds: the slot must
/// stay held until that handle is gone (else a new owner could race with it).
#[test]
fn a_handle_in_a_thread_local_keeps_the_slot_until_it_drops() {
    use noclobber::counter::LocalCounter;
    use std::cell::RefCell;

    static C: std::sync::OnceLock<ShardedCounter> = std::sync::OnceLock::new();
    struct AddOnDrop(LocalCounter<'static>);
    impl Drop for AddOnDrop {
        fn drop(&mut self) {
            self.0.add(5);
            // The thread is exiting: adds through the counter still count.
            C.get().unwrap().add(1);
        }
    }
    std::thread_local! {
        static HANDLE: RefCell<Option<AddOnDrop>> = const { RefCell::new(None) };
    }
    let c = C.get_or_init(|| ShardedCounter::with_shards(64));
    let n = if cfg!(miri) { 3 } else { 100 };
    for _ in 0..n {
        std::thread::spawn(move || {
            // Registered first, so it is destroyed after the exit hook ran.
            HANDLE.with(|_| ());
            c.inc();
            HANDLE.with(|h| *h.borrow_mut() = Some(AddOnDrop(c.local())));
        })
        .join()
        .unwrap();
    }
    assert_eq!(c.sum(), 7 * n);
    std::thread::spawn(move || {
        assert_eq!(
            format!("{:?}", c.local()),
            "LocalCounter { owns_shard: true }"
        );
    })
    .join()
    .unwrap();
}
