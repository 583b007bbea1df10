//! [`WaitNewer`], the future of every async wait (feature `async`):
//! `wait_newer_async` on every type and handle, and through it
//! `Cursor::changed`.
//!
//! It follows the blocking protocol (N2, N3, N6, N7) with two ways to be
//! woken instead of a futex sleep:
//!
//! * **In process** the object's writers notify its event (`listeners.rs`)
//!   on the slow path where they find waiters (N8). The order is announce,
//!   register with the event, check, then await the notification: a
//!   notification before the registration went with a publication the check
//!   then sees, one after it wakes the task.
//! * **Otherwise** (a shared file, whose writer may be another process; N5's
//!   slices; a write in progress under N6; N7's probe of a shared writer) the
//!   future registers the object's futex word, with the value loaded before
//!   its check (N3), and a deadline if it must look again anyway, with the
//!   process's bridge thread (`bridge.rs`), which wakes it.
//!
//! A dropped future withdraws what it announced and registered, and loses
//! nothing: the versions it did not return are still there to read. A
//! timeout is the caller's runtime's timeout around the future.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Duration;

use super::listeners::{Event, Group, Joined, Waiting};
use super::{Announce, Notify, Seen, FALLBACK_SLICE};
use crate::error::{CorruptAs, Fault};
use crate::{Versioned, WaitError};

/// How many times a copy interrupted by newer publications is retried at
/// once before the future lets other tasks run for a slice.
const RETRIES: usize = 64;

/// What an async wait needs from an object: its blocking wait's parts.
pub(crate) trait Target<T> {
    /// The waiter words; `None` for an object whose waiters cannot announce
    /// themselves (a read-only mapping): its waits check every slice.
    fn notify(&self) -> Option<&Notify>;

    /// The event of an object in process memory; `None` for a shared file.
    fn event(&self) -> Option<&Event> {
        None
    }

    /// The announcement the object's async waiters share, if they do.
    fn group(&self) -> Option<&Group> {
        None
    }

    /// How the object's waiters announce themselves (N2, N6).
    fn how(&self) -> Announce;

    /// Check again at least this often without being woken (N7's probe).
    fn slice(&self) -> Option<Duration> {
        None
    }

    /// The blocking wait's check: whether there is a version newer than
    /// `seen` (announcing the waiter where `how` is `InCheck`), or the
    /// writer is gone.
    fn check(&self, seen: u64) -> Seen;

    /// One attempt at a copy.
    fn attempt(&self) -> Result<Versioned<T>, Fault>;
}

/// The future of `wait_newer_async`: resolves to the first version newer
/// than the one given, as `wait_newer` returns it, without blocking a thread.
///
/// Works on any executor (it needs no runtime); with nobody waiting, writers
/// pay the same single load as without the feature. Dropping it before it
/// completes loses nothing and leaves nothing registered. It has no timeout
/// of its own: wrap it in your runtime's (`tokio::time::timeout`), and it
/// never returns [`WaitError::TimedOut`].
///
/// Objects in process memory wake their waiting tasks themselves; the
/// `shm` handles, whose writer may be another process, are watched by one
/// thread per process that sleeps on all their futex words at once (see
/// the `shm` docs for its cost).
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     struct Unpark(std::thread::Thread);
/// #     impl std::task::Wake for Unpark {
/// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
/// #     }
/// #     let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
/// #             std::task::Poll::Ready(v) => return v,
/// #             std::task::Poll::Pending => std::thread::park(),
/// #         }
/// #     }
/// # }
/// use std::{future::Future, pin::pin, task::{Context, Waker}};
///
/// let lock = noclobber::SeqLock::new(0u32);
/// // Nothing newer than version 0 yet: a poll leaves it pending.
/// let mut wait = pin!(lock.wait_newer_async(0));
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// lock.write(1);
/// // Completes with the new version (on any executor: tokio, smol,
/// // futures::executor::block_on).
/// assert_eq!(block_on(wait).unwrap().value, 1);
/// // Dropping a pending wait loses nothing: the next one returns version 2.
/// let mut dropped = Box::pin(lock.wait_newer_async(1));
/// assert!(dropped.as_mut().poll(&mut cx).is_pending());
/// drop(dropped);
/// lock.write(2);
/// assert_eq!(block_on(lock.wait_newer_async(1)).unwrap().version, 2);
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct WaitNewer<'a, T, C = core::convert::Infallible> {
    target: &'a (dyn Target<T> + Sync),
    seen: u64,
    /// `Fault::into_wait` for `C`.
    error: fn(Fault) -> WaitError<C>,
    /// How this wait announced itself (and must withdraw), once it has.
    announced: Option<Announced>,
    /// N5: no writer's barrier pairs with ours (or no writer can know of
    /// us): check again in slices.
    sliced: bool,
    /// The wait on the object's event (in process memory).
    waiting: Option<Waiting<'a>>,
    #[cfg(not(noclobber_loom))]
    ticket: Option<super::bridge::Ticket>,
    done: bool,
    out: PhantomData<fn() -> T>,
}

impl<'a, T, C: CorruptAs> WaitNewer<'a, T, C> {
    pub(crate) fn new(target: &'a (dyn Target<T> + Sync), seen: u64) -> Self {
        WaitNewer {
            target,
            seen,
            error: Fault::into_wait::<C>,
            announced: None,
            sliced: false,
            waiting: None,
            #[cfg(not(noclobber_loom))]
            ticket: None,
            done: false,
            out: PhantomData,
        }
    }
}

impl<T, C> WaitNewer<'_, T, C> {
    fn finish(&mut self, result: Result<Versioned<T>, Fault>) -> Poll<<Self as Future>::Output> {
        self.release();
        self.done = true;
        Poll::Ready(result.map_err(self.error))
    }

    /// Makes the wait known to writers (N2); whether it must check again in
    /// slices (N5, or no waiter words at all).
    fn announce(&mut self) -> bool {
        let (target, how) = (self.target, self.target.how());
        let Some(notify) = target.notify() else {
            self.announced = Some(Announced::Nowhere);
            return true;
        };
        if let Some(event) = target.event() {
            event.prepare();
        }
        let (announced, sliced) = match target.group() {
            Some(group) => {
                let (joined, sliced) = group.join(notify, how);
                (Announced::InGroup(joined), sliced)
            }
            None => (Announced::Alone, notify.announce(how)),
        };
        self.announced = Some(announced);
        sliced
    }

    /// Withdraws what this wait announced and registered.
    fn release(&mut self) {
        let (target, how) = (self.target, self.target.how());
        match (self.announced.take(), target.notify(), target.group()) {
            (Some(Announced::Alone), Some(notify), _) => notify.withdraw(how),
            (Some(Announced::InGroup(joined)), Some(notify), Some(group)) => {
                group.leave(notify, how, joined);
            }
            _ => {}
        }
        self.waiting = None;
        self.forget();
    }

    fn forget(&mut self) {
        #[cfg(not(noclobber_loom))]
        if let Some(ticket) = self.ticket.take() {
            super::bridge::forget(ticket);
        }
    }

    /// Registers with the bridge thread: woken when the futex word leaves
    /// `epoch` (if given), or at the slice's end.
    #[cfg(not(noclobber_loom))]
    fn sleep(
        &mut self,
        cx: &mut Context<'_>,
        epoch: Option<u32>,
        slice: Option<Duration>,
    ) -> Poll<<Self as Future>::Output> {
        let deadline = slice.and_then(|s| std::time::Instant::now().checked_add(s));
        let word = self
            .target
            .notify()
            .zip(epoch)
            .map(|(n, e)| (n.epoch_word(), e));
        self.ticket = Some(super::bridge::register(word, deadline, cx.waker()));
        Poll::Pending
    }

    /// Loom has no bridge thread (and its models no shared files): the
    /// future yields to the other threads and asks to be polled again.
    #[cfg(noclobber_loom)]
    fn sleep(
        &mut self,
        cx: &mut Context<'_>,
        _epoch: Option<u32>,
        _slice: Option<Duration>,
    ) -> Poll<<Self as Future>::Output> {
        loom::thread::yield_now();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T, C> Future for WaitNewer<'_, T, C> {
    type Output = Result<Versioned<T>, WaitError<C>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "noclobber: a wait polled after it completed");
        if this.announced.is_none() {
            if let Some(group) = this.target.group() {
                group.touch();
            }
        }
        // A registration of the last poll is spent (woken) or stale.
        this.forget();
        // Woken by the event: take the notification first, which needs no
        // lock (dropping a registration not taken would).
        if let Some(waiting) = &mut this.waiting {
            if waiting.poll(cx, || true).is_ready() {
                this.waiting = None;
            }
        }
        let target = this.target;
        let mut retries = 0;
        loop {
            // Before the check (N3): the value the bridge thread sleeps on.
            let epoch = target.notify().map(Notify::epoch);
            match target.check(this.seen) {
                Seen::Newer => match target.attempt() {
                    Ok(v) => return this.finish(Ok(v)),
                    // Newer publications came during the copy: progress.
                    // Retry, and after a while give other tasks a slice.
                    Err(Fault::Interrupted) if retries < RETRIES => {
                        retries += 1;
                        continue;
                    }
                    Err(Fault::Interrupted) => return this.sleep(cx, epoch, Some(FALLBACK_SLICE)),
                    Err(e) => return this.finish(Err(e)),
                },
                Seen::Closed => return this.finish(Err(Fault::Closed)),
                // N6: the writer may not wake us; look again after a slice.
                Seen::Writing => return this.sleep(cx, epoch, Some(FALLBACK_SLICE)),
                Seen::Same => {}
            }
            if this.announced.is_none() {
                this.sliced = this.announce();
                // Check again, now that writers see us (N2).
                continue;
            }
            // How long it may sleep before it must check again anyway.
            let slice = match this.sliced {
                true => Some(
                    target
                        .slice()
                        .map_or(FALLBACK_SLICE, |s| s.min(FALLBACK_SLICE)),
                ),
                false => target.slice(),
            };
            let Some(event) = target.event() else {
                // A shared file: the bridge thread sleeps on the futex word.
                return this.sleep(cx, epoch, slice);
            };
            let seen = this.seen;
            let waiting = this.waiting.get_or_insert_with(|| event.wait());
            // Checked again once the task is registered with the event.
            let recheck = || target.check(seen) != Seen::Same;
            match waiting.poll(cx, recheck) {
                // Something to look at: the full check again, above.
                Poll::Ready(()) => this.waiting = None,
                // N5: a writer may miss us; the bridge thread's timer has us
                // check again at the slice's end.
                Poll::Pending if slice.is_some() => return this.sleep(cx, None, slice),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// How a wait made itself known to writers.
#[derive(Clone, Copy)]
enum Announced {
    /// In the object's waiter count, on its own.
    Alone,
    /// Through the object's async group (`Group`).
    InGroup(Joined),
    /// It cannot (a read-only mapping): it checks every slice.
    Nowhere,
}

impl<T, C> Drop for WaitNewer<'_, T, C> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<T, C> fmt::Debug for WaitNewer<'_, T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitNewer")
            .field("seen", &self.seen)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// What a wait leaves behind: nothing, once it completes or is dropped.
#[cfg(all(test, not(noclobber_loom)))]
mod tests {
    use core::task::Waker;

    use super::*;
    use crate::{Publisher, SeqLock, SoloWriter, VersionedCell};

    fn waiters(notify: &Notify) -> u32 {
        notify.waiters.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Polls 3 waits of `target` until they are pending, checks how they
    /// are announced, drops one pending and completes the others by a
    /// write; then nothing is announced, but for a group's `ASYNC` bit,
    /// which the eighth write after that retires.
    fn leaves_nothing<T: core::fmt::Debug>(
        target: &(dyn Target<T> + Sync),
        mut write: impl FnMut(),
    ) {
        use super::super::{ASYNC, COUNT};
        let mut cx = Context::from_waker(Waker::noop());
        let notify = target.notify().unwrap();
        let mut waits: Vec<_> = (0..3)
            .map(|_| Box::pin(WaitNewer::<T>::new(target, 0)))
            .collect();
        for w in &mut waits {
            assert!(w.as_mut().poll(&mut cx).is_pending());
        }
        // In a group: one bit for all; a SeqLock's: flagged in its sequence.
        let expected = if target.group().is_some() { ASYNC } else { 0 };
        assert_eq!(waiters(notify), expected);
        drop(waits.pop());
        write();
        for w in &mut waits {
            assert!(w.as_mut().poll(&mut cx).is_ready());
        }
        drop(waits);
        assert_eq!(waiters(notify) & COUNT, 0);
        if let Some(group) = target.group() {
            assert_eq!(
                (group.state(), waiters(notify)),
                (1, ASYNC),
                "the idle group's announcement"
            );
            for strike in 1..=7 {
                write();
                assert_eq!(waiters(notify), ASYNC, "retired at write {strike}");
            }
            write();
            assert_eq!((group.state(), waiters(notify)), (0, 0));
        }
    }

    #[test]
    fn waits_withdraw_when_done_or_dropped() {
        let p = Publisher::new(0u64);
        leaves_nothing(p.body(), || {
            p.write(1);
        });
        let cell = VersionedCell::new(0u64);
        leaves_nothing(&cell, || {
            cell.write(1);
        });
        let lock = SeqLock::new(0u64);
        leaves_nothing(lock.body(), || {
            lock.write(1);
        });
        let (mut w, r) = SoloWriter::channel(0u64);
        leaves_nothing(r.body(), || {
            w.write(1);
        });
    }

    /// A wait registered with the bridge thread (a shared file's) takes its
    /// registration with it when dropped or done.
    #[cfg(all(feature = "shm", not(miri)))]
    #[test]
    fn bridge_registrations_go_with_their_waits() {
        use crate::shm::SharedPublisher;
        use crate::Readable;
        let path = std::env::temp_dir().join(format!("noclobber-bridge-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let p = SharedPublisher::<u64>::create(&path, 0).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut dropped = Box::pin(p.wait_newer_async(0));
        let mut done = Box::pin(p.wait_newer_async(0));
        assert!(dropped.as_mut().poll(&mut cx).is_pending());
        assert!(done.as_mut().poll(&mut cx).is_pending());
        assert_eq!(super::super::bridge::registered(), 2);
        drop(dropped);
        assert_eq!(super::super::bridge::registered(), 1);
        p.write(1);
        let start = std::time::Instant::now();
        loop {
            if let Poll::Ready(v) = done.as_mut().poll(&mut cx) {
                assert_eq!(v.unwrap().value, 1);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(super::super::bridge::registered(), 0);
        drop(done);
        drop(p);
        std::fs::remove_file(&path).unwrap();
    }
}
