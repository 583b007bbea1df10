//! [`SoloWriter`] and [`SoloReader`]: the slot ring for exactly one writer,
//! whose readers cost about what a [`SeqLock`](crate::SeqLock) read costs and
//! still never wait.
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
//!   word of a newer writer imply the stamp moved (Boehm's seqlock recipe).
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

use bytemuck::NoUninit;

use crate::error::{Broken, Corrupt, CorruptAs, Fault};
use crate::notify::{Listeners, Notify, Published};
use crate::sync::{fence, AtomicU64, Ordering, Spin};
use crate::words::{Buf, Words};
#[cfg(feature = "std")]
use crate::WaitError;
use crate::{ReadError, Versioned};

mod handles;
#[cfg(all(test, not(noclobber_loom)))]
mod tests;

pub use handles::{SoloReader, SoloWriter};

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
pub(crate) struct Slot<T> {
    pub(crate) stamp: AtomicU64,
    pub(crate) words: Words<T>,
}

/// The object a [`SoloWriter`] publishes into and its [`SoloReader`]s read,
/// in process memory or in a shared file (`shm::SharedSoloWriter`): a ring
/// of `SLOTS >= 2` slots and a head naming the latest publication.
/// `#[repr(C)]`, no pointers, every byte an atomic.
//
// Head and slots are packed, not padded to a cache line each: a read then
// touches one or two adjacent lines instead of two unrelated ones that a busy
// writer keeps dirtying. `align(128)` keeps the object off lines shared with
// other data.
#[repr(C, align(128))]
pub(crate) struct Body<T, const SLOTS: usize, E = ()> {
    pub(crate) head: AtomicU64,
    /// Readers waiting for a newer version (`notify/mod.rs`).
    pub(crate) notify: Notify,
    pub(crate) slots: [Slot<T>; SLOTS],
    /// The async waiters of an object in process memory (`()` in a shared
    /// file).
    pub(crate) also: E,
}

impl<T: NoUninit, const SLOTS: usize, E: Listeners> Body<T, SLOTS, E> {
    pub(crate) const AT_LEAST_TWO_SLOTS: () =
        assert!(SLOTS >= 2, "a SoloWriter needs at least 2 slots");

    fn new(initial: T, also: E) -> Self {
        let () = Self::AT_LEAST_TWO_SLOTS;
        // Version 0 in slot 0; the other slots were never written (stamp 0).
        let slots = core::array::from_fn(|i| Slot {
            stamp: AtomicU64::new(if i == 0 { even(0) } else { 0 }),
            words: Words::new(initial),
        });
        Body {
            head: AtomicU64::new(0),
            notify: Notify::new(),
            slots,
            also,
        }
    }

    /// Stores every atomic so that `self` holds the state `new(value)` builds,
    /// for an object created in place (a shared file). The caller must ensure
    /// nobody uses the object meanwhile, and publish the stores afterwards
    /// with a Release store.
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn init_in_place(&self, value: T) {
        let () = Self::AT_LEAST_TWO_SLOTS;
        let buf = Buf::of(value);
        // Relaxed (all): published by the caller's Release store.
        for (i, slot) in self.slots.iter().enumerate() {
            slot.words.store_relaxed(&buf);
            let stamp = if i == 0 { even(0) } else { 0 };
            slot.stamp.store(stamp, Ordering::Relaxed);
        }
        self.notify.init_in_place();
        self.head.store(0, Ordering::Relaxed);
    }

    #[inline]
    fn slot(&self, version: u64) -> &Slot<T> {
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
        // Relaxed (inside): ordered after the odd stamp by the fence above
        // and before readers' copies by the head's Release store below (S3).
        slot.words.store_relaxed(buf);
        // Relaxed: readers find this stamp through the head, whose Release
        // store below publishes it (S3); and a reader that acquires it early
        // (S4) synchronises with the Release fence above, which already orders
        // the previous head store before it.
        slot.stamp.store(even(version), Ordering::Relaxed);
        // Release (S3): publishes the words and the stamp to every reader that
        // loads this head with Acquire.
        self.head.store(version, Ordering::Release);
        // Wakes waiting readers, if any (N1 in `notify/mod.rs`).
        if self.notify.wake(Published::ByStore) {
            self.also.wake(&self.notify);
        }
    }

    /// One attempt at a consistent copy.
    #[inline]
    pub(crate) fn attempt(&self) -> Result<Versioned<T>, Fault> {
        // Acquire (S3): pairs with the Release head store in `store`, so the
        // words of `version` (or newer ones) are what the loads below see.
        let version = self.head.load(Ordering::Acquire);
        let slot = self.slot(version);
        // Relaxed (inside): may race with the writer; validated below (S3).
        let buf = slot.words.load_relaxed();
        // Acquire fence (S3): pairs with the writer's Release fence.
        fence(Ordering::Acquire);
        // Acquire (S4): only for telling an interrupted copy from a corrupt
        // object below; the copy's validity needs Relaxed.
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
            Err(Fault::Corrupt(Corrupt::new(Broken::SoloStamp)))
        } else {
            Err(Fault::Interrupted)
        }
    }

    #[inline]
    pub(crate) fn read_versioned(&self) -> Versioned<T> {
        let spin = Spin::new();
        loop {
            match self.attempt() {
                Ok(v) => return v,
                Err(Fault::Corrupt(c)) => crate::error::corrupt_panic(c),
                Err(_) => spin.spin(),
            }
        }
    }

    #[inline]
    pub(crate) fn try_read<C: CorruptAs>(&self) -> Result<Versioned<T>, ReadError<C>> {
        self.attempt().map_err(Fault::into_read)
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
        // Acquire (S3): a caller that sees version n also sees its value.
        self.head.load(Ordering::Acquire)
    }

    #[cfg(feature = "std")]
    pub(crate) fn wait_newer<C: CorruptAs>(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WaitError<C>> {
        self.wait_newer_probed(seen, timeout, None, || true)
    }

    /// `wait_newer` that also ends with `Closed` once `writer_alive` says
    /// no, checked at least every `slice`: for a writer in another process,
    /// which may die without closing (N7).
    #[cfg(feature = "std")]
    pub(crate) fn wait_newer_probed<C: CorruptAs>(
        &self,
        seen: u64,
        timeout: std::time::Duration,
        slice: Option<std::time::Duration>,
        writer_alive: impl Fn() -> bool,
    ) -> Result<Versioned<T>, WaitError<C>> {
        let check = || self.check(seen, &writer_alive);
        let how = Self::WAITERS;
        crate::notify::wait_newer(&self.notify, timeout, how, slice, check, |deadline| {
            self.read_until(deadline)
        })
        .map_err(Fault::into_wait)
    }

    /// How waiters announce themselves: the writer publishes by a store
    /// (N4 in `notify/mod.rs`).
    #[cfg(feature = "std")]
    pub(crate) const WAITERS: crate::notify::Announce =
        crate::notify::Announce::Count(Published::ByStore);

    /// The check of a waiter that has seen `seen`: newer, or the writer
    /// gone (closed, or found dead by `writer_alive`), or neither.
    #[cfg(feature = "std")]
    pub(crate) fn check(&self, seen: u64, writer_alive: impl Fn() -> bool) -> crate::notify::Seen {
        use crate::notify::Seen;
        // The close first, then the version (N7): the writer's publications
        // happen before its close (the flag's Release store), so a head loaded
        // after the flag was seen (Acquire) shows every one of them, and a
        // newer version still wins over the close. In the other order a stale
        // head and a fresh flag would end the wait with `Closed` and lose the
        // last publication. A writer process found gone by `writer_alive`:
        // the kernel's teardown of it orders its stores before our probe, as
        // for dead claims (I6 in `ring/mod.rs`).
        let closed = self.notify.is_closed() || !writer_alive();
        if self.version() > seen {
            Seen::Newer
        } else if closed {
            Seen::Closed
        } else {
            Seen::Same
        }
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

    /// Whether the writer closed the object (N7).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.notify.is_closed()
    }

    /// Checks that the stamps are ones the writer can leave with the head at
    /// `v`: each slot holds, whole, the latest version `<= v` that maps to it
    /// (or was never written, if there is none), except that the slot of `v + 1`
    /// may hold it whole or half-stored (a writer in the middle of its
    /// publication, or killed there). Returns the head, or what is wrong.
    ///
    /// A live writer may move the head meanwhile; then the check is repeated,
    /// and a head that keeps moving is taken as the writer's proof of life.
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
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
        self.check(seen, || true)
    }
    fn attempt(&self) -> Result<Versioned<T>, Fault> {
        self.attempt()
    }
}

impl<T, const SLOTS: usize, E: Listeners> Body<T, SLOTS, E> {
    /// The writer is gone (N7): wakes every waiter. The writer's publications
    /// all happened before, in its program order.
    pub(crate) fn close(&self) {
        self.notify.close();
        self.also.wake(&self.notify);
    }

    /// A successor writer took over (N7), before its first write.
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn reopen(&self) {
        self.notify.reopen();
    }
}

/// The writer's side, shared by the in-process and the shared-memory writers:
/// `version` is the writer's copy of the head, which only it moves (S1).
pub(crate) struct Writing<'a, T, const SLOTS: usize, E = ()> {
    pub(crate) body: &'a Body<T, SLOTS, E>,
    pub(crate) version: &'a mut u64,
}

impl<T: NoUninit, const SLOTS: usize, E: Listeners> Writing<'_, T, SLOTS, E> {
    #[inline]
    pub(crate) fn write(self, value: T) -> u64 {
        let next = self.version.wrapping_add(1);
        self.body.store(next, &Buf::of(value));
        *self.version = next;
        next
    }

    pub(crate) fn checked_update(
        self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        // The writer's own head slot is never written by anyone else (S1, S2),
        // so this read succeeds at once unless the object is corrupt (then it
        // panics).
        let current = self.body.read_versioned();
        let Some(value) = f(current.value) else {
            return Err(current);
        };
        let version = self.write(value);
        Ok(Versioned { value, version })
    }

    pub(crate) fn update(self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        match self.checked_update(|x| Some(f(x))) {
            Ok(done) => done,
            Err(_) => unreachable!("the closure always returns Some"),
        }
    }
}

impl<T: NoUninit + fmt::Debug, const SLOTS: usize, E: Listeners> Body<T, SLOTS, E> {
    /// `Debug` of every handle: one attempt, never blocking.
    pub(crate) fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct(name);
        match self.attempt() {
            Ok(Versioned { value, version }) => s.field("value", &value).field("version", &version),
            Err(Fault::Corrupt(c)) => s.field("value", &format_args!("<{c}>")),
            Err(_) => s.field("value", &format_args!("<interrupted>")),
        };
        s.field("slots", &SLOTS).finish()
    }
}
