//! macOS identities: pid and the start time `proc_pidinfo` reports
//! (`PROC_PIDTBSDINFO`: `pbi_start_tvsec`/`usec`, the wall-clock time taken
//! when the process was forked and kept across `exec`, stored by the kernel,
//! so every reader sees the same value), packed by `judge.rs`.
//!
//! A look-up passes `arg = 1` so that zombies are found (with 0 they answer
//! `ESRCH` like a reaped process): a zombie is dead. `ESRCH` is "no such
//! process"; `EPERM` (another user's process, unless we are root, or a
//! sandbox's refusal) is alive.

use core::ffi::{c_int, c_void};
use core::mem::size_of;

use super::judge::{self, Found};

/// What `proc_pidinfo(pid, PROC_PIDTBSDINFO, 1, ..)` finds: the start time
/// in microseconds since the epoch and whether the process is a zombie.
fn look_up(pid: u32) -> Found {
    let Ok(raw) = c_int::try_from(pid) else {
        return Found::Nothing;
    };
    // SAFETY: `proc_bsdinfo` is a plain C struct of integers and bytes, for
    // which all zeroes is a valid value.
    let mut info: libc::proc_bsdinfo = unsafe { core::mem::zeroed() };
    let size = size_of::<libc::proc_bsdinfo>() as c_int;
    // SAFETY: `info` is a writable buffer of `size` bytes that lives across
    // the call.
    let n = unsafe {
        libc::proc_pidinfo(
            raw,
            libc::PROC_PIDTBSDINFO,
            1,
            (&mut info as *mut libc::proc_bsdinfo).cast::<c_void>(),
            size,
        )
    };
    if n == size {
        let start = info
            .pbi_start_tvsec
            .wrapping_mul(1_000_000)
            .wrapping_add(info.pbi_start_tvusec);
        return Found::Process {
            start,
            exited: info.pbi_status == libc::SZOMB,
        };
    }
    if n > 0 {
        // A short answer: not the struct we asked for.
        return Found::Failed;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Found::Nothing,
        Some(libc::EPERM) => Found::Refused,
        _ => Found::Failed,
    }
}

/// This process's identity; `None` if `proc_pidinfo` refuses us our own.
pub(super) fn identity() -> Option<u64> {
    let pid = std::process::id();
    match look_up(pid) {
        Found::Process { start, .. } => judge::pack(pid, start),
        _ => None,
    }
}

/// Whether `owner`'s process is gone for good (`me`: ours, unused: pids and
/// start times mean the same to every process of the system).
pub(super) fn is_dead(owner: u64, _me: u64) -> bool {
    judge::is_dead(owner, look_up(judge::pid(owner)))
}
