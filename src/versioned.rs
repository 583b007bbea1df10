//! [`VersionedCell`]: a value and a 64-bit version, changed only by compare-and-swap.

use alloc::boxed::Box;
use core::fmt;

use bytemuck::NoUninit;
use crossbeam_utils::CachePadded;

use crate::error::Fault;
use crate::notify::{Grouped, Listeners, Notify, Published};
use crate::ring::{Ring, Slot, Tickets};
use crate::sync::{AtomicU128, Ordering, Spin};
use crate::words::{pack, unpack, word_count, Buf};
#[cfg(feature = "std")]
use crate::WaitError;
use crate::{ReadError, Versioned};

/// Slots in the ring used when `T` is larger than 8 bytes. A writer waits only if
/// every other slot is held by a writer stopped in the middle of its copy, so
/// this many minus one writers would have to stall there at once.
const LARGE_SLOTS: usize = 8;

/// A value with a version that goes up by exactly one on every successful write.
///
/// Read the pair with [`read_versioned`](Self::read_versioned), compute, and
/// write back only if nobody wrote in between ([`write_if`](Self::write_if)),
/// or let [`update`](Self::update) do the retry loop. This is the cure for the lost
/// update: a read-modify-write never silently overwrites someone else's write.
///
/// # How it works
///
/// * `T` of at most 8 bytes: value and version share one 128-bit word, changed by
///   a 128-bit CAS (`cmpxchg16b` on x86_64, via `portable-atomic`).
/// * Larger `T`: a ring of slots (the same tagged ring as [`Publisher`]). A writer
///   copies the new value into a free slot, every 64-bit word tagged with its
///   ticket, then swings a 128-bit `(version, ticket)` head with one CAS. Readers
///   copy the slot the head names and accept it only if every word carries that
///   ticket.
///
/// Readers never wait for a writer. A writer stalled inside the closure of
/// [`update`](Self::update) (or of any other closure-taking method) holds
/// nothing, not even after its commit lost a race and the closure runs again,
/// so it never prevents another reader or writer from finishing. A writer
/// preempted in the middle of copying its value holds one slot of the
/// large-`T` ring: only when 7 writers are stalled mid-copy at the same moment
/// must an 8th wait for one of them.
///
/// [`Publisher`]: crate::Publisher
///
/// # Example
///
/// ```
/// use noclobber::VersionedCell;
///
/// let balance = VersionedCell::new(100u64);
/// let seen = balance.read_versioned();
/// // Someone else deposits in between ...
/// balance.update(|b| b + 50);
/// // ... so our stale write is refused instead of silently losing theirs.
/// let err = balance.write_if(seen.version, seen.value - 30).unwrap_err();
/// assert_eq!(err.value, 150);
/// // Retry against what is really there.
/// let v = balance.write_if(err.version, err.value - 30).unwrap();
/// assert_eq!(balance.read(), 120);
/// assert_eq!(v, 2);
/// ```
pub struct VersionedCell<T> {
    /// Small `T`: `(version, value bits)`. Large `T`: `(version, ticket)`.
    head: AtomicU128,
    large: Option<Box<Large<T>>>,
    /// Threads waiting for a newer version (`notify/mod.rs`).
    notify: Notify,
    /// Async tasks waiting for a newer version.
    also: Grouped,
}

struct Large<T> {
    tickets: Tickets,
    slots: [CachePadded<Slot<T>>; LARGE_SLOTS],
}

impl<T: NoUninit> VersionedCell<T> {
    const SMALL: bool = word_count::<T>() <= 1;

    /// A cell holding `value` at version 0.
    ///
    /// Not a `const fn`: a `T` larger than 8 bytes lives in a boxed ring, and a
    /// `const fn` cannot allocate. For a `static` cell of a `T` of at most 8
    /// bytes use [`const_new`](Self::const_new).
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new([1u32, 2, 3]);
    /// assert_eq!(cell.version(), 0);
    /// ```
    #[must_use]
    pub fn new(value: T) -> Self {
        if Self::SMALL {
            return VersionedCell {
                head: AtomicU128::new(pack(0, to_bits(value))),
                large: None,
                notify: Notify::new(),
                also: Grouped::new(),
            };
        }
        // The initial value is ticket 1 in slot 1; the others hold claim 0,
        // older than the head, so they are free.
        let slots = core::array::from_fn(|i| CachePadded::new(Slot::new(u64::from(i == 1), value)));
        VersionedCell {
            head: AtomicU128::new(pack(0, 1)),
            large: Some(Box::new(Large {
                tickets: Tickets::new(1),
                slots,
            })),
            notify: Notify::new(),
            also: Grouped::new(),
        }
    }

    /// A cell holding `value` at version 0, in a `const` context: `T` must be
    /// at most 8 bytes (value and version share one 128-bit word, nothing is
    /// allocated). A larger `T` fails to compile; use [`new`](Self::new) for it.
    ///
    /// Built with `--cfg noclobber_loom` (the crate's loom models), this is an
    /// ordinary `fn`: loom's atomics cannot be created in a `const` context.
    ///
    /// ```
    /// use noclobber::VersionedCell;
    ///
    /// static NEXT_ID: VersionedCell<u64> = VersionedCell::const_new(1);
    ///
    /// let id = NEXT_ID.update(|id| id + 1).value - 1;
    /// assert_eq!((id, NEXT_ID.version()), (1, 1));
    /// ```
    ///
    /// ```compile_fail
    /// // 16 bytes: needs the boxed ring of `new`.
    /// static BIG: noclobber::VersionedCell<[u64; 2]> = noclobber::VersionedCell::const_new([0; 2]);
    /// ```
    #[cfg(not(noclobber_loom))]
    #[must_use]
    pub const fn const_new(value: T) -> Self {
        const {
            assert!(
                Self::SMALL,
                "VersionedCell::const_new needs a T of at most 8 bytes; use new"
            )
        };
        VersionedCell {
            head: AtomicU128::new(pack(0, const_bits(value))),
            large: None,
            notify: Notify::new(),
            also: Grouped::new(),
        }
    }

    /// Under loom: the same as [`new`](Self::new) for a small `T`, not `const`.
    #[cfg(noclobber_loom)]
    #[must_use]
    pub fn const_new(value: T) -> Self {
        const {
            assert!(
                Self::SMALL,
                "VersionedCell::const_new needs a T of at most 8 bytes; use new"
            )
        };
        Self::new(value)
    }

    /// Wakes waiters after a write: every write is a SeqCst CAS (N1, N4 in
    /// `notify/mod.rs`).
    #[inline]
    fn woke(&self) {
        if self.notify.wake(Published::BySeqCstRmw) {
            self.also.wake(&self.notify);
        }
    }

    #[inline]
    fn ring(&self) -> Option<Ring<'_, T, LARGE_SLOTS>> {
        self.large.as_deref().map(|large| Ring {
            head: &self.head,
            tickets: &large.tickets,
            slots: &large.slots,
        })
    }

    /// The current value.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new(7u8);
    /// cell.write(9);
    /// assert_eq!(cell.read(), 9);
    /// ```
    #[inline]
    #[must_use]
    pub fn read(&self) -> T {
        self.read_versioned().value
    }

    /// The current value and its version, read together.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new(7u8);
    /// cell.write(9);
    /// let now = cell.read_versioned();
    /// assert_eq!((now.value, now.version), (9, 1));
    /// ```
    #[inline]
    #[must_use]
    pub fn read_versioned(&self) -> Versioned<T> {
        match self.ring() {
            // Acquire: pairs with the Release of the CAS that stored this word;
            // the value is inside the word, so this is for the caller's benefit
            // (data written before a store is visible after a load that sees it).
            None => from_head(self.head.load(Ordering::Acquire)),
            Some(ring) => ring.read().into(),
        }
    }

    /// One attempt at [`read_versioned`](Self::read_versioned). A `T` of at
    /// most 8 bytes is one atomic load and always succeeds; a larger `T` is
    /// copied from the ring and returns [`ReadError::Interrupted`] if a newer
    /// value was published during the copy (try again). Never waits.
    ///
    /// ```
    /// use noclobber::{ReadError, VersionedCell};
    /// let cell = VersionedCell::new([1u64, 2, 3]);
    /// match cell.try_read() {
    ///     Ok(v) => assert_eq!((v.value, v.version), ([1, 2, 3], 0)),
    ///     Err(ReadError::Interrupted) => { /* a newer value came: try again */ }
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    #[inline]
    pub fn try_read(&self) -> Result<Versioned<T>, ReadError> {
        match self.ring() {
            None => Ok(self.read_versioned()),
            Some(ring) => ring.attempt().map(Into::into).map_err(Fault::into_read),
        }
    }

    /// [`read_versioned`](Self::read_versioned) until a copy succeeds or
    /// `timeout` has passed: [`ReadError::TimedOut`] if every attempt was
    /// interrupted by a newer publication all that time (only a large `T`
    /// under writers that keep publishing faster than a copy).
    ///
    /// ```
    /// use std::time::Duration;
    /// let cell = noclobber::VersionedCell::new([5u64; 4]);
    /// cell.write([6; 4]);
    /// assert_eq!(cell.read_timeout(Duration::from_millis(10)).unwrap().value, [6; 4]);
    /// ```
    #[cfg(feature = "std")]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Result<Versioned<T>, ReadError> {
        self.read_until(crate::notify::deadline(timeout))
            .map_err(Fault::into_read)
    }

    #[cfg(feature = "std")]
    fn read_until(&self, deadline: Option<std::time::Instant>) -> Result<Versioned<T>, Fault> {
        match self.ring() {
            None => Ok(self.read_versioned()),
            Some(ring) => ring.read_until(deadline).map(Into::into),
        }
    }

    /// The current version: the number of successful writes so far.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new(0u64);
    /// cell.update(|x| x + 1);
    /// assert_eq!(cell.version(), 1);
    /// ```
    #[inline]
    #[must_use]
    pub fn version(&self) -> u64 {
        // Acquire: as in `read_versioned`.
        unpack(self.head.load(Ordering::Acquire)).0
    }

    /// Waits until a version newer than `seen` is written, then reads it;
    /// [`WaitError::TimedOut`] if none came within `timeout` (`Duration::MAX`
    /// waits for ever). A cell has no writer handle, so it is never closed. The waiting thread sleeps
    /// (a futex on Linux) and uses no CPU meanwhile; writers pay nothing for
    /// it while nobody waits.
    ///
    /// Returns at once if the version is already newer than `seen`, so a loop
    /// that passes the version it got last sees every write or skips forward.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let cell = Arc::new(noclobber::VersionedCell::new(0u64));
    /// let waiter = std::thread::spawn({
    ///     let cell = Arc::clone(&cell);
    ///     move || cell.wait_newer(0, Duration::from_secs(10))
    /// });
    /// cell.update(|x| x + 1);
    /// assert_eq!(waiter.join().unwrap().unwrap().value, 1);
    /// assert_eq!(
    ///     cell.wait_newer(1, Duration::from_millis(1)),
    ///     Err(noclobber::WaitError::TimedOut)
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WaitError> {
        let check = || crate::notify::Seen::newer_if(self.version() > seen);
        crate::notify::wait_newer(
            &self.notify,
            timeout,
            crate::notify::Announce::Count(Published::BySeqCstRmw),
            None,
            check,
            |deadline| self.read_until(deadline),
        )
        .map_err(Fault::into_wait)
    }

    /// [`wait_newer`](Self::wait_newer) as a future, for async tasks
    /// (feature `async`): the first version newer than `seen`, without
    /// blocking a thread. Any executor; cancel-safe; no timeout of its own
    /// (see [`WaitNewer`](crate::future::WaitNewer)).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark {
    /// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
    /// #             std::task::Poll::Ready(v) => return v,
    /// #             std::task::Poll::Pending => std::thread::park(),
    /// #         }
    /// #     }
    /// # }
    /// use std::sync::Arc;
    /// let cell = Arc::new(noclobber::VersionedCell::new(0u64));
    /// let writer = std::thread::spawn({
    ///     let cell = Arc::clone(&cell);
    ///     move || cell.update(|x| x + 1)
    /// });
    /// // On any executor: tokio, smol, futures::executor::block_on.
    /// assert_eq!(block_on(cell.wait_newer_async(0)).unwrap().value, 1);
    /// writer.join().unwrap();
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn wait_newer_async(&self, seen: u64) -> crate::future::WaitNewer<'_, T>
    where
        T: Send,
    {
        crate::future::WaitNewer::new(self, seen)
    }

    /// Writes `new` if the version is still `expected_version`: the version,
    /// not the value, is compared (unlike std's `compare_exchange`, whose
    /// first argument is a value), so an ABA change of the value is caught.
    ///
    /// Returns `Ok(new_version)` (= `expected_version + 1`) on success, or
    /// `Err(current)` with the value and version that are there instead.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new(1i32);
    /// assert_eq!(cell.write_if(0, 2), Ok(1));
    /// let current = cell.write_if(0, 3).unwrap_err();
    /// assert_eq!((current.value, current.version), (2, 1));
    /// ```
    pub fn write_if(&self, expected_version: u64, new: T) -> Result<u64, Versioned<T>> {
        match self.ring() {
            None => {
                // Acquire: as in `read_versioned` (the Err value is returned to the caller).
                let current = self.head.load(Ordering::Acquire);
                if unpack(current).0 != expected_version {
                    return Err(from_head(current));
                }
                let next = pack(expected_version.wrapping_add(1), to_bits(new));
                // Success SeqCst: Release publishes whatever the caller wrote
                // before this write. Its Acquire half is implied by the Acquire
                // load above, which read this same word (the version changes
                // on every write). SeqCst makes it the store half of the waiter
                // Dekker pair (N4 in `notify/mod.rs`); on x86-64 and AArch64 the
                // same instruction as AcqRel.
                // Failure Acquire: `actual` is returned, and the caller may read
                // data published with it. The value bits change only with the
                // version, so a failure means the version moved on and `actual`
                // is the answer.
                self.head
                    .compare_exchange(current, next, Ordering::SeqCst, Ordering::Acquire)
                    .map_err(from_head)?;
            }
            Some(ring) => {
                ring.write_if(expected_version, new)?;
            }
        }
        // Both paths published with a SeqCst CAS (N1, N4 in `notify/mod.rs`).
        self.woke();
        Ok(expected_version.wrapping_add(1))
    }

    /// Applies `f` to the current value until the result is written without a
    /// write in between; returns what was committed. `f` may run several times.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let hits = Arc::new(noclobber::VersionedCell::new(0u64));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let hits = Arc::clone(&hits);
    ///         std::thread::spawn(move || for _ in 0..1000 { hits.update(|n| n + 1); })
    ///     })
    ///     .collect();
    /// threads.into_iter().for_each(|t| t.join().unwrap());
    /// assert_eq!(hits.read_versioned(), noclobber::Versioned { value: 4000, version: 4000 });
    /// ```
    pub fn update(&self, mut f: impl FnMut(T) -> T) -> Versioned<T> {
        match self.checked_update(|x| Some(f(x))) {
            Ok(done) => done,
            Err(_) => unreachable!("the closure always returns Some"),
        }
    }

    /// Like [`update`](Self::update), but `f` may decline by returning `None`.
    ///
    /// `Ok(committed)` or `Err(current)`, the snapshot `f` declined.
    ///
    /// ```
    /// let stock = noclobber::VersionedCell::new(1u32);
    /// let take_one = |n: u32| n.checked_sub(1);
    /// assert_eq!(stock.checked_update(take_one).map(|v| v.value), Ok(0));
    /// assert_eq!(stock.checked_update(take_one).map_err(|v| v.value), Err(0));
    /// ```
    pub fn checked_update(
        &self,
        mut f: impl FnMut(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.modify(|snap| f(snap.value)).map(|(_, new)| new)
    }

    /// Like [`checked_update`](Self::checked_update), but returns what was there
    /// *before*, as `std`'s `AtomicU64::fetch_update` and crossbeam's
    /// `AtomicCell::fetch_update` do: `Ok(previous)` if `f` returned `Some` and
    /// its result was written (as version `previous.version + 1`), or
    /// `Err(current)`, the snapshot `f` declined. `f` may run several times.
    ///
    /// ```
    /// let stock = noclobber::VersionedCell::new(2u32);
    /// let take_one = |n: u32| n.checked_sub(1);
    /// let before = stock.fetch_update(take_one).unwrap();
    /// assert_eq!((before.value, before.version), (2, 0));
    /// assert_eq!(stock.read_versioned(), noclobber::Versioned { value: 1, version: 1 });
    /// stock.fetch_update(take_one).unwrap();
    /// assert_eq!(stock.fetch_update(take_one), Err(noclobber::Versioned { value: 0, version: 2 }));
    /// ```
    pub fn fetch_update(
        &self,
        mut f: impl FnMut(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.modify(|snap| f(snap.value))
            .map(|(previous, _)| previous)
    }

    /// Writes `value` unconditionally and returns the value it replaced, with
    /// that value's version (the new value's version is one more), like
    /// crossbeam's `AtomicCell::swap`.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new(1u8);
    /// let old = cell.swap(2);
    /// assert_eq!((old.value, old.version), (1, 0));
    /// assert_eq!(cell.swap(3), noclobber::Versioned { value: 2, version: 1 });
    /// assert_eq!(cell.read_versioned(), noclobber::Versioned { value: 3, version: 2 });
    /// ```
    pub fn swap(&self, value: T) -> Versioned<T> {
        match self.modify(|_| Some(value)) {
            Ok((previous, _)) => previous,
            Err(_) => unreachable!("the closure always returns Some"),
        }
    }

    /// The read-modify-write loop behind `checked_update`, `fetch_update` and
    /// `swap`: `Ok((previous, committed))`, or `Err(current)` when `f` declines.
    fn modify(
        &self,
        mut f: impl FnMut(Versioned<T>) -> Option<T>,
    ) -> Result<(Versioned<T>, Versioned<T>), Versioned<T>> {
        let Some(ring) = self.ring() else {
            let spin = Spin::new();
            // Acquire: the closure sees the data published with this value.
            let mut current = self.head.load(Ordering::Acquire);
            loop {
                let snap = from_head(current);
                let Some(new) = f(snap) else {
                    return Err(snap);
                };
                let next = pack(snap.version.wrapping_add(1), to_bits(new));
                // SeqCst / Acquire: as in `write_if` (`current` was read
                // by the Acquire load or by the Acquire failure of the last try;
                // the failure value is the next `current` the closure sees).
                match self.head.compare_exchange_weak(
                    current,
                    next,
                    Ordering::SeqCst,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.woke();
                        return Ok((snap, from_head(next)));
                    }
                    Err(actual) => current = actual,
                }
                spin.spin();
            }
        };
        // The snapshot of the last call of `f` is what the committed value
        // replaced: the commit succeeds only if the head still names it.
        let mut previous = None;
        ring.update(|snap| {
            let snap = Versioned {
                value: snap.value,
                version: snap.version,
            };
            previous = Some(snap);
            f(snap)
        })
        .map(|new| {
            // The ring's head CAS is SeqCst (N1, N4 in `notify/mod.rs`).
            self.woke();
            let previous = previous.expect("`f` ran before the commit");
            (previous, new.into())
        })
        .map_err(Into::into)
    }

    /// Writes `value` unconditionally; returns the new version.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new([0u64; 4]);
    /// assert_eq!(cell.write([1; 4]), 1);
    /// ```
    pub fn write(&self, value: T) -> u64 {
        match self.ring() {
            None => self.update(|_| value).version,
            Some(ring) => {
                let version = ring.write(value);
                // As in `modify`.
                self.woke();
                version
            }
        }
    }

    /// Consumes the cell and returns the value.
    ///
    /// ```
    /// let cell = noclobber::VersionedCell::new([1u64, 2]);
    /// cell.write([3, 4]);
    /// assert_eq!(cell.into_inner(), [3, 4]);
    /// ```
    #[must_use]
    pub fn into_inner(self) -> T {
        self.read()
    }

    /// Whether every operation is lock-free on this machine: true when the
    /// 128-bit CAS is a native instruction (x86_64 with `cmpxchg16b`, AArch64,
    /// ...), false where `portable-atomic` falls back to a lock.
    ///
    /// ```
    /// # #[cfg(target_arch = "x86_64")]
    /// assert!(noclobber::VersionedCell::<u64>::is_lock_free());
    /// ```
    #[must_use]
    pub fn is_lock_free() -> bool {
        AtomicU128::is_lock_free()
    }
}

/// The only word of a `T` of at most 8 bytes (0 for a zero-sized `T`).
#[inline]
fn to_bits<T: NoUninit>(value: T) -> u64 {
    if word_count::<T>() == 0 {
        0
    } else {
        Buf::of(value).word(0)
    }
}

/// [`to_bits`] in a `const` context, for a `T` of at most 8 bytes (checked by
/// the caller): the same bytes, `T` at offset 0, zeroes after it.
#[cfg(not(noclobber_loom))]
const fn const_bits<T: NoUninit>(value: T) -> u64 {
    let mut word = core::mem::MaybeUninit::<u64>::zeroed();
    // SAFETY: `size_of::<T>() <= 8` (the caller's const assertion), so the
    // unaligned write of `T` at offset 0 stays inside the zeroed `u64`. `T:
    // NoUninit` has no padding, so after it all 8 bytes are initialised: `T`'s
    // bytes followed by zeroes, exactly the word `Buf::of(value).word(0)` holds.
    unsafe {
        word.as_mut_ptr().cast::<T>().write_unaligned(value);
        word.assume_init()
    }
}

#[inline]
fn from_head<T: NoUninit>(head: u128) -> Versioned<T> {
    let (version, bits) = unpack(head);
    let mut buf = Buf::uninit();
    if word_count::<T>() == 1 {
        buf.set(0, bits);
    }
    // SAFETY: `bits` came from `to_bits` of a valid `T`, and value and version
    // were stored together in one atomic 128-bit word, so they cannot be torn.
    let value = unsafe { buf.assume_value() };
    Versioned { value, version }
}

/// ```
/// let cell: noclobber::VersionedCell<[u32; 3]> = Default::default();
/// assert_eq!(cell.read_versioned(), noclobber::Versioned { value: [0; 3], version: 0 });
/// ```
impl<T: NoUninit + Default> Default for VersionedCell<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

/// ```
/// let cell = noclobber::VersionedCell::from(5i16);
/// assert_eq!(cell.read(), 5);
/// ```
impl<T: NoUninit> From<T> for VersionedCell<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

/// ```
/// let cell = noclobber::VersionedCell::new(7u8);
/// assert_eq!(format!("{cell:?}"), "VersionedCell { value: 7, version: 0 }");
/// ```
impl<T: NoUninit + fmt::Debug> fmt::Debug for VersionedCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Versioned { value, version } = self.read_versioned();
        f.debug_struct("VersionedCell")
            .field("value", &value)
            .field("version", &version)
            .finish()
    }
}

crate::read::readable_by_inherent!([T: NoUninit] VersionedCell<T>);

#[cfg(feature = "async")]
impl<T: NoUninit> crate::notify::Target<T> for VersionedCell<T> {
    fn notify(&self) -> Option<&Notify> {
        Some(&self.notify)
    }
    fn event(&self) -> Option<&crate::notify::Event> {
        self.also.event()
    }
    fn group(&self) -> Option<&crate::notify::Group> {
        self.also.group()
    }
    fn how(&self) -> crate::notify::Announce {
        // Every write is a SeqCst CAS (N4 in `notify/mod.rs`).
        crate::notify::Announce::Count(Published::BySeqCstRmw)
    }
    fn check(&self, seen: u64) -> crate::notify::Seen {
        crate::notify::Seen::newer_if(self.version() > seen)
    }
    fn attempt(&self) -> Result<Versioned<T>, Fault> {
        match self.ring() {
            None => Ok(self.read_versioned()),
            Some(ring) => ring.attempt().map(Into::into),
        }
    }
}
