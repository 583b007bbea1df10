//! [`Publisher`] and [`SeqLock`] shared between processes through a
//! memory-mapped file (feature `shm`).
//!
//! One process [`create`](SharedPublisher::create)s the file, any number of
//! processes [`open`](SharedPublisher::open) it, and all of them read and write
//! through the usual [`Publisher`] / [`SeqLock`] methods (the handles
//! dereference to them).
//!
//! ```
//! use noclobber::shm::SharedPublisher;
//!
//! let path = std::env::temp_dir().join(format!("noclobber-doc-{}-mod", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! let writer = SharedPublisher::<[u64; 4], 3>::create(&path, [0; 4])?;
//! // In another process (here: another mapping of the same file).
//! let reader = SharedPublisher::<[u64; 4], 3>::open(&path)?;
//! writer.publish([1, 2, 3, 4]);
//! assert_eq!(reader.read_versioned().value, [1, 2, 3, 4]);
//! assert_eq!(reader.version(), 1);
//! std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees across processes
//!
//! * Everything the in-process types promise holds between processes: values
//!   are never torn, versions count publications.
//! * A **stopped or killed writer never blocks [`Publisher`] readers**: they keep
//!   reading the last published value. Claims of writer processes that died
//!   mid-publication are given back by the next writer that finds no slot free
//!   (Linux: each claim records its process, in an owner table of 31 entries
//!   in the file), so a kill never wedges the file, also of a writer `fork`ed
//!   after the file was opened (a child computes its own identity at its
//!   first claim). Writers carry on while at most `SLOTS - 2` writers are
//!   *stopped* mid-publication, so use `SLOTS >= 3`. A new process can `open`
//!   the file and keep publishing.
//! * **At most 31 writer processes per file at a time.** A process holds an
//!   owner entry from its first publication until it drops its last handle on
//!   the file, or dies. A 32nd process that publishes waits in `publish` until
//!   an entry is free (`try_publish` and `publish_timeout` give up): it never
//!   makes a claim that could not be given back.
//! * **Namespaces.** A claim is judged dead only by a writer in the same pid
//!   namespace, and only when both are in the initial time namespace (Linux
//!   shifts the start times it reports by the *reader's* clock offset, so
//!   they cannot be compared across time namespaces). Claims of a dead writer
//!   that no writer can judge are kept, never wrongly taken (docs/shm.md).
//! * A [`SeqLock`] writer stopped or killed *between* its two sequence bumps
//!   blocks it: `try_read` returns `None` and `read` and other writers spin until
//!   it resumes, forever if it died. Use a [`Publisher`] when that is not acceptable.
//!
//! # Layout and checks
//!
//! The file holds a header (magic, layout version, layout hash) followed by the
//! object. The hash covers the object's size, alignment, slot count, payload
//! words and field offsets, the size and alignment of `T`, and
//! [`core::any::type_name`] of `T`. `create` initialises the object, then
//! writes the magic with `Release`; `open` loads it with `Acquire` and refuses a
//! file that is too small, not initialised, or of another layout (see
//! [`Error`]). Then it checks the body behind the header, and refuses with
//! [`Error::Corrupt`] (saying what is wrong) a state no writer leaves:
//!
//! * `SharedPublisher`: the ticket counter behind the head's ticket (every
//!   writer would spin), the head's slot claimed by an older ticket or free
//!   (a writer could overwrite the published value), or a word of the head's
//!   slot tagged with another ticket (no read could succeed). A head that
//!   keeps moving during the check is taken as proof of live writers.
//! * `SharedSeqLock`: a sequence that is odd and does not move for 50 ms (a
//!   writer stopped or killed mid-write, or damage): every reader and writer
//!   would wait on it forever.
//! * `SharedSoloReader` / `SharedSoloWriter::attach`: every slot's stamp.
//!
//! `open` never waits, except that `SharedSeqLock::open` gives an odd sequence
//! those 50 ms to move. A body damaged after opening makes the bounded reads
//! return `ReadError::Corrupt` (`Publisher`, `SoloPublisher`).
//!
//! Memory in the mapping is only ever accessed through atomics. `T` must be
//! [`Pod`]: any bytes another process leaves in the file are a valid `T`.
//!
//! # Do not
//!
//! * store pointers or references (including `usize` addresses) in `T`: the other
//!   processes map the file at other addresses;
//! * open one file as different types, or from binaries built with another
//!   definition of `T` (same path and layout are checked, meaning is not);
//! * truncate or rewrite a file that processes have open (a process touching
//!   a truncated mapping gets `SIGBUS`); remove it instead: processes that
//!   still map it keep the old one (`create` never replaces a file);
//! * write to the file by other means. Garbage cannot cause undefined behaviour
//!   (`T: Pod`), but it can make readers and writers retry forever.
//!
//! For `fork`-style sharing, create the file, optionally remove it (the mapping
//! stays), then fork: the children inherit the shared mapping. Prefer a `tmpfs`
//! so the kernel does not write pages back to disk, and a private directory on
//! it (e.g. `/dev/shm/myapp/`, mode `0700`, or `$XDG_RUNTIME_DIR`) over a name
//! directly in the world-writable `/dev/shm`, which any user can take first.
//!
//! # Creation
//!
//! `create` is atomic: it builds the file under a private temporary name in
//! the same directory (`O_EXCL`, mode `0o600` unless [`CreateOptions`] says
//! otherwise), allocates it in full (`fallocate`, so a full file system or a
//! file-size limit is an `Err`, never a `SIGBUS`), initialises it, and only
//! then hard-links it to the final name, which fails if that name exists: an
//! existing file is never replaced, and no process ever sees the final name
//! half-initialised, even if the creator is killed. On error only the
//! temporary is removed. A creator killed before the link can leave a stray
//! `.NAME.noclobber-tmp.PID.N` beside the final name (safe to delete). The
//! directory's file system must support hard links (tmpfs and the usual Unix
//! file systems do). `open_or_create` opens the file or creates it.
//!
//! # Permissions
//!
//! Who may open the file is its mode. [`SharedSeqLockReader`] maps a
//! `SeqLock` file read-only and needs only read permission (it cannot forge
//! values or damage the file, and cannot wait for a change). Every other
//! handle maps the file read-write: [`SharedSeqLock`] handles can write, a
//! [`SharedSoloReader`] counts itself in the file while it waits
//! (`wait_newer`; no reader method stores anything else), and every handle of
//! a [`SharedPublisher`], readers too, may store in a 128-bit atomic load
//! (`cmpxchg16b`).

use core::any::type_name;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, offset_of, size_of};
use core::ops::Deref;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use bytemuck::Pod;
use memmap2::{MmapOptions, MmapRaw};

use crate::solo::{self, SoloPublisher};
use crate::sync::{AtomicU64, Ordering};
use crate::{Publisher, SeqLock, Versioned};

/// First word of every mapping: `b"noclobbr"`.
const MAGIC: u64 = u64::from_le_bytes(*b"noclobbr");
/// Bumped whenever the meaning of the header or of an object's fields
/// changes, so that processes built with different meanings never share a
/// file (the CHANGELOG lists what each version changed).
const LAYOUT_VERSION: u64 = 6;

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
        /// What failed: `"create"` (the temporary file, or linking it to the
        /// final name: `AlreadyExists` if that exists), `"allocate"` (no
        /// space, or a file-size limit), `"open"`, `"size"`, `"stat"`, `"map"`
        /// or `"lock"`.
        op: &'static str,
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
        /// The object asked for, as [`core::any::type_name`] spells it, e.g.
        /// `noclobber::publisher::Publisher<[u64; 4], 3>` (kind, `T`, slots).
        object: &'static str,
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
        /// The object asked for, as [`core::any::type_name`] spells it, e.g.
        /// `noclobber::publisher::Publisher<[u64; 4], 3>` (kind, `T`, slots).
        expected: &'static str,
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
    /// 128-bit atomics are not lock-free on this CPU: a [`Publisher`] would fall
    /// back to process-local locks, which do not work across processes.
    #[non_exhaustive]
    NotLockFree {
        /// The file.
        path: PathBuf,
        /// The object asked for, as [`core::any::type_name`] spells it.
        object: &'static str,
    },
    /// Another process (or another handle in this one) holds the writer's lock
    /// of a [`SharedSoloWriter`]: a single-writer object has one writer at a time.
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
    fn in_file(mut self, file: &Path, len: u64) -> Self {
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
/// assert_eq!(
///     err.to_string(),
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
                "{}: file is {len} bytes, a shared {object} needs {expected} \
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
fn io_error<'p>(path: &'p Path, op: &'static str) -> impl FnOnce(io::Error) -> Error + 'p {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Makes the temporary names of one process distinct.
static TEMP_COUNTER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Allocates the first `len` bytes of the empty `file` (and sets its length):
/// `fallocate`, or writing zeroes where the file system does not support it
/// (what glibc's `posix_fallocate` does). Either way every page exists when
/// this returns `Ok`, so touching the mapping can never raise `SIGBUS` for
/// want of space; a full file system (`ENOSPC`) or a file-size limit (`EFBIG`)
/// is an `Err`.
fn allocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        use rustix::io::Errno;
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    use std::os::unix::fs::FileExt;
    let zeroes = [0u8; 4096];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(zeroes.len() as u64) as usize;
        file.write_all_at(&zeroes[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// How [`SharedPublisher::create_with`] and the other `create_with` /
/// `open_or_create_with` functions create a file: its permission bits, `0o600`
/// (owner read and write) unless set. As with `open(2)`, the process's umask
/// clears bits from the mode.
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// use noclobber::shm::{CreateOptions, SharedSeqLock};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-mode", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _lock = SharedSeqLock::<u64>::create_with(&path, 0, &CreateOptions::new().mode(0o640))?;
/// let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
/// assert_eq!(mode & !0o640, 0); // 0o640 minus whatever the umask clears
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateOptions {
    mode: u32,
}

impl CreateOptions {
    /// Mode `0o600`: only the owner can open the file.
    ///
    /// ```
    /// assert_eq!(noclobber::shm::CreateOptions::new(), Default::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        CreateOptions { mode: 0o600 }
    }

    /// The permission bits of the new file (`0o640`: the owner's group may
    /// open it too; a reader that only opens read-only needs read permission).
    ///
    /// ```
    /// let options = noclobber::shm::CreateOptions::new().mode(0o660);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub const fn mode(self, mode: u32) -> Self {
        CreateOptions { mode }
    }
}

/// [`CreateOptions::new`].
///
/// ```
/// let _ = noclobber::shm::CreateOptions::default();
/// ```
impl Default for CreateOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Opens `path` with `open`, or creates it with `create` if it does not
/// exist; if another process creates it in between (`AlreadyExists`), opens
/// that one. Creation is atomic, so a file found is always complete. Gives up
/// after a few rounds of a file that keeps appearing and disappearing.
fn open_or_create<R>(
    mut open: impl FnMut() -> Result<R, Error>,
    mut create: impl FnMut() -> Result<R, Error>,
) -> Result<R, Error> {
    let is = |e: &Error, kind| matches!(e, Error::Io { source, .. } if source.kind() == kind);
    let mut last = None;
    for _ in 0..8 {
        match open() {
            Err(e) if is(&e, io::ErrorKind::NotFound) => {}
            done => return done,
        }
        match create() {
            Err(e) if is(&e, io::ErrorKind::AlreadyExists) => last = Some(e),
            done => return done,
        }
    }
    Err(last.expect("the loop ran"))
}

/// An object that can live in a mapping shared with other processes.
///
/// # Safety
///
/// Every byte pattern (all zeroes in particular) is a valid `Self`, `Self` holds
/// no pointers, and every access to its memory is atomic. Then a `&Self` into
/// the mapping refers only to atomics, which other processes may modify like
/// other threads would, and no byte they leave there can be an invalid value.
unsafe trait InShm {
    type Value: Pod;
    /// Distinguishes object kinds with equal layout numbers.
    const KIND: &'static str;
    /// The object's own layout numbers.
    const SHAPE: &'static [usize];
    /// Refuses an object this build cannot share: a shape that must not
    /// compile (a `Publisher` with fewer than 2 slots), or `Error::NotLockFree`
    /// (with an empty path, which the caller fills in: `Error::in_file`).
    fn check_supported() -> Result<(), Error>;
    fn init_in_place(&self, value: Self::Value);
    /// Runs in every process that maps the object writable, once the object
    /// is initialised or checked, before the caller gets it: a store-published
    /// kind prepares its writers for waiters (N5 in `notify.rs`).
    fn mapped_writable(&self) {}
}

// SAFETY: `SoloPublisher` is `#[repr(C, align(128))]`: an `AtomicU64` head, the
// two `AtomicU32` waiter words of `notify::Notify`, and slots of an `AtomicU64`
// stamp plus an `UnsafeCell` of words the crate only accesses as `AtomicU64`
// (`words::Words::at`), and padding. As for the other kinds, every data byte is
// inside an `UnsafeCell`, accessed atomically, any bit pattern is valid
// (`T: Pod`), and there are no pointers.
unsafe impl<T: Pod + Send, const SLOTS: usize> InShm for SoloPublisher<T, SLOTS> {
    type Value = T;
    const KIND: &'static str = "SoloPublisher";
    const SHAPE: &'static [usize] = &Self::LAYOUT;

    fn check_supported() -> Result<(), Error> {
        // Fewer than 2 slots fail to compile, as for `SoloPublisher::channel`.
        let () = SoloPublisher::<T, SLOTS>::AT_LEAST_TWO_SLOTS;
        Ok(())
    }

    fn init_in_place(&self, value: T) {
        SoloPublisher::init_in_place(self, value);
    }

    fn mapped_writable(&self) {
        self.notify().prepare_store_writers();
    }
}

// SAFETY: `Publisher` is `#[repr(C)]` and consists of `CachePadded<AtomicU128>`
// (the head), `CachePadded<ring::Tickets>` (16 `AtomicU64`s: the ticket
// counter and the owner table), two `AtomicU32` waiter words
// (`notify::Notify`) and slots of an `AtomicU64`
// claim plus an `UnsafeCell` of words the crate only accesses as `AtomicU128`
// (`words::Tagged::at`), and padding. Every data byte is thus inside an
// `UnsafeCell` (atomics are), so a `&Publisher` does not claim the bytes are
// immutable, and all of them are read and written atomically. Integers accept
// every bit pattern, and `T: Pod` makes any payload words a valid `T` when a read
// turns them into a value. It holds no pointers. `T: Send`: values cross
// processes (and threads) by copy.
unsafe impl<T: Pod + Send, const SLOTS: usize> InShm for Publisher<T, SLOTS> {
    type Value = T;
    const KIND: &'static str = "Publisher";
    const SHAPE: &'static [usize] = &Self::LAYOUT;

    fn check_supported() -> Result<(), Error> {
        // `create` and `open` both call this: a `SharedPublisher` with fewer
        // than 2 slots fails to compile like `Publisher::new` does.
        let () = Publisher::<T, SLOTS>::AT_LEAST_TWO_SLOTS;
        if Publisher::<T, SLOTS>::is_lock_free() {
            Ok(())
        } else {
            Err(Error::NotLockFree {
                path: PathBuf::new(),
                object: type_name::<Self>(),
            })
        }
    }

    fn init_in_place(&self, value: T) {
        Publisher::init_in_place(self, value);
    }
}

// SAFETY: `SeqLock` is `#[repr(C)]`: an `AtomicU64` sequence, two `AtomicU32`
// waiter words (`notify::Notify`) and an `UnsafeCell`
// of words the crate only accesses as `AtomicU64` (`words::Words::at`). Every bit
// pattern is valid as above (`T: Pod`), and it holds no pointers. Its readers
// only load, so `SharedSeqLockReader` may map the file read-only (on 64-bit
// targets, with `Relaxed` loads only).
unsafe impl<T: Pod + Send> InShm for SeqLock<T> {
    type Value = T;
    const KIND: &'static str = "SeqLock";
    const SHAPE: &'static [usize] = &Self::LAYOUT;

    fn check_supported() -> Result<(), Error> {
        // 64-bit atomics are lock-free wherever core provides them.
        Ok(())
    }

    fn init_in_place(&self, value: T) {
        SeqLock::init_in_place(self, value);
    }
}

/// The start of every mapping. All fields are written before `magic`.
#[repr(C)]
struct Header {
    magic: AtomicU64,
    layout_version: AtomicU64,
    layout_hash: AtomicU64,
}

/// What the file holds: the header, then the object at its alignment.
#[repr(C)]
struct Region<O> {
    header: Header,
    object: O,
}

/// The publication protocol of the header, apart from the mapping so that
/// Miri (which cannot map files) checks it on ordinary memory (tests below).
impl<O: InShm> Region<O> {
    /// Initialises the header and the object of an all-zero region nobody else
    /// writes yet, and publishes them.
    fn init(&self, value: O::Value) {
        let Region { header, object } = self;
        // Relaxed (both): published by the Release store of the magic below.
        header
            .layout_version
            .store(LAYOUT_VERSION, Ordering::Relaxed);
        header
            .layout_hash
            .store(layout_hash::<O>(), Ordering::Relaxed);
        object.init_in_place(value);
        // Release, and last: an opener that loads the magic with Acquire sees the
        // header fields, the whole initialised object and everything the
        // creator did before. Only Miri checks this (the `tests` below): shm is
        // not built under loom, and on x86-64 every store is a release anyway.
        header.magic.store(MAGIC, Ordering::Release);
    }

    /// Whether `init` has published a region of this very layout. The errors
    /// have an empty path and found length, which the caller fills in
    /// (`Error::in_file`).
    fn check(&self) -> Result<(), Error> {
        let header = &self.header;
        let path = PathBuf::new;
        // Relaxed, then an Acquire fence: together an Acquire load, pairing
        // with the creator's Release store of the magic in `init`; without
        // it the fields below and the object may be read before the magic
        // (checked by Miri in the `tests` below). A fence rather than an
        // Acquire load, because a read-only mapping allows only `Relaxed`
        // loads (`SharedSeqLockReader`).
        let magic = header.magic.load(Ordering::Relaxed);
        crate::sync::fence(Ordering::Acquire);
        match magic {
            MAGIC => {}
            0 => return Err(Error::Uninitialized { path: path() }),
            found => {
                return Err(Error::NotShared {
                    path: path(),
                    found,
                })
            }
        }
        // Relaxed (both): written before the magic, made visible by the Acquire
        // above, and never written again.
        let found = header.layout_version.load(Ordering::Relaxed);
        if found != LAYOUT_VERSION {
            let expected = LAYOUT_VERSION;
            return Err(Error::LayoutVersion {
                path: path(),
                found,
                expected,
            });
        }
        let (found_hash, expected_hash) = (
            header.layout_hash.load(Ordering::Relaxed),
            layout_hash::<O>(),
        );
        if found_hash != expected_hash {
            return Err(Error::LayoutMismatch {
                path: path(),
                expected: type_name::<O>(),
                value_size: size_of::<O::Value>(),
                expected_len: size_of::<Self>() as u64,
                found_len: 0,
                expected_hash,
                found_hash,
            });
        }
        Ok(())
    }
}

/// FNV-1a over everything the layout depends on; identical in every process
/// (no random state), so it can be compared across processes.
fn layout_hash<O: InShm>() -> u64 {
    let numbers = [
        size_of::<Region<O>>(),
        align_of::<Region<O>>(),
        offset_of!(Region<O>, object),
        size_of::<O::Value>(),
        align_of::<O::Value>(),
        usize::from(cfg!(target_endian = "big")),
    ];
    let words = numbers
        .iter()
        .chain(O::SHAPE)
        .flat_map(|&n| (n as u64).to_le_bytes());
    let names = [O::KIND, "|", type_name::<O::Value>()]
        .into_iter()
        .flat_map(str::bytes);
    words.chain(names).fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A checked mapping of a `Region<O>`.
struct Mapping<O> {
    map: MmapRaw,
    object: PhantomData<O>,
}

impl<O: InShm> Mapping<O> {
    const LEN: usize = size_of::<Region<O>>();

    fn create(path: &Path, value: O::Value, options: &CreateOptions) -> Result<Self, Error> {
        Self::create_then(path, value, options, |_| Ok(())).map(|(this, _)| this)
    }

    /// `create`, running `before_init` on the new, allocated file before the
    /// object is initialised and published (the single writer takes its lock
    /// there, so no other writer can attach in between). Returns the file too.
    ///
    /// Atomic: the file is created under a private temporary name in the same
    /// directory (`O_EXCL`, `options.mode`), allocated in full (so a full file
    /// system is an `Err` here, never a `SIGBUS` later), initialised, and only
    /// then linked to `path`, which fails if `path` exists: an existing file is
    /// never replaced, and no process can see `path` half-initialised. The
    /// temporary name is removed in every case (only it: on error nothing
    /// under `path` is touched). A creator killed before the link leaves a
    /// stray temporary (`.NAME.noclobber-tmp.PID.N`), never a broken `path`.
    fn create_then(
        path: &Path,
        value: O::Value,
        options: &CreateOptions,
        before_init: impl FnOnce(&File) -> Result<(), Error>,
    ) -> Result<(Self, File), Error> {
        use std::os::unix::fs::OpenOptionsExt;
        O::check_supported().map_err(|e| e.in_file(path, 0))?;
        let name = path.file_name().ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            op: "create",
            source: io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
        })?;
        // Not needed for correctness (the link below refuses an existing
        // `path`); it only spares the work of building a file for nothing.
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(io_error(path, "create")(
                io::ErrorKind::AlreadyExists.into(),
            ));
        }
        let (file, tmp) = loop {
            let tmp = path.with_file_name(format!(
                ".{}.noclobber-tmp.{}.{}",
                name.to_string_lossy(),
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            ));
            // `create_new`: `O_EXCL`, so the temporary is ours alone; a stale
            // one of a dead process with our pid is skipped.
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(options.mode)
                .open(&tmp)
            {
                Ok(file) => break (file, tmp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(path, "create")(e)),
            }
        };
        let built = (|| {
            allocate(&file, Self::LEN as u64).map_err(io_error(path, "allocate"))?;
            let this = Self::map(&file, path, true)?;
            before_init(&file)?;
            this.region().init(value);
            this.region().object.mapped_writable();
            // The Release store of the magic in `init` orders the object for
            // openers in other processes; the link makes it reachable.
            std::fs::hard_link(&tmp, path).map_err(io_error(path, "create"))?;
            Ok(this)
        })();
        // After the link `path` names the same file; before it, or on error,
        // the temporary is the only name and removing it frees the file.
        let _ = std::fs::remove_file(&tmp);
        built.map(|this| (this, file))
    }

    fn open(path: &Path) -> Result<Self, Error> {
        Self::open_with(path, true).map(|(this, _)| this)
    }

    /// `open`, mapping the file read-only unless `writable`; returns the file too.
    fn open_with(path: &Path, writable: bool) -> Result<(Self, File), Error> {
        O::check_supported().map_err(|e| e.in_file(path, 0))?;
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(io_error(path, "open"))?;
        let len = file.metadata().map_err(io_error(path, "stat"))?.len();
        if len < Self::LEN as u64 {
            return Err(Error::TooSmall {
                path: path.to_path_buf(),
                len,
                expected: Self::LEN as u64,
                object: type_name::<O>(),
            });
        }
        let this = Self::map(&file, path, writable)?;
        this.region().check().map_err(|e| e.in_file(path, len))?;
        if writable {
            this.region().object.mapped_writable();
        }
        Ok((this, file))
    }

    /// Maps the first `LEN` bytes of `file` (at `path`), which is at least
    /// that long; read-only unless `writable`.
    fn map(file: &File, path: &Path, writable: bool) -> Result<Self, Error> {
        // A shared mapping. Read-write for every kind whose readers may store:
        // a 128-bit atomic load may be a `cmpxchg16b`, which writes.
        let options = MmapOptions::new().len(Self::LEN).clone();
        let map = if writable {
            options.map_raw(file)
        } else {
            options.map_raw_read_only(file)
        }
        .map_err(io_error(path, "map"))?;
        if !map.as_ptr().cast::<Region<O>>().is_aligned() {
            return Err(Error::Misaligned {
                path: path.to_path_buf(),
                align: align_of::<Region<O>>(),
            });
        }
        Ok(Mapping {
            map,
            object: PhantomData,
        })
    }

    fn region(&self) -> &Region<O> {
        // SAFETY: the mapping is `LEN = size_of::<Region<O>>()` bytes of a file
        // at least that long (checked before mapping), aligned (checked in `map`),
        // and lives as long as `self`. Its bytes are initialised (file contents)
        // and, by `O: InShm`, any bytes form a valid `Region<O>` (the header is
        // atomics too). `Region<O>` consists of atomics only, so a shared
        // reference to memory that other processes modify concurrently is what a
        // reference shared with other threads is; no `&mut` is ever made. A
        // read-only mapping (`SharedSeqLockReader`) is only ever loaded from,
        // with `Relaxed` 64-bit loads on 64-bit targets: its header checks
        // (`Region::check`), its body check (`SeqLock::validate`) and the
        // read methods it exposes (`SeqLock::*_loads_only`; it does not deref
        // to the lock) make no other access.
        unsafe { &*self.map.as_ptr().cast::<Region<O>>() }
    }
}

/// A [`Publisher`] in a file mapped into every process that opens it.
///
/// Dereferences to the [`Publisher`]: `read`, `publish` and the rest work
/// across processes. Readers never wait, even for a writer process that was
/// stopped or killed mid-publication. Other writers carry on too: with
/// `SLOTS >= 3` past one stopped writer, and past any number of killed ones,
/// whose claims are given back. See the [module docs](self) for the checks and
/// the rules.
///
/// ```
/// use noclobber::shm::SharedPublisher;
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pub", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let writer = SharedPublisher::<[u32; 2], 3>::create(&path, [0, 0])?;
/// let reader = SharedPublisher::<[u32; 2], 3>::open(&path)?;
/// assert_eq!(writer.publish([7, 7]), 1);
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
pub struct SharedPublisher<T: Pod + Send, const SLOTS: usize>(
    Mapping<Publisher<T, SLOTS>>,
    OpenFile,
);

/// The process gives its owner entries back (I8 in `ring.rs`) when it drops
/// its last handle on the file: no publication of it is in flight then.
impl<T: Pod + Send, const SLOTS: usize> Drop for SharedPublisher<T, SLOTS> {
    fn drop(&mut self) {
        self.1
            .release(|| self.0.region().object.ring().release_owner());
    }
}

/// This process's handles on one file, by device and inode: the owner
/// entries of a `SharedPublisher` file are given back when the last one is
/// dropped (I8 in `ring.rs`).
struct OpenFile {
    id: (u64, u64),
}

/// The open counts of [`OpenFile`]s. A child `fork`ed while another thread
/// held this lock would block in its first `open` or drop of a handle: fork
/// from a thread that is not opening or dropping handles.
static OPEN_FILES: std::sync::Mutex<Vec<((u64, u64), usize)>> = std::sync::Mutex::new(Vec::new());

impl OpenFile {
    fn register(file: &File, path: &Path) -> Result<Self, Error> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().map_err(io_error(path, "stat"))?;
        let id = (meta.dev(), meta.ino());
        let mut open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
        match open.iter_mut().find(|(f, _)| *f == id) {
            Some((_, count)) => *count += 1,
            None => open.push((id, 1)),
        }
        Ok(OpenFile { id })
    }

    /// Counts this handle out; runs `last` if it was the process's last one
    /// on the file, with the count locked, so that no handle is opened
    /// meanwhile.
    fn release(&self, last: impl FnOnce()) {
        let mut open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = open.iter().position(|(f, _)| *f == self.id) else {
            return;
        };
        open[i].1 -= 1;
        if open[i].1 == 0 {
            open.swap_remove(i);
            last();
        }
    }
}

impl<T: Pod + Send, const SLOTS: usize> SharedPublisher<T, SLOTS> {
    /// Creates the file at `path` (it must not exist), holding a publisher
    /// whose version 0 is `initial`.
    ///
    /// Errors: [`Error::Io`] (`AlreadyExists` if the file exists),
    /// [`Error::NotLockFree`].
    ///
    /// ```
    /// use noclobber::shm::SharedPublisher;
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pcreate", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = SharedPublisher::<u64, 3>::create(&path, 7)?;
    /// assert_eq!(p.read_versioned(), noclobber::Versioned { value: 7, version: 0 });
    /// // Never over an existing file.
    /// assert!(SharedPublisher::<u64, 3>::create(&path, 8).is_err());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Self::create_with(path, initial, &CreateOptions::new())
    }

    /// [`create`](Self::create) with the file's mode from `options` (the
    /// default is `0o600`). Every process that opens a `SharedPublisher`
    /// needs read and write permission: its readers map the file read-write,
    /// since a 128-bit atomic load may be a `cmpxchg16b`, which stores.
    ///
    /// ```
    /// use noclobber::shm::{CreateOptions, SharedPublisher};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pcwith", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = SharedPublisher::<u64, 3>::create_with(&path, 1, &CreateOptions::new().mode(0o660))?;
    /// assert_eq!(p.read(), 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with(
        path: impl AsRef<Path>,
        initial: T,
        options: &CreateOptions,
    ) -> Result<Self, Error> {
        // Claims made from now on say who made them (I6, I8 in `ring.rs`).
        crate::owner::enable();
        let (map, file) = Mapping::create_then(path.as_ref(), initial, options, |_| Ok(()))?;
        Ok(Self(map, OpenFile::register(&file, path.as_ref())?))
    }

    /// Opens the file at `path`, or creates it holding `initial` if there is
    /// none; if another process creates it first, opens that one (creation is
    /// atomic, so it is complete). Mode `0o600`; see
    /// [`open_or_create_with`](Self::open_or_create_with).
    ///
    /// ```
    /// use noclobber::shm::SharedPublisher;
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pooc", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first = SharedPublisher::<u64, 3>::open_or_create(&path, 7)?; // creates
    /// first.publish(8);
    /// let second = SharedPublisher::<u64, 3>::open_or_create(&path, 0)?; // opens
    /// assert_eq!(second.read(), 8);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Self::open_or_create_with(path, initial, &CreateOptions::new())
    }

    /// [`open_or_create`](Self::open_or_create), creating with `options`.
    ///
    /// ```
    /// use noclobber::shm::{CreateOptions, SharedPublisher};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-poocw", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = SharedPublisher::<u8, 2>::open_or_create_with(&path, 1, &CreateOptions::new())?;
    /// assert_eq!(p.read(), 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create_with(
        path: impl AsRef<Path>,
        initial: T,
        options: &CreateOptions,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        open_or_create(
            || Self::open(path),
            || Self::create_with(path, initial, options),
        )
    }

    /// Opens a file made by [`create`](Self::create) with the same `T` and `SLOTS`.
    ///
    /// Returns immediately: [`Error::LayoutMismatch`] for another type,
    /// [`Error::Corrupt`] if the body behind the header is in a state no writer
    /// leaves (see the [module docs](self#layout-and-checks)), and the other
    /// [`Error`]s. ([`Error::TooSmall`] and [`Error::Uninitialized`] only for
    /// a file not made by `create`, which links a file into place complete.)
    ///
    /// ```
    /// use noclobber::shm::SharedPublisher;
    ///
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-popen", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(SharedPublisher::<u64, 3>::open(&path).is_err()); // no file yet
    /// let writer = SharedPublisher::<u64, 3>::create(&path, 0)?;
    /// writer.publish(5);
    /// assert_eq!(SharedPublisher::<u64, 3>::open(&path)?.read(), 5);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        // As in `create_with`.
        crate::owner::enable();
        let (map, file) = Mapping::<Publisher<T, SLOTS>>::open_with(path, true)?;
        map.region()
            .object
            .ring()
            .validate()
            .map_err(corrupt(path))?;
        Ok(Self(map, OpenFile::register(&file, path)?))
    }
}

/// The [`Publisher`] in the mapping.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pderef", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let shared = noclobber::shm::SharedPublisher::<u32, 3>::create(&path, 1)?;
/// let publisher: &noclobber::Publisher<u32, 3> = &shared;
/// assert_eq!(publisher.publish(2), 1);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send, const SLOTS: usize> Deref for SharedPublisher<T, SLOTS> {
    type Target = Publisher<T, SLOTS>;

    #[inline]
    fn deref(&self) -> &Publisher<T, SLOTS> {
        &self.0.region().object
    }
}

/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-pdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let shared = noclobber::shm::SharedPublisher::<u8, 2>::create(&path, 4)?;
/// assert_eq!(
///     format!("{shared:?}"),
///     "SharedPublisher(Publisher { value: 4, version: 0, slots: 2 })"
/// );
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug, const SLOTS: usize> fmt::Debug for SharedPublisher<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedPublisher").field(&**self).finish()
    }
}

/// A [`SeqLock`] in a file mapped into every process that opens it.
///
/// Dereferences to the [`SeqLock`]. A writer process stopped or killed in the
/// middle of a write blocks readers (`try_read` returns `None`) and writers;
/// prefer [`SharedPublisher`] if writers can be stopped or die.
///
/// ```
/// use noclobber::shm::SharedSeqLock;
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-seq", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let writer = SharedSeqLock::<[f64; 3]>::create(&path, [0.0; 3])?;
/// let reader = SharedSeqLock::<[f64; 3]>::open(&path)?;
/// writer.write([1.0, 2.0, 3.0]);
/// assert_eq!(reader.try_read(), Some([1.0, 2.0, 3.0]));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSeqLock<T>(Mapping<SeqLock<T>>);

impl<T: Pod + Send> SharedSeqLock<T> {
    /// Creates the file at `path` (it must not exist), holding a seqlock with
    /// `initial` at version 0. Errors as for [`SharedPublisher::create`].
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-screate", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let lock = noclobber::shm::SharedSeqLock::<[u16; 3]>::create(&path, [1, 2, 3])?;
    /// assert_eq!(lock.read_versioned(), noclobber::Versioned { value: [1, 2, 3], version: 0 });
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Self::create_with(path, initial, &CreateOptions::new())
    }

    /// [`create`](Self::create) with the file's mode from `options` (the
    /// default is `0o600`). Every process that opens it with
    /// [`open`](Self::open) needs read and write permission.
    ///
    /// ```
    /// use noclobber::shm::{CreateOptions, SharedSeqLock};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-scwith", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = SharedSeqLock::<u64>::create_with(&path, 1, &CreateOptions::new().mode(0o660))?;
    /// assert_eq!(p.read(), 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with(
        path: impl AsRef<Path>,
        initial: T,
        options: &CreateOptions,
    ) -> Result<Self, Error> {
        Mapping::create(path.as_ref(), initial, options).map(Self)
    }

    /// Opens the file at `path`, or creates it holding `initial` if there is
    /// none; if another process creates it first, opens that one (creation is
    /// atomic, so it is complete). Mode `0o600`; see
    /// [`open_or_create_with`](Self::open_or_create_with).
    ///
    /// ```
    /// use noclobber::shm::SharedSeqLock;
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
        Self::open_or_create_with(path, initial, &CreateOptions::new())
    }

    /// [`open_or_create`](Self::open_or_create), creating with `options`.
    ///
    /// ```
    /// use noclobber::shm::{CreateOptions, SharedSeqLock};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-soocw", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let p = SharedSeqLock::<u8>::open_or_create_with(&path, 1, &CreateOptions::new())?;
    /// assert_eq!(p.read(), 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create_with(
        path: impl AsRef<Path>,
        initial: T,
        options: &CreateOptions,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        open_or_create(
            || Self::open(path),
            || Self::create_with(path, initial, options),
        )
    }

    /// Opens a file made by [`create`](Self::create) with the same `T`.
    /// Errors as for [`SharedPublisher::open`]; [`Error::Corrupt`] if the
    /// sequence is odd and does not move for 50 ms (a writer stopped or killed
    /// mid-write), the only case in which this waits.
    ///
    /// ```
    /// use noclobber::shm::SharedSeqLock;
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
        let path = path.as_ref();
        let map = Mapping::<SeqLock<T>>::open(path)?;
        map.region()
            .object
            .validate(SeqLock::<T>::ODD_PATIENCE)
            .map_err(corrupt(path))?;
        Ok(Self(map))
    }
}

/// The [`SeqLock`] in the mapping.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sderef", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let shared = noclobber::shm::SharedSeqLock::<u64>::create(&path, 1)?;
/// let lock: &noclobber::SeqLock<u64> = &shared;
/// assert_eq!(lock.update(|x| x + 1).value, 2);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send> Deref for SharedSeqLock<T> {
    type Target = SeqLock<T>;

    #[inline]
    fn deref(&self) -> &SeqLock<T> {
        &self.0.region().object
    }
}

/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let shared = noclobber::shm::SharedSeqLock::<u8>::create(&path, 3)?;
/// assert_eq!(format!("{shared:?}"), "SharedSeqLock(SeqLock { value: 3, version: 0 })");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug> fmt::Debug for SharedSeqLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedSeqLock").field(&**self).finish()
    }
}

/// A reader of a [`SharedSeqLock`] file on a **read-only** mapping: it needs
/// only read permission, and cannot forge values or damage the file. A
/// seqlock reader only loads, so the protocol allows it; the handle has the
/// read methods of [`SeqLock`] and no write method (it does not dereference
/// to the lock, whose writes would fault on a read-only mapping).
///
/// Only on 64-bit targets: std promises atomic loads from read-only memory
/// only for `Relaxed` loads no wider than a register, and this handle makes
/// no other access (its orderings come from fences).
///
/// ```
/// use noclobber::shm::{SharedSeqLock, SharedSeqLockReader};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sro", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let writer = SharedSeqLock::<[u32; 2]>::create(&path, [1, 2])?;
/// let reader = SharedSeqLockReader::<[u32; 2]>::open(&path)?;
/// writer.write([3, 4]);
/// assert_eq!(reader.read(), [3, 4]);
/// assert_eq!(reader.try_read_versioned().map(|v| v.version), Some(1));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(target_pointer_width = "64")]
pub struct SharedSeqLockReader<T>(Mapping<SeqLock<T>>);

#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send> SharedSeqLockReader<T> {
    /// Opens a file made by [`SharedSeqLock::create`] with the same `T`,
    /// read-only. Errors and checks as for [`SharedSeqLock::open`].
    ///
    /// ```
    /// use noclobber::shm::{SharedSeqLock, SharedSeqLockReader};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sroopen", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(SharedSeqLockReader::<u64>::open(&path).is_err()); // no file yet
    /// let _w = SharedSeqLock::<u64>::create(&path, 5)?;
    /// assert_eq!(SharedSeqLockReader::<u64>::open(&path)?.read(), 5);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let (map, _) = Mapping::<SeqLock<T>>::open_with(path, false)?;
        map.region()
            .object
            .validate(SeqLock::<T>::ODD_PATIENCE)
            .map_err(corrupt(path))?;
        Ok(Self(map))
    }

    /// The lock, for loads only (see `Mapping::region`).
    fn lock(&self) -> &SeqLock<T> {
        &self.0.region().object
    }

    /// [`SeqLock::read`]: waits while a write is in progress.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-sror", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 1)?;
    /// assert_eq!(noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?.read(), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn read(&self) -> T {
        self.lock().read_loads_only().value
    }

    /// [`SeqLock::read_versioned`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srorv", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 1)?;
    /// let r = noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?;
    /// assert_eq!(r.read_versioned().version, 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn read_versioned(&self) -> Versioned<T> {
        self.lock().read_loads_only()
    }

    /// [`SeqLock::try_read`]: one attempt, `None` while a write is in progress.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srotr", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 1)?;
    /// let r = noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?;
    /// assert_eq!(r.try_read(), Some(1));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn try_read(&self) -> Option<T> {
        self.lock().try_read_loads_only().map(|v| v.value)
    }

    /// [`SeqLock::try_read_versioned`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srotrv", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 1)?;
    /// let r = noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?;
    /// assert_eq!(r.try_read_versioned().map(|v| v.value), Some(1));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn try_read_versioned(&self) -> Option<Versioned<T>> {
        self.lock().try_read_loads_only()
    }

    /// [`SeqLock::read_timeout`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srort", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 1)?;
    /// let r = noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?;
    /// assert!(r.read_timeout(std::time::Duration::from_millis(10)).is_some());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn read_timeout(&self, timeout: std::time::Duration) -> Option<Versioned<T>> {
        self.lock().read_timeout_loads_only(timeout)
    }

    /// [`SeqLock::version`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srov", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 1)?;
    /// w.write(2);
    /// assert_eq!(noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?.version(), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn version(&self) -> u64 {
        self.lock().version_loads_only()
    }
}

/// One attempt, like [`SeqLock`]'s `Debug`.
///
/// ```
/// # let path = std::env::temp_dir().join(format!("noclobber-doc-{}-srodbg", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _w = noclobber::shm::SharedSeqLock::<u8>::create(&path, 3)?;
/// let r = noclobber::shm::SharedSeqLockReader::<u8>::open(&path)?;
/// assert_eq!(format!("{r:?}"), "SharedSeqLockReader(SeqLock { value: 3, version: 0 })");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(target_pointer_width = "64")]
impl<T: Pod + Send + fmt::Debug> fmt::Debug for SharedSeqLockReader<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("SharedSeqLockReader");
        match self.lock().try_read_loads_only() {
            Some(Versioned { value, version }) => {
                s.field("value", &value).field("version", &version)
            }
            None => s.field("value", &format_args!("<write in progress>")),
        };
        s.finish()
    }
}

/// The one writer of a [`SoloPublisher`] in a file mapped into every process
/// that opens it (readers: [`SharedSoloReader`]).
///
/// Writer exclusivity across processes is an advisory lock on the file
/// (`flock` through [`File::try_lock`]), taken before the object is published
/// and held for as long as this handle lives. The kernel releases it when the
/// holder exits or is killed, so a successor can [`attach`](Self::attach) at
/// once and continue the versions; the lock's hand-over also orders everything
/// the dead writer stored before everything its successor stores. A *stopped*
/// writer keeps the lock (a successor waits or gets [`Error::WriterBusy`]), and
/// readers never notice either. The lock belongs to the open file description:
/// a child `fork`ed from the writer shares it, so do not write from both.
///
/// ```
/// use noclobber::shm::{Error, SharedSoloReader, SharedSoloWriter};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut writer = SharedSoloWriter::<[u64; 4], 2>::create(&path, [0; 4])?;
/// let reader = SharedSoloReader::<[u64; 4], 2>::open(&path)?;
/// assert_eq!(writer.publish([1, 2, 3, 4]), 1);
/// assert_eq!(reader.read(), [1, 2, 3, 4]);
/// // One writer at a time: a second one is refused while the first lives.
/// assert!(matches!(SharedSoloWriter::<[u64; 4], 2>::attach(&path), Err(Error::WriterBusy { .. })));
/// drop(writer);
/// let mut next = SharedSoloWriter::<[u64; 4], 2>::attach(&path)?;
/// assert_eq!(next.publish([5; 4]), 2); // the versions go on
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSoloWriter<T, const SLOTS: usize> {
    map: Mapping<SoloPublisher<T, SLOTS>>,
    /// Holds the writer's lock until dropped.
    _lock: File,
    version: u64,
}

impl<T: Pod + Send, const SLOTS: usize> SharedSoloWriter<T, SLOTS> {
    /// Creates the file at `path` (it must not exist) holding a publisher
    /// whose version 0 is `initial`, and becomes its writer.
    ///
    /// Errors: [`Error::Io`] (`AlreadyExists` if the file exists).
    ///
    /// ```
    /// use noclobber::shm::{Error, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-create", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = SharedSoloWriter::<u64, 2>::create(&path, 1)?;
    /// assert_eq!(w.read_versioned().version, 0);
    /// // The file exists now: a second `create` is refused.
    /// let again = SharedSoloWriter::<u64, 2>::create(&path, 1);
    /// assert!(matches!(again, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Self::create_with(path, initial, &CreateOptions::new())
    }

    /// [`create`](Self::create) with the file's mode from `options` (the
    /// default is `0o600`). Readers ([`SharedSoloReader`]) map the file
    /// read-write (a waiting reader counts itself in it), so they need read
    /// and write permission (`0o660` for the owner's group).
    ///
    /// ```
    /// use noclobber::shm::{CreateOptions, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-cwith", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = SharedSoloWriter::<u64, 2>::create_with(&path, 1, &CreateOptions::new().mode(0o660))?;
    /// assert_eq!(w.read(), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with(
        path: impl AsRef<Path>,
        initial: T,
        options: &CreateOptions,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let (map, lock) = Mapping::create_then(path, initial, options, |file| {
            try_lock(file, path)?
                .then_some(())
                .ok_or_else(|| busy(path))
        })?;
        Ok(SharedSoloWriter {
            map,
            _lock: lock,
            version: 0,
        })
    }

    /// Becomes the writer of an existing file, without waiting:
    /// [`Error::WriterBusy`] while another writer holds it, the errors of
    /// [`SharedSoloReader::open`] otherwise. Continues the versions.
    ///
    /// ```
    /// use noclobber::shm::{Error, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-attach", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut first = SharedSoloWriter::<u64, 2>::create(&path, 0)?;
    /// first.publish(1);
    /// assert!(matches!(SharedSoloWriter::<u64, 2>::attach(&path), Err(Error::WriterBusy { .. })));
    /// drop(first); // or the first writer's process exits or is killed
    /// let mut next = SharedSoloWriter::<u64, 2>::attach(&path)?;
    /// assert_eq!(next.publish(2), 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::attach_until(path.as_ref(), None)
    }

    /// [`attach`](Self::attach), waiting up to `timeout` for the current writer
    /// to go away (it exits, is killed, or drops its handle); then
    /// [`Error::WriterBusy`]. Polls the lock every millisecond.
    ///
    /// ```
    /// use std::time::Duration;
    /// use noclobber::shm::{Error, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-attach-timeout", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let first = SharedSoloWriter::<u64, 2>::create(&path, 0)?;
    /// let waited = SharedSoloWriter::<u64, 2>::attach_timeout(&path, Duration::from_millis(5));
    /// assert!(matches!(waited, Err(Error::WriterBusy { .. })));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         std::thread::sleep(Duration::from_millis(20));
    ///         drop(first);
    ///     });
    ///     // Waits for the first writer to go away.
    ///     SharedSoloWriter::<u64, 2>::attach_timeout(&path, Duration::from_secs(10)).unwrap();
    /// });
    /// // A timeout past the clock's range waits as long as it takes (here: not at all).
    /// SharedSoloWriter::<u64, 2>::attach_timeout(&path, Duration::MAX)?;
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach_timeout(
        path: impl AsRef<Path>,
        timeout: std::time::Duration,
    ) -> Result<Self, Error> {
        // A timeout past `Instant`'s range (`Duration::MAX`) waits for good.
        Self::attach_until(path.as_ref(), Some(crate::notify::deadline(timeout)))
    }

    /// `wait`: `None` to not wait for the lock, `Some(None)` to wait without
    /// limit, `Some(Some(deadline))` to wait until `deadline`.
    fn attach_until(path: &Path, wait: Option<Option<std::time::Instant>>) -> Result<Self, Error> {
        let (map, file) = Mapping::<SoloPublisher<T, SLOTS>>::open_with(path, true)?;
        while !try_lock(&file, path)? {
            match wait {
                Some(deadline) if !crate::notify::passed(deadline) => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                _ => return Err(busy(path)),
            }
        }
        // With the lock held the head is ours: no other writer moves it.
        let version = map.region().object.validate().map_err(corrupt(path))?;
        Ok(SharedSoloWriter {
            map,
            _lock: file,
            version,
        })
    }

    /// Publishes `value`; returns its version. See [`SoloWriter::publish`](crate::SoloWriter::publish).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-publish", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = noclobber::shm::SharedSoloWriter::<[u8; 4], 2>::create(&path, [0; 4])?;
    /// assert_eq!(w.publish([1, 2, 3, 4]), 1);
    /// assert_eq!(w.read(), [1, 2, 3, 4]);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn publish(&mut self, value: T) -> u64 {
        solo::publish(&self.map.region().object, &mut self.version, value)
    }

    /// Publishes `f(current)`. See [`SoloWriter::update`](crate::SoloWriter::update);
    /// panics if the file was damaged after `attach` checked it.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-update", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = noclobber::shm::SharedSoloWriter::<u64, 2>::create(&path, 20)?;
    /// assert_eq!(w.update(|x| x + 1).value, 21);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&mut self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        solo::update(&self.map.region().object, &mut self.version, f)
    }
}

/// `Ok(true)` if the exclusive lock of `file` (at `path`) was taken,
/// `Ok(false)` if another open file description holds it.
fn try_lock(file: &File, path: &Path) -> Result<bool, Error> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(io_error(path, "lock")(e)),
    }
}

fn busy(path: &Path) -> Error {
    Error::WriterBusy {
        path: path.to_path_buf(),
    }
}

fn corrupt(path: &Path) -> impl FnOnce(String) -> Error + '_ {
    move |what| Error::Corrupt {
        path: path.to_path_buf(),
        what,
    }
}

/// The read methods of [`SoloPublisher`], on the writer.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-wderef", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let w = noclobber::shm::SharedSoloWriter::<u64, 2>::create(&path, 5)?;
/// let publisher: &noclobber::SoloPublisher<u64, 2> = &w;
/// assert_eq!(publisher.read(), 5);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send, const SLOTS: usize> Deref for SharedSoloWriter<T, SLOTS> {
    type Target = SoloPublisher<T, SLOTS>;

    #[inline]
    fn deref(&self) -> &SoloPublisher<T, SLOTS> {
        &self.map.region().object
    }
}

/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-wdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let w = noclobber::shm::SharedSoloWriter::<u8, 2>::create(&path, 5)?;
/// assert_eq!(format!("{w:?}"), "SharedSoloWriter(SoloPublisher { value: 5, version: 0, slots: 2 })");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug, const SLOTS: usize> fmt::Debug for SharedSoloWriter<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedSoloWriter").field(&**self).finish()
    }
}

/// A reader of a [`SoloPublisher`] in a shared file made by
/// [`SharedSoloWriter::create`], dereferencing to the publisher's read methods
/// and [`wait_newer`](SoloPublisher::wait_newer). Readers never wait for the
/// writer, even one stopped or killed mid-publication; a reader that waits for
/// a newer version sleeps on a futex in the file until the writer wakes it.
///
/// The mapping is read-write because a waiting reader announces itself in the
/// object's two waiter words; no reader method stores anything else.
///
/// ```
/// use noclobber::shm::{SharedSoloReader, SharedSoloWriter};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solor", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut writer = SharedSoloWriter::<u64, 2>::create(&path, 7)?;
/// let reader = SharedSoloReader::<u64, 2>::open(&path)?;
/// writer.update(|x| x + 1);
/// assert_eq!(reader.try_read(), Ok(8));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSoloReader<T, const SLOTS: usize>(Mapping<SoloPublisher<T, SLOTS>>);

impl<T: Pod + Send, const SLOTS: usize> SharedSoloReader<T, SLOTS> {
    /// Opens a file made by [`SharedSoloWriter::create`] with the same `T` and
    /// `SLOTS`. Never waits: besides the errors of
    /// [`SharedPublisher::open`], [`Error::Corrupt`] if the object behind the
    /// header is inconsistent.
    ///
    /// ```
    /// use noclobber::shm::{Error, SharedSoloReader, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-open", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(matches!(SharedSoloReader::<u64, 2>::open(&path), Err(Error::Io { .. })));
    /// let _w = SharedSoloWriter::<u64, 2>::create(&path, 3)?;
    /// assert_eq!(SharedSoloReader::<u64, 2>::open(&path)?.read(), 3);
    /// // Another slot count is another layout.
    /// assert!(SharedSoloReader::<u64, 3>::open(&path).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        // Writable: `wait_newer` counts waiters in the file (`notify.rs`).
        let (map, _) = Mapping::<SoloPublisher<T, SLOTS>>::open_with(path.as_ref(), true)?;
        map.region()
            .object
            .validate()
            .map_err(corrupt(path.as_ref()))?;
        Ok(SharedSoloReader(map))
    }
}

/// The read methods of [`SoloPublisher`].
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-rderef", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _w = noclobber::shm::SharedSoloWriter::<u64, 2>::create(&path, 6)?;
/// let r = noclobber::shm::SharedSoloReader::<u64, 2>::open(&path)?;
/// let publisher: &noclobber::SoloPublisher<u64, 2> = &r;
/// assert_eq!(publisher.try_read(), Ok(6));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send, const SLOTS: usize> Deref for SharedSoloReader<T, SLOTS> {
    type Target = SoloPublisher<T, SLOTS>;

    #[inline]
    fn deref(&self) -> &SoloPublisher<T, SLOTS> {
        &self.0.region().object
    }
}

/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-rdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _w = noclobber::shm::SharedSoloWriter::<u8, 2>::create(&path, 7)?;
/// let r = noclobber::shm::SharedSoloReader::<u8, 2>::open(&path)?;
/// assert_eq!(format!("{r:?}"), "SharedSoloReader(SoloPublisher { value: 7, version: 0, slots: 2 })");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug, const SLOTS: usize> fmt::Debug for SharedSoloReader<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedSoloReader").field(&**self).finish()
    }
}

/// The header protocol on ordinary memory, so that Miri checks its orderings
/// (`scripts/ci-miri.sh` runs these; Miri cannot map files).
#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::UnsafeCell;
    use core::fmt::Debug;

    /// Plain memory the creator writes before `init` and an opener reads after
    /// `check` succeeded: a data race unless the magic carries Release/Acquire.
    struct Plain(UnsafeCell<u64>);

    // SAFETY: the tests below write it only before `init` (in the creating
    // thread) and read it only after `check` returned `Ok` (in the opening
    // thread), so every access is ordered by the magic's Release/Acquire pair;
    // a missing ordering is exactly what Miri is meant to report here.
    unsafe impl Sync for Plain {}

    fn zeroed<O: InShm>() -> Box<Region<O>> {
        // SAFETY: a new file reads as zeroes and `O: InShm` promises every byte
        // pattern is a valid `O`; the header's atomics are valid at zero too.
        // (`Box::new_zeroed` would need Rust 1.92; these regions are small.)
        Box::new(unsafe { core::mem::MaybeUninit::<Region<O>>::zeroed().assume_init() })
    }

    fn opener_sees_everything<O: InShm + Sync>(value: O::Value, read: fn(&O) -> O::Value)
    where
        O::Value: PartialEq + Debug + Sync,
    {
        for _ in 0..if cfg!(miri) { 3 } else { 200 } {
            let region = zeroed::<O>();
            // A reference, so the closures capture the `Sync` wrapper, not its field.
            let plain = &Plain(UnsafeCell::new(0));
            assert!(matches!(region.check(), Err(Error::Uninitialized { .. })));
            std::thread::scope(|s| {
                s.spawn(|| {
                    // SAFETY: see `Plain`; nobody reads it before `check` is Ok.
                    unsafe { *plain.0.get() = 42 };
                    region.init(value);
                });
                s.spawn(|| {
                    loop {
                        match region.check() {
                            Ok(()) => break,
                            Err(Error::Uninitialized { .. }) => std::thread::yield_now(),
                            Err(e) => panic!("opener saw a half-published header: {e}"),
                        }
                    }
                    assert_eq!(read(&region.object), value);
                    // SAFETY: see `Plain`; written before `init`, which `check`
                    // saw complete.
                    assert_eq!(unsafe { *plain.0.get() }, 42);
                });
            });
        }
    }

    #[test]
    fn publisher_opener_sees_everything_created_before_the_magic() {
        opener_sees_everything::<Publisher<[u64; 3], 3>>([7, 8, 9], Publisher::read);
    }

    #[test]
    fn solo_opener_sees_everything_created_before_the_magic() {
        opener_sees_everything::<SoloPublisher<[u64; 3], 3>>([7, 8, 9], SoloPublisher::read);
    }

    #[test]
    fn seqlock_opener_sees_everything_created_before_the_magic() {
        opener_sees_everything::<SeqLock<[u64; 3]>>([7, 8, 9], SeqLock::read);
    }

    /// I8 in `ring.rs`: a process holds its owner entry while it has a
    /// handle on the file, and gives it back with the last one.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn the_last_handle_gives_the_owner_entry_back() {
        let path =
            std::env::temp_dir().join(format!("noclobber-unit-{}-owner", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let held = |p: &SharedPublisher<u64, 3>| {
            let me = crate::owner::registered();
            let entries = p.ring().owner_entries();
            entries.iter().filter(|&&e| e == me && me != 0).count()
        };
        let first = SharedPublisher::<u64, 3>::create(&path, 0).unwrap();
        assert_eq!(held(&first), 0, "an entry before any claim");
        first.publish(1);
        assert_eq!(held(&first), 1);
        let second = SharedPublisher::<u64, 3>::open(&path).unwrap();
        drop(first);
        assert_eq!(held(&second), 1, "given back while a handle lives");
        second.publish(2);
        let third = SharedPublisher::<u64, 3>::open(&path).unwrap();
        drop(second);
        assert_eq!(held(&third), 1);
        drop(third);
        let last = SharedPublisher::<u64, 3>::open(&path).unwrap();
        assert_eq!(held(&last), 0, "kept after the last handle dropped");
        assert_eq!(last.read(), 2);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn check_refuses_foreign_and_unfinished_headers() {
        let region = zeroed::<SeqLock<u64>>();
        assert!(matches!(region.check(), Err(Error::Uninitialized { .. })));
        region.header.magic.store(1, Ordering::Relaxed);
        assert!(matches!(
            region.check(),
            Err(Error::NotShared { found: 1, .. })
        ));
        region.init(5);
        assert!(region.check().is_ok());
        region.header.layout_hash.fetch_add(1, Ordering::Relaxed);
        assert!(matches!(region.check(), Err(Error::LayoutMismatch { .. })));
        region.header.layout_version.fetch_add(1, Ordering::Relaxed);
        assert!(matches!(region.check(), Err(Error::LayoutVersion { .. })));
    }
}
