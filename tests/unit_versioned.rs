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
