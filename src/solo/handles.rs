//! The in-process handles of the single-writer publisher: [`SoloWriter`]
//! and [`SoloReader`] over one [`Body`] in process memory.

use core::fmt;

use bytemuck::NoUninit;

use super::{Body, Writing};
use crate::notify::Grouped;
use crate::sync::Arc;
#[cfg(feature = "std")]
use crate::WaitError;
use crate::{ReadError, Versioned};

/// The one writer of a single-writer publisher: `Send`, not `Clone`, and every
/// write takes `&mut self`, so two publications can never overlap. Its
/// readers ([`SoloReader`], from [`reader`](Self::reader)) never wait for it,
/// not even for one stopped forever in the middle of a publication: the writer
/// never touches the slot the head names, so a read retries only when a newer
/// value was published during its copy (lock-free, not wait-free). A read
/// costs one head load, one stamp load and the payload's word loads, about
/// what a [`SeqLock`](crate::SeqLock) read costs. Use the multi-writer
/// [`Publisher`](crate::Publisher) when several threads must publish.
///
/// `SLOTS` (2 unless given) `< 2` does not compile; 2 are enough for readers
/// never to wait; more make an interrupted read rarer when copies are slow.
/// In a file shared between processes: `shm::SharedSoloWriter` and
/// `shm::SharedSoloReader` (feature `shm`).
///
/// # Example
///
/// ```
/// use noclobber::SoloWriter;
///
/// let (mut writer, reader) = SoloWriter::channel([0u64; 4]);
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         let reader = reader.clone();
///         s.spawn(move || {
///             let v = reader.read_versioned();
///             // Never torn: all four words come from publication `v.version`.
///             assert_eq!(v.value, [v.version; 4]);
///         });
///     }
///     s.spawn(move || {
///         for i in 1..=100 {
///             writer.write([i; 4]);
///         }
///     });
/// });
/// assert_eq!(reader.version(), 100);
/// ```
///
/// ```compile_fail
/// // One writer: it cannot be cloned.
/// let w = noclobber::SoloWriter::new(0u64);
/// let _second = w.clone();
/// ```
///
/// ```compile_fail
/// // A ring needs at least two slots.
/// let _ = noclobber::SoloWriter::<u64, 1>::with_slots(0);
/// ```
pub struct SoloWriter<T, const SLOTS: usize = 2> {
    shared: Arc<Body<T, SLOTS, Grouped>>,
    /// The head: only this writer moves it.
    version: u64,
}

/// A reader of a [`SoloWriter`]'s publications: cheap to clone (a reference
/// count) and to share (`Sync`).
///
/// ```
/// let (mut w, r) = noclobber::SoloWriter::channel(0u64);
/// let r2 = r.clone();
/// w.write(3);
/// assert_eq!((r.read(), r2.read()), (3, 3));
/// ```
pub struct SoloReader<T, const SLOTS: usize = 2>(Arc<Body<T, SLOTS, Grouped>>);

impl<T: NoUninit> SoloWriter<T> {
    /// A writer of 2 slots whose version 0 is `initial`; readers come from
    /// [`reader`](Self::reader). For another slot count,
    /// [`with_slots`](Self::with_slots).
    ///
    /// ```
    /// let mut w = noclobber::SoloWriter::new(7u32);
    /// let r = w.reader();
    /// assert_eq!(w.write(8), 1);
    /// assert_eq!(r.read(), 8);
    /// ```
    #[must_use]
    pub fn new(initial: T) -> Self {
        Self::with_slots(initial)
    }

    /// [`new`](Self::new) and a first reader, as `tokio::sync::watch::channel`
    /// gives them.
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloWriter::channel(7u32);
    /// assert_eq!(r.read(), 7);
    /// w.write(8);
    /// assert_eq!(r.read(), 8);
    /// ```
    #[must_use]
    pub fn channel(initial: T) -> (Self, SoloReader<T>) {
        let writer = Self::new(initial);
        let reader = writer.reader();
        (writer, reader)
    }
}

impl<T: NoUninit, const SLOTS: usize> SoloWriter<T, SLOTS> {
    /// A writer of `SLOTS` slots whose version 0 is `initial`.
    ///
    /// ```
    /// let w = noclobber::SoloWriter::<[u8; 3], 4>::with_slots([1, 2, 3]);
    /// assert_eq!(w.reader().read(), [1, 2, 3]);
    /// ```
    #[must_use]
    pub fn with_slots(initial: T) -> Self {
        SoloWriter {
            shared: Arc::new(Body::new(initial, Grouped::new())),
            version: 0,
        }
    }

    fn writing(&mut self) -> Writing<'_, T, SLOTS, Grouped> {
        Writing {
            body: &self.shared,
            version: &mut self.version,
        }
    }

    /// Publishes `value`; returns its version. Never waits for readers.
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloWriter::channel([0u32, 0]);
    /// assert_eq!(w.write([1, 1]), 1);
    /// assert_eq!(r.read(), [1, 1]);
    /// ```
    #[inline]
    pub fn write(&mut self, value: T) -> u64 {
        self.writing().write(value)
    }

    /// Publishes `f(current)`: no other write can come between the read and
    /// the write, since there is no other writer. If `f` panics nothing is
    /// published.
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloWriter::channel(10u64);
    /// let now = w.update(|x| x * 3);
    /// assert_eq!((now.value, now.version), (30, 1));
    /// assert_eq!(r.read(), 30);
    /// ```
    pub fn update(&mut self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        self.writing().update(f)
    }

    /// [`update`](Self::update) where `f` may decline by returning `None`:
    /// `Ok(published)`, or `Err(current)`, the value `f` declined.
    ///
    /// ```
    /// let mut w = noclobber::SoloWriter::new(1u32);
    /// let take_one = |n: u32| n.checked_sub(1);
    /// assert_eq!(w.checked_update(take_one).map(|v| v.value), Ok(0));
    /// assert_eq!(w.checked_update(take_one).map_err(|v| v.value), Err(0));
    /// ```
    pub fn checked_update(
        &mut self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.writing().checked_update(f)
    }

    /// A new reader of this writer's publications.
    ///
    /// ```
    /// let mut w = noclobber::SoloWriter::new(0u8);
    /// let r = w.reader();
    /// w.write(4);
    /// assert_eq!(r.read(), 4);
    /// ```
    #[must_use]
    pub fn reader(&self) -> SoloReader<T, SLOTS> {
        SoloReader(Arc::clone(&self.shared))
    }
}

/// Dropping the writer closes the publisher: every waiter wakes, and a
/// waiter that has seen the last value gets [`WaitError::Closed`] (one that
/// has not gets the last value first). The last value stays readable.
///
/// ```
/// use std::time::Duration;
/// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
/// let waiter = std::thread::spawn(move || r.wait_newer(1, Duration::MAX));
/// w.write(1);
/// drop(w);
/// assert_eq!(waiter.join().unwrap(), Err(noclobber::WaitError::Closed));
/// ```
impl<T, const SLOTS: usize> Drop for SoloWriter<T, SLOTS> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// The read methods of the single-writer ring, on the writer and on its
/// readers (documented once on [`SoloReader`]).
macro_rules! solo_read_methods {
    ($body:ident) => {
        /// The latest value. Never waits for the writer; retries only when a
        /// newer value was published during the copy.
        ///
        /// ```
        /// let (_w, r) = noclobber::SoloWriter::channel([1u8, 2, 3]);
        /// assert_eq!(r.read(), [1, 2, 3]);
        /// ```
        #[inline]
        #[must_use]
        pub fn read(&self) -> T {
            self.$body().read_versioned().value
        }

        /// Like [`read`](Self::read), with the version of the value.
        ///
        /// ```
        /// let (mut w, r) = noclobber::SoloWriter::channel(0u64);
        /// w.write(5);
        /// assert_eq!(r.read_versioned(), noclobber::Versioned { value: 5, version: 1 });
        /// ```
        #[inline]
        #[must_use]
        pub fn read_versioned(&self) -> Versioned<T> {
            self.$body().read_versioned()
        }

        /// One attempt at a copy: [`ReadError::Interrupted`] if a newer value
        /// was published during it (try again). Never waits.
        ///
        /// ```
        /// let (_w, r) = noclobber::SoloWriter::channel(9u16);
        /// assert_eq!(r.try_read().map(|v| v.value), Ok(9));
        /// ```
        #[inline]
        pub fn try_read(&self) -> Result<Versioned<T>, ReadError> {
            self.$body().try_read()
        }

        /// Reads until a copy succeeds or `timeout` has passed
        /// ([`ReadError::TimedOut`]: interrupted by a writer publishing faster
        /// than a copy, all that time).
        ///
        /// ```
        /// use std::time::Duration;
        /// let (_w, r) = noclobber::SoloWriter::channel(1u64);
        /// assert_eq!(r.read_timeout(Duration::from_millis(10)).unwrap().value, 1);
        /// ```
        #[cfg(feature = "std")]
        pub fn read_timeout(
            &self,
            timeout: std::time::Duration,
        ) -> Result<Versioned<T>, ReadError> {
            self.$body().read_timeout(timeout)
        }

        /// The version of the latest publication (0 for the initial value).
        ///
        /// ```
        /// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
        /// w.write(1);
        /// assert_eq!(r.version(), 1);
        /// ```
        #[inline]
        #[must_use]
        pub fn version(&self) -> u64 {
            self.$body().version()
        }

        /// Waits until a version newer than `seen` is published, then reads
        /// it; [`WaitError::TimedOut`] if none came within `timeout`
        /// (`Duration::MAX` waits for ever), [`WaitError::Interrupted`] if
        /// newer ones came but interrupted every copy until the deadline. The
        /// waiting thread sleeps (a futex on Linux, also across processes) and
        /// uses no CPU meanwhile; the writer pays nothing for it while nobody
        /// waits.
        ///
        /// Returns at once if the version is already newer than `seen`, so a
        /// loop that passes the version it got last sees every publication or
        /// skips forward, never back.
        ///
        /// ```
        /// use std::time::Duration;
        /// let (mut w, r) = noclobber::SoloWriter::channel(0u64);
        /// let waiter = std::thread::spawn(move || r.wait_newer(0, Duration::from_secs(10)));
        /// w.write(7);
        /// assert_eq!(waiter.join().unwrap().unwrap().value, 7);
        /// // Nothing newer than version 1 comes:
        /// assert_eq!(
        ///     w.reader().wait_newer(1, Duration::from_millis(1)),
        ///     Err(noclobber::WaitError::TimedOut)
        /// );
        /// ```
        #[cfg(feature = "std")]
        pub fn wait_newer(
            &self,
            seen: u64,
            timeout: std::time::Duration,
        ) -> Result<Versioned<T>, WaitError> {
            self.$body().wait_newer(seen, timeout)
        }

        /// [`wait_newer`](Self::wait_newer) as a future, for async tasks
        /// (feature `async`): the first version newer than `seen`, without
        /// blocking a thread, or [`WaitError::Closed`] once the writer is gone and
        /// nothing newer is there. Any executor; cancel-safe; no timeout of its
        /// own (see [`WaitNewer`](crate::future::WaitNewer)).
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
        /// let (mut w, r) = noclobber::SoloWriter::channel(0u64);
        /// let writer = std::thread::spawn(move || {
        ///     w.write(7);
        /// }); // dropped: the reader is closed
        /// // On any executor: tokio, smol, futures::executor::block_on.
        /// let got = block_on(async {
        ///     let mut seen = 0;
        ///     while let Ok(v) = r.wait_newer_async(seen).await {
        ///         seen = v.version;
        ///     }
        ///     (seen, r.wait_newer_async(seen).await)
        /// });
        /// writer.join().unwrap();
        /// assert_eq!(got, (1, Err(noclobber::WaitError::Closed)));
        /// ```
        #[cfg(feature = "async")]
        #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
        pub fn wait_newer_async(&self, seen: u64) -> crate::future::WaitNewer<'_, T>
        where
            T: Send,
        {
            self.$body().wait_newer_async(seen)
        }
    };
}

impl<T: NoUninit, const SLOTS: usize> SoloReader<T, SLOTS> {
    #[inline]
    pub(crate) fn body(&self) -> &Body<T, SLOTS, Grouped> {
        &self.0
    }

    solo_read_methods!(body);

    /// Whether the writer is gone (dropped): nothing newer will come, and
    /// [`wait_newer`](Self::wait_newer) returns [`WaitError::Closed`] once
    /// the last value was seen. The last value stays readable.
    ///
    /// ```
    /// let (w, r) = noclobber::SoloWriter::channel(5u32);
    /// assert!(!r.is_closed());
    /// drop(w);
    /// assert!(r.is_closed());
    /// assert_eq!(r.read(), 5);
    /// ```
    #[inline]
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The read methods, on the writer too (see [`SoloReader`] for each).
impl<T: NoUninit, const SLOTS: usize> SoloWriter<T, SLOTS> {
    #[inline]
    fn body(&self) -> &Body<T, SLOTS, Grouped> {
        &self.shared
    }

    solo_read_methods!(body);
}

crate::read::readable_by_inherent!([T: NoUninit, const SLOTS: usize] SoloReader<T, SLOTS>, closable);
crate::read::readable_by_inherent!([T: NoUninit, const SLOTS: usize] SoloWriter<T, SLOTS>);

/// A reference count: no copy of the object.
///
/// ```
/// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
/// let r2 = r.clone();
/// w.write(5);
/// assert_eq!(r2.read(), 5);
/// ```
impl<T, const SLOTS: usize> Clone for SoloReader<T, SLOTS> {
    fn clone(&self) -> Self {
        SoloReader(Arc::clone(&self.0))
    }
}

/// One attempt at a copy, never blocking.
///
/// ```
/// let (w, r) = noclobber::SoloWriter::channel(3u8);
/// assert_eq!(format!("{w:?}"), "SoloWriter { value: 3, version: 0, slots: 2 }");
/// assert_eq!(format!("{r:?}"), "SoloReader { value: 3, version: 0, slots: 2 }");
/// ```
impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for SoloWriter<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt_as("SoloWriter", f)
    }
}

impl<T: NoUninit + fmt::Debug, const SLOTS: usize> fmt::Debug for SoloReader<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_as("SoloReader", f)
    }
}
