//! The read side of a `SeqLock` on a read-only mapping.

use bytemuck::NoUninit;

use super::{version_of, Body};
use crate::error::Fault;
use crate::notify::Listeners;
use crate::sync::{fence, Ordering, Spin};
use crate::Versioned;

/// The read side on a read-only mapping (`shm::SharedSeqLockReader`): std
/// documents atomic loads on read-only memory only for `Relaxed` loads of at
/// most a register's width, so these use nothing else (and exist only where
/// a 64-bit word is a register), with fences for the ordering.
#[cfg(all(feature = "std", target_pointer_width = "64"))]
#[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
impl<T: NoUninit, E: Listeners> Body<T, E> {
    /// [`attempt`](Self::attempt) by `Relaxed` loads.
    pub(crate) fn attempt_loads_only(&self) -> Result<Versioned<T>, Fault> {
        // Relaxed, then an Acquire fence: together an Acquire load (a fence
        // after a load that reads a Release store synchronises with it), as
        // in `attempt`.
        let seq = self.seq.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if seq & 1 == 1 {
            return Err(Fault::Interrupted);
        }
        // Relaxed (inside), Acquire fence, Relaxed load: as in `attempt`.
        let buf = self.words.load_relaxed();
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != seq {
            return Err(Fault::Interrupted);
        }
        // SAFETY: as in `attempt`: the same loads and fences.
        let value = unsafe { buf.assume_value() };
        Ok(Versioned {
            value,
            version: version_of(seq),
        })
    }

    /// [`read_versioned`](Self::read_versioned) by `Relaxed` loads.
    pub(crate) fn read_loads_only(&self) -> Versioned<T> {
        let spin = Spin::new();
        loop {
            if let Ok(v) = self.attempt_loads_only() {
                return v;
            }
            spin.snooze();
        }
    }

    /// [`read_until`](Self::read_until) by `Relaxed` loads.
    pub(crate) fn read_until_loads_only(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Versioned<T>, Fault> {
        crate::notify::retry_until(deadline, || self.attempt_loads_only())
    }

    /// [`version`](Self::version) by a `Relaxed` load.
    pub(crate) fn version_loads_only(&self) -> u64 {
        // Relaxed, then an Acquire fence: as in `attempt_loads_only`.
        let seq = self.seq.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        version_of(seq)
    }
}
