//! The async tasks waiting on an object in process memory (feature `async`):
//! what such an object adds to its [`Notify`](super::Notify). A writer that
//! finds waiters (the slow path of N1) wakes them too, so that the fast path
//! stays the one load of the waiter word. Objects in shared files have `()`:
//! their async waiters are woken by the process's bridge thread
//! (`bridge.rs`), since the writer may be another process.

/// What an object keeps for its async waiters.
pub(crate) trait Listeners: Sync {
    /// Wakes every async waiter; called after the futex wake of a writer
    /// that found waiters on `notify` (the object's), or of a close.
    fn wake(&self, notify: &super::Notify);

    /// The event async waiters listen on; `None` for objects in shared files.
    #[cfg(feature = "async")]
    fn event(&self) -> Option<&Event> {
        None
    }

    /// The one announcement the object's async waiters share, where each
    /// announcement costs a system call (`Group`).
    #[cfg(feature = "async")]
    fn group(&self) -> Option<&Group> {
        None
    }
}

impl Listeners for () {
    #[inline(always)]
    fn wake(&self, _: &super::Notify) {}
}

/// The async waiters of an object in process memory: an event (a loom model
/// of one under loom), or nothing without `async`.
pub(crate) struct Local {
    #[cfg(feature = "async")]
    event: Event,
}

impl Local {
    #[cfg(not(noclobber_loom))]
    pub(crate) const fn new() -> Self {
        Local {
            #[cfg(feature = "async")]
            event: Event::new(),
        }
    }

    #[cfg(noclobber_loom)]
    pub(crate) fn new() -> Self {
        Local {
            #[cfg(feature = "async")]
            event: Event::new(),
        }
    }
}

impl Listeners for Local {
    #[inline]
    fn wake(&self, _: &super::Notify) {
        #[cfg(feature = "async")]
        self.event.notify_all();
    }

    #[cfg(feature = "async")]
    fn event(&self) -> Option<&Event> {
        Some(&self.event)
    }
}

/// The event of an object in process memory: a `tokio::sync::Notify` (the
/// `sync` module alone, which needs no runtime and works on any executor),
/// made at the first wait (writers notify nothing until then), or under
/// loom a model of one.
///
/// Tokio's `Notify` rather than `event-listener` or `async-event`: those
/// wake the listed tasks while they hold their list's lock, which a task
/// just woken on another CPU then wants too (to leave the list), while
/// `notify_waiters` takes the wakers out under the lock and wakes them after
/// releasing it. Measured in a ping-pong of two tasks (`benches`), the
/// difference is a futex wait and wake, and two context switches, per
/// wake-up.
#[cfg(all(feature = "async", not(noclobber_loom)))]
pub(crate) struct Event(once_cell::race::OnceBox<[tokio::sync::Notify; SHARDS]>);

/// How many lists an event spreads its tasks over (tokio's `watch` uses 8
/// too): a task registers in its thread's, so that the tasks of different
/// threads contend for no lock but the notifier's, which takes them all.
#[cfg(all(feature = "async", not(noclobber_loom)))]
const SHARDS: usize = 8;

#[cfg(all(feature = "async", not(noclobber_loom)))]
impl Event {
    const fn new() -> Self {
        Event(once_cell::race::OnceBox::new())
    }

    /// Makes the event, before a task announces itself (N8): a writer that
    /// sees the announcement then sees the event (see `notify_all`).
    pub(crate) fn prepare(&self) -> &[tokio::sync::Notify; SHARDS] {
        self.0.get_or_init(|| {
            alloc::boxed::Box::new(core::array::from_fn(|_| tokio::sync::Notify::new()))
        })
    }

    /// A wait on this event (in this thread's list).
    pub(crate) fn wait(&self) -> Waiting<'_> {
        std::thread_local! {
            static SHARD: usize = {
                static NEXT: core::sync::atomic::AtomicUsize =
                    core::sync::atomic::AtomicUsize::new(0);
                // Relaxed: only spreads threads over the lists.
                NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) % SHARDS
            };
        }
        let shard = SHARD.try_with(|s| *s).unwrap_or(0);
        Waiting {
            notify: &self.prepare()[shard],
            notified: None,
        }
    }

    fn notify_all(&self) {
        // The event exists if any task ever waited: one made by a waiter
        // before it announced itself (`prepare`) is seen here (Acquire, in
        // `get`) by a writer that saw the announcement: the announcing RMW
        // is Release, and the writer's `waiters` loads are SeqCst (Acquire);
        // later changes of the word are RMWs, in its release sequence.
        // Then every `Notified` registered (`enable`d) before this call is
        // woken, and one registered after it reads the count of calls this
        // one bumped (under the list's lock, after the publication), so the
        // check that follows its registration sees the publication.
        if let Some(lists) = self.0.get() {
            lists.iter().for_each(tokio::sync::Notify::notify_waiters);
        }
    }
}

/// A task's wait on an event, polled until its predicate holds.
#[cfg(all(feature = "async", not(noclobber_loom)))]
pub(crate) struct Waiting<'a> {
    notify: &'a tokio::sync::Notify,
    /// The registration, boxed: a `Notified` must not move once enabled.
    notified: Option<core::pin::Pin<alloc::boxed::Box<tokio::sync::futures::Notified<'a>>>>,
}

#[cfg(all(feature = "async", not(noclobber_loom)))]
impl Waiting<'_> {
    /// The first time: registers the task, runs `recheck`, and is `Ready`
    /// if that says the wait is over. Then: `Ready` once notified (the
    /// caller checks again). A notified registration is consumed without the
    /// list's lock, so the caller polls this before anything else when it
    /// is woken.
    pub(crate) fn poll(
        &mut self,
        cx: &mut core::task::Context<'_>,
        recheck: impl FnOnce() -> bool,
    ) -> core::task::Poll<()> {
        use core::future::Future as _;
        use core::task::Poll;
        let notified = match &mut self.notified {
            Some(notified) => notified,
            None => {
                // Registered now: a `notify_waiters` from here on wakes it.
                let mut notified = alloc::boxed::Box::pin(self.notify.notified());
                notified.as_mut().enable();
                if recheck() {
                    return Poll::Ready(());
                }
                self.notified.insert(notified)
            }
        };
        match notified.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.notified = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Loom: a list of wakers behind a loom mutex, drained and woken by
/// `notify_all` (loom does not model tokio's internals).
#[cfg(all(feature = "async", noclobber_loom))]
pub(crate) struct Event {
    wakers: loom::sync::Mutex<alloc::vec::Vec<core::task::Waker>>,
}

#[cfg(all(feature = "async", noclobber_loom))]
impl Event {
    /// The model needs no making.
    pub(crate) fn prepare(&self) {}

    fn new() -> Self {
        Event {
            wakers: loom::sync::Mutex::new(alloc::vec::Vec::new()),
        }
    }

    pub(crate) fn wait(&self) -> Waiting<'_> {
        Waiting {
            event: self,
            registered: false,
        }
    }

    fn notify_all(&self) {
        let wakers = core::mem::take(&mut *self.wakers.lock().unwrap());
        wakers.into_iter().for_each(core::task::Waker::wake);
    }
}

#[cfg(all(feature = "async", noclobber_loom))]
pub(crate) struct Waiting<'a> {
    event: &'a Event,
    /// Registered (and not known to be notified).
    registered: bool,
}

#[cfg(all(feature = "async", noclobber_loom))]
impl Waiting<'_> {
    /// As the real one: register and check the predicate the first time;
    /// later, `Ready` at the first poll after a wake-up (the model's
    /// executor polls only then; the caller checks again either way).
    pub(crate) fn poll(
        &mut self,
        cx: &mut core::task::Context<'_>,
        recheck: impl FnOnce() -> bool,
    ) -> core::task::Poll<()> {
        if self.registered {
            self.registered = false;
            return core::task::Poll::Ready(());
        }
        self.event.wakers.lock().unwrap().push(cx.waker().clone());
        if recheck() {
            return core::task::Poll::Ready(());
        }
        self.registered = true;
        core::task::Poll::Pending
    }
}

/// The async waiters of an object in process memory whose waiters are
/// counted (all but the `SeqLock`, whose waiters flag its sequence): its
/// event, and one announcement for all of them ([`Group`]).
pub(crate) struct Grouped {
    local: Local,
    #[cfg(feature = "async")]
    group: Group,
}

impl Grouped {
    #[cfg(not(noclobber_loom))]
    pub(crate) const fn new() -> Self {
        Grouped {
            local: Local::new(),
            #[cfg(feature = "async")]
            group: Group::new(),
        }
    }

    /// Under loom: loom's atomics are not `const`.
    #[cfg(noclobber_loom)]
    pub(crate) fn new() -> Self {
        Grouped {
            local: Local::new(),
            #[cfg(feature = "async")]
            group: Group::new(),
        }
    }
}

impl Listeners for Grouped {
    #[inline]
    fn wake(&self, notify: &super::Notify) {
        self.local.wake(notify);
        #[cfg(feature = "async")]
        self.group.retire_if_idle(notify);
    }

    #[cfg(feature = "async")]
    fn event(&self) -> Option<&Event> {
        self.local.event()
    }

    #[cfg(feature = "async")]
    fn group(&self) -> Option<&Group> {
        Some(&self.group)
    }
}

/// The async tasks of this process that wait on one object, announced
/// together (N8 in `notify/mod.rs`): a task needs no announcement and no
/// barrier of its own, which matters most for an object whose writer
/// publishes by a store, where a waiter's barrier is a `membarrier` that
/// takes microseconds while other CPUs run this process.
///
/// The first task to join a group with no announcement (the state goes from
/// 0 to one task) sets the object's `ASYNC` bit with its barrier
/// (`Notify::announce_async`), then `READY` here (Release; with `SLICED` if
/// its barrier failed, N5). A task that joins later and reads `READY`
/// (Acquire) needs nothing more: the opener's fence happens before its
/// checks, and the bit stands while it is counted. Then for any publication,
/// either the writer's barrier comes after the opener's in the `SeqCst`
/// order and its `waiters` load sees the bit (it notifies the event), or it
/// comes before, and the publication happens before the opener's fence,
/// which happens before the task's check: the check sees it (C++20
/// [atomics.order] p4.4). A task that joins while the opener is still in
/// its barrier, or while the group is being retired, announces itself on its
/// own (counted in `waiters`, like a thread).
///
/// When the last task leaves, the announcement stays (`READY`, no task), so
/// that a task that waits again soon needs no barrier either. A writer that
/// finds waiters notifies the event and then looks here: each time it finds
/// the group without tasks it counts a strike, and the next task to wait
/// clears them (whether it joins, or finds a newer version at once). At
/// [`MAX_STRIKES`] (no task waited for that many publications) it retires
/// the announcement: it takes the group from exactly that state to
/// `RETIRING` by a CAS (which fails if a task joined meanwhile), clears the
/// `ASYNC` bit, and then clears `RETIRING`. So with nobody waiting, writers
/// pay that many slow paths after the last task left (an event notification
/// each, no futex wake), then nothing; a task that waits again and again
/// (behind a writer that publishes again before it is back) pays no barrier.
#[cfg(feature = "async")]
pub(crate) struct Group {
    /// The tasks counted, times [`ONE`], plus the flags below.
    state: crate::sync::AtomicU32,
}

/// Bit of `Group::state`: the `ASYNC` announcement stands, barrier made.
#[cfg(feature = "async")]
const READY: u32 = 1;
/// Bit of `Group::state`: the opener's barrier failed (N5): tasks check
/// again in slices.
#[cfg(feature = "async")]
const SLICED: u32 = 1 << 1;
/// Bits of `Group::state`: how many publications in a row found the group
/// without tasks, in units of [`STRIKE`].
#[cfg(feature = "async")]
const STRIKES: u32 = 0b111 << 2;
/// One strike in `Group::state`.
#[cfg(feature = "async")]
const STRIKE: u32 = 1 << 2;
/// The strikes after which the next publication retires the announcement.
#[cfg(feature = "async")]
const MAX_STRIKES: u32 = STRIKES;
/// Bit of `Group::state`: a writer is withdrawing the announcement.
#[cfg(feature = "async")]
const RETIRING: u32 = 1 << 5;
/// One task in `Group::state`.
#[cfg(feature = "async")]
const ONE: u32 = 1 << 6;

/// How a task is announced, for [`Group::leave`].
#[cfg(feature = "async")]
#[derive(Clone, Copy)]
pub(crate) enum Joined {
    /// By the group's announcement.
    Group,
    /// On its own, counted in `waiters`: it joined while the opener was in
    /// its barrier, or while a writer retired the announcement.
    Own,
}

#[cfg(feature = "async")]
impl Group {
    #[cfg(not(noclobber_loom))]
    const fn new() -> Self {
        Group {
            state: crate::sync::AtomicU32::new(0),
        }
    }

    #[cfg(noclobber_loom)]
    fn new() -> Self {
        Group {
            state: crate::sync::AtomicU32::new(0),
        }
    }

    /// A task joins the object's async waiters: how it is announced, and
    /// whether it must check again in slices (N5).
    pub(crate) fn join(&self, notify: &super::Notify, how: super::Announce) -> (Joined, bool) {
        use crate::sync::Ordering;
        // Acquire: a `READY` read here, through the release sequence of the
        // opener's Release RMW (every later change of the word is an RMW),
        // makes the opener's barrier happen before this task's checks.
        let was = self.state.fetch_add(ONE, Ordering::Acquire);
        if was & READY != 0 {
            if was & STRIKES != 0 {
                // Relaxed: only a hint for writers, who retire nothing while
                // this task is counted.
                self.state.fetch_and(!STRIKES, Ordering::Relaxed);
            }
            (Joined::Group, was & SLICED != 0)
        } else if was == 0 {
            // The opener: announce for the group, with the barrier.
            let sliced = notify.announce_async(how);
            let ready = if sliced { READY | SLICED } else { READY };
            // Release: after the opener's fence (see above).
            self.state.fetch_or(ready, Ordering::Release);
            (Joined::Group, sliced)
        } else {
            // An opener in its barrier, or a writer retiring.
            (Joined::Own, notify.announce(how))
        }
    }

    /// A task is waiting (or found a newer version at once, without
    /// joining): the group is in use; its strikes go.
    #[inline]
    pub(crate) fn touch(&self) {
        use crate::sync::Ordering;
        // Relaxed: only a hint for writers (see `join`).
        if self.state.load(Ordering::Relaxed) & STRIKES != 0 {
            self.state.fetch_and(!STRIKES, Ordering::Relaxed);
        }
    }

    /// Undoes `join`, when the task's wait ends or is dropped.
    pub(crate) fn leave(&self, notify: &super::Notify, how: super::Announce, joined: Joined) {
        use crate::sync::Ordering;
        if let Joined::Own = joined {
            notify.withdraw(how);
        }
        // Relaxed: a count (an RMW, so it continues the release sequence of
        // `READY` for later joiners).
        self.state.fetch_sub(ONE, Ordering::Relaxed);
    }

    /// A writer found waiters and notified the event: it counts a strike if
    /// the group has no task, and past [`MAX_STRIKES`] retires the
    /// announcement (see above).
    pub(crate) fn retire_if_idle(&self, notify: &super::Notify) {
        use crate::sync::Ordering;
        // Relaxed (all): the group's own bookkeeping; a task that joins
        // reads `READY` only from a state no CAS below replaced, and one that
        // joins after a retirement opens anew.
        let state = self.state.load(Ordering::Relaxed);
        if state & !(SLICED | STRIKES) != READY {
            return; // tasks counted, no announcement, or retiring
        }
        let next = match state & STRIKES {
            MAX_STRIKES => RETIRING,
            _ => state + STRIKE,
        };
        if self
            .state
            .compare_exchange(state, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            && next == RETIRING
        {
            notify.withdraw_async();
            // Tasks that joined meanwhile announced themselves on their own.
            self.state.fetch_and(!RETIRING, Ordering::Relaxed);
        }
    }

    /// The whole state: the tasks counted, times `ONE`, plus the flags.
    #[cfg(all(test, not(noclobber_loom)))]
    pub(crate) fn state(&self) -> u32 {
        self.state.load(crate::sync::Ordering::Relaxed)
    }
}
