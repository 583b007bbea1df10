//! The ring on ordinary memory, so that Miri runs these too: bounded reads
//! and writes, corrupt and dead claims, the owner table and the open check.

use super::*;
use crate::{Publisher, ReadError, Versioned, WriteError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// A head whose slot holds words of another ticket, with no writer about
/// (what a damaged shared file can hold): the bounded reads say `Corrupt`
/// at once (as the shared handles report it), `read` panics instead of
/// spinning, `Debug` does not block, and the in-process `try_read` panics
/// rather than pretend it could be interrupted.
#[test]
fn a_corrupt_head_slot_is_reported_not_spun_on() {
    let p = Publisher::<[u64; 3], 3>::new([1, 2, 3]);
    p.write([4, 5, 6]); // ticket 2, slot 2
    let body = p.body();
    let ring = p.ring();
    let (_, ticket) = ring.head();
    let corrupt = |e: ReadError<Corrupt>| matches!(e, ReadError::Corrupt(_));
    for (word, tag) in [(0, ticket - 1), (2, ticket + 1), (1, 0)] {
        let at = ring.slot(ticket).words.at(word);
        let old = at.swap(pack(tag, 7), Ordering::Relaxed);
        assert!(body.try_read::<Corrupt>().is_err_and(corrupt));
        let start = Instant::now();
        let long = Duration::from_secs(60);
        assert!(body.read_timeout::<Corrupt>(long).is_err_and(corrupt));
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "spun on a corrupt slot"
        );
        let text = format!("{p:?}");
        assert!(
            text.starts_with("Publisher { value: <the shared object is corrupt"),
            "{text}"
        );
        let reads: [&dyn Fn(); 3] = [
            &|| {
                let _ = p.read();
            },
            &|| {
                let _ = p.try_read();
            },
            &|| {
                let _ = p.read_timeout(long);
            },
        ];
        for read in reads {
            let panicked = catch_unwind(AssertUnwindSafe(read)).unwrap_err();
            let text = panicked.downcast_ref::<String>().unwrap();
            assert!(text.contains("corrupt"), "{text}");
        }
        at.store(old, Ordering::Relaxed);
        assert_eq!(
            p.try_read(),
            Ok(Versioned {
                value: [4, 5, 6],
                version: 1
            })
        );
    }
}

/// I6: claims of a dead owner that hold every free slot are given
/// back by the next writer that finds no slot; a live owner's, and those
/// of an owner in another pid namespace or of no entry, are kept.
#[cfg(all(feature = "shm", target_os = "linux", not(miri)))]
#[test]
fn dead_owners_claims_are_given_back_live_ones_kept() {
    crate::shm::owner::enable();
    let me = crate::shm::owner::current();
    assert_ne!(me, crate::shm::owner::UNKNOWN);
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
        assert_eq!(p.try_write([3; 3]).is_ok(), reclaimed, "owner {owner:#x}");
        if reclaimed {
            assert_eq!(p.read(), [3; 3]);
            // Every slot, the dead ones' too, is in use again.
            for i in 4..10 {
                assert_eq!(p.try_write([i; 3]), Ok(i - 2));
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
    crate::shm::owner::enable();
    let me = crate::shm::owner::current();
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
    assert_eq!(ring.try_write([2; 3], None), Err(Fault::Interrupted));
    let deadline = Instant::now() + Duration::from_millis(20);
    assert_eq!(ring.try_write([2; 3], Some(deadline)), Err(Fault::TimedOut));
    assert!(Instant::now() >= deadline, "gave up early");
    assert_eq!(claims(), before);
    // ... and `publish` waits until a process gives its entry back.
    std::thread::scope(|s| {
        let writer = s.spawn(|| p.write([2; 3]));
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
    assert_eq!(p.write([9; 3]), 1);
    assert_ne!(MAX_TICKET % 3, 2);
    ring.tickets.next.store(MAX_TICKET - 1, Ordering::Relaxed);
    // One ticket is left, and one publication takes one ticket.
    assert_eq!(p.write([1; 3]), 2);
    let claims: Vec<u64> = ring
        .slots
        .iter()
        .map(|s| s.claim.load(Ordering::Relaxed))
        .collect();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        p.write([2; 3]);
        p.write([3; 3]);
    }))
    .unwrap_err();
    let text = panicked
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains(EXHAUSTED), "{text}");
    // The bounded writes say so instead of panicking.
    let exhausted = Err(Fault::Corrupt(Corrupt::new(Broken::Tickets)));
    assert_eq!(ring.try_write([4; 3], None), exhausted);
    let deadline = Some(Instant::now() + Duration::from_secs(60));
    assert_eq!(ring.try_write([4; 3], deadline), exhausted);
    // In process that means 2^59 draws, as impossible as corruption: the
    // bounded writes of the in-process type panic too.
    assert!(catch_unwind(AssertUnwindSafe(|| p.try_write([4; 3]))).is_err());
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

/// every state writers leave passes the open check: after any number
/// of publications, with writers stopped after their claim, mid-fill, or
/// after a declined `write_if` (claim given back).
#[cfg(feature = "shm")]
#[test]
fn every_state_writers_leave_is_valid() {
    fn run<const S: usize>() {
        for n in 0..3 * S as u64 {
            let p = Publisher::<[u64; 3], S>::with_slots([0; 3]);
            for i in 1..=n {
                p.write([i; 3]);
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
            // A declined `write_if`.
            assert!(p.write_if(n + 7, [1; 3]).is_err());
            assert_eq!(ring.validate(), Ok(()));
        }
    }
    run::<2>();
    run::<3>();
    run::<8>();
}

/// each kind of damage a file can hold behind a valid header is
/// refused, with what is wrong; undoing it makes the body valid again.
#[cfg(feature = "shm")]
#[test]
fn states_no_writer_leaves_are_refused() {
    let p = Publisher::<[u64; 3], 3>::new([0; 3]);
    p.write([1; 3]);
    p.write([2; 3]); // head: version 2, ticket 3, slot 0
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

/// the open check of a file live writers publish into never reports
/// corruption (I5).
#[cfg(feature = "shm")]
#[test]
fn live_writers_never_fail_the_open_check() {
    let p = Publisher::<[u64; 2], 2>::with_slots([0; 2]);
    let n = if cfg!(miri) { 20 } else { 20_000 };
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let p = &p;
            s.spawn(move || {
                for i in 0..n {
                    p.write([w << 32 | i; 2]);
                }
            });
        }
        while p.version() < 2 * n {
            p.ring().validate().expect("live writers looked corrupt");
        }
    });
}

/// with every free slot held by stopped writers (staged, never
/// committed: what killed writer processes leave), `try_write` and
/// `write_timeout` give up with nothing published instead of waiting;
/// once one slot is given back they publish.
#[test]
fn bounded_publishes_give_up_when_no_slot_is_free() {
    let p = Publisher::<[u64; 2], 3>::new([0; 2]);
    let ring = p.ring();
    let stopped = [
        ring.stage(&Buf::of([7; 2]), None, ring.head().1),
        ring.stage(&Buf::of([8; 2]), None, ring.head().1),
    ];
    assert_eq!(p.try_write([1; 2]), Err(WriteError::Busy));
    let start = Instant::now();
    assert_eq!(
        p.write_timeout([1; 2], Duration::from_millis(20)),
        Err(WriteError::TimedOut)
    );
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
    assert_eq!(p.try_write([1; 2]), Ok(1));
    // The head's ticket is now past the other stopped writer's, so its
    // claim is dead (I1) and its slot free again.
    assert!(stopped[1] < ring.head().1);
    assert_eq!(p.write_timeout([2; 2], Duration::ZERO), Ok(2));
    assert_eq!(
        p.read_versioned(),
        Versioned {
            value: [2; 2],
            version: 2
        }
    );
}

/// A reader racing live writers only ever fails as `Interrupted`, never
/// `Corrupt` (I5): with 2 slots every publication reuses the slot a reader
/// may be copying.
#[test]
fn live_writers_never_look_corrupt() {
    let p = Publisher::<[u64; 4], 2>::with_slots([0; 4]);
    let n = if cfg!(miri) { 30 } else { 50_000 };
    let (mut ok, mut lapped) = (0u64, 0u64);
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let p = &p;
            s.spawn(move || {
                for i in 0..n {
                    p.write([w << 32 | i; 4]);
                }
            });
        }
        while p.version() < 2 * n {
            match p.body().try_read::<Corrupt>() {
                Ok(v) => {
                    assert!(v.value.iter().all(|&x| x == v.value[0]), "torn: {v:?}");
                    ok += 1;
                }
                Err(ReadError::Interrupted) => lapped += 1,
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
