//! The errors of the bounded operations, one type per kind of operation.
//!
//! Each is generic over `C`, what a corrupt object reports: objects in
//! process memory cannot be corrupt (`C` is [`Infallible`], the default, so
//! the `Corrupt` variant cannot be built), while the handles of [`shm`]
//! report a shared file damaged by other means as `Corrupt(shm::Corrupt)`.
//!
//! [`shm`]: crate#features

use core::convert::Infallible;
use core::fmt;

/// Why [`try_read`](crate::Readable::try_read) or
/// [`read_timeout`](crate::Readable::read_timeout) returned no value.
///
/// ```
/// use noclobber::{Publisher, ReadError};
///
/// let p = Publisher::new([1u64, 2]);
/// match p.try_read() {
///     Ok(v) => assert_eq!(v.value, [1, 2]),
///     Err(ReadError::Interrupted) => { /* a write overlapped the copy: try again */ }
///     Err(e) => panic!("{e}"),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadError<C = Infallible> {
    /// `try_read`: a write overlapped the attempt (a newer value was
    /// published during the copy, or a `SeqLock` write was in progress).
    /// Another attempt can succeed; only writes that keep coming can make
    /// this happen again and again.
    Interrupted,
    /// `read_timeout`: every attempt until the deadline was interrupted.
    TimedOut,
    /// The object is in a state no writer of this crate leaves it in: a
    /// shared file damaged by other means. Retrying cannot help.
    Corrupt(C),
}

/// Why [`wait_newer`](crate::Readable::wait_newer) returned no value.
///
/// ```
/// use std::time::Duration;
/// use noclobber::{SeqLock, WaitError};
///
/// let lock = SeqLock::new(0u32);
/// assert_eq!(lock.wait_newer(0, Duration::from_millis(1)), Err(WaitError::TimedOut));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitError<C = Infallible> {
    /// No version newer than the one seen was published before the deadline.
    TimedOut,
    /// A newer version was published, but every copy of it was interrupted
    /// by yet newer writes (or, for a `SeqLock`, a writer held the lock)
    /// until the deadline.
    Interrupted,
    /// The writer is gone and nothing newer than the version seen will come
    /// (single-writer types only; see `is_closed`).
    Closed,
    /// As [`ReadError::Corrupt`].
    Corrupt(C),
}

/// Why a bounded write ([`try_write`](crate::Publisher::try_write),
/// [`write_timeout`](crate::Publisher::write_timeout), and `SeqLock`'s
/// `try_update` and `update_timeout`) wrote nothing.
///
/// ```
/// use noclobber::{SeqLock, WriteError};
///
/// let lock = SeqLock::new(1u8);
/// lock.update(|x| {
///     // The lock is held by this very update: a nested write gives up.
///     assert_eq!(lock.try_write(5), Err(WriteError::Busy));
///     x + 1
/// });
/// assert_eq!(lock.read(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteError<C = Infallible> {
    /// One attempt found what the write needs held by other writers: every
    /// slot but the published one (a `Publisher`: writers in the middle of a
    /// publication, stopped, or killed there; in a shared file also every
    /// entry of the owner table held by other live processes), or the lock
    /// (a `SeqLock` whose sequence another writer holds odd).
    Busy,
    /// What the write needs stayed held until the deadline.
    TimedOut,
    /// As [`ReadError::Corrupt`].
    Corrupt(C),
}

/// ```
/// assert_eq!(noclobber::ReadError::<std::convert::Infallible>::TimedOut.to_string(), "timed out");
/// ```
impl<C: fmt::Display> fmt::Display for ReadError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Interrupted => f.write_str("interrupted by a concurrent write"),
            ReadError::TimedOut => f.write_str("timed out"),
            ReadError::Corrupt(c) => c.fmt(f),
        }
    }
}

/// ```
/// assert_eq!(noclobber::WaitError::<std::convert::Infallible>::Closed.to_string(), "the writer is gone");
/// ```
impl<C: fmt::Display> fmt::Display for WaitError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::TimedOut => f.write_str("timed out with nothing newer"),
            WaitError::Interrupted => {
                f.write_str("a newer version came, but every copy of it was interrupted")
            }
            WaitError::Closed => f.write_str("the writer is gone"),
            WaitError::Corrupt(c) => c.fmt(f),
        }
    }
}

/// ```
/// assert_eq!(noclobber::WriteError::<std::convert::Infallible>::Busy.to_string(), "held by other writers");
/// ```
impl<C: fmt::Display> fmt::Display for WriteError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Busy => f.write_str("held by other writers"),
            WriteError::TimedOut => f.write_str("timed out: held by other writers"),
            WriteError::Corrupt(c) => c.fmt(f),
        }
    }
}

/// ```
/// let e: Box<dyn std::error::Error> = Box::new(noclobber::ReadError::<std::convert::Infallible>::TimedOut);
/// assert_eq!(e.to_string(), "timed out");
/// ```
#[cfg(feature = "std")]
impl<C: fmt::Debug + fmt::Display> std::error::Error for ReadError<C> {}

/// ```
/// let e: Box<dyn std::error::Error> = Box::new(noclobber::WaitError::<std::convert::Infallible>::TimedOut);
/// assert!(e.to_string().contains("timed out"));
/// ```
#[cfg(feature = "std")]
impl<C: fmt::Debug + fmt::Display> std::error::Error for WaitError<C> {}

/// ```
/// let e: Box<dyn std::error::Error> = Box::new(noclobber::WriteError::<std::convert::Infallible>::TimedOut);
/// assert!(e.to_string().contains("timed out"));
/// ```
#[cfg(feature = "std")]
impl<C: fmt::Debug + fmt::Display> std::error::Error for WriteError<C> {}

/// What a shared file damaged after it was opened reports from a bounded
/// operation ([`ReadError::Corrupt`], [`WaitError::Corrupt`],
/// [`WriteError::Corrupt`]): which rule of the protocol its state breaks.
/// Public as `noclobber::shm::Corrupt`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Corrupt {
    rule: Broken,
}

/// The rules a corrupt object breaks: one byte, so that the internal
/// [`Fault`] stays one byte and the read paths' results small.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Broken {
    /// A ring's head names a slot of another ticket and does not move.
    RingSlot,
    /// A single writer's head names a slot of another version and does not
    /// move.
    SoloStamp,
    /// The ticket counter is past the last ticket.
    Tickets,
}

impl Corrupt {
    pub(crate) const fn new(rule: Broken) -> Self {
        Corrupt { rule }
    }

    /// What is wrong, e.g. "the head names a slot that holds words of
    /// another ticket, and does not move".
    ///
    /// ```
    /// # #[cfg(feature = "shm")]
    /// # fn main() {
    /// use noclobber::{shm::Corrupt, WriteError};
    ///
    /// // What a writer process might log when a bounded write gives up.
    /// fn explain(e: WriteError<Corrupt>) -> String {
    ///     match e {
    ///         WriteError::Corrupt(c) => format!("recreate the file: {}", c.what()),
    ///         e => format!("try again later: {e}"),
    ///     }
    /// }
    /// assert_eq!(explain(WriteError::Busy), "try again later: held by other writers");
    /// # }
    /// # #[cfg(not(feature = "shm"))]
    /// # fn main() {}
    /// ```
    #[cfg_attr(not(feature = "shm"), allow(dead_code))]
    #[must_use]
    pub const fn what(&self) -> &'static str {
        match self.rule {
            Broken::RingSlot => {
                "the head names a slot that holds words of another ticket, and does not move"
            }
            Broken::SoloStamp => {
                "the head names a slot whose stamp does not hold that version, and does not move"
            }
            Broken::Tickets => "the ticket counter is past the last ticket",
        }
    }
}

impl fmt::Debug for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Corrupt")
            .field("what", &self.what())
            .finish()
    }
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the shared object is corrupt: {}", self.what())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Corrupt {}

/// Why one attempt of a protocol failed, inside the crate: a compact value
/// for the hot paths; the public errors are made from it at the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A write overlapped the attempt (or held what it needs).
    Interrupted,
    /// The deadline passed.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    TimedOut,
    /// The object breaks an invariant no writer breaks.
    Corrupt(Corrupt),
    /// The single writer is gone (only waits report it).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    Closed,
}

/// Maps a shared file's corruption report to `C`: the shared handles keep it,
/// the in-process types cannot be corrupt. Public (in a private module) only
/// because the futures of `async` name it in a bound; implemented for these
/// two types alone.
pub trait CorruptAs: Sized {
    #[doc(hidden)]
    fn from_corrupt(c: Corrupt) -> Self;
}

impl CorruptAs for Infallible {
    #[inline]
    fn from_corrupt(c: Corrupt) -> Self {
        in_process_corrupt(c)
    }
}

impl CorruptAs for Corrupt {
    #[inline]
    fn from_corrupt(c: Corrupt) -> Self {
        c
    }
}

impl Fault {
    /// The public error of a bounded read.
    #[inline]
    pub(crate) fn into_read<C: CorruptAs>(self) -> ReadError<C> {
        match self {
            Fault::Interrupted => ReadError::Interrupted,
            Fault::TimedOut => ReadError::TimedOut,
            Fault::Corrupt(c) => ReadError::Corrupt(C::from_corrupt(c)),
            Fault::Closed => unreachable!("only waits report a closed object"),
        }
    }

    /// The public error of a wait.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn into_wait<C: CorruptAs>(self) -> WaitError<C> {
        match self {
            Fault::Interrupted => WaitError::Interrupted,
            Fault::TimedOut => WaitError::TimedOut,
            Fault::Corrupt(c) => WaitError::Corrupt(C::from_corrupt(c)),
            Fault::Closed => WaitError::Closed,
        }
    }

    /// The public error of a bounded write: `Interrupted` is a write that
    /// found what it needs held.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn into_write<C: CorruptAs>(self) -> WriteError<C> {
        match self {
            Fault::Interrupted => WriteError::Busy,
            Fault::TimedOut => WriteError::TimedOut,
            Fault::Corrupt(c) => WriteError::Corrupt(C::from_corrupt(c)),
            Fault::Closed => unreachable!("only waits report a closed object"),
        }
    }
}

/// Out of line, so that the panic's formatting stays off the hot paths.
#[cold]
#[inline(never)]
pub(crate) fn in_process_corrupt(c: Corrupt) -> ! {
    panic!("noclobber: an object in process memory is corrupt ({c}); it was overwritten by other means")
}

/// `read` of an object found corrupt (only a shared file damaged by other
/// means can be): out of line, so that the formatting stays off the read path.
#[cold]
#[inline(never)]
pub(crate) fn corrupt_panic(c: Corrupt) -> ! {
    panic!("noclobber: read of a corrupt object: {c}")
}
