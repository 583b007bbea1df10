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
//!   giver may hold a *newer* ticket than the taker (a declined `write_if`
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
//!   owner words (`Tickets::owners`, `shm/owner.rs`) beside the ticket
//!   counter (`claims.rs`). A writer claims with an index only once its own
//!   owner word is in that entry, and a live process's entry is
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

mod claims;

use crossbeam_utils::CachePadded;

use bytemuck::NoUninit;

use crate::error::{corrupt_panic, Broken, Corrupt, Fault};
use crate::sync::{fence, AtomicU128, AtomicU64, Ordering, Spin};
use crate::words::{pack, unpack, word_count, Buf, Tagged};

/// Bits of a claim word that name its owner (I6).
const OWNER_BITS: u32 = 5;
/// Entries of a ring's owner table: indices 1 to 31 (0 is "unknown").
pub(crate) const OWNERS: usize = (1 << OWNER_BITS) - 1;
/// The largest ticket (I7).
pub(crate) const MAX_TICKET: u64 = u64::MAX >> OWNER_BITS;

/// Why a bounded `stage` or `try_write` claimed nothing.
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
    #[cfg_attr(noclobber_loom, allow(dead_code))]
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
    pub(crate) claim: AtomicU64,
    pub(crate) words: Tagged<T>,
}

impl<T: NoUninit> Slot<T> {
    pub(crate) fn new(ticket: u64, value: T) -> Self {
        Slot {
            claim: AtomicU64::new(claim_word(ticket, 0)),
            words: Tagged::new(ticket, value),
        }
    }

    /// Stores every atomic of the slot so it holds what `Slot::new(ticket, value)`
    /// holds, for an object created in place (zeroed memory, or a zeroed shared
    /// mapping). The caller must ensure nobody uses the slot meanwhile, and
    /// publishes the stores afterwards (a Release store, or a move to another
    /// thread).
    #[cfg_attr(noclobber_loom, allow(dead_code))]
    pub(crate) fn init_in_place(&self, ticket: u64, value: T) {
        // Relaxed: published by the caller, as above.
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
        // before committing (`Ring::write` retries in place), but every such
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

    /// One attempt at a consistent snapshot: `Interrupted` if a newer value
    /// was published during the copy, `Corrupt` if the head did not move and
    /// its slot is still not one writer's whole value (I5). Never waits.
    #[inline]
    pub(crate) fn attempt(&self) -> Result<Snapshot<T>, Fault> {
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
    fn why_not(&self, head: u128) -> Fault {
        // Acquire fence (I5): the copy's Relaxed load of a foreign tag
        // synchronises with that writer's Release tag store, so its Acquire head
        // load in `stage`, which saw the head past ours, happens before the
        // load below.
        fence(Ordering::Acquire);
        // Relaxed (I5): coherence with the head load the fence ordered before
        // it is all that is needed.
        if self.head.load(Ordering::Relaxed) == head {
            Fault::Corrupt(Corrupt::new(Broken::RingSlot))
        } else {
            Fault::Interrupted
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
                Err(Fault::Corrupt(c)) => corrupt_panic(c),
                Err(_) => spin.spin(),
            }
        }
    }

    /// Reads until a copy succeeds, `deadline` has passed (`TimedOut`:
    /// interrupted all that time) or the object is found corrupt.
    #[cfg(feature = "std")]
    pub(crate) fn read_until(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Snapshot<T>, Fault> {
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

    /// Publishes staged `ticket` as `version + 1` if the head is still
    /// `(version, current)`; returns whether it did.
    #[inline]
    pub(crate) fn commit(&self, version: u64, current: u64, ticket: u64) -> bool {
        debug_assert!(ticket > current);
        // Success SeqCst: the Release half publishes the words `fill` stored
        // (I3). The Acquire half is implied by the Acquire load in `head()` of
        // this same value (versions only grow). SeqCst makes this the store
        // half of the waiter Dekker pair (N4 in `notify/mod.rs`); on x86-64 and
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
    pub(crate) fn write_if(&self, expected_version: u64, value: T) -> Result<u64, Snapshot<T>> {
        self.update(|snap| (snap.version == expected_version).then_some(value))
            .map(|snap| snap.version)
    }

    /// Publishes `value` whatever is there; returns its version. Unlike
    /// `update`, it needs only the head, not a copy of the current value.
    pub(crate) fn write(&self, value: T) -> u64 {
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

    /// `write` that gives up instead of waiting for a slot: `Interrupted`
    /// (without a deadline: one round of `SLOTS` tickets) or `TimedOut` (at
    /// the deadline) if every slot but the head's was held by writers in
    /// flight, stopped or dead (or no owner entry was free, I8); `Corrupt`
    /// past the last ticket (I7). A lost commit race is retried (another
    /// writer published: progress). Holds no claim when it returns `Err`.
    #[cfg(feature = "std")]
    pub(crate) fn try_write(
        &self,
        value: T,
        deadline: Option<std::time::Instant>,
    ) -> Result<u64, Fault> {
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
                Err(Stuck::Busy) if deadline.is_some() => return Err(Fault::TimedOut),
                Err(Stuck::Busy) => return Err(Fault::Interrupted),
                Err(Stuck::Exhausted) => return Err(Fault::Corrupt(Corrupt::new(Broken::Tickets))),
            };
            staged = Some(ticket);
            if self.commit(version, current, ticket) {
                return Ok(version.wrapping_add(1));
            }
            spin.spin();
        }
    }

    /// Read-modify-write loop shared by `VersionedCell::update`,
    /// `Publisher::write_if` and friends. `f` returns `None` to give up.
    ///
    /// `f` never runs while this writer holds a claim: a commit that loses the
    /// race gives its staged slot back before `f` is called again. A writer
    /// blocked or stopped inside `f` therefore keeps no slot from anyone; only
    /// one stopped between `stage` and `commit` (no user code runs there) does.
    /// (A claim kept across the call would let `SLOTS - 1` writers blocked in
    /// their closures wedge every other writer.)
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
#[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
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

/// What a ring past its last ticket (I7) is: 2^59 draws, or a shared file
/// damaged after it was opened.
const EXHAUSTED: &str = Corrupt::new(Broken::Tickets).what();

/// I7: reached only after 2^59 tickets (or in a shared file damaged after it
/// was opened); before any claim is made, so no slot is kept.
#[cold]
#[inline(never)]
fn tickets_exhausted() -> ! {
    panic!("noclobber: {EXHAUSTED}")
}

#[cfg(all(test, not(noclobber_loom)))]
mod tests;
