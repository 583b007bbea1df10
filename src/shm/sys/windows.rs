//! Windows: temporaries created with `CREATE_NEW`, allocated by setting
//! their length, published by a rename that never replaces
//! (`MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`), identified by volume
//! serial number and file index, and the writer's `LockFileEx` lock.
//!
//! A mapped file cannot be deleted on Windows, so the Unix way (link the
//! temporary to the final name, then remove the temporary) would leave the
//! temporary behind; renaming an open, mapped file works (std opens files
//! with `FILE_SHARE_DELETE`, which a rename needs).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};

use windows_sys::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, MoveFileExW, BY_HANDLE_FILE_INFORMATION,
};

use super::FileId;

/// Creates `tmp`, which must not exist (`CREATE_NEW`), for reading and
/// writing, sharing read, write and delete (std's default). `mode` is a Unix
/// permission mode: ignored (the file gets the directory's inherited
/// security descriptor).
pub(crate) fn create_temp(tmp: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(tmp)
}

/// Sets the new file's length: NTFS allocates the clusters of a file that is
/// not sparse or compressed (`SetEndOfFile`), so a full volume is an `Err`
/// here. (An I/O error while a view pages in is an exception Rust cannot
/// catch, the analogue of `SIGBUS`.)
pub(crate) fn allocate(file: &File, len: u64) -> io::Result<()> {
    file.set_len(len)
}

/// Gives the complete temporary `tmp` the name `path`: `MoveFileExW` with no
/// flags, which fails with `ERROR_ALREADY_EXISTS` (`AlreadyExists`) if
/// `path` exists, so an existing file is never replaced; the temporary name
/// is gone afterwards. Same directory, so same volume.
pub(crate) fn publish(tmp: &Path, path: &Path) -> io::Result<()> {
    let (from, to) = (wide(tmp)?, wide(path)?);
    // SAFETY: both are NUL-terminated UTF-16 strings that live across the
    // call.
    if unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// After [`publish`]: the temporary name is gone already.
pub(crate) fn after_publish(_tmp: &Path) {}

/// `path` as a NUL-terminated UTF-16 string; a long one in its verbatim
/// form (`\\?\C:\...`), as std passes long paths, since the `...W`
/// functions refuse paths past `MAX_PATH` otherwise.
fn wide(path: &Path) -> io::Result<Vec<u16>> {
    use std::os::windows::ffi::OsStrExt;
    // 248: `MAX_PATH` less room for an 8.3 name, std's threshold too.
    let long = path.as_os_str().encode_wide().count() >= 248;
    let path = if long {
        verbatim(path)?
    } else {
        path.to_path_buf()
    };
    let mut w: Vec<u16> = path.as_os_str().encode_wide().collect();
    if w.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path holds a NUL character",
        ));
    }
    w.push(0);
    Ok(w)
}

/// The verbatim form of `path`, made absolute: `\\?\C:\...`, or
/// `\\?\UNC\server\share\...`.
fn verbatim(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let text = absolute.as_os_str().to_string_lossy();
    if text.starts_with(r"\\?\") || text.starts_with(r"\\.\") {
        return Ok(absolute);
    }
    let mut out = std::ffi::OsString::from(match text.strip_prefix(r"\\") {
        Some(_) => r"\\?\UNC\",
        None => r"\\?\",
    });
    match text.strip_prefix(r"\\") {
        Some(unc) => out.push(std::ffi::OsStr::new(unc)),
        None => out.push(absolute.as_os_str()),
    }
    Ok(PathBuf::from(out))
}

/// The file's volume serial number and 64-bit file index (the same for
/// every handle on the file; ReFS's 128-bit identities are folded to 64
/// bits by the system, so two files there may share an identity: they would
/// then share wake-up semaphores, which costs spurious wake-ups only).
pub(crate) fn file_id(file: &File) -> io::Result<FileId> {
    // SAFETY: all zeroes is a valid `BY_HANDLE_FILE_INFORMATION` (integers
    // and `FILETIME`s).
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { core::mem::zeroed() };
    // SAFETY: the handle is open (borrowed from `file`); `info` is a valid
    // out-pointer for the call.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Ok((u64::from(info.dwVolumeSerialNumber), index))
}

/// The single writer's lock (see `shm/lock.rs`).
pub(crate) mod lock {
    use std::fs::File;
    use std::io;
    use std::os::windows::io::AsRawHandle;
    use std::time::{Duration, Instant};

    use windows_sys::Win32::Foundation::{ERROR_LOCK_VIOLATION, ERROR_NOT_LOCKED};
    use windows_sys::Win32::Storage::FileSystem::{
        LockFileEx, UnlockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
        LOCK_FILE_FLAGS,
    };
    use windows_sys::Win32::System::IO::{OVERLAPPED, OVERLAPPED_0, OVERLAPPED_0_0};

    /// The locked byte: 2^63 - 1, past any file's end (locking beyond the
    /// end is allowed), so that the lock, mandatory on Windows, covers no
    /// data and other handles read and write the file as usual.
    const BYTE: u64 = (1 << 63) - 1;

    /// How long `try_lock` tries again when the lock is refused: a reader's
    /// probe holds a shared lock of the byte for two system calls, and a
    /// successor must not take that for a live writer.
    const PAST_PROBES: Duration = Duration::from_millis(5);

    fn at_byte() -> OVERLAPPED {
        OVERLAPPED {
            Internal: 0,
            InternalHigh: 0,
            Anonymous: OVERLAPPED_0 {
                Anonymous: OVERLAPPED_0_0 {
                    Offset: BYTE as u32,
                    OffsetHigh: (BYTE >> 32) as u32,
                },
            },
            hEvent: core::ptr::null_mut(),
        }
    }

    /// One `LockFileEx` of the byte that fails at once if it conflicts:
    /// `Ok(false)` then.
    fn lock_once(file: &File, flags: LOCK_FILE_FLAGS) -> io::Result<bool> {
        let mut at = at_byte();
        // SAFETY: the handle is open (borrowed from `file`) and synchronous
        // (std opens files without `FILE_FLAG_OVERLAPPED`), so the call
        // completes before it returns and `at` only needs to live across
        // it.
        if unsafe { LockFileEx(file.as_raw_handle(), flags, 0, 1, 0, &mut at) } != 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(code) if code == ERROR_LOCK_VIOLATION as i32 => Ok(false),
            _ => Err(e),
        }
    }

    fn unlock(file: &File) -> io::Result<()> {
        let mut at = at_byte();
        // SAFETY: as in `lock_once`.
        if unsafe { UnlockFileEx(file.as_raw_handle(), 0, 1, 0, &mut at) } != 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(code) if code == ERROR_NOT_LOCKED as i32 => Ok(()),
            _ => Err(e),
        }
    }

    /// Takes the writer's lock: an exclusive lock of the byte, owned by
    /// `file`'s file object (so also by the duplicate of its handle a
    /// mapping keeps), released when the last handle on it is closed or the
    /// process ends. Tries for up to `PAST_PROBES` while refused.
    pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
        let flags = LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY;
        let start = Instant::now();
        loop {
            if lock_once(file, flags)? {
                return Ok(true);
            }
            if start.elapsed() >= PAST_PROBES {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Whether another handle holds the writer's lock: a shared lock of the
    /// byte through `file` is refused while an exclusive one is held, and
    /// released at once when granted. `file` must not hold the writer's
    /// lock (a shared lock may overlap its holder's own exclusive one, and
    /// the unlock could then release the exclusive one).
    pub(crate) fn is_held(file: &File) -> io::Result<bool> {
        if !lock_once(file, LOCKFILE_FAIL_IMMEDIATELY)? {
            return Ok(true);
        }
        // A shared lock left behind would refuse every later writer while
        // this handle lives: try twice.
        unlock(file).or_else(|_| unlock(file))?;
        Ok(false)
    }
}
