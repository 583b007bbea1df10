//! Why a shared file could not be created or opened: [`Error`] and [`IoOp`].

use core::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::header::MAGIC;

/// Why a shared mapping could not be created or opened.
///
/// Every variant names the file, and its `Display` says what was expected and
/// what was found:
///
/// ```
/// use noclobber::shm::{Error, SharedPublisher, SharedSeqLock};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-err", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _lock = SharedSeqLock::<[u64; 3]>::create(&path, [0; 3])?;
/// let err = SharedPublisher::<[u64; 3], 4>::open(&path).unwrap_err();
/// assert!(matches!(err, Error::TooSmall { .. } | Error::LayoutMismatch { .. }));
/// let text = err.to_string();
/// assert!(text.contains(&path.display().to_string()), "{text}");
/// assert!(text.contains("Publisher<[u64; 3], 4>"), "{text}");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Creating, opening, sizing or mapping the file failed. `create` reports
    /// [`io::ErrorKind::AlreadyExists`] if the file exists.
    #[non_exhaustive]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        op: IoOp,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is shorter than the layout needs: another layout, or a file
    /// whose creator has not sized it yet.
    #[non_exhaustive]
    TooSmall {
        /// The file.
        path: PathBuf,
        /// Length of the file.
        len: u64,
        /// Length this layout needs.
        expected: u64,
        /// The object asked for, named by the handle that creates it:
        /// `SharedPublisher<[u64; 4], 3>`, `SharedSoloWriter<..>` (also for a
        /// `SharedSoloReader`), `SharedSeqLock<..>` (also for a
        /// `SharedSeqLockReader`); `T` as [`core::any::type_name`] spells it.
        object: String,
    },
    /// The header's magic is not written. `create` links a file to its name
    /// only once it is complete, so a file created by this version never shows
    /// this; a file written by other means (or sized by hand) does.
    #[non_exhaustive]
    Uninitialized {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the magic number: not a shared `noclobber`
    /// object.
    #[non_exhaustive]
    NotShared {
        /// The file.
        path: PathBuf,
        /// The first 8 bytes of the file, as a little-endian `u64` (the magic is
        /// `b"noclobbr"`).
        found: u64,
    },
    /// The file was created by a version of this crate with another layout.
    #[non_exhaustive]
    LayoutVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u64,
        /// Version this build writes.
        expected: u64,
    },
    /// The file holds another object: another kind, `T`, slot count, or a build
    /// with another layout. The file records only a hash of its object's
    /// layout, so the error names what was expected in full and what was found
    /// by its hash and its size.
    #[non_exhaustive]
    LayoutMismatch {
        /// The file.
        path: PathBuf,
        /// The object asked for, named by the handle that creates it:
        /// `SharedPublisher<[u64; 4], 3>`, `SharedSoloWriter<..>` (also for a
        /// `SharedSoloReader`), `SharedSeqLock<..>` (also for a
        /// `SharedSeqLockReader`); `T` as [`core::any::type_name`] spells it.
        expected: String,
        /// `size_of::<T>()` of the expected value type.
        value_size: usize,
        /// Length of the file for the expected object.
        expected_len: u64,
        /// Length of the file found.
        found_len: u64,
        /// Layout hash of the expected object.
        expected_hash: u64,
        /// Layout hash in the file.
        found_hash: u64,
    },
    /// The mapping is not aligned for the object (never expected: mappings are
    /// page-aligned).
    #[non_exhaustive]
    Misaligned {
        /// The file.
        path: PathBuf,
        /// Alignment the object needs.
        align: usize,
    },
    /// 128-bit atomics are not lock-free on this CPU: a `Publisher` would fall
    /// back to process-local locks, which do not work across processes.
    #[non_exhaustive]
    NotLockFree {
        /// The file.
        path: PathBuf,
        /// The handle asked for, as in [`Error::TooSmall`].
        object: String,
    },
    /// Another process (or another handle in this one) holds the writer's lock
    /// of a [`SharedSoloWriter`](super::SharedSoloWriter): a single-writer
    /// object has one writer at a time.
    #[non_exhaustive]
    WriterBusy {
        /// The file.
        path: PathBuf,
    },
    /// The header is valid but the object behind it is in a state no writer
    /// leaves it in (a file written by other means, or damaged).
    #[non_exhaustive]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong: which slot holds which stamp.
        what: String,
    },
}

/// What an [`Error::Io`] was doing.
///
/// ```
/// assert_eq!(noclobber::shm::IoOp::Allocate.to_string(), "allocate");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoOp {
    /// Creating the file: the private temporary file, or linking it to the
    /// final name ([`io::ErrorKind::AlreadyExists`] if that exists).
    Create,
    /// Allocating the new file's blocks: no space, or a file-size limit.
    Allocate,
    /// Opening the file.
    Open,
    /// Reading the file's length or identity.
    Stat,
    /// Mapping the file.
    Map,
    /// Taking or probing the single writer's lock.
    Lock,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOp::Create => "create",
            IoOp::Allocate => "allocate",
            IoOp::Open => "open",
            IoOp::Stat => "stat",
            IoOp::Map => "map",
            IoOp::Lock => "lock",
        })
    }
}

impl Error {
    /// The file the error is about.
    ///
    /// ```
    /// let err = noclobber::shm::SharedSeqLock::<u64>::open("/nonexistent/noclobber").unwrap_err();
    /// assert_eq!(err.path(), std::path::Path::new("/nonexistent/noclobber"));
    /// ```
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. }
            | Error::TooSmall { path, .. }
            | Error::Uninitialized { path }
            | Error::NotShared { path, .. }
            | Error::LayoutVersion { path, .. }
            | Error::LayoutMismatch { path, .. }
            | Error::Misaligned { path, .. }
            | Error::NotLockFree { path, .. }
            | Error::WriterBusy { path }
            | Error::Corrupt { path, .. } => path,
        }
    }
}

impl Error {
    /// The same error about the file at `path` of `len` bytes, for errors made
    /// where the file is not known (`InShm::check_supported`, `Region::check`).
    pub(crate) fn in_file(mut self, file: &Path, len: u64) -> Self {
        match &mut self {
            Error::Io { path, .. }
            | Error::TooSmall { path, .. }
            | Error::Uninitialized { path }
            | Error::NotShared { path, .. }
            | Error::LayoutVersion { path, .. }
            | Error::Misaligned { path, .. }
            | Error::NotLockFree { path, .. }
            | Error::WriterBusy { path }
            | Error::Corrupt { path, .. } => *path = file.to_path_buf(),
            Error::LayoutMismatch {
                path, found_len, ..
            } => {
                *path = file.to_path_buf();
                *found_len = len;
            }
        }
        self
    }
}

/// ```
/// let err = noclobber::shm::SharedSeqLock::<u64>::open("/nonexistent/noclobber").unwrap_err();
/// let text = err.to_string();
/// assert!(text.starts_with("cannot open /nonexistent/noclobber: "), "{text}");
/// // The system's words follow (Windows: "Path not found. (os error 3)").
/// #[cfg(unix)]
/// assert_eq!(
///     text,
///     "cannot open /nonexistent/noclobber: No such file or directory (os error 2)"
/// );
/// ```
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => {
                write!(f, "cannot {op} {}: {source}", path.display())
            }
            Error::TooSmall {
                path,
                len,
                expected,
                object,
            } => write!(
                f,
                "{}: file is {len} bytes, a {object} needs {expected} \
                 (another object, or its creator has not sized it yet)",
                path.display()
            ),
            Error::Uninitialized { path } => write!(
                f,
                "{}: shared mapping is not initialised (yet): its creator is still \
                 initialising it, or died before it finished",
                path.display()
            ),
            Error::NotShared { path, found } => write!(
                f,
                "{}: not a noclobber shared mapping: starts with {:?}, expected {:?}",
                path.display(),
                String::from_utf8_lossy(&found.to_le_bytes()),
                String::from_utf8_lossy(&MAGIC.to_le_bytes()),
            ),
            Error::LayoutVersion {
                path,
                found,
                expected,
            } => write!(
                f,
                "{}: shared mapping has layout version {found}, this build of noclobber \
                 expects {expected}",
                path.display()
            ),
            Error::LayoutMismatch {
                path,
                expected,
                value_size,
                expected_len,
                found_len,
                expected_hash,
                found_hash,
            } => write!(
                f,
                "{}: holds another object than the expected {expected} (T of {value_size} \
                 bytes, file of {expected_len} bytes): found a file of {found_len} bytes \
                 with layout hash {found_hash:#018x}, expected {expected_hash:#018x} \
                 (another kind, T, slot count or build)",
                path.display()
            ),
            Error::Misaligned { path, align } => write!(
                f,
                "{}: shared mapping is not aligned to {align} bytes for the object",
                path.display()
            ),
            Error::NotLockFree { path, object } => write!(
                f,
                "{}: 128-bit atomics are not lock-free on this CPU, so a {object} \
                 cannot be shared between processes",
                path.display()
            ),
            Error::WriterBusy { path } => write!(
                f,
                "{}: another writer holds this single-writer object (its file lock is taken)",
                path.display()
            ),
            Error::Corrupt { path, what } => {
                write!(
                    f,
                    "{}: the shared object is corrupt: {what}",
                    path.display()
                )
            }
        }
    }
}

/// [`Error::Io`]'s source is the operating system's error.
///
/// ```
/// use std::error::Error as _;
/// let err = noclobber::shm::SharedSeqLock::<u64>::open("/nonexistent/noclobber").unwrap_err();
/// let io = err.source().unwrap().downcast_ref::<std::io::Error>().unwrap();
/// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
/// ```
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// [`Error::Io`] for `op` on `path`.
pub(crate) fn io_error(path: &Path, op: IoOp) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}
