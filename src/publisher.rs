//! [`Publisher`]: Raymond Chen's slot-ring publishing pattern, made safe against
//! lapped readers and lapped writers, for any number of writers.

use core::fmt;

use bytemuck::NoUninit;
use crossbeam_utils::CachePadded;

use crate::error::{CorruptAs, Fault};
use crate::notify::{Grouped, Listeners, Notify, Published};
use crate::ring::{Ring, Slot, Tickets};
use crate::sync::{AtomicU128, Ordering};
use crate::words::pack;
use crate::{ReadError, Versioned};
#[cfg(feature = "std")]
use crate::{WaitError, WriteError};

/// A ring of `SLOTS` slots (3 unless given): a writer fills a free slot, then
/// publishes it; readers copy the latest published slot and never wait, not
/// even for a writer that stopped forever in the middle of a publication.
///
/// Every 64-bit word of a slot is stored together with the 64-bit ticket of the
/// writer that wrote it (one 128-bit atomic), and a `(version, ticket)` head names
/// the published slot. A reader accepts a copy only if every word carries the
/// head's ticket, so a reader lapped by newer publications detects it and
/// retries, and a writer lapped while copying cannot scribble over a slot a newer
/// writer owns: its stale tags are refused word by word.
///
/// * **Readers** are lock-free and never wait for a writer: the published slot is
///   never reused until a newer value is published, so a retry only happens
///   after progress.
/// * **Writers** may be several. A writer waits only when every slot except the
///   published one is held by a writer still in the middle of its copy; with
///   `SLOTS` slots, writers carry on while at most `SLOTS - 2` writers are stopped
///   mid-publication (hence the default of 3: one stopped writer, e.g. in a
///   debugger, stops nobody). In a shared file, claims of writer processes that
///   died are given back (`shm`).
/// * **Versions** count publications: the initial value is version 0, each
///   publication adds exactly 1.
///
/// With a single writer, prefer [`SoloWriter`](crate::SoloWriter): the same
/// guarantees for readers at about the cost of a `SeqLock` read, since no word
/// needs a writer's tag when nobody can lap the writer.
///
/// `SLOTS < 2` does not compile. A `Publisher` has no writer handle, so it is
/// never closed: [`wait_newer`](Self::wait_newer) ends only with a newer
/// version or its timeout.
///
/// # Example
///
/// ```
/// use noclobber::Publisher;
///
/// let config = Publisher::new([0u32; 4]);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         for i in 1..=100 {
///             config.write([i; 4]);
///         }
///     });
///     s.spawn(|| {
///         let snapshot = config.read();
///         // Never torn: all four words come from one publication.
///         assert!(snapshot.iter().all(|&w| w == snapshot[0]));
///     });
/// });
/// assert_eq!(config.version(), 100);
/// ```
///
/// ```compile_fail
/// // A ring needs at least two slots.
/// let p = noclobber::Publisher::<u64, 1>::with_slots(0);
/// ```
pub struct Publisher<T, const SLOTS: usize = 3> {
    body: Body<T, SLOTS, Grouped>,
}

/// The object a [`Publisher`] is, in process memory or in a shared file
/// (`shm::SharedPublisher`): `#[repr(C)]`, no pointers, every byte an atomic;
/// `also` is what an object in process memory adds for its async waiters
/// (`()` in a shared file: no bytes, no pointers).
#[repr(C)]
pub(crate) struct Body<T, const SLOTS: usize, E = ()> {
    pub(crate) head: CachePadded<AtomicU128>,
    /// Ticket counter and owner table (`ring/mod.rs`), touched by writers only.
    pub(crate) tickets: CachePadded<Tickets>,
    /// Readers waiting for a newer version (`notify/mod.rs`); beside the
    /// writers' `tickets`, away from the head readers load.
    pub(crate) notify: Notify,
    pub(crate) slots: [CachePadded<Slot<T>>; SLOTS],
    pub(crate) also: E,
}

impl<T: NoUninit, const SLOTS: usize, E: Listeners> Body<T, SLOTS, E> {
    pub(crate) const AT_LEAST_TWO_SLOTS: () =
        assert!(SLOTS >= 2, "a Publisher needs at least 2 slots");

    fn new(value: T, also: E) -> Self {
        let () = Self::AT_LEAST_TWO_SLOTS;
        // Ticket 1 is the initial value, in slot 1; the other slots hold claim 0,
        // older than the head, hence free.
        let slots = core::array::from_fn(|i| CachePadded::new(Slot::new(u64::from(i == 1), value)));
        Body {
            head: CachePadded::new(AtomicU128::new(pack(0, 1))),
            tickets: CachePadded::new(Tickets::new(1)),
            notify: Notify::new(),
            slots,
            also,
        }
    }

    /// Stores every atomic so that `self` holds the state `new(value)` builds,
    /// for an object created in place (a shared file). Only atomic stores: the
    /// caller must ensure nobody uses the object meanwhile, and publish the
    /// stores afterwards with a Release store.
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn init_in_place(&self, value: T) {
        let () = Self::AT_LEAST_TWO_SLOTS;
        // The state of `new`: ticket 1 in slot 1, claim 0 (free) elsewhere.
        for (i, slot) in self.slots.iter().enumerate() {
            slot.init_in_place(u64::from(i == 1), value);
        }
        self.tickets.init_in_place(1);
        self.notify.init_in_place();
        // Relaxed: published by the caller's Release store.
        self.head.store(pack(0, 1), Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn ring(&self) -> Ring<'_, T, SLOTS> {
        Ring {
            head: &self.head,
            tickets: &self.tickets,
            slots: &self.slots,
        }
    }

    #[inline]
    pub(crate) fn read_versioned(&self) -> Versioned<T> {
        self.ring().read().into()
    }

    #[inline]
    pub(crate) fn try_read<C: CorruptAs>(&self) -> Result<Versioned<T>, ReadError<C>> {
        self.ring()
            .attempt()
            .map(Into::into)
            .map_err(Fault::into_read)
    }

    #[cfg(feature = "std")]
    pub(crate) fn read_timeout<C: CorruptAs>(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, ReadError<C>> {
        let deadline = crate::notify::deadline(timeout);
        self.ring()
            .read_until(deadline)
            .map(Into::into)
            .map_err(Fault::into_read)
    }

    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.ring().head().0
    }

    /// How waiters announce themselves: every publication is a `SeqCst`
    /// head CAS (N4 in `notify/mod.rs`).
    #[cfg(feature = "std")]
    const WAITERS: crate::notify::Announce = crate::notify::Announce::Count(Published::BySeqCstRmw);

    #[cfg(feature = "std")]
    fn check(&self, seen: u64) -> crate::notify::Seen {
        crate::notify::Seen::newer_if(self.version() > seen)
    }

    #[cfg(feature = "std")]
    pub(crate) fn wait_newer<C: CorruptAs>(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WaitError<C>> {
        let check = || self.check(seen);
        crate::notify::wait_newer(
            &self.notify,
            timeout,
            Self::WAITERS,
            None,
            check,
            |deadline| self.ring().read_until(deadline).map(Into::into),
        )
        .map_err(Fault::into_wait)
    }

    #[cfg(feature = "async")]
    pub(crate) fn wait_newer_async<C: CorruptAs>(
        &self,
        seen: u64,
    ) -> crate::future::WaitNewer<'_, T, C>
    where
        T: Send,
    {
        crate::future::WaitNewer::new(self, seen)
    }

    /// Wakes waiters after a publication: every head CAS that publishes is
    /// SeqCst (N1, N4 in `notify/mod.rs`).
    #[inline]
    fn published(&self, version: u64) -> u64 {
        if self.notify.wake(Published::BySeqCstRmw) {
            self.also.wake(&self.notify);
        }
        version
    }

    #[inline]
    pub(crate) fn write(&self, value: T) -> u64 {
        self.published(self.ring().write(value))
    }

    #[cfg(feature = "std")]
    pub(crate) fn try_write_until<C: CorruptAs>(
        &self,
        value: T,
        deadline: Option<std::time::Instant>,
    ) -> Result<u64, WriteError<C>> {
        match self.ring().try_write(value, deadline) {
            Ok(version) => Ok(self.published(version)),
            Err(fault) => Err(Fault::into_write(fault)),
        }
    }

    #[cfg(feature = "std")]
    pub(crate) fn write_timeout<C: CorruptAs>(
        &self,
        value: T,
        timeout: std::time::Duration,
    ) -> Result<u64, WriteError<C>> {
        match crate::notify::deadline(timeout) {
            Some(deadline) => self.try_write_until(value, Some(deadline)),
            // `Instant + timeout` would overflow (and panic): no deadline.
            None => Ok(self.write(value)),
        }
    }

    pub(crate) fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        match self.ring().write_if(expected_version, value) {
            Ok(version) => Ok(self.published(version)),
            Err(current) => Err(current.into()),
        }
    }

    pub(crate) fn checked_update(
        &self,
        mut f: impl FnMut(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        match self.ring().update(|snap| f(snap.value)) {
            Ok(done) => {
                self.published(done.version);
                Ok(done.into())
            }
            Err(declined) => Err(declined.into()),
        }
    }

    pub(crate) fn update(&self, mut f: impl FnMut(T) -> T) -> Versioned<T> {
        match self.checked_update(|x| Some(f(x))) {
            Ok(done) => done,
            Err(_) => unreachable!("the closure always returns Some"),
        }
    }
}

impl<T: NoUninit> Publisher<T> {
    /// A publisher of 3 slots whose first value (version 0) is `value`; for
    /// another slot count, [`with_slots`](Self::with_slots).
    ///
    /// Not a `const fn`: for a `static`, wrap it in a `std::sync::LazyLock`.
    ///
    /// ```
    /// let p = noclobber::Publisher::new([1u8, 2, 3]);
    /// assert_eq!(p.read_versioned(), noclobber::Versioned { value: [1, 2, 3], version: 0 });
    ///
    /// static SHARED: std::sync::LazyLock<noclobber::Publisher<u64>> =
    ///     std::sync::LazyLock::new(|| noclobber::Publisher::new(0));
    /// assert_eq!(SHARED.write(1), 1);
    /// ```
    #[must_use]
    pub fn new(value: T) -> Self {
        Self::with_slots(value)
    }
}

impl<T: NoUninit, const SLOTS: usize> Publisher<T, SLOTS> {
    /// A publisher of `SLOTS` slots whose first value (version 0) is `value`.
    /// More slots let more writers be stopped mid-publication without
    /// stopping the others (`SLOTS - 2` of them).
    ///
    /// ```
    /// let p = noclobber::Publisher::<u64, 5>::with_slots(7);
    /// assert_eq!(p.read(), 7);
    /// let q: noclobber::Publisher<u64, 2> = noclobber::Publisher::with_slots(8);
    /// assert_eq!(q.read(), 8);
    /// ```
    #[must_use]
    pub fn with_slots(value: T) -> Self {
        Publisher {
            body: Body::new(value, Grouped::new()),
        }
    }

    #[cfg(test)]
    pub(crate) fn ring(&self) -> Ring<'_, T, SLOTS> {
        self.body.ring()
    }

    #[cfg(all(test, not(noclobber_loom)))]
    pub(crate) fn body(&self) -> &Body<T, SLOTS, Grouped> {
        &self.body
    }

    /// Publishes `value`; returns its version. Waits only while every slot but
    /// the published one is held by writers in the middle of a publication.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(0u64);
    /// assert_eq!(p.write(42), 1);
    /// assert_eq!(p.read(), 42);
    /// ```
    #[inline]
    pub fn write(&self, value: T) -> u64 {
        self.body.write(value)
    }

    /// [`write`](Self::write) unless no slot is free: [`WriteError::Busy`]
    /// (nothing published) if every slot but the published one is held by
    /// writers in the middle of a publication, or stopped there, where `write`
    /// would wait for one of them. Tries `SLOTS` tickets; a commit lost to
    /// another writer is retried, since that writer made progress.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(0u64);
    /// assert_eq!(p.try_write(5), Ok(1));
    /// assert_eq!(p.read(), 5);
    /// ```
    #[cfg(feature = "std")]
    pub fn try_write(&self, value: T) -> Result<u64, WriteError> {
        self.body.try_write_until(value, None)
    }

    /// [`write`](Self::write), waiting at most `timeout` for a slot to become
    /// free: [`WriteError::TimedOut`] (nothing published) if none did.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = noclobber::Publisher::new([0u8; 4]);
    /// assert_eq!(p.write_timeout([1; 4], Duration::from_millis(10)), Ok(1));
    /// // A timeout past the clock's range waits as long as `write` would.
    /// assert_eq!(p.write_timeout([2; 4], Duration::MAX), Ok(2));
    /// ```
    #[cfg(feature = "std")]
    pub fn write_timeout(&self, value: T, timeout: std::time::Duration) -> Result<u64, WriteError> {
        self.body.write_timeout(value, timeout)
    }

    /// Publishes `value` only if the published version is still
    /// `expected_version`: the answer when the new value depends on the old.
    /// `Ok(new_version)`, or `Err(current)` with what is there instead.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u32);
    /// let seen = p.read_versioned();
    /// assert_eq!(p.write_if(seen.version, seen.value * 10), Ok(1));
    /// // A second writer with the same stale view is refused.
    /// let now = p.write_if(seen.version, seen.value + 1).unwrap_err();
    /// assert_eq!((now.value, now.version), (10, 1));
    /// ```
    pub fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        self.body.write_if(expected_version, value)
    }

    /// Publishes `f(current)` with no publication in between; returns what
    /// was published. `f` may run several times (once per lost race), and
    /// holds no slot while it runs: a writer stopped inside `f` stops nobody.
    ///
    /// ```
    /// let hits = noclobber::Publisher::new(0u64);
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| for _ in 0..100 { hits.update(|n| n + 1); });
    ///     }
    /// });
    /// assert_eq!(hits.read_versioned(), noclobber::Versioned { value: 400, version: 400 });
    /// ```
    pub fn update(&self, f: impl FnMut(T) -> T) -> Versioned<T> {
        self.body.update(f)
    }

    /// [`update`](Self::update) where `f` may decline by returning `None`:
    /// `Ok(published)`, or `Err(current)`, the value `f` declined.
    ///
    /// ```
    /// let stock = noclobber::Publisher::new(1u32);
    /// let take_one = |n: u32| n.checked_sub(1);
    /// assert_eq!(stock.checked_update(take_one).map(|v| v.value), Ok(0));
    /// assert_eq!(stock.checked_update(take_one).map_err(|v| v.value), Err(0));
    /// ```
    pub fn checked_update(
        &self,
        f: impl FnMut(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.body.checked_update(f)
    }

    /// Copies the latest published value. Never waits for a writer: retries
    /// only when a newer value was published during the copy (lock-free, not
    /// wait-free: writers that keep publishing faster than a copy can keep a
    /// reader retrying; [`read_timeout`](Self::read_timeout) bounds that).
    ///
    /// ```
    /// let p = noclobber::Publisher::new([0u64, 0]);
    /// p.write([1, 2]);
    /// assert_eq!(p.read(), [1, 2]);
    /// ```
    #[inline]
    #[must_use]
    pub fn read(&self) -> T {
        self.body.read_versioned().value
    }

    /// Like [`read`](Self::read), with the version of the value.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(-1i32);
    /// p.write(7);
    /// assert_eq!(p.read_versioned(), noclobber::Versioned { value: 7, version: 1 });
    /// ```
    #[inline]
    #[must_use]
    pub fn read_versioned(&self) -> Versioned<T> {
        self.body.read_versioned()
    }

    /// One attempt at a copy: [`ReadError::Interrupted`] if a newer value was
    /// published during it (try again). Never waits.
    ///
    /// ```
    /// use noclobber::{Publisher, ReadError};
    /// let p = Publisher::new([1u64, 2]);
    /// match p.try_read() {
    ///     Ok(v) => assert_eq!((v.value, v.version), ([1, 2], 0)),
    ///     Err(ReadError::Interrupted) => { /* a newer value came: try again */ }
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    #[inline]
    pub fn try_read(&self) -> Result<Versioned<T>, ReadError> {
        self.body.try_read()
    }

    /// Reads until a copy succeeds or `timeout` has passed
    /// ([`ReadError::TimedOut`]: interrupted by newer publications all that
    /// time).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = noclobber::Publisher::new(1u64);
    /// assert_eq!(p.read_timeout(Duration::from_millis(10)).unwrap().value, 1);
    /// ```
    #[cfg(feature = "std")]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Result<Versioned<T>, ReadError> {
        self.body.read_timeout(timeout)
    }

    /// The version of the latest publication.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(0u8);
    /// p.write(1);
    /// p.write(2);
    /// assert_eq!(p.version(), 2);
    /// ```
    #[inline]
    #[must_use]
    pub fn version(&self) -> u64 {
        self.body.version()
    }

    /// Waits until a version newer than `seen` is published, then reads it;
    /// [`WaitError::TimedOut`] if none came within `timeout`
    /// (`Duration::MAX` waits for ever). The waiting thread sleeps (a futex
    /// on Linux, also across processes); writers pay one load for it while
    /// nobody waits. A writer stopped or killed mid-publication never keeps a
    /// waiter past its timeout.
    ///
    /// Returns at once if the version is already newer than `seen`, so a loop
    /// that passes the version it got last sees every publication or skips
    /// forward, never back.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let p = Arc::new(noclobber::Publisher::new(0u64));
    /// let waiter = std::thread::spawn({
    ///     let p = Arc::clone(&p);
    ///     move || p.wait_newer(0, Duration::from_secs(10))
    /// });
    /// p.write(9);
    /// assert_eq!(waiter.join().unwrap().unwrap().value, 9);
    /// assert_eq!(
    ///     p.wait_newer(1, Duration::from_millis(1)),
    ///     Err(noclobber::WaitError::TimedOut)
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WaitError> {
        self.body.wait_newer(seen, timeout)
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
    /// let p = Arc::new(noclobber::Publisher::new(0u64));
    /// let writer = std::thread::spawn({
    ///     let p = Arc::clone(&p);
    ///     move || p.write(9)
    /// });
    /// // On any executor: tokio, smol, futures::executor::block_on.
    /// let v = block_on(p.wait_newer_async(0)).unwrap();
    /// assert_eq!((v.value, v.version), (9, 1));
    /// writer.join().unwrap();
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn wait_newer_async(&self, seen: u64) -> crate::future::WaitNewer<'_, T>
    where
        T: Send,
    {
        self.body.wait_newer_async(seen)
    }

    /// Consumes the publisher and returns the latest value.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u16);
    /// p.write(2);
    /// assert_eq!(p.into_inner(), 2);
    /// ```
    #[must_use]
    pub fn into_inner(self) -> T {
        self.read()
    }

    /// Whether reads and writes are lock-free on this machine: true when the
    /// 128-bit atomics are native instructions (x86_64 with `cmpxchg16b`,
    /// AArch64, ...). Where `portable-atomic` falls back to a lock, a reader can
    /// wait for a writer that holds it, so "readers never wait" needs this.
    ///
    /// ```
    /// # #[cfg(target_arch = "x86_64")]
    /// assert!(noclobber::Publisher::<u64>::is_lock_free());
    /// ```
    #[must_use]
    pub fn is_lock_free() -> bool {
        AtomicU128::is_lock_free()
    }
}

crate::read::readable_by_inherent!([T: NoUninit, const SLOTS: usize] Publisher<T, SLOTS>);

/// ```
/// let p: noclobber::Publisher<[u32; 2]> = Default::default();
/// assert_eq!(p.read_versioned(), noclobber::Versioned { value: [0, 0], version: 0 });
/// ```
impl<T: NoUninit + Default, const SLOTS: usize> Default for Publisher<T, SLOTS> {
    fn default() -> Self {
        Self::with_slots(T::default())
    }
}

/// `Publisher::with_slots(value)`.
///
/// ```
/// let p: noclobber::Publisher<u64> = 42.into();
/// assert_eq!(p.read_versioned(), noclobber::Versioned { value: 42, version: 0 });
/// ```
impl<T: NoUninit, const SLOTS: usize> From<T> for Publisher<T, SLOTS> {
    fn from(value: T) -> Self {
        Self::with_slots(value)
    }
}

/// One attempt at a copy ([`Publisher::try_read`]): never blocks; an
/// interrupted read shows as `value: <why>` without a version.
///
/// ```
/// let p = noclobber::Publisher::new(9u8);
/// assert_eq!(format!("{p:?}"), "Publisher { value: 9, version: 0, slots: 3 }");
/// ```
impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for Publisher<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.body.fmt_as("Publisher", f)
    }
}

#[cfg(feature = "async")]
impl<T: NoUninit, const SLOTS: usize, E: Listeners> crate::notify::Target<T> for Body<T, SLOTS, E> {
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
        Self::WAITERS
    }
    fn check(&self, seen: u64) -> crate::notify::Seen {
        self.check(seen)
    }
    fn attempt(&self) -> Result<Versioned<T>, Fault> {
        self.ring().attempt().map(Into::into)
    }
}

impl<T: NoUninit + fmt::Debug, const SLOTS: usize, E: Listeners> Body<T, SLOTS, E> {
    /// `Debug` of every handle: one attempt, never blocking.
    pub(crate) fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(name);
        match self.ring().attempt() {
            Ok(snap) => s
                .field("value", &snap.value)
                .field("version", &snap.version),
            Err(Fault::Corrupt(c)) => s.field("value", &format_args!("<{c}>")),
            Err(_) => s.field("value", &format_args!("<interrupted>")),
        };
        s.field("slots", &SLOTS).finish()
    }
}

#[cfg(all(test, not(noclobber_loom)))]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    /// A ring update whose closure panics after a lost race must give its staged
    /// slot back: with 2 slots a leaked claim newer than the head leaves no slot
    /// for any writer, and the next `write` would spin forever.
    #[test]
    fn update_closure_panicking_after_a_lost_race_leaks_no_slot() {
        let p = Arc::new(Publisher::<u64, 2>::with_slots(0));
        let mut calls = 0;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            p.ring().update(|snap| {
                calls += 1;
                if calls == 2 {
                    panic!("second call");
                }
                // Publish in between, so that the commit of the value staged
                // below fails and the loop calls us again.
                p.write(snap.value + 100);
                Some(snap.value + 1)
            })
        }));
        assert!(outcome.is_err() && calls == 2);
        // A detached thread, so that a wedged `write` fails the test instead
        // of hanging it.
        let (done, wait) = mpsc::channel();
        let writer = Arc::clone(&p);
        let handle = std::thread::spawn(move || done.send(writer.write(7)).unwrap());
        let version = wait.recv_timeout(Duration::from_secs(if cfg!(miri) { 600 } else { 20 }));
        assert_eq!(version, Ok(2), "write wedged by a leaked claim");
        handle.join().unwrap();
        assert_eq!(p.read(), 7);
    }

    /// `init_in_place` on zeroed memory (a new shared file) builds the state
    /// `new` builds: every atomic agrees.
    #[test]
    fn init_in_place_is_new() {
        let new = Body::<[u64; 3], 3>::new([4, 5, 6], ());
        // SAFETY: all zeroes is a valid `Body`: atomics and `UnsafeCell`s of
        // integers and `MaybeUninit` bytes (what a new shared file holds).
        let zeroed: Box<Body<[u64; 3], 3>> =
            Box::new(unsafe { core::mem::MaybeUninit::zeroed().assume_init() });
        zeroed.init_in_place([4, 5, 6]);
        let relaxed = Ordering::Relaxed;
        assert_eq!(new.head.load(relaxed), zeroed.head.load(relaxed));
        for (a, b) in new.slots.iter().zip(&zeroed.slots) {
            assert_eq!(a.claim.load(relaxed), b.claim.load(relaxed));
            for i in 0..crate::words::word_count::<[u64; 3]>() {
                assert_eq!(a.words.at(i).load(relaxed), b.words.at(i).load(relaxed));
            }
        }
        assert_eq!(new.read_versioned(), zeroed.read_versioned());
    }
}

/// A loom model of the ring's closure path (`Ring::update`, reached publicly
/// through `VersionedCell::update`, whose 8 slots are too many to fill with
/// loom's thread limit). Run with `RUSTFLAGS="--cfg noclobber_loom" cargo test
/// --release --lib` (`scripts/ci-loom.sh` does).
#[cfg(all(test, noclobber_loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use loom::sync::Arc;
    use loom::thread;

    fn wait(flag: &AtomicBool) {
        while !flag.load(SeqCst) {
            thread::yield_now();
        }
    }

    /// With 2 slots, an updater whose closure runs a second time (after its
    /// first commit lost the race) must not hold a claim meanwhile: the other
    /// writer must publish while that closure waits for it. Keeping the claim
    /// across the call leaves the writer no slot, and both spin forever (loom
    /// reports the branch limit).
    #[test]
    fn a_writer_inside_its_closure_holds_no_slot() {
        let mut builder = loom::model::Builder::new();
        if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.max_branches = 100_000;
        builder.check(|| {
            let p = Arc::new(Publisher::<[u64; 2], 2>::with_slots([0, 0]));
            // In the first call, go on, in the second call, go on.
            let flags: Arc<[AtomicBool; 4]> = Arc::new(Default::default());
            let updater = {
                let (p, flags) = (p.clone(), flags.clone());
                thread::spawn(move || {
                    let mut calls = 0;
                    let done = p.ring().update(|snap| {
                        calls += 1;
                        match calls {
                            1 => {
                                flags[0].store(true, SeqCst);
                                wait(&flags[1]);
                            }
                            2 => {
                                flags[2].store(true, SeqCst);
                                wait(&flags[3]);
                            }
                            _ => {}
                        }
                        Some(snap.value.map(|w| w + 10))
                    });
                    (calls, done.ok().map(|s| (s.version, s.value)))
                })
            };
            // The updater has read version 0: this publication fails its
            // first commit.
            wait(&flags[0]);
            assert_eq!(p.write([1, 1]), 1);
            flags[1].store(true, SeqCst);
            // Inside the second call: we must still publish.
            wait(&flags[2]);
            assert_eq!(p.write([2, 2]), 2);
            flags[3].store(true, SeqCst);
            let (calls, done) = updater.join().unwrap();
            assert_eq!((calls, done), (3, Some((3, [12, 12]))));
        });
    }
}
