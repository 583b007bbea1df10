//! The read side every type shares: [`Versioned`] and the [`Readable`] trait.

use core::fmt;

use crate::ReadError;
#[cfg(feature = "std")]
use crate::WaitError;

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
/// let (value, version) = cell.read_versioned().into();
/// assert_eq!((value, version), (8, 0));
/// ```
impl<T> From<Versioned<T>> for (T, u64) {
    #[inline]
    fn from(v: Versioned<T>) -> Self {
        (v.value, v.version)
    }
}

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// Anything that holds a latest value to read and wait on: every type of this
/// crate but the counter, in process and in shared files, and references,
/// `Box`es and `Arc`s of them.
///
/// The in-process types have these methods as inherent methods too (no
/// import needed); the [`shm`](crate#features) handles have them through
/// this trait only (`use noclobber::Readable`). Sealed: implemented by this
/// crate only, so that methods can be added.
///
/// `Corrupt` is what a damaged shared file reports: [`Infallible`] for
/// objects in process memory, which cannot be corrupt, `shm::Corrupt` for
/// shared files.
///
/// [`Infallible`]: core::convert::Infallible
///
/// # Example: one follower for every type
///
/// ```
/// use std::time::Duration;
/// use noclobber::{Publisher, Readable, SeqLock, WaitError};
///
/// /// Every value it sees until nothing newer comes for `idle`.
/// fn follow<R: Readable<Value = u64>>(source: &R, idle: Duration) -> Vec<u64> {
///     let mut seen = source.read_versioned();
///     let mut got = vec![seen.value];
///     loop {
///         match source.wait_newer(seen.version, idle) {
///             Ok(v) => {
///                 got.push(v.value);
///                 seen = v;
///             }
///             Err(WaitError::TimedOut | WaitError::Closed) => return got,
///             Err(e) => panic!("{e}"),
///         }
///     }
/// }
///
/// let lock = SeqLock::new(1u64);
/// let latest = Publisher::new(10u64);
/// std::thread::scope(|s| {
///     let lock_seen = s.spawn(|| follow(&lock, Duration::from_millis(500)));
///     let latest_seen = s.spawn(|| follow(&latest, Duration::from_millis(500)));
///     lock.write(2);
///     latest.write(20);
///     // Each follower saw the last write (and maybe the first value).
///     assert_eq!(lock_seen.join().unwrap().last(), Some(&2));
///     assert_eq!(latest_seen.join().unwrap().last(), Some(&20));
/// });
/// ```
pub trait Readable: Sealed {
    /// The value type.
    type Value: Copy;
    /// What a corrupt object reports: `Infallible` in process memory,
    /// `shm::Corrupt` for shared files.
    type Corrupt: fmt::Debug + fmt::Display;

    /// The latest value. Never waits for a writer, except a `SeqLock`'s
    /// (which retries while a write runs); the ring types retry only when a
    /// newer value was published during the copy.
    ///
    /// # Panics
    ///
    /// Only on a shared file found corrupt (damaged by other means), which
    /// the bounded forms report as `Corrupt` instead.
    ///
    /// ```
    /// use noclobber::Readable;
    /// fn latest<R: Readable>(r: &R) -> R::Value { r.read() }
    /// assert_eq!(latest(&noclobber::Publisher::new(5u8)), 5);
    /// ```
    fn read(&self) -> Self::Value {
        self.read_versioned().value
    }

    /// The latest value with its version; like [`read`](Self::read).
    ///
    /// ```
    /// use noclobber::Readable;
    /// let cell = noclobber::VersionedCell::new(1u8);
    /// cell.write(2);
    /// let r: &dyn Readable<Value = u8, Corrupt = std::convert::Infallible> = &cell;
    /// assert_eq!(r.read_versioned(), noclobber::Versioned { value: 2, version: 1 });
    /// ```
    fn read_versioned(&self) -> Versioned<Self::Value>;

    /// One attempt at a copy, never waiting: [`ReadError::Interrupted`] if a
    /// write overlapped it.
    ///
    /// ```
    /// use noclobber::{Readable, ReadError};
    /// fn poll<R: Readable>(r: &R) -> Option<R::Value> {
    ///     match r.try_read() {
    ///         Ok(v) => Some(v.value),
    ///         Err(ReadError::Interrupted) => None,
    ///         Err(e) => panic!("{e}"),
    ///     }
    /// }
    /// assert_eq!(poll(&noclobber::SeqLock::new(3u16)), Some(3));
    /// ```
    fn try_read(&self) -> Result<Versioned<Self::Value>, ReadError<Self::Corrupt>>;

    /// Attempts until one succeeds or `timeout` has passed
    /// ([`ReadError::TimedOut`]).
    ///
    /// ```
    /// use noclobber::Readable;
    /// let p = noclobber::Publisher::new([1u32; 4]);
    /// let r: &dyn Readable<Value = [u32; 4], Corrupt = std::convert::Infallible> = &p;
    /// let v = r.read_timeout(std::time::Duration::from_millis(10)).unwrap();
    /// assert_eq!(v.value, [1; 4]);
    /// ```
    #[cfg(feature = "std")]
    fn read_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Versioned<Self::Value>, ReadError<Self::Corrupt>>;

    /// The version of the latest write: the number of writes so far.
    ///
    /// ```
    /// use noclobber::Readable;
    /// let lock = noclobber::SeqLock::new(0u8);
    /// lock.write(1);
    /// assert_eq!(Readable::version(&lock), 1);
    /// ```
    fn version(&self) -> u64;

    /// Sleeps until a version newer than `seen` is written, then reads it.
    /// Returns at once if there is one already, so a loop that passes the
    /// version it got last sees every write or skips forward, never back.
    ///
    /// [`WaitError::TimedOut`] if none came within `timeout`
    /// (`Duration::MAX` waits for ever), [`WaitError::Closed`] once a
    /// single-writer object's writer is gone and nothing newer than `seen`
    /// is there. The waiting thread sleeps (a futex on Linux, also across
    /// processes); writers pay one load for it while nobody waits.
    ///
    /// ```
    /// use std::time::Duration;
    /// use noclobber::{Readable, WaitError};
    /// let cell = noclobber::VersionedCell::new(0u64);
    /// cell.write(1);
    /// assert_eq!(Readable::wait_newer(&cell, 0, Duration::ZERO).unwrap().value, 1);
    /// assert_eq!(Readable::wait_newer(&cell, 1, Duration::ZERO), Err(WaitError::TimedOut));
    /// ```
    #[cfg(feature = "std")]
    fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<Self::Value>, WaitError<Self::Corrupt>>;

    /// [`wait_newer`](Self::wait_newer) as a future, for async tasks
    /// (feature `async`): the first version newer than `seen`, or
    /// [`WaitError::Closed`] as `wait_newer` returns it, without blocking a
    /// thread. Any executor; cancel-safe; no timeout of its own, so never
    /// `TimedOut` (see [`WaitNewer`](crate::future::WaitNewer)).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark {
    /// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
    /// #             std::task::Poll::Ready(v) => return v,
    /// #             std::task::Poll::Pending => std::thread::park(),
    /// #         }
    /// #     }
    /// # }
    /// use noclobber::{Readable, SoloWriter, WaitError};
    ///
    /// /// Every value it sees until the writer is gone.
    /// async fn follow<R: Readable<Value = u64>>(source: R) -> Vec<u64> {
    ///     let mut seen = source.read_versioned();
    ///     let mut got = vec![seen.value];
    ///     loop {
    ///         match source.wait_newer_async(seen.version).await {
    ///             Ok(v) => {
    ///                 got.push(v.value);
    ///                 seen = v;
    ///             }
    ///             Err(WaitError::Closed) => return got,
    ///             Err(e) => panic!("{e}"),
    ///         }
    ///     }
    /// }
    ///
    /// let (mut writer, reader) = SoloWriter::channel(0u64);
    /// let publisher = std::thread::spawn(move || {
    ///     for i in 1..=100 {
    ///         writer.write(i);
    ///     }
    /// }); // the writer is dropped: closed
    /// let got = block_on(follow(reader));
    /// publisher.join().unwrap();
    /// assert_eq!(got.last(), Some(&100));
    /// assert!(got.windows(2).all(|w| w[0] < w[1]));
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    fn wait_newer_async(
        &self,
        seen: u64,
    ) -> crate::future::WaitNewer<'_, Self::Value, Self::Corrupt>
    where
        Self::Value: Send;

    /// Whether the writer is gone, so that nothing newer will come: a
    /// single-writer object whose writer was dropped, or (in a shared file)
    /// whose writer process holds the file no more. Always `false` for the
    /// types that have no writer handle (`VersionedCell`, `SeqLock`,
    /// `Publisher`: any thread may write at any time) and for a writer
    /// itself.
    ///
    /// ```
    /// use noclobber::Readable;
    /// let (w, r) = noclobber::SoloWriter::channel(0u8);
    /// assert!(!Readable::is_closed(&r));
    /// drop(w);
    /// assert!(Readable::is_closed(&r));
    /// assert!(!Readable::is_closed(&noclobber::SeqLock::new(0u8)));
    /// ```
    fn is_closed(&self) -> bool {
        false
    }
}

macro_rules! forward_readable {
    ($($ty:ty),*) => {$(
        impl<R: Readable + ?Sized> Sealed for $ty {}

        impl<R: Readable + ?Sized> Readable for $ty {
            type Value = R::Value;
            type Corrupt = R::Corrupt;
            #[inline]
            fn read(&self) -> Self::Value {
                (**self).read()
            }
            #[inline]
            fn read_versioned(&self) -> Versioned<Self::Value> {
                (**self).read_versioned()
            }
            #[inline]
            fn try_read(&self) -> Result<Versioned<Self::Value>, ReadError<Self::Corrupt>> {
                (**self).try_read()
            }
            #[cfg(feature = "std")]
            fn read_timeout(
                &self,
                timeout: std::time::Duration,
            ) -> Result<Versioned<Self::Value>, ReadError<Self::Corrupt>> {
                (**self).read_timeout(timeout)
            }
            #[inline]
            fn version(&self) -> u64 {
                (**self).version()
            }
            #[cfg(feature = "std")]
            fn wait_newer(
                &self,
                seen: u64,
                timeout: std::time::Duration,
            ) -> Result<Versioned<Self::Value>, WaitError<Self::Corrupt>> {
                (**self).wait_newer(seen, timeout)
            }
            #[cfg(feature = "async")]
            fn wait_newer_async(
                &self,
                seen: u64,
            ) -> crate::future::WaitNewer<'_, Self::Value, Self::Corrupt>
            where
                Self::Value: Send,
            {
                (**self).wait_newer_async(seen)
            }
            #[inline]
            fn is_closed(&self) -> bool {
                (**self).is_closed()
            }
        }
    )*};
}

forward_readable!(&R, alloc::boxed::Box<R>, alloc::sync::Arc<R>);

/// `impl Readable` for an in-process type by its inherent methods of the same
/// names.
macro_rules! readable_by_inherent {
    ([$($gen:tt)*] $ty:ty) => {
        $crate::read::readable_by_inherent!([$($gen)*] $ty, {});
    };
    ([$($gen:tt)*] $ty:ty, closable) => {
        $crate::read::readable_by_inherent!([$($gen)*] $ty, {
            #[inline]
            fn is_closed(&self) -> bool {
                <$ty>::is_closed(self)
            }
        });
    };
    ([$($gen:tt)*] $ty:ty, { $($extra:tt)* }) => {
        impl<$($gen)*> $crate::read::Sealed for $ty {}

        impl<$($gen)*> $crate::Readable for $ty {
            type Value = T;
            type Corrupt = core::convert::Infallible;
            #[inline]
            fn read(&self) -> T {
                <$ty>::read(self)
            }
            #[inline]
            fn read_versioned(&self) -> $crate::Versioned<T> {
                <$ty>::read_versioned(self)
            }
            #[inline]
            fn try_read(&self) -> Result<$crate::Versioned<T>, $crate::ReadError> {
                <$ty>::try_read(self)
            }
            #[cfg(feature = "std")]
            fn read_timeout(
                &self,
                timeout: std::time::Duration,
            ) -> Result<$crate::Versioned<T>, $crate::ReadError> {
                <$ty>::read_timeout(self, timeout)
            }
            #[inline]
            fn version(&self) -> u64 {
                <$ty>::version(self)
            }
            #[cfg(feature = "std")]
            fn wait_newer(
                &self,
                seen: u64,
                timeout: std::time::Duration,
            ) -> Result<$crate::Versioned<T>, $crate::WaitError> {
                <$ty>::wait_newer(self, seen, timeout)
            }
            #[cfg(feature = "async")]
            fn wait_newer_async(&self, seen: u64) -> $crate::future::WaitNewer<'_, T>
            where
                T: Send,
            {
                <$ty>::wait_newer_async(self, seen)
            }
            $($extra)*
        }
    };
}
pub(crate) use readable_by_inherent;
