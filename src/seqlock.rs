//! [`SeqLock`]: optimistic readers, writers bump a sequence.

use core::fmt;

use bytemuck::NoUninit;

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
    /// Twice the number of completed writes, plus one while a write runs.
    seq: AtomicU64,
    words: Words<T>,
}

impl<T: NoUninit> SeqLock<T> {
    /// A lock holding `value` at version 0.
    pub fn new(value: T) -> Self {
        SeqLock {
            seq: AtomicU64::new(0),
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
    pub fn try_read(&self) -> Option<T> {
        self.try_read_versioned().map(|v| v.value)
    }

    /// Like [`try_read`](Self::try_read), with the version read.
    #[inline]
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
            version: seq / 2,
        })
    }

    /// Reads the value, retrying while a write is in progress.
    #[inline]
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
    pub fn write(&self, value: T) -> u64 {
        self.lock().commit(&Buf::of(value))
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
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        let guard = self.lock();
        let value = f(guard.current());
        let version = guard.commit(&Buf::of(value));
        Versioned { value, version }
    }

    /// The number of completed writes.
    #[inline]
    pub fn version(&self) -> u64 {
        // Acquire: a caller that sees version n also sees the n-th write.
        self.seq.load(Ordering::Acquire) / 2
    }

    /// Consumes the lock and returns the value.
    pub fn into_inner(self) -> T {
        self.read()
    }

    fn lock(&self) -> WriteGuard<'_, T> {
        let spin = Spin::new();
        // Relaxed: only a hint; the CAS below is what orders.
        let mut seq = self.seq.load(Ordering::Relaxed);
        loop {
            if seq & 1 == 1 {
                spin.snooze();
                seq = self.seq.load(Ordering::Relaxed);
                continue;
            }
            // Acquire: pairs with the Release store that ended the previous
            // write, so our word loads (in `update`) see its stores and our word
            // stores come after them.
            match self
                .seq
                .compare_exchange_weak(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => seq = actual,
            }
            spin.spin();
        }
        // Release fence: keeps the word stores that follow from being seen
        // before the odd sequence; pairs with the reader's Acquire fence.
        fence(Ordering::Release);
        WriteGuard { lock: self, seq }
    }
}

/// In-place construction for [`crate::shm`] (see `Publisher::init_in_place`).
#[cfg(all(feature = "shm", not(noclobber_loom)))]
impl<T: NoUninit> SeqLock<T> {
    /// Size, alignment, payload words and field offsets, hashed into the
    /// header of a shared mapping.
    pub(crate) const LAYOUT: [usize; 5] = [
        core::mem::size_of::<Self>(),
        core::mem::align_of::<Self>(),
        word_count::<T>(),
        core::mem::offset_of!(Self, seq),
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
        // Relaxed: as above.
        self.seq.store(0, Ordering::Relaxed);
    }
}

/// Holds the sequence odd; dropping it without `commit` (a panic in `update`)
/// restores the even value it found, with nothing written.
struct WriteGuard<'a, T: NoUninit> {
    lock: &'a SeqLock<T>,
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

    fn commit(self, buf: &Buf<T>) -> u64 {
        for i in 0..word_count::<T>() {
            // Relaxed: ordered after the odd sequence by the Release fence in
            // `lock`, and before the even one by the Release store below.
            self.lock.words.at(i).store(buf.word(i), Ordering::Relaxed);
        }
        // Wrapping: 2^63 writes are out of reach, but a corrupt shared mapping
        // may start anywhere; a wrapped sequence is still even and new.
        let next = self.seq.wrapping_add(2);
        // Release: publishes the words to readers (Acquire load of `seq`) and to
        // the next writer (Acquire CAS).
        self.lock.seq.store(next, Ordering::Release);
        core::mem::forget(self);
        next / 2
    }
}

impl<T: NoUninit> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // Relaxed: the Release fence in `lock()` is sequenced before this store
        // and nothing was written since, so whoever reads the restored sequence
        // with Acquire (a reader, the next writer's CAS) synchronises with that
        // fence and sees the last write, which our Acquire CAS had acquired.
        // Readers that straddle the odd period still see one value.
        self.lock.seq.store(self.seq, Ordering::Relaxed);
    }
}

impl<T: NoUninit + Default> Default for SeqLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: NoUninit> From<T> for SeqLock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

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
