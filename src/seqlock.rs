//! [`SeqLock`]: optimistic readers, writers bump a sequence.

use core::fmt;

use bytemuck::NoUninit;

use crate::notify::Notify;
use crate::sync::{fence, AtomicU64, Ordering, Spin};
use crate::words::{word_count, Buf, Words};
use crate::Versioned;

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
/// wait until it finishes; [`try_read`](Self::try_read) returns `None` meanwhile.
/// Use a [`Publisher`](crate::Publisher) when readers must never wait.
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
#[repr(C)]
pub struct SeqLock<T> {
    /// Four times the number of completed writes, plus 1 while a write runs,
    /// plus [`WAITING`] (2) while waiters may be asleep.
    seq: AtomicU64,
    /// The futex word waiters sleep on (`notify.rs`; its waiter count stays
    /// 0, N6).
    notify: Notify,
    words: Words<T>,
}

/// Bit of the sequence (N6 in `notify.rs`): a waiter may be asleep, so the
/// writer whose lock CAS finds it wakes waiters after its write (and clears
/// it). Bit 0 is set while a write runs; the bits above count writes, and
/// wrap at 2^62, which 5 ns writes reach in 700 years.
const WAITING: u64 = 2;

/// The version a sequence value stands for: the completed writes.
#[inline]
const fn version_of(seq: u64) -> u64 {
    seq >> 2
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
        let mut this = core::mem::MaybeUninit::<Self>::zeroed();
        // SAFETY: all zeroes is a valid `SeqLock<T>`: the sequence is an
        // `AtomicU64` (0: version 0, no write running), `notify` is two
        // `AtomicU32`s (0: no waiters, what `Notify::new` builds), and the payload
        // `Words<T>` is an `UnsafeCell` of integers and `MaybeUninit` bytes (the
        // shm module relies on the same to map a zeroed file). `Words<T>` holds
        // the value's bytes at its offset 0 followed by zeroes (its word `i` is
        // bytes `8 * i ..`, see `raw::Words::at`, and `Words::new` stores
        // `Buf::of(value)`: `T` at offset 0 in zeroed memory). The unaligned
        // write of `T` at the start of the zeroed payload, in bounds (the
        // payload is at least `size_of::<T>()` bytes), makes exactly that. `T:
        // NoUninit` has no padding, so every payload byte a word covers is
        // initialised. `tests::const_new_is_words_new` compares the two.
        unsafe {
            let words = &raw mut (*this.as_mut_ptr()).words;
            words.cast::<T>().write_unaligned(value);
            this.assume_init()
        }
    }

    /// Under loom: the payload words are loom atomics, which are not `const`.
    /// (Outside loom, `raw::Words::new` is only the reference that the
    /// `const fn` is tested against, see the anonymous `const` below.)
    #[cfg(noclobber_loom)]
    pub fn new(value: T) -> Self {
        SeqLock {
            seq: AtomicU64::new(0),
            notify: Notify::new(),
            words: Words::new(value),
        }
    }

    /// One attempt at a consistent read: `None` if a write was in progress.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(5u16);
    /// assert_eq!(lock.try_read(), Some(5));
    /// ```
    #[inline]
    #[must_use]
    pub fn try_read(&self) -> Option<T> {
        self.try_read_versioned().map(|v| v.value)
    }

    /// Like [`try_read`](Self::try_read), with the version read.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(5u16);
    /// lock.write(6);
    /// assert_eq!(lock.try_read_versioned(), Some(noclobber::Versioned { value: 6, version: 1 }));
    /// ```
    #[inline]
    #[must_use]
    pub fn try_read_versioned(&self) -> Option<Versioned<T>> {
        // Acquire: pairs with the Release store that ended the last write, so its
        // words (or newer ones) are what the loads below see.
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 == 1 {
            return None;
        }
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed: may race with a writer; validated below.
            buf.set(i, self.words.at(i).load(Ordering::Relaxed));
        }
        // Acquire fence: if any load above saw a word of a newer write, the
        // Release fence that writer issued after making the sequence odd
        // synchronises with this fence, so the load below sees the odd sequence
        // (or later) and the copy is rejected.
        fence(Ordering::Acquire);
        // Relaxed: ordered after the word loads by the fence above.
        if self.seq.load(Ordering::Relaxed) != seq {
            return None;
        }
        // SAFETY: the sequence was even and unchanged around the copy, so no
        // write overlapped it: the words are exactly those one writer stored
        // from `Buf::of` of one valid `T`.
        let value = unsafe { buf.assume_value() };
        Some(Versioned {
            value,
            version: version_of(seq),
        })
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
        self.read_versioned().value
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
        let spin = Spin::new();
        loop {
            if let Some(v) = self.try_read_versioned() {
                return v;
            }
            spin.snooze();
        }
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
        self.lock().commit(&Buf::of(value))
    }

    /// Replaces the value unless another write is in progress: `None` (and
    /// nothing written) if another writer holds the sequence odd, instead of
    /// waiting for it like [`write`](Self::write). Never waits.
    ///
    /// The way out where a writer may be stopped or dead mid-write (a
    /// `shm::SharedSeqLock` whose writer process was killed between its two
    /// sequence bumps), and inside an [`update`](Self::update) closure on the
    /// same lock, where [`write`](Self::write) would spin forever.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(0u64);
    /// assert_eq!(lock.try_write(5), Some(1));
    /// // Inside an update the lock is ours: a nested write would wait forever.
    /// lock.update(|x| {
    ///     assert_eq!(lock.try_write(9), None);
    ///     x + 1
    /// });
    /// assert_eq!(lock.read(), 6);
    /// ```
    #[must_use = "`None` means nothing was written"]
    pub fn try_write(&self, value: T) -> Option<u64> {
        Some(self.try_lock()?.commit(&Buf::of(value)))
    }

    /// [`write`](Self::write), waiting at most `timeout` for another writer to
    /// finish: `None` (nothing written) if the sequence stayed odd, or other
    /// writers kept taking it, until then.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = noclobber::SeqLock::new([0u8; 4]);
    /// assert_eq!(lock.write_timeout([1; 4], Duration::from_millis(10)), Some(1));
    /// ```
    #[cfg(feature = "std")]
    #[must_use = "`None` means nothing was written"]
    pub fn write_timeout(&self, value: T, timeout: std::time::Duration) -> Option<u64> {
        Some(self.lock_timeout(timeout)?.commit(&Buf::of(value)))
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
    /// give `None`, [`try_write`](Self::try_write),
    /// [`write_timeout`](Self::write_timeout), [`try_update`](Self::try_update)
    /// and [`update_timeout`](Self::update_timeout) give `None` without writing.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(1u32);
    /// lock.update(|x| {
    ///     // `lock.read()` here would never return.
    ///     assert_eq!(lock.try_read(), None);
    ///     x + 1
    /// });
    /// assert_eq!(lock.read(), 2);
    /// ```
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        self.lock().update(f)
    }

    /// [`update`](Self::update) unless another write is in progress: `None`
    /// (`f` not called, nothing written) if another writer holds the sequence
    /// odd. Never waits, except for `f` itself.
    ///
    /// ```
    /// let lock = noclobber::SeqLock::new(10u64);
    /// assert_eq!(lock.try_update(|x| x + 1).map(|v| v.value), Some(11));
    /// lock.update(|x| {
    ///     // The lock is ours: a nested update is refused, not a deadlock.
    ///     assert!(lock.try_update(|y| y * 100).is_none());
    ///     x + 1
    /// });
    /// assert_eq!(lock.read(), 12);
    /// ```
    #[must_use = "`None` means `f` did not run and nothing was written"]
    pub fn try_update(&self, f: impl FnOnce(T) -> T) -> Option<Versioned<T>> {
        Some(self.try_lock()?.update(f))
    }

    /// [`update`](Self::update), waiting at most `timeout` for another writer
    /// to finish: `None` (`f` not called, nothing written) if it did not.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = noclobber::SeqLock::new(2i32);
    /// let v = lock.update_timeout(|x| x * 3, Duration::from_millis(10));
    /// assert_eq!(v.map(|v| (v.value, v.version)), Some((6, 1)));
    /// ```
    #[cfg(feature = "std")]
    #[must_use = "`None` means `f` did not run and nothing was written"]
    pub fn update_timeout(
        &self,
        f: impl FnOnce(T) -> T,
        timeout: std::time::Duration,
    ) -> Option<Versioned<T>> {
        Some(self.lock_timeout(timeout)?.update(f))
    }

    /// Reads until a copy succeeds or `timeout` has passed: `None` if a write
    /// was in progress at every attempt (a writer stopped or killed between its
    /// two sequence bumps, or writers that never pause).
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = noclobber::SeqLock::new(4u8);
    /// assert_eq!(lock.read_timeout(Duration::from_millis(10)).map(|v| v.value), Some(4));
    /// lock.update(|x| {
    ///     assert_eq!(lock.read_timeout(Duration::from_millis(1)), None);
    ///     x
    /// });
    /// ```
    #[cfg(feature = "std")]
    #[must_use]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Option<Versioned<T>> {
        self.read_until(crate::notify::deadline(timeout))
    }

    /// `try_read_versioned` until it succeeds or `deadline` has passed.
    #[cfg(feature = "std")]
    fn read_until(&self, deadline: Option<std::time::Instant>) -> Option<Versioned<T>> {
        let spin = Spin::new();
        loop {
            if let Some(v) = self.try_read_versioned() {
                return Some(v);
            }
            if crate::notify::passed(deadline) {
                return None;
            }
            spin.snooze();
        }
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
        // Acquire: a caller that sees version n also sees the n-th write.
        version_of(self.seq.load(Ordering::Acquire))
    }

    /// Waits until a version newer than `seen` is written, then reads it;
    /// [`ReadError::TimedOut`](crate::ReadError::TimedOut) if none came within
    /// `timeout` (`Duration::MAX` waits for ever), and
    /// [`ReadError::Lapped`](crate::ReadError::Lapped) if one came but a
    /// writer held the lock from then until the deadline.
    /// The waiting thread sleeps (a futex on Linux, also across processes)
    /// and uses no CPU meanwhile; writers pay nothing for it while nobody
    /// waits. A writer stopped or killed mid-write never keeps a waiter past
    /// its timeout.
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
    ///     Err(noclobber::ReadError::TimedOut)
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, crate::ReadError> {
        use crate::notify::Seen;
        let seen_in = |seq: u64| match version_of(seq) > seen {
            true => Seen::Newer,
            // N6 in `notify.rs`: this writer took the lock before
            // our announcement, and may not wake us.
            false if seq & 1 == 1 => Seen::Writing,
            false => Seen::Same,
        };
        let check = || {
            // Acquire: as in `version`.
            let mut seq = self.seq.load(Ordering::Acquire);
            loop {
                if seen_in(seq) != Seen::Same {
                    return seen_in(seq);
                }
                // N6: not newer and even, so announce, by a CAS from the
                // value checked: it fails if a writer took the lock
                // meanwhile, and the value found is judged instead. Release:
                // the caller's `epoch` load comes before it, for the
                // writer's Acquire CAS that reads the flag. Acquire (both):
                // as above.
                let flagged = seq | WAITING;
                match self
                    .seq
                    .compare_exchange(seq, flagged, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return Seen::Same,
                    Err(found) => seq = found,
                }
            }
        };
        let how = crate::notify::Announce::InCheck;
        crate::notify::wait_newer(&self.notify, timeout, how, check, |deadline| {
            // `None`: a newer version exists, but a writer holds the lock.
            self.read_until(deadline).ok_or(crate::ReadError::Lapped)
        })
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

    fn lock(&self) -> WriteGuard<'_, T> {
        let spin = Spin::new();
        // Relaxed: only a hint; the CAS in `try_lock_at` is what orders.
        let mut seq = self.seq.load(Ordering::Relaxed);
        loop {
            if seq & 1 == 1 {
                spin.snooze();
                // Relaxed: as above.
                seq = self.seq.load(Ordering::Relaxed);
                continue;
            }
            match self.try_lock_at(seq, false) {
                Ok(guard) => return guard,
                Err(actual) => seq = actual,
            }
            spin.spin();
        }
    }

    /// One attempt at the write lock: `None` if another writer holds the
    /// sequence odd. A CAS that fails only because other writers completed
    /// meanwhile (or spuriously) is retried a few times, since the lock was
    /// free then; a writer that keeps writing can still make this `None`.
    fn try_lock(&self) -> Option<WriteGuard<'_, T>> {
        // Relaxed: only a hint; the CAS in `try_lock_at` is what orders.
        let mut seq = self.seq.load(Ordering::Relaxed);
        for _ in 0..4 {
            if seq & 1 == 1 {
                return None;
            }
            match self.try_lock_at(seq, true) {
                Ok(guard) => return Some(guard),
                Err(actual) => seq = actual,
            }
        }
        None
    }

    /// [`try_lock`](Self::try_lock) until `timeout` has passed.
    #[cfg(feature = "std")]
    fn lock_timeout(&self, timeout: std::time::Duration) -> Option<WriteGuard<'_, T>> {
        let start = std::time::Instant::now();
        let spin = Spin::new();
        loop {
            if let Some(guard) = self.try_lock() {
                return Some(guard);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            spin.snooze();
        }
    }

    /// Takes the write lock if the sequence is still the even `seq`;
    /// otherwise returns the sequence found. `strong`: a CAS that cannot fail
    /// spuriously, for the bounded forms, which must not give up on a free
    /// lock (Miri's spurious weak-CAS failures made `try_write` do so);
    /// `lock` retries anyway and uses the weak one.
    #[inline]
    fn try_lock_at(&self, seq: u64, strong: bool) -> Result<WriteGuard<'_, T>, u64> {
        debug_assert!(seq & 1 == 0);
        // Acquire: pairs with the Release store that ended the previous
        // write, so our word loads (in `update`) see its stores and our word
        // stores come after them; and (N6 in `notify.rs`) with a waiter's
        // Release RMW that set the `WAITING` flag we find. Failure Relaxed:
        // the value found is only a hint for the next attempt.
        let (success, failure) = (Ordering::Acquire, Ordering::Relaxed);
        if strong {
            self.seq.compare_exchange(seq, seq + 1, success, failure)?;
        } else {
            self.seq
                .compare_exchange_weak(seq, seq + 1, success, failure)?;
        }
        // Release fence: keeps the word stores that follow from being seen
        // before the odd sequence; pairs with the reader's Acquire fence.
        fence(Ordering::Release);
        Ok(WriteGuard { lock: self, seq })
    }
}

/// `raw::Words::new` builds the payload under loom; outside loom it is the
/// reference `SeqLock::new` is checked against (`tests::const_new_is_words_new`),
/// so it stays, and this use keeps the build free of a dead-code warning.
#[cfg(not(noclobber_loom))]
const _: fn(u64) -> Words<u64> = Words::new;

/// In-place construction for [`crate::shm`] (see `Publisher::init_in_place`).
#[cfg(all(feature = "shm", not(noclobber_loom)))]
impl<T: NoUninit> SeqLock<T> {
    /// Size, alignment, payload words and field offsets, hashed into the
    /// header of a shared mapping.
    pub(crate) const LAYOUT: [usize; 6] = [
        core::mem::size_of::<Self>(),
        core::mem::align_of::<Self>(),
        word_count::<T>(),
        core::mem::offset_of!(Self, seq),
        core::mem::offset_of!(Self, notify),
        core::mem::offset_of!(Self, words),
    ];

    /// Stores every atomic so that `self` holds the state `SeqLock::new(value)`
    /// builds. The caller must ensure nobody uses the object meanwhile, and
    /// publish the stores afterwards with a Release store.
    pub(crate) fn init_in_place(&self, value: T) {
        let buf = Buf::of(value);
        for i in 0..word_count::<T>() {
            // Relaxed: published by the caller's Release store.
            self.words.at(i).store(buf.word(i), Ordering::Relaxed);
        }
        self.notify.init_in_place();
        // Relaxed: as above.
        self.seq.store(0, Ordering::Relaxed);
    }
}

/// The read side on a read-only mapping (`shm::SharedSeqLockReader`): std
/// documents atomic loads on read-only memory only for `Relaxed` loads of at
/// most a register's width, so these use nothing else (and exist only where
/// a 64-bit word is a register), with fences for the ordering.
#[cfg(all(feature = "shm", not(noclobber_loom), target_pointer_width = "64"))]
impl<T: NoUninit> SeqLock<T> {
    /// [`try_read_versioned`](Self::try_read_versioned) by `Relaxed` loads.
    pub(crate) fn try_read_loads_only(&self) -> Option<Versioned<T>> {
        // Relaxed, then an Acquire fence: together an Acquire load (a fence
        // after a load that reads a Release store synchronises with it), as
        // in `try_read_versioned`.
        let seq = self.seq.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if seq & 1 == 1 {
            return None;
        }
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed: as in `try_read_versioned`.
            buf.set(i, self.words.at(i).load(Ordering::Relaxed));
        }
        // Acquire fence and Relaxed load: as in `try_read_versioned`.
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != seq {
            return None;
        }
        // SAFETY: as in `try_read_versioned`: the same loads and fences.
        let value = unsafe { buf.assume_value() };
        Some(Versioned {
            value,
            version: version_of(seq),
        })
    }

    /// [`read_versioned`](Self::read_versioned) by `Relaxed` loads.
    pub(crate) fn read_loads_only(&self) -> Versioned<T> {
        let spin = Spin::new();
        loop {
            if let Some(v) = self.try_read_loads_only() {
                return v;
            }
            spin.snooze();
        }
    }

    /// [`read_timeout`](Self::read_timeout) by `Relaxed` loads.
    pub(crate) fn read_timeout_loads_only(
        &self,
        timeout: std::time::Duration,
    ) -> Option<Versioned<T>> {
        let deadline = crate::notify::deadline(timeout);
        let spin = Spin::new();
        loop {
            if let Some(v) = self.try_read_loads_only() {
                return Some(v);
            }
            if crate::notify::passed(deadline) {
                return None;
            }
            spin.snooze();
        }
    }

    /// [`version`](Self::version) by a `Relaxed` load.
    pub(crate) fn version_loads_only(&self) -> u64 {
        // Relaxed, then an Acquire fence: as in `try_read_loads_only`.
        let seq = self.seq.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        version_of(seq)
    }
}

/// The body check of a shared file (`shm::SharedSeqLock::open`).
#[cfg(all(feature = "shm", not(noclobber_loom)))]
impl<T: NoUninit> SeqLock<T> {
    /// How long [`validate`](Self::validate) waits for an odd sequence to move.
    pub(crate) const ODD_PATIENCE: std::time::Duration = std::time::Duration::from_millis(50);

    /// Checks that the sequence is even, or odd only while a live writer
    /// holds it: an odd sequence must move within `patience` (a write takes
    /// nanoseconds). Otherwise a writer stopped or killed mid-write, or damage,
    /// left it odd, and every reader and writer would spin on it forever.
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

/// Holds the sequence odd; dropping it without `commit` (a panic in `update`)
/// restores the even value it found, with nothing written.
struct WriteGuard<'a, T: NoUninit> {
    lock: &'a SeqLock<T>,
    /// The even sequence our CAS replaced, with its `WAITING` flag.
    seq: u64,
}

impl<T: NoUninit> WriteGuard<'_, T> {
    fn current(&self) -> T {
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed: we hold the lock, and acquired the last writer's stores.
            buf.set(i, self.lock.words.at(i).load(Ordering::Relaxed));
        }
        // SAFETY: no other writer can run while the sequence is odd and ours,
        // so these are the words of the last complete write of a valid `T`.
        unsafe { buf.assume_value() }
    }

    /// Runs `f` on the current value and writes the result; if `f` panics,
    /// dropping `self` restores the sequence with nothing written.
    fn update(self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        let value = f(self.current());
        let version = self.commit(&Buf::of(value));
        Versioned { value, version }
    }

    fn commit(self, buf: &Buf<T>) -> u64 {
        for i in 0..word_count::<T>() {
            // Relaxed: ordered after the odd sequence by the Release fence in
            // `lock`, and before the even one by the Release store below.
            self.lock.words.at(i).store(buf.word(i), Ordering::Relaxed);
        }
        if self.seq & WAITING != 0 {
            return self.commit_flagged();
        }
        // One write more. Wrapping: 2^62 writes are out of reach, but a
        // corrupt shared mapping may start anywhere; a wrapped sequence is
        // still even and new.
        let next = self.seq.wrapping_add(4);
        // Release: publishes the words to readers (Acquire load of `seq`) and to
        // the next writer (Acquire CAS).
        self.lock.seq.store(next, Ordering::Release);
        core::mem::forget(self);
        version_of(next)
    }

    /// The end of a write whose lock CAS found the `WAITING` flag (N6 in
    /// `notify.rs`): one write more without the flag (adding 2 carries it
    /// into the count), then wakes the waiters that set it; later ones found
    /// the odd sequence, and poll.
    #[cold]
    #[inline(never)]
    fn commit_flagged(self) -> u64 {
        let next = self.seq.wrapping_add(2);
        // Release: as in `commit`.
        self.lock.seq.store(next, Ordering::Release);
        self.lock.notify.wake_announced();
        core::mem::forget(self);
        version_of(next)
    }
}

impl<T: NoUninit> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // Relaxed: the Release fence in `lock()` is sequenced before this store
        // and nothing was written since, so whoever reads the restored sequence
        // with Acquire (a reader, the next writer's CAS) synchronises with that
        // fence and sees the last write, which our Acquire CAS had acquired.
        // Readers that straddle the odd period still see one value. The
        // restored `WAITING` flag keeps its waiters announced for the next
        // writer; waiters that came meanwhile found the odd sequence and
        // announce themselves once it is even again (N6).
        self.lock.seq.store(self.seq, Ordering::Relaxed);
    }
}

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

/// ```
/// let lock = noclobber::SeqLock::new(3u8);
/// assert_eq!(format!("{lock:?}"), "SeqLock { value: 3, version: 0 }");
/// ```
impl<T: NoUninit + fmt::Debug> fmt::Debug for SeqLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read_versioned() {
            Some(Versioned { value, version }) => f
                .debug_struct("SeqLock")
                .field("value", &value)
                .field("version", &version)
                .finish(),
            None => f.write_str("SeqLock { <write in progress> }"),
        }
    }
}

#[cfg(all(test, not(noclobber_loom)))]
mod tests {
    use super::*;

    /// The `const fn new` builds exactly what `Words::new` builds: every
    /// payload word and the sequence agree (run under Miri too, which would
    /// also report an uninitialised byte in a word).
    fn const_new_matches<T: NoUninit + PartialEq + fmt::Debug>(value: T) {
        let constant = SeqLock::new(value);
        let reference = SeqLock {
            seq: AtomicU64::new(0),
            notify: Notify::new(),
            words: Words::new(value),
        };
        for i in 0..word_count::<T>() {
            assert_eq!(
                constant.words.at(i).load(Ordering::Relaxed),
                reference.words.at(i).load(Ordering::Relaxed),
                "word {i} of {}",
                core::any::type_name::<T>()
            );
        }
        assert_eq!(constant.seq.load(Ordering::Relaxed), 0);
        assert_eq!(constant.read_versioned(), reference.read_versioned());
        assert_eq!(constant.read(), value);
    }

    #[derive(Clone, Copy, PartialEq, Debug, bytemuck::NoUninit)]
    #[repr(C)]
    struct Odd {
        a: [u8; 3],
        b: [u8; 2],
    }

    #[test]
    fn const_new_is_words_new() {
        const_new_matches(());
        const_new_matches(0xabu8);
        const_new_matches(0x0102_0304_0506_0708u64);
        const_new_matches([7u8; 9]);
        const_new_matches([1u64, 2, 3, 4]);
        const_new_matches([u16::MAX; 13]);
        const_new_matches(Odd {
            a: [1, 2, 3],
            b: [4, 5],
        });
    }

    static STATIC: SeqLock<[u64; 3]> = SeqLock::new([1, 2, 3]);

    #[test]
    fn static_seqlock_reads_and_writes() {
        assert_eq!(STATIC.read(), [1, 2, 3]);
        let v = STATIC.write([4, 5, 6]);
        assert_eq!(
            STATIC.read_versioned(),
            Versioned {
                value: [4, 5, 6],
                version: v
            }
        );
    }

    /// N6 in `notify.rs`: a waiter about to sleep sets `WAITING` on the even
    /// sequence; versions do not count it; the next write clears it and
    /// wakes the waiter; an aborted write (a panic in `update`) keeps it for
    /// the write after.
    #[cfg(feature = "std")]
    #[test]
    fn a_sleeping_waiter_flags_the_sequence_until_the_next_write() {
        use std::time::{Duration, Instant};
        let lock = SeqLock::new(5u64);
        let flagged = || lock.seq.load(Ordering::Relaxed) & WAITING != 0;
        let wait_for_flag = || {
            let start = Instant::now();
            while !flagged() {
                assert!(start.elapsed() < Duration::from_secs(30), "no flag");
                std::thread::yield_now();
            }
        };
        std::thread::scope(|s| {
            let waiter = s.spawn(|| lock.wait_newer(0, Duration::from_secs(60)));
            wait_for_flag();
            assert_eq!(
                (lock.version(), lock.read()),
                (0, 5),
                "the flag is no version"
            );
            // An aborted write restores the flag with the sequence.
            let aborted = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
                lock.update(|_| panic!("abort"));
            }));
            assert!(aborted.is_err() && flagged() && lock.version() == 0);
            assert_eq!(lock.write(6), 1);
            assert!(!flagged(), "the write that found the flag clears it");
            let v = waiter.join().unwrap().unwrap();
            assert_eq!((v.value, v.version), (6, 1));
        });
        // With nobody waiting, writes leave it clear.
        assert_eq!(lock.write(7), 2);
        assert!(!flagged());
    }

    /// #12: the open check of a shared `SeqLock`: an even sequence, or an odd
    /// one that a live writer moves, passes; one that stays odd is refused.
    #[cfg(feature = "shm")]
    #[test]
    fn validate_refuses_only_a_sequence_that_stays_odd() {
        use std::time::Duration;
        let lock = SeqLock::new([1u64; 2]);
        assert_eq!(lock.validate(Duration::ZERO), Ok(()));
        lock.write([2; 2]);
        assert_eq!(lock.validate(Duration::ZERO), Ok(()));
        // A writer in the middle of a write that it finishes.
        std::thread::scope(|s| {
            let lock = &lock;
            let guard = lock.lock();
            let (go, started) = std::sync::mpsc::channel();
            let checker = s.spawn(move || {
                go.send(()).unwrap();
                lock.validate(Duration::from_secs(600))
            });
            started.recv().unwrap();
            std::thread::sleep(Duration::from_millis(5));
            guard.commit(&Buf::of([3; 2]));
            assert_eq!(checker.join().unwrap(), Ok(()));
        });
        // Odd for good: a writer that died mid-write, or damage.
        lock.seq.store(7, Ordering::Relaxed);
        let err = lock.validate(Duration::from_millis(5)).unwrap_err();
        assert!(
            err.contains("the sequence is 7, odd, and did not move"),
            "{err}"
        );
        lock.seq.store(8, Ordering::Relaxed);
        assert_eq!(lock.validate(Duration::ZERO), Ok(()));
    }
}
