//! [`ShardedCounter`]: per-thread padded shards summed on read (LongAdder style).
//!
//! # Slots: who owns which shard
//!
//! Every thread that uses a counter takes a process-wide **slot**: the lowest
//! free bit of a bitmap (`sync::slot_words`), set with an Acquire `fetch_or`.
//! A thread holds its slot until it exits: a thread-local destructor clears the
//! bit with a Release `fetch_and`. So no two live threads ever hold one slot,
//! and a slot freed by an exited thread is the first one a new thread gets.
//!
//! In a counter with `n` shards, the thread with slot `s < n` **owns** shard `s`
//! (in every counter at once): it is the only thread writing that shard's
//! `total`, with a Relaxed load and store. Threads with `s >= n` (more live
//! threads than shards) `fetch_add` into the shard's separate `shared` cell, so
//! they never touch the owner's cache line on an add. There is no owner word to
//! check: the fast path is one thread-local load, one bounds check, the load and
//! the store. The thread-local hint holds the slot as a byte offset
//! (`slot * SHARD_BYTES`), so the owned shard's address is the shards' base plus
//! the hint, with no multiply or shift on the path.
//!
//! Hand-over: the exiting owner's last store to `total` is sequenced before its
//! Release `fetch_and`; the next thread's Acquire `fetch_or` reads that (or a
//! later) bitmap value, so its first load of `total` sees the last value the
//! previous owner stored, and the count stays in the shard. A slot is a plain
//! number whose reuse is the point, not a token compared by CAS, so there is no
//! ABA: the bitmap bit, not a stale copy of a number, decides who may write.
//! Slots never wrap (at most `MAX_SHARDS`; a thread finding none shares).
//!
//! A `LocalCounter` that writes an owned shard pins the slot: if the thread's
//! exit hook runs while such a handle lives (a handle kept in another
//! thread-local), the last handle's drop gives the slot back instead.

use alloc::boxed::Box;
use core::fmt;
use core::marker::PhantomData;
use std::sync::PoisonError;

use crossbeam_utils::CachePadded;

use crate::sync::{self, AtomicI64, Mutex, Ordering, ThreadSlot};

/// Upper bound for [`ShardedCounter::with_shards`].
///
/// ```
/// let c = noclobber::ShardedCounter::with_shards(usize::MAX);
/// assert_eq!(c.shards(), noclobber::MAX_SHARDS);
/// ```
pub const MAX_SHARDS: usize = 1 << 16;

/// Bytes from one shard to the next: a thread holding slot `s` has
/// `ThreadSlot::hint == s * SHARD_BYTES`, the offset of shard `s` in every
/// counter's shard array.
const SHARD_BYTES: usize = core::mem::size_of::<Shard>();

/// `ThreadSlot::hint` of a thread that shares from now on (no slot, or its slot
/// already given back at exit). Like `sync::NO_SLOT`, beyond every offset a
/// counter's fast path accepts (`ShardedCounter::bytes`).
const SHARING: usize = usize::MAX - 1;
const _: () = assert!(SHARING > MAX_SHARDS * SHARD_BYTES && sync::NO_SLOT > SHARING);

/// A counter that many threads increment at nearly the speed of an
/// uncontended, unshared increment.
///
/// Each thread that uses a counter holds a process-wide slot (the lowest one
/// free when it first used one) until it exits; with `n` shards, the threads
/// holding slots `0..n` each **own** one shard, on its own cache line, and
/// update it with a plain `Relaxed` load and store (no locked instruction, no
/// contention). When a thread exits, its slot and its shards (with their counts)
/// pass to the next thread that needs one, so thread churn never wears the
/// counter out. With more live threads than shards, the others add into the
/// shards' separate shared cells with `fetch_add`.
///
/// * [`sum`](Self::sum) adds up the shards one by one. It is exact when no
///   `add` runs concurrently; during concurrent non-negative adds it lies between
///   the adds completed before the call and the adds started before it returns.
/// * [`take`](Self::take) returns the count and resets it: every add, of either
///   sign, is counted by exactly one `take` or by the final `sum`, never lost
///   and never twice. Concurrent `take`s wait for each other (a lock; `add` and
///   `sum` never wait).
/// * Arithmetic wraps on overflow, like `i64::wrapping_add`.
///
/// # Example
///
/// ```
/// use noclobber::ShardedCounter;
///
/// let requests = ShardedCounter::new();
/// std::thread::scope(|s| {
///     for _ in 0..4 {
///         s.spawn(|| for _ in 0..1000 { requests.inc() });
///     }
/// });
/// assert_eq!(requests.sum(), 4000);
/// assert_eq!(requests.take(), 4000);
/// assert_eq!(requests.sum(), 0);
/// ```
pub struct ShardedCounter {
    shards: Box<[Shard]>,
    /// `shards.len() * SHARD_BYTES`: a hint below it is the offset of a shard.
    bytes: usize,
    /// Serialises `take`s: each one moves every shard's `taken` alone.
    take_lock: Mutex<()>,
}

#[derive(Default)]
struct Shard {
    owned: CachePadded<Owned>,
    /// `fetch_add` target for threads without a slot below the shard count.
    shared: CachePadded<AtomicI64>,
}

#[derive(Default)]
struct Owned {
    /// Running total of the adds of the slot's holders; written only by the
    /// thread currently holding the slot, never reset.
    total: AtomicI64,
    /// How much of `total` has been handed out by `take`; written only under
    /// `take_lock`.
    taken: AtomicI64,
}

impl ShardedCounter {
    /// A counter with twice as many shards as the machine has hardware threads
    /// (rounded up to a power of two).
    ///
    /// Not a `const fn`: the shards are a boxed slice sized at run time (and a
    /// `const fn` cannot allocate). For a `static` counter use a
    /// `std::sync::LazyLock`:
    ///
    /// ```
    /// use std::sync::LazyLock;
    /// use noclobber::ShardedCounter;
    ///
    /// static REQUESTS: LazyLock<ShardedCounter> = LazyLock::new(ShardedCounter::new);
    ///
    /// REQUESTS.inc();
    /// assert_eq!(REQUESTS.sum(), 1);
    /// assert!(REQUESTS.shards().is_power_of_two());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        let threads = std::thread::available_parallelism().map_or(4, usize::from);
        Self::with_shards(threads.saturating_mul(2))
    }

    /// A counter with `shards` shards, rounded up to a power of two and clamped
    /// to `1..=MAX_SHARDS` (so 0 means 1).
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::with_shards(3);
    /// assert_eq!(c.shards(), 4);
    /// assert_eq!(noclobber::ShardedCounter::with_shards(0).shards(), 1);
    /// ```
    #[must_use]
    pub fn with_shards(shards: usize) -> Self {
        let n = shards.clamp(1, MAX_SHARDS).next_power_of_two();
        ShardedCounter {
            shards: (0..n).map(|_| Shard::default()).collect(),
            bytes: n * SHARD_BYTES,
            take_lock: Mutex::new(()),
        }
    }

    /// The number of shards.
    ///
    /// ```
    /// assert_eq!(noclobber::ShardedCounter::with_shards(8).shards(), 8);
    /// ```
    #[must_use]
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Adds `delta` (wrapping on overflow).
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.add(10);
    /// c.add(-3);
    /// assert_eq!(c.sum(), 7);
    /// ```
    #[inline]
    pub fn add(&self, delta: i64) {
        // The fast path spelled out (not through `shard_of_this_thread`), so the
        // compiler does not merge both paths into one `Cell` and test its tag:
        // one TLS load, a bounds check, and the owned load + store.
        match self.owned_shard(sync::slot_hint()) {
            Some(shard) => Cell::Owned(&shard.owned.total).add(delta),
            None => self.add_slow(delta),
        }
    }

    /// The shard at byte offset `hint` (the calling thread's
    /// `ThreadSlot::hint`) if it is one of ours: the shard this thread owns.
    #[inline(always)]
    fn owned_shard(&self, hint: usize) -> Option<&Shard> {
        if hint < self.bytes {
            // SAFETY: a hint is `NO_SLOT` (initial), `SHARING` (both above
            // `self.bytes`, asserted at compile time) or else `slot *
            // SHARD_BYTES`, as `slot_of_this_thread` stores it. So `hint` is
            // `slot * SHARD_BYTES` with `slot < self.shards.len()` (as
            // `self.bytes == len * SHARD_BYTES`): the pointer is that of
            // `self.shards[slot]`, in bounds, aligned (a multiple of the
            // element size from the slice's aligned base), and the shared
            // borrow lives no longer than `&self`.
            Some(unsafe { &*self.shards.as_ptr().byte_add(hint) })
        } else {
            None
        }
    }

    #[inline(never)]
    fn add_slow(&self, delta: i64) {
        self.shard_slow().add(delta);
    }

    /// A handle for the calling thread that finds its shard once, so each
    /// increment through it is a plain relaxed load and store (when the thread
    /// owns the shard) with no thread-local lookup. The handle cannot leave the
    /// thread (`!Send`, `!Sync`).
    ///
    /// ```
    /// let hits = noclobber::ShardedCounter::new();
    /// std::thread::scope(|s| {
    ///     for _ in 0..2 {
    ///         s.spawn(|| {
    ///             let local = hits.local();
    ///             for _ in 0..1000 {
    ///                 local.inc();
    ///             }
    ///         });
    ///     }
    /// });
    /// assert_eq!(hits.sum(), 2000);
    /// ```
    #[inline]
    #[must_use]
    pub fn local(&self) -> LocalCounter<'_> {
        let cell = self.shard_of_this_thread();
        let mut pinned = None;
        if let Cell::Owned(_) = cell {
            // The handle writes the owned shard: keep the slot until it drops.
            // (`Owned` implies the state exists: its hint named the slot.)
            pinned = sync::with_slot(|s| {
                s.pins.set(s.pins.get() + 1);
                s.hint.get() / SHARD_BYTES
            });
        }
        LocalCounter {
            cell,
            pinned,
            _not_send: PhantomData,
        }
    }

    /// The calling thread's cell: the total of the shard it owns (its slot is
    /// below the shard count), else a shared cell.
    #[inline(always)]
    fn shard_of_this_thread(&self) -> Cell<'_> {
        // `NO_SLOT` (no slot yet) and `SHARING` are no offset: the slow path.
        match self.owned_shard(sync::slot_hint()) {
            Some(shard) => Cell::Owned(&shard.owned.total),
            None => self.shard_slow(),
        }
    }

    /// Takes a slot on first use; otherwise the shared cell of a thread whose
    /// slot is not below the shard count.
    #[inline(never)]
    fn shard_slow(&self) -> Cell<'_> {
        let mask = self.shards.len() - 1;
        match slot_of_this_thread() {
            Some(slot) if slot <= mask => Cell::Owned(&self.shards[slot].owned.total),
            Some(slot) => Cell::Shared(&self.shards[slot & mask].shared),
            None => Cell::Shared(&self.shards[mask].shared),
        }
    }

    /// Adds 1.
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.inc();
    /// c.inc();
    /// assert_eq!(c.sum(), 2);
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts 1.
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.dec();
    /// assert_eq!(c.sum(), -1);
    /// ```
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The sum of all shards (see the type's docs for what it means while adds
    /// run concurrently).
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::with_shards(4);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| c.add(2));
    ///     s.spawn(|| c.add(3));
    /// });
    /// assert_eq!(c.sum(), 5);
    /// ```
    #[must_use]
    pub fn sum(&self) -> i64 {
        self.shards.iter().fold(0i64, |sum, shard| {
            // Acquire: pairs with the Release of the `take` that stored it, so the
            // `total` that `take` saw is visible below: `total - taken` counts
            // only adds made after that take.
            let taken = shard.owned.taken.load(Ordering::Acquire);
            // Relaxed: plain counts, no other data depends on them.
            let total = shard.owned.total.load(Ordering::Relaxed);
            let shared = shard.shared.load(Ordering::Relaxed);
            sum.wrapping_add(total.wrapping_sub(taken))
                .wrapping_add(shared)
        })
    }

    /// Returns the count and resets it to zero, without losing any add that
    /// runs concurrently: such an add is counted by this `take` or a later one.
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.add(5);
    /// assert_eq!(c.take(), 5);
    /// c.add(-2);
    /// assert_eq!(c.take(), -2);
    /// ```
    #[must_use = "the count is reset: a discarded `take` loses it"]
    pub fn take(&self) -> i64 {
        // Takers one at a time: each `taken` below is read and written by this
        // take alone (the lock orders it after the previous take's store).
        let _serial = self
            .take_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.shards.iter().fold(0i64, |sum, shard| {
            // Relaxed swap: an RMW, so each shared add lands before (counted
            // here) or after (left for later) it, never both.
            let shared = shard.shared.swap(0, Ordering::Relaxed);
            let owned = &shard.owned;
            // Relaxed: only takes store `taken`, and the lock makes the last
            // one happen before this load.
            let taken = owned.taken.load(Ordering::Relaxed);
            // Relaxed: one location; coherence alone keeps the totals that
            // successive (lock-ordered) takes read in modification order, so
            // each add falls between exactly two of them, whatever its sign.
            let total = owned.total.load(Ordering::Relaxed);
            // Release: pairs with the Acquire load in `sum`, so a `sum` that sees
            // this `taken` also sees a `total` no older than the one read here.
            owned.taken.store(total, Ordering::Release);
            sum.wrapping_add(shared)
                .wrapping_add(total.wrapping_sub(taken))
        })
    }
}

/// The calling thread's slot, taken on first use; `None` if it has none (all
/// taken, or already given back at its exit).
fn slot_of_this_thread() -> Option<usize> {
    sync::with_slot(|s| match s.hint.get() {
        sync::NO_SLOT => {
            // Never take a slot that could not be given back at exit.
            let slot = if !s.exited.get() && sync::register_thread_exit() {
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
    for (w, word) in sync::slot_words(s).iter().enumerate() {
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
    sync::slot_words(s)[slot / 64].fetch_and(!bit, Ordering::Release);
}

/// Gives the thread's slot back (at most once) and makes it share from now on.
fn give_back(s: &ThreadSlot) {
    let hint = s.hint.replace(SHARING);
    if hint != sync::NO_SLOT && hint != SHARING {
        release_slot(s, hint / SHARD_BYTES);
    }
}

/// The calling thread's exit hook (a thread-local destructor, see
/// `sync::ThreadSlot`): the slot goes back now, or, if `LocalCounter`s still
/// pin it, when the last of them drops; either way the thread shares from now
/// on.
pub(crate) fn thread_exit(s: &ThreadSlot) {
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
    debug_assert!(hint != sync::NO_SLOT && hint != SHARING);
    orphans().push((hint / SHARD_BYTES, pins));
}

/// Slots whose thread's exit hook ran while `LocalCounter`s (kept in other
/// thread-locals) still pinned them, each with its number of live pins; the
/// last pin to drop gives the slot back (`unpin_orphan`).
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
    ORPHANS.lock().unwrap_or_else(PoisonError::into_inner)
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

/// Where one thread's adds go.
#[derive(Clone, Copy)]
enum Cell<'a> {
    /// The total of a shard this thread owns (it holds the slot): no other
    /// thread writes it while the slot is held.
    Owned(&'a AtomicI64),
    /// A shard's `fetch_add` cell.
    Shared(&'a AtomicI64),
}

impl Cell<'_> {
    #[inline]
    fn add(self, delta: i64) {
        match self {
            Cell::Owned(total) => {
                // Relaxed load + store, no RMW: only the slot's holder writes
                // `total` (an `Owned` cell never leaves it: `LocalCounter` is
                // `!Send` and pins the slot), so nothing can come between the
                // two; the previous holder's stores happen before ours through
                // the slot bitmap (see `acquire_slot`); readers need only the
                // single-location coherence of the atomic.
                let now = total.load(Ordering::Relaxed);
                total.store(now.wrapping_add(delta), Ordering::Relaxed);
            }
            Cell::Shared(shared) => {
                // Relaxed: a commutative RMW on one location; nothing else to order.
                shared.fetch_add(delta, Ordering::Relaxed);
            }
        }
    }
}

/// A [`ShardedCounter`] handle bound to one thread; see
/// [`ShardedCounter::local`].
///
/// A handle that writes the thread's own shard keeps the thread's slot while it
/// lives: if it outlives the thread's exit hook (say it sits in another
/// thread-local whose destructor still adds through it), the slot is given back
/// when the handle drops, so its adds are never raced by the next owner. A handle
/// that is leaked (`mem::forget`) keeps the slot forever: later threads share
/// that shard's cell, still exactly.
///
/// ```
/// let c = noclobber::ShardedCounter::with_shards(64);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let local = c.local();
///         local.add(5);
///         local.dec();
///     });
/// });
/// assert_eq!(c.sum(), 4);
/// ```
pub struct LocalCounter<'a> {
    cell: Cell<'a>,
    /// The slot this handle pins (an `Owned` cell), counted in its thread's
    /// `ThreadSlot::pins` until the exit hook, in `ORPHANS` after it.
    pinned: Option<usize>,
    /// The owned-shard path is only correct on the owner thread.
    _not_send: PhantomData<*const ()>,
}

impl LocalCounter<'_> {
    /// Adds `delta` (wrapping on overflow).
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.local().add(i64::MAX);
    /// c.local().add(1);
    /// assert_eq!(c.sum(), i64::MIN);
    /// ```
    #[inline]
    pub fn add(&self, delta: i64) {
        self.cell.add(delta);
    }

    /// Adds 1.
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.local().inc();
    /// assert_eq!(c.sum(), 1);
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts 1.
    ///
    /// ```
    /// let c = noclobber::ShardedCounter::new();
    /// c.local().dec();
    /// assert_eq!(c.sum(), -1);
    /// ```
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }
}

/// Gives the thread's slot back if the thread has already exited (its exit
/// hook ran while this handle was alive) and this was the slot's last pinning
/// handle; otherwise the exit hook or that last handle will.
///
/// ```
/// let c = noclobber::ShardedCounter::new();
/// let local = c.local();
/// local.inc();
/// drop(local); // the thread keeps its slot until it exits
/// c.inc();
/// assert_eq!(c.sum(), 2);
/// ```
impl Drop for LocalCounter<'_> {
    fn drop(&mut self) {
        let Some(slot) = self.pinned else { return };
        sync::with_slot(|s| {
            if s.hint.get() == slot * SHARD_BYTES {
                // The exit hook has not run (it makes the hint `SHARING`; a
                // fresh state cannot hold the slot, which stays taken while
                // pinned): the pin is counted in the thread's state.
                s.pins.set(s.pins.get() - 1);
            } else if unpin_orphan(slot) {
                // The hook moved the pins to `ORPHANS`; `s` may be a fresh
                // state (see there), which `release_slot` does not read
                // outside loom.
                release_slot(s, slot);
            }
        });
    }
}

impl fmt::Debug for LocalCounter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owned = matches!(self.cell, Cell::Owned(_));
        f.debug_struct("LocalCounter")
            .field("owns_shard", &owned)
            .finish()
    }
}

/// `ShardedCounter::new()`.
///
/// ```
/// let c = noclobber::ShardedCounter::default();
/// assert_eq!(c.sum(), 0);
/// ```
impl Default for ShardedCounter {
    fn default() -> Self {
        Self::new()
    }
}

/// ```
/// let c = noclobber::ShardedCounter::with_shards(2);
/// c.add(3);
/// assert_eq!(format!("{c:?}"), "ShardedCounter { sum: 3, shards: 2 }");
/// ```
impl fmt::Debug for ShardedCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedCounter")
            .field("sum", &self.sum())
            .field("shards", &self.shards())
            .finish()
    }
}
