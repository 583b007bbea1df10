//! The one place that chooses between `core` atomics and loom's model of them.
//!
//! Every other module imports its atomics, fences, spin hints and thread-local
//! helpers from here, so `RUSTFLAGS="--cfg noclobber_loom"` swaps the whole crate
//! onto loom without touching any algorithm.

#[cfg(not(noclobber_loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(noclobber_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(not(noclobber_loom))]
pub(crate) use alloc::sync::Arc;
#[cfg(noclobber_loom)]
pub(crate) use loom::sync::Arc;

#[cfg(all(feature = "std", not(noclobber_loom)))]
pub(crate) use core::sync::atomic::AtomicI64;
#[cfg(all(feature = "std", noclobber_loom))]
pub(crate) use loom::sync::atomic::AtomicI64;
#[cfg(all(feature = "std", noclobber_loom))]
pub(crate) use loom::sync::Mutex;
#[cfg(all(feature = "std", not(noclobber_loom)))]
pub(crate) use std::sync::Mutex;

#[cfg(noclobber_loom)]
pub(crate) use self::loom128::AtomicU128;
#[cfg(not(noclobber_loom))]
pub(crate) use portable_atomic::AtomicU128;

/// Waits politely inside a retry loop.
///
/// With std this is crossbeam's exponential `Backoff`; under loom every wait must
/// yield to the model's scheduler, or a spin loop would explore forever.
pub(crate) struct Spin {
    #[cfg(not(noclobber_loom))]
    backoff: crossbeam_utils::Backoff,
}

impl Spin {
    #[inline]
    pub(crate) fn new() -> Self {
        Spin {
            #[cfg(not(noclobber_loom))]
            backoff: crossbeam_utils::Backoff::new(),
        }
    }

    /// Back off after a lost race (a failed CAS): the other thread made progress.
    #[inline]
    pub(crate) fn spin(&self) {
        #[cfg(not(noclobber_loom))]
        self.backoff.spin();
        #[cfg(noclobber_loom)]
        loom::thread::yield_now();
    }

    /// Wait for another thread to finish something (an odd sequence).
    #[inline]
    pub(crate) fn snooze(&self) {
        #[cfg(not(noclobber_loom))]
        self.backoff.snooze();
        #[cfg(noclobber_loom)]
        loom::thread::yield_now();
    }

    /// [`snooze`](Self::snooze) while backing off is still short (crossbeam's
    /// `is_completed`: a few dozen microseconds in all); `false`, without
    /// waiting, once the caller should block instead. Under loom it always
    /// yields and returns `true`: the model has no timed sleep to fall back
    /// to.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn snooze_more(&self) -> bool {
        #[cfg(not(noclobber_loom))]
        if self.backoff.is_completed() {
            return false;
        }
        self.snooze();
        true
    }
}

/// Loom has no 128-bit atomic. The model stands in a `loom::sync::Mutex<u128>`:
/// every operation is one critical section, which is a correct (if stronger than
/// needed) model of a lock-free 128-bit atomic. Orderings on 128-bit accesses are
/// therefore not weakened by loom; Miri checks them instead (see README).
#[cfg(noclobber_loom)]
mod loom128 {
    use super::Ordering;

    #[derive(Debug)]
    pub(crate) struct AtomicU128(loom::sync::Mutex<u128>);

    impl AtomicU128 {
        pub(crate) fn new(v: u128) -> Self {
            AtomicU128(loom::sync::Mutex::new(v))
        }
        pub(crate) fn load(&self, _: Ordering) -> u128 {
            *self.0.lock().unwrap()
        }
        pub(crate) fn store(&self, v: u128, _: Ordering) {
            *self.0.lock().unwrap() = v;
        }
        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            _: Ordering,
            _: Ordering,
        ) -> Result<u128, u128> {
            let mut guard = self.0.lock().unwrap();
            if *guard == current {
                *guard = new;
                Ok(current)
            } else {
                Err(*guard)
            }
        }
        pub(crate) fn compare_exchange_weak(
            &self,
            current: u128,
            new: u128,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u128, u128> {
            self.compare_exchange(current, new, success, failure)
        }
        pub(crate) fn is_lock_free() -> bool {
            true
        }
    }
}
