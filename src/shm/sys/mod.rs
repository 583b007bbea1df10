//! What shared files need from the operating system, one module per family:
//! creating a file under a temporary name and publishing it under its final
//! name without ever replacing one, allocating it, naming it (its identity
//! for this process's count of handles and, on Windows, for its wake-up
//! semaphore), and the single writer's lock (`lock.rs`).
//!
//! The protocol (`file.rs`) is the same everywhere: build the file under a
//! private temporary name, allocate it in full, map and initialise it, and
//! only then give it its final name, which fails if the name is taken.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

/// A file's identity: the same for every handle on the same file, whatever
/// name it was opened by. Unix: device and inode; Windows: volume serial
/// number and file index.
pub(crate) type FileId = (u64, u64);
