//! Waiting for a newer version without polling: a waiter count and a futex
//! word beside each object's version, the same for every primitive, in process
//! and in a shared file.
//!
//! # Protocol
//!
//! * **N1 (writer).** After the access that publishes a new version (a store
//!   or an RMW of the head), the writer runs its half of a store-load barrier
//!   ([`Notify::wake`]), then loads `waiters`; only if it is not 0 does it
//!   bump `epoch` and wake every thread sleeping on it. With nobody waiting
//!   this is one load of a word beside the head.
//! * **N2 (waiter).** A waiter announces itself (`waiters += 1`), runs the
//!   other half of the barrier, and then, until the version is newer than the
//!   one it has seen: loads `epoch`, checks the version, and sleeps on `epoch`
//!   for as long as it still holds the loaded value (the kernel compares and
//!   enqueues atomically). It withdraws (`waiters -= 1`) when it returns.
//! * **N3 (no lost wake-up).** The two halves form a store-load (Dekker) pair:
//!   either the writer's `waiters` load sees the announcement, or the waiter's
//!   checks after its barrier see the publication. In the first case the
//!   writer bumps `epoch` and then wakes: a waiter that loaded `epoch` before
//!   the bump finds it changed when it goes to sleep, or is asleep and woken
//!   (the kernel compares and enqueues under the lock its wake takes); one
//!   that loaded the bumped `epoch` (Acquire; the bump is Release, after the
//!   publication) sees the publication in the check that follows.
//! * **N4 (barriers).** A publication by RMW (the multi-writer head CAS) is
//!   `SeqCst`, and so is the writer's `waiters` load: with the waiter's
//!   `SeqCst` fence that is the Dekker pair at no cost (x86-64 `lock cmpxchg`
//!   and a plain load), and the waiter needs nothing more. A publication by
//!   plain store (the single writer) would need a `SeqCst` fence (x86-64
//!   `mfence`, a large share of a publication's cost); instead, on Linux, the
//!   writer's half is a compiler fence, and the waiter's half is
//!   `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, which runs a full barrier
//!   on every CPU running a process registered for it (an idle or preempted
//!   writer passed one in its context switch). This is Linux's asymmetric
//!   fence, the one liburcu and folly use; the waiter pays a system call
//!   per sleep, the writer nothing, not even a check of its registration (N5).
//! * **N5 (registration).** Every process that writes a store-published
//!   object is registered before its first write, or the object says
//!   `FENCED`: in process, writers and waiters are one process, and the
//!   waiter registers it before its first barrier; a shared file's writers
//!   register when they map it writable (`prepare_store_writers`). A process
//!   whose registration fails sets the `FENCED` bit of the object's `waiters`
//!   word (at open, before it writes; as a waiter, in place of its barrier),
//!   and writers that see it take the `SeqCst` fence. A waiter whose `membarrier`
//!   fails, or that had to set the bit (a writer may have checked just
//!   before), sleeps in slices of [`FALLBACK_SLICE`], so a missed wake-up
//!   costs at most that long. The bit stays for the object's life.
//!   Under loom both halves are `SeqCst` fences (loom models `SeqCst` fences,
//!   not `SeqCst` accesses); neither loom nor Miri runs system calls, so
//!   there the writer takes the fence after a store, and under Miri waiters
//!   sleep in slices.
//! * **N6 (a flag in the sequence).** A `SeqLock` writer publishes by a
//!   store, but it first takes the lock by a CAS of the very word readers
//!   check, from an even value to the next odd one. Its waiters therefore
//!   announce themselves in that word instead of `waiters`: a waiter that
//!   finds the sequence even and not newer sets its `WAITING` bit by a CAS
//!   from the value it checked (its check, [`Announce::InCheck`]), and a
//!   writer whose lock CAS found the bit clears it in its closing store and
//!   then wakes ([`Notify::wake_announced`]). Both CASes replace the same
//!   even value, so the word's modification order decides, with no barrier:
//!   if the waiter's came first, the writer's reads the bit; otherwise the
//!   waiter's fails and returns the writer's odd value, or a later one. The
//!   flag is thus only ever set on an even sequence, and the writer that
//!   takes the lock from that value wakes. The waiter's `epoch` load comes
//!   before its Release CAS, which the writer's Acquire CAS reads, so the
//!   writer's bump comes after that load (N3's first case). A waiter that
//!   finds the sequence odd ([`Seen::Writing`]) has a writer running that
//!   may not wake it: it snoozes briefly (a write takes nanoseconds), then
//!   sleeps in slices of [`FALLBACK_SLICE`], checking with loads until the
//!   sequence is even, and then announces itself. With nobody waiting, the
//!   writer tests a bit of the value its CAS read anyway: no memory access
//!   at all. Such an object's `waiters` word stays 0.
//!
//! * **N7 (closing).** A single writer that goes away closes its object: it
//!   sets the `CLOSED` bit of `waiters` (Release, after its last
//!   publication in program order), then bumps `epoch` and wakes every
//!   sleeper whether or not any announced itself. A waiter's check loads the
//!   bit (Acquire) *before* the version: if it sees the bit, the version it
//!   loads next shows every publication before the close, and a newer one
//!   still wins (`Seen::Newer`); only with nothing newer does the wait end
//!   with `Seen::Closed`. A waiter that loaded `epoch` before the bump finds
//!   it changed when it goes to sleep, or is woken (as in N3); one that loaded
//!   the bumped `epoch` sees the bit. Across processes a writer can also die
//!   without closing: the kernel releases its lock, which a waiting reader
//!   tests each time it wakes, and it wakes at least every probe slice
//!   (`Notify::wait_until`'s `slice`). A successor clears the bit before its
//!   first write (`reopen`).
//! * **N8 (async tasks).** A task waits like a thread, but is woken through
//!   the object's event (`listeners.rs`), which a writer notifies whenever
//!   it finds waiters (N1's slow path), not by the futex. The tasks of one
//!   process waiting on one object announce themselves together, by the
//!   `ASYNC` bit of `waiters`, which the first of them sets with N2's
//!   barrier: later ones need no barrier of their own (`Group` says why).
//!   The bit makes writers notify the event but not bump `epoch` nor wake
//!   the futex, which no thread sleeps on for them. A task that cannot join
//!   the group's announcement is counted in `waiters` like a thread.
//!
//! Timeouts bound every sleep: a writer stopped or killed mid-publication never
//! keeps a waiter past its deadline, since a sleep ends at the deadline and
//! the waiter then returns what it can check without waiting. Waiting never
//! touches the payload, so it cannot tear what a read returns.

#[cfg(feature = "std")]
use crate::error::Fault;
use crate::sync::{fence, AtomicU32, Ordering};

/// The waiter count and the futex word. `#[repr(C)]`: it lives in shared
/// files, and `epoch` is the word a shared (not process-private) futex waits on.
#[repr(C)]
pub(crate) struct Notify {
    /// Bumped by a writer that found waiters, before it wakes them.
    epoch: AtomicU32,
    /// Announced waiters that have not withdrawn.
    waiters: AtomicU32,
    /// loom: the kernel's futex queue (compare-and-sleep under its lock).
    #[cfg(noclobber_loom)]
    queue: (loom::sync::Mutex<()>, loom::sync::Condvar),
}

/// Bit of `Notify::waiters` (N5): a writer of this object may not be covered
/// by `membarrier`, so writers take the `SeqCst` fence.
const FENCED: u32 = 1 << 31;

/// Bit of `Notify::waiters` (N7): the object's single writer is gone.
const CLOSED: u32 = 1 << 30;

/// Bit of `Notify::waiters` (N8): async tasks in this process wait on the
/// object, announced together (`listeners.rs`); no thread sleeps for them.
const ASYNC: u32 = 1 << 29;

/// The bits of `Notify::waiters` that count the announced waiters (threads,
/// and async tasks announced on their own).
const COUNT: u32 = !(FENCED | CLOSED | ASYNC);

/// How long a waiter without a working `membarrier` (or without futexes, off
/// Linux) sleeps before it checks again.
#[cfg(feature = "std")]
pub(crate) const FALLBACK_SLICE: std::time::Duration = std::time::Duration::from_millis(1);

/// How the writer's half of the store-load barrier after a publication
/// (N4) is made: by the publishing access itself, or after a store.
#[derive(Clone, Copy)]
pub(crate) enum Published {
    /// The version moved by a `SeqCst` read-modify-write.
    BySeqCstRmw,
    /// The version moved by a store.
    ByStore,
}

/// How a waiter makes itself known to writers (N2, N6).
#[cfg(feature = "std")]
#[derive(Clone, Copy)]
pub(crate) enum Announce {
    /// In `waiters`, with the half of N4's barrier that pairs with writers
    /// that publish as given.
    Count(Published),
    /// By its check, an RMW of the version word that writers' lock CAS
    /// reads (N6).
    InCheck,
}

/// What a waiter's check of the version finds (N2, N6).
#[cfg(feature = "std")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Seen {
    /// A version newer than the caller's: the wait is over.
    Newer,
    /// No newer version, and no write running: sleep until woken.
    Same,
    /// No newer version yet, but a write is running whose writer may not
    /// wake this waiter (N6): poll.
    Writing,
    /// No newer version, and none will come: the writer is gone (N7).
    Closed,
}

/// How a wait ended.
#[cfg(feature = "std")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    /// The check found a newer version.
    Newer,
    /// The deadline passed first.
    TimedOut,
    /// The check found the writer gone, with nothing newer (N7).
    Closed,
}

#[cfg(feature = "std")]
impl Seen {
    /// `Newer` if `newer`, else `Same`: the check of a type whose writers
    /// publish in one access.
    pub(crate) fn newer_if(newer: bool) -> Seen {
        if newer {
            Seen::Newer
        } else {
            Seen::Same
        }
    }
}

impl Notify {
    #[cfg(not(noclobber_loom))]
    pub(crate) const fn new() -> Self {
        Notify {
            epoch: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    #[cfg(noclobber_loom)]
    pub(crate) fn new() -> Self {
        Notify {
            epoch: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            queue: Default::default(),
        }
    }

    /// Stores the state `new` builds, for an object created in place (a
    /// shared file; published by the caller's Release store).
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn init_in_place(&self) {
        self.epoch.store(0, Ordering::Relaxed);
        self.waiters.store(0, Ordering::Relaxed);
    }

    /// The writer's side (N1), right after the access that published.
    /// Without `std` nobody can wait (`wait_newer` needs it, and so does
    /// `shm`), so there is nothing to do. Small enough to inline into every
    /// write: with nobody waiting, one load and a branch; the rest (a waiter,
    /// a `FENCED` object, no `membarrier` at all) is one out-of-line call.
    #[inline(always)]
    /// Returns whether anyone waits: then the caller wakes the object's
    /// async waiters too (`Listeners`, N8).
    pub(crate) fn wake(&self, how: Published) -> bool {
        if cfg!(not(feature = "std")) {
            return false;
        }
        let light = match how {
            // The RMW is SeqCst and so is the load below. (The RMW is on a
            // 128-bit head, which loom models as a mutex: its models check
            // this pairing with a stronger stand-in.)
            Published::BySeqCstRmw => true,
            // The writer's half of N4 after a store; N5 says whether a
            // waiter's `membarrier` covers it (a constant).
            Published::ByStore => {
                core::sync::atomic::compiler_fence(Ordering::SeqCst);
                asymmetric::COVERS_WRITERS
            }
        };
        // SeqCst (N4): the load half of the writer's Dekker pair, after its
        // SeqCst RMW, or after the compiler fence that `membarrier` turns
        // into a full barrier whenever a waiter needs one. Not 0 also when
        // the object is `FENCED` (N5).
        if !light || self.waiters.load(Ordering::SeqCst) != 0 {
            return self.wake_slow(light);
        }
        false
    }

    /// `wake` for a waiter, a `FENCED` object, or a writer that no waiter's
    /// barrier covers (under loom and Miri, and off Linux): the `SeqCst`
    /// fence where needed, then the waiter count again.
    #[cold]
    #[inline(never)]
    fn wake_slow(&self, light: bool) -> bool {
        // Relaxed: a bit set before this process's first write (N5), or by a
        // waiter that then sleeps in slices.
        if !light || self.waiters.load(Ordering::Relaxed) & FENCED != 0 {
            fence(Ordering::SeqCst);
        }
        // SeqCst (N4): as in `wake`; after the fence when there is one.
        let waiters = self.waiters.load(Ordering::SeqCst);
        if waiters & COUNT != 0 {
            self.wake_all();
        }
        // Counted waiters may be async tasks too (N8).
        waiters & (COUNT | ASYNC) != 0
    }

    /// N6: the end of a write whose lock CAS found the `WAITING` flag, after
    /// the store that publishes it and clears the flag.
    #[cold]
    #[inline(never)]
    pub(crate) fn wake_announced(&self) {
        self.wake_all();
    }

    /// N5 for a process that maps a shared file with this object writable:
    /// registers it for `membarrier`, or marks the object `FENCED` if that
    /// fails. Before the process's first write through the mapping.
    #[cfg(feature = "std")]
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn prepare_store_writers(&self) {
        if asymmetric::COVERS_WRITERS {
            self.register_or_fence();
        }
    }

    /// N5: registers this process for `membarrier`; if that fails, sets
    /// `FENCED` and returns `false`.
    #[cfg(feature = "std")]
    fn register_or_fence(&self) -> bool {
        let registered = asymmetric::register();
        if !registered {
            // Relaxed: this process's own later writes see it (program
            // order). Other processes' writers are registered, or set it
            // themselves; those that miss it are why a waiter that had to set
            // it sleeps in slices.
            self.waiters.fetch_or(FENCED, Ordering::Relaxed);
        }
        registered
    }

    #[cold]
    fn wake_all(&self) {
        // Release (N3): a waiter that loads the new epoch with Acquire sees the
        // publication that preceded it.
        self.epoch.fetch_add(1, Ordering::Release);
        futex::wake_all(self);
    }

    /// Sleeps until `check()` is `Newer` or `Closed`, or `deadline` passes
    /// (N2). `check` must load the version with at least an Acquire load of
    /// the head or sequence (and with `Announce::InCheck`, announce the
    /// waiter as N6 says whenever it returns `Same`). `slice`: how often to
    /// check again without being woken, for what no writer wakes anyone for
    /// (a writer process that died, N7); `None`: only when woken.
    #[cfg(feature = "std")]
    pub(crate) fn wait_until(
        &self,
        deadline: Option<std::time::Instant>,
        how: Announce,
        slice: Option<std::time::Duration>,
        check: impl Fn() -> Seen,
    ) -> Outcome {
        match check() {
            Seen::Newer => return Outcome::Newer,
            Seen::Closed => return Outcome::Closed,
            Seen::Same | Seen::Writing => {}
        }
        let sliced = self.announce(how);
        let spin = crate::sync::Spin::new();
        let outcome = loop {
            // Acquire (N3, N7): pairs with the Release bump in `wake_all`.
            let epoch = self.epoch.load(Ordering::Acquire);
            let sliced = match check() {
                Seen::Newer => break Outcome::Newer,
                Seen::Closed => break Outcome::Closed,
                Seen::Same => sliced,
                // N6: the writer may not wake us. Snooze while that is cheap,
                // then sleep in slices (a wake still ends one at once).
                Seen::Writing => {
                    if spin.snooze_more() {
                        continue;
                    }
                    true
                }
            };
            let left = match deadline {
                Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break Outcome::TimedOut,
                },
                None => None,
            };
            let slice = match (sliced, slice) {
                (true, Some(s)) => Some(s.min(FALLBACK_SLICE)),
                (true, None) => Some(FALLBACK_SLICE),
                (false, s) => s,
            };
            let left = match (left, slice) {
                (Some(l), Some(s)) => Some(l.min(s)),
                (l, s) => l.or(s),
            };
            futex::wait(self, epoch, left);
        };
        self.withdraw(how);
        outcome
    }

    /// N2: makes a waiter known to writers that publish as `how` says, with
    /// its half of the barrier (N4); `true` if it must check again in slices
    /// (N5). `Announce::InCheck` waiters announce themselves in their check
    /// (N6) and need nothing here.
    #[cfg(feature = "std")]
    pub(crate) fn announce(&self, how: Announce) -> bool {
        match how {
            Announce::Count(published) => {
                // The store half of the waiter's Dekker pair (N4); the SeqCst
                // fence in `waiter_barrier` right after it orders it against
                // the writer's half, whether that is a SeqCst fence or a
                // SeqCst RMW and load (C++20 [atomics.order] p4.2, p4.3).
                // Release: what the waiter did before (an async task made the
                // object's event, N8) is seen by a writer that sees it.
                self.waiters.fetch_add(1, Ordering::Release);
                !self.waiter_barrier(published)
            }
            Announce::InCheck => false,
        }
    }

    /// Undoes `announce`, when the waiter returns.
    #[cfg(feature = "std")]
    pub(crate) fn withdraw(&self, how: Announce) {
        if let Announce::Count(_) = how {
            // Relaxed: only a count; a writer that still sees it pays one
            // futex wake for nobody, never a missed one (N3 holds for every
            // waiter still announced). (N6's flag is cleared by the next
            // writer instead.)
            self.waiters.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// N8: announces the async tasks of this process together, as one
    /// waiter would (N2), with the same barrier; `true` if they must check
    /// again in slices (N5).
    #[cfg(feature = "async")]
    pub(crate) fn announce_async(&self, how: Announce) -> bool {
        match how {
            Announce::Count(published) => {
                // The store half of the Dekker pair; Release: as in
                // `announce` (the event, made before it).
                self.waiters.fetch_or(ASYNC, Ordering::Release);
                !self.waiter_barrier(published)
            }
            Announce::InCheck => unreachable!("tasks of a SeqLock announce in their check"),
        }
    }

    /// N8: withdraws the async tasks' announcement.
    #[cfg(feature = "async")]
    pub(crate) fn withdraw_async(&self) {
        // Relaxed: as in `withdraw`.
        self.waiters.fetch_and(!ASYNC, Ordering::Relaxed);
    }

    /// The futex word, loaded before a waiter's check (N3).
    #[cfg(feature = "async")]
    pub(crate) fn epoch(&self) -> u32 {
        // Acquire (N3): pairs with the Release bump in `wake_all`.
        self.epoch.load(Ordering::Acquire)
    }

    /// The futex word itself, for the process's bridge thread (`bridge.rs`),
    /// which sleeps on it.
    #[cfg(all(feature = "async", not(noclobber_loom)))]
    pub(crate) fn epoch_word(&self) -> &AtomicU32 {
        &self.epoch
    }

    /// N7: the single writer is gone. Wakes every waiter, whether or not any
    /// announced itself: a waiter that checked before the flag was set sleeps
    /// on the epoch it loaded before that check, which the bump changes.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn close(&self) {
        // Release: the writer's publications happen before a waiter that
        // sees the flag (Acquire in `is_closed`) and then loads the version.
        // The flag is set before the epoch's Release bump in `wake_all`: a
        // waiter that loads the bumped epoch (Acquire) sees the flag, one that
        // loaded the old epoch finds it changed when it sleeps, or is woken
        // (N3's reasoning, with no announcement needed).
        self.waiters.fetch_or(CLOSED, Ordering::Release);
        self.wake_all();
    }

    /// N7: a shared file's writer process was found gone (the kernel
    /// released its lock): wakes every waiter, which then probes the lock
    /// itself. Sets nothing: a successor may already hold the file.
    #[cfg(all(feature = "shm", target_os = "linux", not(noclobber_loom)))]
    pub(crate) fn wake_everyone(&self) {
        self.wake_all();
    }

    /// N7: a successor writer took over (shared files): waits end with
    /// `Closed` no more. Before the successor's first write.
    #[cfg_attr(any(noclobber_loom, not(feature = "shm")), allow(dead_code))]
    pub(crate) fn reopen(&self) {
        // Relaxed: the successor's writes that follow are published by their
        // own Release stores; a waiter that still sees the flag returns
        // `Closed` as it would have a moment earlier.
        self.waiters.fetch_and(!CLOSED, Ordering::Relaxed);
    }

    /// Whether the single writer is gone (N7).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: whatever the writer published before it closed is visible
        // to a caller that sees the flag and then reads.
        self.waiters.load(Ordering::Acquire) & CLOSED != 0
    }
}

/// `wait_newer` of every type: waits until `check()` finds a version newer
/// than the caller's (`TimedOut` if not before the deadline), then returns
/// `read(deadline)`, whose `TimedOut` becomes `Interrupted`: a newer version
/// exists, but no copy of it succeeded in time; `Closed` if `check` found the
/// writer gone first (N7). `how`: how waiters announce themselves (N2, N6);
/// `slice`: as in `Notify::wait_until`.
#[cfg(feature = "std")]
pub(crate) fn wait_newer<T>(
    notify: &Notify,
    timeout: std::time::Duration,
    how: Announce,
    slice: Option<std::time::Duration>,
    check: impl Fn() -> Seen,
    read: impl FnOnce(Option<std::time::Instant>) -> Result<crate::Versioned<T>, Fault>,
) -> Result<crate::Versioned<T>, Fault> {
    let deadline = deadline(timeout);
    match notify.wait_until(deadline, how, slice, check) {
        // The version only moves forward, so what `read` copies is newer too.
        Outcome::Newer => read(deadline).map_err(|e| match e {
            Fault::TimedOut => Fault::Interrupted,
            e => e,
        }),
        Outcome::TimedOut => Err(Fault::TimedOut),
        Outcome::Closed => Err(Fault::Closed),
    }
}

/// Repeats `attempt` while it is interrupted, until `deadline` (then
/// `TimedOut`): the bounded read of every type.
#[cfg(feature = "std")]
pub(crate) fn retry_until<R>(
    deadline: Option<std::time::Instant>,
    mut attempt: impl FnMut() -> Result<R, Fault>,
) -> Result<R, Fault> {
    let spin = crate::sync::Spin::new();
    loop {
        match attempt() {
            Err(Fault::Interrupted) if !passed(deadline) => spin.snooze(),
            Err(Fault::Interrupted) => return Err(Fault::TimedOut),
            done => return done,
        }
    }
}

impl Notify {
    /// The waiter's half of the barrier (N4), after its announcement; `false`
    /// if a writer's light half might not pair with it (the waiter then
    /// sleeps in slices). For writers that publish by store, it registers
    /// this process first (N5): in process, it is also the writers'.
    #[cfg(feature = "std")]
    fn waiter_barrier(&self, how: Published) -> bool {
        fence(Ordering::SeqCst);
        if let Published::BySeqCstRmw = how {
            // The fence pairs with the writer's SeqCst RMW and load (N4).
            return true;
        }
        if !asymmetric::COVERS_WRITERS {
            // Writers take the fence (loom, Miri: the fences are the model).
            return cfg!(any(noclobber_loom, miri)) || asymmetric::heavy_barrier();
        }
        self.register_or_fence() && asymmetric::heavy_barrier()
    }
}

#[cfg(all(feature = "async", not(noclobber_loom)))]
mod bridge;
mod listeners;
mod platform;
#[cfg(feature = "async")]
mod wait_async;
#[cfg(feature = "async")]
pub(crate) use listeners::{Event, Group};
pub(crate) use listeners::{Grouped, Listeners, Local};
#[cfg(all(feature = "shm", not(noclobber_loom)))]
pub(crate) use platform::SharedWaiting;
use platform::{asymmetric, futex};
#[cfg(feature = "async")]
pub(crate) use wait_async::Target;
#[cfg(feature = "async")]
pub use wait_async::WaitNewer;

/// The instant `timeout` from now; `None` (never) if it is out of range.
#[cfg(feature = "std")]
pub(crate) fn deadline(timeout: std::time::Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(timeout)
}

/// Whether `deadline` has passed.
#[cfg(feature = "std")]
pub(crate) fn passed(deadline: Option<std::time::Instant>) -> bool {
    deadline.is_some_and(|d| std::time::Instant::now() >= d)
}

/// N5's `FENCED` bit, on ordinary memory.
#[cfg(all(test, feature = "std", not(noclobber_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::{Duration, Instant};

    /// A `FENCED` object with nobody waiting: writes take the fence but wake
    /// nobody (the bit is no waiter); a waiter is still woken by the next
    /// write, and leaves the bit behind when it withdraws.
    #[test]
    fn a_fenced_object_wakes_waiters_and_only_them() {
        let n = Notify::new();
        n.waiters.fetch_or(FENCED, Ordering::Relaxed);
        for how in [Published::ByStore, Published::BySeqCstRmw] {
            n.wake(how);
        }
        assert_eq!(n.epoch.load(Ordering::Relaxed), 0, "woke nobody's futex");
        let version = AtomicU64::new(0);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let start = Instant::now();
                let deadline = Instant::now() + Duration::from_secs(30);
                let newer = || Seen::newer_if(version.load(Ordering::Acquire) > 0);
                let how = Announce::Count(Published::ByStore);
                let woken = n.wait_until(Some(deadline), how, None, newer);
                (woken == Outcome::Newer, start.elapsed())
            });
            while n.waiters.load(Ordering::Relaxed) & !FENCED == 0 {
                std::thread::yield_now();
            }
            version.store(1, Ordering::Release);
            n.wake(Published::ByStore);
            let (woken, took) = waiter.join().unwrap();
            assert!(woken && took < Duration::from_secs(20), "{took:?}");
        });
        assert_eq!(n.waiters.load(Ordering::Relaxed), FENCED);
        assert_eq!(n.epoch.load(Ordering::Relaxed), 1);
    }
}
