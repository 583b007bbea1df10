//! Unix: `O_EXCL` temporaries with the caller's mode, `fallocate`, a hard
//! link that publishes the file, `(st_dev, st_ino)` identities, and the
//! writer's open-file-description lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use super::FileId;

/// Creates `tmp`, which must not exist (`O_EXCL`), for reading and writing,
/// with permission bits `mode` (before the umask).
pub(crate) fn create_temp(tmp: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)
}

/// Allocates the first `len` bytes of the empty `file` (and sets its length):
/// `fallocate` (on macOS `F_PREALLOCATE` and `ftruncate`, which rustix does
/// for it), or writing zeroes where the file system does not support it
/// (what glibc's `posix_fallocate` does). Either way every page exists when
/// this returns `Ok`, so touching the mapping can never raise `SIGBUS` for
/// want of space; a full file system (`ENOSPC`) or a file-size limit
/// (`EFBIG`) is an `Err`.
pub(crate) fn allocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_vendor = "apple"
    ))]
    {
        use rustix::io::Errno;
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => return Ok(()),
            // Not supported by this file system: write the zeroes ourselves.
            Err(e) if e == Errno::OPNOTSUPP || e == Errno::NOSYS => {}
            // macOS: `F_PREALLOCATE` refused by the file system (`ENOTSUP`,
            // or `EINVAL` from some, e.g. SMB mounts).
            #[cfg(target_vendor = "apple")]
            Err(e) if e == Errno::NOTSUP || e == Errno::INVAL => {}
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

/// Gives the complete temporary `tmp` the name `path`: a hard link, which
/// fails with `AlreadyExists` if `path` exists, so an existing file is never
/// replaced. The temporary name stays until [`after_publish`].
pub(crate) fn publish(tmp: &Path, path: &Path) -> io::Result<()> {
    std::fs::hard_link(tmp, path)
}

/// After [`publish`]: removes the temporary name (the file lives on under
/// `path`; unlinking a mapped file is fine on Unix).
pub(crate) fn after_publish(tmp: &Path) {
    let _ = std::fs::remove_file(tmp);
}

/// The file's device and inode.
pub(crate) fn file_id(file: &File) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// The single writer's lock: an open-file-description (OFD) write lock on
/// the file's first byte (`F_OFD_SETLK`). It belongs to the writer's own
/// `open` of the file, the kernel releases it when that description is
/// closed (the handle is dropped, the process exits or is killed), and a
/// reader tests for it with `F_OFD_GETLK` without taking any lock, so probing
/// never gets in a successor's way. A child `fork`ed from the writer shares
/// its description, and so its lock. OFD locks exist on Linux 3.15 and
/// later and on macOS 10.13 and later (public in its headers since 14).
pub(crate) mod lock {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    /// A write lock on the file's first byte, the lock's whole range.
    // The lock constants are `c_int` on Linux and `c_short` on macOS.
    #[allow(clippy::unnecessary_cast)]
    fn first_byte() -> libc::flock {
        // SAFETY: `flock` is a plain C struct of integers, for which all
        // zeroes is a valid value (and `l_pid` must be 0 for OFD locks).
        let mut lock: libc::flock = unsafe { core::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = 0;
        lock.l_len = 1;
        lock
    }

    /// Takes the writer's lock on `file` (opened for writing) without
    /// waiting: `Ok(false)` if another open file description holds it.
    pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
        let mut lock = first_byte();
        // SAFETY: `fcntl` with `F_OFD_SETLK` reads the `flock` the pointer
        // names, which lives across the call; the descriptor is open
        // (borrowed from `file`).
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
        if r == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN | libc::EACCES) => Ok(false),
            _ => Err(e),
        }
    }

    /// The second byte (Linux): the writer holds it exclusively, a watching
    /// reader waits for a shared lock of it (`wait_released`).
    #[cfg(target_os = "linux")]
    #[allow(clippy::unnecessary_cast)]
    fn watch_byte(kind: libc::c_int) -> libc::flock {
        let mut lock = first_byte();
        lock.l_type = kind as libc::c_short;
        lock.l_start = 1;
        lock
    }

    /// `fcntl(F_OFD_SETLKW)` of `lock` on `file`, again when interrupted.
    #[cfg(target_os = "linux")]
    fn set_waiting(file: &File, mut lock: libc::flock) -> io::Result<()> {
        loop {
            // SAFETY: as in `try_lock`; `F_OFD_SETLKW` waits until the lock
            // can be set (the `flock` is only read).
            let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLKW, &mut lock) };
            if r == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }

    /// Linux: the writer, holding the first byte, also takes the second,
    /// which watching readers wait on (`wait_released`). It waits only for
    /// such a reader that holds it for a moment.
    #[cfg(target_os = "linux")]
    pub(crate) fn hold_watched(file: &File) -> io::Result<()> {
        set_waiting(file, watch_byte(libc::F_WRLCK as libc::c_int))
    }

    /// Linux: waits until no writer holds the second byte (its process
    /// died, or it closed the file), then lets it go at once.
    #[cfg(target_os = "linux")]
    pub(crate) fn wait_released(file: &File) -> io::Result<()> {
        set_waiting(file, watch_byte(libc::F_RDLCK as libc::c_int))?;
        let mut unlock = watch_byte(libc::F_UNLCK as libc::c_int);
        // SAFETY: as in `try_lock`.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut unlock) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether an open file description other than `file`'s holds the
    /// writer's lock; takes no lock.
    pub(crate) fn is_held(file: &File) -> io::Result<bool> {
        let mut lock = first_byte();
        // SAFETY: as in `try_lock`; `F_OFD_GETLK` writes the conflicting
        // lock, if any, into the same `flock`.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(!unlocked(lock.l_type))
    }

    /// Whether `F_OFD_GETLK` found no conflicting lock.
    #[allow(clippy::unnecessary_cast)]
    fn unlocked(kind: libc::c_short) -> bool {
        kind == libc::F_UNLCK as libc::c_short
    }
}
