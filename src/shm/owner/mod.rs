//! Process identity: who holds a ring claim, so that a writer finding every
//! slot held can tell claims of dead processes (reclaimable) from those of
//! live ones (I6 and I8 in `ring/mod.rs`).
//!
//! An owner is a `u64`. Two values are not identities: [`UNKNOWN`] (0: never
//! reclaimable) is what every claim carries in a process that has never
//! opened a shared file, and where identities are not supported (systems
//! other than Linux, macOS and Windows, under Miri, or a process that cannot
//! read its own identity: no readable `/proc`, a refused `proc_pidinfo` or
//! `GetProcessTimes`); [`UNREGISTERED`] marks a process that has opened a
//! shared file but has not computed its identity yet: its first claim
//! computes it ([`current`]), and a child after `fork` starts there again, so
//! that it never claims in its parent's name.
//!
//! What an identity packs depends on the system (files do not move between
//! systems, and processes of one system only ever judge each other's):
//!
//! * **Linux** (`linux.rs`): pid, pid namespace, time namespace, start time
//!   in clock ticks from `/proc`.
//! * **macOS** (`apple.rs`): pid and a hash of the start time that
//!   `proc_pidinfo` reports (microseconds, taken at `fork`).
//! * **Windows** (`windows.rs`): pid and a hash of the creation time that
//!   `GetProcessTimes` reports.
//!
//! The check errs only towards "alive": a claim is reclaimed only when its
//! owner is provably gone (no such process, a pid now held by a process with
//! another start time, or a process that has exited but is still known:
//! a zombie, or a Windows process object someone holds a handle to). An
//! owner the check may not look at (another user's process, a namespace it
//! cannot compare) is kept. Wrongly reclaiming a live writer's claim would
//! let two writers fill one slot; keeping a dead one only leaves a slot held.

/// The owner of claims made where identities are not known.
pub(crate) const UNKNOWN: u64 = 0;

/// A process that uses shared files and has not computed its identity yet
/// (pid field 0, which no identity has).
#[cfg_attr(
    not(all(any(target_os = "linux", target_vendor = "apple", windows), not(miri))),
    allow(dead_code)
)]
pub(crate) const UNREGISTERED: u64 = 1;

/// The owner to record in this process's claims: its identity, computed at
/// the first call after [`enable`] (and again in a child after `fork`), or
/// [`UNKNOWN`].
#[inline]
pub(crate) fn current() -> u64 {
    imp::current()
}

/// This process's identity if it has computed one, else [`UNKNOWN`]; never
/// computes it.
pub(crate) fn registered() -> u64 {
    imp::registered()
}

/// Called where shared files are opened or created: from now on this
/// process's claims carry its identity (computed lazily by [`current`]).
pub(crate) fn enable() {
    imp::enable();
}

/// Whether the process that made claims as `owner` is gone for good, as
/// seen from this process. Slow (a system call or a `/proc` read): only for
/// a writer that found every slot held. `false` at once, without a system
/// call, for an unknown owner and for this process's own.
pub(crate) fn is_dead(owner: u64) -> bool {
    imp::is_dead(owner)
}

#[cfg(all(target_os = "linux", not(miri)))]
mod linux;
#[cfg(all(target_os = "linux", not(miri)))]
use linux as system;

#[cfg(all(target_vendor = "apple", not(miri)))]
mod apple;
#[cfg(all(target_vendor = "apple", not(miri)))]
use apple as system;

#[cfg(all(windows, not(miri)))]
mod windows;
#[cfg(all(windows, not(miri)))]
use windows as system;

/// The identities of macOS and Windows, and how a look-up is judged; pure
/// functions, unit-tested on every system.
#[cfg(any(test, all(any(target_vendor = "apple", windows), not(miri))))]
mod judge;

/// This process's identity, computed once, for the systems that have one
/// (`system`: `identity()` and `is_dead(owner, me)`).
#[cfg(all(any(target_os = "linux", target_vendor = "apple", windows), not(miri)))]
mod imp {
    use super::{system, UNKNOWN, UNREGISTERED};
    use core::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Once;

    /// [`UNKNOWN`], [`UNREGISTERED`], or this process's identity.
    static OWNER: AtomicU64 = AtomicU64::new(UNKNOWN);

    #[inline]
    pub(super) fn current() -> u64 {
        // Relaxed: a value of this process's own, set before the claims that
        // carry it (program order); other processes read it from the claim.
        match OWNER.load(Ordering::Relaxed) {
            UNREGISTERED => register(),
            owner => owner,
        }
    }

    /// The child's half of `fork`: it must not make claims in its parent's
    /// name (the parent's death would make them look dead), so it computes
    /// its own identity at its first claim. A load and a store of an atomic:
    /// async-signal-safe, as `pthread_atfork` requires of a child handler
    /// (the child runs one thread).
    #[cfg(unix)]
    extern "C" fn forget_in_child() {
        if OWNER.load(Ordering::Relaxed) != UNKNOWN {
            OWNER.store(UNREGISTERED, Ordering::Relaxed);
        }
    }

    pub(super) fn registered() -> u64 {
        // Relaxed: as in `current`.
        match OWNER.load(Ordering::Relaxed) {
            UNREGISTERED => UNKNOWN,
            owner => owner,
        }
    }

    pub(super) fn enable() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: registers a handler that only loads and stores an
            // atomic; no other precondition. If registration fails (ENOMEM),
            // identities stay off in this process: a forked child could
            // otherwise claim in its parent's name. (Windows has no `fork`.)
            #[cfg(unix)]
            if unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) } != 0 {
                return;
            }
            // Relaxed: as in `current`.
            let _ =
                OWNER.compare_exchange(UNKNOWN, UNREGISTERED, Ordering::Relaxed, Ordering::Relaxed);
        });
    }

    /// Computes and records this process's identity; [`UNKNOWN`] for good if
    /// it cannot. Threads racing here compute the same value.
    #[cold]
    #[inline(never)]
    fn register() -> u64 {
        let owner = system::identity().unwrap_or(UNKNOWN);
        debug_assert!(owner != UNREGISTERED);
        // Relaxed: as in `current`. A `fork` between the computation and
        // this store cannot leave the parent's identity in the child: the
        // child's handler runs after the fork returns in the child, whose
        // only thread is the forking one, before it gets here.
        OWNER.store(owner, Ordering::Relaxed);
        owner
    }

    pub(super) fn is_dead(word: u64) -> bool {
        let me = current();
        if word == UNKNOWN || word == UNREGISTERED || me == UNKNOWN || word == me {
            return false;
        }
        system::is_dead(word, me)
    }
}

/// Elsewhere (and under Miri): no identities; claims are never reclaimed.
#[cfg(not(all(any(target_os = "linux", target_vendor = "apple", windows), not(miri))))]
mod imp {
    #[inline(always)]
    pub(super) fn current() -> u64 {
        super::UNKNOWN
    }

    pub(super) fn enable() {}

    pub(super) fn registered() -> u64 {
        super::UNKNOWN
    }

    pub(super) fn is_dead(_owner: u64) -> bool {
        false
    }
}
