//! The process's bridge thread (feature `async`): async waits whose writer
//! cannot notify the task itself, because it is another process (a shared
//! file's futex word is all it can touch), or because the waiter must check
//! again after a while (N5's slices, a write in progress under N6, a shared
//! single writer whose death wakes nobody, N7).
//!
//! A waiting future registers the futex word of its object with the value it
//! loaded *before* its check (N3), and an optional deadline for checking
//! again. The thread sleeps on every registered word at once (Linux 5.16's
//! `futex_waitv`, up to 127 words; without it, in 1 ms slices) and on its own
//! control word, which a registration bumps to be seen at once. When the
//! kernel says a word was woken (or that some value was not the one given,
//! without saying which), or a deadline passes, it wakes the futures
//! concerned (all of them when it cannot tell) and drops their entries; a
//! future then checks again, and registers again if it must go on waiting. A writer's wake (N1) bumps the
//! word (N3), so a publication between a future's check and the thread's
//! sleep is seen: the kernel compares before it sleeps.
//!
//! The thread starts at the first registration, idles (asleep on the control
//! word alone) while nothing is registered, and lives as long as the process.
//! Cost per wake-up of one or more futures: one `futex_waitv` return, a walk
//! of the entries, and their wakers; per registration one `futex_wake` of the
//! control word.

use alloc::vec::Vec;
use core::task::Waker;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use crate::sync::{AtomicU32, Ordering};

/// A registration, to withdraw with [`forget`].
pub(crate) struct Ticket(u64);

/// Registers `waker` to be woken once `word` (the first of the pair) no
/// longer holds the value given (at the latest when some word moves), or at
/// `deadline`. The thread never loads a word itself: it only hands its
/// address to the kernel, which compares the value as it sleeps (a word
/// unmapped meanwhile only makes it wake every registered future), so a
/// future that is leaked instead of dropped leaves a harmless entry behind.
pub(crate) fn register(
    word: Option<(&AtomicU32, u32)>,
    deadline: Option<Instant>,
    waker: &Waker,
) -> Ticket {
    let bridge = bridge();
    let id = {
        let mut state = bridge.lock();
        state.next += 1;
        let id = state.next;
        state.entries.push(Entry {
            id,
            word: word.map(|(w, expected)| (w.as_ptr() as usize, expected)),
            deadline,
            waker: waker.clone(),
        });
        id
    };
    // Relaxed: the entry is in the list, under the lock the thread takes
    // before it sleeps again; the bump only ends the sleep it is in.
    bridge.control.fetch_add(1, Ordering::Relaxed);
    sys::wake_control(bridge);
    Ticket(id)
}

/// Withdraws a registration (a dropped, woken or completed future); its
/// waker will not be woken through it after this returns.
pub(crate) fn forget(ticket: Ticket) {
    if let Some(bridge) = BRIDGE.get() {
        bridge.lock().entries.retain(|e| e.id != ticket.0);
    }
}

/// How many futures are registered now.
#[cfg(all(test, feature = "shm"))]
pub(crate) fn registered() -> usize {
    BRIDGE.get().map_or(0, |b| b.lock().entries.len())
}

struct Bridge {
    state: Mutex<State>,
    /// Bumped by every registration, so that a sleeping thread sees it.
    control: AtomicU32,
    /// The thread, to unpark where there is no futex.
    #[cfg(not(all(target_os = "linux", not(miri))))]
    thread: std::thread::Thread,
}

#[derive(Default)]
struct State {
    next: u64,
    entries: Vec<Entry>,
}

struct Entry {
    id: u64,
    /// The address of the registered word, never dereferenced here, and
    /// the value it held; `None` for a deadline alone.
    word: Option<(usize, u32)>,
    deadline: Option<Instant>,
    waker: Waker,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

fn bridge() -> &'static Bridge {
    BRIDGE.get_or_init(|| {
        // The thread waits for this initialisation to finish.
        let _thread = std::thread::Builder::new()
            .name("noclobber-bridge".into())
            .spawn(|| run(BRIDGE.wait()))
            .expect("noclobber: cannot start the async bridge thread");
        Bridge {
            state: Mutex::new(State::default()),
            control: AtomicU32::new(0),
            #[cfg(not(all(target_os = "linux", not(miri))))]
            thread: _thread.thread().clone(),
        }
    })
}

impl Bridge {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The words one round sleeps on: at most this many besides the control word
/// (`futex_waitv` takes 128); with more, every future is woken each slice.
const MAX_WORDS: usize = 127;

/// How often the thread looks at words it cannot sleep on.
const SLICE: core::time::Duration = crate::notify::FALLBACK_SLICE;

/// Why a round's sleep ended.
#[cfg_attr(not(all(target_os = "linux", not(miri))), allow(dead_code))]
enum Woke {
    /// A registration, or a deadline: nothing to wake but what is due.
    Control,
    /// The word at this index of the round's list.
    Word(usize),
    /// Some word may have moved: wake everyone, who checks again.
    Unknown,
}

fn run(bridge: &Bridge) -> ! {
    let mut due = Vec::new();
    let mut words = Vec::new();
    loop {
        // Relaxed: see `register`.
        let control = bridge.control.load(Ordering::Relaxed);
        let mut deadline = None::<Instant>;
        words.clear();
        {
            let mut state = bridge.lock();
            let now = Instant::now();
            state.entries.retain(|e| {
                if e.deadline.is_some_and(|d| d <= now) {
                    due.push(e.waker.clone());
                    return false;
                }
                deadline = match (deadline, e.deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if let Some(word) = e.word.filter(|w| !words.contains(w)) {
                    words.push(word);
                }
                true
            });
        }
        // Outside the lock: a waker may run an executor's code.
        due.drain(..).for_each(Waker::wake);
        let all = words.len() <= MAX_WORDS;
        if !all {
            let slice = Instant::now() + SLICE;
            deadline = Some(deadline.map_or(slice, |d| d.min(slice)));
            words.truncate(MAX_WORDS);
        }
        let woke = match sys::sleep(bridge, control, &words, deadline) {
            // A slice over too many words ends like a moved word.
            Woke::Control if !all => Woke::Unknown,
            woke => woke,
        };
        let mut state = bridge.lock();
        match woke {
            Woke::Control => {}
            Woke::Word(i) => state.entries.retain(|e| {
                let moved = e.word == Some(words[i]);
                if moved {
                    due.push(e.waker.clone());
                }
                !moved
            }),
            Woke::Unknown => state.entries.retain(|e| {
                if e.word.is_some() {
                    due.push(e.waker.clone());
                }
                e.word.is_none()
            }),
        }
        drop(state);
        due.drain(..).for_each(Waker::wake);
    }
}

#[cfg(all(target_os = "linux", not(miri)))]
mod sys {
    use core::sync::atomic::AtomicBool;
    use core::time::Duration;
    use rustix::thread::futex;
    use std::time::Instant;

    use super::{Bridge, Woke};
    use crate::sync::Ordering;

    /// `futex_waitv` is missing (Linux before 5.16) or refused (a seccomp
    /// filter): sleep in slices instead.
    static NO_WAITV: AtomicBool = AtomicBool::new(false);

    pub(super) fn wake_control(bridge: &Bridge) {
        // A private futex: the control word is this process's own.
        let _ = futex::wake(&bridge.control, futex::Flags::PRIVATE, 1);
    }

    /// Sleeps until the control word moves from `seen`, a word of `words`
    /// moves from its value, or `deadline`.
    pub(super) fn sleep(
        bridge: &Bridge,
        seen: u32,
        words: &[(usize, u32)],
        deadline: Option<Instant>,
    ) -> Woke {
        // Relaxed: only a cached verdict about the kernel.
        if !NO_WAITV.load(Ordering::Relaxed) {
            let mut waits = Vec::with_capacity(words.len() + 1);
            let mut control = futex::Wait::new();
            control.val = seen.into();
            control.uaddr = futex::WaitPtr::new(bridge.control.as_ptr().cast());
            control.flags = futex::WaitFlags::SIZE_U32 | futex::WaitFlags::PRIVATE;
            waits.push(control);
            for &(word, expected) in words {
                let mut wait = futex::Wait::new();
                wait.val = expected.into();
                wait.uaddr = futex::WaitPtr::new(word as *mut core::ffi::c_void);
                // Shared (no PRIVATE): the writers' wakes of N1 are shared,
                // for other processes mapping the same file.
                wait.flags = futex::WaitFlags::SIZE_U32;
                waits.push(wait);
            }
            let timeout = deadline.map(absolute);
            let clock = futex::ClockId::Monotonic;
            match futex::waitv(&waits, futex::WaitvFlags::empty(), timeout.as_ref(), clock) {
                Ok(0) | Err(rustix::io::Errno::TIMEDOUT | rustix::io::Errno::INTR) => {
                    return Woke::Control
                }
                Ok(i) => return Woke::Word(i - 1),
                Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                    NO_WAITV.store(true, Ordering::Relaxed);
                }
                // `AGAIN`: a value was not the one given (which one is not
                // said); `FAULT`: a word is unmapped. Everyone checks again.
                Err(_) => return Woke::Unknown,
            }
        }
        // Without `futex_waitv`: the control word alone, for a slice while
        // there are words to look at.
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let left = match words.is_empty() {
            true => left,
            false => Some(left.map_or(super::SLICE, |l| l.min(super::SLICE))),
        };
        let timeout = left.map(relative);
        let _ = futex::wait(
            &bridge.control,
            futex::Flags::PRIVATE,
            seen,
            timeout.as_ref(),
        );
        if words.is_empty() {
            Woke::Control
        } else {
            Woke::Unknown
        }
    }

    fn relative(d: Duration) -> futex::Timespec {
        futex::Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        }
    }

    /// `deadline` on `CLOCK_MONOTONIC` (`Instant`'s clock on Linux), which
    /// `futex_waitv` takes as an absolute time.
    fn absolute(deadline: Instant) -> futex::Timespec {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let left = relative(deadline.saturating_duration_since(Instant::now()));
        let nanos = now.tv_nsec + left.tv_nsec;
        futex::Timespec {
            tv_sec: now
                .tv_sec
                .saturating_add(left.tv_sec)
                .saturating_add(nanos / 1_000_000_000),
            tv_nsec: nanos % 1_000_000_000,
        }
    }
}

/// Elsewhere (and under Miri, which runs no such system call): no futex to
/// sleep on across processes, so the thread parks, and checks every slice
/// while there are words to look at.
#[cfg(not(all(target_os = "linux", not(miri))))]
mod sys {
    use std::time::Instant;

    use super::{Bridge, Woke};
    use crate::sync::Ordering;

    pub(super) fn wake_control(bridge: &Bridge) {
        bridge.thread.unpark();
    }

    pub(super) fn sleep(
        bridge: &Bridge,
        seen: u32,
        words: &[(usize, u32)],
        deadline: Option<Instant>,
    ) -> Woke {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let left = match words.is_empty() {
            true => left,
            false => Some(left.map_or(super::SLICE, |l| l.min(super::SLICE))),
        };
        // Relaxed: see `register`; an unpark after this load makes the park
        // return at once.
        if bridge.control.load(Ordering::Relaxed) == seen {
            match left {
                Some(left) => std::thread::park_timeout(left),
                None => std::thread::park(),
            }
        }
        if words.is_empty() {
            Woke::Control
        } else {
            Woke::Unknown
        }
    }
}
