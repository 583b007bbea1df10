//! Shared internals: how a `T` becomes atomic words, and the tagged slot ring
//! behind [`Publisher`](crate::Publisher) and the large-`T` path of
//! [`VersionedCell`](crate::VersionedCell).
//!
//! # The one rule
//!
//! Shared payload bytes are only ever touched through atomics of one width
//! (64-bit words for the seqlock, 128-bit tagged words for the ring). A value is
//! copied between `T` and words in a private [`Buf`], never in shared memory, and a
//! `Buf` becomes a `T` only once the protocol has proven its words are one
//! consistent snapshot of a value that was written whole.

#[cfg(not(noclobber_loom))]
use core::cell::UnsafeCell;
use core::mem::{size_of, MaybeUninit};

use bytemuck::NoUninit;
use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU128, AtomicU64, Ordering, Spin};

/// A `T` followed by 7 zero bytes, without padding. Every byte that one of the
/// first `word_count::<T>()` words covers is a field byte, and field bytes are
/// kept when the value is moved (padding bytes are not: a word overlapping
/// padding would come back partly uninitialised after a move, as Miri reports).
#[repr(C, packed)]
pub(crate) struct Packed<T> {
    value: MaybeUninit<T>,
    tail: [u8; 7],
}

/// `Packed<T>` at 8-byte alignment: `word_count::<T>()` whole `u64` words.
#[repr(C, align(8))]
pub(crate) struct Pad8<T>(Packed<T>);

/// Room for `word_count::<T>()` 128-bit words inside two `Packed<T>`
/// (`16 * n <= 2 * (size_of::<T>() + 7)`), so again no word overlaps padding.
#[cfg(not(noclobber_loom))]
#[repr(C, align(16))]
pub(crate) struct Pad16<T>(Packed<T>, Packed<T>);

/// Number of 64-bit words that hold one `T`.
pub(crate) const fn word_count<T>() -> usize {
    size_of::<T>().div_ceil(8)
}

/// A private, thread-local copy of a value as words.
pub(crate) struct Buf<T>(MaybeUninit<Pad8<T>>);

impl<T: NoUninit> Buf<T> {
    /// The words of `value`; the tail past `size_of::<T>()` is zero.
    #[inline]
    pub(crate) fn of(value: T) -> Self {
        let mut buf = MaybeUninit::<Pad8<T>>::zeroed();
        // SAFETY: `Pad8<T>` starts with room for a `T` at offset 0 (unaligned
        // write: `Packed` may under-align it). `T: NoUninit` has no padding, so
        // after it every field byte of the buffer is initialised (the tail was
        // zeroed).
        unsafe { buf.as_mut_ptr().cast::<T>().write_unaligned(value) };
        Buf(buf)
    }

    /// A buffer whose words the caller fills with `set` before `assume_value`.
    #[inline]
    pub(crate) fn uninit() -> Self {
        Buf(MaybeUninit::uninit())
    }

    #[inline]
    pub(crate) fn word(&self, i: usize) -> u64 {
        assert!(i < word_count::<T>());
        // SAFETY: in bounds (checked above), 8-aligned (`Pad8` is), and every byte
        // is initialised: `of` initialised them all, `uninit` callers `set` each
        // word before reading it.
        unsafe { self.0.as_ptr().cast::<u64>().add(i).read() }
    }

    #[inline]
    pub(crate) fn set(&mut self, i: usize, word: u64) {
        assert!(i < word_count::<T>());
        // SAFETY: in bounds and aligned, as in `word`; the buffer is ours alone.
        unsafe { self.0.as_mut_ptr().cast::<u64>().add(i).write(word) }
    }

    /// # Safety
    /// Every word was `set`, and together they are the words of one `T` value
    /// (as produced by [`Buf::of`]), so the bytes are a valid `T`.
    #[inline]
    pub(crate) unsafe fn assume_value(self) -> T {
        // SAFETY: the caller guarantees the bytes are those of a valid `T`;
        // unaligned read, as `Packed` may under-align it.
        unsafe { self.0.as_ptr().cast::<T>().read_unaligned() }
    }
}

/// A `T` stored as `word_count::<T>()` `AtomicU64`s (the seqlock payload).
#[cfg(not(noclobber_loom))]
#[repr(C)]
pub(crate) struct Words<T>(UnsafeCell<Pad8<T>>);

#[cfg(not(noclobber_loom))]
impl<T: NoUninit> Words<T> {
    pub(crate) fn new(value: T) -> Self {
        // SAFETY: `Buf::of` initialised every byte; `Pad8` holds only a
        // `MaybeUninit`, which has no validity invariant anyway.
        Words(UnsafeCell::new(unsafe { Buf::of(value).0.assume_init() }))
    }

    #[inline]
    pub(crate) fn at(&self, i: usize) -> &AtomicU64 {
        assert!(i < word_count::<T>());
        // SAFETY: in bounds and 8-aligned. The bytes live in an `UnsafeCell`, are
        // initialised (`new`), and are only ever accessed through this function,
        // i.e. as `AtomicU64` of one width, for as long as `&self` lives.
        unsafe { AtomicU64::from_ptr(self.0.get().cast::<u64>().add(i)) }
    }
}

/// A `T` stored as `word_count::<T>()` 128-bit words, each `tag << 64 | data`.
#[cfg(not(noclobber_loom))]
#[repr(C)]
pub(crate) struct Tagged<T>(UnsafeCell<Pad16<T>>);

#[cfg(not(noclobber_loom))]
impl<T: NoUninit> Tagged<T> {
    pub(crate) fn new(tag: u64, value: T) -> Self {
        let buf = Buf::of(value);
        let mut raw = MaybeUninit::<Pad16<T>>::zeroed();
        for i in 0..word_count::<T>() {
            // SAFETY: `Pad16<T>` is 16-aligned and `16 * word_count::<T>()` bytes
            // long; the memory is local and not yet shared.
            unsafe {
                raw.as_mut_ptr()
                    .cast::<u128>()
                    .add(i)
                    .write(pack(tag, buf.word(i)))
            };
        }
        // SAFETY: zeroed, then written with integers: every byte is initialised.
        Tagged(UnsafeCell::new(unsafe { raw.assume_init() }))
    }

    #[inline]
    pub(crate) fn at(&self, i: usize) -> &AtomicU128 {
        assert!(i < word_count::<T>());
        // SAFETY: in bounds (`Pad16<T>` holds `word_count::<T>()` u128s) and
        // 16-aligned. The bytes live in an `UnsafeCell`, are initialised, and are
        // only accessed through this function, as `AtomicU128` of one width.
        unsafe { AtomicU128::from_ptr(self.0.get().cast::<u128>().add(i)) }
    }
}

#[cfg(noclobber_loom)]
pub(crate) struct Words<T>(Box<[AtomicU64]>, core::marker::PhantomData<T>);

#[cfg(noclobber_loom)]
impl<T: NoUninit> Words<T> {
    pub(crate) fn new(value: T) -> Self {
        let buf = Buf::of(value);
        let words = (0..word_count::<T>()).map(|i| AtomicU64::new(buf.word(i)));
        Words(words.collect(), core::marker::PhantomData)
    }
    pub(crate) fn at(&self, i: usize) -> &AtomicU64 {
        &self.0[i]
    }
}

#[cfg(noclobber_loom)]
pub(crate) struct Tagged<T>(Box<[AtomicU128]>, core::marker::PhantomData<T>);

#[cfg(noclobber_loom)]
impl<T: NoUninit> Tagged<T> {
    pub(crate) fn new(tag: u64, value: T) -> Self {
        let buf = Buf::of(value);
        let words = (0..word_count::<T>()).map(|i| AtomicU128::new(pack(tag, buf.word(i))));
        Tagged(words.collect(), core::marker::PhantomData)
    }
    pub(crate) fn at(&self, i: usize) -> &AtomicU128 {
        &self.0[i]
    }
}

// SAFETY: the `UnsafeCell` inside is only accessed through atomics (`at`), so
// sharing `&Words<T>` between threads cannot race. `T: Send` because a `T` put in
// by one thread is copied out by another.
#[cfg(not(noclobber_loom))]
unsafe impl<T: Send> Sync for Words<T> {}
// SAFETY: as for `Words`: all access is through `AtomicU128`.
#[cfg(not(noclobber_loom))]
unsafe impl<T: Send> Sync for Tagged<T> {}

/// `hi << 64 | lo`: a (version, ticket) head or a (tag, data) word.
#[inline]
pub(crate) const fn pack(hi: u64, lo: u64) -> u128 {
    ((hi as u128) << 64) | lo as u128
}

/// The inverse of [`pack`].
#[inline]
pub(crate) const fn unpack(x: u128) -> (u64, u64) {
    ((x >> 64) as u64, x as u64)
}

/// One slot of the ring: who may write it (`claim`) and the value, every word
/// tagged with the ticket of the writer that stored it.
#[repr(C)]
pub(crate) struct Slot<T> {
    claim: AtomicU64,
    words: Tagged<T>,
}

impl<T: NoUninit> Slot<T> {
    pub(crate) fn new(ticket: u64, value: T) -> Self {
        Slot {
            claim: AtomicU64::new(ticket),
            words: Tagged::new(ticket, value),
        }
    }

    /// Size and field offsets, hashed into the header of a shared mapping.
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) const LAYOUT: [usize; 3] = [
        size_of::<Self>(),
        core::mem::offset_of!(Self, claim),
        core::mem::offset_of!(Self, words),
    ];

    /// Stores every atomic of the slot so it holds what `Slot::new(ticket, value)`
    /// holds, for an object created in place (a zeroed shared mapping). The
    /// caller must ensure nobody uses the slot meanwhile, and publishes the
    /// stores afterwards (the shm header's Release store).
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) fn init_in_place(&self, ticket: u64, value: T) {
        // Relaxed: published to other processes by the caller's Release store.
        self.claim.store(ticket, Ordering::Relaxed);
        let buf = Buf::of(value);
        for i in 0..word_count::<T>() {
            // Relaxed: as above.
            self.words
                .at(i)
                .store(pack(ticket, buf.word(i)), Ordering::Relaxed);
        }
    }

    /// Copies the value written by the holder of `ticket`, or `None` if any word
    /// carries another tag (the slot was reused: the reader was lapped).
    #[inline]
    fn copy(&self, ticket: u64) -> Option<T> {
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed: each word carries its own tag, so it needs no ordering with
            // the other words. The Acquire load of the head that named `ticket`
            // guarantees this load sees that writer's word or a later one.
            let (tag, data) = unpack(self.words.at(i).load(Ordering::Relaxed));
            if tag != ticket {
                return None;
            }
            buf.set(i, data);
        }
        // SAFETY: every word is tagged `ticket`, and the head (read with Acquire)
        // named `ticket`, so its writer committed it. Only the writer holding
        // `ticket` stores that tag; it may refill the slot with another value
        // before committing (`Ring::update` retries), but every such fill happens
        // before its Release commit, and no store tagged `ticket` follows it. So
        // each word is the committed value's word, from `Buf::of` of one valid
        // `T`, and `buf` holds exactly that value's words.
        Some(unsafe { buf.assume_value() })
    }

    /// Stores `buf` tagged `ticket`; false if a writer with a newer ticket has
    /// taken the slot over (this writer was lapped and must not scribble on it).
    fn fill(&self, ticket: u64, buf: &Buf<T>) -> bool {
        for i in 0..word_count::<T>() {
            let word = self.words.at(i);
            // Relaxed throughout: a tag only grows, which is a property of this
            // one location's modification order. The value is made visible to
            // readers by the Release CAS on the head in `Ring::commit`.
            let mut current = word.load(Ordering::Relaxed);
            loop {
                if unpack(current).0 > ticket {
                    return false;
                }
                let new = pack(ticket, buf.word(i));
                match word.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(actual) => current = actual,
                }
            }
        }
        true
    }
}

/// The tagged slot ring, borrowed from its owner (`Publisher` keeps it inline,
/// `VersionedCell` boxes it).
///
/// * `head` = `(version, ticket)`: the published value is the one written into
///   slot `ticket % slots.len()` by the holder of `ticket`.
/// * A writer takes a fresh ticket, claims its slot if the slot's current claim is
///   older than the head's ticket (so it can never be published again), fills it,
///   and publishes with a CAS on the head that requires its ticket to be newer.
/// * Readers load the head, copy the slot, and accept it only if every word is
///   tagged with the head's ticket; otherwise a newer value exists and they retry.
///   The slot of the current head is never claimed, so a writer stopped anywhere
///   never keeps a reader from finding a complete value.
pub(crate) struct Ring<'a, T> {
    pub(crate) head: &'a AtomicU128,
    pub(crate) tickets: &'a AtomicU64,
    pub(crate) slots: &'a [CachePadded<Slot<T>>],
}

/// A value read from the ring, with the head it was published under.
pub(crate) struct Snapshot<T> {
    pub(crate) version: u64,
    pub(crate) ticket: u64,
    pub(crate) value: T,
}

impl<T> From<Snapshot<T>> for crate::Versioned<T> {
    #[inline]
    fn from(snap: Snapshot<T>) -> Self {
        crate::Versioned {
            value: snap.value,
            version: snap.version,
        }
    }
}

impl<T: NoUninit> Ring<'_, T> {
    #[inline]
    fn slot(&self, ticket: u64) -> &Slot<T> {
        &self.slots[(ticket % self.slots.len() as u64) as usize]
    }

    /// The current `(version, ticket)`.
    #[inline]
    pub(crate) fn head(&self) -> (u64, u64) {
        // Acquire: pairs with the Release of the CAS in `commit` that stored this
        // head, so that writer's tagged words are visible to a following `copy`.
        unpack(self.head.load(Ordering::Acquire))
    }

    /// A consistent snapshot. Retries only when lapped, i.e. when another value
    /// has been published meanwhile; never waits for a writer.
    #[inline]
    pub(crate) fn read(&self) -> Snapshot<T> {
        let spin = Spin::new();
        loop {
            let (version, ticket) = self.head();
            if let Some(value) = self.slot(ticket).copy(ticket) {
                return Snapshot {
                    version,
                    ticket,
                    value,
                };
            }
            spin.spin();
        }
    }

    /// Writes `buf` into a slot that no reader can be using and returns the
    /// ticket to `commit` with. `previous`, a ticket this writer staged before
    /// and never published, is refilled in place when still newer than the head.
    pub(crate) fn stage(&self, buf: &Buf<T>, previous: Option<u64>) -> u64 {
        if let Some(ticket) = previous {
            // Our own unpublished slot: no reader looks at it (the head never
            // named it). A newer writer can only have taken it after the head
            // passed `ticket`; then `fill` may still succeed on words it has not
            // written yet, but `commit` fails (the head is past `ticket`) and its
            // newer tags overwrite ours, so nothing of ours is ever read.
            if ticket > self.head().1 && self.slot(ticket).fill(ticket, buf) {
                return ticket;
            }
            self.release(ticket);
        }
        let spin = Spin::new();
        loop {
            // Relaxed: a ticket only needs to be unique and increasing.
            let ticket = self.tickets.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            // Relaxed: only the head's ticket is used, to decide which claims are
            // dead; it is monotone, so any value read is a safe lower bound.
            let current = unpack(self.head.load(Ordering::Relaxed)).1;
            let slot = self.slot(ticket);
            // Relaxed: only a hint for the CAS below, which orders what matters.
            let claim = slot.claim.load(Ordering::Relaxed);
            // `claim < current`: that ticket lost to a newer head and can never
            // be published (commit needs a ticket newer than the head), so no
            // reader will be sent to this slot for it. `ticket > current`: ours
            // can still be published.
            // Success Acquire: pairs with the Release CAS in `release`. A slot
            // given back by a writer with a *newer* ticket than ours still holds
            // that writer's tags; acquiring its release makes our `fill` see them
            // (and refuse) instead of letting its older stores land after ours.
            // A claim taken over from a dead ticket needs no ordering: that
            // ticket is older than ours, and `fill` never lets it overwrite us.
            if ticket > current
                && claim < current
                && slot
                    .claim
                    .compare_exchange(claim, ticket, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                if slot.fill(ticket, buf) {
                    return ticket;
                }
                // A newer writer's tags are in the slot: give it back.
                self.release(ticket);
            }
            // Every slot we could use is held by a writer still in flight (or
            // stopped): wait for one to publish.
            spin.snooze();
        }
    }

    /// Gives up the claim of `ticket`, which this writer holds and will not
    /// publish. Without this, a claim newer than the head would keep its slot
    /// from every writer until the head passes it, and with 2 slots the head
    /// could then never move again.
    fn release(&self, ticket: u64) {
        // Claim 0 is older than any head, so the slot is free again. The CAS
        // fails only if a newer writer already took the slot over (after the
        // head passed `ticket`), which is just as good.
        // Success Release: our word stores (tagged `ticket`) happen before the
        // claim of whoever reuses the slot (Acquire CAS in `stage`). That writer
        // may hold an *older* ticket; without this edge the model allows our
        // stores to land after its own and be published under its ticket, and
        // readers would retry until the next publication. (Loom and Miri do not
        // explore such load-buffering outcomes; see `scripts/weaken/notes.txt`.)
        let _ = self.slot(ticket).claim.compare_exchange(
            ticket,
            0,
            Ordering::Release,
            Ordering::Relaxed,
        );
    }

    /// Publishes staged `ticket` as `version + 1` if the head is still
    /// `(version, current)`; returns whether it did.
    #[inline]
    pub(crate) fn commit(&self, version: u64, current: u64, ticket: u64) -> bool {
        debug_assert!(ticket > current);
        // Success AcqRel: Release publishes the words `fill` stored. The Acquire
        // half is implied by the Acquire load in `head()` that read this same
        // head value (every publication bumps the version, so a CAS succeeds
        // only on the value we already acquired); AcqRel costs nothing extra on
        // x86-64 and keeps the chain of writers obviously ordered.
        // Failure Relaxed: the head found is dropped; every caller re-reads it
        // with the Acquire load in `head()` before it touches a slot. A caller
        // that read the slot named by the returned head would need Acquire.
        self.head
            .compare_exchange(
                pack(version, current),
                pack(version.wrapping_add(1), ticket),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Writes `value` as `expected_version + 1` if that is still the version;
    /// otherwise returns the current snapshot.
    pub(crate) fn compare_exchange(
        &self,
        expected_version: u64,
        value: T,
    ) -> Result<u64, Snapshot<T>> {
        self.update(|snap| (snap.version == expected_version).then_some(value))
            .map(|snap| snap.version)
    }

    /// Publishes `value` whatever is there; returns its version. Unlike
    /// `update`, it needs only the head, not a copy of the current value.
    pub(crate) fn publish(&self, value: T) -> u64 {
        let buf = Buf::of(value);
        let spin = Spin::new();
        let mut staged = None;
        loop {
            let (version, current) = self.head();
            let ticket = self.stage(&buf, staged);
            staged = Some(ticket);
            if self.commit(version, current, ticket) {
                return version.wrapping_add(1);
            }
            spin.spin();
        }
    }

    /// Read-modify-write loop shared by `VersionedCell::update`,
    /// `Publisher::publish` and friends. `f` returns `None` to give up.
    pub(crate) fn update(
        &self,
        mut f: impl FnMut(&Snapshot<T>) -> Option<T>,
    ) -> Result<Snapshot<T>, Snapshot<T>> {
        let spin = Spin::new();
        // Gives a staged, unpublished slot back when `f` declines or panics.
        let mut staged = Staged {
            ring: self,
            ticket: None,
        };
        loop {
            let snap = self.read();
            let Some(new) = f(&snap) else {
                return Err(snap);
            };
            let ticket = self.stage(&Buf::of(new), staged.ticket);
            staged.ticket = Some(ticket);
            if self.commit(snap.version, snap.ticket, ticket) {
                staged.ticket = None;
                return Ok(Snapshot {
                    version: snap.version.wrapping_add(1),
                    ticket,
                    value: new,
                });
            }
            spin.spin();
        }
    }
}

/// A ticket staged by `Ring::update` and not (yet) published. Dropping it with a
/// ticket, when the closure declines or panics, releases the claim: a leaked
/// claim newer than the head would keep its slot from every writer, and with 2
/// slots no writer could publish again.
struct Staged<'r, 'a, T: NoUninit> {
    ring: &'r Ring<'a, T>,
    ticket: Option<u64>,
}

impl<T: NoUninit> Drop for Staged<'_, '_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.ring.release(ticket);
        }
    }
}
