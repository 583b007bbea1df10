//! This process's table of the `Notify`s that live in mappings shared with
//! other processes, keyed by address (Windows, Apple): waiting on such a
//! `Notify` takes another path than waiting in process. Registered when a
//! handle maps a file, removed before it unmaps it, so no two live entries
//! share an address, and an entry found for a `Notify` that the caller
//! borrows belongs to that `Notify`'s mapping, which lives at least as long
//! as the borrow. Only slow paths look entries up (a waiter about to sleep,
//! a writer that found waiters), and with no entry at all a lookup is one
//! load.

use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub(super) struct Registry<E> {
    entries: Mutex<alloc::vec::Vec<(usize, E)>>,
    /// `entries.len()`, so that a process without shared files skips the lock.
    len: AtomicUsize,
}

impl<E: Copy> Registry<E> {
    pub(super) const fn new() -> Self {
        Registry {
            entries: Mutex::new(alloc::vec::Vec::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, alloc::vec::Vec<(usize, E)>> {
        // A panic while the lock was held cannot leave the vector half
        // updated (pushes and removals are single steps).
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn insert(&self, addr: usize, entry: E) {
        let mut entries = self.lock();
        entries.push((addr, entry));
        // Relaxed: only a hint; the entries themselves are read under the lock.
        self.len.store(entries.len(), Ordering::Relaxed);
    }

    pub(super) fn remove(&self, addr: usize) -> Option<E> {
        let mut entries = self.lock();
        let i = entries.iter().position(|&(a, _)| a == addr)?;
        let (_, entry) = entries.swap_remove(i);
        // Relaxed: as in `insert`.
        self.len.store(entries.len(), Ordering::Relaxed);
        Some(entry)
    }

    pub(super) fn get(&self, addr: usize) -> Option<E> {
        // Relaxed: an entry for `addr` was inserted by this process before
        // the handle through which the caller reaches `addr` was returned
        // (program order, or the synchronisation that handed the handle to
        // this thread), so a 0 here means there is none for it.
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.lock()
            .iter()
            .find(|&&(a, _)| a == addr)
            .map(|&(_, entry)| entry)
    }
}

#[cfg(test)]
mod tests {
    use super::Registry;

    #[test]
    fn entries_by_address() {
        let r = Registry::<u8>::new();
        assert_eq!(r.get(8), None);
        r.insert(8, 1);
        r.insert(16, 2);
        assert_eq!((r.get(8), r.get(16), r.get(24)), (Some(1), Some(2), None));
        assert_eq!(r.remove(8), Some(1));
        assert_eq!((r.get(8), r.get(16)), (None, Some(2)));
        assert_eq!(r.remove(8), None);
    }
}
