//! [`ShardedCounter`]: per-thread padded shards summed on read (LongAdder style).
//!
//! # Slots: who owns which shard
//!
//! Every thread that uses a counter takes a process-wide **slot**: the lowest
//! free bit of a bitmap (`slots::slot_words`), set with an Acquire `fetch_or`.
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

use crate::sync::{AtomicI64, Mutex, Ordering};

mod slots;
use slots::{slot_hint, slot_of_this_thread, NO_SLOT};

/// Upper bound for [`ShardedCounter::with_shards`].
///
/// ```
/// let c = noclobber::ShardedCounter::with_shards(usize::MAX);
/// assert_eq!(c.shards(), noclobber::counter::MAX_SHARDS);
/// ```
pub const MAX_SHARDS: usize = 1 << 16;

/// Bytes from one shard to the next: a thread holding slot `s` has
/// `ThreadSlot::hint == s * SHARD_BYTES`, the offset of shard `s` in every
/// counter's shard array.
const SHARD_BYTES: usize = core::mem::size_of::<Shard>();

/// `ThreadSlot::hint` of a thread that shares from now on (no slot, or its slot
/// already given back at exit). Like `slots::NO_SLOT`, beyond every offset a
/// counter's fast path accepts (`ShardedCounter::bytes`).
const SHARING: usize = usize::MAX - 1;
const _: () = assert!(SHARING > MAX_SHARDS * SHARD_BYTES && NO_SLOT > SHARING);

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
/// * **Not for signal handlers.** A thread updates its own shard with a load
///   and a store, not a read-modify-write; an `add` made by a signal handler
///   that interrupted an `add` of the same thread on the same counter (between
///   that load and store) is lost. Count from signal handlers with an
///   `AtomicI64::fetch_add` instead.
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

    /// Adds `delta` (wrapping on overflow). Not async-signal-safe: see the
    /// type's docs.
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
        match self.owned_shard(slot_hint()) {
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
        // The handle writes the owned shard: keep the slot until it drops.
        // (`Owned` implies the state exists: its hint named the slot.)
        let pinned = match cell {
            Cell::Owned(_) => slots::pin(),
            Cell::Shared(_) => None,
        };
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
        match self.owned_shard(slot_hint()) {
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
    /// `ThreadSlot::pins` until the exit hook, in `slots::ORPHANS` after it.
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
        if let Some(slot) = self.pinned {
            slots::unpin(slot);
        }
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
