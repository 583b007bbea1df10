//! Windows identities: pid and the creation time `GetProcessTimes` reports
//! (a `FILETIME`, 100 ns units since 1601), packed by `judge.rs`. Pids are
//! global to the system (no namespaces; under Wine, to one wineserver).
//!
//! A look-up opens the process with `PROCESS_QUERY_LIMITED_INFORMATION |
//! SYNCHRONIZE`: `ERROR_INVALID_PARAMETER` is "no such process" (dead),
//! `ERROR_ACCESS_DENIED` (a protected process, or one whose security
//! descriptor refuses us) alive. An open process has exited if its handle is
//! signalled (`WaitForSingleObject(h, 0)`): a process object lives on, with
//! its pid, while anyone holds a handle to it, and its pid is reused only
//! after that. Without `SYNCHRONIZE` (refused alone) the exit code says it,
//! where it is not `STILL_ACTIVE` (an exit code of 259 counts as running:
//! the safe side).

use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER, FILETIME, HANDLE,
    STILL_ACTIVE, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetCurrentProcessId, GetExitCodeProcess, GetProcessTimes, OpenProcess,
    WaitForSingleObject, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
};

use super::judge::{self, Found};

/// The creation time of the process `h` (a handle with at least
/// `PROCESS_QUERY_LIMITED_INFORMATION`).
fn created(h: HANDLE) -> Option<u64> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: `h` is an open process handle; the four out-pointers are valid
    // for the call.
    let ok = unsafe { GetProcessTimes(h, &mut created, &mut exited, &mut kernel, &mut user) };
    (ok != 0).then(|| (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

/// An open process handle, closed when dropped.
struct Process(HANDLE);

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: a handle `OpenProcess` returned, closed once.
        unsafe { CloseHandle(self.0) };
    }
}

fn open(pid: u32, rights: u32) -> Result<Process, u32> {
    // SAFETY: no pointers; a null handle is the error.
    let h = unsafe { OpenProcess(rights, 0, pid) };
    if h.is_null() {
        // SAFETY: no preconditions.
        Err(unsafe { GetLastError() })
    } else {
        Ok(Process(h))
    }
}

/// What is known of the process `pid` now.
fn look_up(pid: u32) -> Found {
    let (process, synchronize) =
        match open(pid, PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE) {
            Ok(p) => (p, true),
            Err(ERROR_ACCESS_DENIED) => match open(pid, PROCESS_QUERY_LIMITED_INFORMATION) {
                Ok(p) => (p, false),
                Err(ERROR_INVALID_PARAMETER) => return Found::Nothing,
                Err(ERROR_ACCESS_DENIED) => return Found::Refused,
                Err(_) => return Found::Failed,
            },
            Err(ERROR_INVALID_PARAMETER) => return Found::Nothing,
            Err(_) => return Found::Failed,
        };
    let Some(start) = created(process.0) else {
        return Found::Failed;
    };
    let exited = if synchronize {
        // SAFETY: an open process handle with `SYNCHRONIZE`; a zero timeout
        // only polls.
        match unsafe { WaitForSingleObject(process.0, 0) } {
            WAIT_OBJECT_0 => true,
            WAIT_TIMEOUT => false,
            _ => return Found::Failed,
        }
    } else {
        let mut code = 0u32;
        // SAFETY: an open process handle with the query right; `code` is a
        // valid out-pointer.
        if unsafe { GetExitCodeProcess(process.0, &mut code) } == 0 {
            return Found::Failed;
        }
        code != STILL_ACTIVE as u32
    };
    Found::Process { start, exited }
}

/// This process's identity; `None` if `GetProcessTimes` refuses us our own.
pub(super) fn identity() -> Option<u64> {
    // SAFETY: no preconditions; the pseudo-handle needs no closing.
    let (pid, me) = unsafe { (GetCurrentProcessId(), GetCurrentProcess()) };
    judge::pack(pid, created(me)?)
}

/// Whether `owner`'s process is gone for good (`me`: ours, unused).
pub(super) fn is_dead(owner: u64, _me: u64) -> bool {
    judge::is_dead(owner, look_up(judge::pid(owner)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::owner::{current, enable, UNKNOWN, UNREGISTERED};
    use std::time::Duration;

    /// Re-executed by `a_child_is_alive_until_it_exits` as the child: sleeps
    /// while `NOCLOBBER_OWNER_CHILD` is set.
    #[test]
    fn child_sleeps_when_asked() {
        if std::env::var_os("NOCLOBBER_OWNER_CHILD").is_some() {
            std::thread::sleep(Duration::from_secs(60));
        }
    }

    #[test]
    fn own_process_is_alive_and_recorded() {
        enable();
        let me = current();
        assert!(me != UNKNOWN && me != UNREGISTERED);
        // SAFETY: no preconditions.
        assert_eq!(judge::pid(me), unsafe { GetCurrentProcessId() });
        assert_eq!(identity(), Some(me), "the identity is stable");
        assert!(!is_dead(me, me));
        // Our pid with another start time: a process that held it before.
        assert!(is_dead(me ^ 1, me));
    }

    /// A child is alive while it runs; once killed it is dead, both while
    /// our handle keeps its process object (exited) and once that is gone
    /// (no such process, or the pid reused by a process started later).
    #[test]
    fn a_child_is_alive_until_it_exits() {
        enable();
        let me = current();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "shm::owner::windows::tests::child_sleeps_when_asked",
                "--test-threads=1",
                "-q",
            ])
            .env("NOCLOBBER_OWNER_CHILD", "1")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Still running a while later: the child sleeps, it did not just
        // start.
        std::thread::sleep(Duration::from_millis(200));
        let Found::Process { start, exited } = look_up(pid) else {
            panic!("the child was not found: {:?}", look_up(pid));
        };
        assert!(!exited);
        let word = judge::pack(pid, start).unwrap();
        assert!(!is_dead(word, me), "a running child judged dead");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            matches!(look_up(pid), Found::Process { exited: true, .. }),
            "{:?}",
            look_up(pid)
        );
        assert!(is_dead(word, me), "an exited child judged alive");
        drop(child);
        assert!(is_dead(word, me), "a reaped child judged alive");
    }

    #[test]
    fn no_such_process_is_dead() {
        // Pids are multiples of 4: this one names no process.
        assert_eq!(look_up(0xffff_fffd), Found::Nothing);
        let word = judge::pack(0xffff_fffd, 1).unwrap();
        assert!(is_dead(word, current()));
    }
}
