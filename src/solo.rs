//! [`SoloPublisher`]: the slot ring for exactly one writer, whose readers cost
//! about what a [`SeqLock`](crate::SeqLock) read costs and still never wait.
//!
//! Each slot is a small seqlock: a 64-bit stamp around plain 64-bit atomic
//! words (the N-slot generalisation of Linux's `seqcount_latch`). With one
//! writer no word needs a tag, because nobody else can lap the writer.
//!
//! # Invariants
//!
//! * `head` is the version `v` of the latest publication; its value is in slot
//!   `v % SLOTS`. A slot's stamp is `even(v) = 2v + 2` once version `v` is
//!   stored in it whole, `odd(v) = 2v + 1` while the writer stores it, and 0 if
//!   it was never written. (Wrapping: 2^63 versions are distinct.)
//! * **S1 (one writer).** Only the holder of the [`SoloWriter`] (in process:
//!   `&mut`, no `Clone`; across processes: an advisory lock on the file) stores
//!   into the object.
//! * **S2 (the head's slot is never written).** With the head at `v`, the writer
//!   writes version `v + 1` into slot `(v + 1) % SLOTS`, which is not the head's
//!   slot because `SLOTS >= 2`. A stopped writer therefore never leaves the head
//!   naming a half-written slot, and a reader is only ever sent back by a newer
//!   publication: it retries only after the head moved.
//! * **S3 (seqlock per slot).** Writer: stamp `odd` (Release, S4), `fence(Release)`,
//!   words `Relaxed`, stamp `even` (`Relaxed`), head (Release). Reader: head
//!   (Acquire), words `Relaxed`, `fence(Acquire)`, stamp (Acquire, S4); a copy
//!   is whole if the stamp is `even(head)`. The head's Release/Acquire makes
//!   the words of version `v` the oldest the copy can see (so, unlike a plain
//!   seqlock, no stamp load is needed before the copy); the fence pair makes a
//!   word of a newer writer imply the stamp moved (DESIGN §1, Boehm's seqlock
//!   recipe).
//! * **S4 (diagnosis).** Stamps are stored after the head store that precedes
//!   them with release semantics (the odd one with Release, the even one after
//!   the writer's Release fence), and loaded with Acquire. A stamp other than `even(v)`
//!   in the head's slot can come from the writer only once it moved the head
//!   past `v`; so a reader that then finds the head still at `v` knows no writer
//!   made that stamp: the object is corrupt (possible only in a shared file
//!   written by other means), and the bounded reads say so instead of spinning.
//!   On x86-64 these Release/Acquire accesses are the same plain moves as
//!   `Relaxed` ones.

use core::fmt;
use core::ops::Deref;

use bytemuck::NoUninit;

use crate::notify::{Notify, Published};
use crate::sync::{fence, Arc, AtomicU64, Ordering, Spin};
use crate::words::{word_count, Buf, Words};
use crate::{ReadError, Versioned};

/// Stamp of a slot that holds version `v` whole.
#[inline]
const fn even(v: u64) -> u64 {
    v.wrapping_mul(2).wrapping_add(2)
}

/// Stamp of a slot while version `v` is being stored into it.
#[inline]
const fn odd(v: u64) -> u64 {
    v.wrapping_mul(2).wrapping_add(1)
}

/// One slot: a stamp and the value's words.
#[repr(C)]
pub(crate) struct SoloSlot<T> {
    stamp: AtomicU64,
    words: Words<T>,
}

/// The object a [`SoloWriter`] publishes into and its [`SoloReader`]s read:
/// a ring of `SLOTS >= 2` slots and a head naming the latest publication.
///
/// Readers never wait for the writer, not even for one stopped forever in the
/// middle of a publication: the writer never touches the slot the head names,
/// so a read retries only when a newer value was published during its copy
/// (lock-free, not wait-free: a reader can be lapped again and again only by a
/// writer that keeps publishing). A read costs one head load, one stamp load
/// and the payload's word loads, about what a [`SeqLock`](crate::SeqLock) read
/// costs. Use the multi-writer [`Publisher`](crate::Publisher) when several
/// threads must publish.
///
/// `SLOTS < 2` does not compile; `SLOTS = 2` is enough for readers never to
/// wait; more slots make a lapped reader rarer when copies are slow. The type is
/// `#[repr(C)]` and holds no pointers, so it can live in a file shared between
/// processes (`shm::SharedSoloWriter` and `shm::SharedSoloReader`, feature `shm`).
///
/// # Example
///
/// ```
/// use noclobber::SoloPublisher;
///
/// let (mut writer, reader) = SoloPublisher::<[u64; 4], 2>::channel([0; 4]);
/// std::thread::scope(|s| {
///     s.spawn(move || {
///         for i in 1..=100 {
///             writer.publish([i; 4]);
///         }
///     });
///     for _ in 0..2 {
///         let reader = reader.clone();
///         s.spawn(move || {
///             let v = reader.read_versioned();
///             // Never torn: all four words come from publication `v.version`.
///             assert_eq!(v.value, [v.version; 4]);
///         });
///     }
/// });
/// assert_eq!(reader.read_versioned().version, 100);
/// ```
///
/// ```compile_fail
/// // A ring needs at least two slots.
/// let _ = noclobber::SoloPublisher::<u64, 1>::channel(0);
/// ```
// Head and slots are packed, not padded to a cache line each: a read then
// touches one or two adjacent lines instead of two unrelated ones that a busy
// writer keeps dirtying. Measured (`publisher_read_4x64_busy_writer`, one run):
// 15.9 ns per read packed against 53 ns padded, unchanged without a writer
// or with a paced one; 2, 4 or 8 padded slots made no difference, so it was not
// lapping. `align(128)` keeps the object off lines shared with other data.
#[repr(C, align(128))]
pub struct SoloPublisher<T, const SLOTS: usize> {
    head: AtomicU64,
    /// Readers waiting for a newer version (`notify.rs`).
    notify: Notify,
    slots: [SoloSlot<T>; SLOTS],
}

impl<T: NoUninit, const SLOTS: usize> SoloPublisher<T, SLOTS> {
    pub(crate) const AT_LEAST_TWO_SLOTS: () =
        assert!(SLOTS >= 2, "a SoloPublisher needs at least 2 slots");

    /// A publisher whose version 0 is `initial`, split into its one writer and
    /// a first reader (clone it for more).
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloPublisher::<u32, 2>::channel(7);
    /// assert_eq!(r.read(), 7);
    /// assert_eq!(w.publish(8), 1);
    /// assert_eq!(r.read(), 8);
    /// ```
    #[must_use]
    pub fn channel(initial: T) -> (SoloWriter<T, SLOTS>, SoloReader<T, SLOTS>) {
        let shared = Arc::new(Self::new(initial));
        let reader = SoloReader(Arc::clone(&shared));
        (SoloWriter { shared, version: 0 }, reader)
    }

    fn new(initial: T) -> Self {
        let () = Self::AT_LEAST_TWO_SLOTS;
        // Version 0 in slot 0; the other slots were never written (stamp 0).
        let slots = core::array::from_fn(|i| SoloSlot {
            stamp: AtomicU64::new(if i == 0 { even(0) } else { 0 }),
            words: Words::new(initial),
        });
        SoloPublisher {
            head: AtomicU64::new(0),
            notify: Notify::new(),
            slots,
        }
    }

    #[inline]
    fn slot(&self, version: u64) -> &SoloSlot<T> {
        &self.slots[(version % SLOTS as u64) as usize]
    }

    /// Stores `buf` as version `version` and publishes it (S3).
    ///
    /// The caller must be the only writer (S1) and `version` must be the head
    /// plus one (S2); `SoloWriter` guarantees both.
    #[inline]
    pub(crate) fn store(&self, version: u64, buf: &Buf<T>) {
        let slot = self.slot(version);
        // Release (S4): orders the previous head store before this stamp, for
        // a reader's corruption check. Readers never use this slot meanwhile
        // (S2), so nothing else depends on it.
        slot.stamp.store(odd(version), Ordering::Release);
        // Release fence (S3): a reader whose word load sees one of the stores
        // below synchronises with it at its Acquire fence, and then sees the
        // odd stamp (or later) and rejects the copy.
        fence(Ordering::Release);
        for i in 0..word_count::<T>() {
            // Relaxed: ordered after the odd stamp by the fence above and
            // before readers' copies by the head's Release store below (S3).
            slot.words.at(i).store(buf.word(i), Ordering::Relaxed);
        }
        // Relaxed: readers find this stamp through the head, whose Release
        // store below publishes it (S3); and a reader that acquires it early
        // (S4) synchronises with the Release fence above, which already orders
        // the previous head store before it. (`scripts/weaken-orderings` found
        // the Release here redundant.)
        slot.stamp.store(even(version), Ordering::Relaxed);
        // Release (S3): publishes the words and the stamp to every reader that
        // loads this head with Acquire.
        self.head.store(version, Ordering::Release);
        // Wakes waiting readers, if any (N1 in `notify.rs`).
        self.notify.wake(Published::ByStore);
    }

    /// One attempt at a consistent copy.
    #[inline]
    fn attempt(&self) -> Result<Versioned<T>, ReadError> {
        // Acquire (S3): pairs with the Release head store in `store`, so the
        // words of `version` (or newer ones) are what the loads below see.
        let version = self.head.load(Ordering::Acquire);
        let slot = self.slot(version);
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed: may race with the writer; validated below (S3).
            buf.set(i, slot.words.at(i).load(Ordering::Relaxed));
        }
        // Acquire fence (S3): pairs with the writer's Release fence.
        fence(Ordering::Acquire);
        // Acquire (S4): only for telling a lapped copy from a corrupt object
        // below; the copy's validity needs Relaxed.
        if slot.stamp.load(Ordering::Acquire) == even(version) {
            // SAFETY: the head's Acquire load made version `version`'s words
            // (stored before that head) the oldest the copy can see, and the
            // stamp after the copy is still `even(version)`: by the fences of
            // S3 no word of a newer store into this slot was copied (that
            // writer made the stamp odd before its words). So the words are
            // the ones the one writer (S1) stored from `Buf::of` of one valid
            // `T` for `version`. (A shared file written by other means could
            // hold any words; the shm handles require `T: Pod`, for which any
            // words are a valid value.)
            let value = unsafe { buf.assume_value() };
            return Ok(Versioned { value, version });
        }
        // Relaxed (S4): after an Acquire stamp load that saw a writer's newer
        // stamp, this load sees that writer's earlier head store or later.
        if self.head.load(Ordering::Relaxed) == version {
            Err(ReadError::Corrupt)
        } else {
            Err(ReadError::Lapped)
        }
    }

    /// Copies the latest published value. Never waits for the writer; retries
    /// only when a newer value was published during the copy.
    ///
    /// # Panics
    ///
    /// Only on an object that is inconsistent in a way no writer can make it
    /// (a shared file written by other means); in process this cannot happen.
    /// [`try_read`](Self::try_read) reports it instead.
    ///
    /// ```
    /// let (_w, r) = noclobber::SoloPublisher::<[u8; 3], 2>::channel([1, 2, 3]);
    /// assert_eq!(r.read(), [1, 2, 3]);
    /// ```
    #[inline]
    #[must_use]
    pub fn read(&self) -> T {
        self.read_versioned().value
    }

    /// Like [`read`](Self::read), with the version of the value.
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloPublisher::<u64, 3>::channel(0);
    /// w.publish(5);
    /// assert_eq!(r.read_versioned(), noclobber::Versioned { value: 5, version: 1 });
    /// ```
    #[inline]
    #[must_use]
    pub fn read_versioned(&self) -> Versioned<T> {
        let spin = Spin::new();
        loop {
            match self.attempt() {
                Ok(v) => return v,
                Err(ReadError::Lapped) => spin.spin(),
                Err(e) => panic!("SoloPublisher::read: {e}"),
            }
        }
    }

    /// One attempt at a copy: [`ReadError::Lapped`] if a newer value was
    /// published during it (try again), [`ReadError::Corrupt`] if the object is
    /// inconsistent (see [`read`](Self::read)). Never waits.
    ///
    /// ```
    /// let (_w, r) = noclobber::SoloPublisher::<u16, 2>::channel(9);
    /// assert_eq!(r.try_read(), Ok(9));
    /// ```
    #[inline]
    pub fn try_read(&self) -> Result<T, ReadError> {
        self.attempt().map(|v| v.value)
    }

    /// Like [`try_read`](Self::try_read), with the version of the value.
    ///
    /// ```
    /// let (_w, r) = noclobber::SoloPublisher::<u16, 2>::channel(9);
    /// assert_eq!(r.try_read_versioned().unwrap().version, 0);
    /// ```
    #[inline]
    pub fn try_read_versioned(&self) -> Result<Versioned<T>, ReadError> {
        self.attempt()
    }

    /// Reads until a copy succeeds or `timeout` has passed
    /// ([`ReadError::TimedOut`]: lapped by a writer publishing faster than a
    /// copy, all that time), or the object is found corrupt.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_w, r) = noclobber::SoloPublisher::<u64, 2>::channel(1);
    /// assert_eq!(r.read_timeout(Duration::from_millis(10)).unwrap().value, 1);
    /// ```
    #[cfg(feature = "std")]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Result<Versioned<T>, ReadError> {
        self.read_until(crate::notify::deadline(timeout))
    }

    #[cfg(feature = "std")]
    fn read_until(&self, deadline: Option<std::time::Instant>) -> Result<Versioned<T>, ReadError> {
        crate::notify::retry_until(deadline, || self.attempt())
    }

    /// Waits until a version newer than `seen` is published, then reads it;
    /// [`ReadError::TimedOut`] if none came within `timeout`
    /// (`Duration::MAX` waits for ever), [`ReadError::Lapped`] if newer ones
    /// came but lapped every copy until the deadline, [`ReadError::Corrupt`]
    /// as for [`try_read`](Self::try_read). The waiting thread sleeps (a futex
    /// on Linux, also across processes) and uses no CPU meanwhile; the writer
    /// pays nothing for it while nobody waits. A writer stopped or killed
    /// mid-publication never keeps a waiter past its timeout.
    ///
    /// Returns at once if the version is already newer than `seen`, so a loop
    /// that passes the version it got last sees every publication or skips
    /// forward, never back.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut w, r) = noclobber::SoloPublisher::<u64, 2>::channel(0);
    /// let waiter = std::thread::spawn(move || r.wait_newer(0, Duration::from_secs(10)));
    /// w.publish(7);
    /// assert_eq!(waiter.join().unwrap().unwrap().value, 7);
    /// // Nothing newer than version 1 comes:
    /// let r = w.reader();
    /// assert_eq!(
    ///     r.wait_newer(1, Duration::from_millis(1)),
    ///     Err(noclobber::ReadError::TimedOut)
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, ReadError> {
        let check = || crate::notify::Seen::newer_if(self.version() > seen);
        crate::notify::wait_newer(
            &self.notify,
            timeout,
            crate::notify::Announce::Count(Published::ByStore),
            check,
            |deadline| self.read_until(deadline),
        )
    }

    /// The version of the latest publication (0 for the initial value).
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloPublisher::<u8, 2>::channel(0);
    /// w.publish(1);
    /// assert_eq!(r.version(), 1);
    /// ```
    #[inline]
    #[must_use]
    pub fn version(&self) -> u64 {
        // Acquire (S3): a caller that sees version n also sees its value.
        self.head.load(Ordering::Acquire)
    }
}

/// In-place construction and checks for [`crate::shm`].
#[cfg(all(feature = "shm", not(noclobber_loom)))]
impl<T: NoUninit, const SLOTS: usize> SoloPublisher<T, SLOTS> {
    /// Size, alignment, slot count, payload words and field offsets, hashed
    /// into the header of a shared mapping.
    pub(crate) const LAYOUT: [usize; 9] = [
        core::mem::size_of::<Self>(),
        core::mem::align_of::<Self>(),
        SLOTS,
        word_count::<T>(),
        core::mem::offset_of!(Self, head),
        core::mem::offset_of!(Self, notify),
        core::mem::offset_of!(Self, slots),
        core::mem::size_of::<SoloSlot<T>>(),
        core::mem::offset_of!(SoloSlot<T>, words),
    ];

    /// The waiter words, for `shm` (N5 in `notify.rs`).
    pub(crate) fn notify(&self) -> &crate::notify::Notify {
        &self.notify
    }

    /// Stores every atomic so that `self` holds the state `new(value)` builds.
    /// The caller must ensure nobody uses the object meanwhile, and publish the
    /// stores afterwards with a Release store.
    pub(crate) fn init_in_place(&self, value: T) {
        let () = Self::AT_LEAST_TWO_SLOTS;
        let buf = Buf::of(value);
        // Relaxed throughout: published by the caller's Release store.
        for (i, slot) in self.slots.iter().enumerate() {
            for w in 0..word_count::<T>() {
                slot.words.at(w).store(buf.word(w), Ordering::Relaxed);
            }
            let stamp = if i == 0 { even(0) } else { 0 };
            slot.stamp.store(stamp, Ordering::Relaxed);
        }
        self.notify.init_in_place();
        self.head.store(0, Ordering::Relaxed);
    }

    /// Checks that the stamps are ones the writer can leave with the head at
    /// `v`: each slot holds, whole, the latest version `<= v` that maps to it
    /// (or was never written, if there is none), except that the slot of `v + 1`
    /// may hold it whole or half-stored (a writer in the middle of its
    /// publication, or killed there). Returns the head, or what is wrong.
    ///
    /// A live writer may move the head meanwhile; then the check is repeated,
    /// and a head that keeps moving is taken as the writer's proof of life.
    pub(crate) fn validate(&self) -> Result<u64, alloc::string::String> {
        for _ in 0..4 {
            // Acquire (S3, S4): as in `attempt`.
            let v = self.head.load(Ordering::Acquire);
            let checked = self.check_stamps(v);
            // Relaxed (S4): after the Acquire stamp loads, as in `attempt`; an
            // unmoved head means no writer made a stamp outside the set.
            if self.head.load(Ordering::Relaxed) == v {
                return checked.map(|()| v);
            }
        }
        Ok(self.version())
    }

    fn check_stamps(&self, v: u64) -> Result<(), alloc::string::String> {
        let (slots, next) = (SLOTS as u64, v.wrapping_add(1));
        for (i, slot) in (0u64..).zip(&self.slots) {
            // Acquire (S4): see `validate`.
            let stamp = slot.stamp.load(Ordering::Acquire);
            // The latest version `<= v` stored in slot `i`, if any.
            let latest = (i <= v).then(|| v - (v - i) % slots);
            let whole = latest.map_or(stamp == 0, |w| stamp == even(w));
            let in_flight = next % slots == i && (stamp == odd(next) || stamp == even(next));
            if !(whole || in_flight) {
                return Err(alloc::format!(
                    "the head names version {v}, but slot {i} of {SLOTS} has stamp {stamp}, \
                     which no writer leaves there"
                ));
            }
        }
        Ok(())
    }
}

/// One attempt at a copy: never blocks, not even on a corrupt object.
///
/// ```
/// let (_w, r) = noclobber::SoloPublisher::<u8, 2>::channel(9);
/// assert_eq!(format!("{:?}", *r), "SoloPublisher { value: 9, version: 0, slots: 2 }");
/// ```
impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for SoloPublisher<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("SoloPublisher");
        match self.attempt() {
            Ok(Versioned { value, version }) => s.field("value", &value).field("version", &version),
            Err(e) => s.field("value", &format_args!("<{e}>")),
        };
        s.field("slots", &SLOTS).finish()
    }
}

/// The one writer of a [`SoloPublisher`]: `Send`, not `Clone`, and every write
/// takes `&mut self`, so two publications can never overlap.
///
/// Dereferences to the [`SoloPublisher`] for reads.
///
/// ```
/// let (mut writer, reader) = noclobber::SoloPublisher::<[u32; 2], 2>::channel([0, 0]);
/// // The writer moves to the thread that publishes.
/// std::thread::spawn(move || {
///     writer.publish([1, 1]);
///     assert_eq!(writer.read(), [1, 1]); // it reads too
/// })
/// .join()
/// .unwrap();
/// assert_eq!(reader.read(), [1, 1]);
/// ```
///
/// ```compile_fail
/// // One writer: it cannot be cloned.
/// let (w, _r) = noclobber::SoloPublisher::<u64, 2>::channel(0);
/// let _second = w.clone();
/// ```
pub struct SoloWriter<T, const SLOTS: usize> {
    shared: Arc<SoloPublisher<T, SLOTS>>,
    /// The head: only this writer moves it.
    version: u64,
}

/// Writer-side operations shared by the in-process and the shared-memory
/// writers: `at` is the object, `version` the writer's copy of its head.
#[inline]
pub(crate) fn publish<T: NoUninit, const SLOTS: usize>(
    at: &SoloPublisher<T, SLOTS>,
    version: &mut u64,
    value: T,
) -> u64 {
    let next = version.wrapping_add(1);
    at.store(next, &Buf::of(value));
    *version = next;
    next
}

#[inline]
pub(crate) fn update<T: NoUninit, const SLOTS: usize>(
    at: &SoloPublisher<T, SLOTS>,
    version: &mut u64,
    f: impl FnOnce(T) -> T,
) -> Versioned<T> {
    // The writer's own head slot is never written by anyone else (S1, S2), so
    // this read succeeds at once unless the object is corrupt (then it panics).
    let value = f(at.read());
    let version = publish(at, version, value);
    Versioned { value, version }
}

impl<T: NoUninit, const SLOTS: usize> SoloWriter<T, SLOTS> {
    /// Publishes `value`; returns its version. Never waits for readers.
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloPublisher::<[u32; 2], 2>::channel([0, 0]);
    /// assert_eq!(w.publish([1, 1]), 1);
    /// assert_eq!(r.read(), [1, 1]);
    /// ```
    #[inline]
    pub fn publish(&mut self, value: T) -> u64 {
        publish(&self.shared, &mut self.version, value)
    }

    /// Publishes `f(current)`: no other write can come between the read and
    /// the write, since there is no other writer. If `f` panics nothing is
    /// published. Panics like [`read`](SoloPublisher::read) on a corrupt
    /// shared object (never in process).
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloPublisher::<u64, 2>::channel(10);
    /// let now = w.update(|x| x * 3);
    /// assert_eq!((now.value, now.version), (30, 1));
    /// assert_eq!(r.read(), 30);
    /// ```
    pub fn update(&mut self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        update(&self.shared, &mut self.version, f)
    }

    /// A new reader of this publisher.
    ///
    /// ```
    /// let (mut w, _) = noclobber::SoloPublisher::<u8, 2>::channel(0);
    /// let r = w.reader();
    /// w.publish(4);
    /// assert_eq!(r.read(), 4);
    /// ```
    #[must_use]
    pub fn reader(&self) -> SoloReader<T, SLOTS> {
        SoloReader(Arc::clone(&self.shared))
    }
}

/// The read methods, on the writer too.
///
/// ```
/// let (mut w, _r) = noclobber::SoloPublisher::<u8, 2>::channel(1);
/// w.publish(2);
/// assert_eq!((w.read(), w.version()), (2, 1));
/// ```
impl<T, const SLOTS: usize> Deref for SoloWriter<T, SLOTS> {
    type Target = SoloPublisher<T, SLOTS>;

    #[inline]
    fn deref(&self) -> &SoloPublisher<T, SLOTS> {
        &self.shared
    }
}

/// ```
/// let (w, _r) = noclobber::SoloPublisher::<u8, 2>::channel(3);
/// assert_eq!(format!("{w:?}"), "SoloWriter(SoloPublisher { value: 3, version: 0, slots: 2 })");
/// ```
impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for SoloWriter<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SoloWriter").field(&*self.shared).finish()
    }
}

/// A reader of a [`SoloPublisher`]: cheap to clone (a reference count) and to
/// share (`Sync`); dereferences to the publisher's read methods.
///
/// ```
/// let (mut w, r) = noclobber::SoloPublisher::<u64, 2>::channel(0);
/// let r2 = r.clone();
/// w.publish(3);
/// assert_eq!((r.read(), r2.read()), (3, 3));
/// ```
pub struct SoloReader<T, const SLOTS: usize>(Arc<SoloPublisher<T, SLOTS>>);

/// A reference count: no copy of the object.
///
/// ```
/// let (mut w, r) = noclobber::SoloPublisher::<u8, 2>::channel(0);
/// let r2 = r.clone();
/// w.publish(5);
/// assert_eq!(r2.read(), 5);
/// ```
impl<T, const SLOTS: usize> Clone for SoloReader<T, SLOTS> {
    fn clone(&self) -> Self {
        SoloReader(Arc::clone(&self.0))
    }
}

/// The read methods of [`SoloPublisher`].
///
/// ```
/// let (_w, r) = noclobber::SoloPublisher::<u8, 2>::channel(4);
/// let publisher: &noclobber::SoloPublisher<u8, 2> = &r;
/// assert_eq!(publisher.read(), 4);
/// ```
impl<T, const SLOTS: usize> Deref for SoloReader<T, SLOTS> {
    type Target = SoloPublisher<T, SLOTS>;

    #[inline]
    fn deref(&self) -> &SoloPublisher<T, SLOTS> {
        &self.0
    }
}

/// ```
/// let (_w, r) = noclobber::SoloPublisher::<u8, 2>::channel(3);
/// assert_eq!(format!("{r:?}"), "SoloReader(SoloPublisher { value: 3, version: 0, slots: 2 })");
/// ```
impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for SoloReader<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SoloReader").field(&*self.0).finish()
    }
}

/// The body checks of a shared file (`validate`), on ordinary memory so that
/// Miri runs them too.
#[cfg(all(test, feature = "shm", not(noclobber_loom)))]
mod tests {
    use super::*;

    fn publisher<const S: usize>(publications: u64) -> SoloPublisher<[u64; 2], S> {
        let p = SoloPublisher::new([0; 2]);
        for v in 1..=publications {
            p.store(v, &Buf::of([v; 2]));
        }
        p
    }

    #[test]
    fn every_state_a_writer_leaves_is_valid() {
        fn run<const S: usize>() {
            for n in 0..3 * S as u64 {
                let p = publisher::<S>(n);
                assert_eq!(p.validate(), Ok(n));
                // A writer stopped or killed half-way through version n + 1.
                p.slot(n + 1).stamp.store(odd(n + 1), Ordering::Relaxed);
                assert_eq!(p.validate(), Ok(n));
                // ... or after its stamp, before the head.
                p.slot(n + 1).stamp.store(even(n + 1), Ordering::Relaxed);
                assert_eq!(p.validate(), Ok(n));
            }
        }
        run::<2>();
        run::<3>();
        run::<5>();
    }

    /// `open` and `attach` validate a file a live writer may be publishing
    /// into: that must never look corrupt, whatever the writer's progress.
    /// (Without the Acquire stamp loads of S4, Miri's weak-memory model may
    /// pair a newer stamp with a stale head and report a false `Corrupt`.)
    #[test]
    fn a_live_writer_never_looks_corrupt() {
        let p = publisher::<2>(0);
        let n = if cfg!(miri) { 60 } else { 100_000 };
        std::thread::scope(|s| {
            s.spawn(|| {
                for v in 1..=n {
                    p.store(v, &Buf::of([v; 2]));
                }
            });
            let mut last = 0;
            while last < n {
                let v = p.validate().expect("a live writer looked corrupt");
                assert!(v >= last);
                match p.try_read_versioned() {
                    Ok(got) => assert_eq!(got.value, [got.version; 2]),
                    Err(e) => assert_eq!(e, ReadError::Lapped),
                }
                last = v;
                std::thread::yield_now();
            }
        });
    }

    #[test]
    fn states_no_writer_leaves_are_refused() {
        let p = publisher::<3>(4); // head 4 in slot 1; slot 2 holds 2, slot 0 holds 3
        let corrupt = |p: &SoloPublisher<[u64; 2], 3>, slot: usize, stamp: u64| {
            let old = p.slots[slot].stamp.swap(stamp, Ordering::Relaxed);
            let err = p.validate().expect_err("accepted a corrupt body");
            assert!(
                err.contains(&format!("slot {slot} of 3 has stamp {stamp}")),
                "{err}"
            );
            p.slots[slot].stamp.store(old, Ordering::Relaxed);
            // The bounded read agrees when it is the head's slot.
            assert_eq!(p.validate(), Ok(4));
        };
        corrupt(&p, 1, odd(4)); // the head's slot half-written
        corrupt(&p, 1, even(1)); // the head's slot holding another version
        corrupt(&p, 0, even(0)); // an overwritten version
        corrupt(&p, 2, even(6)); // a version of another slot (6 % 3 == 0)
        corrupt(&p, 0, odd(6)); // a version two ahead of the head
        corrupt(&p, 2, 0); // never written, yet the head is past it
        corrupt(&p, 0, 12345); // nonsense
                               // Reads of a corrupt head slot fail as `Corrupt`, and never spin.
        p.slots[1].stamp.store(even(7), Ordering::Relaxed);
        assert_eq!(p.try_read(), Err(ReadError::Corrupt));
        assert_eq!(
            p.read_timeout(std::time::Duration::from_secs(60)),
            Err(ReadError::Corrupt)
        );
        assert!(format!("{p:?}").contains("corrupt"));
        // A head that names a version no slot holds.
        p.slots[1].stamp.store(even(4), Ordering::Relaxed);
        p.head.store(40, Ordering::Relaxed);
        assert!(p.validate().is_err());
        assert_eq!(p.try_read(), Err(ReadError::Corrupt));
    }
}
