//! [`ShardedCounter`]: per-thread padded shards summed on read (LongAdder style).

use alloc::boxed::Box;
use core::fmt;
use core::marker::PhantomData;

use crossbeam_utils::CachePadded;

use crate::sync::{thread_token, AtomicI64, AtomicUsize, Ordering};

/// Upper bound for [`ShardedCounter::with_shards`].
///
/// ```
/// let c = noclobber::ShardedCounter::with_shards(usize::MAX);
/// assert_eq!(c.shards(), noclobber::MAX_SHARDS);
/// ```
pub const MAX_SHARDS: usize = 1 << 16;

/// A counter that many threads increment at nearly the speed of an
/// uncontended, unshared increment.
///
/// Each thread is mapped to a shard on its own cache line. The first thread to
/// use a shard owns it: it updates the shard's total with a plain `Relaxed` load
/// and store (no locked instruction, no contention). Other threads that map to an
/// owned shard add into the shard's shared cell with `fetch_add`.
///
/// * [`sum`](Self::sum) adds up the shards one by one. It is exact when no
///   `add` runs concurrently; during concurrent non-negative adds it lies between
///   the adds completed before the call and the adds started before it returns.
/// * [`take`](Self::take) returns the count and resets it: every add is counted
///   by exactly one `take` or by the final `sum`, never lost and never twice.
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
}

#[derive(Default)]
struct Shard {
    owned: CachePadded<Owned>,
    /// `fetch_add` target for threads that do not own the shard.
    shared: CachePadded<AtomicI64>,
}

#[derive(Default)]
struct Owned {
    /// Thread token of the owner; 0 while nobody owns the shard.
    owner: AtomicUsize,
    /// Running total of the owner's adds; written only by the owner.
    total: AtomicI64,
    /// How much of `total` has been handed out by `take`.
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
        self.shard_of_this_thread().add(delta);
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
        LocalCounter {
            cell: self.shard_of_this_thread(),
            _not_send: PhantomData,
        }
    }

    /// The calling thread's cell: the owned total of its shard if it owns (or
    /// can claim) the shard, else the shard's shared cell.
    #[inline]
    fn shard_of_this_thread(&self) -> Cell<'_> {
        let token = thread_token();
        let shard = &self.shards[token & (self.shards.len() - 1)];
        let owned = &shard.owned;
        // Relaxed: tokens are unique, so `owner == token` can only be our own
        // earlier CAS, which we see by program order.
        let owner = owned.owner.load(Ordering::Relaxed);
        let mine = owner == token
            || (owner == 0
                && owned
                    .owner
                    .compare_exchange(0, token, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok());
        if mine {
            Cell::Owned(&owned.total)
        } else {
            Cell::Shared(&shard.shared)
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
        self.shards.iter().fold(0i64, |sum, shard| {
            // Relaxed swap: an RMW, so each shared add lands before (counted
            // here) or after (left for later) it, never both.
            let shared = shard.shared.swap(0, Ordering::Relaxed);
            sum.wrapping_add(shared)
                .wrapping_add(take_owned(&shard.owned))
        })
    }
}

/// Moves `taken` up to the owner's current `total` and returns the difference.
/// The owner's total is never reset (only its owner writes it), so the CAS on
/// `taken` decides which `take` counts which adds.
fn take_owned(owned: &Owned) -> i64 {
    // Acquire (here and on CAS failure): pairs with the Release of the `take`
    // that stored `taken`, so the `total` it read is visible to our load and we
    // never move `taken` backwards.
    let mut taken = owned.taken.load(Ordering::Acquire);
    loop {
        // Relaxed: see above; the owner's own stores need no ordering.
        let total = owned.total.load(Ordering::Relaxed);
        if total == taken {
            return 0;
        }
        // Release: see the Acquire above.
        match owned
            .taken
            .compare_exchange_weak(taken, total, Ordering::Release, Ordering::Acquire)
        {
            Ok(_) => return total.wrapping_sub(taken),
            Err(actual) => taken = actual,
        }
    }
}

/// Where one thread's adds go.
#[derive(Clone, Copy)]
enum Cell<'a> {
    /// The total of a shard this thread owns: no other thread ever writes it.
    Owned(&'a AtomicI64),
    /// The `fetch_add` cell of a shard owned by another thread.
    Shared(&'a AtomicI64),
}

impl Cell<'_> {
    #[inline]
    fn add(self, delta: i64) {
        match self {
            Cell::Owned(total) => {
                // Relaxed load + store, no RMW: only the owner thread ever writes
                // `total` (an `Owned` cell never leaves it: `LocalCounter` is
                // `!Send`), so nothing can come between the two; readers need
                // only the single-location coherence of the atomic.
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
/// ```
/// let c = noclobber::ShardedCounter::new();
/// let local = c.local();
/// local.add(40);
/// local.inc();
/// local.inc();
/// assert_eq!(c.sum(), 42);
/// ```
pub struct LocalCounter<'a> {
    cell: Cell<'a>,
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

/// ```
/// let c = noclobber::ShardedCounter::new();
/// let local = c.local();
/// assert!(format!("{local:?}").starts_with("LocalCounter { owns_shard: "));
/// ```
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
