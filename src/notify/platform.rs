//! What waiting needs from the operating system: the shared futex on the
//! `epoch` word, and Linux's asymmetric barrier (`membarrier`). Loom gets a
//! model of the futex. Windows (`platform/windows.rs`: `WaitOnAddress` in
//! process, two named semaphores per shared file) and macOS
//! (`platform/apple.rs`: `os_sync_wait_on_address` from 14.4 on) have
//! modules of their own; elsewhere waiters sleep in slices.
//!
//! Waiting on a `Notify` in a shared file differs from waiting in process
//! on Windows and macOS, so there every handle that maps a file registers
//! its `Notify` ([`SharedWaiting`]); only the slow paths (a waiter that
//! sleeps, a writer that found one) look the registration up.

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

    /// Nothing to register: the shared futex wakes every process.
    #[cfg(feature = "shm")]
    pub(crate) struct SharedWaiting;

    #[cfg(feature = "shm")]
    impl SharedWaiting {
        /// See the Windows version.
        ///
        /// # Safety
        ///
        /// None here; the contract of the other platforms' versions.
        pub(crate) unsafe fn register(
            _notify: &Notify,
            _word: &crate::sync::AtomicU32,
            _file: (u64, u64),
        ) -> Self {
            SharedWaiting
        }
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

/// Windows: `WaitOnAddress` in process, named semaphores per shared file.
#[cfg(all(windows, feature = "std", not(any(noclobber_loom, miri))))]
#[path = "platform/windows.rs"]
pub(super) mod futex;

/// macOS (and the other Apple systems): `os_sync_wait_on_address` where the
/// system has it (macOS 14.4 and later), else bounded sleeping.
#[cfg(all(
    target_vendor = "apple",
    feature = "std",
    not(any(noclobber_loom, miri))
))]
#[path = "platform/apple.rs"]
pub(super) mod futex;

/// The address-keyed table of registered shared `Notify`s (Windows, Apple).
#[cfg(all(
    feature = "shm",
    any(windows, target_vendor = "apple"),
    not(any(noclobber_loom, miri))
))]
#[path = "platform/registry.rs"]
mod registry;

/// A `Notify` in a mapping shared with other processes, registered for as
/// long as this lives (Windows, Apple); nothing to register elsewhere.
#[cfg(all(feature = "shm", not(noclobber_loom)))]
pub(crate) use futex::SharedWaiting;

/// Miri and platforms without a shared futex: bounded sleeping.
#[cfg(not(any(
    noclobber_loom,
    all(
        any(target_os = "linux", windows, target_vendor = "apple"),
        feature = "std",
        not(miri)
    )
)))]
pub(super) mod futex {
    use crate::notify::Notify;

    pub(in crate::notify) fn wake_all(_: &Notify) {}

    /// Nothing to register: waiters sleep in slices.
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) struct SharedWaiting;

    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    impl SharedWaiting {
        /// See the Windows version.
        ///
        /// # Safety
        ///
        /// None here; the contract of the other platforms' versions.
        pub(crate) unsafe fn register(
            _notify: &Notify,
            _word: &crate::sync::AtomicU32,
            _file: (u64, u64),
        ) -> Self {
            SharedWaiting
        }
    }

    #[cfg(feature = "std")]
    pub(in crate::notify) fn wait(_: &Notify, _epoch: u32, timeout: Option<std::time::Duration>) {
        let slice = crate::notify::FALLBACK_SLICE;
        std::thread::sleep(timeout.map_or(slice, |t| t.min(slice)));
    }
}
