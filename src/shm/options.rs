//! [`Options`]: how a handle creates or opens its file, and the three entry
//! points every handle shares ([`Open`], [`Create`]).

use std::path::Path;
use std::time::Duration;

use super::Error;

/// How a handle creates or opens its file. The handles' own `create`, `open`
/// and `open_or_create` use the defaults; set options here and name the
/// handle as the result type:
///
/// ```
/// use noclobber::shm::{Options, SharedSeqLock};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-mode", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let lock: SharedSeqLock<u64> = Options::new().mode(0o640).create(&path, 0)?;
/// #[cfg(unix)]
/// {
///     use std::os::unix::fs::PermissionsExt;
///     let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
///     assert_eq!(mode & !0o640, 0); // 0o640 minus whatever the umask clears
/// }
/// drop(lock); // (Windows deletes no file that is mapped)
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    mode: u32,
    writer_wait: Option<Duration>,
}

impl Options {
    /// Mode `0o600` for new files (Unix: only the owner can open them); no waiting
    /// for a single writer's lock.
    ///
    /// ```
    /// assert_eq!(noclobber::shm::Options::new(), Default::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Options {
            mode: 0o600,
            writer_wait: None,
        }
    }

    /// The permission bits of a new file, before the process's umask clears
    /// some (as with `open(2)`). `0o660` lets the owner's group open it too;
    /// every handle but `SharedSeqLockReader` maps its file read-write, so
    /// its processes need read and write permission. Unix only: on Windows
    /// it is ignored, and a new file gets the security descriptor its
    /// directory passes on (who may open it is the directory's access
    /// control list).
    ///
    /// ```
    /// let options = noclobber::shm::Options::new().mode(0o660);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub const fn mode(self, mode: u32) -> Self {
        Options { mode, ..self }
    }

    /// How long `open` of a `SharedSoloWriter` waits for the current writer
    /// to go away (exit, be killed, or drop its handle) before it gives up
    /// with [`Error::WriterBusy`]; it polls the lock every millisecond.
    /// `Duration::MAX` waits for ever. Other handles ignore it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use noclobber::shm::{Options, SharedSoloWriter};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-wait", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first = SharedSoloWriter::<u64>::create(&path, 0)?;
    /// let patient = Options::new().wait_for_writer(Duration::from_secs(10));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         std::thread::sleep(Duration::from_millis(20));
    ///         drop(first);
    ///     });
    ///     // Waits for the first writer to go away.
    ///     let _next: SharedSoloWriter<u64> = patient.open(&path).unwrap();
    /// });
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn wait_for_writer(self, timeout: Duration) -> Self {
        Options {
            writer_wait: Some(timeout),
            ..self
        }
    }

    pub(crate) fn file_mode(&self) -> u32 {
        self.mode
    }

    pub(crate) fn writer_wait(&self) -> Option<Duration> {
        self.writer_wait
    }

    /// Creates the file at `path` (it must not exist) holding `initial` at
    /// version 0, as the handle `H` (see its `create`).
    ///
    /// ```
    /// use noclobber::{shm::{Options, SharedPublisher}, Readable};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-ocreate", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p: SharedPublisher<u64> = Options::new().create(&path, 7)?;
    /// assert_eq!(p.read(), 7);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create<H: Create>(&self, path: impl AsRef<Path>, initial: H::Value) -> Result<H, Error> {
        H::create_with(path.as_ref(), initial, self, Private)
    }

    /// Opens the file at `path` as the handle `H` (see its `open`).
    ///
    /// ```
    /// use noclobber::shm::{Options, SharedSeqLock};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-oopen", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = SharedSeqLock::<u64>::create(&path, 1)?;
    /// let r: SharedSeqLock<u64> = Options::new().open(&path)?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open<H: Open>(&self, path: impl AsRef<Path>) -> Result<H, Error> {
        H::open_with(path.as_ref(), self, Private)
    }

    /// Opens the file at `path`, or creates it holding `initial` if there is
    /// none; if another process creates it first, opens that one (creation is
    /// atomic, so a file found is always complete). Gives up after a few
    /// rounds of a file that keeps appearing and disappearing.
    ///
    /// ```
    /// use noclobber::{shm::{Options, SharedPublisher}, Readable};
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-oooc", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first: SharedPublisher<u64> = Options::new().open_or_create(&path, 7)?; // creates
    /// first.write(8);
    /// let second: SharedPublisher<u64> = Options::new().open_or_create(&path, 0)?; // opens
    /// assert_eq!(second.read(), 8);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create<H: Create>(
        &self,
        path: impl AsRef<Path>,
        initial: H::Value,
    ) -> Result<H, Error>
    where
        H::Value: Copy,
    {
        let path = path.as_ref();
        super::file::open_or_create(
            || H::open_with(path, self, Private),
            || H::create_with(path, initial, self, Private),
        )
    }
}

/// [`Options::new`].
///
/// ```
/// let _ = noclobber::shm::Options::default();
/// ```
impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

/// A handle that opens an existing file: every handle of this module.
/// Sealed; use it through [`Options::open`] or the handle's own `open`.
pub trait Open: Sized + crate::read::Sealed {
    #[doc(hidden)]
    fn open_with(path: &Path, options: &Options, _: Private) -> Result<Self, Error>;
}

/// A handle that can create its file. Sealed; use it through
/// [`Options::create`] and [`Options::open_or_create`] or the handle's own
/// `create` and `open_or_create`.
pub trait Create: Open {
    /// The value type.
    type Value;
    #[doc(hidden)]
    fn create_with(
        path: &Path,
        initial: Self::Value,
        options: &Options,
        _: Private,
    ) -> Result<Self, Error>;
}

/// Keeps [`Open`] and [`Create`] callable only through [`Options`]: users
/// cannot name it.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Private;
