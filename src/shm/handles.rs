//! The multi-writer handles: [`SharedPublisher`], [`SharedSeqLock`] and the
//! read-only [`SharedSeqLockReader`].

use core::fmt;
use std::path::Path;

use bytemuck::Pod;

use super::file::{corrupt, Mapping, OpenFile};
use super::options::{Create, Open, Private};
use super::{Corrupt, Error, Options};
#[cfg(target_pointer_width = "64")]
use crate::error::Fault;
use crate::read::Sealed;
use crate::{publisher, seqlock, ReadError, Readable, Versioned, WaitError, WriteError};

/// The read side of a shared handle, through its object's generic methods
/// with `Corrupt` for a damaged file.
macro_rules! readable_by_body {
    ([$($gen:tt)*] $ty:ty) => {
        impl<$($gen)*> Sealed for $ty {}

        impl<$($gen)*> Readable for $ty {
            type Value = T;
            type Corrupt = Corrupt;
            #[inline]
            fn read_versioned(&self) -> Versioned<T> {
                self.body().read_versioned()
            }
            #[inline]
            fn try_read(&self) -> Result<Versioned<T>, ReadError<Corrupt>> {
                self.body().try_read()
            }
            fn read_timeout(
                &self,
                timeout: std::time::Duration,
            ) -> Result<Versioned<T>, ReadError<Corrupt>> {
                self.body().read_timeout(timeout)
            }
            #[inline]
            fn version(&self) -> u64 {
                self.body().version()
            }
            fn wait_newer(
                &self,
                seen: u64,
                timeout: std::time::Duration,
            ) -> Result<Versioned<T>, WaitError<Corrupt>> {
                self.body().wait_newer(seen, timeout)
            }
            #[cfg(feature = "async")]
            fn wait_newer_async(&self, seen: u64) -> crate::future::WaitNewer<'_, T, Corrupt> {
                self.body().wait_newer_async(seen)
            }
        }
    };
}
pub(crate) use readable_by_body;

/// A [`Publisher`](crate::Publisher) in a file mapped into every process
/// that opens it: any number of writers in any number of processes, readers
/// that never wait, even for a writer process that was stopped or killed
/// mid-publication. Other writers carry on too: with `SLOTS >= 3` past one
/// stopped writer, and past any number of killed ones, whose claims are given
/// back. Reads through [`Readable`]; see the [module docs](super) for the
/// checks and the rules.
///
/// ```
/// use noclobber::{shm::SharedPublisher, Readable};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pub", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let writer = SharedPublisher::<[u32; 2]>::create(&path, [0, 0])?;
/// let reader = SharedPublisher::<[u32; 2]>::open(&path)?;
/// assert_eq!(writer.write([7, 7]), 1);
/// assert_eq!(reader.read(), [7, 7]);
/// // The same file opened as another type is refused.
/// assert!(SharedPublisher::<[u32; 2], 4>::open(&path).is_err());
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Fewer than 2 slots fail to compile, for `open` as for `create`:
///
/// ```compile_fail
/// let _ = noclobber::shm::SharedPublisher::<u64, 1>::open("/dev/shm/any");
/// ```
pub struct SharedPublisher<T: Pod + Send, const SLOTS: usize = 3> {
    map: Mapping<publisher::Body<T, SLOTS>>,
    file: OpenFile,
}

impl<T: Pod + Send, const SLOTS: usize> SharedPublisher<T, SLOTS> {
    /// Creates the file at `path` (it must not exist), holding a publisher
    /// whose version 0 is `initial`; file mode `0o600` (see [`Options`]).
    /// Errors: [`Error::Io`] (`AlreadyExists` if the file exists),
    /// [`Error::NotLockFree`].
    ///
    /// ```
    /// use noclobber::{shm::SharedPublisher, Readable};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pcreate", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = SharedPublisher::<u64>::create(&path, 7)?;
    /// assert_eq!(p.read_versioned(), noclobber::Versioned { value: 7, version: 0 });
    /// // Never over an existing file.
    /// assert!(SharedPublisher::<u64>::create(&path, 8).is_err());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Options::new().create(path, initial)
    }

    /// Opens a file made by [`create`](Self::create) with the same `T` and
    /// `SLOTS`. Returns immediately: [`Error::LayoutMismatch`] for another
    /// type, [`Error::Corrupt`] if the body behind the header is in a state
    /// no writer leaves (see the [module docs](super#layout-and-checks)), and
    /// the other [`Error`]s.
    ///
    /// ```
    /// use noclobber::{shm::SharedPublisher, Readable};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-popen", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(SharedPublisher::<u64>::open(&path).is_err()); // no file yet
    /// let writer = SharedPublisher::<u64>::create(&path, 0)?;
    /// writer.write(5);
    /// assert_eq!(SharedPublisher::<u64>::open(&path)?.read(), 5);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Options::new().open(path)
    }

    /// Opens the file at `path`, or creates it holding `initial`
    /// ([`Options::open_or_create`]).
    ///
    /// ```
    /// use noclobber::{shm::SharedPublisher, Readable};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pooc", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first = SharedPublisher::<u64>::open_or_create(&path, 7)?; // creates
    /// first.write(8);
    /// let second = SharedPublisher::<u64>::open_or_create(&path, 0)?; // opens
    /// assert_eq!(second.read(), 8);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Options::new().open_or_create(path, initial)
    }

    #[inline]
    fn body(&self) -> &publisher::Body<T, SLOTS> {
        &self.map.region().object
    }

    /// [`Publisher::write`](crate::Publisher::write), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pw", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = noclobber::shm::SharedPublisher::<u64>::create(&path, 0)?;
    /// assert_eq!(p.write(1), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn write(&self, value: T) -> u64 {
        self.body().write(value)
    }

    /// [`Publisher::try_write`](crate::Publisher::try_write), in the file:
    /// also [`WriteError::Corrupt`] for a file damaged after it was opened.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-ptw", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = noclobber::shm::SharedPublisher::<u64>::create(&path, 0)?;
    /// assert_eq!(p.try_write(1), Ok(1));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_write(&self, value: T) -> Result<u64, WriteError<Corrupt>> {
        self.body().try_write_until(value, None)
    }

    /// [`Publisher::write_timeout`](crate::Publisher::write_timeout), in the
    /// file: also [`WriteError::Corrupt`] for a damaged file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pwt", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = noclobber::shm::SharedPublisher::<u64>::create(&path, 0)?;
    /// assert_eq!(p.write_timeout(1, std::time::Duration::from_millis(10)), Ok(1));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_timeout(
        &self,
        value: T,
        timeout: std::time::Duration,
    ) -> Result<u64, WriteError<Corrupt>> {
        self.body().write_timeout(value, timeout)
    }

    /// [`Publisher::write_if`](crate::Publisher::write_if), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pwi", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = noclobber::shm::SharedPublisher::<u64>::create(&path, 0)?;
    /// assert_eq!(p.write_if(0, 1), Ok(1));
    /// assert_eq!(p.write_if(0, 2).unwrap_err().value, 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        self.body().write_if(expected_version, value)
    }

    /// [`Publisher::update`](crate::Publisher::update), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pu", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = noclobber::shm::SharedPublisher::<u64>::create(&path, 1)?;
    /// assert_eq!(p.update(|x| x + 1).value, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&self, f: impl FnMut(T) -> T) -> Versioned<T> {
        self.body().update(f)
    }

    /// [`Publisher::checked_update`](crate::Publisher::checked_update), in
    /// the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pcu", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = noclobber::shm::SharedPublisher::<u32>::create(&path, 0)?;
    /// assert!(p.checked_update(|x| x.checked_sub(1)).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checked_update(
        &self,
        f: impl FnMut(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.body().checked_update(f)
    }

    #[cfg(all(
        test,
        any(target_os = "linux", target_vendor = "apple", windows),
        not(miri)
    ))]
    pub(crate) fn ring(&self) -> crate::ring::Ring<'_, T, SLOTS> {
        self.body().ring()
    }
}

readable_by_body!([T: Pod + Send, const SLOTS: usize] SharedPublisher<T, SLOTS>);

impl<T: Pod + Send, const SLOTS: usize> Open for SharedPublisher<T, SLOTS> {
    fn open_with(path: &Path, _: &Options, _: Private) -> Result<Self, Error> {
        // Claims made from now on say who made them (I6, I8 in `ring/mod.rs`).
        super::owner::enable();
        let (map, _) = Mapping::<publisher::Body<T, SLOTS>>::open_with(path, true)?;
        let body = &map.region().object;
        body.ring().validate().map_err(corrupt(path))?;
        let file = OpenFile::register(&map);
        Ok(SharedPublisher { map, file })
    }
}

impl<T: Pod + Send, const SLOTS: usize> Create for SharedPublisher<T, SLOTS> {
    type Value = T;

    fn create_with(path: &Path, initial: T, options: &Options, _: Private) -> Result<Self, Error> {
        // As in `open_with`.
        super::owner::enable();
        let (map, _) = Mapping::create_then(path, initial, options.file_mode(), |_| Ok(()))?;
        let file = OpenFile::register(&map);
        Ok(SharedPublisher { map, file })
    }
}

/// The process gives its owner entries back (I8 in `ring/mod.rs`) when it
/// drops its last handle on the file: no publication of it is in flight then.
impl<T: Pod + Send, const SLOTS: usize> Drop for SharedPublisher<T, SLOTS> {
    fn drop(&mut self) {
        let body = &self.map.region().object;
        self.file.release(|| body.ring().release_owner());
    }
}

/// One attempt at a copy, never blocking.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let shared = noclobber::shm::SharedPublisher::<u8, 2>::create(&path, 4)?;
/// assert_eq!(
///     format!("{shared:?}"),
///     "SharedPublisher { value: 4, version: 0, slots: 2 }"
/// );
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug, const SLOTS: usize> fmt::Debug for SharedPublisher<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.body().fmt_as("SharedPublisher", f)
    }
}

/// A [`SeqLock`](crate::SeqLock) in a file mapped into every process that
/// opens it. A writer process stopped or killed in the middle of a write
/// blocks readers (`try_read` returns [`ReadError::Interrupted`]) and writers;
/// prefer [`SharedPublisher`] if writers can be stopped or die. Reads through
/// [`Readable`].
///
/// ```
/// use noclobber::{shm::SharedSeqLock, Readable};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-seq", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let writer = SharedSeqLock::<[f64; 3]>::create(&path, [0.0; 3])?;
/// let reader = SharedSeqLock::<[f64; 3]>::open(&path)?;
/// writer.write([1.0, 2.0, 3.0]);
/// assert_eq!(reader.try_read().map(|v| v.value), Ok([1.0, 2.0, 3.0]));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSeqLock<T: Pod + Send> {
    map: Mapping<seqlock::Body<T>>,
}

impl<T: Pod + Send> SharedSeqLock<T> {
    /// Creates the file at `path` (it must not exist), holding a seqlock with
    /// `initial` at version 0; file mode `0o600` (see [`Options`]). Errors as
    /// for [`SharedPublisher::create`].
    ///
    /// ```
    /// use noclobber::Readable;
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-screate", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<[u16; 3]>::create(&path, [1, 2, 3])?;
    /// assert_eq!(lock.read_versioned(), noclobber::Versioned { value: [1, 2, 3], version: 0 });
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Options::new().create(path, initial)
    }

    /// Opens a file made by [`create`](Self::create) with the same `T`.
    /// Errors as for [`SharedPublisher::open`]; [`Error::Corrupt`] if the
    /// sequence is odd and does not move for 50 ms (a writer stopped or
    /// killed mid-write), the only case in which this waits.
    ///
    /// ```
    /// use noclobber::{shm::SharedSeqLock, Readable};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sopen", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let writer = SharedSeqLock::<i64>::create(&path, -1)?;
    /// let reader = SharedSeqLock::<i64>::open(&path)?;
    /// writer.write(9);
    /// assert_eq!(reader.read(), 9);
    /// // Another `T` is refused.
    /// assert!(SharedSeqLock::<u32>::open(&path).is_err());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Options::new().open(path)
    }

    /// Opens the file at `path`, or creates it holding `initial`
    /// ([`Options::open_or_create`]).
    ///
    /// ```
    /// use noclobber::{shm::SharedSeqLock, Readable};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sooc", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first = SharedSeqLock::<u64>::open_or_create(&path, 7)?; // creates
    /// first.write(8);
    /// let second = SharedSeqLock::<u64>::open_or_create(&path, 0)?; // opens
    /// assert_eq!(second.read(), 8);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Options::new().open_or_create(path, initial)
    }

    #[inline]
    fn body(&self) -> &seqlock::Body<T> {
        &self.map.region().object
    }

    /// [`SeqLock::write`](crate::SeqLock::write), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sw", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 0)?;
    /// assert_eq!(lock.write(1), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn write(&self, value: T) -> u64 {
        self.body().write(value)
    }

    /// [`SeqLock::try_write`](crate::SeqLock::try_write), in the file: the way
    /// out when a writer process was killed mid-write.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-stw", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 0)?;
    /// assert_eq!(lock.try_write(1), Ok(1));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_write(&self, value: T) -> Result<u64, WriteError<Corrupt>> {
        self.body().try_write(value)
    }

    /// [`SeqLock::write_timeout`](crate::SeqLock::write_timeout), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-swt", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 0)?;
    /// assert_eq!(lock.write_timeout(1, std::time::Duration::from_millis(10)), Ok(1));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_timeout(
        &self,
        value: T,
        timeout: std::time::Duration,
    ) -> Result<u64, WriteError<Corrupt>> {
        self.body().write_timeout(value, timeout)
    }

    /// [`SeqLock::write_if`](crate::SeqLock::write_if), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-swi", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 0)?;
    /// assert_eq!(lock.write_if(0, 1), Ok(1));
    /// assert!(lock.write_if(0, 2).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Versioned<T>> {
        self.body().write_if(expected_version, value)
    }

    /// [`SeqLock::update`](crate::SeqLock::update), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-su", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 1)?;
    /// assert_eq!(lock.update(|x| x + 1).value, 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        self.body().update(f)
    }

    /// [`SeqLock::checked_update`](crate::SeqLock::checked_update), in the
    /// file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-scu", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u32>::create(&path, 0)?;
    /// assert!(lock.checked_update(|x| x.checked_sub(1)).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checked_update(
        &self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.body().checked_update(f)
    }

    /// [`SeqLock::try_update`](crate::SeqLock::try_update), in the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-stu", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 1)?;
    /// assert_eq!(lock.try_update(|x| x + 1).map(|v| v.value), Ok(2));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_update(&self, f: impl FnOnce(T) -> T) -> Result<Versioned<T>, WriteError<Corrupt>> {
        self.body().try_update(f)
    }

    /// [`SeqLock::update_timeout`](crate::SeqLock::update_timeout), in the
    /// file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sut", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<u64>::create(&path, 1)?;
    /// let ten_ms = std::time::Duration::from_millis(10);
    /// assert_eq!(lock.update_timeout(|x| x + 1, ten_ms).map(|v| v.value), Ok(2));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_timeout(
        &self,
        f: impl FnOnce(T) -> T,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WriteError<Corrupt>> {
        self.body().update_timeout(f, timeout)
    }
}

readable_by_body!([T: Pod + Send] SharedSeqLock<T>);

impl<T: Pod + Send> Open for SharedSeqLock<T> {
    fn open_with(path: &Path, _: &Options, _: Private) -> Result<Self, Error> {
        let (map, _) = Mapping::<seqlock::Body<T>>::open_with(path, true)?;
        let body = &map.region().object;
        let patience = seqlock::Body::<T>::ODD_PATIENCE;
        body.validate(patience).map_err(corrupt(path))?;
        Ok(SharedSeqLock { map })
    }
}

impl<T: Pod + Send> Create for SharedSeqLock<T> {
    type Value = T;

    fn create_with(path: &Path, initial: T, options: &Options, _: Private) -> Result<Self, Error> {
        let (map, _) = Mapping::create_then(path, initial, options.file_mode(), |_| Ok(()))?;
        Ok(SharedSeqLock { map })
    }
}

/// One attempt, never blocking.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let shared = noclobber::shm::SharedSeqLock::<u8>::create(&path, 3)?;
/// assert_eq!(format!("{shared:?}"), "SharedSeqLock { value: 3, version: 0 }");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug> fmt::Debug for SharedSeqLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        seqlock::fmt_attempt("SharedSeqLock", self.body().attempt(), f)
    }
}

/// A reader of a [`SharedSeqLock`] file on a **read-only** mapping: it needs
/// only read permission, and cannot forge values or damage the file. A
/// seqlock reader only loads, so the protocol allows it. Reads through
/// [`Readable`]; it cannot wait for a change (`wait_newer` polls the version
/// every millisecond, since a waiter announces itself by a store).
///
/// Only on 64-bit targets: std promises atomic loads from read-only memory
/// only for `Relaxed` loads no wider than a register, and this handle makes
/// no other access (its orderings come from fences).
///
/// ```
/// use noclobber::{shm::{SharedSeqLock, SharedSeqLockReader}, Readable};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sro", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let writer = SharedSeqLock::<[u32; 2]>::create(&path, [1, 2])?;
/// let reader = SharedSeqLockReader::<[u32; 2]>::open(&path)?;
/// writer.write([3, 4]);
/// assert_eq!(reader.read(), [3, 4]);
/// assert_eq!(reader.try_read().map(|v| v.version), Ok(1));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(target_pointer_width = "64")]
pub struct SharedSeqLockReader<T: Pod + Send> {
    map: Mapping<seqlock::Body<T>>,
}

#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send> SharedSeqLockReader<T> {
    /// Opens a file made by [`SharedSeqLock::create`] with the same `T`,
    /// read-only. Errors and checks as for [`SharedSeqLock::open`].
    ///
    /// ```
    /// use noclobber::{shm::{SharedSeqLock, SharedSeqLockReader}, Readable};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sroopen", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(SharedSeqLockReader::<u64>::open(&path).is_err()); // no file yet
    /// let _w = SharedSeqLock::<u64>::create(&path, 5)?;
    /// assert_eq!(SharedSeqLockReader::<u64>::open(&path)?.read(), 5);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Options::new().open(path)
    }

    /// The lock, for `Relaxed` loads only (see `Mapping::region`).
    #[inline]
    fn body(&self) -> &seqlock::Body<T> {
        &self.map.region().object
    }
}

#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send> Open for SharedSeqLockReader<T> {
    fn open_with(path: &Path, _: &Options, _: Private) -> Result<Self, Error> {
        let (map, _) = Mapping::<seqlock::Body<T>>::open_with(path, false)?;
        let body = &map.region().object;
        let patience = seqlock::Body::<T>::ODD_PATIENCE;
        body.validate(patience).map_err(corrupt(path))?;
        Ok(SharedSeqLockReader { map })
    }
}

#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send> Sealed for SharedSeqLockReader<T> {}

#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send> Readable for SharedSeqLockReader<T> {
    type Value = T;
    type Corrupt = Corrupt;

    #[inline]
    fn read_versioned(&self) -> Versioned<T> {
        self.body().read_loads_only()
    }

    #[inline]
    fn try_read(&self) -> Result<Versioned<T>, ReadError<Corrupt>> {
        self.body().attempt_loads_only().map_err(Fault::into_read)
    }

    fn read_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, ReadError<Corrupt>> {
        let deadline = crate::notify::deadline(timeout);
        self.body()
            .read_until_loads_only(deadline)
            .map_err(Fault::into_read)
    }

    #[inline]
    fn version(&self) -> u64 {
        self.body().version_loads_only()
    }

    /// Polls the version every millisecond: a read-only mapping cannot
    /// announce a waiter.
    fn wait_newer(
        &self,
        seen: u64,
        timeout: std::time::Duration,
    ) -> Result<Versioned<T>, WaitError<Corrupt>> {
        let deadline = crate::notify::deadline(timeout);
        while self.version() <= seen {
            if crate::notify::passed(deadline) {
                return Err(WaitError::TimedOut);
            }
            std::thread::sleep(crate::notify::FALLBACK_SLICE);
        }
        self.body()
            .read_until_loads_only(deadline)
            .map_err(|e| match e {
                Fault::TimedOut => WaitError::Interrupted,
                e => Fault::into_wait(e),
            })
    }

    /// Checks the version every millisecond, as `wait_newer` does.
    #[cfg(feature = "async")]
    fn wait_newer_async(&self, seen: u64) -> crate::future::WaitNewer<'_, T, Corrupt> {
        crate::future::WaitNewer::new(self, seen)
    }
}

/// The async wait of a read-only reader: no waiter words to announce
/// itself in (they are read-only here), so it checks every slice.
#[cfg(all(feature = "async", target_pointer_width = "64"))]
impl<T: Pod + Send> crate::notify::Target<T> for SharedSeqLockReader<T> {
    fn notify(&self) -> Option<&crate::notify::Notify> {
        None
    }
    fn how(&self) -> crate::notify::Announce {
        crate::notify::Announce::InCheck
    }
    fn check(&self, seen: u64) -> crate::notify::Seen {
        crate::notify::Seen::newer_if(self.version() > seen)
    }
    fn attempt(&self) -> Result<Versioned<T>, Fault> {
        self.body().attempt_loads_only()
    }
}

/// One attempt, never blocking.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srodbg", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 3)?;
/// let r = noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?;
/// assert_eq!(format!("{r:?}"), "SharedSeqLockReader { value: 3, version: 0 }");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send + fmt::Debug> fmt::Debug for SharedSeqLockReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempt = self.body().attempt_loads_only();
        seqlock::fmt_attempt("SharedSeqLockReader", attempt, f)
    }
}
