//! What waiting needs from the operating system: the shared futex on the
//! `epoch` word, and Linux's asymmetric barrier (`membarrier`). Loom gets a
//! model of the futex; elsewhere waiters sleep in slices.

/// `membarrier` on Linux (N4, N5): the registration and the waiter's barrier.
///
/// Why a registration that races with a barrier is harmless: a shared file's
/// writer registers before its first write (N5). A barrier that started
/// before the registration returned may skip the writer's CPU, but the waiter
/// announced itself before its barrier started, and the writer's `waiters`
/// loads come after its registration returned, so they see the announcement
/// (N3's first case) whenever the barrier could have missed it.
#[cfg(all(target_os = "linux", feature = "std", not(any(noclobber_loom, miri))))]
pub(super) mod asymmetric {
    use core::sync::atomic::{AtomicU8, Ordering};
    use rustix::thread::{membarrier, MembarrierCommand};

    const UNKNOWN: u8 = 0;
    const REGISTERED: u8 = 1;
    const UNAVAILABLE: u8 = 2;

    /// A waiter's barrier covers every writer that N5 does not mark.
    pub(crate) const COVERS_WRITERS: bool = true;

    /// This process's registration for expedited global barriers.
    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Registers the process once; whether it is registered. (Relaxed: a
    /// flag set once; the registration it reports is ordered by the system
    /// call itself, which the caller made or saw made before.)
    pub(in crate::notify) fn register() -> bool {
        match STATE.load(Ordering::Relaxed) {
            UNKNOWN => {
                let ok = membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok();
                STATE.store(if ok { REGISTERED } else { UNAVAILABLE }, Ordering::Relaxed);
                ok
            }
            state => state == REGISTERED,
        }
    }

    pub(in crate::notify) fn heavy_barrier() -> bool {
        membarrier(MembarrierCommand::GlobalExpedited).is_ok()
    }
}

/// Elsewhere writers use the `SeqCst` fence, and waiters (which have no shared
/// futex off Linux) sleep in slices.
#[cfg(not(all(target_os = "linux", feature = "std", not(any(noclobber_loom, miri)))))]
pub(super) mod asymmetric {
    /// Writers after a store always take the `SeqCst` fence here.
    pub(crate) const COVERS_WRITERS: bool = false;

    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(in crate::notify) fn register() -> bool {
        false
    }

    #[cfg(feature = "std")]
    pub(in crate::notify) fn heavy_barrier() -> bool {
        true
    }
}

/// Linux: a shared futex on `epoch`, so that waiters in other processes
/// mapping the same file are woken too.
#[cfg(all(target_os = "linux", feature = "std", not(any(noclobber_loom, miri))))]
pub(super) mod futex {
    use crate::notify::Notify;
    use rustix::thread::futex;

    pub(in crate::notify) fn wake_all(n: &Notify) {
        // `Flags::empty()`: shared, not `PRIVATE`. An error (none is
        // documented for a valid address) leaves waiters to their timeouts.
        let _ = futex::wake(&n.epoch, futex::Flags::empty(), i32::MAX as u32);
    }

    pub(in crate::notify) fn wait(n: &Notify, epoch: u32, timeout: Option<std::time::Duration>) {
        let timeout = timeout.map(|t| futex::Timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: t.subsec_nanos().into(),
        });
        // Returns on a wake, a changed word, the timeout or a signal: the
        // caller re-checks in every case.
        let _ = futex::wait(&n.epoch, futex::Flags::empty(), epoch, timeout.as_ref());
    }
}

/// loom: the futex's compare-and-sleep, under the queue's lock as in the
/// kernel. Timeouts are not modelled: a lost wake-up is then a deadlock, which
/// loom reports.
#[cfg(noclobber_loom)]
pub(super) mod futex {
    use crate::notify::Notify;
    use crate::sync::Ordering;

    pub(in crate::notify) fn wake_all(n: &Notify) {
        let _queue = n.queue.0.lock().unwrap();
        n.queue.1.notify_all();
    }

    pub(in crate::notify) fn wait(n: &Notify, epoch: u32, _timeout: Option<std::time::Duration>) {
        let queue = n.queue.0.lock().unwrap();
        // Relaxed: the queue's lock orders it against `wake_all`.
        if n.epoch.load(Ordering::Relaxed) == epoch {
            drop(n.queue.1.wait(queue).unwrap());
        }
    }
}

/// Miri and platforms without a shared futex: bounded sleeping.
#[cfg(not(any(noclobber_loom, all(target_os = "linux", feature = "std", not(miri)))))]
pub(super) mod futex {
    use crate::notify::Notify;

    pub(in crate::notify) fn wake_all(_: &Notify) {}

    #[cfg(feature = "std")]
    pub(in crate::notify) fn wait(_: &Notify, _epoch: u32, timeout: Option<std::time::Duration>) {
        let slice = crate::notify::FALLBACK_SLICE;
        std::thread::sleep(timeout.map_or(slice, |t| t.min(slice)));
    }
}
