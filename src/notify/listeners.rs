//! The async tasks waiting on an object in process memory (feature `async`):
//! what such an object adds to its [`Notify`](super::Notify). A writer that
//! finds waiters (the slow path of N1) wakes them too, so that the fast path
//! stays the one load of the waiter word. Objects in shared files have `()`:
//! their async waiters are woken by the process's bridge thread
//! (`bridge.rs`), since the writer may be another process.

/// What an object keeps for its async waiters.
pub(crate) trait Listeners: Sync {
    /// Wakes every async waiter; called after the futex wake of a writer
    /// that found waiters, or of a close.
    fn wake(&self);

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
    fn wake(&self) {}
}

/// The async waiters of an object in process memory: an `event_listener`
/// event (a loom model of one under loom), or nothing without `async`.
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
    fn wake(&self) {
        #[cfg(feature = "async")]
        self.event.notify_all();
    }

    #[cfg(feature = "async")]
    fn event(&self) -> Option<&Event> {
        Some(&self.event)
    }
}

/// `event_listener::Event`, or under loom a model of it: a list of wakers
/// behind a loom mutex, drained and woken by `notify_all`.
#[cfg(all(feature = "async", not(noclobber_loom)))]
pub(crate) struct Event(event_listener::Event);

#[cfg(all(feature = "async", not(noclobber_loom)))]
impl Event {
    const fn new() -> Self {
        Event(event_listener::Event::new())
    }

    /// A listener registered now: a `notify_all` from here on wakes it.
    pub(crate) fn listen(&self) -> Listener {
        Listener(self.0.listen())
    }

    fn notify_all(&self) {
        // Every listener, with event-listener's SeqCst fence (not `relaxed`):
        // a listener registered before this call is woken; one registered
        // after re-checks the version and sees the publication (its
        // registration and this call take the event's lock in turn).
        self.0.notify(usize::MAX);
    }
}

/// A registered listener, polled as a future.
#[cfg(all(feature = "async", not(noclobber_loom)))]
pub(crate) struct Listener(event_listener::EventListener);

#[cfg(all(feature = "async", not(noclobber_loom)))]
impl Listener {
    /// `Ready` once notified.
    pub(crate) fn poll(&mut self, cx: &mut core::task::Context<'_>) -> core::task::Poll<()> {
        core::pin::Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(all(feature = "async", not(noclobber_loom)))]
use core::future::Future as _;

/// Loom: the waker list a notification drains (loom does not model
/// event-listener's internals).
#[cfg(all(feature = "async", noclobber_loom))]
pub(crate) struct Event {
    inner: loom::sync::Arc<loom::sync::Mutex<EventState>>,
}

#[cfg(all(feature = "async", noclobber_loom))]
#[derive(Default)]
struct EventState {
    /// Notifications so far: a listener is notified once this passes the
    /// count it registered at.
    notified: u64,
    wakers: alloc::vec::Vec<core::task::Waker>,
}

#[cfg(all(feature = "async", noclobber_loom))]
impl Event {
    fn new() -> Self {
        Event {
            inner: Default::default(),
        }
    }

    pub(crate) fn listen(&self) -> Listener {
        let at = self.inner.lock().unwrap().notified;
        Listener {
            inner: self.inner.clone(),
            at,
        }
    }

    fn notify_all(&self) {
        let wakers = {
            let mut state = self.inner.lock().unwrap();
            state.notified += 1;
            core::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(core::task::Waker::wake);
    }
}

#[cfg(all(feature = "async", noclobber_loom))]
pub(crate) struct Listener {
    inner: loom::sync::Arc<loom::sync::Mutex<EventState>>,
    at: u64,
}

#[cfg(all(feature = "async", noclobber_loom))]
impl Listener {
    pub(crate) fn poll(&mut self, cx: &mut core::task::Context<'_>) -> core::task::Poll<()> {
        let mut state = self.inner.lock().unwrap();
        if state.notified > self.at {
            return core::task::Poll::Ready(());
        }
        state.wakers.push(cx.waker().clone());
        core::task::Poll::Pending
    }
}

/// The async waiters of a single-writer object in process memory: its event,
/// and one announcement for all of them ([`Group`]).
pub(crate) struct Grouped {
    local: Local,
    #[cfg(feature = "async")]
    group: Group,
}

impl Grouped {
    pub(crate) fn new() -> Self {
        Grouped {
            local: Local::new(),
            #[cfg(feature = "async")]
            group: Group {
                state: crate::sync::AtomicU32::new(0),
            },
        }
    }
}

impl Listeners for Grouped {
    #[inline]
    fn wake(&self) {
        self.local.wake();
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

/// One announcement (N2) shared by the async waiters of an object whose
/// writer publishes by a store: each announcement there costs the waiter a
/// `membarrier` (N4), which takes microseconds while other CPUs run this
/// process, too much per task when a thousand tasks follow one object.
///
/// The first task to join (the count goes from 0 to 1) announces itself with
/// its barrier, for the group, and then sets `READY` (Release). A task that
/// joins later and reads `READY` (Acquire) needs no barrier of its own: the
/// opener's fence happens before its checks, and the group's announcement
/// stands while it is counted. Then for any publication, either the writer's
/// barrier comes after the opener's in the `SeqCst` order and its `waiters`
/// load sees the announcement (it wakes the event), or it comes before, and
/// the publication happens before the opener's fence, which happens before
/// the task's check: the check sees it (C++20 [atomics.order] p4.4). A task
/// that joins while the opener is still in its barrier announces itself on
/// its own. The last task to leave (the count goes back to 0) clears `READY`
/// in the same step and withdraws the group's announcement.
#[cfg(feature = "async")]
pub(crate) struct Group {
    /// The tasks counted, times [`ONE`], plus [`READY`].
    state: crate::sync::AtomicU32,
}

/// Bit of `Group::state`: the group's announcement stands, barrier made.
#[cfg(feature = "async")]
const READY: u32 = 1;

/// One task in `Group::state`.
#[cfg(feature = "async")]
const ONE: u32 = 2;

/// How a task is announced, for [`Group::leave`].
#[cfg(feature = "async")]
#[derive(Clone, Copy)]
pub(crate) enum Joined {
    /// By the group's announcement alone.
    Group,
    /// On its own as well: it joined while the opener was in its barrier.
    AlsoOwn,
}

#[cfg(feature = "async")]
impl Group {
    /// A task joins the object's async waiters: how it is announced, and
    /// whether it must check again in slices (N5: the barrier failed).
    pub(crate) fn join(&self, notify: &super::Notify, how: super::Announce) -> (Joined, bool) {
        use crate::sync::Ordering;
        // Acquire: a `READY` read here, through the release sequence of the
        // opener's Release RMW, makes the opener's barrier happen before
        // this task's checks.
        let was = self.state.fetch_add(ONE, Ordering::Acquire);
        if was < ONE {
            // The opener: announce for the group, with the barrier.
            let sliced = notify.announce(how);
            if !sliced {
                // Release: after the opener's fence (see above).
                self.state.fetch_or(READY, Ordering::Release);
            }
            (Joined::Group, sliced)
        } else if was & READY != 0 {
            (Joined::Group, false)
        } else {
            // The opener's barrier is not made yet (or failed).
            (Joined::AlsoOwn, notify.announce(how))
        }
    }

    /// The whole state: the tasks counted, times 2, plus `READY`.
    #[cfg(test)]
    pub(crate) fn state(&self) -> u32 {
        self.state.load(crate::sync::Ordering::Relaxed)
    }

    /// Undoes `join`, when the task's wait ends or is dropped.
    pub(crate) fn leave(&self, notify: &super::Notify, how: super::Announce, joined: Joined) {
        use crate::sync::Ordering;
        if let Joined::AlsoOwn = joined {
            notify.withdraw(how);
        }
        // Relaxed: a count. The last task clears `READY` with it, so a task
        // that joins next is an opener and announces anew. (A Relaxed RMW
        // still continues the opener's release sequence for later joiners.)
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let next = if state >> 1 == 1 { 0 } else { state - ONE };
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(found) => state = found,
            }
        }
        if state >> 1 == 1 {
            // The last one: the group's announcement goes.
            notify.withdraw(how);
        }
    }
}
