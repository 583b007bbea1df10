//! The single writer's lock on a shared file, and how a reader tells whether
//! a writer holds it (N7 in `notify/mod.rs`).
//!
//! The lock is an open-file-description (OFD) write lock on the file's first
//! byte (`F_OFD_SETLK`): it belongs to the writer's own `open` of the file,
//! the kernel releases it when that description is closed (the handle is
//! dropped, the process exits or is killed), and a reader can test for it
//! with `F_OFD_GETLK` without taking any lock, so probing never gets in a
//! successor's way. A child `fork`ed from the writer shares its description,
//! and so its lock.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// A write lock on the file's first byte, the lock's whole range.
// The lock constants are `c_int` on Linux and `c_short` on macOS.
#[allow(clippy::unnecessary_cast)]
fn first_byte() -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers, for which all zeroes
    // is a valid value (and `l_pid` must be 0 for OFD locks).
    let mut lock: libc::flock = unsafe { core::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = 0;
    lock.l_len = 1;
    lock
}

/// Takes the writer's lock on `file` (opened for writing) without waiting:
/// `Ok(false)` if another open file description holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    let mut lock = first_byte();
    // SAFETY: `fcntl` with `F_OFD_SETLK` reads the `flock` the pointer names,
    // which lives across the call; the descriptor is open (borrowed from
    // `file`).
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

/// Whether an open file description other than `file`'s holds the writer's
/// lock; takes no lock.
pub(crate) fn is_held(file: &File) -> io::Result<bool> {
    let mut lock = first_byte();
    // SAFETY: as in `try_lock`; `F_OFD_GETLK` writes the conflicting lock, if
    // any, into the same `flock`.
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

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    /// One writer at a time, seen by a probe that takes nothing: a second
    /// description cannot take the lock while the first holds it, and can
    /// once it is closed; the probe never blocks a taker.
    #[test]
    fn one_holder_and_a_probe_that_takes_nothing() {
        let path = std::env::temp_dir().join(format!("noclobber-unit-{}-lock", std::process::id()));
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap()
        };
        let (writer, other, reader) = (open(), open(), open());
        assert!(!is_held(&reader).unwrap());
        assert!(try_lock(&writer).unwrap());
        assert!(try_lock(&writer).unwrap(), "the holder takes it again");
        assert!(is_held(&reader).unwrap());
        assert!(!is_held(&writer).unwrap(), "its own lock is no other's");
        assert!(!try_lock(&other).unwrap());
        drop(writer);
        assert!(!is_held(&reader).unwrap());
        assert!(!is_held(&reader).unwrap(), "probing left no lock");
        assert!(try_lock(&other).unwrap());
        std::fs::remove_file(&path).unwrap();
    }
}
