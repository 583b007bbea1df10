//! The process-wide slot registry behind [`ShardedCounter`](super::ShardedCounter):
//! which live thread holds which slot (see the parent module's docs), the
//! calling thread's hint, and the exit hook that gives a slot back.

use crate::sync::{AtomicU64, Ordering};

#[cfg(not(noclobber_loom))]
use super::MAX_SHARDS;
use super::{SHARD_BYTES, SHARING};

/// `ThreadSlot::hint` of a thread that has not taken a slot yet.
pub(super) const NO_SLOT: usize = usize::MAX;

/// Per-thread state of the shard slots (see the parent module: what the
/// fields mean and who changes them). Only the owning thread touches it.
pub(super) struct ThreadSlot {
    /// `s * SHARD_BYTES`: the thread holds slot `s` (the byte offset of
    /// shard `s`); [`NO_SLOT`]: none taken yet; [`SHARING`]: the thread
    /// shares from now on (slot given back at exit, or none was free). Both
    /// markers are beyond every counter's shard bytes, so the counter's fast
    /// path is one bounds check and an add to the shards' base, with no
    /// multiply or shift.
    pub(super) hint: std::cell::Cell<usize>,
    /// Live `LocalCounter` handles of this thread that write its owned shard,
    /// until the exit hook moves the count to `ORPHANS`.
    pub(super) pins: std::cell::Cell<usize>,
    /// The thread's exit hook ran on this state (the slot went back, or went
    /// to `ORPHANS` until its last pinning handle drops).
    pub(super) exited: std::cell::Cell<bool>,
    /// loom: this thread's handle on the execution's slot bitmap (see
    /// `slot_words`).
    #[cfg(noclobber_loom)]
    words: std::cell::RefCell<Option<std::sync::Arc<[AtomicU64]>>>,
}

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
// used again: `ORPHANS` says how the counter copes. A separate zero-sized
// thread-local with `Drop`, touched once when the thread takes a slot,
// registers the exit hook.
#[cfg(not(noclobber_loom))]
std::thread_local! {
    static SLOT: ThreadSlot = const { ThreadSlot::new() };
    static EXIT_HOOK: ExitHook = const { ExitHook };
}

#[cfg(not(noclobber_loom))]
struct ExitHook;

#[cfg(not(noclobber_loom))]
impl Drop for ExitHook {
    fn drop(&mut self) {
        SLOT.with(thread_exit);
    }
}

/// The calling thread's `ThreadSlot::hint` (the counter's fast path).
#[cfg(not(noclobber_loom))]
#[inline(always)]
pub(super) fn slot_hint() -> usize {
    SLOT.with(|s| s.hint.get())
}

/// Runs `f` on the calling thread's state; `None` if it is gone (loom only:
/// during the thread's thread-local destructors).
#[cfg(not(noclobber_loom))]
pub(super) fn with_slot<R>(f: impl FnOnce(&ThreadSlot) -> R) -> Option<R> {
    Some(SLOT.with(f))
}

/// Makes sure `counter::thread_exit` runs when the calling thread exits;
/// `false` if that can no longer be arranged (its destructors already ran).
#[cfg(not(noclobber_loom))]
pub(super) fn register_thread_exit() -> bool {
    EXIT_HOOK.try_with(|_| ()).is_ok()
}

/// The slot bitmap: bit `s` set while a live thread holds slot `s`. One bit per
/// shard of the largest counter (`MAX_SHARDS`): a thread with a higher slot
/// could never own a shard anyway. (`_s`, the calling thread's state, is only
/// needed under loom.)
#[cfg(not(noclobber_loom))]
pub(super) fn slot_words(_s: &ThreadSlot) -> &'static [AtomicU64] {
    static WORDS: [AtomicU64; MAX_SHARDS / 64] = [const { AtomicU64::new(0) }; MAX_SHARDS / 64];
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
            thread_exit(&self.0);
        }
    }
}

#[cfg(noclobber_loom)]
loom::thread_local! {
    static SLOT: LoomSlot = LoomSlot(ThreadSlot::new());
}

#[cfg(noclobber_loom)]
pub(super) fn slot_hint() -> usize {
    SLOT.try_with(|s| s.0.hint.get()).unwrap_or(NO_SLOT)
}

#[cfg(noclobber_loom)]
pub(super) fn with_slot<R>(f: impl FnOnce(&ThreadSlot) -> R) -> Option<R> {
    SLOT.try_with(|s| f(&s.0)).ok()
}

#[cfg(noclobber_loom)]
pub(super) fn register_thread_exit() -> bool {
    true // the state's own `Drop` is the hook
}

/// One word (64 slots) per model execution: loom runs at most 5 threads.
#[cfg(noclobber_loom)]
pub(super) fn slot_words(s: &ThreadSlot) -> std::sync::Arc<[AtomicU64]> {
    loom::lazy_static! {
        static ref WORDS: std::sync::Arc<[AtomicU64]> =
            std::sync::Arc::from(vec![AtomicU64::new(0)]);
    }
    s.words
        .borrow_mut()
        .get_or_insert_with(|| WORDS.clone())
        .clone()
}

/// The calling thread's slot, taken on first use; `None` if it has none (all
/// taken, or already given back at its exit).
pub(super) fn slot_of_this_thread() -> Option<usize> {
    with_slot(|s| match s.hint.get() {
        NO_SLOT => {
            // Never take a slot that could not be given back at exit.
            let slot = if !s.exited.get() && register_thread_exit() {
                acquire_slot(s)
            } else {
                None
            };
            // No overflow: `slot < MAX_SHARDS` (asserted with `SHARING`).
            s.hint.set(slot.map_or(SHARING, |slot| slot * SHARD_BYTES));
            slot
        }
        SHARING => None,
        offset => Some(offset / SHARD_BYTES),
    })
    .flatten()
}

/// Sets the lowest clear bit of the slot bitmap; `None` if all are set.
fn acquire_slot(s: &ThreadSlot) -> Option<usize> {
    for (w, word) in slot_words(s).iter().enumerate() {
        // Relaxed: only a guess at which bit is clear; the RMW decides.
        let mut bits = word.load(Ordering::Relaxed);
        while bits != u64::MAX {
            let bit = 1u64 << (!bits).trailing_zeros();
            // Acquire: pairs with the Release `fetch_and` in `release_slot` of
            // the slot's previous holder, so its last stores to the totals of
            // the shards it owned happen before our first loads of them.
            let before = word.fetch_or(bit, Ordering::Acquire);
            if before & bit == 0 {
                return Some(w * 64 + bit.trailing_zeros() as usize);
            }
            bits = before;
        }
    }
    None
}

/// Clears the slot's bit: the next thread to take it owns its shards.
fn release_slot(s: &ThreadSlot, slot: usize) {
    let bit = 1u64 << (slot % 64);
    // Release: pairs with the Acquire `fetch_or` in `acquire_slot` (see there).
    slot_words(s)[slot / 64].fetch_and(!bit, Ordering::Release);
}

/// Gives the thread's slot back (at most once) and makes it share from now on.
pub(super) fn give_back(s: &ThreadSlot) {
    let hint = s.hint.replace(SHARING);
    if hint != NO_SLOT && hint != SHARING {
        release_slot(s, hint / SHARD_BYTES);
    }
}

/// The calling thread's exit hook (a thread-local destructor, `ExitHook` or
/// loom's `LoomSlot`): the slot goes back now, or when the last pinning
/// `LocalCounter` drops.
fn thread_exit(s: &ThreadSlot) {
    s.exited.set(true);
    let pins = s.pins.replace(0);
    if pins == 0 {
        give_back(s);
        return;
    }
    // The pins go to `ORPHANS`, not left in `s`: the handles may drop after
    // `s` itself is freed (see `ORPHANS`). Only an `Owned` handle pins, and
    // only while the hint names the slot, so the hint is the slot's offset.
    let hint = s.hint.replace(SHARING);
    debug_assert!(hint != NO_SLOT && hint != SHARING);
    orphans().push((hint / SHARD_BYTES, pins));
}

/// Slots whose thread's exit hook ran while `LocalCounter`s (kept in other
/// thread-locals) still pinned them, each with its number of live pins; the
/// last pin to drop gives the slot back (`unpin`).
///
/// The count cannot stay in the exited thread's `ThreadSlot`: where std has
/// no native thread-locals (`x86_64-pc-windows-gnu`, `i686-pc-windows-gnu`)
/// it keeps each one, `const` and `Drop`-less ones included, in a heap box
/// under an OS TLS key, frees them all at thread exit key by key (newest key
/// of the process first) and re-creates one that is used again afterwards
/// with its initial value. The exit hook's key is newer than the state's
/// (first used inside `with_slot`), so the hook sees the state; but a
/// thread-local first used before the state is freed after it, and a handle
/// dropping there finds a fresh state (no slot, no pins).
///
/// std's `Mutex`, not `sync::Mutex`: loom does not model this table (its
/// models never keep a handle past its thread's exit hook, so it stays empty
/// there).
static ORPHANS: std::sync::Mutex<Vec<(usize, usize)>> = std::sync::Mutex::new(Vec::new());

fn orphans() -> std::sync::MutexGuard<'static, Vec<(usize, usize)>> {
    ORPHANS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Drops one pin of `slot` from `ORPHANS`; `true` if it was the last (the
/// caller gives the slot back). `false` as well if `slot` is not there: its
/// thread's state was freed before the exit hook ran (not std's order today),
/// so the slot stays held, like one pinned by a leaked handle.
fn unpin_orphan(slot: usize) -> bool {
    let mut orphans = orphans();
    let Some(i) = orphans.iter().position(|&(s, _)| s == slot) else {
        return false;
    };
    orphans[i].1 -= 1;
    if orphans[i].1 > 0 {
        return false;
    }
    orphans.swap_remove(i);
    true
}

/// Pins the calling thread's owned slot for a `LocalCounter`: it stays the
/// thread's (or, after the exit hook, in `ORPHANS`) until `unpin`. The slot
/// pinned; `None` if the thread has no state (loom, during its destructors).
pub(super) fn pin() -> Option<usize> {
    with_slot(|s| {
        s.pins.set(s.pins.get() + 1);
        s.hint.get() / SHARD_BYTES
    })
}

/// Drops a pin that `pin` returned `slot` for, giving the slot back if the
/// thread has exited and this was its last pin.
pub(super) fn unpin(slot: usize) {
    with_slot(|s| {
        if s.hint.get() == slot * SHARD_BYTES {
            // The exit hook has not run (it makes the hint `SHARING`; a fresh
            // state cannot hold the slot, which stays taken while pinned): the
            // pin is counted in the thread's state.
            s.pins.set(s.pins.get() - 1);
        } else if unpin_orphan(slot) {
            // The hook moved the pins to `ORPHANS`; `s` may be a fresh state
            // (see there), which `release_slot` does not read outside loom.
            release_slot(s, slot);
        }
    });
}
