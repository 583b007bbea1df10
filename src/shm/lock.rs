//! The single writer's lock on a shared file, and how a reader tells whether
//! a writer holds it (N7 in `notify/mod.rs`). The system's part is in
//! `sys/`:
//!
//! * **Unix**: an open-file-description lock on the file's first byte
//!   (`F_OFD_SETLK`), tested by readers with `F_OFD_GETLK`, which takes no
//!   lock.
//! * **Windows**: `LockFileEx`, exclusive, on one byte far beyond any file's
//!   end (Windows locks are mandatory: a lock on data would make every
//!   `ReadFile` of the file by other handles fail), owned by the writer's
//!   file object. Windows has no test that takes nothing: a reader tries a
//!   shared lock of the byte through its own handle and releases it at once.
//!   A writer's `try_lock` that meets such a probe fails, so it tries again
//!   for a few milliseconds before it reports the lock taken.
//!
//! Either way the lock belongs to the writer's own open of the file, and the
//! system releases it when that is closed: the handle is dropped, or the
//! process exits or is killed (`SIGKILL`, `TerminateProcess`).
//!
//! On Linux the writer also holds the second byte, on which one thread of a
//! reader process that waits blocks (`wait_released`, a shared lock asked
//! for with `F_OFD_SETLKW`): the kernel wakes it when the writer is gone, and
//! it wakes the waiters, which then probe the first byte. So a waiting
//! reader learns of the writer's death at once, without waking to probe.

use std::fs::File;
use std::io;

/// Takes the writer's lock on `file` (opened for writing) without waiting
/// (Windows: for a few milliseconds at most, past readers' probes):
/// `Ok(false)` if another open of the file holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    super::sys::lock::try_lock(file)
}

/// Whether another open of the file than `file` holds the writer's lock.
/// Takes no lock on Unix; on Windows a shared lock for a moment, so `file`
/// must never be the one that holds (or will take) the writer's lock.
pub(crate) fn is_held(file: &File) -> io::Result<bool> {
    super::sys::lock::is_held(file)
}

/// Linux: the writer, holding the lock, also takes the byte that watching
/// readers wait on. Waits only for such a reader's moment on it.
#[cfg(target_os = "linux")]
pub(crate) fn hold_watched(file: &File) -> io::Result<()> {
    super::sys::lock::hold_watched(file)
}

/// Linux: waits until no writer holds the file (the writer's process died,
/// or it closed the file); takes nothing for longer than a moment.
#[cfg(target_os = "linux")]
pub(crate) fn wait_released(file: &File) -> io::Result<()> {
    super::sys::lock::wait_released(file)
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    /// One writer at a time, seen by a probe: a second open cannot take the
    /// lock while the first holds it, and can once it is closed; probing
    /// leaves no lock behind.
    #[test]
    fn one_holder_and_a_probe() {
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
        #[cfg(unix)]
        {
            assert!(try_lock(&writer).unwrap(), "the holder takes it again");
            assert!(!is_held(&writer).unwrap(), "its own lock is no other's");
        }
        assert!(is_held(&reader).unwrap());
        assert!(
            is_held(&reader).unwrap(),
            "probing took nothing from the holder"
        );
        assert!(!try_lock(&other).unwrap());
        drop(writer);
        assert!(!is_held(&reader).unwrap());
        assert!(!is_held(&reader).unwrap(), "probing left no lock");
        assert!(try_lock(&other).unwrap());
        // The lock is on no data: other handles read and write the file.
        std::fs::write(&path, b"data").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        drop((other, reader));
        std::fs::remove_file(&path).unwrap();
    }
}
