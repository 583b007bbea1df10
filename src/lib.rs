//! Lock-free primitives for small shared state that must never lose an update
//! or show a torn value, between threads and (feature `shm`) processes.
//!
//! | you need | use |
//! |---|---|
//! | read-modify-write of a value, no lost updates, readers see `(value, version)` | [`VersionedCell`] |
//! | small `Copy` data, read very often, written rarely, readers may retry; also between processes | [`SeqLock`] |
//! | one writer, many readers that never wait (not even for a stopped or killed writer), at seqlock speed; also between processes | [`SoloWriter`] + [`SoloReader`] |
//! | several writers, readers that never wait, even for a stopped or killed writer; also between processes | [`Publisher`] |
//! | a count incremented from many threads | [`ShardedCounter`] |
//!
//! # One vocabulary
//!
//! Every type but the counter has the same read side, also through the
//! [`Readable`] trait (for code generic over "anything I can read and wait
//! on", and for the `shm` handles, which read only through it):
//!
//! | operation | method | returns |
//! |---|---|---|
//! | read | `read()` | `T` |
//! | read with the version | `read_versioned()` | [`Versioned<T>`] |
//! | one attempt, never waits | `try_read()` | `Result<Versioned<T>, ReadError>` |
//! | attempts until a deadline | `read_timeout(d)` | `Result<Versioned<T>, ReadError>` |
//! | the version | `version()` | `u64` |
//! | sleep until a newer version | `wait_newer(seen, d)` | `Result<Versioned<T>, WaitError>` |
//! | await a newer version (feature `async`) | `wait_newer_async(seen)` | a `future::WaitNewer` of the same |
//! | is the writer gone? | `is_closed()` | `bool` |
//!
//! A [`Cursor`] over any of them remembers the version it returned last
//! (`changed_timeout`, `changed().await`, `has_changed`, `read_and_update`,
//! as `tokio::sync::watch::Receiver` names them), so a follower loop needs no
//! bookkeeping. Only a single writer can go away: dropping a [`SoloWriter`]
//! (or the death of a shared file's writer process) closes its readers, whose
//! waits then end with [`WaitError::Closed`] once they have the last value;
//! the types without a writer handle are never closed.
//!
//! and the writers share one vocabulary for what they have in common:
//!
//! | operation | method | returns | on |
//! |---|---|---|---|
//! | write | `write(v)` | the new version | all four |
//! | write only if the version is still `expected` | `write_if(expected, v)` | `Result<u64, Versioned<T>>` | `VersionedCell`, `SeqLock`, `Publisher` |
//! | write `f(current)`, nothing in between | `update(f)` | the written [`Versioned<T>`] | all four |
//! | the same, `f` may decline (`None`) | `checked_update(f)` | `Result<Versioned<T>, Versioned<T>>` | all four |
//! | one attempt, never waits for other writers | `try_write(v)` | `Result<u64, WriteError>` | `SeqLock`, `Publisher` |
//! | wait for other writers until a deadline | `write_timeout(v, d)` | `Result<u64, WriteError>` | `SeqLock`, `Publisher` |
//!
//! `try_` always means one attempt that never waits; `_timeout` waits until a
//! deadline; `Duration::MAX` waits for ever. Versions start at 0 and count
//! writes. Errors come one type per kind of operation ([`ReadError`],
//! [`WaitError`], [`WriteError`]); their `Corrupt` variant exists only for
//! shared files, which another process can damage (in process its payload
//! type is [`Infallible`](core::convert::Infallible)).
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
//! every `Pod` type is, while every shared type of `shm` needs `Pod` (any bytes
//! another process leaves in the file must be a valid `T`). Deriving
//! `NoUninit` *and* `Pod` conflicts (`E0119`), so derive `Pod` + `Zeroable`
//! once and use the type everywhere:
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
//! let latest = Publisher::new(q);
//! let lock = SeqLock::new(q);
//! assert_eq!((latest.read(), lock.read()), (q, q));
//! // ... and, with the `shm` feature, between processes:
//! // `noclobber::shm::SharedPublisher::<Quote>::create(path, q)`.
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
//! assert!(flags.read().ready);
//! ```
//!
//! # Soundness
//!
//! No payload byte is ever read or written with a plain or volatile access while
//! another thread may touch it: payloads are arrays of atomic words, accessed with
//! the orderings documented at each site. The crate is checked with loom (build
//! with `RUSTFLAGS="--cfg noclobber_loom"`) and Miri; see `docs/verification.md`.
//!
//! # Features
//!
//! * `std` (default): [`ShardedCounter`], the waits and deadlines
//!   (`wait_newer`, `*_timeout`), and `std::error::Error` impls. Without it
//!   the crate is `no_std` (it still needs `alloc`).
//! * `shm` (off): [`shm`](crate#features), the same types in a memory-mapped
//!   file shared between processes (Unix and Windows).
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod cursor;
mod error;
mod notify;
mod publisher;
mod read;
mod ring;
mod seqlock;
mod solo;
mod sync;
mod versioned;
mod words;

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub mod counter;
#[cfg(all(feature = "shm", not(noclobber_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "shm")))]
pub mod shm;

/// The futures of the async waits (feature `async`): [`WaitNewer`] from
/// `wait_newer_async` on every readable type and handle, [`Changed`] from
/// [`Cursor::changed`].
///
/// They need no runtime: any executor polls them (tokio's multi-thread and
/// current-thread runtimes, smol, `futures::executor::block_on`). They are
/// cancel-safe (dropping one loses no publication and leaves nothing
/// registered) and have no timeout of their own: wrap them in the
/// runtime's. Writers pay nothing more for them while nobody waits: the same
/// one load as for blocking waiters.
///
/// In process, a writer that finds waiters wakes their tasks through the
/// object's event (a `tokio::sync::Notify`: tokio's `sync` module alone, no
/// runtime). The tasks of one process waiting on one object announce
/// themselves to writers once for all (a waiter's announcement costs a
/// `membarrier` system call for a single writer's object), and the
/// announcement outlives them for a few publications, so that a task that
/// waits again and again pays nothing for it: writers pay an event
/// notification for the first 8 publications after the last task left,
/// then nothing. A shared file's writer may be another
/// process, which can only wake a futex: there, one thread per process (the
/// bridge, started by the first such wait) sleeps on every waited-for
/// file's futex word at once (Linux's `futex_waitv`, 127 words per sleep)
/// and wakes the tasks whose word moved. Elsewhere, and on kernels before
/// 5.16, it checks every millisecond while a task waits on a shared file.
///
/// [`WaitNewer`]: future::WaitNewer
/// [`Changed`]: future::Changed
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod future {
    pub use crate::cursor::Changed;
    pub use crate::notify::WaitNewer;
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use counter::ShardedCounter;
pub use cursor::Cursor;
pub use error::{ReadError, WaitError, WriteError};
pub use publisher::Publisher;
pub use read::{Readable, Versioned};
pub use seqlock::SeqLock;
pub use solo::{SoloReader, SoloWriter};
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

#[cfg(not(noclobber_loom))]
mod checks {
    use super::*;
    use static_assertions::{assert_impl_all, assert_not_impl_any, const_assert, const_assert_eq};

    assert_impl_all!(VersionedCell<u64>: Send, Sync);
    assert_impl_all!(VersionedCell<[u64; 8]>: Send, Sync);
    assert_impl_all!(SeqLock<[u64; 4]>: Send, Sync);
    assert_impl_all!(Publisher<[u64; 4]>: Send, Sync);
    // One writer: it moves between threads but is never copied or shared for
    // writing (`write` takes `&mut self`); readers are cheap to share.
    assert_impl_all!(SoloWriter<[u64; 4]>: Send, Sync);
    assert_not_impl_any!(SoloWriter<[u64; 4]>: Clone);
    assert_impl_all!(SoloReader<[u64; 4]>: Send, Sync, Clone);
    #[cfg(feature = "std")]
    assert_impl_all!(ShardedCounter: Send, Sync, Default);
    // The owned-shard fast path must stay on its thread.
    #[cfg(feature = "std")]
    assert_not_impl_any!(counter::LocalCounter<'static>: Send, Sync);
    assert_impl_all!(Versioned<u64>: Copy, Send, Sync);
    assert_impl_all!(ReadError: Copy, Send, Sync);
    assert_impl_all!(WaitError: Copy, Send, Sync);
    assert_impl_all!(WriteError: Copy, Send, Sync);
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
    // (and the 7-byte zero tail of `words::Packed`, rounded up to a word),
    // and with `async` the pointer of its async waiters' event: one cache
    // line for `[u64; 4]`.
    #[cfg(not(feature = "async"))]
    const_assert_eq!(core::mem::size_of::<SeqLock<[u64; 4]>>(), 56);
    const_assert!(core::mem::size_of::<SeqLock<[u64; 4]>>() <= 64);
    // Publisher slots are cache-line padded so writers do not disturb readers.
    const_assert!(core::mem::align_of::<Publisher<u64>>() >= 64);
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
