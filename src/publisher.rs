//! [`Publisher`]: Raymond Chen's slot-ring publishing pattern, made safe against
//! lapped readers and lapped writers.

use core::fmt;

use bytemuck::NoUninit;
use crossbeam_utils::CachePadded;

use crate::notify::{Notify, Published};
use crate::ring::{Ring, Slot, Tickets};
use crate::sync::AtomicU128;
use crate::{ReadError, Versioned};

/// A ring of `SLOTS` slots: a writer fills a free slot, then publishes it; readers
/// copy the latest published slot and never wait, not even for a writer that
/// stopped forever in the middle of a publication.
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
///   mid-publication (so use `SLOTS >= 3` if writers can be stopped, e.g. in a
///   debugger). In a shared file, claims of writer processes that died are
///   given back (`shm`).
/// * **Versions** count publications: the initial value is version 0, each
///   publication adds exactly 1.
///
/// With a single writer, prefer [`SoloPublisher`](crate::SoloPublisher): the
/// same guarantees for readers at about the cost of a `SeqLock` read, since no
/// word needs a writer's tag when nobody can lap the writer.
///
/// `SLOTS < 2` does not compile. The type is `#[repr(C)]` and holds no
/// pointers, so it can live in memory shared between processes (feature `shm`).
///
/// # Example
///
/// ```
/// use noclobber::Publisher;
///
/// let config: Publisher<[u32; 4], 4> = Publisher::new([0; 4]);
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         for i in 1..=100 {
///             config.publish([i; 4]);
///         }
///     });
///     s.spawn(|| {
///         let snapshot = config.read();
///         // Never torn: all four words come from one publication.
///         assert!(snapshot.iter().all(|&w| w == snapshot[0]));
///     });
/// });
/// assert_eq!(config.read_versioned().version, 100);
/// ```
///
/// ```compile_fail
/// // A ring needs at least two slots.
/// let p: noclobber::Publisher<u64, 1> = noclobber::Publisher::new(0);
/// ```
#[repr(C)]
pub struct Publisher<T, const SLOTS: usize> {
    head: CachePadded<AtomicU128>,
    /// Ticket counter and owner table (`ring.rs`), touched by writers only.
    tickets: CachePadded<Tickets>,
    /// Readers waiting for a newer version (`notify.rs`); beside the
    /// writers' `tickets`, away from the head readers load.
    notify: Notify,
    slots: [CachePadded<Slot<T>>; SLOTS],
}

impl<T: NoUninit, const SLOTS: usize> Publisher<T, SLOTS> {
    pub(crate) const AT_LEAST_TWO_SLOTS: () =
        assert!(SLOTS >= 2, "a Publisher needs at least 2 slots");

    /// A publisher whose first published value (version 0) is `value`.
    ///
    /// Not a `const fn` in this release: for a `static`, wrap it in a
    /// `std::sync::LazyLock` (or use a [`SeqLock`](crate::SeqLock), whose `new`
    /// is `const`).
    ///
    /// ```
    /// let p: noclobber::Publisher<[u8; 3], 2> = noclobber::Publisher::new([1, 2, 3]);
    /// assert_eq!(p.read_versioned(), noclobber::Versioned { value: [1, 2, 3], version: 0 });
    ///
    /// static SHARED: std::sync::LazyLock<noclobber::Publisher<u64, 3>> =
    ///     std::sync::LazyLock::new(|| noclobber::Publisher::new(0));
    /// assert_eq!(SHARED.publish(1), 1);
    /// ```
    #[must_use]
    pub fn new(value: T) -> Self {
        let () = Self::AT_LEAST_TWO_SLOTS;
        // Ticket 1 is the initial value, in slot 1; the other slots hold claim 0,
        // older than the head, hence free.
        let slots = core::array::from_fn(|i| CachePadded::new(Slot::new(u64::from(i == 1), value)));
        Publisher {
            head: CachePadded::new(AtomicU128::new(crate::words::pack(0, 1))),
            tickets: CachePadded::new(Tickets::new(1)),
            notify: Notify::new(),
            slots,
        }
    }

    #[inline]
    pub(crate) fn ring(&self) -> Ring<'_, T, SLOTS> {
        Ring {
            head: &self.head,
            tickets: &self.tickets,
            slots: &self.slots,
        }
    }

    /// Publishes `value`; returns its version.
    ///
    /// ```
    /// let p: noclobber::Publisher<u64, 2> = noclobber::Publisher::new(0);
    /// assert_eq!(p.publish(42), 1);
    /// assert_eq!(p.read(), 42);
    /// ```
    pub fn publish(&self, value: T) -> u64 {
        let version = self.ring().publish(value);
        // The head CAS that published is SeqCst (N1, N4 in `notify.rs`).
        self.notify.wake(Published::BySeqCstRmw);
        version
    }

    /// Publishes `value` unless no slot is free: `None` (nothing published)
    /// if every slot but the published one is held by writers in the middle
    /// of a publication, stopped, or (in a shared file) killed there, where
    /// [`publish`](Self::publish) would wait for one of them. Tries `SLOTS`
    /// tickets; a commit lost to another writer is retried, since that writer
    /// made progress (lock-free, like `publish`).
    ///
    /// ```
    /// let p: noclobber::Publisher<u64, 3> = noclobber::Publisher::new(0);
    /// assert_eq!(p.try_publish(5), Some(1));
    /// assert_eq!(p.read(), 5);
    /// ```
    #[cfg(feature = "std")]
    #[must_use = "`None` means nothing was published"]
    pub fn try_publish(&self, value: T) -> Option<u64> {
        self.ring().try_publish(value, None).ok()
    }

    /// [`publish`](Self::publish), waiting at most `timeout` for a slot to
    /// become free: `None` (nothing published) if none did.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p: noclobber::Publisher<[u8; 4], 2> = noclobber::Publisher::new([0; 4]);
    /// assert_eq!(p.publish_timeout([1; 4], Duration::from_millis(10)), Some(1));
    /// // A timeout past the clock's range waits as long as `publish` would.
    /// assert_eq!(p.publish_timeout([2; 4], Duration::MAX), Some(2));
    /// ```
    #[cfg(feature = "std")]
    #[must_use = "`None` means nothing was published"]
    pub fn publish_timeout(&self, value: T, timeout: std::time::Duration) -> Option<u64> {
        match crate::notify::deadline(timeout) {
            Some(deadline) => self.ring().try_publish(value, Some(deadline)).ok(),
            // `Instant + timeout` would overflow (and panic): no deadline.
            None => Some(self.publish(value)),
        }
    }

    /// Publishes `value` only if the published version is still
    /// `expected_version`: the answer when the new value depends on the old.
    /// `Ok(new_version)` or `Err(current)`.
    ///
    /// ```
    /// let p: noclobber::Publisher<u32, 3> = noclobber::Publisher::new(1);
    /// let seen = p.read_versioned();
    /// assert_eq!(p.publish_if(seen.version, seen.value * 10), Ok(1));
    /// // A second writer with the same stale view is refused.
    /// let now = p.publish_if(seen.version, seen.value + 1).unwrap_err();
    /// assert_eq!((now.value, now.version), (10, 1));
    /// ```
    pub fn publish_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        let version = self.ring().compare_exchange(expected_version, value)?;
        // As in `publish`.
        self.notify.wake(Published::BySeqCstRmw);
        Ok(version)
    }

    /// Copies the latest published value. Never waits for a writer: retries
    /// only when a newer value was published during the copy (lock-free, not
    /// wait-free: writers that keep publishing faster than a copy can keep a
    /// reader retrying; [`read_timeout`](Self::read_timeout) bounds that).
    ///
    /// # Panics
    ///
    /// Only on an object in a state no writer of this crate leaves it in: the
    /// head names a slot whose words carry another ticket, and the head does
    /// not move. That needs a shared file written by other means
    /// (`shm::SharedPublisher`); in process it cannot happen. Where it can,
    /// use [`try_read`](Self::try_read) or [`read_timeout`](Self::read_timeout),
    /// which return [`ReadError::Corrupt`] instead.
    ///
    /// ```
    /// let p: noclobber::Publisher<[u64; 2], 3> = noclobber::Publisher::new([0, 0]);
    /// p.publish([1, 2]);
    /// assert_eq!(p.read(), [1, 2]);
    /// ```
    #[inline]
    #[must_use]
    pub fn read(&self) -> T {
        self.ring().read().value
    }

    /// Copies the latest published value with its version; like
    /// [`read`](Self::read), panics only on a corrupt shared file.
    ///
    /// ```
    /// let p: noclobber::Publisher<i32, 2> = noclobber::Publisher::new(-1);
    /// p.publish(7);
    /// assert_eq!(p.read_versioned(), noclobber::Versioned { value: 7, version: 1 });
    /// ```
    #[inline]
    #[must_use]
    pub fn read_versioned(&self) -> Versioned<T> {
        self.ring().read().into()
    }

    /// One attempt at a copy: [`ReadError::Lapped`] if a newer value was
    /// published during it (try again), [`ReadError::Corrupt`] if the head did
    /// not move but its slot is not one writer's whole value (a shared file
    /// written by other means; see [`read`](Self::read)). Never waits, never
    /// panics.
    ///
    /// ```
    /// use noclobber::{Publisher, ReadError};
    /// let p: Publisher<[u64; 2], 3> = Publisher::new([1, 2]);
    /// match p.try_read() {
    ///     Ok(v) => assert_eq!(v, [1, 2]),
    ///     Err(ReadError::Lapped) => { /* a newer value came: try again */ }
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    #[inline]
    pub fn try_read(&self) -> Result<T, ReadError> {
        self.ring().attempt().map(|snap| snap.value)
    }

    /// Like [`try_read`](Self::try_read), with the version of the value.
    ///
    /// ```
    /// let p: noclobber::Publisher<u32, 2> = noclobber::Publisher::new(3);
    /// p.publish(4);
    /// assert_eq!(p.try_read_versioned(), Ok(noclobber::Versioned { value: 4, version: 1 }));
    /// ```
    #[inline]
    pub fn try_read_versioned(&self) -> Result<Versioned<T>, ReadError> {
        self.ring().attempt().map(Into::into)
    }

    /// Reads until a copy succeeds or `timeout` has passed
    /// ([`ReadError::TimedOut`]: lapped by newer publications all that time),
    /// or the object is found corrupt ([`ReadError::Corrupt`], at once).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p: noclobber::Publisher<u64, 3> = noclobber::Publisher::new(1);
    /// assert_eq!(p.read_timeout(Duration::from_millis(10)).unwrap().value, 1);
    /// ```
    #[cfg(feature = "std")]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Result<Versioned<T>, ReadError> {
        let deadline = crate::notify::deadline(timeout);
        self.ring().read_until(deadline).map(Into::into)
    }

    /// The version of the latest publication.
    ///
    /// ```
    /// let p: noclobber::Publisher<u8, 2> = noclobber::Publisher::new(0);
    /// p.publish(1);
    /// p.publish(2);
    /// assert_eq!(p.version(), 2);
    /// ```
    #[inline]
    #[must_use]
    pub fn version(&self) -> u64 {
        self.ring().head().0
    }

    /// Waits until a version newer than `seen` is published, then reads it;
    /// [`ReadError::TimedOut`] if none came within `timeout`
    /// (`Duration::MAX` waits for ever). The waiting thread sleeps (a futex
    /// on Linux, also across processes) and uses no CPU meanwhile; writers
    /// pay nothing for it while nobody waits. A writer stopped or killed
    /// mid-publication never keeps a waiter past its timeout.
    ///
    /// Returns at once if the version is already newer than `seen`, so a loop
    /// that passes the version it got last sees every publication or skips
    /// forward, never back.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let p: Arc<noclobber::Publisher<u64, 3>> = Arc::new(noclobber::Publisher::new(0));
    /// let waiter = std::thread::spawn({
    ///     let p = Arc::clone(&p);
    ///     move || p.wait_newer(0, Duration::from_secs(10))
    /// });
    /// p.publish(9);
    /// assert_eq!(waiter.join().unwrap().unwrap().value, 9);
    /// assert_eq!(
    ///     p.wait_newer(1, Duration::from_millis(1)),
    ///     Err(noclobber::ReadError::TimedOut)
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, crate::ReadError> {
        let check = || crate::notify::Seen::newer_if(self.version() > seen);
        crate::notify::wait_newer(
            &self.notify,
            timeout,
            crate::notify::Announce::Count(Published::BySeqCstRmw),
            check,
            |deadline| self.ring().read_until(deadline).map(Into::into),
        )
    }

    /// Consumes the publisher and returns the latest value.
    ///
    /// ```
    /// let p: noclobber::Publisher<u16, 2> = noclobber::Publisher::new(1);
    /// p.publish(2);
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
    /// assert!(noclobber::Publisher::<u64, 2>::is_lock_free());
    /// ```
    #[must_use]
    pub fn is_lock_free() -> bool {
        AtomicU128::is_lock_free()
    }
}

/// In-place construction for [`crate::shm`]: the object lives in a mapping that
/// starts zeroed, so it is initialised through its atomics, never moved in.
#[cfg(all(feature = "shm", not(noclobber_loom)))]
impl<T: NoUninit, const SLOTS: usize> Publisher<T, SLOTS> {
    /// Size, alignment, slot count, payload words and field offsets, hashed
    /// into the header of a shared mapping.
    pub(crate) const LAYOUT: [usize; 11] = [
        core::mem::size_of::<Self>(),
        core::mem::align_of::<Self>(),
        SLOTS,
        crate::words::word_count::<T>(),
        core::mem::offset_of!(Self, head),
        core::mem::offset_of!(Self, tickets),
        core::mem::offset_of!(Self, notify),
        core::mem::offset_of!(Self, slots),
        Slot::<T>::LAYOUT[0],
        Slot::<T>::LAYOUT[1],
        Slot::<T>::LAYOUT[2],
    ];

    /// Stores every atomic so that `self` holds the state `Publisher::new(value)`
    /// builds. Only atomic stores: the caller must ensure nobody uses the object
    /// meanwhile, and publish the stores afterwards with a Release store.
    pub(crate) fn init_in_place(&self, value: T) {
        let () = Self::AT_LEAST_TWO_SLOTS;
        // Same state as `new`: ticket 1 in slot 1, claim 0 (free) elsewhere.
        for (i, slot) in self.slots.iter().enumerate() {
            slot.init_in_place(u64::from(i == 1), value);
        }
        // Relaxed (both): published by the caller's Release store.
        let relaxed = crate::sync::Ordering::Relaxed;
        self.tickets.init_in_place(1);
        self.notify.init_in_place();
        self.head.store(crate::words::pack(0, 1), relaxed);
    }
}

/// ```
/// let p: noclobber::Publisher<[u32; 2], 2> = Default::default();
/// assert_eq!(p.read_versioned(), noclobber::Versioned { value: [0, 0], version: 0 });
/// ```
impl<T: NoUninit + Default, const SLOTS: usize> Default for Publisher<T, SLOTS> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

/// `Publisher::new(value)`.
///
/// ```
/// let p: noclobber::Publisher<u64, 3> = 42.into();
/// assert_eq!(p.read_versioned(), noclobber::Versioned { value: 42, version: 0 });
/// ```
impl<T: NoUninit, const SLOTS: usize> From<T> for Publisher<T, SLOTS> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

/// One attempt at a copy ([`Publisher::try_read_versioned`]): never blocks,
/// not even on a corrupt object; a lapped or corrupt read shows as
/// `value: <why>` without a version.
///
/// ```
/// let p: noclobber::Publisher<u8, 2> = noclobber::Publisher::new(9);
/// assert_eq!(format!("{p:?}"), "Publisher { value: 9, version: 0, slots: 2 }");
/// ```
impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for Publisher<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Publisher");
        match self.try_read_versioned() {
            Ok(Versioned { value, version }) => s.field("value", &value).field("version", &version),
            Err(e) => s.field("value", &format_args!("<{e}>")),
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
    /// for any writer, and the next `publish` would spin forever.
    #[test]
    fn update_closure_panicking_after_a_lost_race_leaks_no_slot() {
        let p = Arc::new(Publisher::<u64, 2>::new(0));
        let mut calls = 0;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            p.ring().update(|snap| {
                calls += 1;
                if calls == 2 {
                    panic!("second call");
                }
                // Publish in between, so that the commit of the value staged
                // below fails and the loop calls us again.
                p.publish(snap.value + 100);
                Some(snap.value + 1)
            })
        }));
        assert!(outcome.is_err() && calls == 2);
        // A detached thread, so that a wedged `publish` fails the test instead
        // of hanging it.
        let (done, wait) = mpsc::channel();
        let writer = Arc::clone(&p);
        let handle = std::thread::spawn(move || done.send(writer.publish(7)).unwrap());
        let version = wait.recv_timeout(Duration::from_secs(if cfg!(miri) { 600 } else { 20 }));
        assert_eq!(version, Ok(2), "publish wedged by a leaked claim");
        handle.join().unwrap();
        assert_eq!(p.read(), 7);
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

    /// #12: with 2 slots, an updater whose closure runs a second time (after
    /// its first commit lost the race) must not hold a claim meanwhile: the
    /// other writer must publish while that closure waits for it. Keeping the
    /// claim across the call leaves the writer no slot, and both spin forever
    /// (loom reports the branch limit).
    #[test]
    fn a_writer_inside_its_closure_holds_no_slot() {
        let mut builder = loom::model::Builder::new();
        if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.max_branches = 100_000;
        builder.check(|| {
            let p = Arc::new(Publisher::<[u64; 2], 2>::new([0, 0]));
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
            assert_eq!(p.publish([1, 1]), 1);
            flags[1].store(true, SeqCst);
            // Inside the second call: we must still publish.
            wait(&flags[2]);
            assert_eq!(p.publish([2, 2]), 2);
            flags[3].store(true, SeqCst);
            let (calls, done) = updater.join().unwrap();
            assert_eq!((calls, done), (3, Some((3, [12, 12]))));
        });
    }
}
