//! The writer's side of the [`SeqLock`](super::SeqLock): taking the lock (an
//! even sequence made odd by CAS) and the guard that ends the write.

use bytemuck::NoUninit;

use super::{version_of, Body, WAITING};
use crate::notify::Listeners;
use crate::sync::{fence, Ordering, Spin};
use crate::words::Buf;
use crate::Versioned;

impl<T: NoUninit, E: Listeners> Body<T, E> {
    pub(super) fn lock(&self) -> WriteGuard<'_, T, E> {
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
    pub(super) fn try_lock(&self) -> Option<WriteGuard<'_, T, E>> {
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
    pub(super) fn lock_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Option<WriteGuard<'_, T, E>> {
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
    /// lock (Miri makes weak CASes fail spuriously); `lock` retries anyway
    /// and uses the weak one.
    #[inline]
    fn try_lock_at(&self, seq: u64, strong: bool) -> Result<WriteGuard<'_, T, E>, u64> {
        debug_assert!(seq & 1 == 0);
        // Acquire: pairs with the Release store that ended the previous
        // write, so our word loads (in `update`) see its stores and our word
        // stores come after them; and (N6 in `notify/mod.rs`) with a waiter's
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

impl<T: NoUninit, E: Listeners> Body<T, E> {
    /// `write_if` of every handle: under the lock, so nothing can come
    /// between the version check and the write.
    pub(crate) fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        let guard = self.lock();
        let current = guard.current();
        if current.version != expected_version {
            // Dropping the guard restores the sequence, nothing written.
            return Err(current);
        }
        Ok(guard.commit(&Buf::of(value)))
    }
}

/// Holds the sequence odd; dropping it without `commit` (a panic in `update`,
/// a declined `checked_update`) restores the even value it found, with nothing
/// written.
pub(super) struct WriteGuard<'a, T: NoUninit, E: Listeners> {
    lock: &'a Body<T, E>,
    /// The even sequence our CAS replaced, with its `WAITING` flag.
    seq: u64,
}

impl<T: NoUninit, E: Listeners> WriteGuard<'_, T, E> {
    pub(super) fn current(&self) -> Versioned<T> {
        // Relaxed (inside): we hold the lock, and acquired the last writer's
        // stores.
        let buf = self.lock.words.load_relaxed();
        // SAFETY: no other writer can run while the sequence is odd and ours,
        // so these are the words of the last complete write of a valid `T`.
        let value = unsafe { buf.assume_value() };
        Versioned {
            value,
            version: version_of(self.seq),
        }
    }

    /// Runs `f` on the current value and writes the result; if `f` panics,
    /// dropping `self` restores the sequence with nothing written.
    pub(super) fn update(self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        let value = f(self.current().value);
        let version = self.commit(&Buf::of(value));
        Versioned { value, version }
    }

    /// [`update`](Self::update) where `f` may decline (then nothing is
    /// written: dropping `self` restores the sequence).
    pub(super) fn checked_update(
        self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        let current = self.current();
        let Some(value) = f(current.value) else {
            return Err(current);
        };
        let version = self.commit(&Buf::of(value));
        Ok(Versioned { value, version })
    }

    pub(super) fn commit(self, buf: &Buf<T>) -> u64 {
        // Relaxed (inside): ordered after the odd sequence by the Release
        // fence in `try_lock_at`, and before the even one by the Release
        // store below.
        self.lock.words.store_relaxed(buf);
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
    /// `notify/mod.rs`): one write more without the flag (adding 2 carries it
    /// into the count), then wakes the waiters that set it; later ones found
    /// the odd sequence, and poll.
    #[cold]
    #[inline(never)]
    fn commit_flagged(self) -> u64 {
        let next = self.seq.wrapping_add(2);
        // Release: as in `commit`.
        self.lock.seq.store(next, Ordering::Release);
        self.lock.notify.wake_announced();
        self.lock.also.wake(&self.lock.notify);
        core::mem::forget(self);
        version_of(next)
    }
}

impl<T: NoUninit, E: Listeners> Drop for WriteGuard<'_, T, E> {
    fn drop(&mut self) {
        // Relaxed: the Release fence in `try_lock_at` is sequenced before this
        // store and nothing was written since, so whoever reads the restored
        // sequence with Acquire (a reader, the next writer's CAS)
        // synchronises with that fence and sees the last write, which our
        // Acquire CAS had acquired. Readers that straddle the odd period still
        // see one value. The restored `WAITING` flag keeps its waiters
        // announced for the next writer; waiters that came meanwhile found the
        // odd sequence and announce themselves once it is even again (N6).
        self.lock.seq.store(self.seq, Ordering::Relaxed);
    }
}
