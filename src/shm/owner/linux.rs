//! Linux identities: the pid (22 bits: `PID_MAX_LIMIT`; never 0), the low
//! 21 bits of the pid namespace's inode, one bit set when the process is in
//! a time namespace other than the initial one, and the low 20 bits of its
//! start time in clock ticks (`/proc/<pid>/stat` field 22).
//!
//! A claim is reclaimed only when its owner is provably gone (no such pid,
//! a pid now held by a process with another start time, or a zombie with no
//! live thread), as seen from the same pid namespace and the initial time
//! namespace on both sides. Linux reports a start time shifted by the
//! *reading* process's time-namespace offset, so start times taken in
//! different time namespaces cannot be compared; a process in a non-initial
//! time namespace is never judged, and never judges. A claim of an owner in
//! another namespace, or of a process whose `/proc` entry we may not read and
//! that `kill(pid, 0)` still finds, is kept.

use std::os::unix::fs::MetadataExt;

const PID_BITS: u32 = 22;
const NS_BITS: u32 = 21;
const START_BITS: u32 = 20;
/// The bit after the start time: the process is in a time namespace
/// other than the initial one.
const SHIFTED: u64 = 1 << START_BITS;
const _: () = assert!(PID_BITS + NS_BITS + 1 + START_BITS == 64);

/// `PROC_TIME_INIT_INO` (`include/linux/proc_ns.h`): the inode of the
/// initial time namespace in `/proc/<pid>/ns/time`.
const INITIAL_TIME_NS: u64 = 0xEFFF_FFFA;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Owner {
    pub(super) pid: u64,
    pub(super) ns: u64,
    pub(super) shifted: bool,
    pub(super) start: u64,
}

pub(super) fn pack(o: &Owner) -> u64 {
    (o.pid << (NS_BITS + 1 + START_BITS))
        | ((o.ns & ((1 << NS_BITS) - 1)) << (1 + START_BITS))
        | if o.shifted { SHIFTED } else { 0 }
        | (o.start & (SHIFTED - 1))
}

pub(super) fn unpack(word: u64) -> Owner {
    Owner {
        pid: word >> (NS_BITS + 1 + START_BITS),
        ns: (word >> (1 + START_BITS)) & ((1 << NS_BITS) - 1),
        shifted: word & SHIFTED != 0,
        start: word & (SHIFTED - 1),
    }
}

/// This process's identity, packed; `None` without a readable `/proc`.
pub(super) fn identity() -> Option<u64> {
    own().map(|o| pack(&o))
}

fn own() -> Option<Owner> {
    let pid = u64::from(std::process::id());
    if pid == 0 || pid >> PID_BITS != 0 {
        return None;
    }
    let ns = std::fs::metadata("/proc/self/ns/pid").ok()?.ino();
    // Our start time as other processes read it (`is_dead` reads
    // `/proc/<pid>/stat`): through the main thread's task entry, whose
    // start time is the process's. Not `/proc/self/stat`, which qemu-user
    // answers itself with a start time of its own (seen a tick off), so
    // that other processes would take this live one for a newer holder of
    // its pid.
    let stat = read_stat(&alloc::format!("self/task/{pid}"))?;
    Some(Owner {
        pid,
        ns,
        shifted: time_shifted()?,
        start: stat.start,
    })
}

/// Whether this process is in a time namespace other than the initial
/// one; `None` if that cannot be told.
fn time_shifted() -> Option<bool> {
    match std::fs::metadata("/proc/self/ns/time") {
        Ok(m) => Some(m.ino() != INITIAL_TIME_NS),
        // A kernel without time namespaces (before 5.6, or built
        // without them): every process shares the clock.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        Err(_) => None,
    }
}

struct Stat {
    zombie: bool,
    start: u64,
}

/// State and start time (low bits) from `/proc/<who>/stat`.
fn read_stat(who: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(alloc::format!("/proc/{who}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start behind the last ')', with the state (field 3).
    let mut fields = text.get(text.rfind(')')? + 1..)?.split_ascii_whitespace();
    let zombie = matches!(fields.next()?, "Z" | "X");
    let start: u64 = fields.nth(22 - 4)?.parse().ok()?;
    Some(Stat {
        zombie,
        start: start & (SHIFTED - 1),
    })
}

/// Whether two identities can be compared by start time: the same pid
/// namespace, and both in the initial time namespace.
pub(super) fn comparable(a: &Owner, b: &Owner) -> bool {
    a.ns == b.ns && !a.shifted && !b.shifted
}

/// Whether `word`'s process is gone for good, as judged by `me` (both
/// identities; the caller has ruled out the non-identities and `me`).
pub(super) fn is_dead(word: u64, me: u64) -> bool {
    let (owner, me) = (unpack(word), unpack(me));
    if !comparable(&owner, &me) {
        // Its pid means another process, or none, in our namespace, or
        // its start time was measured on another clock.
        return false;
    }
    let Ok(raw) = i32::try_from(owner.pid) else {
        return false;
    };
    let who = alloc::format!("{raw}");
    match read_stat(&who) {
        // The pid now names a process started at another time.
        Some(stat) if stat.start != owner.start => true,
        // A zombie is dead once no thread of it is left: a group leader
        // that exited while other threads run also shows `Z`.
        Some(stat) if stat.zombie => matches!(live_threads(&who), Some(0 | 1)),
        Some(_) => false,
        // No entry, or one we may not read (`hidepid`): only a definite
        // "no such process" counts.
        None => match rustix::process::Pid::from_raw(raw) {
            Some(pid) => rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH),
            None => false,
        },
    }
}

/// Entries in `/proc/<who>/task`: the group's threads not yet reaped.
fn live_threads(who: &str) -> Option<usize> {
    Some(
        std::fs::read_dir(alloc::format!("/proc/{who}/task"))
            .ok()?
            .count(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::owner::{current, enable, is_dead, UNKNOWN, UNREGISTERED};

    fn me() -> Owner {
        enable();
        let me = current();
        assert!(me != UNKNOWN && me != UNREGISTERED);
        unpack(me)
    }

    #[test]
    fn own_process_is_alive_and_recorded() {
        let me = me();
        assert_eq!(me.pid, u64::from(std::process::id()));
        assert_eq!(unpack(pack(&me)), me);
        let word = pack(&me);
        assert!(!is_dead(word));
        // Another start time under our pid: a process that reused it.
        assert!(is_dead(word ^ 1));
        // Unknown and unregistered owners are never dead.
        assert!(!is_dead(UNKNOWN));
        assert!(!is_dead(UNREGISTERED));
    }

    /// Identities that differ in a namespace are never judged: another
    /// pid namespace (the pid means another process there), or another
    /// time namespace on either side (start times are shifted by the
    /// reader's clock offset).
    #[test]
    fn other_namespaces_are_alive() {
        let me = me();
        // Our pid with another start time: a process that reused it.
        let reused = Owner {
            start: (me.start + 1) & (SHIFTED - 1),
            ..me
        };
        // In our namespaces: dead (the control; only judged from the
        // initial time namespace).
        assert_eq!(is_dead(pack(&reused)), !me.shifted);
        let other_pid_ns = Owner {
            ns: me.ns ^ 1,
            ..reused
        };
        assert!(!is_dead(pack(&other_pid_ns)));
        let other_time_ns = Owner {
            shifted: !me.shifted,
            ..reused
        };
        assert!(!is_dead(pack(&other_time_ns)));
        // The comparison itself, both ways and between shifted processes.
        let shifted = Owner {
            shifted: true,
            ..me
        };
        assert!(!comparable(&shifted, &me) && !comparable(&me, &shifted));
        assert!(!comparable(&shifted, &shifted));
        assert!(comparable(&me, &reused) || me.shifted);
    }

    #[test]
    fn a_reaped_child_is_dead_a_live_one_is_not() {
        let me = me();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = u64::from(child.id());
        let stat = read_stat(&alloc::format!("{pid}")).unwrap();
        let word = pack(&Owner {
            pid,
            ns: me.ns,
            shifted: me.shifted,
            start: stat.start,
        });
        assert!(!is_dead(word), "a running child judged dead");
        child.kill().unwrap();
        // Killed but not yet reaped: a zombie whose only thread is gone.
        let t = std::time::Instant::now();
        while !read_stat(&alloc::format!("{pid}")).is_some_and(|s| s.zombie) {
            assert!(
                t.elapsed().as_secs() < 10,
                "the child never became a zombie"
            );
            std::thread::yield_now();
        }
        assert_eq!(is_dead(word), !me.shifted, "a zombie judged alive");
        child.wait().unwrap();
        assert_eq!(is_dead(word), !me.shifted, "a reaped child judged alive");
    }
}
