//! The tagged slot ring behind [`Publisher`](crate::Publisher) and the
//! large-`T` path of [`VersionedCell`](crate::VersionedCell): any number of
//! writers, readers that never wait.
//!
//! # Invariants
//!
//! * `head = (version, ticket)`: the published value is the one the holder of
//!   `ticket` wrote into slot `ticket % SLOTS`; versions go up by exactly one per
//!   publication (the head only moves by CAS from the value a writer read).
//! * **I1 (claims).** A writer writes a slot only after claiming it with a CAS on
//!   its `claim`, and only if the claim it replaces is older than the head's
//!   ticket (that ticket can never be published: a commit needs a ticket newer
//!   than the head), so the slot the head names is never claimed.
//! * **I2 (tags).** Every payload word is stored together with the writer's
//!   ticket in one 128-bit atomic, and a tag only grows: a writer lapped in the
//!   middle of its copy finds a newer tag and stops (`Slot::fill`).
//! * **I3 (publication).** Words are stored `Relaxed`; the Release CAS on the
//!   head publishes them, and readers load the head with Acquire. A reader
//!   accepts a copy only if every word carries the head's ticket, so a copy is
//!   one writer's whole value.
//! * **I4 (hand-over).** A claim given back (`release`, Release) and taken again
//!   (`stage`, Acquire) orders the giver's tagged stores before the taker's. The
//!   giver may hold a *newer* ticket than the taker (a declined `publish_if`
//!   after a lost race); without the edge the model lets its stores land after
//!   the taker's, which would then publish over foreign tags. Loom and Miri do
//!   not explore such load-buffering outcomes (`scripts/weaken/notes.txt`).
//! * **I5 (diagnosis).** A writer loads the head with Acquire before it claims
//!   a slot (`stage`), and stores tagged words with Release. The only tags a
//!   writer can put into the slot named by head `(v, t)` other than `t` come
//!   from a writer that claimed the slot after it saw the head move past `t`
//!   (I1). So a reader whose copy failed on such a word, and that then (after
//!   an Acquire fence, which makes the claimer's head load happen before) finds
//!   the head still at `(v, t)`, knows no writer made that word: the object is
//!   corrupt (only possible in a shared file written by other means), and the
//!   bounded reads say so instead of retrying. On x86-64 these orderings cost
//!   nothing (a `lock cmpxchg` and a plain load either way), and the reader's
//!   fence is only on the failure path.
//!
//! * **I6 (dead claims).** A claim is one 64-bit word, `ticket << 5 | owner`
//!   (`claim_word`): `owner` is 0 (unknown: never reclaimable; only where
//!   identities are off, I8) or an index into the ring's table of 31 process
//!   owner words (`Tickets::owners`, `owner.rs`) beside the ticket counter. A writer claims with an index only
//!   once its own owner word is in that entry, and a live process's entry is
//!   never taken from it; a dead process's entry is taken over only after its
//!   claims newer than the head were given back (`adopt_entry`). So the
//!   entry read after a claim (Acquire load, paired with the AcqRel claim
//!   CAS) names the claimer or a process that took the entry over after the
//!   claimer died: if it names a dead process, the claimer is dead. A writer
//!   that finds every slot held scans for such claims newer than the head,
//!   checks the head again *after* learning of the death (a dead process
//!   publishes nothing more, so a ticket still newer than the head then can
//!   never be published) and gives the claim back with the CAS `release`
//!   uses. The next claimer's ticket may be older than the dead one; then
//!   `fill` finds the dead writer's newer tags and gives the slot back, and
//!   its next ticket is newer than every ticket handed out before (I2 holds:
//!   tags are only written by CAS, so a smaller tag never replaces a larger
//!   one). That the dead process's stores are visible once its death is
//!   observed is outside the language's model: the kernel's teardown of the
//!   process, which the check observes through `/proc` or `kill`, orders them,
//!   as it does for robust futexes. A live owner's claim is never taken: a
//!   writer stopped between `stage` and `commit` keeps its slot.
//! * **I7 (ticket space).** Tickets have 59 bits (the claim word's other 5
//!   name the owner). A writer that draws a ticket beyond `MAX_TICKET` stops
//!   before it claims anything (`Stuck::Exhausted`: the bounded writes return
//!   it, the others panic), and a shared file whose counter is beyond it is
//!   refused at open, so a ticket never wraps. Each ticket costs at least one
//!   contended `fetch_add`: at one draw per 5 ns the space lasts 90 years.
//! * **I8 (owner entries).** Once a process uses shared files, its claims
//!   carry an identity (`owner::current`, computed at its first claim, and
//!   again in a child after `fork`), and it claims only with an entry of the
//!   table that holds that identity: with every entry held by a live process
//!   it claims nothing and waits (the bounded writes give up with
//!   `Stuck::Busy`), so no claim in a shared file is ever unreclaimable. A
//!   process gives its entries back when it drops its last handle on the
//!   file (`release_owner`, Release), when no claim of its is newer than the
//!   head; the next taker's CAS is Acquire, so whatever that process
//!   published happens before the taker's claims, as for the claims of a
//!   dead process (I6).
//!
//! Per-site comments name the invariant they rely on.

use crossbeam_utils::CachePadded;

use bytemuck::NoUninit;

use crate::sync::{fence, AtomicU128, AtomicU64, Ordering, Spin};
use crate::words::{pack, unpack, word_count, Buf, Tagged};
use crate::ReadError;

/// Bits of a claim word that name its owner (I6).
const OWNER_BITS: u32 = 5;
/// Entries of a ring's owner table: indices 1 to 31 (0 is "unknown").
pub(crate) const OWNERS: usize = (1 << OWNER_BITS) - 1;
/// The largest ticket (I7).
pub(crate) const MAX_TICKET: u64 = u64::MAX >> OWNER_BITS;

/// Why a bounded `stage` or `try_publish` claimed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stuck {
    /// Every slot it tried was held, or no owner entry was free (I8).
    Busy,
    /// The ticket counter is past the last ticket (I7): 2^59 draws, or a
    /// shared file damaged after it was opened.
    Exhausted,
}

/// The claim word of `ticket` made by the owner in table entry `owner` (I6).
#[inline]
fn claim_word(ticket: u64, owner: u64) -> u64 {
    debug_assert!(ticket <= MAX_TICKET && owner <= OWNERS as u64);
    (ticket << OWNER_BITS) | owner
}

/// A claim word's `(ticket, owner)`.
#[inline]
fn split_claim(claim: u64) -> (u64, usize) {
    (claim >> OWNER_BITS, (claim & OWNERS as u64) as usize)
}

/// The writers' shared state beside the slots: the ticket counter and the
/// owner table (I6), one cache line pair that only writers touch.
#[repr(C)]
pub(crate) struct Tickets {
    /// The last ticket handed out.
    next: AtomicU64,
    /// Entry `i` (owner index `i + 1`): the owner word of a process that made
    /// claims with that index, or 0 if none holds it (I8).
    owners: [AtomicU64; OWNERS],
}

impl Tickets {
    /// The counter at `last`, the owner table empty.
    pub(crate) fn new(last: u64) -> Self {
        Tickets {
            next: AtomicU64::new(last),
            owners: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Stores what `Tickets::new(last)` holds, for an object created in place
    /// (as `Slot::init_in_place`).
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) fn init_in_place(&self, last: u64) {
        // Relaxed: published to other processes by the caller's Release store.
        self.next.store(last, Ordering::Relaxed);
        for entry in &self.owners {
            entry.store(0, Ordering::Relaxed);
        }
    }
}

/// One slot of the ring: who may write it (`claim`: ticket and owner, I6) and
/// the value, every word tagged with the ticket of the writer that stored it.
#[repr(C)]
pub(crate) struct Slot<T> {
    claim: AtomicU64,
    words: Tagged<T>,
}

impl<T: NoUninit> Slot<T> {
    pub(crate) fn new(ticket: u64, value: T) -> Self {
        Slot {
            claim: AtomicU64::new(claim_word(ticket, 0)),
            words: Tagged::new(ticket, value),
        }
    }

    /// Size and field offsets, hashed into the header of a shared mapping.
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) const LAYOUT: [usize; 3] = [
        size_of::<Self>(),
        core::mem::offset_of!(Self, claim),
        core::mem::offset_of!(Self, words),
    ];

    /// Stores every atomic of the slot so it holds what `Slot::new(ticket, value)`
    /// holds, for an object created in place (a zeroed shared mapping). The
    /// caller must ensure nobody uses the slot meanwhile, and publishes the
    /// stores afterwards (the shm header's Release store).
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) fn init_in_place(&self, ticket: u64, value: T) {
        // Relaxed: published to other processes by the caller's Release store.
        self.claim.store(claim_word(ticket, 0), Ordering::Relaxed);
        let buf = Buf::of(value);
        for i in 0..word_count::<T>() {
            // Relaxed: as above.
            self.words
                .at(i)
                .store(pack(ticket, buf.word(i)), Ordering::Relaxed);
        }
    }

    /// Copies the value written by the holder of `ticket`, or `None` if any word
    /// carries another tag (the slot was reused: the reader was lapped).
    #[inline]
    fn copy(&self, ticket: u64) -> Option<T> {
        let mut buf = Buf::uninit();
        for i in 0..word_count::<T>() {
            // Relaxed (I2, I3): each word carries its own tag; the Acquire head
            // load that named `ticket` makes that writer's word (or a newer one)
            // visible.
            let (tag, data) = unpack(self.words.at(i).load(Ordering::Relaxed));
            if tag != ticket {
                return None;
            }
            buf.set(i, data);
        }
        // SAFETY: every word is tagged `ticket`, and the head (read with Acquire)
        // named `ticket`, so its writer committed it. Only the writer holding
        // `ticket` stores that tag; it may refill the slot with another value
        // before committing (`Ring::publish` retries in place), but every such
        // fill happens before its Release commit, and no store tagged `ticket` follows it. So
        // each word is the committed value's word, from `Buf::of` of one valid
        // `T`, and `buf` holds exactly that value's words.
        Some(unsafe { buf.assume_value() })
    }

    /// Stores `buf` tagged `ticket`; false if a writer with a newer ticket has
    /// taken the slot over (this writer was lapped and must not scribble on it).
    fn fill(&self, ticket: u64, buf: &Buf<T>) -> bool {
        for i in 0..word_count::<T>() {
            let word = self.words.at(i);
            // Relaxed load and failure (I2): a tag only grows, a property of
            // this one location's modification order; the head CAS publishes
            // (I3). Success Release (I5): only for a reader's corruption check.
            let mut current = word.load(Ordering::Relaxed);
            loop {
                if unpack(current).0 > ticket {
                    return false;
                }
                let new = pack(ticket, buf.word(i));
                match word.compare_exchange_weak(current, new, Ordering::Release, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(actual) => current = actual,
                }
            }
        }
        true
    }
}

/// The tagged slot ring, borrowed from its owner (`Publisher` keeps it inline,
/// `VersionedCell` boxes it); its invariants are at the top of this file. The
/// slot of the current head is never claimed (I1), so a writer stopped anywhere
/// never keeps a reader from finding a complete value.
pub(crate) struct Ring<'a, T, const N: usize> {
    pub(crate) head: &'a AtomicU128,
    pub(crate) tickets: &'a Tickets,
    /// The slot count is a constant, so `ticket % N` is a multiply and shift
    /// (an `and` for powers of two), not a division.
    pub(crate) slots: &'a [CachePadded<Slot<T>>; N],
}

/// A value read from the ring, with the head it was published under.
pub(crate) struct Snapshot<T> {
    pub(crate) version: u64,
    pub(crate) ticket: u64,
    pub(crate) value: T,
}

impl<T> From<Snapshot<T>> for crate::Versioned<T> {
    #[inline]
    fn from(snap: Snapshot<T>) -> Self {
        crate::Versioned {
            value: snap.value,
            version: snap.version,
        }
    }
}

impl<T: NoUninit, const N: usize> Ring<'_, T, N> {
    #[inline]
    fn slot(&self, ticket: u64) -> &Slot<T> {
        &self.slots[(ticket % N as u64) as usize]
    }

    /// The current `(version, ticket)`.
    #[inline]
    pub(crate) fn head(&self) -> (u64, u64) {
        // Acquire (I3): pairs with the Release of the head CAS in `commit`.
        unpack(self.head.load(Ordering::Acquire))
    }

    /// One attempt at a consistent snapshot: `Lapped` if a newer value was
    /// published during the copy, `Corrupt` if the head did not move and its
    /// slot is still not one writer's whole value (I5). Never waits.
    #[inline]
    pub(crate) fn attempt(&self) -> Result<Snapshot<T>, ReadError> {
        // Acquire (I3): pairs with the Release of the head CAS in `commit`.
        let head = self.head.load(Ordering::Acquire);
        let (version, ticket) = unpack(head);
        match self.slot(ticket).copy(ticket) {
            Some(value) => Ok(Snapshot {
                version,
                ticket,
                value,
            }),
            None => Err(self.why_not(head)),
        }
    }

    /// Why a copy under `head` failed (I5).
    #[cold]
    #[inline(never)]
    fn why_not(&self, head: u128) -> ReadError {
        // Acquire fence (I5): the copy's Relaxed load of a foreign tag
        // synchronises with that writer's Release tag store, so its Acquire head
        // load in `stage`, which saw the head past ours, happens before the
        // load below.
        fence(Ordering::Acquire);
        // Relaxed (I5): coherence with the head load the fence ordered before
        // it is all that is needed.
        if self.head.load(Ordering::Relaxed) == head {
            ReadError::Corrupt
        } else {
            ReadError::Lapped
        }
    }

    /// A consistent snapshot. Retries only when lapped, i.e. when another value
    /// has been published meanwhile; never waits for a writer.
    ///
    /// # Panics
    ///
    /// On a corrupt object (I5), which only a shared file written by other
    /// means can be, instead of spinning forever.
    #[inline]
    pub(crate) fn read(&self) -> Snapshot<T> {
        let spin = Spin::new();
        loop {
            match self.attempt() {
                Ok(snap) => return snap,
                Err(ReadError::Lapped) => spin.spin(),
                Err(e) => corrupt_panic(e),
            }
        }
    }

    /// Reads until a copy succeeds, `timeout` has passed (`TimedOut`: lapped
    /// all that time) or the object is found corrupt.
    #[cfg(feature = "std")]
    pub(crate) fn read_until(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Snapshot<T>, ReadError> {
        crate::notify::retry_until(deadline, || self.attempt())
    }

    /// Writes `buf` into a slot that no reader can be using and returns the
    /// ticket to `commit` with. `previous`, a ticket this writer staged before
    /// and never published, is refilled in place when still newer than the head.
    /// `seen`: the head's ticket as this writer last loaded it, with Acquire
    /// (`head()`, `attempt`); the first claim is judged against it, saving a
    /// 128-bit load (any value once loaded is a lower bound of the head: it
    /// only grows).
    ///
    /// # Panics
    ///
    /// When the ticket space is used up (I7), before claiming anything.
    pub(crate) fn stage(&self, buf: &Buf<T>, previous: Option<u64>, seen: u64) -> u64 {
        match self.stage_within(buf, previous, seen, None) {
            Ok(ticket) => ticket,
            Err(Stuck::Exhausted) => tickets_exhausted(),
            Err(Stuck::Busy) => unreachable!("unbounded staging never gives up"),
        }
    }

    /// `stage`, making at most `attempts` attempts (`None`: no bound); on
    /// `Err` it holds no claim (`previous` was given back): `Busy` if every
    /// slot it tried was held by a writer in flight (or stopped, or dead), or
    /// no owner entry was free (I8); `Exhausted` at once past the last ticket
    /// (I7).
    fn stage_within(
        &self,
        buf: &Buf<T>,
        previous: Option<u64>,
        seen: u64,
        mut attempts: Option<usize>,
    ) -> Result<u64, Stuck> {
        if let Some(ticket) = previous {
            // Our own unpublished slot: no reader looks at it (the head never
            // named it). A newer writer can only have taken it after the head
            // passed `ticket`; then `fill` may still succeed on words it has not
            // written yet, but `commit` fails (the head is past `ticket`) and its
            // newer tags overwrite ours, so nothing of ours is ever read. (So a
            // stale `seen` here only costs a failed commit.)
            if ticket > seen && self.slot(ticket).fill(ticket, buf) {
                return Ok(ticket);
            }
            self.release(ticket);
        }
        let spin = Spin::new();
        let mut busy = 0usize;
        let mut first = Some(seen);
        loop {
            // Who our claims say made them (I6, I8); looked up here, not in
            // `ring()`, so that readers never do. `None`: no entry is free.
            if let Some(owner) = self.owner_index() {
                match self.claim_next(buf, owner, first.take()) {
                    Ok(ticket) => return Ok(ticket),
                    Err(Stuck::Exhausted) => return Err(Stuck::Exhausted),
                    Err(Stuck::Busy) => {}
                }
                // After a whole round of held slots, and every 64 rounds
                // after that: are some of them held by the dead (I6)? A slot
                // given back earns another round.
                busy += 1;
                if busy % (64 * N) == N && self.reclaim_dead() {
                    if let Some(left) = &mut attempts {
                        *left += N;
                    }
                }
            }
            if let Some(left) = &mut attempts {
                *left -= 1;
                if *left == 0 {
                    return Err(Stuck::Busy);
                }
            }
            // Every slot we could use is held by a writer still in flight (or
            // stopped), or every owner entry by a live process: wait for one
            // to publish, or to go.
            spin.snooze();
        }
    }

    /// Draws a ticket and claims and fills its slot for `owner`: `Busy` if
    /// the slot is held (claimed by a ticket not older than the head), or a
    /// newer writer's tags are in it. `seen`: a head ticket the caller
    /// loaded with Acquire, if any (see `stage`).
    #[inline]
    fn claim_next(&self, buf: &Buf<T>, owner: u64, seen: Option<u64>) -> Result<u64, Stuck> {
        // Relaxed: a ticket only needs to be unique and increasing.
        let ticket = self
            .tickets
            .next
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if ticket > MAX_TICKET {
            return Err(Stuck::Exhausted);
        }
        // Only the head's ticket is used, to decide which claims are dead;
        // it is monotone, so any value read is a safe lower bound: the
        // caller's `seen` for the first ticket, a fresh load after that, and
        // also when the slot looks held by `seen` (a publication since may
        // have freed it: without the reload, contending writers skip free
        // slots and back off). Acquire (I5, all): only for a reader's
        // corruption check, free on x86-64; `seen` was loaded with it.
        let mut current = match seen {
            Some(seen) => seen,
            None => unpack(self.head.load(Ordering::Acquire)).1,
        };
        let slot = self.slot(ticket);
        // Relaxed: only a hint for the CAS below, which orders what matters.
        let claim = slot.claim.load(Ordering::Relaxed);
        if seen.is_some() && split_claim(claim).0 >= current {
            current = unpack(self.head.load(Ordering::Acquire)).1;
        }
        // I1: `claim < current` can never be published, so no reader is sent
        // here for it; `ticket > current`: ours still can be.
        // Success AcqRel: the Acquire half pairs with the Release CAS in
        // `release` (I4; a claim taken over from a dead, older ticket needs
        // none: `fill` never lets an older tag overwrite ours, I2). The
        // Release half orders our owner entry before the claim, for whoever
        // reads the claim in `reclaim_dead` (I6).
        if ticket > current
            && split_claim(claim).0 < current
            && slot
                .claim
                .compare_exchange(
                    claim,
                    claim_word(ticket, owner),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            if slot.fill(ticket, buf) {
                return Ok(ticket);
            }
            // A newer writer's tags are in the slot: give it back.
            self.release(ticket);
        }
        Err(Stuck::Busy)
    }

    /// Gives up the claim of `ticket`, which this writer holds and will not
    /// publish. Without this, a claim newer than the head would keep its slot
    /// from every writer until the head passes it, and with 2 slots the head
    /// could then never move again.
    fn release(&self, ticket: u64) {
        // Claim 0 is older than any head, so the slot is free again. The CAS
        // fails only if a newer writer already took the slot over (after the
        // head passed `ticket`), which is just as good.
        // Relaxed: only the expected value for the CAS. Matched by ticket,
        // which only this writer claims with, whatever owner `stage` recorded.
        let slot = self.slot(ticket);
        let claim = slot.claim.load(Ordering::Relaxed);
        if split_claim(claim).0 != ticket {
            return;
        }
        // Success Release (I4): our tagged stores happen before the claim of
        // whoever reuses the slot (AcqRel CAS in `stage`).
        let _ = slot
            .claim
            .compare_exchange(claim, 0, Ordering::Release, Ordering::Relaxed);
    }

    /// The owner index this process claims with (I6, I8): 0 where owners are
    /// unknown (`owner::current` is `UNKNOWN`: no shared file in this
    /// process, loom, Miri, off Linux), `None` if every entry is held by
    /// another live process (or one we cannot judge). One load of the
    /// writers' own line once registered.
    #[inline]
    fn owner_index(&self) -> Option<u64> {
        let me = crate::owner::current();
        if me == crate::owner::UNKNOWN {
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
                    if !crate::owner::is_dead(found) {
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
    #[cfg(all(test, feature = "shm", not(noclobber_loom)))]
    pub(crate) fn owner_entries(&self) -> alloc::vec::Vec<u64> {
        let load = |e: &AtomicU64| e.load(Ordering::Relaxed);
        self.tickets.owners.iter().map(load).collect()
    }

    /// Gives back this process's owner entries (I8). The caller guarantees
    /// that no claim of this process is newer than the head: its last handle
    /// on the file is being dropped, so no publication of its is in flight.
    #[cfg(all(feature = "shm", not(noclobber_loom)))]
    pub(crate) fn release_owner(&self) {
        let me = crate::owner::registered();
        if me == crate::owner::UNKNOWN {
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
    fn adopt_entry(&self, i: usize, dead: u64) {
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
    fn reclaim_dead(&self) -> bool {
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
            if !crate::owner::is_dead(holder) || ticket <= self.head().1 {
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

    /// Publishes staged `ticket` as `version + 1` if the head is still
    /// `(version, current)`; returns whether it did.
    #[inline]
    pub(crate) fn commit(&self, version: u64, current: u64, ticket: u64) -> bool {
        debug_assert!(ticket > current);
        // Success SeqCst: the Release half publishes the words `fill` stored
        // (I3). The Acquire half is implied by the Acquire load in `head()` of
        // this same value (versions only grow). SeqCst makes this the store
        // half of the waiter Dekker pair (N4 in `notify.rs`); on x86-64 and
        // AArch64 it is the same instruction as AcqRel.
        // Failure Relaxed: every caller drops the head found and re-reads it
        // with Acquire in `head()` before touching a slot.
        self.head
            .compare_exchange(
                pack(version, current),
                pack(version.wrapping_add(1), ticket),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Writes `value` as `expected_version + 1` if that is still the version;
    /// otherwise returns the current snapshot.
    pub(crate) fn compare_exchange(
        &self,
        expected_version: u64,
        value: T,
    ) -> Result<u64, Snapshot<T>> {
        self.update(|snap| (snap.version == expected_version).then_some(value))
            .map(|snap| snap.version)
    }

    /// Publishes `value` whatever is there; returns its version. Unlike
    /// `update`, it needs only the head, not a copy of the current value.
    pub(crate) fn publish(&self, value: T) -> u64 {
        let buf = Buf::of(value);
        let spin = Spin::new();
        let mut staged = None;
        loop {
            let (version, current) = self.head();
            let ticket = self.stage(&buf, staged, current);
            staged = Some(ticket);
            if self.commit(version, current, ticket) {
                return version.wrapping_add(1);
            }
            spin.spin();
        }
    }

    /// `publish` that gives up instead of waiting for a slot: `Busy` if,
    /// until `deadline` (`None`: one round of `SLOTS` tickets), every slot but
    /// the head's was held by writers in flight, stopped or dead (or no owner
    /// entry was free, I8); `Exhausted` past the last ticket (I7). A lost
    /// commit race is retried (another writer published: progress). Holds no
    /// claim when it returns `Err`.
    #[cfg(feature = "std")]
    pub(crate) fn try_publish(
        &self,
        value: T,
        deadline: Option<std::time::Instant>,
    ) -> Result<u64, Stuck> {
        let buf = Buf::of(value);
        let spin = Spin::new();
        let mut staged = None;
        loop {
            let (version, current) = self.head();
            let ticket = match self.stage_within(&buf, staged, current, Some(N)) {
                Ok(ticket) => ticket,
                Err(Stuck::Busy) if deadline.is_some_and(|d| std::time::Instant::now() < d) => {
                    staged = None;
                    spin.snooze();
                    continue;
                }
                Err(stuck) => return Err(stuck),
            };
            staged = Some(ticket);
            if self.commit(version, current, ticket) {
                return Ok(version.wrapping_add(1));
            }
            spin.spin();
        }
    }

    /// Read-modify-write loop shared by `VersionedCell::update`,
    /// `Publisher::publish_if` and friends. `f` returns `None` to give up.
    ///
    /// `f` never runs while this writer holds a claim: a commit that loses the
    /// race gives its staged slot back before `f` is called again. A writer
    /// blocked or stopped inside `f` therefore keeps no slot from anyone; only
    /// one stopped between `stage` and `commit` (no user code runs there) does.
    /// Keeping the claim across the call, as an earlier version did, let
    /// `SLOTS - 1` writers blocked in their closures wedge every other writer.
    pub(crate) fn update(
        &self,
        mut f: impl FnMut(&Snapshot<T>) -> Option<T>,
    ) -> Result<Snapshot<T>, Snapshot<T>> {
        let spin = Spin::new();
        loop {
            let snap = self.read();
            let Some(new) = f(&snap) else {
                return Err(snap);
            };
            // `Buf::of` cannot panic, and `stage` only before it claims (I7),
            // so no guard is needed between here and the commit or release
            // below.
            let ticket = self.stage(&Buf::of(new), None, snap.ticket);
            if self.commit(snap.version, snap.ticket, ticket) {
                return Ok(Snapshot {
                    version: snap.version.wrapping_add(1),
                    ticket,
                    value: new,
                });
            }
            // Lost the race: give the slot back before `f` runs again.
            self.release(ticket);
            spin.spin();
        }
    }
}

/// The body check of a shared file (`shm::SharedPublisher::open`).
#[cfg(all(feature = "shm", not(noclobber_loom)))]
impl<T: NoUninit, const N: usize> Ring<'_, T, N> {
    /// Checks what every writer leaves true with the head at `(v, t)`: the
    /// ticket counter is not behind `t` (else every writer spins, finding no
    /// ticket newer than the head), the head's slot is still claimed by `t`
    /// (else a writer could take the published slot) and every word of it
    /// carries tag `t` (else no read succeeds). Returns what is wrong.
    ///
    /// A live writer may move the head meanwhile; a result is only trusted
    /// when the head did not move around it (I5), and a head that keeps
    /// moving is taken as the writers' proof of life.
    pub(crate) fn validate(&self) -> Result<(), alloc::string::String> {
        for _ in 0..4 {
            // Acquire (I3): the committing writer's ticket, claim and tags
            // happen before, so stale values of them are not seen below.
            let head = self.head.load(Ordering::Acquire);
            let checked = self.check(head);
            // Acquire fence (I5): a claim given back (`release`, Release) or a
            // newer tag (`fill`, Release) seen above was made by a writer that
            // had seen the head move; the head load below then sees it moved.
            fence(Ordering::Acquire);
            // Relaxed (I5): as in `why_not`.
            if self.head.load(Ordering::Relaxed) == head {
                return checked;
            }
        }
        Ok(())
    }

    fn check(&self, head: u128) -> Result<(), alloc::string::String> {
        let (version, ticket) = unpack(head);
        let index = ticket % N as u64;
        // Relaxed: the head's Acquire load ordered the committing writer's
        // `fetch_add` of `ticket` before this load (coherence: not behind it).
        let tickets = self.tickets.next.load(Ordering::Relaxed);
        if tickets < ticket {
            return Err(alloc::format!(
                "the head names version {version} with ticket {ticket}, but the ticket \
                 counter is at {tickets}, behind it"
            ));
        }
        // I7: a counter beyond the ticket space would make every writer panic.
        if tickets > MAX_TICKET {
            return Err(alloc::format!(
                "the ticket counter is at {tickets}, beyond the last ticket {MAX_TICKET}"
            ));
        }
        let slot = self.slot(ticket);
        // Relaxed: as above; a later claim is newer (`ticket` or more), or 0
        // from a `release` (Release), which the fence in `validate` covers.
        let claim = split_claim(slot.claim.load(Ordering::Relaxed)).0;
        if claim < ticket {
            return Err(alloc::format!(
                "the head names ticket {ticket} in slot {index}, but the slot's claim is \
                 {claim}, older than the head"
            ));
        }
        for i in 0..word_count::<T>() {
            // Relaxed (I3, I5): as in `Slot::copy`.
            let (tag, _) = unpack(slot.words.at(i).load(Ordering::Relaxed));
            if tag != ticket {
                return Err(alloc::format!(
                    "the head names ticket {ticket} in slot {index}, but word {i} of the \
                     slot carries tag {tag}"
                ));
            }
        }
        Ok(())
    }
}

/// I7: reached only after 2^59 tickets (or in a shared file damaged after it
/// was opened); before any claim is made, so no slot is kept.
#[cold]
#[inline(never)]
fn tickets_exhausted() -> ! {
    panic!("noclobber: this ring's 2^59 tickets are used up")
}

/// Out of line, so that the panic's formatting stays off the read path.
#[cold]
#[inline(never)]
fn corrupt_panic(e: ReadError) -> ! {
    panic!("Publisher::read: {e}")
}

/// The bounded reads on ordinary memory, so that Miri runs them too.
#[cfg(all(test, not(noclobber_loom)))]
mod tests {
    use super::*;
    use crate::{Publisher, Versioned};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::{Duration, Instant};

    /// A head whose slot holds words of another ticket, with no writer about
    /// (what a damaged shared file can hold): the bounded reads say `Corrupt`
    /// at once, `read` panics instead of spinning, `Debug` does not block.
    #[test]
    fn a_corrupt_head_slot_is_reported_not_spun_on() {
        let p = Publisher::<[u64; 3], 3>::new([1, 2, 3]);
        p.publish([4, 5, 6]); // ticket 2, slot 2
        let ring = p.ring();
        let (_, ticket) = ring.head();
        for (word, tag) in [(0, ticket - 1), (2, ticket + 1), (1, 0)] {
            let at = ring.slot(ticket).words.at(word);
            let old = at.swap(pack(tag, 7), Ordering::Relaxed);
            assert_eq!(p.try_read(), Err(ReadError::Corrupt));
            assert_eq!(p.try_read_versioned(), Err(ReadError::Corrupt));
            let start = Instant::now();
            assert_eq!(
                p.read_timeout(Duration::from_secs(60)),
                Err(ReadError::Corrupt)
            );
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "spun on a corrupt slot"
            );
            assert_eq!(
                format!("{p:?}"),
                format!("Publisher {{ value: <{}>, slots: 3 }}", ReadError::Corrupt)
            );
            let panicked = catch_unwind(AssertUnwindSafe(|| p.read())).unwrap_err();
            let text = panicked.downcast_ref::<String>().unwrap();
            assert!(text.contains("corrupt"), "{text}");
            at.store(old, Ordering::Relaxed);
            assert_eq!(
                p.try_read_versioned(),
                Ok(Versioned {
                    value: [4, 5, 6],
                    version: 1
                })
            );
        }
    }

    /// #12, I6: claims of a dead owner that hold every free slot are given
    /// back by the next writer that finds no slot; a live owner's, and those
    /// of an owner in another pid namespace or of no entry, are kept.
    #[cfg(all(feature = "shm", target_os = "linux", not(miri)))]
    #[test]
    fn dead_owners_claims_are_given_back_live_ones_kept() {
        crate::owner::enable();
        let me = crate::owner::current();
        assert_ne!(me, crate::owner::UNKNOWN);
        // Our pid with another start time: a process that held the pid before.
        let dead = me ^ 1;
        // Another pid namespace (bit 21 is the namespace's lowest): never
        // judged.
        let foreign = me ^ (1 << 21) ^ 1;
        for (owner, reclaimed) in [(dead, true), (foreign, false), (0, false)] {
            let p = Publisher::<[u64; 3], 3>::new([0; 3]);
            let ring = p.ring();
            // Two writers of `owner` (in entry 7; index 0 for "no entry")
            // stopped between stage and commit: with the head's slot, every
            // slot is held.
            let a = ring.stage(&Buf::of([1; 3]), None, ring.head().1);
            let b = ring.stage(&Buf::of([2; 3]), None, ring.head().1);
            assert_ne!(a % 3, b % 3);
            let index = if owner == 0 { 0 } else { 7 };
            if owner != 0 {
                ring.tickets.owners[6].store(owner, Ordering::Relaxed);
            }
            for t in [a, b] {
                ring.slot(t)
                    .claim
                    .store(claim_word(t, index), Ordering::Relaxed);
            }
            assert_eq!(
                p.try_publish([3; 3]).is_some(),
                reclaimed,
                "owner {owner:#x}"
            );
            if reclaimed {
                assert_eq!(p.read(), [3; 3]);
                // Every slot, the dead ones' too, is in use again.
                for i in 4..10 {
                    assert_eq!(p.try_publish([i; 3]), Some(i - 2));
                    assert_eq!(ring.validate(), Ok(()));
                }
            } else {
                assert_eq!(p.read(), [0; 3]);
            }
        }
    }

    /// I6, I8: a writer registers in the owner table once, reusing its
    /// entry; a dead process's entry is taken over only after that process's
    /// claims newer than the head were given back (else they would look
    /// live forever); entries of live processes are never taken, and with
    /// all 31 live the writer claims nothing: a bounded publication gives up
    /// and `publish` waits until an entry is given back.
    #[cfg(all(feature = "shm", target_os = "linux", not(miri)))]
    #[test]
    fn owner_entries_are_reused_only_from_the_dead() {
        crate::owner::enable();
        let me = crate::owner::current();
        let first = (me % OWNERS as u64) as usize;
        let dead = me ^ 1;
        let live_other = me ^ (1 << 21) ^ 1; // another namespace: never dead
        let p = Publisher::<[u64; 3], 3>::new([0; 3]);
        let ring = p.ring();
        // Free table: our first probe entry, found again without a store.
        assert_eq!(ring.owner_index(), Some(first as u64 + 1));
        assert_eq!(ring.owner_index(), Some(first as u64 + 1));
        // The entry held by the dead, who holds a staged claim newer than the
        // head: we take the entry, and the claim is free again.
        let staged = ring.stage(&Buf::of([1; 3]), None, ring.head().1);
        ring.tickets.owners[first].store(dead, Ordering::Relaxed);
        ring.slot(staged)
            .claim
            .store(claim_word(staged, first as u64 + 1), Ordering::Relaxed);
        assert_eq!(ring.owner_index(), Some(first as u64 + 1));
        assert_eq!(ring.tickets.owners[first].load(Ordering::Relaxed), me);
        assert_eq!(ring.slot(staged).claim.load(Ordering::Relaxed), 0);
        // Held by a live process: the next entry.
        ring.tickets.owners[first].store(live_other, Ordering::Relaxed);
        let next = (first + 1) % OWNERS;
        assert_eq!(ring.owner_index(), Some(next as u64 + 1));
        // An adopter that judged the entry's old owner dead, while a live
        // process took the entry over and claimed with it: that claim stays.
        let live_claim = claim_word(
            ring.stage(&Buf::of([3; 3]), None, ring.head().1),
            first as u64 + 1,
        );
        let slot = ring.slot(split_claim(live_claim).0);
        slot.claim.store(live_claim, Ordering::Relaxed);
        ring.adopt_entry(first, dead);
        assert_eq!(slot.claim.load(Ordering::Relaxed), live_claim);
        ring.release(split_claim(live_claim).0);
        // All live: no entry, and the table is unchanged.
        for entry in &ring.tickets.owners {
            entry.store(live_other, Ordering::Relaxed);
        }
        assert_eq!(ring.owner_index(), None);
        assert!(ring
            .tickets
            .owners
            .iter()
            .all(|e| e.load(Ordering::Relaxed) == live_other));
        // A bounded publication gives up without claiming anything ...
        let claims = || -> Vec<u64> {
            let load = |s: &CachePadded<Slot<_>>| s.claim.load(Ordering::Relaxed);
            ring.slots.iter().map(load).collect()
        };
        let before = claims();
        assert_eq!(ring.try_publish([2; 3], None), Err(Stuck::Busy));
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(ring.try_publish([2; 3], Some(deadline)), Err(Stuck::Busy));
        assert!(Instant::now() >= deadline, "gave up early");
        assert_eq!(claims(), before);
        // ... and `publish` waits until a process gives its entry back.
        std::thread::scope(|s| {
            let writer = s.spawn(|| p.publish([2; 3]));
            std::thread::sleep(Duration::from_millis(20));
            assert!(!writer.is_finished(), "claimed without an entry");
            ring.tickets.owners[first].store(me, Ordering::Relaxed);
            ring.release_owner();
            assert_eq!(writer.join().unwrap(), 1);
        });
        assert_eq!(p.read(), [2; 3]);
        // `release_owner` frees our entries only.
        ring.release_owner();
        let ours = ring.tickets.owners.iter();
        assert!(ours.filter(|e| e.load(Ordering::Relaxed) == me).count() == 0);
        assert_eq!(
            ring.tickets.owners[(first + 1) % OWNERS].load(Ordering::Relaxed),
            live_other
        );
    }

    /// I7: a ticket beyond the ticket space panics before any claim is
    /// made, and a shared file's counter beyond it is refused.
    #[test]
    fn tickets_never_wrap() {
        let p = Publisher::<[u64; 3], 3>::new([0; 3]);
        let ring = p.ring();
        // The head at ticket 2, in slot 2: the last ticket's slot is free.
        assert_eq!(p.publish([9; 3]), 1);
        assert_ne!(MAX_TICKET % 3, 2);
        ring.tickets.next.store(MAX_TICKET - 1, Ordering::Relaxed);
        // One ticket is left, and one publication takes one ticket.
        assert_eq!(p.publish([1; 3]), 2);
        let claims: Vec<u64> = ring
            .slots
            .iter()
            .map(|s| s.claim.load(Ordering::Relaxed))
            .collect();
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            p.publish([2; 3]);
            p.publish([3; 3]);
        }))
        .unwrap_err();
        let text = panicked.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(text.contains("tickets are used up"), "{text}");
        // The bounded writes say so instead of panicking.
        assert_eq!(ring.try_publish([4; 3], None), Err(Stuck::Exhausted));
        let deadline = Some(Instant::now() + Duration::from_secs(60));
        assert_eq!(ring.try_publish([4; 3], deadline), Err(Stuck::Exhausted));
        assert_eq!(p.read(), [1; 3]);
        // The panicking writer claimed nothing.
        let after: Vec<u64> = ring
            .slots
            .iter()
            .map(|s| s.claim.load(Ordering::Relaxed))
            .collect();
        assert_eq!(after, claims);
        #[cfg(feature = "shm")]
        {
            let err = ring.validate().expect_err("accepted an exhausted counter");
            assert!(err.contains("beyond the last ticket"), "{err}");
        }
    }

    /// #12: every state writers leave passes the open check: after any number
    /// of publications, with writers stopped after their claim, mid-fill, or
    /// after a declined `publish_if` (claim given back).
    #[cfg(feature = "shm")]
    #[test]
    fn every_state_writers_leave_is_valid() {
        fn run<const S: usize>() {
            for n in 0..3 * S as u64 {
                let p = Publisher::<[u64; 3], S>::new([0; 3]);
                for i in 1..=n {
                    p.publish([i; 3]);
                }
                let ring = p.ring();
                assert_eq!(ring.validate(), Ok(()));
                // A writer stopped after staging (claim and words written, no
                // commit): what a killed writer leaves.
                let staged = ring.stage(&Buf::of([99; 3]), None, ring.head().1);
                assert_eq!(ring.validate(), Ok(()));
                // ... or half-way through its fill.
                let ticket = ring.tickets.next.fetch_add(1, Ordering::Relaxed) + 1;
                let slot = ring.slot(ticket);
                if ticket % S as u64 != ring.head().1 % S as u64 {
                    slot.claim.store(claim_word(ticket, 0), Ordering::Relaxed);
                    slot.words.at(0).store(pack(ticket, 5), Ordering::Relaxed);
                }
                assert_eq!(ring.validate(), Ok(()));
                ring.release(staged);
                assert_eq!(ring.validate(), Ok(()));
                // A declined `publish_if`.
                assert!(p.publish_if(n + 7, [1; 3]).is_err());
                assert_eq!(ring.validate(), Ok(()));
            }
        }
        run::<2>();
        run::<3>();
        run::<8>();
    }

    /// #12: each kind of damage a file can hold behind a valid header is
    /// refused, with what is wrong; undoing it makes the body valid again.
    #[cfg(feature = "shm")]
    #[test]
    fn states_no_writer_leaves_are_refused() {
        let p = Publisher::<[u64; 3], 3>::new([0; 3]);
        p.publish([1; 3]);
        p.publish([2; 3]); // head: version 2, ticket 3, slot 0
        let ring = p.ring();
        let (_, t) = ring.head();
        let refused = |what: &str| {
            let err = ring.validate().expect_err("accepted a corrupt body");
            assert!(err.contains(what), "{err}");
        };
        // The ticket counter behind the head: every writer would spin.
        let tickets = ring.tickets.next.swap(t - 1, Ordering::Relaxed);
        refused(&format!("ticket counter is at {}, behind it", t - 1));
        ring.tickets.next.store(tickets, Ordering::Relaxed);
        // The head's slot claimed by an older ticket, or free (0): a writer
        // could take the published slot.
        for claim in [0, t - 1] {
            let slot = ring.slot(t);
            let old = slot.claim.swap(claim_word(claim, 0), Ordering::Relaxed);
            refused(&format!("the slot's claim is {claim}, older than the head"));
            slot.claim.store(old, Ordering::Relaxed);
        }
        // A word of the head's slot with another tag, older or newer.
        for (word, tag) in [(0, t - 1), (2, t + 5), (1, 0)] {
            let at = ring.slot(t).words.at(word);
            let old = at.swap(pack(tag, 1), Ordering::Relaxed);
            refused(&format!("word {word} of the slot carries tag {tag}"));
            at.store(old, Ordering::Relaxed);
        }
        // A head naming a ticket nobody published.
        let head = ring.head.swap(pack(2, t + 1), Ordering::Relaxed);
        assert!(ring.validate().is_err());
        ring.head.store(head, Ordering::Relaxed);
        assert_eq!(ring.validate(), Ok(()));
    }

    /// #12: the open check of a file live writers publish into never reports
    /// corruption (I5).
    #[cfg(feature = "shm")]
    #[test]
    fn live_writers_never_fail_the_open_check() {
        let p = Publisher::<[u64; 2], 2>::new([0; 2]);
        let n = if cfg!(miri) { 20 } else { 20_000 };
        std::thread::scope(|s| {
            for w in 0..2u64 {
                let p = &p;
                s.spawn(move || {
                    for i in 0..n {
                        p.publish([w << 32 | i; 2]);
                    }
                });
            }
            while p.version() < 2 * n {
                p.ring().validate().expect("live writers looked corrupt");
            }
        });
    }

    /// #12: with every free slot held by stopped writers (staged, never
    /// committed: what killed writer processes leave), `try_publish` and
    /// `publish_timeout` give up with nothing published instead of waiting;
    /// once one slot is given back they publish.
    #[test]
    fn bounded_publishes_give_up_when_no_slot_is_free() {
        let p = Publisher::<[u64; 2], 3>::new([0; 2]);
        let ring = p.ring();
        let stopped = [
            ring.stage(&Buf::of([7; 2]), None, ring.head().1),
            ring.stage(&Buf::of([8; 2]), None, ring.head().1),
        ];
        assert_eq!(p.try_publish([1; 2]), None);
        let start = Instant::now();
        assert_eq!(p.publish_timeout([1; 2], Duration::from_millis(20)), None);
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "gave up early"
        );
        assert_eq!(
            p.read_versioned(),
            Versioned {
                value: [0; 2],
                version: 0
            }
        );
        // The bounded forms left no claim behind: one slot given back is enough.
        ring.release(stopped[0]);
        assert_eq!(p.try_publish([1; 2]), Some(1));
        // The head's ticket is now past the other stopped writer's, so its
        // claim is dead (I1) and its slot free again.
        assert!(stopped[1] < ring.head().1);
        assert_eq!(p.publish_timeout([2; 2], Duration::ZERO), Some(2));
        assert_eq!(
            p.read_versioned(),
            Versioned {
                value: [2; 2],
                version: 2
            }
        );
    }

    /// A reader racing live writers only ever fails as `Lapped`, never
    /// `Corrupt` (I5): with 2 slots every publication reuses the slot a reader
    /// may be copying.
    #[test]
    fn live_writers_never_look_corrupt() {
        let p = Publisher::<[u64; 4], 2>::new([0; 4]);
        let n = if cfg!(miri) { 30 } else { 50_000 };
        let (mut ok, mut lapped) = (0u64, 0u64);
        std::thread::scope(|s| {
            for w in 0..2u64 {
                let p = &p;
                s.spawn(move || {
                    for i in 0..n {
                        p.publish([w << 32 | i; 4]);
                    }
                });
            }
            while p.version() < 2 * n {
                match p.try_read_versioned() {
                    Ok(v) => {
                        assert!(v.value.iter().all(|&x| x == v.value[0]), "torn: {v:?}");
                        ok += 1;
                    }
                    Err(ReadError::Lapped) => lapped += 1,
                    Err(e) => panic!("a live writer looked {e}"),
                }
            }
        });
        assert!(ok > 0, "{ok} reads, {lapped} lapped");
        assert_eq!(
            p.read_timeout(Duration::from_secs(1)).unwrap().version,
            2 * n
        );
    }
}
