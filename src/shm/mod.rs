//! The primitives shared between processes through a memory-mapped file
//! (feature `shm`, Unix and Windows; what each system provides and costs:
//! [Platforms](#platforms)): [`SharedPublisher`], [`SharedSoloWriter`] with
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
//!   (Linux, macOS and Windows: each claim records its process, in an owner
//!   table of 31 entries in the file), so a kill never wedges the file, also
//!   of a writer `fork`ed after the file was opened (a child computes its own
//!   identity at its first claim). Writers carry on while at most `SLOTS - 2` writers are
//!   *stopped* mid-publication, so use `SLOTS >= 3`. A new process can `open`
//!   the file and keep publishing.
//! * **At most 31 writer processes per file at a time.** A process holds an
//!   owner entry from its first publication until it drops its last handle on
//!   the file, or dies. A 32nd process that publishes waits in `write` until
//!   an entry is free (`try_write` and `write_timeout` give up with
//!   `WriteError::Busy` and `TimedOut`): it never makes a claim that could
//!   not be given back.
//! * **Namespaces.** On Linux a claim is judged dead only by a writer in the
//!   same pid namespace, and only when both are in the initial time
//!   namespace (Linux shifts the start times it reports by the *reader's*
//!   clock offset, so they cannot be compared across time namespaces).
//!   Claims of a dead writer that no writer can judge are kept, never wrongly
//!   taken (docs/shm.md); so are those of another user's process where the
//!   system does not let us look at it (macOS, Windows).
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
//!   still map it keep the old one (`create` never replaces a file). Windows
//!   refuses to delete (or truncate) a file while any process maps it:
//!   remove it once every handle is dropped;
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
//! the same directory (`O_EXCL` / `CREATE_NEW`, mode `0o600` unless
//! [`Options`] says otherwise), allocates it in full (`fallocate`; on macOS
//! `F_PREALLOCATE`; on Windows by setting its length, which allocates on
//! NTFS; so a full file system or a file-size limit is an `Err`, never a
//! `SIGBUS`), initialises it, and only then gives it the final name, which
//! fails if that name exists: a hard link on Unix, a rename without
//! replacing (`MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`) on Windows,
//! where a mapped file cannot be deleted, but can be renamed. An existing
//! file is never replaced, and no process ever sees the final name
//! half-initialised, even if the creator is killed. On error only the
//! temporary is removed. A creator killed before that last step can leave a
//! stray `.NAME.noclobber-tmp.PID.N` beside the final name (safe to delete).
//! On Unix the directory's file system must support hard links (tmpfs and
//! the usual Unix file systems do). `open_or_create` opens the file or
//! creates it.
//!
//! # Permissions
//!
//! Who may open the file is its mode (Unix; on Windows, the security
//! descriptor the directory passes on: [`Options::mode`] is ignored there). [`SharedSeqLockReader`] maps a
//! `SeqLock` file read-only and needs only read permission (it cannot forge
//! values or damage the file; its `wait_newer` polls). Every other
//! handle maps the file read-write: [`SharedSeqLock`] handles can write, a
//! [`SharedSoloReader`] counts itself in the file while it waits
//! (`wait_newer`; no reader method stores anything else), and every handle of
//! a [`SharedPublisher`], readers too, may store in a 128-bit atomic load
//! (`cmpxchg16b`).
//!
//! # Platforms
//!
//! One file format everywhere (the same header, layout version and layout
//! hash); a file is shared by the processes of one system (Wine processes
//! and native Linux ones do not share one: their locks, wake-ups and
//! process identities are each their own).
//!
//! | | Linux | macOS | Windows |
//! |---|---|---|---|
//! | single writer's lock | OFD lock on byte 0 (`F_OFD_SETLK`) | the same (macOS 10.13 and later) | `LockFileEx` on one byte past any data |
//! | telling a dead writer (`is_closed`, `Closed`) | `F_OFD_GETLK`, takes nothing | the same | a shared lock of the byte, released at once |
//! | waking waiters in other processes | shared futex | `os_sync_wait_on_address`, `SHARED` (14.4 and later), else 1 ms slices | two named semaphores per file |
//! | dead writers' claims given back | pid, namespaces and start time from `/proc` | pid and start time from `proc_pidinfo` | pid and creation time from `GetProcessTimes` |
//! | writer after a store (`SharedSoloWriter`) | one load while nobody waits (`membarrier`) | a `SeqCst` fence and a load | a `SeqCst` fence and a load |
//!
//! Costs and limits beyond Linux:
//!
//! * **Windows waking.** Each handle that maps a file writable opens the
//!   file's two semaphores (`Global\noclobber-<volume>-<file index>-<0|1>`:
//!   one pair per file for every session). A waiter counts itself in the
//!   file's header and sleeps on one; a writer that finds sleepers releases
//!   one unit each (a `ReleaseSemaphore` call), so a wake-up costs a system
//!   call on each side, and nothing while nobody sleeps. An idle waiter
//!   wakes every 50 ms to check again (the bound on what a missed unit can
//!   cost). A process that cannot open the semaphores (the names taken by
//!   other objects, or a security descriptor that shuts it out) makes every
//!   waiter of the file sleep in 1 ms slices instead: slower, never wrong.
//!   Windows rounds sleeps to its timer tick (15.6 ms by default).
//! * **Windows lock probes.** Windows has no lock test that takes nothing,
//!   so a waiting [`SharedSoloReader`] takes and drops a shared lock of the
//!   writer's byte every 10 ms (two system calls). A writer's `open` that
//!   meets such a probe tries again for up to 5 ms, so
//!   [`Error::WriterBusy`] comes 5 ms later than on Unix.
//! * **macOS before 14.4** has no shared address wait: waiters sleep in 1 ms
//!   slices (about a thousand short sleeps a second while one waits).
//! * **Debuggers and suspension.** A writer stopped in a debugger or
//!   suspended (`SIGSTOP`, `NtSuspendProcess`, `SuspendThread`) keeps its
//!   lock and its claims; readers never wait for it, waiters wait until
//!   their timeout. A terminated one (`SIGKILL`, `TerminateProcess`) loses
//!   both; the system releases its lock at once (Windows: "when resources
//!   allow").
//! * **Windows has no `fork`**: sharing is by opening the file.

mod error;
mod file;
mod handles;
mod header;
mod lock;
mod options;
pub(crate) mod owner;
mod solo;
mod sys;

pub use crate::error::Corrupt;
pub use error::{Error, IoOp};
#[cfg(target_pointer_width = "64")]
pub use handles::SharedSeqLockReader;
pub use handles::{SharedPublisher, SharedSeqLock};
pub use options::{Create, Open, Options};
pub use solo::{SharedSoloReader, SharedSoloWriter};

#[cfg(doc)]
use crate::Readable;

#[cfg(all(
    test,
    any(target_os = "linux", target_vendor = "apple", windows),
    not(miri)
))]
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
        // Unmapped first: Windows deletes no mapped file.
        drop(last);
        std::fs::remove_file(&path).unwrap();
    }
}
