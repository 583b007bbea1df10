//! How a `T` becomes atomic words: the payload representation shared by every
//! primitive. The protocols that decide when a copy is whole live with their
//! rings (`ring/`, `solo/`) and the seqlock (`seqlock/`).
//!
//! # The one rule
//!
//! Shared payload bytes are only ever touched through atomics of one width
//! (64-bit words for the seqlock and the single-writer ring, 128-bit tagged
//! words for the multi-writer ring). A value is
//! copied between `T` and words in a private [`Buf`], never in shared memory, and a
//! `Buf` becomes a `T` only once the protocol has proven its words are one
//! consistent snapshot of a value that was written whole.

#[cfg(not(noclobber_loom))]
use core::cell::UnsafeCell;
use core::mem::{size_of, MaybeUninit};

use bytemuck::NoUninit;

use crate::sync::{AtomicU128, AtomicU64, Ordering};

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
    pub(crate) const fn of(value: T) -> Self {
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
    pub(crate) const fn new(value: T) -> Self {
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

impl<T: NoUninit> Words<T> {
    /// Every word, `Relaxed`, into a private buffer: the copy step of the
    /// seqlock-style protocols (the seqlock, the single-writer ring), whose
    /// caller decides whether the copy is whole.
    #[inline]
    pub(crate) fn load_relaxed(&self) -> Buf<T> {
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed: the caller's protocol orders and validates the copy.
            buf.set(i, self.at(i).load(Ordering::Relaxed));
        }
        buf
    }

    /// Stores every word of `buf`, `Relaxed`; the caller's protocol orders
    /// the stores (fences, a later Release store).
    #[inline]
    pub(crate) fn store_relaxed(&self, buf: &Buf<T>) {
        for i in 0..word_count::<T>() {
            // Relaxed: as above.
            self.at(i).store(buf.word(i), Ordering::Relaxed);
        }
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

/// Loom: the words as loom atomics. `T` only names what they encode; the
/// marker makes the type `Send` and `Sync` as the real one is for `T: Send`
/// (atomics only).
#[cfg(noclobber_loom)]
pub(crate) struct Words<T>(Box<[AtomicU64]>, core::marker::PhantomData<fn() -> T>);

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

/// Loom: as `Words`.
#[cfg(noclobber_loom)]
pub(crate) struct Tagged<T>(Box<[AtomicU128]>, core::marker::PhantomData<fn() -> T>);

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
