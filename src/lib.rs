//! Lock-free primitives for small shared state that must never lose an update
//! or show a torn value.
//!
//! | you need | use |
//! |---|---|
//! | read-modify-write of a value, no lost updates, readers see `(value, version)` | [`VersionedCell`] |
//! | small `Copy` data, read very often, written rarely, readers may retry | [`SeqLock`] |
//! | one writer, many readers that never wait (not even for a stopped or killed writer), at seqlock speed; shared memory | [`SoloPublisher`] |
//! | several writers, readers that never wait, even for a stopped or killed writer; shared memory | [`Publisher`] |
//! | a count incremented from many threads | [`ShardedCounter`] |
//!
//! All but the counter can also wait for a change instead of polling:
//! `wait_newer(seen, timeout)` sleeps (on a futex, also across processes)
//! until a version newer than `seen` is published, and returns it.
//!
//! Every value type `T` must be [`bytemuck::NoUninit`]: plain data without
//! padding bytes (`u64`, arrays, `#[derive(NoUninit)]` structs). Values travel
//! through shared memory as atomic 64-bit words, and padding bytes cannot be
//! copied that way, so a type with padding is rejected at compile time:
//!
//! ```compile_fail
//! #[derive(Clone, Copy, bytemuck::NoUninit)]
//! #[repr(C)]
//! struct Padded { a: u8, b: u64 } // 7 padding bytes: the derive refuses it
//! let _ = noclobber::SeqLock::new(Padded { a: 1, b: 2 });
//! ```
//!
//! # Deriving the bounds for your own types
//!
//! The derives come from [`bytemuck`], which noclobber re-exports, so you need
//! no `bytemuck` dependency of your own. The derive macros name the crate they
//! implement for as `::bytemuck`; through the re-export, tell them where it is
//! with `#[bytemuck(crate = "noclobber::bytemuck")]` (without it the derive
//! fails with `E0433: cannot find bytemuck in the crate root`, unless your
//! crate depends on `bytemuck` itself).
//!
//! **Derive `Pod` and `Zeroable` if the type may ever be shared between
//! processes**, and not `NoUninit`: the in-process types need `NoUninit`, which
//! every `Pod` type is, while every shared type of [`shm`](crate#features)
//! (`SharedPublisher`, `SharedSoloWriter` / `SharedSoloReader`, `SharedSeqLock`)
//! needs `Pod` (any bytes another process leaves in the file must be a valid
//! `T`). Deriving `NoUninit` *and* `Pod` conflicts (`E0119`), so
//! derive `Pod` + `Zeroable` once and use the type everywhere:
//!
//! ```
//! use noclobber::bytemuck::{Pod, Zeroable};
//! use noclobber::{Publisher, SeqLock};
//!
//! #[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
//! #[bytemuck(crate = "noclobber::bytemuck")]
//! #[repr(C)]
//! struct Quote {
//!     bid: u64,
//!     ask: u64,
//!     size: [u32; 2],
//! }
//!
//! let q = Quote { bid: 100, ask: 101, size: [5, 7] };
//! // In process ...
//! let latest: Publisher<Quote, 3> = Publisher::new(q);
//! let lock = SeqLock::new(q);
//! assert_eq!((latest.read(), lock.read()), (q, q));
//! // ... and, with the `shm` feature, between processes:
//! // `noclobber::shm::SharedPublisher::<Quote, 3>::create(path, q)`.
//! ```
//!
//! A type with a field that is not `Pod` (a `bool`, a `char`, an enum) can
//! still be `NoUninit` for the in-process types:
//!
//! ```
//! #[derive(Clone, Copy, noclobber::bytemuck::NoUninit)]
//! #[bytemuck(crate = "noclobber::bytemuck")]
//! #[repr(C)]
//! struct Flags {
//!     ready: bool,
//!     level: u8,
//! }
//!
//! let flags = noclobber::VersionedCell::new(Flags { ready: false, level: 0 });
//! flags.update(|f| Flags { ready: true, ..f });
//! assert!(flags.load().value.ready);
//! ```
//!
//! # Soundness
//!
//! No payload byte is ever read or written with a plain or volatile access while
//! another thread may touch it: payloads are arrays of atomic words, accessed with
//! the orderings documented at each site. The crate is checked with loom (build
//! with `RUSTFLAGS="--cfg noclobber_loom"`) and Miri; see the README.
//!
//! # Features
//!
//! * `std` (default): [`ShardedCounter`] and `std` support in dependencies.
//!   Without it the crate is `no_std` (it still needs `alloc`).
//! * `shm` (off): `shm::SharedPublisher`, `shm::SharedSoloWriter` /
//!   `shm::SharedSoloReader` and `shm::SharedSeqLock`, the same
//!   types in a memory-mapped file shared between processes (Unix).
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod notify;
mod owner;
mod publisher;
mod ring;
mod seqlock;
mod solo;
mod sync;
mod versioned;
mod words;

#[cfg(feature = "std")]
mod counter;
#[cfg(all(feature = "shm", not(noclobber_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "shm")))]
pub mod shm;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use counter::{LocalCounter, ShardedCounter, MAX_SHARDS};
pub use publisher::Publisher;
pub use seqlock::SeqLock;
pub use solo::{SoloPublisher, SoloReader, SoloWriter};
pub use versioned::VersionedCell;

/// Re-exported so users can derive the bounds without a `bytemuck`
/// dependency of their own: `#[derive(noclobber::bytemuck::Pod,
/// noclobber::bytemuck::Zeroable)]` (or `NoUninit`) together with
/// `#[bytemuck(crate = "noclobber::bytemuck")]`, see [the crate
/// docs](crate#deriving-the-bounds-for-your-own-types).
///
/// ```
/// #[derive(Clone, Copy, noclobber::bytemuck::Pod, noclobber::bytemuck::Zeroable)]
/// #[bytemuck(crate = "noclobber::bytemuck")]
/// #[repr(C)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// let p = noclobber::SeqLock::new(Point { x: 1, y: 2 });
/// assert_eq!(p.read().y, 2);
/// ```
pub use bytemuck;

/// Why a bounded read returned without a value.
///
/// ```
/// let (_w, r) = noclobber::SoloPublisher::<u64, 2>::channel(0);
/// match r.try_read() {
///     Ok(v) => assert_eq!(v, 0),
///     Err(noclobber::ReadError::Lapped) => { /* a newer value came: try again */ }
///     Err(e) => panic!("{e}"),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadError {
    /// A newer value was published during the copy; another attempt will find
    /// it. Only a writer that keeps publishing can make this happen again.
    /// From `wait_newer`: a version newer than the one seen exists, but no
    /// copy of it succeeded before the deadline (lapped again and again, or,
    /// for a `SeqLock`, a writer held the lock).
    Lapped,
    /// The timeout passed first: every read attempt was lapped, or (for the
    /// `wait_newer` methods) no newer version was published.
    TimedOut,
    /// The object is in a state no writer of this crate leaves it in (a shared
    /// file written by other means); retrying cannot help.
    Corrupt,
}

/// ```
/// assert_eq!(
///     noclobber::ReadError::Lapped.to_string(),
///     "lapped by a newer publication during the copy"
/// );
/// ```
impl core::fmt::Display for ReadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ReadError::Lapped => "lapped by a newer publication during the copy",
            ReadError::TimedOut => "timed out",
            ReadError::Corrupt => {
                "the object is corrupt: its head names a slot no writer left that way"
            }
        })
    }
}

/// ```
/// let e: Box<dyn std::error::Error> = Box::new(noclobber::ReadError::Corrupt);
/// assert!(e.to_string().contains("corrupt"));
/// ```
#[cfg(feature = "std")]
impl std::error::Error for ReadError {}

/// A value together with the version it was read at (or written as).
///
/// Versions start at 0 and go up by one with every successful write.
///
/// ```
/// let v = noclobber::Versioned { value: 3u8, version: 7 };
/// assert_eq!(v, noclobber::Versioned { value: 3, version: 7 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The number of writes that produced it.
    pub version: u64,
}

/// `(value, version)`.
///
/// ```
/// let v = noclobber::Versioned::from(("x", 3));
/// assert_eq!((v.value, v.version), ("x", 3));
/// ```
impl<T> From<(T, u64)> for Versioned<T> {
    #[inline]
    fn from((value, version): (T, u64)) -> Self {
        Versioned { value, version }
    }
}

/// `(value, version)`.
///
/// ```
/// let cell = noclobber::VersionedCell::new(8u8);
/// let (value, version) = cell.load().into();
/// assert_eq!((value, version), (8, 0));
/// ```
impl<T> From<Versioned<T>> for (T, u64) {
    #[inline]
    fn from(v: Versioned<T>) -> Self {
        (v.value, v.version)
    }
}

#[cfg(not(noclobber_loom))]
mod checks {
    use super::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert, const_assert_eq};

    assert_impl_all!(VersionedCell<u64>: Send, Sync);
    assert_impl_all!(VersionedCell<[u64; 8]>: Send, Sync);
    assert_impl_all!(SeqLock<[u64; 4]>: Send, Sync);
    assert_impl_all!(Publisher<[u64; 4], 2>: Send, Sync);
    // One writer: it moves between threads but is never copied or shared for
    // writing (`publish` takes `&mut self`); readers are cheap to share.
    assert_impl_all!(SoloWriter<[u64; 4], 2>: Send, Sync);
    assert_not_impl_any!(SoloWriter<[u64; 4], 2>: Clone);
    assert_impl_all!(SoloReader<[u64; 4], 2>: Send, Sync, Clone);
    assert_impl_all!(SoloPublisher<[u64; 4], 2>: Send, Sync);
    #[cfg(feature = "std")]
    assert_impl_all!(ShardedCounter: Send, Sync, Default);
    // The owned-shard fast path must stay on its thread.
    #[cfg(feature = "std")]
    assert_not_impl_any!(LocalCounter<'static>: Send, Sync);
    assert_impl_all!(Versioned<u64>: Copy, Send, Sync);
    // The shared payload types are not `Sync` for a non-`Send` `T`
    // (a pointer stands in for any non-`Send` type).
    assert_not_impl_any!(words::Words<*const u8>: Sync);
    assert_not_impl_any!(words::Tagged<*const u8>: Sync);

    // A small value shares one 128-bit word with its version.
    const_assert_eq!(core::mem::size_of::<portable_atomic::AtomicU128>(), 16);
    const_assert!(words::word_count::<u64>() == 1);
    const_assert!(words::word_count::<[u8; 9]>() == 2);
    const_assert!(words::word_count::<()>() == 0);
    // The seqlock is its sequence, the waiter words, and the payload words
    // (and the 7-byte zero tail of `words::Packed`, rounded up to a word):
    // one cache line for `[u64; 4]`.
    const_assert_eq!(core::mem::size_of::<SeqLock<[u64; 4]>>(), 56);
    // Publisher slots are cache-line padded so writers do not disturb readers.
    const_assert!(core::mem::align_of::<Publisher<u64, 2>>() >= 64);
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
