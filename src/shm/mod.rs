//! The primitives shared between processes through a memory-mapped file
//! (feature `shm`, Unix): [`SharedPublisher`], [`SharedSoloWriter`] with
//! [`SharedSoloReader`], [`SharedSeqLock`] and the read-only
//! [`SharedSeqLockReader`].
//!
//! One process [`create`](SharedPublisher::create)s the file, any number of
//! processes [`open`](SharedPublisher::open) it (or
//! [`open_or_create`](SharedPublisher::open_or_create); [`Options`] for the
//! file mode and waiting for a single writer). Every handle reads through
//! the [`Readable`] trait (`use noclobber::Readable`) with the in-process
//! types' vocabulary, its errors carrying [`Corrupt`] for a file damaged by
//! other means; the write methods are the handle's own.
//!
//! ```
//! use noclobber::{shm::SharedPublisher, Readable};
//!
//! let path = std::env::temp_dir().join(format!("noclobber-doc-{}-mod", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! let writer = SharedPublisher::<[u64; 4]>::create(&path, [0; 4])?;
//! // In another process (here: another mapping of the same file).
//! let reader = SharedPublisher::<[u64; 4]>::open(&path)?;
//! writer.write([1, 2, 3, 4]);
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
//! * A **stopped or killed writer never blocks publisher readers**
//!   ([`SharedPublisher`], [`SharedSoloReader`]): they keep
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
//!   the file, or dies. A 32nd process that publishes waits in `write` until
//!   an entry is free (`try_write` and `write_timeout` give up with
//!   `WriteError::Busy` and `TimedOut`): it never makes a claim that could
//!   not be given back.
//! * **Namespaces.** A claim is judged dead only by a writer in the same pid
//!   namespace, and only when both are in the initial time namespace (Linux
//!   shifts the start times it reports by the *reader's* clock offset, so
//!   they cannot be compared across time namespaces). Claims of a dead writer
//!   that no writer can judge are kept, never wrongly taken (docs/shm.md).
//! * A [`SharedSeqLock`] writer stopped or killed *between* its two sequence
//!   bumps blocks it: `try_read` returns `ReadError::Interrupted` and `read`
//!   and other writers spin until it resumes, forever if it died. Use a
//!   [`SharedPublisher`] when that is not acceptable.
//!
//! # Layout and checks
//!
//! The file holds a header (magic, layout version, layout hash) followed by the
//! object. The hash covers the object's size, alignment, slot count, payload
//! words and field offsets, the size and alignment of `T`, and
//! [`core::any::type_name`] of `T`. `create` initialises the object, then
//! writes the magic with `Release`; `open` loads it (`Relaxed` and an `Acquire`
//! fence) and refuses a
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
//! * `SharedSoloReader` / `SharedSoloWriter::open`: every slot's stamp.
//!
//! `open` never waits, except that `SharedSeqLock::open` gives an odd sequence
//! those 50 ms to move. A body damaged after opening makes the bounded
//! operations return a `Corrupt` error (`ReadError::Corrupt`,
//! `WaitError::Corrupt`, `WriteError::Corrupt`), never panic; `read` panics
//! instead of spinning.
//!
//! Memory in the mapping is only ever accessed through atomics. `T` must be
//! [`Pod`](bytemuck::Pod): any bytes another process leaves in the file are a valid `T`.
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
//! the same directory (`O_EXCL`, mode `0o600` unless [`Options`] says
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
//! values or damage the file; its `wait_newer` polls). Every other
//! handle maps the file read-write: [`SharedSeqLock`] handles can write, a
//! [`SharedSoloReader`] counts itself in the file while it waits
//! (`wait_newer`; no reader method stores anything else), and every handle of
//! a [`SharedPublisher`], readers too, may store in a 128-bit atomic load
//! (`cmpxchg16b`).

mod error;
mod file;
mod handles;
mod header;
mod lock;
mod options;
pub(crate) mod owner;
mod solo;

pub use crate::error::Corrupt;
pub use error::{Error, IoOp};
#[cfg(target_pointer_width = "64")]
pub use handles::SharedSeqLockReader;
pub use handles::{SharedPublisher, SharedSeqLock};
pub use options::{Create, Open, Options};
pub use solo::{SharedSoloReader, SharedSoloWriter};

#[cfg(doc)]
use crate::Readable;

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;
    use crate::Readable;

    /// I8 in `ring/mod.rs`: a process holds its owner entry while it has a
    /// handle on the file, and gives it back with the last one.
    #[test]
    fn the_last_handle_gives_the_owner_entry_back() {
        let path =
            std::env::temp_dir().join(format!("noclobber-unit-{}-owner", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let held = |p: &SharedPublisher<u64>| {
            let me = crate::shm::owner::registered();
            let entries = p.ring().owner_entries();
            entries.iter().filter(|&&e| e == me && me != 0).count()
        };
        let first = SharedPublisher::<u64>::create(&path, 0).unwrap();
        assert_eq!(held(&first), 0, "an entry before any claim");
        first.write(1);
        assert_eq!(held(&first), 1);
        let second = SharedPublisher::<u64>::open(&path).unwrap();
        drop(first);
        assert_eq!(held(&second), 1, "given back while a handle lives");
        second.write(2);
        let third = SharedPublisher::<u64>::open(&path).unwrap();
        drop(second);
        assert_eq!(held(&third), 1);
        drop(third);
        let last = SharedPublisher::<u64>::open(&path).unwrap();
        assert_eq!(held(&last), 0, "kept after the last handle dropped");
        assert_eq!(last.read(), 2);
        std::fs::remove_file(&path).unwrap();
    }
}
