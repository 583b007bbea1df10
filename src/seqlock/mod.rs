//! [`SeqLock`]: optimistic readers, writers bump a sequence.

use core::fmt;

use bytemuck::NoUninit;

use crate::error::{CorruptAs, Fault};
use crate::notify::{Listeners, Local, Notify};
use crate::sync::{fence, AtomicU64, Ordering, Spin};
use crate::words::{Buf, Words};
#[cfg(feature = "std")]
use crate::WaitError;
use crate::{ReadError, Versioned, WriteError};

#[cfg(all(feature = "std", target_pointer_width = "64"))]
mod read_only;
#[cfg(all(test, not(noclobber_loom)))]
mod tests;
mod write;

/// A sequence lock for small `Copy` data that is read far more often than
/// written.
///
/// Readers take no lock and write nothing: they copy the value and check that
/// the sequence did not move meanwhile. Writers (several are allowed) take turns
/// by making the sequence odd with a CAS, store the words, and make it even again.
///
/// The payload is stored as `AtomicU64` words accessed `Relaxed`, fenced as in
/// Boehm's "Can seqlocks get along with programming language memory models?", so
/// a read racing with a write is a retry, never undefined behaviour.
///
/// **Blocking:** a writer preempted (or stopped, or killed, in shared memory)
/// between its two sequence bumps makes [`read`](Self::read) and other writers
/// wait until it finishes; [`try_read`](Self::try_read) returns
/// [`ReadError::Interrupted`] meanwhile. Use a [`Publisher`](crate::Publisher)
/// when readers must never wait. A `SeqLock` has no writer handle, so it is
/// never closed.
///
/// # Example
///
/// ```
/// use noclobber::SeqLock;
///
/// let position = SeqLock::new([0.0f64, 0.0, 0.0]);
/// position.write([1.0, 2.0, 3.0]);
/// position.update(|[x, y, z]| [x + 1.0, y, z]);
/// assert_eq!(position.read(), [2.0, 2.0, 3.0]);
/// assert_eq!(position.version(), 2);
/// ```
pub struct SeqLock<T> {
    body: Body<T, Local>,
}

/// The object a [`SeqLock`] is, in process memory or in a shared file
/// (`shm::SharedSeqLock`): `#[repr(C)]`, no pointers, every byte an atomic;
/// `also`: the async waiters of an object in process memory (`()` in a
/// shared file).
#[repr(C)]
pub(crate) struct Body<T, E = ()> {
    /// Four times the number of completed writes, plus 1 while a write runs,
    /// plus [`WAITING`] (2) while waiters may be asleep.
    pub(crate) seq: AtomicU64,
    /// The futex word waiters sleep on (`notify/mod.rs`; its waiter count
    /// stays 0, N6).
    pub(crate) notify: Notify,
    pub(crate) words: Words<T>,
    pub(crate) also: E,
}

/// Bit of the sequence (N6 in `notify/mod.rs`): a waiter may be asleep, so the
/// writer whose lock CAS finds it wakes waiters after its write (and clears
/// it). Bit 0 is set while a write runs; the bits above count writes, and
/// wrap at 2^62, which 5 ns writes reach in 700 years.
const WAITING: u64 = 2;

/// The version a sequence value stands for: the completed writes.
#[inline]
const fn version_of(seq: u64) -> u64 {
    seq >> 2
}

impl<T: NoUninit, E: Listeners> Body<T, E> {
    /// Version 0 holding `value`, with nothing waiting.
    #[cfg(not(noclobber_loom))]
    const fn new(value: T, also: E) -> Self {
        Body {
            seq: AtomicU64::new(0),
            notify: Notify::new(),
            words: Words::new(value),
            also,
        }
    }

    /// Under loom: loom's atomics are not `const`.
    #[cfg(noclobber_loom)]
    fn new(value: T, also: E) -> Self {
        Body {
            seq: AtomicU64::new(0),
            notify: Notify::new(),
            words: Words::new(value),
            also,
        }
    }

    /// Stores every atomic so that `self` holds the state `new(value)` builds,
    /// for an object created in place (a shared file). The caller must ensure
    /// nobody uses the object meanwhile, and publish the stores afterwards
    /// with a Release store.
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn init_in_place(&self, value: T) {
        // Relaxed (all): published by the caller's Release store.
        self.words.store_relaxed(&Buf::of(value));
        self.notify.init_in_place();
        self.seq.store(0, Ordering::Relaxed);
    }

    /// One attempt at a consistent read: `Interrupted` if a write was in
    /// progress.
    #[inline]
    pub(crate) fn attempt(&self) -> Result<Versioned<T>, Fault> {
        // Acquire: pairs with the Release store that ended the last write, so its
        // words (or newer ones) are what the loads below see.
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 == 1 {
            return Err(Fault::Interrupted);
        }
        // Relaxed (inside): may race with a writer; validated below.
        let buf = self.words.load_relaxed();
        // Acquire fence: if any load above saw a word of a newer write, the
        // Release fence that writer issued after making the sequence odd
        // synchronises with this fence, so the load below sees the odd sequence
        // (or later) and the copy is rejected.
        fence(Ordering::Acquire);
        // Relaxed: ordered after the word loads by the fence above.
        if self.seq.load(Ordering::Relaxed) != seq {
            return Err(Fault::Interrupted);
        }
        // SAFETY: the sequence was even and unchanged around the copy, so no
        // write overlapped it: the words are exactly those one writer stored
        // from `Buf::of` of one valid `T`.
        let value = unsafe { buf.assume_value() };
        Ok(Versioned {
            value,
            version: version_of(seq),
        })
    }

    #[inline]
    pub(crate) fn try_read<C: CorruptAs>(&self) -> Result<Versioned<T>, ReadError<C>> {
        self.attempt().map_err(Fault::into_read)
    }

    #[inline]
    pub(crate) fn read_versioned(&self) -> Versioned<T> {
        let spin = Spin::new();
        loop {
            if let Ok(v) = self.attempt() {
                return v;
            }
            spin.snooze();
        }
    }

    #[cfg(feature = "std")]
    fn read_until(&self, deadline: Option<std::time::Instant>) -> Result<Versioned<T>, Fault> {
        crate::notify::retry_until(deadline, || self.attempt())
    }

    #[cfg(feature = "std")]
    pub(crate) fn read_timeout<C: CorruptAs>(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, ReadError<C>> {
        self.read_until(crate::notify::deadline(timeout))
            .map_err(Fault::into_read)
    }

    #[inline]
    pub(crate) fn version(&self) -> u64 {
        // Acquire: a caller that sees version n also sees the n-th write.
        version_of(self.seq.load(Ordering::Acquire))
    }

    /// The check of a waiter (N6 in `notify/mod.rs`): whether the version
    /// is newer than `seen`, and if not, whether a write is running, or (the
    /// sequence even) the waiter announced itself in it.
    #[cfg(feature = "std")]
    fn check(&self, seen: u64) -> crate::notify::Seen {
        use crate::notify::Seen;
        let seen_in = |seq: u64| match version_of(seq) > seen {
            true => Seen::Newer,
            // This writer took the lock before our announcement, and may not
            // wake us.
            false if seq & 1 == 1 => Seen::Writing,
            false => Seen::Same,
        };
        // Acquire: as in `version`.
        let mut seq = self.seq.load(Ordering::Acquire);
        loop {
            if seen_in(seq) != Seen::Same {
                return seen_in(seq);
            }
            // Not newer and even, so announce, by a CAS from the value
            // checked: it fails if a writer took the lock meanwhile, and the
            // value found is judged instead. Release: the caller's `epoch`
            // load comes before it, for the writer's Acquire CAS that reads
            // the flag. Acquire (both): as above.
            let flagged = seq | WAITING;
            match self
                .seq
                .compare_exchange(seq, flagged, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Seen::Same,
                Err(found) => seq = found,
            }
        }
    }

    #[cfg(feature = "std")]
    pub(crate) fn wait_newer<C: CorruptAs>(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WaitError<C>> {
        let how = crate::notify::Announce::InCheck;
        let check = || self.check(seen);
        crate::notify::wait_newer(&self.notify, timeout, how, None, check, |deadline| {
            self.read_until(deadline)
        })
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

    #[inline]
    pub(crate) fn write(&self, value: T) -> u64 {
        self.lock().commit(&Buf::of(value))
    }

    pub(crate) fn try_write<C: CorruptAs>(&self, value: T) -> Result<u64, WriteError<C>> {
        let guard = self.try_lock().ok_or(WriteError::Busy)?;
        Ok(guard.commit(&Buf::of(value)))
    }

    #[cfg(feature = "std")]
    pub(crate) fn write_timeout<C: CorruptAs>(
        &self,
        value: T,
        timeout: std::time::Duration,
    ) -> Result<u64, WriteError<C>> {
        let guard = self.lock_timeout(timeout).ok_or(WriteError::TimedOut)?;
        Ok(guard.commit(&Buf::of(value)))
    }

    pub(crate) fn update(&self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        self.lock().update(f)
    }

    pub(crate) fn checked_update(
        &self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.lock().checked_update(f)
    }

    pub(crate) fn try_update<C: CorruptAs>(
        &self,
        f: impl FnOnce(T) -> T,
    ) -> Result<Versioned<T>, WriteError<C>> {
        Ok(self.try_lock().ok_or(WriteError::Busy)?.update(f))
    }

    #[cfg(feature = "std")]
    pub(crate) fn update_timeout<C: CorruptAs>(
        &self,
        f: impl FnOnce(T) -> T,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WriteError<C>> {
        Ok(self
            .lock_timeout(timeout)
            .ok_or(WriteError::TimedOut)?
            .update(f))
    }

    /// How long [`validate`](Self::validate) waits for an odd sequence to move.
    #[cfg(feature = "std")]
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) const ODD_PATIENCE: std::time::Duration = std::time::Duration::from_millis(50);

    /// The body check of a shared file: the sequence is even, or odd only
    /// while a live writer holds it: an odd sequence must move within
    /// `patience` (a write takes nanoseconds). Otherwise a writer stopped or
    /// killed mid-write, or damage, left it odd, and every reader and writer
    /// would spin on it forever. Only `Relaxed` loads (read-only mappings).
    #[cfg(feature = "std")]
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn validate(
        &self,
        patience: std::time::Duration,
    ) -> Result<(), alloc::string::String> {
        // Relaxed: only the parity and whether the value moves matter; no
        // data is read on the strength of it.
        let seq = self.seq.load(Ordering::Relaxed);
        if seq & 1 == 0 {
            return Ok(());
        }
        let start = std::time::Instant::now();
        let spin = Spin::new();
        while start.elapsed() < patience {
            // Relaxed: as above.
            if self.seq.load(Ordering::Relaxed) != seq {
                return Ok(());
            }
            spin.snooze();
        }
        Err(alloc::format!(
            "the sequence is {seq}, odd, and did not move for {patience:?}: a writer \
             stopped or died in the middle of a write (readers and writers would wait \
             forever), or the file is damaged"
        ))
    }
}

#[cfg(feature = "async")]
impl<T: NoUninit, E: Listeners> crate::notify::Target<T> for Body<T, E> {
    fn notify(&self) -> Option<&Notify> {
        Some(&self.notify)
    }
    fn event(&self) -> Option<&crate::notify::Event> {
        self.also.event()
    }
    fn how(&self) -> crate::notify::Announce {
        crate::notify::Announce::InCheck
    }
    fn check(&self, seen: u64) -> crate::notify::Seen {
        self.check(seen)
    }
    fn attempt(&self) -> Result<Versioned<T>, Fault> {
        self.attempt()
    }
}

impl<T: NoUninit> SeqLock<T> {
    /// A lock holding `value` at version 0. A `const fn`, so a `static` needs
    /// no `LazyLock`:
    ///
    /// ```
    /// use noclobber::SeqLock;
    ///
    /// static LIMITS: SeqLock<[u32; 2]> = SeqLock::new([10, 20]);
    ///
    /// LIMITS.write([30, 40]);
    /// assert_eq!(LIMITS.read_versioned(), noclobber::Versioned { value: [30, 40], version: 1 });
    /// ```
    ///
    /// Built with `--cfg noclobber_loom` (the crate's loom models) it is an
    /// ordinary `fn`: loom's atomics cannot be created in a `const` context.
    #[cfg(not(noclobber_loom))]
    #[must_use]
    pub const fn new(value: T) -> Self {
        SeqLock {
            body: Body::new(value, Local::new()),
        }
    }

    /// Under loom: the payload words are loom atomics, which are not `const`.
    #[cfg(noclobber_loom)]
    pub fn new(value: T) -> Self {
        SeqLock {
            body: Body::new(value, Local::new()),
        }
    }

    #[cfg(all(test, not(noclobber_loom)))]
    pub(crate) fn body(&self) -> &Body<T, Local> {
        &self.body
    }

    /// Reads the value, retrying while a write is in progress.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new([1u8, 2, 3]);
    /// assert_eq!(lock.read(), [1, 2, 3]);
    /// ```
    #[inline]
    #[must_use]
    pub fn read(&self) -> T {
        self.body.read_versioned().value
    }

    /// Reads the value and the number of writes that produced it.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(1u32);
    /// lock.write(2);
    /// assert_eq!(lock.read_versioned(), noclobber::Versioned { value: 2, version: 1 });
    /// ```
    #[inline]
    #[must_use]
    pub fn read_versioned(&self) -> Versioned<T> {
        self.body.read_versioned()
    }

    /// One attempt at a consistent read: [`ReadError::Interrupted`] if a
    /// write was in progress. Never waits.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(5u16);
    /// lock.write(6);
    /// assert_eq!(lock.try_read(), Ok(noclobber::Versioned { value: 6, version: 1 }));
    /// ```
    #[inline]
    pub fn try_read(&self) -> Result<Versioned<T>, ReadError> {
        self.body.try_read()
    }

    /// Reads until a copy succeeds or `timeout` has passed:
    /// [`ReadError::TimedOut`] if a write was in progress at every attempt (a
    /// writer stopped or killed between its two sequence bumps, or writers
    /// that never pause).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = noclobber::SeqLock::new(4u8);
    /// assert_eq!(lock.read_timeout(Duration::from_millis(10)).map(|v| v.value), Ok(4));
    /// lock.update(|x| {
    ///     assert!(lock.read_timeout(Duration::from_millis(1)).is_err());
    ///     x
    /// });
    /// ```
    #[cfg(feature = "std")]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Result<Versioned<T>, ReadError> {
        self.body.read_timeout(timeout)
    }

    /// The number of completed writes.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(0u8);
    /// lock.write(1);
    /// lock.update(|x| x + 1);
    /// assert_eq!(lock.version(), 2);
    /// ```
    #[inline]
    #[must_use]
    pub fn version(&self) -> u64 {
        self.body.version()
    }

    /// Waits until a version newer than `seen` is written, then reads it;
    /// [`WaitError::TimedOut`] if none came within `timeout` (`Duration::MAX`
    /// waits for ever), and [`WaitError::Interrupted`] if one came but a writer
    /// held the lock from then until the deadline. The waiting thread sleeps (a
    /// futex on Linux, also across processes); writers pay nothing for it
    /// while nobody waits. A writer stopped or killed mid-write never keeps a
    /// waiter past its timeout.
    ///
    /// Returns at once if the version is already newer than `seen`, so a loop
    /// that passes the version it got last sees every write or skips forward.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let lock = Arc::new(noclobber::SeqLock::new(0u32));
    /// let l = Arc::clone(&lock);
    /// let waiter = std::thread::spawn(move || l.wait_newer(0, Duration::from_secs(10)));
    /// lock.write(5);
    /// assert_eq!(waiter.join().unwrap().unwrap().value, 5);
    /// assert_eq!(
    ///     lock.wait_newer(1, Duration::from_millis(1)),
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
    /// let lock = Arc::new(noclobber::SeqLock::new(0u32));
    /// let writer = std::thread::spawn({
    ///     let lock = Arc::clone(&lock);
    ///     move || lock.write(5)
    /// });
    /// // On any executor: tokio, smol, futures::executor::block_on.
    /// assert_eq!(block_on(lock.wait_newer_async(0)).unwrap().value, 5);
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

    /// Replaces the value; returns the new version.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(0u64);
    /// assert_eq!(lock.write(5), 1);
    /// assert_eq!(lock.write(6), 2);
    /// assert_eq!(lock.read(), 6);
    /// ```
    #[inline]
    pub fn write(&self, value: T) -> u64 {
        self.body.write(value)
    }

    /// Replaces the value unless another write is in progress:
    /// [`WriteError::Busy`] (nothing written) if another writer holds the
    /// sequence odd, instead of waiting for it like [`write`](Self::write).
    /// Never waits.
    ///
    /// The way out where a writer may be stopped or dead mid-write (a
    /// `shm::SharedSeqLock` whose writer process was killed between its two
    /// sequence bumps), and inside an [`update`](Self::update) closure on the
    /// same lock, where [`write`](Self::write) would spin forever.
    ///
    /// ```
    /// use noclobber::{SeqLock, WriteError};
    /// let lock = SeqLock::new(0u64);
    /// assert_eq!(lock.try_write(5), Ok(1));
    /// // Inside an update the lock is ours: a nested write would wait forever.
    /// lock.update(|x| {
    ///     assert_eq!(lock.try_write(9), Err(WriteError::Busy));
    ///     x + 1
    /// });
    /// assert_eq!(lock.read(), 6);
    /// ```
    pub fn try_write(&self, value: T) -> Result<u64, WriteError> {
        self.body.try_write(value)
    }

    /// [`write`](Self::write), waiting at most `timeout` for another writer to
    /// finish: [`WriteError::TimedOut`] (nothing written) if the sequence
    /// stayed odd, or other writers kept taking it, until then.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = noclobber::SeqLock::new([0u8; 4]);
    /// assert_eq!(lock.write_timeout([1; 4], Duration::from_millis(10)), Ok(1));
    /// ```
    #[cfg(feature = "std")]
    pub fn write_timeout(&self, value: T, timeout: std::time::Duration) -> Result<u64, WriteError> {
        self.body.write_timeout(value, timeout)
    }

    /// Writes `value` only if the version is still `expected_version`:
    /// `Ok(new_version)`, or `Err(current)` with what is there instead.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(1u32);
    /// let seen = lock.read_versioned();
    /// assert_eq!(lock.write_if(seen.version, 2), Ok(1));
    /// assert_eq!(lock.write_if(seen.version, 3).unwrap_err().value, 2);
    /// ```
    pub fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        self.body.write_if(expected_version, value)
    }

    /// Replaces the value with `f(value)` atomically: no other write can come
    /// between the read and the write. `f` runs with the write lock held, so it
    /// should be short. If `f` panics, the value and version stay unchanged and
    /// the lock is released.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(10i64);
    /// let now = lock.update(|x| x * 2);
    /// assert_eq!((now.value, now.version), (20, 1));
    /// ```
    ///
    /// # Do not touch the lock from `f`
    ///
    /// `f` runs while this writer holds the sequence odd, so a
    /// [`read`](Self::read), [`write`](Self::write) or `update` of the same lock
    /// inside `f` waits for `f` to return: it spins forever. `f` gets the
    /// current value as its argument; if it must call something that may touch
    /// the lock, the bounded forms return instead of spinning:
    /// [`try_read`](Self::try_read) and [`read_timeout`](Self::read_timeout)
    /// give an error, and so do [`try_write`](Self::try_write),
    /// [`write_timeout`](Self::write_timeout), [`try_update`](Self::try_update)
    /// and [`update_timeout`](Self::update_timeout), without writing.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(1u32);
    /// lock.update(|x| {
    ///     // `lock.read()` here would never return.
    ///     assert!(lock.try_read().is_err());
    ///     x + 1
    /// });
    /// assert_eq!(lock.read(), 2);
    /// ```
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        self.body.update(f)
    }

    /// [`update`](Self::update) where `f` may decline by returning `None`:
    /// `Ok(written)`, or `Err(current)`, the value `f` declined (nothing
    /// written, the version unchanged).
    ///
    /// ```
    /// let stock = noclobber::SeqLock::new(1u32);
    /// let take_one = |n: u32| n.checked_sub(1);
    /// assert_eq!(stock.checked_update(take_one).map(|v| v.value), Ok(0));
    /// assert_eq!(stock.checked_update(take_one).map_err(|v| v.version), Err(1));
    /// ```
    pub fn checked_update(
        &self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.body.checked_update(f)
    }

    /// [`update`](Self::update) unless another write is in progress:
    /// [`WriteError::Busy`] (`f` not called, nothing written) if another writer
    /// holds the sequence odd. Never waits, except for `f` itself.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(10u64);
    /// assert_eq!(lock.try_update(|x| x + 1).map(|v| v.value), Ok(11));
    /// lock.update(|x| {
    ///     // The lock is ours: a nested update is refused, not a deadlock.
    ///     assert!(lock.try_update(|y| y * 100).is_err());
    ///     x + 1
    /// });
    /// assert_eq!(lock.read(), 12);
    /// ```
    pub fn try_update(&self, f: impl FnOnce(T) -> T) -> Result<Versioned<T>, WriteError> {
        self.body.try_update(f)
    }

    /// [`update`](Self::update), waiting at most `timeout` for another writer
    /// to finish: [`WriteError::TimedOut`] (`f` not called, nothing written) if
    /// it did not.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = noclobber::SeqLock::new(2i32);
    /// let v = lock.update_timeout(|x| x * 3, Duration::from_millis(10));
    /// assert_eq!(v.map(|v| (v.value, v.version)), Ok((6, 1)));
    /// ```
    #[cfg(feature = "std")]
    pub fn update_timeout(
        &self,
        f: impl FnOnce(T) -> T,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WriteError> {
        self.body.update_timeout(f, timeout)
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(1i32);
    /// lock.write(-1);
    /// assert_eq!(lock.into_inner(), -1);
    /// ```
    #[must_use]
    pub fn into_inner(self) -> T {
        self.read()
    }
}

crate::read::readable_by_inherent!([T: NoUninit] SeqLock<T>);

/// ```
/// let lock: noclobber::SeqLock<[u16; 2]> = Default::default();
/// assert_eq!(lock.read_versioned(), noclobber::Versioned { value: [0, 0], version: 0 });
/// ```
impl<T: NoUninit + Default> Default for SeqLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

/// ```
/// let lock = noclobber::SeqLock::from([1.5f32, 2.5]);
/// assert_eq!(lock.read(), [1.5, 2.5]);
/// ```
impl<T: NoUninit> From<T> for SeqLock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

/// One attempt, never blocking.
///
/// ```
/// let lock = noclobber::SeqLock::new(3u8);
/// assert_eq!(format!("{lock:?}"), "SeqLock { value: 3, version: 0 }");
/// ```
impl<T: NoUninit + fmt::Debug> fmt::Debug for SeqLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_attempt("SeqLock", self.body.attempt(), f)
    }
}

/// `Debug` of every handle: the outcome of one attempt.
pub(crate) fn fmt_attempt<T: fmt::Debug>(
    name: &str,
    attempt: Result<Versioned<T>, Fault>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let mut s = f.debug_struct(name);
    match attempt {
        Ok(Versioned { value, version }) => s.field("value", &value).field("version", &version),
        Err(_) => s.field("value", &format_args!("<write in progress>")),
    };
    s.finish()
}
