//! Unit tests for `VersionedCell`, on both code paths: small `T` (one 128-bit
//! word) and large `T` (the tagged slot ring).

use bytemuck::NoUninit;
use noclobber::{Versioned, VersionedCell};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, NoUninit)]
#[repr(C)]
struct Account {
    id: u32,
    flags: u32,
    balance: u64,
}

/// Runs the same checks for a small and a large payload.
fn each_size(check: impl Fn(&dyn Fn(u64) -> Box<dyn Probe>)) {
    check(&|x| Box::new(VersionedCell::new(x as u8)) as Box<dyn Probe>);
    check(&|x| Box::new(VersionedCell::new(x)) as Box<dyn Probe>);
    check(&|x| Box::new(VersionedCell::new([x; 3])) as Box<dyn Probe>);
    check(&|x| Box::new(VersionedCell::new(acct(x))) as Box<dyn Probe>);
}

fn acct(x: u64) -> Account {
    Account {
        id: x as u32,
        flags: !(x as u32),
        balance: x,
    }
}

/// A type-erased view so one test body covers every payload size.
trait Probe {
    fn load(&self) -> (u64, u64);
    fn cas(&self, expected: u64, new: u64) -> Result<u64, (u64, u64)>;
    fn add(&self, d: u64) -> (u64, u64);
    fn store(&self, x: u64) -> u64;
    /// `swap`: the replaced `(value, version)`.
    fn swap(&self, x: u64) -> (u64, u64);
    /// `fetch_update` adding `d` while the value is below `limit`: the previous
    /// `(value, version)`, or the declined current one.
    fn fetch_add_below(&self, d: u64, limit: u64) -> Result<(u64, u64), (u64, u64)>;
    /// `try_load` and `load_timeout`, unwrapped.
    fn bounded(&self) -> [(u64, u64); 2];
}

macro_rules! probe {
    ($t:ty, |$x:ident| $enc:expr, |$v:ident| $dec:expr) => {
        impl Probe for VersionedCell<$t> {
            fn load(&self) -> (u64, u64) {
                let Versioned { value: $v, version } = VersionedCell::load(self);
                ($dec, version)
            }
            fn cas(&self, expected: u64, $x: u64) -> Result<u64, (u64, u64)> {
                self.compare_exchange(expected, $enc)
                    .map_err(|Versioned { value: $v, version }| ($dec, version))
            }
            fn add(&self, d: u64) -> (u64, u64) {
                let Versioned { value: $v, version } = self.update(|$v| {
                    let $x = $dec + d;
                    $enc
                });
                ($dec, version)
            }
            fn store(&self, $x: u64) -> u64 {
                VersionedCell::store(self, $enc)
            }
            fn bounded(&self) -> [(u64, u64); 2] {
                let timeout = std::time::Duration::from_secs(1);
                [self.try_load(), self.load_timeout(timeout)].map(|r| {
                    let Versioned { value: $v, version } = r.unwrap();
                    ($dec, version)
                })
            }
            fn swap(&self, $x: u64) -> (u64, u64) {
                let Versioned { value: $v, version } = VersionedCell::swap(self, $enc);
                ($dec, version)
            }
            fn fetch_add_below(&self, d: u64, limit: u64) -> Result<(u64, u64), (u64, u64)> {
                self.fetch_update(|$v| {
                    let $x = $dec;
                    ($x < limit).then(|| {
                        let $x = $x + d;
                        $enc
                    })
                })
                .map(|Versioned { value: $v, version }| ($dec, version))
                .map_err(|Versioned { value: $v, version }| ($dec, version))
            }
        }
    };
}
probe!(u8, |x| x as u8, |v| u64::from(v));
probe!(u64, |x| x, |v| v);
probe!([u64; 3], |x| [x; 3], |v| {
    assert!(v.iter().all(|&w| w == v[0]));
    v[0]
});
probe!(Account, |x| acct(x), |v| {
    assert_eq!(v, acct(v.balance));
    v.balance
});

#[test]
fn new_starts_at_version_zero() {
    each_size(|make| assert_eq!(make(7).load(), (7, 0)));
}

#[test]
fn compare_exchange_succeeds_on_matching_version_only() {
    each_size(|make| {
        let c = make(1);
        assert_eq!(c.cas(0, 2), Ok(1));
        assert_eq!(c.cas(0, 3), Err((2, 1)), "stale version must be refused");
        assert_eq!(c.cas(5, 3), Err((2, 1)), "future version must be refused");
        assert_eq!(c.cas(1, 3), Ok(2));
        assert_eq!(c.load(), (3, 2));
    });
}

#[test]
fn update_and_store_bump_version_by_one() {
    each_size(|make| {
        let c = make(10);
        assert_eq!(c.add(5), (15, 1));
        assert_eq!(c.store(3), 2);
        assert_eq!(c.add(1), (4, 3));
        assert_eq!(c.load(), (4, 3));
    });
}

#[test]
fn swap_returns_the_replaced_value_and_its_version() {
    each_size(|make| {
        let c = make(1);
        assert_eq!(c.swap(2), (1, 0));
        assert_eq!(c.load(), (2, 1));
        assert_eq!(c.swap(3), (2, 1));
        assert_eq!(c.cas(2, 4), Ok(3), "a swap is one write: version + 1");
        // Through the whole ring (large path) and back.
        for i in 0..20u64 {
            assert_eq!(c.swap(100 + i), (if i == 0 { 4 } else { 99 + i }, 3 + i));
        }
        assert_eq!(c.load(), (119, 23));
    });
}

#[test]
fn fetch_update_returns_the_previous_value_or_the_declined_one() {
    each_size(|make| {
        let c = make(5);
        assert_eq!(c.fetch_add_below(2, 10), Ok((5, 0)));
        assert_eq!(c.load(), (7, 1));
        assert_eq!(c.fetch_add_below(2, 10), Ok((7, 1)));
        assert_eq!(c.fetch_add_below(2, 10), Ok((9, 2)));
        // 11 is not below 10: declined, nothing written.
        assert_eq!(c.fetch_add_below(2, 10), Err((11, 3)));
        assert_eq!(c.load(), (11, 3));
        assert_eq!(c.add(0), (11, 4));
        for i in 0..20u64 {
            assert_eq!(c.fetch_add_below(1, u64::MAX), Ok((11 + i, 4 + i)));
        }
        assert_eq!(c.load(), (31, 24));
    });
}

#[test]
fn fetch_update_retries_with_the_value_it_lost_to() {
    // The closure runs again with what a racing write left, and the previous
    // value returned is the one the committed write replaced.
    for large in [false, true] {
        let small = VersionedCell::new(0u64);
        let big = VersionedCell::new([0u64; 3]);
        let mut calls = Vec::new();
        let previous = if large {
            big.fetch_update(|v| {
                calls.push(v[0]);
                if calls.len() == 1 {
                    big.store([50; 3]); // a write in between: the first try fails
                }
                Some([v[0] + 1; 3])
            })
            .map(|p| (p.value[0], p.version))
            .ok()
        } else {
            small
                .fetch_update(|v| {
                    calls.push(v);
                    if calls.len() == 1 {
                        small.store(50);
                    }
                    Some(v + 1)
                })
                .map(|p| (p.value, p.version))
                .ok()
        };
        assert_eq!(calls, [0, 50], "large = {large}");
        assert_eq!(previous, Some((50, 1)), "large = {large}");
        let now = if large {
            let v = big.load();
            (v.value[0], v.version)
        } else {
            let v = small.load();
            (v.value, v.version)
        };
        assert_eq!(now, (51, 2), "large = {large}");
    }
}

// `const_new` is an ordinary fn under loom (loom atomics are not const).
#[cfg(not(noclobber_loom))]
#[test]
fn const_new_static_cell() {
    static NEXT: VersionedCell<u64> = VersionedCell::const_new(10);
    static UNIT: VersionedCell<()> = VersionedCell::const_new(());
    static BYTES: VersionedCell<[u8; 8]> = VersionedCell::const_new(*b"noclobbr");
    assert_eq!(
        NEXT.swap(11),
        Versioned {
            value: 10,
            version: 0
        }
    );
    assert_eq!(
        NEXT.load(),
        Versioned {
            value: 11,
            version: 1
        }
    );
    assert_eq!(UNIT.store(()), 1);
    assert_eq!(BYTES.load().value, *b"noclobbr");
    // Same state as `new`.
    for x in [0u64, 1, u64::MAX, 0x0102_0304_0506_0708] {
        assert_eq!(
            VersionedCell::const_new(x).load(),
            VersionedCell::new(x).load()
        );
        let (a, b) = (
            VersionedCell::const_new(x as u8),
            VersionedCell::new(x as u8),
        );
        assert_eq!(a.load(), b.load());
        assert_eq!(a.swap(1), b.swap(1));
    }
}

#[test]
fn versioned_from_and_into_a_tuple() {
    let v = Versioned::from(([1u8, 2], 9));
    assert_eq!(
        v,
        Versioned {
            value: [1, 2],
            version: 9
        }
    );
    let (value, version): ([u8; 2], u64) = v.into();
    assert_eq!((value, version), ([1, 2], 9));
}

#[test]
fn many_writes_cycle_through_the_ring() {
    // More writes than the large path has slots, interleaved with refused CASes.
    each_size(|make| {
        let c = make(0);
        for i in 0..100u64 {
            assert_eq!(c.cas(i, i + 1), Ok(i + 1));
            assert_eq!(c.cas(i, 0), Err((i + 1, i + 1)));
        }
        assert_eq!(c.load(), (100, 100));
    });
}

#[test]
fn try_update_declines_without_writing() {
    let c = VersionedCell::new([5u64; 2]);
    let r = c.try_update(|v| (v[0] > 10).then_some([0; 2]));
    assert_eq!(
        r,
        Err(Versioned {
            value: [5; 2],
            version: 0
        })
    );
    assert_eq!(c.version(), 0);
    let r = c.try_update(|v| Some([v[0] * 2; 2]));
    assert_eq!(
        r,
        Ok(Versioned {
            value: [10; 2],
            version: 1
        })
    );

    let small = VersionedCell::new(1u32);
    assert_eq!(small.try_update(|_| None).unwrap_err().version, 0);
    assert_eq!(
        small.try_update(|v| v.checked_sub(1)),
        Ok(Versioned {
            value: 0,
            version: 1
        })
    );
    assert_eq!(
        small.try_update(|v| v.checked_sub(1)),
        Err(Versioned {
            value: 0,
            version: 1
        })
    );
}

#[test]
fn version_into_inner_default_debug_from() {
    let c = VersionedCell::new(Account::default());
    c.store(acct(9));
    assert_eq!(c.version(), 1);
    assert_eq!(
        format!("{c:?}"),
        "VersionedCell { value: Account { id: 9, flags: 4294967286, balance: 9 }, version: 1 }"
    );
    assert_eq!(c.into_inner(), acct(9));
    assert_eq!(
        VersionedCell::<u16>::default().load(),
        Versioned {
            value: 0,
            version: 0
        }
    );
    assert_eq!(VersionedCell::from(3i8).into_inner(), 3);
}

#[test]
fn zero_sized_and_odd_sized_payloads() {
    let unit = VersionedCell::new(());
    assert_eq!(unit.store(()), 1);
    assert_eq!(unit.load().version, 1);
    let odd = VersionedCell::new([1u8; 13]);
    odd.update(|mut v| {
        v[12] = 2;
        v
    });
    let mut want = [1u8; 13];
    want[12] = 2;
    assert_eq!(odd.into_inner(), want);
    // `bool` is NoUninit (not Pod): only whole, valid values may come back out.
    #[derive(Clone, Copy, Debug, PartialEq, NoUninit)]
    #[repr(C)]
    struct Flags(bool, bool, bool);
    let bools = VersionedCell::new(Flags(true, false, true));
    bools.store(Flags(false, true, false));
    assert_eq!(bools.load().value, Flags(false, true, false));
}

#[test]
fn over_aligned_payload() {
    #[derive(Clone, Copy, Debug, PartialEq, NoUninit)]
    #[repr(C, align(32))]
    struct Wide([u64; 4]);
    let c = VersionedCell::new(Wide([1, 2, 3, 4]));
    c.update(|Wide(w)| Wide(w.map(|x| x * 10)));
    assert_eq!(c.into_inner(), Wide([10, 20, 30, 40]));
}

#[test]
#[cfg(target_arch = "x86_64")]
fn lock_free_on_x86_64() {
    assert!(VersionedCell::<u64>::is_lock_free());
}

/// AArch64 has a native 128-bit CAS (`casp`, or `ldxp`/`stxp`); 32-bit x86
/// has none, so portable-atomic falls back to a lock and the types say so
/// (the i686 CI stage runs this).
#[test]
#[cfg(any(target_arch = "aarch64", target_arch = "x86"))]
fn lock_free_only_with_a_native_128_bit_cas() {
    let native = cfg!(target_arch = "aarch64");
    assert_eq!(VersionedCell::<u64>::is_lock_free(), native);
    assert_eq!(noclobber::Publisher::<u64, 2>::is_lock_free(), native);
}

/// #12: seven writers blocked inside their `update` closures (the ring path has
/// 8 slots) must not keep an eighth writer from publishing. Each of the seven
/// loses its first commit race (the main thread publishes while they are in
/// the closure), so the closure runs again; an `update` that kept its staged
/// claim across that second call would hold all 7 free slots and wedge every
/// other writer until one of the closures returned.
#[test]
fn writers_blocked_in_closures_never_wedge_another_writer() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};

    const BLOCKED: usize = 7;
    let limit = Duration::from_secs(if cfg!(miri) { 600 } else { 10 });
    let cell = Arc::new(VersionedCell::new([0u64; 4]));
    let (in_first, go) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let (in_second, release) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let wait_for = |cond: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !cond() {
            assert!(start.elapsed() < limit, "a writer never got there");
            std::thread::yield_now();
        }
    };
    let blocked: Vec<_> = (0..BLOCKED)
        .map(|_| {
            let (cell, in_first, go) = (cell.clone(), in_first.clone(), go.clone());
            let (in_second, release) = (in_second.clone(), release.clone());
            std::thread::spawn(move || {
                let mut calls = 0;
                cell.update(|v| {
                    calls += 1;
                    if calls == 1 {
                        in_first.fetch_add(1, SeqCst);
                        while !go.load(SeqCst) {
                            std::thread::yield_now();
                        }
                    } else if calls == 2 {
                        in_second.fetch_add(1, SeqCst);
                        while !release.load(SeqCst) {
                            std::thread::yield_now();
                        }
                    }
                    v.map(|w| w + 1)
                });
                calls
            })
        })
        .collect();
    wait_for(&|| in_first.load(SeqCst) == BLOCKED);
    // Every blocked writer read version 0: this makes all their commits fail.
    assert_eq!(cell.store([100; 4]), 1);
    go.store(true, SeqCst);
    wait_for(&|| in_second.load(SeqCst) == BLOCKED);
    // All seven are inside their second closure call: another writer must
    // still publish. A detached thread, so that a wedged store fails the test
    // (after `release` below lets the closures return) instead of hanging it.
    let (done, published) = mpsc::channel();
    let writer = {
        let cell = cell.clone();
        std::thread::spawn(move || done.send(cell.store([200; 4])).unwrap())
    };
    let outcome = published.recv_timeout(limit);
    release.store(true, SeqCst);
    for t in blocked {
        assert!(t.join().unwrap() >= 2);
    }
    writer.join().unwrap();
    assert_eq!(
        outcome,
        Ok(2),
        "a writer was wedged by writers blocked in closures"
    );
    // The seven updates all landed after it, none lost.
    assert_eq!(
        cell.load(),
        Versioned {
            value: [207; 4],
            version: 9
        }
    );
}

/// #12: the bounded loads agree with `load` on both paths when nobody writes.
#[test]
fn bounded_loads_agree_with_load() {
    use std::time::Duration;
    each_size(|make| {
        let cell = make(5);
        assert_eq!(cell.store(6), 1);
        assert_eq!(cell.bounded(), [(6, 1); 2]);
    });
    let large = VersionedCell::new([1u64; 4]);
    large.store([2; 4]);
    assert_eq!(large.try_load(), Ok(large.load()));
    assert_eq!(large.load_timeout(Duration::ZERO), Ok(large.load()));
    assert_eq!(
        format!("{large:?}"),
        "VersionedCell { value: [2, 2, 2, 2], version: 1 }"
    );
}
