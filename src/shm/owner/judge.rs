//! The identities of macOS and Windows and how a look-up of one is judged:
//! pure functions, so that they are unit-tested on every system (the system
//! calls that feed them are in `apple.rs` and `windows.rs`).
//!
//! An identity is the pid in the high 32 bits (never 0: pid 0 is the
//! kernel's or the idle process's, which open no files; so an identity is
//! never [`UNKNOWN`](super::UNKNOWN) or [`UNREGISTERED`](super::UNREGISTERED))
//! and a 32-bit hash of the process's start time below: the pid alone is
//! reused, the pair only by a process that started at a time with the same
//! hash (2^-32), which then counts as the same process, alive while it runs:
//! the safe side.

/// What a look-up of an identity's pid found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// No process has the pid: the owner is gone (macOS `ESRCH`, Windows
    /// `ERROR_INVALID_PARAMETER` from `OpenProcess`).
    Nothing,
    /// A process has it, but we may not look at it (another user's or a
    /// protected process: macOS `EPERM`, Windows `ERROR_ACCESS_DENIED`).
    Refused,
    /// A process with the pid, started at `start` (the system's units), and
    /// whether it has exited (a macOS zombie; a Windows process object whose
    /// process ended but which someone still holds a handle to).
    Process { start: u64, exited: bool },
    /// The look-up failed otherwise.
    Failed,
}

/// The identity of the process `pid` started at `start`; `None` for pid 0.
pub(super) fn pack(pid: u32, start: u64) -> Option<u64> {
    (pid != 0).then_some((u64::from(pid) << 32) | u64::from(hash(start)))
}

/// The pid an identity names.
pub(super) fn pid(owner: u64) -> u32 {
    (owner >> 32) as u32
}

/// A 32-bit hash of a start time: its high bits after a multiplication by
/// an odd constant (2^64 / golden ratio), so that times a tick apart differ
/// in many bits.
fn hash(start: u64) -> u32 {
    (start.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
}

/// Whether the owner `owner` is gone for good, given what a look-up of its
/// pid found: only "no such process", "a process started at another time"
/// (the pid was reused) or "that very process, exited" count as gone;
/// anything we may not see or could not look up counts as alive.
pub(super) fn is_dead(owner: u64, found: Found) -> bool {
    match found {
        Found::Nothing => true,
        Found::Refused | Found::Failed => false,
        Found::Process { start, exited } => owner as u32 != hash(start) || exited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::owner::{UNKNOWN, UNREGISTERED};

    #[test]
    fn identities_pack_the_pid_and_a_start_hash() {
        assert_eq!(pack(0, 5), None, "pid 0 is no identity");
        for (p, start) in [(1, 0), (4, 133_000_000_000_000_000), (u32::MAX, u64::MAX)] {
            let owner = pack(p, start).unwrap();
            assert_eq!(pid(owner), p);
            assert!(owner != UNKNOWN && owner != UNREGISTERED);
        }
        // Start times a tick apart (100 ns, 1 us, 15.6 ms) hash apart.
        let t = 133_000_000_000_000_000u64;
        for d in [1, 10, 156_250] {
            assert_ne!(pack(8, t), pack(8, t + d));
        }
    }

    #[test]
    fn only_a_provably_gone_owner_is_dead() {
        let (t, me) = (
            133_000_000_000_000_000u64,
            pack(1234, 133_000_000_000_000_000).unwrap(),
        );
        // Running, started when the identity says: alive.
        assert!(!is_dead(
            me,
            Found::Process {
                start: t,
                exited: false
            }
        ));
        // Exited (a zombie, or an ended process someone holds): dead.
        assert!(is_dead(
            me,
            Found::Process {
                start: t,
                exited: true
            }
        ));
        // The pid now names a process started at another time: reused.
        assert!(is_dead(
            me,
            Found::Process {
                start: t + 1,
                exited: false
            }
        ));
        // No such process: dead. Refused or failed look-ups: alive.
        assert!(is_dead(me, Found::Nothing));
        assert!(!is_dead(me, Found::Refused));
        assert!(!is_dead(me, Found::Failed));
    }
}
