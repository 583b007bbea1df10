//! [`Cursor`]: a reader that remembers the version it last returned.

use core::fmt;

use crate::Readable;
#[cfg(feature = "std")]
use crate::{Versioned, WaitError};

/// A reader that remembers the last version it returned, so that a follower
/// loop needs no bookkeeping of its own: [`changed_timeout`] waits for the
/// next version and marks it seen, [`has_changed`] says whether there is one,
/// [`read_and_update`] reads and marks what it read as seen. The names and
/// their meaning follow `tokio::sync::watch::Receiver` (`changed`,
/// `has_changed`, `borrow_and_update`, `mark_changed`, `mark_unchanged`),
/// with a copy where `watch` lends a reference.
///
/// It works over anything [`Readable`]: a [`SoloReader`](crate::SoloReader)
/// (whose writer may go away: then the cursor gets the last value once, then
/// [`WaitError::Closed`]), a `&Publisher`, an `Arc<SeqLock>`, an `shm`
/// handle. A new cursor has seen the version current when it was made.
///
/// [`changed_timeout`]: Self::changed_timeout
/// [`has_changed`]: Self::has_changed
/// [`read_and_update`]: Self::read_and_update
///
/// ```
/// use std::time::Duration;
/// use noclobber::{Cursor, SoloWriter, WaitError};
///
/// let (mut writer, reader) = SoloWriter::channel(0u32);
/// let mut cursor = Cursor::new(reader); // has seen version 0
/// let follower = std::thread::spawn(move || {
///     let mut got = Vec::new();
///     // Every value, or newer ones, until the writer is gone.
///     loop {
///         match cursor.changed_timeout(Duration::MAX) {
///             Ok(v) => got.push(v.value),
///             Err(WaitError::Closed) => return got,
///             Err(e) => panic!("{e}"),
///         }
///     }
/// });
/// for i in 1..=3 {
///     writer.write(i);
/// }
/// drop(writer);
/// let got = follower.join().unwrap();
/// assert_eq!(got.last(), Some(&3));
/// assert!(got.windows(2).all(|w| w[0] < w[1]));
/// ```
pub struct Cursor<R> {
    source: R,
    seen: u64,
    /// `mark_changed`: the next `changed_timeout` returns at once.
    marked: bool,
}

impl<R: Readable> Cursor<R> {
    /// A cursor over `source` that has seen its current version.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u8);
    /// let cursor = noclobber::Cursor::new(&p);
    /// assert_eq!(cursor.seen(), 0);
    /// assert_eq!(cursor.has_changed(), Ok(false));
    /// ```
    pub fn new(source: R) -> Self {
        let seen = source.version();
        Cursor {
            source,
            seen,
            marked: false,
        }
    }

    /// The version this cursor has seen last.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u8);
    /// p.write(2);
    /// let mut cursor = noclobber::Cursor::new(&p);
    /// assert_eq!(cursor.seen(), 1);
    /// ```
    #[must_use]
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Whether a version newer than the one seen is there;
    /// [`WaitError::Closed`] once the writer is gone, even with a newer
    /// version unseen (as `watch::Receiver::has_changed`; the value stays
    /// readable, and [`changed_timeout`](Self::changed_timeout) still returns
    /// it once).
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
    /// let cursor = noclobber::Cursor::new(r);
    /// assert_eq!(cursor.has_changed(), Ok(false));
    /// w.write(1);
    /// assert_eq!(cursor.has_changed(), Ok(true));
    /// drop(w);
    /// assert_eq!(cursor.has_changed(), Err(noclobber::WaitError::Closed));
    /// ```
    #[cfg(feature = "std")]
    pub fn has_changed(&self) -> Result<bool, WaitError<R::Corrupt>> {
        if self.source.is_closed() {
            return Err(WaitError::Closed);
        }
        Ok(self.marked || self.source.version() > self.seen)
    }

    /// Reads the latest value and marks its version seen (as
    /// `watch::Receiver::borrow_and_update`).
    ///
    /// ```
    /// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
    /// let mut cursor = noclobber::Cursor::new(r);
    /// w.write(7);
    /// assert_eq!(cursor.read_and_update(), 7);
    /// assert_eq!(cursor.has_changed(), Ok(false));
    /// ```
    pub fn read_and_update(&mut self) -> R::Value {
        let v = self.source.read_versioned();
        self.seen = self.seen.max(v.version);
        self.marked = false;
        v.value
    }

    /// Waits until a version newer than the one seen is there, reads it and
    /// marks it seen (as `watch::Receiver::changed`, which then needs a
    /// `borrow`); at once if there is one. [`WaitError::TimedOut`] if none came
    /// within `timeout` (`Duration::MAX` waits for ever);
    /// [`WaitError::Closed`] once the writer is gone and the last value was
    /// seen. On any error nothing is marked seen.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
    /// let mut cursor = noclobber::Cursor::new(r);
    /// w.write(1);
    /// w.write(2);
    /// // Skips to the latest, never back.
    /// assert_eq!(cursor.changed_timeout(Duration::ZERO).map(|v| v.value), Ok(2));
    /// assert_eq!(cursor.changed_timeout(Duration::ZERO), Err(noclobber::WaitError::TimedOut));
    /// ```
    #[cfg(feature = "std")]
    pub fn changed_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<Versioned<R::Value>, WaitError<R::Corrupt>> {
        let v = if self.marked {
            self.source.read_versioned()
        } else {
            self.source.wait_newer(self.seen, timeout)?
        };
        self.seen = self.seen.max(v.version);
        self.marked = false;
        Ok(v)
    }

    /// [`changed_timeout`](Self::changed_timeout) as a future, for async tasks
    /// (feature `async`), as `watch::Receiver::changed` is: waits until a
    /// version newer than the one seen is there, reads it and marks it seen;
    /// [`WaitError::Closed`] once the writer is gone and the last value was
    /// seen. Any executor; no timeout of its own.
    ///
    /// Cancel-safe: a future dropped before it completes marks nothing seen,
    /// so the next call returns what it would have.
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
    /// use noclobber::{Cursor, SoloWriter, WaitError};
    ///
    /// let (mut writer, reader) = SoloWriter::channel(0u32);
    /// let mut cursor = Cursor::new(reader);
    /// let publisher = std::thread::spawn(move || {
    ///     for i in 1..=3 {
    ///         writer.write(i);
    ///     }
    /// }); // the writer is dropped
    /// // On any executor: tokio, smol, futures::executor::block_on.
    /// let got = block_on(async {
    ///     let mut got = Vec::new();
    ///     loop {
    ///         match cursor.changed().await {
    ///             Ok(v) => got.push(v.value),
    ///             Err(WaitError::Closed) => return got,
    ///             Err(e) => panic!("{e}"),
    ///         }
    ///     }
    /// });
    /// publisher.join().unwrap();
    /// assert_eq!(got.last(), Some(&3));
    /// ```
    #[cfg(feature = "async")]
    #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
    pub fn changed(&mut self) -> Changed<'_, R>
    where
        R::Value: Send,
    {
        let Cursor {
            source,
            seen,
            marked,
        } = self;
        let wait = (!*marked).then(|| source.wait_newer_async(*seen));
        Changed {
            source,
            seen,
            marked,
            wait,
        }
    }

    /// Marks the current version unseen, so that the next
    /// [`changed_timeout`](Self::changed_timeout) returns at once and
    /// [`has_changed`](Self::has_changed) is `true`, without a new write (as
    /// `watch::Receiver::mark_changed`).
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u8);
    /// let mut cursor = noclobber::Cursor::new(&p);
    /// cursor.mark_changed();
    /// assert_eq!(cursor.has_changed(), Ok(true));
    /// ```
    pub fn mark_changed(&mut self) {
        self.marked = true;
    }

    /// Marks the current version seen without reading it (as
    /// `watch::Receiver::mark_unchanged`).
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u8);
    /// let mut cursor = noclobber::Cursor::new(&p);
    /// p.write(2);
    /// cursor.mark_unchanged();
    /// assert_eq!(cursor.has_changed(), Ok(false));
    /// ```
    pub fn mark_unchanged(&mut self) {
        self.seen = self.source.version();
        self.marked = false;
    }

    /// The source the cursor reads from.
    ///
    /// ```
    /// let p = noclobber::Publisher::new(1u8);
    /// let cursor = noclobber::Cursor::new(&p);
    /// assert_eq!(cursor.source().read(), 1);
    /// ```
    pub fn source(&self) -> &R {
        &self.source
    }

    /// The source, giving up the cursor.
    ///
    /// ```
    /// let (_w, r) = noclobber::SoloWriter::channel(1u8);
    /// let r = noclobber::Cursor::new(r).into_inner();
    /// assert_eq!(r.read(), 1);
    /// ```
    pub fn into_inner(self) -> R {
        self.source
    }
}

/// A clone has seen what the original has seen (as `watch::Receiver::clone`).
///
/// ```
/// let (mut w, r) = noclobber::SoloWriter::channel(0u8);
/// let a = noclobber::Cursor::new(r);
/// w.write(1);
/// let b = a.clone();
/// assert_eq!((a.has_changed(), b.has_changed()), (Ok(true), Ok(true)));
/// ```
impl<R: Clone> Clone for Cursor<R> {
    fn clone(&self) -> Self {
        Cursor {
            source: self.source.clone(),
            seen: self.seen,
            marked: self.marked,
        }
    }
}

/// ```
/// let p = noclobber::Publisher::new(1u8);
/// let cursor = noclobber::Cursor::new(&p);
/// assert!(format!("{cursor:?}").starts_with("Cursor { seen: 0, marked: false, source: Publisher"));
/// ```
impl<R: fmt::Debug> fmt::Debug for Cursor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("seen", &self.seen)
            .field("marked", &self.marked)
            .field("source", &self.source)
            .finish()
    }
}

/// The future of [`Cursor::changed`].
///
/// ```
/// fn spawnable<F: std::future::Future + Send>(_: F) {}
/// let (_w, r) = noclobber::SoloWriter::channel(0u8);
/// let mut cursor = noclobber::Cursor::new(r);
/// spawnable(cursor.changed()); // `Send`, for multi-thread runtimes
/// ```
#[cfg(feature = "async")]
#[must_use = "a future does nothing unless awaited"]
pub struct Changed<'a, R: Readable> {
    source: &'a R,
    seen: &'a mut u64,
    marked: &'a mut bool,
    /// `None` when the cursor was marked changed: the future reads at once.
    wait: Option<crate::future::WaitNewer<'a, R::Value, R::Corrupt>>,
}

#[cfg(feature = "async")]
impl<R: Readable> core::future::Future for Changed<'_, R> {
    type Output = Result<Versioned<R::Value>, WaitError<R::Corrupt>>;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        let this = self.get_mut();
        let v = match &mut this.wait {
            Some(wait) => core::task::ready!(core::pin::Pin::new(wait).poll(cx))?,
            None => this.source.read_versioned(),
        };
        // Only now, as it completes: a future dropped earlier marks nothing.
        *this.seen = (*this.seen).max(v.version);
        *this.marked = false;
        core::task::Poll::Ready(Ok(v))
    }
}

#[cfg(feature = "async")]
impl<R: Readable> fmt::Debug for Changed<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changed")
            .field("seen", &self.seen)
            .field("marked", &self.marked)
            .finish_non_exhaustive()
    }
}
