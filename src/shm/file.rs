//! Files and mappings: atomic creation, allocation, mapping and checking a
//! `Region`, this process's count of handles per file, and the single
//! writer's lock.

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use memmap2::{MmapOptions, MmapRaw};

use super::error::io_error;
use super::header::{InShm, Region};
use super::{sys, Error, IoOp};
use crate::notify::SharedWaiting;

/// Makes the temporary names of one process distinct.
static TEMP_COUNTER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Opens `path` with `open`, or creates it with `create` if it does not
/// exist; if another process creates it in between (`AlreadyExists`), opens
/// that one. Creation is atomic, so a file found is always complete. Gives up
/// after a few rounds of a file that keeps appearing and disappearing.
pub(crate) fn open_or_create<R>(
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

/// A checked mapping of a `Region<O>`.
pub(crate) struct Mapping<O> {
    /// The object's `Notify`, registered for waiting across processes
    /// (Windows, macOS) while the mapping is writable. Declared before `map`:
    /// dropped, and so unregistered, before the view is unmapped.
    _waiting: Option<SharedWaiting>,
    map: MmapRaw,
    /// The file's identity, taken when it was mapped (Wine forgets a
    /// file's volume once it is renamed under an open handle).
    id: sys::FileId,
    object: PhantomData<O>,
}

impl<O: InShm> Mapping<O> {
    const LEN: usize = size_of::<Region<O>>();

    /// `create`, running `before_init` on the new, allocated file before the
    /// object is initialised and published (the single writer takes its lock
    /// there, so no other writer can attach in between). Returns the file too.
    ///
    /// Atomic: the file is created under a private temporary name in the same
    /// directory (`O_EXCL`, `mode` on Unix), allocated in full (so a full
    /// file system is an `Err` here, never a `SIGBUS` later), initialised,
    /// and only then given the name `path` (Unix: a hard link; Windows: a
    /// rename without replacing, `sys/`), which fails if `path` exists: an
    /// existing file is never replaced, and no process can see `path`
    /// half-initialised. The temporary name is removed in every case (only
    /// it: on error nothing under `path` is touched; on Windows after the
    /// mapping and the file are closed, since a mapped file cannot be
    /// deleted). A creator killed before the final name is given leaves a
    /// stray temporary (`.NAME.noclobber-tmp.PID.N`), never a broken `path`.
    pub(crate) fn create_then(
        path: &Path,
        value: O::Value,
        mode: u32,
        before_init: impl FnOnce(&File) -> Result<(), Error>,
    ) -> Result<(Self, File), Error> {
        O::check_supported().map_err(|e| e.in_file(path, 0))?;
        let name = path.file_name().ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            op: IoOp::Create,
            source: io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
        })?;
        // Not needed for correctness (publishing refuses an existing `path`);
        // it only spares the work of building a file for nothing.
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(io_error(path, IoOp::Create)(
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
            // The temporary is ours alone; a stale one of a dead process with
            // our pid is skipped.
            match sys::create_temp(&tmp, mode) {
                Ok(file) => break (file, tmp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(path, IoOp::Create)(e)),
            }
        };
        let built = (|| {
            sys::allocate(&file, Self::LEN as u64).map_err(io_error(path, IoOp::Allocate))?;
            let mut this = Self::map(&file, path, true)?;
            this.register_waiting();
            before_init(&file)?;
            this.region().init(value);
            this.region().object.mapped_writable();
            // The Release store of the magic in `init` orders the object for
            // openers in other processes; the final name makes it reachable.
            sys::publish(&tmp, path).map_err(io_error(path, IoOp::Create))?;
            Ok(this)
        })();
        match built {
            Ok(this) => {
                sys::after_publish(&tmp);
                Ok((this, file))
            }
            Err(e) => {
                // The mapping is gone already (dropped in the closure); the
                // temporary is the file's only name, and removing it (after
                // closing the file, for Windows) frees the file.
                drop(file);
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// `open`, mapping the file read-only unless `writable`; returns the file too.
    pub(crate) fn open_with(path: &Path, writable: bool) -> Result<(Self, File), Error> {
        O::check_supported().map_err(|e| e.in_file(path, 0))?;
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(io_error(path, IoOp::Open))?;
        let len = file.metadata().map_err(io_error(path, IoOp::Stat))?.len();
        if len < Self::LEN as u64 {
            return Err(Error::TooSmall {
                path: path.to_path_buf(),
                len,
                expected: Self::LEN as u64,
                object: O::handle_name(),
            });
        }
        let mut this = Self::map(&file, path, writable)?;
        this.region().check().map_err(|e| e.in_file(path, len))?;
        if writable {
            this.register_waiting();
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
        .map_err(io_error(path, IoOp::Map))?;
        if !map.as_ptr().cast::<Region<O>>().is_aligned() {
            return Err(Error::Misaligned {
                path: path.to_path_buf(),
                align: align_of::<Region<O>>(),
            });
        }
        let id = sys::file_id(file).map_err(io_error(path, IoOp::Stat))?;
        Ok(Mapping {
            _waiting: None,
            map,
            id,
            object: PhantomData,
        })
    }

    /// Registers the object's `Notify` for waiting across processes (N1,
    /// N2 in `notify/mod.rs`: waiters and writers in this process find the
    /// file's wake-up path by its address). Once per writable mapping, after
    /// the file was found to be ours (a check or our own `create`): on
    /// Windows it may store a flag in the header.
    fn register_waiting(&mut self) {
        let region = self.region();
        // SAFETY: the `Notify` and the header's sleeper word are in this
        // mapping, which `self` unmaps only after dropping the registration
        // (field order), and this mapping's addresses are registered only
        // here, once (`_waiting` is `None` until now).
        let waiting = unsafe {
            SharedWaiting::register(O::notify(&region.object), region.sleepers(), self.id)
        };
        debug_assert!(self._waiting.is_none());
        self._waiting = Some(waiting);
    }

    pub(crate) fn region(&self) -> &Region<O> {
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

/// This process's handles on one file, by its identity (device and inode,
/// or volume and file index, `sys::FileId`): the owner
/// entries of a `SharedPublisher` file are given back when the last one is
/// dropped (I8 in `ring/mod.rs`).
pub(crate) struct OpenFile {
    id: sys::FileId,
}

/// The open counts of [`OpenFile`]s. A child `fork`ed while another thread
/// held this lock would block in its first `open` or drop of a handle: fork
/// from a thread that is not opening or dropping handles.
static OPEN_FILES: std::sync::Mutex<Vec<(sys::FileId, usize)>> = std::sync::Mutex::new(Vec::new());

impl OpenFile {
    /// Counts in a handle on the file `map` maps.
    pub(crate) fn register<O>(map: &Mapping<O>) -> Self {
        let id = map.id;
        let mut open = OPEN_FILES.lock().unwrap_or_else(|e| e.into_inner());
        match open.iter_mut().find(|(f, _)| *f == id) {
            Some((_, count)) => *count += 1,
            None => open.push((id, 1)),
        }
        OpenFile { id }
    }

    /// Counts this handle out; runs `last` if it was the process's last one
    /// on the file, with the count locked, so that no handle is opened
    /// meanwhile.
    pub(crate) fn release(&self, last: impl FnOnce()) {
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

/// `Ok(true)` if the single writer's lock of `file` (at `path`) was taken,
/// `Ok(false)` if another open file description holds it (`lock.rs`).
pub(crate) fn try_lock(file: &File, path: &Path) -> Result<bool, Error> {
    super::lock::try_lock(file).map_err(io_error(path, IoOp::Lock))
}

pub(crate) fn busy(path: &Path) -> Error {
    Error::WriterBusy {
        path: path.to_path_buf(),
    }
}

pub(crate) fn corrupt(path: &Path) -> impl FnOnce(String) -> Error + '_ {
    move |what| Error::Corrupt {
        path: path.to_path_buf(),
        what,
    }
}
