//! Who holds a ring claim, so that a writer finding every slot held can tell
//! claims of dead processes (reclaimable) from those of live ones (`ring.rs`,
//! I6).
//!
//! An owner is a `u64`: 0 means "unknown, never reclaimable" (every claim
//! without `shm` on Linux, under loom and Miri, and in a process that has not
//! opened a shared file since it started or forked). Otherwise it packs the
//! process's pid (22 bits: Linux's `PID_MAX_LIMIT`), the low 22 bits of its pid
//! namespace's inode, and the low 20 bits of its start time in clock ticks
//! (`/proc/<pid>/stat` field 22).
//!
//! The check errs only towards "alive": a claim is reclaimed only when its
//! owner is provably gone (no such pid, a pid now held by a process with
//! another start time, or a zombie with no live thread), seen from the same
//! pid namespace. A claim of an owner in another namespace, or of a process
//! whose `/proc` entry we may not read and that `kill(pid, 0)` still finds,
//! is kept. Wrongly reclaiming a live writer's claim would let two writers
//! fill one slot; keeping a dead one only leaves a slot held, as before.

/// The owner to record in this process's claims (0 until [`register`]).
#[inline]
pub(crate) fn current() -> u64 {
    imp::current()
}

/// Computes this process's owner once, for the claims it makes from now on.
/// Called where shared files are opened or created (it reads `/proc`).
#[cfg_attr(not(all(feature = "shm", not(noclobber_loom))), allow(dead_code))]
pub(crate) fn register() {
    imp::register();
}

/// Whether the process that made claims as `owner` is gone for good, as
/// seen from this process. Slow (it reads `/proc`): only for a writer that
/// found every slot held. `false` at once, without I/O, for an unknown owner
/// (0) and for this process's own.
pub(crate) fn is_dead(owner: u64) -> bool {
    imp::is_dead(owner)
}

#[cfg(all(feature = "shm", target_os = "linux", not(any(noclobber_loom, miri))))]
mod imp {
    use core::sync::atomic::{AtomicU64, Ordering};
    use std::os::unix::fs::MetadataExt;
    use std::sync::OnceLock;

    const PID_BITS: u32 = 22;
    const NS_BITS: u32 = 22;
    const START_BITS: u32 = 20;
    const _: () = assert!(PID_BITS + NS_BITS + START_BITS == 64);

    /// This process's owner word; 0 until registered, and again in a child
    /// after `fork` (whose pid differs from the one recorded).
    static OWNER: AtomicU64 = AtomicU64::new(0);

    struct Owner {
        pid: u64,
        ns: u64,
        start: u64,
    }

    fn pack(o: &Owner) -> u64 {
        (o.pid << (NS_BITS + START_BITS)) | (o.ns << START_BITS) | o.start
    }

    fn unpack(word: u64) -> Owner {
        Owner {
            pid: word >> (NS_BITS + START_BITS),
            ns: (word >> START_BITS) & ((1 << NS_BITS) - 1),
            start: word & ((1 << START_BITS) - 1),
        }
    }

    #[inline]
    pub(super) fn current() -> u64 {
        // Relaxed: a value of this process's own, set before the claims that
        // carry it (program order); other processes read it from the claim.
        OWNER.load(Ordering::Relaxed)
    }

    /// The child's half of `fork`: it must not make claims in its parent's
    /// name (the parent's death would make them look dead). Only an atomic
    /// store, so async-signal-safe as `pthread_atfork` requires.
    extern "C" fn forget_in_child() {
        OWNER.store(0, Ordering::Relaxed);
    }

    pub(super) fn register() {
        static FORK_SAFE: OnceLock<bool> = OnceLock::new();
        // SAFETY: registers a handler that only stores to an atomic; no other
        // precondition. If it fails (ENOMEM), this process never records an
        // owner: a child could otherwise claim in its parent's name.
        let fork_safe = *FORK_SAFE.get_or_init(|| unsafe {
            libc::pthread_atfork(None, None, Some(forget_in_child)) == 0
        });
        if !fork_safe || current() != 0 {
            return;
        }
        let pid = u64::from(std::process::id());
        // Our start time as other processes read it (`is_dead` reads
        // `/proc/<pid>/stat`): through the main thread's task entry, whose
        // start time is the process's. Not `/proc/self/stat`, which qemu-user
        // answers itself with a start time of its own (seen a tick off), so
        // that other processes would take this live one for a newer holder
        // of its pid.
        let (Some(ns), Some(stat)) = (
            own_namespace(),
            read_stat(&alloc::format!("self/task/{pid}")),
        ) else {
            return;
        };
        if pid == 0 || pid >> PID_BITS != 0 {
            return;
        }
        let owner = pack(&Owner {
            pid,
            ns,
            start: stat.start,
        });
        // Relaxed: as in `current`.
        OWNER.store(owner, Ordering::Relaxed);
    }

    fn own_namespace() -> Option<u64> {
        let ino = std::fs::metadata("/proc/self/ns/pid").ok()?.ino();
        Some(ino & ((1 << NS_BITS) - 1))
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
            start: start & ((1 << START_BITS) - 1),
        })
    }

    pub(super) fn is_dead(word: u64) -> bool {
        let me = current();
        if word == 0 || me == 0 || word == me {
            return false;
        }
        let (owner, me) = (unpack(word), unpack(me));
        if owner.ns != me.ns {
            // Its pid means another process, or none, in our namespace.
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
                Some(pid) => {
                    rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
                }
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

        #[test]
        fn own_process_is_alive_and_recorded() {
            register();
            let me = current();
            assert_ne!(me, 0);
            assert_eq!(unpack(me).pid, u64::from(std::process::id()));
            assert!(!is_dead(me));
            // Another start time under our pid: a process that reused it.
            let other = me ^ 1;
            assert!(is_dead(other));
            // Another namespace: never judged.
            assert!(!is_dead(me ^ (1 << START_BITS) ^ 1));
            // Unknown owners are never dead.
            assert!(!is_dead(0));
        }

        #[test]
        fn a_reaped_child_is_dead_a_live_one_is_not() {
            register();
            let mut child = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap();
            let pid = u64::from(child.id());
            let stat = read_stat(&alloc::format!("{pid}")).unwrap();
            let ns = unpack(current()).ns;
            let word = pack(&Owner {
                pid,
                ns,
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
            assert!(is_dead(word), "a zombie judged alive");
            child.wait().unwrap();
            assert!(is_dead(word), "a reaped child judged alive");
        }
    }
}

#[cfg(not(all(feature = "shm", target_os = "linux", not(any(noclobber_loom, miri)))))]
mod imp {
    #[inline(always)]
    pub(super) fn current() -> u64 {
        0
    }

    pub(super) fn register() {}

    pub(super) fn is_dead(_owner: u64) -> bool {
        false
    }
}
