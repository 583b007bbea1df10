//! The single-writer handles: [`SharedSoloWriter`] and [`SharedSoloReader`].

use core::fmt;
use std::fs::File;
use std::path::Path;

use bytemuck::Pod;

#[cfg(target_os = "linux")]
use super::error::io_error;
use super::file::{busy, corrupt, try_lock, Mapping};
use super::handles::readable_by_body;
use super::options::{Create, Open, Private};
#[cfg(target_os = "linux")]
use super::IoOp;
use super::{Corrupt, Error, Options};
use crate::read::Sealed;
use crate::solo::{Body, Writing};
use crate::{ReadError, Readable, Versioned, WaitError};

/// The one writer of a single-writer publisher (see
/// [`SoloWriter`](crate::SoloWriter)) in a file mapped into every process
/// that opens it; readers: [`SharedSoloReader`].
///
/// Writer exclusivity across processes is a lock on the file (Unix: an
/// open-file-description lock, `F_OFD_SETLK`; Windows: `LockFileEx` on one
/// byte past any data), taken before the object is published and held for
/// as long as this handle lives. The system releases it when the holder
/// exits or is killed (`SIGKILL`, `TerminateProcess`), so a successor can
/// [`open`](Self::open) at once and continue the versions; the lock's
/// hand-over also orders everything the dead writer stored before
/// everything its successor stores. A *stopped* writer (`SIGSTOP`, a
/// suspended process, one frozen in a debugger) keeps the lock (a successor
/// waits or gets [`Error::WriterBusy`]), and readers never notice. The lock
/// belongs to the open file description: a child `fork`ed from the writer
/// shares it, so do not write from both.
///
/// **Closing.** Dropping the handle closes the file's publisher: readers'
/// waits end with `WaitError::Closed` once they have the last value, and
/// `is_closed` says so. A writer that dies without dropping it leaves the
/// lock free, which readers take for the same (see
/// [`SharedSoloReader::is_closed`]). A successor's `open` makes the file open
/// again.
///
/// ```
/// use noclobber::{shm::{Error, SharedSoloReader, SharedSoloWriter}, Readable};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut writer = SharedSoloWriter::<[u64; 4]>::create(&path, [0; 4])?;
/// let reader = SharedSoloReader::<[u64; 4]>::open(&path)?;
/// assert_eq!(writer.write([1, 2, 3, 4]), 1);
/// assert_eq!(reader.read(), [1, 2, 3, 4]);
/// // One writer at a time: a second one is refused while the first lives.
/// assert!(matches!(SharedSoloWriter::<[u64; 4]>::open(&path), Err(Error::WriterBusy { .. })));
/// drop(writer);
/// let mut next = SharedSoloWriter::<[u64; 4]>::open(&path)?;
/// assert_eq!(next.write([5; 4]), 2); // the versions go on
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSoloWriter<T: Pod + Send, const SLOTS: usize = 2> {
    map: Mapping<Body<T, SLOTS>>,
    /// Holds the writer's lock until dropped.
    _lock: File,
    version: u64,
}

/// Closes the file's publisher (N7 in `notify/mod.rs`) before the lock goes:
/// waiters in every process wake, and return `Closed` once they have the last
/// value.
impl<T: Pod + Send, const SLOTS: usize> Drop for SharedSoloWriter<T, SLOTS> {
    fn drop(&mut self) {
        self.body().close();
    }
}

impl<T: Pod + Send, const SLOTS: usize> SharedSoloWriter<T, SLOTS> {
    /// Creates the file at `path` (it must not exist) holding a publisher
    /// whose version 0 is `initial`, and becomes its writer; file mode
    /// `0o600` (see [`Options`]: readers map the file read-write, since a
    /// waiting reader counts itself in it).
    ///
    /// Errors: [`Error::Io`] (`AlreadyExists` if the file exists).
    ///
    /// ```
    /// use noclobber::{shm::{Error, SharedSoloWriter}, Readable};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-create", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = SharedSoloWriter::<u64>::create(&path, 1)?;
    /// assert_eq!(w.read_versioned().version, 0);
    /// // The file exists now: a second `create` is refused.
    /// let again = SharedSoloWriter::<u64>::create(&path, 1);
    /// assert!(matches!(again, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Options::new().create(path, initial)
    }

    /// Becomes the writer of an existing file, without waiting (see
    /// [`Options::wait_for_writer`]): [`Error::WriterBusy`] while another
    /// writer holds it, the errors of [`SharedSoloReader::open`] otherwise.
    /// Continues the versions.
    ///
    /// ```
    /// use noclobber::shm::{Error, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-attach", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut first = SharedSoloWriter::<u64>::create(&path, 0)?;
    /// first.write(1);
    /// assert!(matches!(SharedSoloWriter::<u64>::open(&path), Err(Error::WriterBusy { .. })));
    /// drop(first); // or the first writer's process exits or is killed
    /// let mut next = SharedSoloWriter::<u64>::open(&path)?;
    /// assert_eq!(next.write(2), 2);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Options::new().open(path)
    }

    /// Becomes the writer of the file at `path`, creating it holding
    /// `initial` if there is none ([`Options::open_or_create`]).
    ///
    /// ```
    /// use noclobber::{shm::SharedSoloWriter, Readable};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-ooc", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = SharedSoloWriter::<u64>::open_or_create(&path, 7)?; // creates
    /// w.write(8);
    /// drop(w);
    /// let w = SharedSoloWriter::<u64>::open_or_create(&path, 0)?; // opens
    /// assert_eq!(w.read(), 8);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_or_create(path: impl AsRef<Path>, initial: T) -> Result<Self, Error> {
        Options::new().open_or_create(path, initial)
    }

    #[inline]
    fn body(&self) -> &Body<T, SLOTS> {
        &self.map.region().object
    }

    fn writing(&mut self) -> Writing<'_, T, SLOTS> {
        Writing {
            body: &self.map.region().object,
            version: &mut self.version,
        }
    }

    /// Publishes `value`; returns its version. See
    /// [`SoloWriter::write`](crate::SoloWriter::write).
    ///
    /// ```
    /// use noclobber::Readable;
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-publish", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = noclobber::shm::SharedSoloWriter::<[u8; 4]>::create(&path, [0; 4])?;
    /// assert_eq!(w.write([1, 2, 3, 4]), 1);
    /// assert_eq!(w.read(), [1, 2, 3, 4]);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn write(&mut self, value: T) -> u64 {
        self.writing().write(value)
    }

    /// Publishes `f(current)`. See
    /// [`SoloWriter::update`](crate::SoloWriter::update); panics if the file
    /// was damaged after it was opened.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-update", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = noclobber::shm::SharedSoloWriter::<u64>::create(&path, 20)?;
    /// assert_eq!(w.update(|x| x + 1).value, 21);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update(&mut self, f: impl FnOnce(T) -> T) -> Versioned<T> {
        self.writing().update(f)
    }

    /// [`update`](Self::update) where `f` may decline by returning `None`.
    /// See [`SoloWriter::checked_update`](crate::SoloWriter::checked_update).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-cu", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let mut w = noclobber::shm::SharedSoloWriter::<u32>::create(&path, 0)?;
    /// assert!(w.checked_update(|x| x.checked_sub(1)).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checked_update(
        &mut self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.writing().checked_update(f)
    }
}

readable_by_body!([T: Pod + Send, const SLOTS: usize] SharedSoloWriter<T, SLOTS>);

impl<T: Pod + Send, const SLOTS: usize> Open for SharedSoloWriter<T, SLOTS> {
    fn open_with(path: &Path, options: &Options, _: Private) -> Result<Self, Error> {
        let (map, file) = Mapping::<Body<T, SLOTS>>::open_with(path, true)?;
        // A timeout past `Instant`'s range (`Duration::MAX`) waits for good.
        let deadline = options.writer_wait().map(crate::notify::deadline);
        while !try_lock(&file, path)? {
            match deadline {
                Some(deadline) if !crate::notify::passed(deadline) => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                _ => return Err(busy(path)),
            }
        }
        #[cfg(target_os = "linux")]
        super::lock::hold_watched(&file).map_err(io_error(path, IoOp::Lock))?;
        // With the lock held the head is ours: no other writer moves it.
        let body = &map.region().object;
        let version = body.validate().map_err(corrupt(path))?;
        // Open again (N7), before the first write.
        body.reopen();
        Ok(SharedSoloWriter {
            map,
            _lock: file,
            version,
        })
    }
}

impl<T: Pod + Send, const SLOTS: usize> Create for SharedSoloWriter<T, SLOTS> {
    type Value = T;

    fn create_with(path: &Path, initial: T, options: &Options, _: Private) -> Result<Self, Error> {
        // The lock is taken before the object is published, so no other
        // writer can open the file in between.
        let (map, lock) = Mapping::create_then(path, initial, options.file_mode(), |file| {
            try_lock(file, path)?
                .then_some(())
                .ok_or_else(|| busy(path))?;
            #[cfg(target_os = "linux")]
            super::lock::hold_watched(file).map_err(io_error(path, IoOp::Lock))?;
            Ok(())
        })?;
        Ok(SharedSoloWriter {
            map,
            _lock: lock,
            version: 0,
        })
    }
}

/// One attempt at a copy, never blocking.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-wdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let w = noclobber::shm::SharedSoloWriter::<u8>::create(&path, 5)?;
/// assert_eq!(format!("{w:?}"), "SharedSoloWriter { value: 5, version: 0, slots: 2 }");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug, const SLOTS: usize> fmt::Debug for SharedSoloWriter<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.body().fmt_as("SharedSoloWriter", f)
    }
}

/// A reader of a single-writer file made by [`SharedSoloWriter::create`].
/// Readers never wait for the writer, even one stopped or killed
/// mid-publication; a reader that waits for a newer version sleeps until the
/// writer wakes it (a futex in the file; Windows: the file's semaphores; see
/// the [platforms](super#platforms)). Reads through [`Readable`].
///
/// The mapping is read-write because a waiting reader announces itself in
/// the object's two waiter words; no reader method stores anything else.
///
/// ```
/// use noclobber::{shm::{SharedSoloReader, SharedSoloWriter}, Readable};
///
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solor", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let mut writer = SharedSoloWriter::<u64>::create(&path, 7)?;
/// let reader = SharedSoloReader::<u64>::open(&path)?;
/// writer.update(|x| x + 1);
/// assert_eq!(reader.try_read().map(|v| v.value), Ok(8));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSoloReader<T: Pod + Send, const SLOTS: usize = 2> {
    /// Shared with this reader's watch thread (Linux, see `watch`).
    map: std::sync::Arc<Mapping<Body<T, SLOTS>>>,
    /// This reader's own open of the file, to test for the writer's lock.
    file: File,
    /// Linux: the process whose thread watches the writer for this reader
    /// (0: none), so that a forked child, which has no such thread, starts
    /// its own.
    #[cfg(target_os = "linux")]
    watcher: std::sync::Arc<crate::sync::AtomicU32>,
}

/// How often a waiting [`SharedSoloReader`] checks that a writer still holds
/// the file when nothing wakes it (a writer that dies without closing wakes
/// nobody): where no thread watches the writer's lock for it (off Linux, or
/// if the thread could not be started).
const WRITER_PROBE: std::time::Duration = std::time::Duration::from_millis(10);

impl<T: Pod + Send, const SLOTS: usize> SharedSoloReader<T, SLOTS> {
    /// Opens a file made by [`SharedSoloWriter::create`] with the same `T` and
    /// `SLOTS`. Never waits: besides the errors of
    /// [`SharedPublisher::open`](super::SharedPublisher::open),
    /// [`Error::Corrupt`] if the object behind the header is inconsistent.
    ///
    /// ```
    /// use noclobber::{shm::{Error, SharedSoloReader, SharedSoloWriter}, Readable};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-open", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// assert!(matches!(SharedSoloReader::<u64>::open(&path), Err(Error::Io { .. })));
    /// let _w = SharedSoloWriter::<u64>::create(&path, 3)?;
    /// assert_eq!(SharedSoloReader::<u64>::open(&path)?.read(), 3);
    /// // Another slot count is another layout.
    /// assert!(SharedSoloReader::<u64, 3>::open(&path).is_err());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Options::new().open(path)
    }

    #[inline]
    fn body(&self) -> &Body<T, SLOTS> {
        &self.map.region().object
    }

    /// Whether a writer holds the file now; `true` where that cannot be told
    /// (an unexpected error from the probe): a live writer is never taken
    /// for gone. A waiter checks this at every wake-up: if a writer holds the
    /// file, a thread must watch it (`watch`).
    fn writer_holds(&self) -> bool {
        let held = super::lock::is_held(&self.file).unwrap_or(true);
        #[cfg(target_os = "linux")]
        if held {
            self.watch();
        }
        held
    }

    /// How often a waiter must probe the writer's lock without being woken:
    /// never where a thread watches it.
    fn probe(&self) -> Option<std::time::Duration> {
        #[cfg(target_os = "linux")]
        if self.watch() {
            return None;
        }
        Some(WRITER_PROBE)
    }

    /// Linux: makes sure a thread of this process watches the writer of this
    /// reader's file: it blocks until the kernel releases the writer's
    /// second lock byte (`lock::wait_released`; no CPU meanwhile), then wakes
    /// every waiter, which probe the lock themselves. It watches again while
    /// a writer (a successor) holds the file, and ends when none does. Its
    /// state is cleared before its last probe, and every waiter's check that
    /// finds a writer calls this, so a writer that takes the file after the
    /// thread ended is watched by the next. `false` if no thread could be
    /// started (waiters then probe every `WRITER_PROBE`). The thread keeps
    /// the mapping and its own descriptor of the file until it ends.
    #[cfg(target_os = "linux")]
    fn watch(&self) -> bool {
        use crate::sync::Ordering;
        let me = std::process::id();
        // SeqCst (here and in the thread): the thread's clearing and its
        // last probe, and a waiter's probe and this load, are each a store
        // (or a system call) then a load: one of the two sees the other.
        if self.watcher.load(Ordering::SeqCst) == me {
            return true;
        }
        let was = self.watcher.load(Ordering::SeqCst);
        if was == me
            || self
                .watcher
                .compare_exchange(was, me, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return true; // another waiter of this process started it
        }
        let started = self.file.try_clone().and_then(|file| {
            let (map, watcher) = (
                std::sync::Arc::clone(&self.map),
                std::sync::Arc::clone(&self.watcher),
            );
            std::thread::Builder::new()
                .name("noclobber-writer-watch".into())
                .spawn(move || loop {
                    if super::lock::wait_released(&file).is_err() {
                        break;
                    }
                    map.region().object.notify.wake_everyone();
                    watcher.store(0, Ordering::SeqCst);
                    let held = super::lock::is_held(&file).unwrap_or(false);
                    if !held || watcher.swap(me, Ordering::SeqCst) == me {
                        return;
                    }
                    // A successor holds the file and may not hold the
                    // second byte yet: a moment before watching again.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                })
        });
        if started.is_err() {
            self.watcher.store(0, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Whether no writer holds the file: its writer dropped its handle, or
    /// exited, or was killed, and no successor has opened it since. A
    /// *stopped* writer still holds it. Nothing newer comes until a
    /// successor opens the file as writer; then this is `false` again.
    /// (Also `Readable::is_closed`.) Costs a system call (`fcntl`; on
    /// Windows two, a shared lock taken and dropped) unless the writer closed
    /// the file itself.
    ///
    /// ```
    /// use noclobber::shm::{SharedSoloReader, SharedSoloWriter};
    /// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-closed", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let w = SharedSoloWriter::<u64>::create(&path, 1)?;
    /// let r = SharedSoloReader::<u64>::open(&path)?;
    /// assert!(!r.is_closed());
    /// drop(w);
    /// assert!(r.is_closed());
    /// let _successor = SharedSoloWriter::<u64>::open(&path)?;
    /// assert!(!r.is_closed());
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.body().is_closed() || !self.writer_holds()
    }
}

impl<T: Pod + Send, const SLOTS: usize> Sealed for SharedSoloReader<T, SLOTS> {}

/// The read side; [`wait_newer`](Readable::wait_newer) also ends with
/// `WaitError::Closed` when no writer holds the file, after any version
/// newer than `seen`: on Linux as soon as the kernel releases a dead writer's
/// lock (a thread of the process watches it, blocked, while a reader waits),
/// elsewhere within `WRITER_PROBE` (10 ms, the waiter probes the lock).
impl<T: Pod + Send, const SLOTS: usize> Readable for SharedSoloReader<T, SLOTS> {
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
        let alive = || self.writer_holds();
        self.body()
            .wait_newer_probed(seen, timeout, self.probe(), alive)
    }

    #[cfg(feature = "async")]
    fn wait_newer_async(&self, seen: u64) -> crate::future::WaitNewer<'_, T, Corrupt> {
        crate::future::WaitNewer::new(self, seen)
    }

    fn is_closed(&self) -> bool {
        SharedSoloReader::is_closed(self)
    }
}

/// The async wait of a reader, which also probes the writer's lock every
/// `WRITER_PROBE`, as `wait_newer` does.
#[cfg(feature = "async")]
impl<T: Pod + Send, const SLOTS: usize> crate::notify::Target<T> for SharedSoloReader<T, SLOTS> {
    fn notify(&self) -> Option<&crate::notify::Notify> {
        Some(&self.body().notify)
    }
    fn how(&self) -> crate::notify::Announce {
        Body::<T, SLOTS>::WAITERS
    }
    fn slice(&self) -> Option<std::time::Duration> {
        self.probe()
    }
    fn check(&self, seen: u64) -> crate::notify::Seen {
        self.body().check(seen, || self.writer_holds())
    }
    fn attempt(&self) -> Result<Versioned<T>, crate::error::Fault> {
        self.body().attempt()
    }
}

impl<T: Pod + Send, const SLOTS: usize> Open for SharedSoloReader<T, SLOTS> {
    fn open_with(path: &Path, _: &Options, _: Private) -> Result<Self, Error> {
        // Writable: `wait_newer` counts waiters in the file (`notify/mod.rs`).
        let (map, file) = Mapping::<Body<T, SLOTS>>::open_with(path, true)?;
        map.region().object.validate().map_err(corrupt(path))?;
        Ok(SharedSoloReader {
            map: std::sync::Arc::new(map),
            file,
            #[cfg(target_os = "linux")]
            watcher: std::sync::Arc::new(crate::sync::AtomicU32::new(0)),
        })
    }
}

/// One attempt at a copy, never blocking.
///
/// ```
/// let path = std::env::temp_dir().join(format!("noclobber-doc-{}-solo-rdebug", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let _w = noclobber::shm::SharedSoloWriter::<u8>::create(&path, 7)?;
/// let r = noclobber::shm::SharedSoloReader::<u8>::open(&path)?;
/// assert_eq!(format!("{r:?}"), "SharedSoloReader { value: 7, version: 0, slots: 2 }");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: Pod + Send + fmt::Debug, const SLOTS: usize> fmt::Debug for SharedSoloReader<T, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.body().fmt_as("SharedSoloReader", f)
    }
}
