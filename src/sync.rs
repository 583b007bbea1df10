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

/// Per-thread state of `ShardedCounter`'s shard slots (see `counter.rs`: what
/// the fields mean and who changes them). Only the owning thread touches it.
/// `ThreadSlot::hint` of a thread that has not taken a slot yet.
#[cfg(feature = "std")]
pub(crate) const NO_SLOT: usize = usize::MAX;

#[cfg(feature = "std")]
pub(crate) struct ThreadSlot {
    /// `s * counter::SHARD_BYTES`: the thread holds slot `s` (the byte offset of
    /// shard `s`); [`NO_SLOT`]: none taken yet; `counter::SHARING`: the thread
    /// shares from now on (slot given back at exit, or none was free). Both
    /// markers are beyond every counter's shard bytes, so the counter's fast
    /// path is one bounds check and an add to the shards' base, with no
    /// multiply or shift.
    pub(crate) hint: std::cell::Cell<usize>,
    /// Live `LocalCounter` handles of this thread that write its owned shard,
    /// until the exit hook moves the count to `counter::ORPHANS`.
    pub(crate) pins: std::cell::Cell<usize>,
    /// The thread's exit hook ran on this state (the slot went back, or went
    /// to `counter::ORPHANS` until its last pinning handle drops).
    pub(crate) exited: std::cell::Cell<bool>,
    /// loom: this thread's handle on the execution's slot bitmap (see
    /// `slot_words`).
    #[cfg(noclobber_loom)]
    words: std::cell::RefCell<Option<std::sync::Arc<[AtomicU64]>>>,
}

#[cfg(feature = "std")]
impl ThreadSlot {
    const fn new() -> Self {
        ThreadSlot {
            hint: std::cell::Cell::new(NO_SLOT),
            pins: std::cell::Cell::new(0),
            exited: std::cell::Cell::new(false),
            #[cfg(noclobber_loom)]
            words: std::cell::RefCell::new(None),
        }
    }
}

// std: the state is a `const` thread-local without `Drop`, so where std has
// native thread-locals (Linux, macOS, Windows MSVC) reading it is one TLS load
// (no lazy-init or destructor-state check) and it stays readable while the
// thread's other thread-local destructors run. Where it has not (the
// `*-pc-windows-gnu` targets; also OpenBSD and Android, untested), std frees it
// during the thread's destructors like any other and re-creates it fresh if
// used again: `counter::ORPHANS` says how the counter copes on Windows. A
// separate zero-sized thread-local with `Drop`, touched once when the thread
// takes a slot, registers the exit hook.
#[cfg(all(feature = "std", not(noclobber_loom)))]
std::thread_local! {
    static SLOT: ThreadSlot = const { ThreadSlot::new() };
    static EXIT_HOOK: ExitHook = const { ExitHook };
}

#[cfg(all(feature = "std", not(noclobber_loom)))]
struct ExitHook;

#[cfg(all(feature = "std", not(noclobber_loom)))]
impl Drop for ExitHook {
    fn drop(&mut self) {
        SLOT.with(crate::counter::thread_exit);
    }
}

/// The calling thread's `ThreadSlot::hint` (the counter's fast path).
#[cfg(all(feature = "std", not(noclobber_loom)))]
#[inline(always)]
pub(crate) fn slot_hint() -> usize {
    SLOT.with(|s| s.hint.get())
}

/// Runs `f` on the calling thread's state; `None` if it is gone (loom only:
/// during the thread's thread-local destructors).
#[cfg(all(feature = "std", not(noclobber_loom)))]
pub(crate) fn with_slot<R>(f: impl FnOnce(&ThreadSlot) -> R) -> Option<R> {
    Some(SLOT.with(f))
}

/// Makes sure `counter::thread_exit` runs when the calling thread exits;
/// `false` if that can no longer be arranged (its destructors already ran).
#[cfg(all(feature = "std", not(noclobber_loom)))]
pub(crate) fn register_thread_exit() -> bool {
    EXIT_HOOK.try_with(|_| ()).is_ok()
}

/// The slot bitmap: bit `s` set while a live thread holds slot `s`. One bit per
/// shard of the largest counter (`MAX_SHARDS`): a thread with a higher slot
/// could never own a shard anyway. (`_s`, the calling thread's state, is only
/// needed under loom.)
#[cfg(all(feature = "std", not(noclobber_loom)))]
pub(crate) fn slot_words(_s: &ThreadSlot) -> &'static [AtomicU64] {
    static WORDS: [AtomicU64; crate::counter::MAX_SHARDS / 64] =
        [const { AtomicU64::new(0) }; crate::counter::MAX_SHARDS / 64];
    &WORDS
}

// loom: thread-locals are lazily initialised, and a thread's values are all
// taken out before any of them is dropped, so the state carries the exit hook
// itself (a `LocalCounter` dropped after it finds no state and leaves the slot
// held: never the case in the models). Loom runs the hook after `join` has
// returned (its `JoinHandle` is notified when the closure returns), so the
// models see a slot given back concurrently with later threads: stricter than
// std, whose `join` waits for the destructors. The model's main thread runs its
// hook after loom dropped the lazy statics: each thread keeps its own handle
// on the bitmap.
#[cfg(noclobber_loom)]
struct LoomSlot(ThreadSlot);

#[cfg(noclobber_loom)]
impl Drop for LoomSlot {
    fn drop(&mut self) {
        // After a failed model loom drops the threads outside the model; the
        // bitmap is gone with the execution then.
        if !std::thread::panicking() {
            crate::counter::thread_exit(&self.0);
        }
    }
}

#[cfg(noclobber_loom)]
loom::thread_local! {
    static SLOT: LoomSlot = LoomSlot(ThreadSlot::new());
}

#[cfg(noclobber_loom)]
pub(crate) fn slot_hint() -> usize {
    SLOT.try_with(|s| s.0.hint.get()).unwrap_or(NO_SLOT)
}

#[cfg(noclobber_loom)]
pub(crate) fn with_slot<R>(f: impl FnOnce(&ThreadSlot) -> R) -> Option<R> {
    SLOT.try_with(|s| f(&s.0)).ok()
}

#[cfg(noclobber_loom)]
pub(crate) fn register_thread_exit() -> bool {
    true // the state's own `Drop` is the hook
}

/// One word (64 slots) per model execution: loom runs at most 5 threads.
#[cfg(noclobber_loom)]
pub(crate) fn slot_words(s: &ThreadSlot) -> std::sync::Arc<[AtomicU64]> {
    loom::lazy_static! {
        static ref WORDS: std::sync::Arc<[AtomicU64]> =
            std::sync::Arc::from(vec![AtomicU64::new(0)]);
    }
    s.words
        .borrow_mut()
        .get_or_insert_with(|| WORDS.clone())
        .clone()
}
