//! Windows: `WaitOnAddress` on `epoch` in process; a pair of named
//! semaphores per shared file across processes (`WaitOnAddress` wakes only
//! threads of the calling process).
//!
//! # Shared files
//!
//! Every handle that maps a file writable opens the file's two semaphores
//! (`Global\noclobber-<volume>-<file index>-<0|1>`: named after the file,
//! not its path) and registers its `Notify` ([`SharedWaiting`]). The
//! sleepers of a file count themselves in a word of the file's header
//! (`shm/header.rs`): 16 bits of count, 15 bits of generation, and the
//! `UNWAKEABLE` bit.
//!
//! * **Waiter.** It adds itself to the count (an RMW that also reads the
//!   generation `g`), runs a `SeqCst` fence, and sleeps on semaphore
//!   `g % 2` only if `epoch` still holds the value it checked, for at most
//!   [`SHARED_SLICE`] (and its deadline). If it returns without having been
//!   counted out (the generation is still `g`: it timed out, found `epoch`
//!   changed, or took a unit released for an older generation), it takes
//!   itself out of the count again.
//! * **Writer** (`wake_all`, after the `epoch` bump of N1, N6 or N7): a
//!   `SeqCst` fence, then, if the count is not 0, one CAS that empties it and
//!   advances the generation, and `ReleaseSemaphore` of that many units on
//!   semaphore `g % 2`. With nobody asleep: one load.
//! * **No lost wake-up.** The two fences make the waiter's count and `epoch`
//!   check and the writer's `epoch` bump and count load a store-load (Dekker)
//!   pair: either the writer counts the waiter out and releases a unit for
//!   it, which the semaphore keeps until the waiter takes it (a release
//!   before the waiter's wait is not lost), or the waiter sees the new
//!   `epoch` and does not sleep. A waiter that arrives after a release counts
//!   itself in the next generation and sleeps on the other semaphore, so it
//!   cannot take a unit meant for a sleeper that has not reached its wait
//!   yet; only a sleeper delayed between its check and its wait across two
//!   wake-ups can lose its unit so, and then sleeps to the end of its slice.
//! * **Strays.** A unit released for a waiter that timed out at that moment,
//!   or died between its count and its wait, stays in the semaphore: the next
//!   sleeper of that generation parity takes it, finds its own generation
//!   unchanged, takes itself out and checks again (one spurious wake-up per
//!   stray; strays do not multiply).
//! * **Degraded.** A process that cannot create or open the semaphores (the
//!   names taken by objects of another type, a security descriptor that
//!   shuts it out) sets `UNWAKEABLE` for the file's life, and from then on
//!   waiters of every process sleep in slices of `FALLBACK_SLICE`; one
//!   already asleep notices within its `SHARED_SLICE`. Never an error.
//!
//! Costs: a wake-up is a `ReleaseSemaphore` system call in the writer and a
//! return from `WaitForSingleObject` in each waiter; an idle waiter wakes
//! every `SHARED_SLICE` (20 times a second) to check again. Windows rounds
//! sleeps to its timer tick (15.6 ms unless a process raised the timer
//! resolution), so a `FALLBACK_SLICE` of 1 ms sleeps up to that long; a
//! semaphore wait ends as soon as a unit is released.

use core::ffi::c_void;
use std::time::Duration;

use windows_sys::Win32::System::Threading::{WaitOnAddress, WakeByAddressAll, INFINITE};

use crate::notify::Notify;

/// How long a waiter on a shared file sleeps on its semaphore at most
/// before it checks again: the bound on what only a sleeper stopped or
/// preempted at the wrong moment, or a process that could not open the
/// semaphores, can cost.
#[cfg(feature = "shm")]
const SHARED_SLICE: Duration = Duration::from_millis(50);

/// `timeout` in whole milliseconds, rounded up (a wait never ends early and
/// never spins on a sub-millisecond rest), below `INFINITE`.
fn millis(timeout: Duration) -> u32 {
    let ms = timeout.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).unwrap_or(INFINITE - 1).min(INFINITE - 1)
}

pub(in crate::notify) fn wake_all(n: &Notify) {
    #[cfg(feature = "shm")]
    if let Some(shared) = shared::REGISTRY.get(shared::key(n)) {
        return shared.wake();
    }
    // SAFETY: the address is that of a live `AtomicU32`; `WakeByAddressAll`
    // only uses it as a key.
    unsafe { WakeByAddressAll(n.epoch.as_ptr().cast::<c_void>()) };
}

pub(in crate::notify) fn wait(n: &Notify, epoch: u32, timeout: Option<Duration>) {
    #[cfg(feature = "shm")]
    if let Some(shared) = shared::REGISTRY.get(shared::key(n)) {
        return shared.wait(n, epoch, timeout);
    }
    let expected = epoch;
    // SAFETY: both addresses name live, aligned 4-byte values for the
    // duration of the call; `WaitOnAddress` compares them atomically with
    // respect to `WakeByAddressAll` (as the futex does) and only reads.
    // Returns on a wake, a changed word, the timeout or spuriously: the
    // caller re-checks in every case.
    unsafe {
        WaitOnAddress(
            n.epoch.as_ptr().cast::<c_void>(),
            (&expected as *const u32).cast::<c_void>(),
            4,
            timeout.map_or(INFINITE, millis),
        )
    };
}

#[cfg(feature = "shm")]
pub(crate) use shared::SharedWaiting;

#[cfg(feature = "shm")]
mod shared {
    use super::*;
    use crate::notify::FALLBACK_SLICE;
    use crate::sync::AtomicU32;
    use core::sync::atomic::{fence, Ordering};
    use windows_sys::Win32::Foundation::{
        CloseHandle, GetLastError, ERROR_ACCESS_DENIED, HANDLE, WAIT_OBJECT_0,
    };
    use windows_sys::Win32::System::Threading::{
        CreateSemaphoreW, OpenSemaphoreW, ReleaseSemaphore, WaitForSingleObject,
        SEMAPHORE_MODIFY_STATE, SYNCHRONIZATION_SYNCHRONIZE,
    };

    /// Bit of the sleeper word: some process could not open the semaphores,
    /// so waiters sleep in slices (for the file's life).
    pub(super) const UNWAKEABLE: u32 = 1 << 31;
    /// Bits of the sleeper word that hold the generation.
    pub(super) const GENERATION: u32 = 0x7fff << 16;
    /// One generation.
    const NEXT: u32 = 1 << 16;
    /// Bits of the sleeper word that count the sleepers of the generation.
    pub(super) const COUNT: u32 = 0xffff;

    pub(super) static REGISTRY: super::super::registry::Registry<Shared> =
        super::super::registry::Registry::new();

    pub(super) fn key(n: &Notify) -> usize {
        (n as *const Notify).addr()
    }

    /// What a handle registered for its mapping's `Notify`.
    #[derive(Clone, Copy)]
    pub(super) struct Shared {
        /// The sleeper word in the same mapping.
        word: *const AtomicU32,
        /// The two semaphores, or `None` if this process could not open
        /// them.
        semaphores: Option<[HANDLE; 2]>,
    }

    // SAFETY: `word` points into a mapping that lives as long as the
    // registration (see `SharedWaiting::register`), and is only accessed
    // atomically; semaphore handles may be used from any thread.
    unsafe impl Send for Shared {}

    impl Shared {
        fn word(&self) -> &AtomicU32 {
            // SAFETY: the registration that holds this entry lives as long
            // as the mapping the word is in (`SharedWaiting::register`'s
            // contract), and our caller borrows a `Notify` of that mapping
            // (the registry's rule), so the mapping is alive for this borrow.
            unsafe { &*self.word }
        }

        /// The writer's side: releases one unit for every sleeper counted
        /// in the current generation, and starts the next.
        pub(super) fn wake(&self) {
            let Some(semaphores) = self.semaphores else {
                // Waiters see `UNWAKEABLE` (set when this process
                // registered) and sleep in slices.
                return;
            };
            // SeqCst: the writer's half of the store-load pair with the
            // waiter's fence in `wait` (the `epoch` bump was just before).
            fence(Ordering::SeqCst);
            // AcqRel: the CAS that counts sleepers out; Relaxed first load
            // (ordered by the fence above).
            let taken = self
                .word()
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                    (w & COUNT != 0)
                        .then_some((w & UNWAKEABLE) | ((w & GENERATION) + NEXT) & GENERATION)
                });
            if let Ok(before) = taken {
                let sleepers = (before & COUNT) as i32;
                // SAFETY: a semaphore handle this registration owns, open
                // until it is dropped; the count pointer may be null. An
                // error (`ERROR_TOO_MANY_POSTS` past `i32::MAX` units) leaves
                // the sleepers to their slices.
                unsafe {
                    ReleaseSemaphore(semaphores[parity(before)], sleepers, core::ptr::null_mut())
                };
            }
        }

        /// The waiter's side (see the module docs).
        pub(super) fn wait(&self, n: &Notify, epoch: u32, timeout: Option<Duration>) {
            let word = self.word();
            let counted = match self.semaphores {
                // AcqRel: the RMW that counts us in, and reads the generation
                // (and `UNWAKEABLE`). Saturated or unwakeable: not counted.
                Some(_) => word.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                    (w & UNWAKEABLE == 0 && w & COUNT != COUNT).then_some(w + 1)
                }),
                None => Err(0),
            };
            let (Ok(before), Some(semaphores)) = (counted, self.semaphores) else {
                let slice = FALLBACK_SLICE;
                std::thread::sleep(timeout.map_or(slice, |t| t.min(slice)));
                return;
            };
            let generation = before & GENERATION;
            // SeqCst: the waiter's half of the store-load pair (module docs).
            fence(Ordering::SeqCst);
            // Relaxed: ordered after our count by the fence.
            if n.epoch.load(Ordering::Relaxed) != epoch {
                return withdraw(word, generation);
            }
            let slice = timeout.map_or(SHARED_SLICE, |t| t.min(SHARED_SLICE));
            // SAFETY: a semaphore handle this registration owns.
            let woken = unsafe { WaitForSingleObject(semaphores[parity(before)], millis(slice)) };
            // Relaxed: a unit of our generation is only released after the
            // CAS that advanced it; an older value here only makes us
            // withdraw, which then finds the generation moved and does
            // nothing.
            if woken != WAIT_OBJECT_0 || word.load(Ordering::Relaxed) & GENERATION == generation {
                // Timed out, failed, or took a stray unit: withdraw if no
                // writer counted us out meanwhile.
                withdraw(word, generation);
            }
        }
    }

    /// Takes one sleeper out of `generation`'s count, if that is still the
    /// current generation (then our own count is in it).
    fn withdraw(word: &AtomicU32, generation: u32) {
        // Relaxed: only the count; a writer that counts us out anyway
        // releases one stray unit.
        let _ = word.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
            (w & GENERATION == generation && w & COUNT != 0).then_some(w - 1)
        });
    }

    /// Which semaphore the sleepers of a word's generation sleep on.
    fn parity(word: u32) -> usize {
        ((word & GENERATION) / NEXT % 2) as usize
    }

    /// `Global\noclobber-<volume>-<file index>-<k>`, NUL-terminated: one
    /// name per file for every process of every session (`Local\` would give
    /// a service and a desktop application two different objects).
    pub(super) fn semaphore_name(file: (u64, u64), k: usize) -> alloc::vec::Vec<u16> {
        let name = alloc::format!("Global\\noclobber-{:08x}-{:016x}-{k}", file.0, file.1);
        name.encode_utf16().chain([0]).collect()
    }

    /// Creates or opens the file's semaphore `k`; `None` if neither works.
    fn open_semaphore(file: (u64, u64), k: usize) -> Option<HANDLE> {
        let name = semaphore_name(file, k);
        // SAFETY: `name` is a NUL-terminated UTF-16 string that lives across
        // the call; null security attributes (the default descriptor).
        let h = unsafe { CreateSemaphoreW(core::ptr::null(), 0, i32::MAX, name.as_ptr()) };
        if !h.is_null() {
            return Some(h);
        }
        // SAFETY: no preconditions.
        if unsafe { GetLastError() } != ERROR_ACCESS_DENIED {
            return None;
        }
        // It exists, and its descriptor refuses all access: ask for what
        // waiting and waking need.
        let rights = SYNCHRONIZATION_SYNCHRONIZE | SEMAPHORE_MODIFY_STATE;
        // SAFETY: as above.
        let h = unsafe { OpenSemaphoreW(rights, 0, name.as_ptr()) };
        (!h.is_null()).then_some(h)
    }

    /// A `Notify` in a mapping shared with other processes, registered for
    /// as long as this lives: waiters on it sleep on the file's semaphores.
    pub(crate) struct SharedWaiting {
        key: usize,
    }

    impl SharedWaiting {
        /// Registers `notify`, which lives in a writable mapping of the file
        /// `file` (its identity: volume serial number and file index),
        /// with `word`, the file's sleeper word in the same mapping.
        ///
        /// # Safety
        ///
        /// `notify` and `word` stay mapped until the returned value is
        /// dropped, and no other registration for `notify`'s address lives
        /// meanwhile (one per mapping).
        pub(crate) unsafe fn register(notify: &Notify, word: &AtomicU32, file: (u64, u64)) -> Self {
            let semaphores = match (open_semaphore(file, 0), open_semaphore(file, 1)) {
                (Some(a), Some(b)) => Some([a, b]),
                (a, b) => {
                    for h in [a, b].into_iter().flatten() {
                        // SAFETY: a handle we opened and nobody else has.
                        unsafe { CloseHandle(h) };
                    }
                    // Relaxed: waiters read it in the RMW that would count
                    // them; one asleep already notices within its slice.
                    word.fetch_or(UNWAKEABLE, Ordering::Relaxed);
                    None
                }
            };
            let key = key(notify);
            let word = word as *const AtomicU32;
            REGISTRY.insert(key, Shared { word, semaphores });
            SharedWaiting { key }
        }
    }

    impl Drop for SharedWaiting {
        fn drop(&mut self) {
            let Some(Shared {
                semaphores: Some(handles),
                ..
            }) = REGISTRY.remove(self.key)
            else {
                return;
            };
            for h in handles {
                // SAFETY: handles this registration opened; nobody uses them
                // after the entry is gone (callers borrow the mapping, which
                // is being dropped).
                unsafe { CloseHandle(h) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_up_below_infinite() {
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::from_nanos(1)), 1);
        assert_eq!(millis(Duration::from_micros(1500)), 2);
        assert_eq!(millis(Duration::from_millis(7)), 7);
        assert_eq!(millis(Duration::MAX), INFINITE - 1);
    }

    #[cfg(feature = "shm")]
    #[test]
    fn semaphore_names_and_generations() {
        use shared::*;
        let name = String::from_utf16(&semaphore_name((0xab, 0x1234), 1)).unwrap();
        assert_eq!(name, "Global\\noclobber-000000ab-0000000000001234-1\0");
        assert_eq!(UNWAKEABLE & (GENERATION | COUNT), 0);
        assert_eq!(GENERATION & COUNT, 0);
    }
}
