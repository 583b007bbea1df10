//! Who made a claim (I6, I8): the owner table beside the ticket counter,
//! and the slow paths that give back claims of dead processes.

use bytemuck::NoUninit;

use super::{split_claim, Ring, OWNERS};
use crate::sync::Ordering;

#[cfg(all(feature = "shm", not(noclobber_loom)))]
use crate::shm::owner;

/// Without shared files there is one process: claims carry no identity.
#[cfg(not(all(feature = "shm", not(noclobber_loom))))]
mod owner {
    pub(super) const UNKNOWN: u64 = 0;

    #[inline(always)]
    pub(super) fn current() -> u64 {
        UNKNOWN
    }

    pub(super) fn is_dead(_owner: u64) -> bool {
        false
    }
}

impl<T: NoUninit, const N: usize> Ring<'_, T, N> {
    /// The owner index this process claims with (I6, I8): 0 where owners are
    /// unknown (`owner::current` is `UNKNOWN`: no shared file in this
    /// process, loom, Miri, off Linux), `None` if every entry is held by
    /// another live process (or one we cannot judge). One load of the
    /// writers' own line once registered.
    #[inline]
    pub(super) fn owner_index(&self) -> Option<u64> {
        let me = owner::current();
        if me == owner::UNKNOWN {
            return Some(0);
        }
        let first = (me % OWNERS as u64) as usize;
        // Relaxed: an entry holds `me` only by this process's own store
        // (owner words are unique among live processes, I6).
        if self.tickets.owners[first].load(Ordering::Relaxed) == me {
            return Some(first as u64 + 1);
        }
        self.register_owner(me, first)
    }

    /// Finds or takes an owner table entry for `me`, probing from `first`:
    /// one that already holds `me`, a free one, or a dead process's (after
    /// giving its claims back). `None` if all belong to live processes (or
    /// to ones we cannot judge): then we must not claim (I8). Threads of one
    /// process racing here may take two entries for it; both name it, so
    /// that only costs an entry.
    #[cold]
    #[inline(never)]
    fn register_owner(&self, me: u64, first: usize) -> Option<u64> {
        for k in 0..OWNERS {
            let i = (first + k) % OWNERS;
            let entry = &self.tickets.owners[i];
            // Relaxed: the CAS below only succeeds on the value checked.
            let mut found = entry.load(Ordering::Relaxed);
            loop {
                if found == me {
                    return Some(i as u64 + 1);
                }
                if found != 0 {
                    if !owner::is_dead(found) {
                        break;
                    }
                    self.adopt_entry(i, found);
                }
                // Success Acquire (I8): pairs with the Release that freed the
                // entry (`release_owner`), so what its holder published
                // happens before our claims. What a reader of a claim must
                // see of the entry, the Release half of our claim CAS in
                // `stage` (sequenced after this) orders (I6). Claims
                // `adopt_entry` gave back need no order: a stale copy of one
                // only fails its CAS. Failure Relaxed: the value found is
                // judged again.
                match entry.compare_exchange(found, me, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return Some(i as u64 + 1),
                    Err(actual) => found = actual,
                }
            }
        }
        None
    }

    /// The owner table's entries.
    #[cfg(all(
        test,
        feature = "shm",
        any(target_os = "linux", target_vendor = "apple", windows),
        not(any(noclobber_loom, miri))
    ))]
    pub(crate) fn owner_entries(&self) -> alloc::vec::Vec<u64> {
        let load = |e: &crate::sync::AtomicU64| e.load(Ordering::Relaxed);
        self.tickets.owners.iter().map(load).collect()
    }

    /// Gives back this process's owner entries (I8). The caller guarantees
    /// that no claim of this process is newer than the head: its last handle
    /// on the file is being dropped, so no publication of its is in flight.
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) fn release_owner(&self) {
        let me = owner::registered();
        if me == owner::UNKNOWN {
            return;
        }
        for entry in &self.tickets.owners {
            // Release (I8): our publications happen before the claims of
            // whoever takes the entry next (Acquire CAS in `register_owner`).
            // Failure Relaxed: another process's entry, left alone.
            let _ = entry.compare_exchange(me, 0, Ordering::Release, Ordering::Relaxed);
        }
    }

    /// Gives back the claims newer than the head that name entry `i`, whose
    /// owner `dead` is known dead (I6), before the entry is taken over: after
    /// that, the entry no longer says their maker is dead. Stops if another
    /// process takes the entry over meanwhile (its claims then name it).
    #[cold]
    pub(super) fn adopt_entry(&self, i: usize, dead: u64) {
        for slot in self.slots {
            // Acquire: pairs with the AcqRel claim CAS in `stage`; a claim made
            // after a takeover of entry `i` makes the entry load below see
            // the new owner.
            let claim = slot.claim.load(Ordering::Acquire);
            let (ticket, owner) = split_claim(claim);
            if owner != i + 1 || ticket <= self.head().1 {
                continue;
            }
            // Relaxed: ordered after the claim load by its Acquire.
            if self.tickets.owners[i].load(Ordering::Relaxed) != dead {
                return;
            }
            // Success Release: as in `release` (I4). The head was loaded
            // after the death was known (I6).
            let _ = slot
                .claim
                .compare_exchange(claim, 0, Ordering::Release, Ordering::Relaxed);
        }
    }

    /// Gives back the claims of dead processes that hold slots from everyone
    /// (I6); whether it gave any back. Slow (it reads `/proc`), hence only
    /// called when every slot was found held.
    #[cold]
    #[inline(never)]
    pub(super) fn reclaim_dead(&self) -> bool {
        let mut freed = false;
        for slot in self.slots {
            // Acquire (I6): pairs with the AcqRel claim CAS in `stage`, so the
            // entry loaded below names the claimer or a later holder.
            let claim = slot.claim.load(Ordering::Acquire);
            let (ticket, owner) = split_claim(claim);
            // Claims the head has passed (free already, I1) or of unknown
            // owners are never taken.
            if owner == 0 || ticket <= self.head().1 {
                continue;
            }
            // Relaxed: ordered after the claim load by its Acquire.
            let holder = self.tickets.owners[owner - 1].load(Ordering::Relaxed);
            // I6: the head is loaded again after the death is known: only
            // then is "newer than the head" final. (`is_dead` says no
            // without I/O for 0 and for this process.)
            if !owner::is_dead(holder) || ticket <= self.head().1 {
                continue;
            }
            // Success Release: as in `release` (I4), for whoever claims next.
            freed |= slot
                .claim
                .compare_exchange(claim, 0, Ordering::Release, Ordering::Relaxed)
                .is_ok();
        }
        freed
    }
}
