//! Linearizability and happens-before checks with real threads.
//!
//! * `linearizable_*`: short runs (2-4 threads, at most 50 operations each) record
//!   histories of `VersionedCell` (`u64` and `[u64; 3]`, including `swap` and
//!   `fetch_update`), `Publisher<[u64; 2], 2 | 3>`
//!   and `SeqLock<[u64; 2]>`, with call and return timestamps from one shared
//!   ticker, and a Wing-Gong search (with Lowe's memoisation) checks each history
//!   against the sequential spec: a `(value, version)` pair whose version goes up
//!   by one per write. `checker_*` tests prove the checker rejects
//!   non-linearizable histories, by hand and from a deliberately broken cell.
//! * `visibility::*`: message passing. Data a thread writes (non-atomically)
//!   before a write must be visible to any thread whose read, failed CAS or
//!   update closure observes that write. Natively these pass trivially on x86;
//!   they are written for Miri, whose data-race detector reports the plain read
//!   as a race as soon as one Release/Acquire on the path is missing, including
//!   on the 128-bit head that loom can only model with a mutex.
//!
//! Everything is sized down under Miri.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use noclobber::{Publisher, SeqLock, SoloReader, SoloWriter, Versioned, VersionedCell, WaitError};

// ===========================================================================
// History recording

/// The shared monotonic clock: one SeqCst RMW location. If `a.ret < b.call`,
/// the ticker RMW that ended `a` happens before the one that started `b`, so `b`
/// must observe `a`'s effect: the real-time order of the history is sound.
static CLOCK: AtomicU64 = AtomicU64::new(0);

fn tick() -> u64 {
    CLOCK.fetch_add(1, SeqCst)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    /// `read_versioned`.
    Load,
    /// `update(|x| x + d)`.
    Add(u64),
    /// `write`.
    Store(u64),
    /// `write_if`.
    Cas(u64, u64),
    /// `VersionedCell::swap(x)`: returns the replaced value and version.
    Swap(u64),
    /// `VersionedCell::fetch_update(|x| (x < limit).then(|| x + d))`.
    FetchAddBelow { d: u64, limit: u64 },
    /// `wait_newer(seen, timeout)` with a timeout of 0 to 100 µs: the value
    /// if its version is newer than `seen`, else `TimedOut`.
    WaitNewer(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ret {
    Snap {
        value: u64,
        version: u64,
    },
    Version(u64),
    CasOk(u64),
    CasErr {
        value: u64,
        version: u64,
    },
    /// What a `swap` or a successful `fetch_update` replaced.
    Prev {
        value: u64,
        version: u64,
    },
    /// The snapshot a `fetch_update` closure declined.
    Declined {
        value: u64,
        version: u64,
    },
    /// `wait_newer` found nothing newer within its timeout.
    TimedOut,
    /// `wait_newer` found a newer version but could not copy it in time
    /// (`WaitError::Interrupted`).
    Interrupted,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    thread: usize,
    call: Call,
    ret: Ret,
    t_call: u64,
    t_ret: u64,
}

/// The sequential specification: a value and a version that goes up by one
/// with every write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct State {
    value: u64,
    version: u64,
}

/// `wait_newer` may also report `Interrupted`: a newer version exists (so it
/// linearizes where the state's version is newer than the one seen, changing
/// nothing), but no copy of it succeeded before the deadline.
fn newer_but_unread(s: State, op: Op) -> bool {
    matches!((op.call, op.ret), (Call::WaitNewer(seen), Ret::Interrupted) if s.version > seen)
}

fn step(s: State, call: Call) -> (Ret, State) {
    let next = |value| State {
        value,
        version: s.version + 1,
    };
    match call {
        Call::Load => (
            Ret::Snap {
                value: s.value,
                version: s.version,
            },
            s,
        ),
        Call::Add(d) => {
            let n = next(s.value.wrapping_add(d));
            (
                Ret::Snap {
                    value: n.value,
                    version: n.version,
                },
                n,
            )
        }
        Call::Store(x) => (Ret::Version(s.version + 1), next(x)),
        Call::Cas(expected, x) if expected == s.version => (Ret::CasOk(s.version + 1), next(x)),
        Call::Cas(..) => (
            Ret::CasErr {
                value: s.value,
                version: s.version,
            },
            s,
        ),
        Call::WaitNewer(seen) if s.version > seen => (
            Ret::Snap {
                value: s.value,
                version: s.version,
            },
            s,
        ),
        Call::WaitNewer(_) => (Ret::TimedOut, s),
        Call::Swap(x) => (
            Ret::Prev {
                value: s.value,
                version: s.version,
            },
            next(x),
        ),
        Call::FetchAddBelow { d, limit } if s.value < limit => (
            Ret::Prev {
                value: s.value,
                version: s.version,
            },
            next(s.value.wrapping_add(d)),
        ),
        Call::FetchAddBelow { .. } => (
            Ret::Declined {
                value: s.value,
                version: s.version,
            },
            s,
        ),
    }
}

// ===========================================================================
// The checker

/// Wing & Gong's search for a linearization, with Lowe's cache of visited
/// (linearized set, state) configurations. Events are kept in a doubly linked
/// list; linearizing an operation "lifts" its call and return out of it.
fn linearizable(init: State, ops: &[Op]) -> bool {
    let n = ops.len();
    // Events: (time, is_return, op). Timestamps are unique ticks.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        assert!(op.t_call < op.t_ret, "malformed op {op:?}");
        events.push((op.t_call, false, i));
        events.push((op.t_ret, true, i));
    }
    events.sort_unstable();
    let m = events.len();
    let (head, tail) = (m, m + 1);
    let mut next: Vec<usize> = (0..m + 2)
        .map(|i| if i == head { 0 } else { i + 1 })
        .collect();
    let mut prev: Vec<usize> = (0..m + 2)
        .map(|i| if i == 0 { head } else { i.wrapping_sub(1) })
        .collect();
    if m == 0 {
        return true;
    }
    next[m - 1] = tail;
    prev[tail] = m - 1;
    let mut call_at = vec![0; n];
    let mut ret_at = vec![0; n];
    for (e, &(_, is_ret, op)) in events.iter().enumerate() {
        if is_ret {
            ret_at[op] = e;
        } else {
            call_at[op] = e;
        }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, q) = (prev[x], next[x]);
        next[p] = q;
        prev[q] = p;
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        let (p, q) = (prev[x], next[x]);
        next[p] = x;
        prev[q] = x;
    };

    let words = n.div_ceil(64);
    let mut done = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = init;
    let mut cur = next[head];
    while next[head] != tail {
        let (_, is_ret, op) = events[cur];
        if !is_ret {
            let (ret, after) = step(state, ops[op].call);
            let mut lifted = false;
            if ret == ops[op].ret || newer_but_unread(state, ops[op]) {
                done[op / 64] |= 1 << (op % 64);
                if cache.insert((done.clone(), after)) {
                    stack.push((op, state));
                    state = after;
                    unlink(&mut next, &mut prev, call_at[op]);
                    unlink(&mut next, &mut prev, ret_at[op]);
                    cur = next[head];
                    lifted = true;
                } else {
                    done[op / 64] &= !(1 << (op % 64));
                }
            }
            if !lifted {
                cur = next[cur];
            }
        } else {
            // The earliest pending return: some call before it must be
            // linearized differently. Backtrack.
            let Some((op, before)) = stack.pop() else {
                return false;
            };
            state = before;
            done[op / 64] &= !(1 << (op % 64));
            relink(&mut next, &mut prev, ret_at[op]);
            relink(&mut next, &mut prev, call_at[op]);
            cur = next[call_at[op]];
        }
    }
    true
}

// ===========================================================================
// Subjects: every primitive seen as a `(value: u64, version)` object.

trait Subject: Sync {
    const NAME: &'static str;
    const CAN_ADD: bool;
    const CAN_CAS: bool;
    /// Only thread 0 writes (`SoloWriter`); the others only load.
    const SINGLE_WRITER: bool = false;
    /// `swap` and `fetch_update` (`VersionedCell` only).
    const CAN_SWAP: bool = false;
    /// `wait_newer`.
    const CAN_WAIT: bool = false;
    fn new(value: u64) -> Self;
    fn load(&self) -> (u64, u64);
    /// `pause`: yield inside the update closure, i.e. in the middle of the
    /// operation, so other threads' operations land between its read and write.
    fn add(&self, d: u64, pause: bool) -> (u64, u64);
    fn store(&self, x: u64) -> u64;
    fn cas(&self, expected: u64, x: u64) -> Result<u64, (u64, u64)>;
    fn swap(&self, _x: u64) -> (u64, u64) {
        unreachable!()
    }
    /// `Ok(Some(snapshot))`, `Ok(None)` for `TimedOut`, `Err(())` for
    /// `Interrupted`.
    fn wait_newer(&self, _seen: u64, _timeout: Duration) -> Result<Option<(u64, u64)>, ()> {
        unreachable!()
    }
    /// `fetch_update` adding `d` while the value is below `limit`; `pause` as
    /// for `add`.
    fn fetch_add_below(
        &self,
        _d: u64,
        _limit: u64,
        _pause: bool,
    ) -> Result<(u64, u64), (u64, u64)> {
        unreachable!()
    }
}

fn waited<T>(
    r: Result<Versioned<T>, WaitError>,
    pair: fn(Versioned<T>) -> (u64, u64),
) -> Result<Option<(u64, u64)>, ()> {
    match r {
        Ok(v) => Ok(Some(pair(v))),
        Err(WaitError::TimedOut) => Ok(None),
        Err(WaitError::Interrupted) => Err(()),
        Err(e) => panic!("wait_newer: {e}"),
    }
}

fn pair(v: Versioned<u64>) -> (u64, u64) {
    (v.value, v.version)
}

/// `[u64; 3]` encoding whose words only agree when copied from one value.
fn enc3(x: u64) -> [u64; 3] {
    [x, x ^ 0x5555_5555_5555_5555, x.rotate_left(29)]
}
fn dec3(w: [u64; 3]) -> u64 {
    assert_eq!(enc3(w[0]), w, "torn value");
    w[0]
}
fn enc2(x: u64) -> [u64; 2] {
    [x, !x]
}
fn dec2(w: [u64; 2]) -> u64 {
    assert_eq!(enc2(w[0]), w, "torn value");
    w[0]
}

impl Subject for VersionedCell<u64> {
    const NAME: &'static str = "VersionedCell<u64>";
    const CAN_ADD: bool = true;
    const CAN_CAS: bool = true;
    const CAN_WAIT: bool = true;
    fn new(value: u64) -> Self {
        VersionedCell::new(value)
    }
    fn load(&self) -> (u64, u64) {
        pair(VersionedCell::read_versioned(self))
    }
    fn wait_newer(&self, seen: u64, timeout: Duration) -> Result<Option<(u64, u64)>, ()> {
        waited(VersionedCell::wait_newer(self, seen, timeout), pair)
    }
    fn add(&self, d: u64, pause: bool) -> (u64, u64) {
        pair(self.update(|x| {
            maybe_yield(pause);
            x.wrapping_add(d)
        }))
    }
    fn store(&self, x: u64) -> u64 {
        VersionedCell::write(self, x)
    }
    fn cas(&self, e: u64, x: u64) -> Result<u64, (u64, u64)> {
        VersionedCell::write_if(self, e, x).map_err(pair)
    }
    const CAN_SWAP: bool = true;
    fn swap(&self, x: u64) -> (u64, u64) {
        pair(VersionedCell::swap(self, x))
    }
    fn fetch_add_below(&self, d: u64, limit: u64, pause: bool) -> Result<(u64, u64), (u64, u64)> {
        self.fetch_update(|x| {
            maybe_yield(pause);
            (x < limit).then(|| x.wrapping_add(d))
        })
        .map(pair)
        .map_err(pair)
    }
}

fn vpair3(v: Versioned<[u64; 3]>) -> (u64, u64) {
    (dec3(v.value), v.version)
}

impl Subject for VersionedCell<[u64; 3]> {
    const NAME: &'static str = "VersionedCell<[u64; 3]>";
    const CAN_ADD: bool = true;
    const CAN_CAS: bool = true;
    const CAN_WAIT: bool = true;
    fn new(value: u64) -> Self {
        VersionedCell::new(enc3(value))
    }
    fn load(&self) -> (u64, u64) {
        vpair3(VersionedCell::read_versioned(self))
    }
    fn wait_newer(&self, seen: u64, timeout: Duration) -> Result<Option<(u64, u64)>, ()> {
        waited(VersionedCell::wait_newer(self, seen, timeout), vpair3)
    }
    fn add(&self, d: u64, pause: bool) -> (u64, u64) {
        vpair3(self.update(|x| {
            maybe_yield(pause);
            enc3(dec3(x).wrapping_add(d))
        }))
    }
    fn store(&self, x: u64) -> u64 {
        VersionedCell::write(self, enc3(x))
    }
    fn cas(&self, e: u64, x: u64) -> Result<u64, (u64, u64)> {
        VersionedCell::write_if(self, e, enc3(x)).map_err(vpair3)
    }
    const CAN_SWAP: bool = true;
    fn swap(&self, x: u64) -> (u64, u64) {
        vpair3(VersionedCell::swap(self, enc3(x)))
    }
    fn fetch_add_below(&self, d: u64, limit: u64, pause: bool) -> Result<(u64, u64), (u64, u64)> {
        self.fetch_update(|x| {
            maybe_yield(pause);
            let x = dec3(x);
            (x < limit).then(|| enc3(x.wrapping_add(d)))
        })
        .map(vpair3)
        .map_err(vpair3)
    }
}

fn vpair2(v: Versioned<[u64; 2]>) -> (u64, u64) {
    (dec2(v.value), v.version)
}

impl<const S: usize> Subject for Publisher<[u64; 2], S> {
    const NAME: &'static str = if S == 2 {
        "Publisher<[u64; 2], 2>"
    } else {
        "Publisher<[u64; 2], 3>"
    };
    const CAN_ADD: bool = false;
    const CAN_CAS: bool = true;
    const CAN_WAIT: bool = true;
    fn new(value: u64) -> Self {
        Publisher::with_slots(enc2(value))
    }
    fn load(&self) -> (u64, u64) {
        vpair2(self.read_versioned())
    }
    fn wait_newer(&self, seen: u64, timeout: Duration) -> Result<Option<(u64, u64)>, ()> {
        waited(Self::wait_newer(self, seen, timeout), vpair2)
    }
    fn add(&self, _: u64, _: bool) -> (u64, u64) {
        unreachable!()
    }
    fn store(&self, x: u64) -> u64 {
        self.write(enc2(x))
    }
    fn cas(&self, e: u64, x: u64) -> Result<u64, (u64, u64)> {
        self.write_if(e, enc2(x)).map_err(vpair2)
    }
}

impl Subject for SeqLock<[u64; 2]> {
    const NAME: &'static str = "SeqLock<[u64; 2]>";
    const CAN_ADD: bool = true;
    const CAN_CAS: bool = false;
    const CAN_WAIT: bool = true;
    fn new(value: u64) -> Self {
        SeqLock::new(enc2(value))
    }
    fn load(&self) -> (u64, u64) {
        vpair2(self.read_versioned())
    }
    fn wait_newer(&self, seen: u64, timeout: Duration) -> Result<Option<(u64, u64)>, ()> {
        waited(Self::wait_newer(self, seen, timeout), vpair2)
    }
    fn add(&self, d: u64, pause: bool) -> (u64, u64) {
        vpair2(self.update(|x| {
            maybe_yield(pause);
            enc2(dec2(x).wrapping_add(d))
        }))
    }
    fn store(&self, x: u64) -> u64 {
        self.write(enc2(x))
    }
    fn cas(&self, _: u64, _: u64) -> Result<u64, (u64, u64)> {
        unreachable!()
    }
}

/// The single-writer publisher: thread 0 owns the writer (the mutex is only
/// ever taken by that one thread, so it adds no ordering between threads),
/// every thread reads through the reader.
struct Solo<const S: usize>(
    std::sync::Mutex<SoloWriter<[u64; 2], S>>,
    SoloReader<[u64; 2], S>,
);

impl<const S: usize> Subject for Solo<S> {
    const NAME: &'static str = if S == 2 {
        "SoloWriter<[u64; 2], 2>"
    } else {
        "SoloWriter<[u64; 2], 3>"
    };
    const CAN_ADD: bool = true;
    const CAN_CAS: bool = false;
    const SINGLE_WRITER: bool = true;
    const CAN_WAIT: bool = true;
    fn new(value: u64) -> Self {
        let w = SoloWriter::with_slots(enc2(value));
        let r = w.reader();
        Solo(std::sync::Mutex::new(w), r)
    }
    fn load(&self) -> (u64, u64) {
        vpair2(self.1.read_versioned())
    }
    fn wait_newer(&self, seen: u64, timeout: Duration) -> Result<Option<(u64, u64)>, ()> {
        waited(self.1.wait_newer(seen, timeout), vpair2)
    }
    fn add(&self, d: u64, pause: bool) -> (u64, u64) {
        vpair2(self.0.lock().unwrap().update(|x| {
            maybe_yield(pause);
            enc2(dec2(x).wrapping_add(d))
        }))
    }
    fn store(&self, x: u64) -> u64 {
        self.0.lock().unwrap().write(enc2(x))
    }
    fn cas(&self, _: u64, _: u64) -> Result<u64, (u64, u64)> {
        unreachable!()
    }
}

/// xorshift64*: a tiny deterministic generator for the workloads.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn maybe_yield(pause: bool) {
    if pause {
        std::thread::yield_now();
    }
}

/// One run: `threads` threads, `ops` operations each, then the history.
fn record<S: Subject>(threads: usize, ops: usize, seed: u64) -> Vec<Op> {
    let subject = S::new(0);
    // A spinning start line: a parking `Barrier` wakes threads one by one, and
    // 50 operations take only microseconds, so the runs would not overlap.
    let barrier = AtomicU64::new(0);
    let histories: Vec<Vec<Op>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (subject, barrier) = (&subject, &barrier);
                s.spawn(move || {
                    let mut rng =
                        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (t as u64 + 1) << 40 | 1);
                    let mut seen_version = 0;
                    let mut out = Vec::with_capacity(ops);
                    barrier.fetch_add(1, SeqCst);
                    while barrier.load(SeqCst) < threads as u64 {
                        std::hint::spin_loop();
                        if cfg!(miri) {
                            std::thread::yield_now();
                        }
                    }
                    for k in 0..ops {
                        // Random think time (up to a few microseconds) so that
                        // operations of different threads interleave and overlap.
                        if !cfg!(miri) {
                            for _ in 0..rng.next() % 512 {
                                std::hint::spin_loop();
                            }
                        }
                        let r = rng.next() % 100;
                        // A value no other write uses: thread and op in the high bits.
                        let fresh = ((t as u64 + 1) << 48)
                            | ((k as u64) << 32)
                            | (rng.next() & 0xffff_ffff);
                        let call = if S::CAN_WAIT && rng.next().is_multiple_of(8) {
                            Call::WaitNewer(seen_version)
                        } else if r < 40 || (S::SINGLE_WRITER && t != 0) {
                            Call::Load
                        } else if r < 60 && S::CAN_ADD {
                            Call::Add(rng.next() % 1000 + 1)
                        } else if r < 80 && S::CAN_CAS {
                            // Mostly the version this thread last saw (may be stale).
                            let e = if rng.next().is_multiple_of(4) {
                                seen_version + 1
                            } else {
                                seen_version
                            };
                            Call::Cas(e, fresh)
                        } else if r < 88 && S::CAN_SWAP {
                            Call::Swap(fresh)
                        } else if r < 96 && S::CAN_SWAP {
                            // Below 2^32 only adds have run; a fresh value
                            // (thread in the high bits) or MAX makes it decline.
                            let limit = [1 << 32, 1500, u64::MAX][(rng.next() % 3) as usize];
                            Call::FetchAddBelow {
                                d: rng.next() % 1000 + 1,
                                limit,
                            }
                        } else {
                            Call::Store(fresh)
                        };
                        let (pause_before, pause_inside, pause_after) = (
                            rng.next().is_multiple_of(8),
                            rng.next().is_multiple_of(4),
                            rng.next().is_multiple_of(8),
                        );
                        let t_call = tick();
                        // Pauses around and inside operations make them overlap
                        // even when the threads share one core. A pause before or
                        // after only widens the recorded interval (still a valid
                        // history); one inside interleaves real work.
                        maybe_yield(pause_before);
                        let ret = match call {
                            Call::Load => {
                                let (value, version) = subject.load();
                                Ret::Snap { value, version }
                            }
                            Call::Add(d) => {
                                let (value, version) = subject.add(d, pause_inside);
                                Ret::Snap { value, version }
                            }
                            Call::Store(x) => Ret::Version(subject.store(x)),
                            Call::WaitNewer(seen) => {
                                let timeout = Duration::from_micros(rng.next() % 101);
                                match subject.wait_newer(seen, timeout) {
                                    Ok(Some((value, version))) => Ret::Snap { value, version },
                                    Ok(None) => Ret::TimedOut,
                                    Err(()) => Ret::Interrupted,
                                }
                            }
                            Call::Cas(e, x) => match subject.cas(e, x) {
                                Ok(v) => Ret::CasOk(v),
                                Err((value, version)) => Ret::CasErr { value, version },
                            },
                            Call::Swap(x) => {
                                let (value, version) = subject.swap(x);
                                Ret::Prev { value, version }
                            }
                            Call::FetchAddBelow { d, limit } => {
                                match subject.fetch_add_below(d, limit, pause_inside) {
                                    Ok((value, version)) => Ret::Prev { value, version },
                                    Err((value, version)) => Ret::Declined { value, version },
                                }
                            }
                        };
                        maybe_yield(pause_after);
                        let t_ret = tick();
                        seen_version = match ret {
                            Ret::Snap { version, .. }
                            | Ret::CasErr { version, .. }
                            | Ret::Declined { version, .. } => version,
                            Ret::Version(v) | Ret::CasOk(v) => v,
                            Ret::Prev { version, .. } => version + 1,
                            Ret::TimedOut | Ret::Interrupted => seen_version,
                        };
                        out.push(Op {
                            thread: t,
                            call,
                            ret,
                            t_call,
                            t_ret,
                        });
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    histories.into_iter().flatten().collect()
}

fn dump(ops: &[Op]) -> String {
    let mut ops = ops.to_vec();
    ops.sort_by_key(|o| o.t_call);
    ops.iter()
        .map(|o| {
            format!(
                "  t{} [{:>6}, {:>6}] {:?} -> {:?}",
                o.thread, o.t_call, o.t_ret, o.call, o.ret
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `record`, but a run that does not finish within 60 s (writers wedged) fails
/// the test instead of hanging it.
fn record_or_fail<S: Subject + Send + 'static>(threads: usize, ops: usize, seed: u64) -> Vec<Op> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(record::<S>(threads, ops, seed)));
    let limit = if cfg!(miri) { 3600 } else { 60 };
    match rx.recv_timeout(Duration::from_secs(limit)) {
        Ok(history) => history,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "{}: run {seed} with {threads} threads made no progress in {limit} s (wedged)",
                S::NAME
            )
        }
        Err(e) => panic!("{}: run {seed} with {threads} threads failed: {e}", S::NAME),
    }
}

/// Runs (at most `budget` long) of every thread count in `threads`.
fn check_subject<S: Subject + Send + 'static>(threads: &[usize], runs: usize, budget: Duration) {
    let (runs, ops) = if cfg!(miri) { (1, 8) } else { (runs, 50) };
    let start = Instant::now();
    let (mut checked, mut total, mut overlapped) = (0, 0, 0);
    'outer: for run in 0..runs {
        for &t in threads {
            let history = record_or_fail::<S>(t, ops, run as u64);
            assert!(
                linearizable(
                    State {
                        value: 0,
                        version: 0
                    },
                    &history
                ),
                "{}: history of run {run} with {t} threads is not linearizable:\n{}",
                S::NAME,
                dump(&history)
            );
            checked += 1;
            total += history.len();
            overlapped += history
                .iter()
                .filter(|a| {
                    history
                        .iter()
                        .any(|b| b.thread != a.thread && b.t_call < a.t_ret && a.t_call < b.t_ret)
                })
                .count();
            if start.elapsed() > budget {
                break 'outer;
            }
        }
    }
    eprintln!(
        "{}: {checked} histories linearizable in {:.2?}; {:.0}% of operations overlapped another thread's",
        S::NAME,
        start.elapsed(),
        100.0 * overlapped as f64 / total.max(1) as f64
    );
}

const BUDGET: Duration = Duration::from_millis(3500);
const RUNS: usize = 1000;

#[test]
fn linearizable_versioned_u64() {
    check_subject::<VersionedCell<u64>>(&[2, 3, 4], RUNS, BUDGET);
}

#[test]
fn linearizable_versioned_u64x3() {
    check_subject::<VersionedCell<[u64; 3]>>(&[2, 3, 4], RUNS, BUDGET);
}

#[test]
fn linearizable_publisher_2_slots() {
    check_subject::<Publisher<[u64; 2], 2>>(&[2, 3, 4], RUNS, BUDGET);
}

#[test]
fn linearizable_publisher_3_slots() {
    check_subject::<Publisher<[u64; 2], 3>>(&[2, 3, 4], RUNS, BUDGET);
}

#[test]
fn linearizable_solo_2_slots() {
    check_subject::<Solo<2>>(&[2, 3, 4], RUNS, BUDGET);
}

#[test]
fn linearizable_solo_3_slots() {
    check_subject::<Solo<3>>(&[2, 3, 4], RUNS, BUDGET);
}

#[test]
fn linearizable_seqlock() {
    check_subject::<SeqLock<[u64; 2]>>(&[2, 3, 4], RUNS, BUDGET);
}

// ===========================================================================
// The checker can fail.

fn op(thread: usize, t_call: u64, t_ret: u64, call: Call, ret: Ret) -> Op {
    Op {
        thread,
        call,
        ret,
        t_call,
        t_ret,
    }
}

const INIT: State = State {
    value: 0,
    version: 0,
};

#[test]
fn checker_rejects_stale_read_after_completed_write() {
    // A store completes, then a later load (another thread) sees the old value.
    // Sequentially consistent (the load could be ordered first), but not
    // linearizable: real time forbids it.
    let h = [
        op(0, 1, 2, Call::Store(7), Ret::Version(1)),
        op(
            1,
            3,
            4,
            Call::Load,
            Ret::Snap {
                value: 0,
                version: 0,
            },
        ),
    ];
    assert!(!linearizable(INIT, &h));
}

#[test]
fn checker_rejects_lost_update() {
    // Two overlapping adds both committed as version 1: one update was lost.
    let h = [
        op(
            0,
            1,
            4,
            Call::Add(1),
            Ret::Snap {
                value: 1,
                version: 1,
            },
        ),
        op(
            1,
            2,
            3,
            Call::Add(1),
            Ret::Snap {
                value: 1,
                version: 1,
            },
        ),
    ];
    assert!(!linearizable(INIT, &h));
}

#[test]
fn checker_rejects_torn_pair_and_wrong_cas_answer() {
    // A value that was never written at the version read.
    let h = [
        op(0, 1, 2, Call::Store(5), Ret::Version(1)),
        op(
            1,
            3,
            4,
            Call::Load,
            Ret::Snap {
                value: 6,
                version: 1,
            },
        ),
    ];
    assert!(!linearizable(INIT, &h));
    // A CAS on the current version that claims to have failed.
    let h = [
        op(0, 1, 2, Call::Store(5), Ret::Version(1)),
        op(
            1,
            3,
            4,
            Call::Cas(1, 9),
            Ret::CasErr {
                value: 5,
                version: 1,
            },
        ),
    ];
    assert!(!linearizable(INIT, &h));
}

#[test]
fn checker_rejects_reads_that_go_backwards() {
    // Overlapping writes, but two sequential reads by one thread see them in
    // an order that no single linearization allows.
    let h = [
        op(0, 1, 10, Call::Store(5), Ret::Version(1)),
        op(1, 2, 11, Call::Store(6), Ret::Version(2)),
        op(
            2,
            3,
            4,
            Call::Load,
            Ret::Snap {
                value: 6,
                version: 2,
            },
        ),
        op(
            2,
            5,
            6,
            Call::Load,
            Ret::Snap {
                value: 5,
                version: 1,
            },
        ),
    ];
    assert!(!linearizable(INIT, &h));
}

#[test]
fn checker_accepts_linearizable_reorderings() {
    // The load overlaps the store and sees it: linearize the store first even
    // though it was called later.
    let h = [
        op(
            1,
            1,
            6,
            Call::Load,
            Ret::Snap {
                value: 5,
                version: 1,
            },
        ),
        op(0, 2, 3, Call::Store(5), Ret::Version(1)),
        op(
            2,
            4,
            5,
            Call::Load,
            Ret::Snap {
                value: 5,
                version: 1,
            },
        ),
    ];
    assert!(linearizable(INIT, &h));
    // Needs backtracking: the first candidate order (A then B) fails on C.
    let h = [
        op(
            0,
            1,
            10,
            Call::Add(1),
            Ret::Snap {
                value: 3,
                version: 2,
            },
        ),
        op(
            1,
            2,
            9,
            Call::Add(2),
            Ret::Snap {
                value: 2,
                version: 1,
            },
        ),
        op(2, 11, 12, Call::Cas(2, 0), Ret::CasOk(3)),
        op(
            2,
            13,
            14,
            Call::Load,
            Ret::Snap {
                value: 0,
                version: 3,
            },
        ),
    ];
    assert!(linearizable(INIT, &h));
}

/// A cell with the classic lost-update bug (load, then store, not atomic),
/// recorded and checked exactly like the real ones: the pipeline must reject it.
struct LossyCell(std::sync::Mutex<State>);

impl Subject for LossyCell {
    const NAME: &'static str = "LossyCell";
    const CAN_ADD: bool = true;
    const CAN_CAS: bool = false;
    fn new(value: u64) -> Self {
        LossyCell(std::sync::Mutex::new(State { value, version: 0 }))
    }
    fn load(&self) -> (u64, u64) {
        let s = *self.0.lock().unwrap();
        (s.value, s.version)
    }
    fn add(&self, d: u64, _: bool) -> (u64, u64) {
        let s = *self.0.lock().unwrap();
        std::thread::yield_now();
        let n = State {
            value: s.value.wrapping_add(d),
            version: s.version + 1,
        };
        *self.0.lock().unwrap() = n;
        (n.value, n.version)
    }
    fn store(&self, x: u64) -> u64 {
        let mut g = self.0.lock().unwrap();
        g.version += 1;
        g.value = x;
        g.version
    }
    fn cas(&self, _: u64, _: u64) -> Result<u64, (u64, u64)> {
        unreachable!()
    }
}

#[test]
#[cfg_attr(miri, ignore = "needs many real-thread runs")]
fn checker_rejects_a_cell_that_loses_updates() {
    let rejected = (0..500u64).find(|&run| {
        let h = record::<LossyCell>(3, 50, run);
        !linearizable(INIT, &h)
    });
    assert!(
        rejected.is_some(),
        "500 runs of a lossy cell all looked linearizable"
    );
    eprintln!("LossyCell rejected at run {}", rejected.unwrap());
}

// ===========================================================================
// Happens-before (message passing), aimed at Miri's data-race detector.

mod visibility {
    use std::cell::UnsafeCell;
    use std::thread::{scope, yield_now};

    use noclobber::{Publisher, SeqLock, ShardedCounter, SoloWriter, VersionedCell};

    /// Plain (non-atomic) memory. Any access not ordered by happens-before
    /// with a conflicting one is a data race that Miri reports.
    struct Plain<const N: usize>([[UnsafeCell<u64>; N]; 2]);

    // SAFETY: every test below only reads a slot after it observed (through
    // the primitive under test) the write that the slot's owner made after
    // filling it: the primitive's Release/Acquire is what makes this sound, and
    // what Miri checks.
    unsafe impl<const N: usize> Sync for Plain<N> {}

    impl<const N: usize> Plain<N> {
        fn new() -> Self {
            Plain(core::array::from_fn(|_| {
                core::array::from_fn(|_| UnsafeCell::new(0))
            }))
        }
        fn fill(&self, thread: u64, k: u64) {
            // SAFETY: only `thread` writes its slots, once each, before
            // publishing `code(thread, k)`.
            unsafe { *self.0[thread as usize][k as usize].get() = k + 1000 };
        }
        /// Checks the slot behind a value `code(thread, k)` (0 = the initial value).
        fn check(&self, code: u64) {
            if code == 0 {
                return;
            }
            let (thread, k) = (code >> 32, code & 0xffff_ffff);
            // SAFETY: see the `Sync` impl: the value was observed.
            let got = unsafe { *self.0[thread as usize][k as usize].get() };
            assert_eq!(got, k + 1000, "published before its data");
        }
    }

    fn code(thread: u64, k: u64) -> u64 {
        (thread << 32) | k
    }

    const K: u64 = if cfg!(miri) { 8 } else { 200 };
    const N: usize = K as usize + 1;

    fn enc3(x: u64) -> [u64; 3] {
        [x, x ^ 0x5555_5555_5555_5555, x.rotate_left(29)]
    }
    fn dec3(w: [u64; 3]) -> u64 {
        assert_eq!(enc3(w[0]), w, "torn value");
        w[0]
    }
    fn enc2(x: u64) -> [u64; 2] {
        [x, !x]
    }
    fn dec2(w: [u64; 2]) -> u64 {
        assert_eq!(enc2(w[0]), w, "torn value");
        w[0]
    }

    /// The operations of a `VersionedCell` / `Publisher` on `u64` codes.
    trait Cas: Sync {
        fn make() -> Self;
        fn load(&self) -> (u64, u64);
        fn version(&self) -> u64;
        fn cas(&self, expected: u64, x: u64) -> Result<u64, (u64, u64)>;
        fn store(&self, x: u64);
        fn update(&self, f: &mut dyn FnMut(u64) -> u64);
    }

    impl Cas for VersionedCell<u64> {
        fn make() -> Self {
            VersionedCell::new(0)
        }
        fn load(&self) -> (u64, u64) {
            let v = VersionedCell::read_versioned(self);
            (v.value, v.version)
        }
        fn version(&self) -> u64 {
            VersionedCell::version(self)
        }
        fn cas(&self, e: u64, x: u64) -> Result<u64, (u64, u64)> {
            VersionedCell::write_if(self, e, x).map_err(|v| (v.value, v.version))
        }
        fn store(&self, x: u64) {
            VersionedCell::write(self, x);
        }
        fn update(&self, f: &mut dyn FnMut(u64) -> u64) {
            VersionedCell::update(self, f);
        }
    }

    impl Cas for VersionedCell<[u64; 3]> {
        fn make() -> Self {
            VersionedCell::new(enc3(0))
        }
        fn load(&self) -> (u64, u64) {
            let v = VersionedCell::read_versioned(self);
            (dec3(v.value), v.version)
        }
        fn version(&self) -> u64 {
            VersionedCell::version(self)
        }
        fn cas(&self, e: u64, x: u64) -> Result<u64, (u64, u64)> {
            VersionedCell::write_if(self, e, enc3(x)).map_err(|v| (dec3(v.value), v.version))
        }
        fn store(&self, x: u64) {
            VersionedCell::write(self, enc3(x));
        }
        fn update(&self, f: &mut dyn FnMut(u64) -> u64) {
            VersionedCell::update(self, |x| enc3(f(dec3(x))));
        }
    }

    impl<const S: usize> Cas for Publisher<[u64; 2], S> {
        fn make() -> Self {
            Publisher::with_slots(enc2(0))
        }
        fn load(&self) -> (u64, u64) {
            let v = self.read_versioned();
            (dec2(v.value), v.version)
        }
        fn version(&self) -> u64 {
            Publisher::version(self)
        }
        fn cas(&self, e: u64, x: u64) -> Result<u64, (u64, u64)> {
            self.write_if(e, enc2(x))
                .map_err(|v| (dec2(v.value), v.version))
        }
        fn store(&self, x: u64) {
            self.write(enc2(x));
        }
        fn update(&self, f: &mut dyn FnMut(u64) -> u64) {
            // A `write_if` retry loop: `f` sees what `read_versioned` returned.
            loop {
                let (x, v) = self.load();
                if self.write_if(v, enc2(f(x))).is_ok() {
                    return;
                }
            }
        }
    }

    /// Writer stores, reader spins on `version()`, then on `load()` and on the
    /// `Err` of a CAS that cannot succeed: each must carry the writer's data.
    fn store_then_observe<C: Cas>() {
        let (c, plain) = (C::make(), Plain::<N>::new());
        scope(|s| {
            s.spawn(|| {
                for k in 1..=3 {
                    plain.fill(1, k);
                    c.store(code(1, k));
                }
            });
            s.spawn(|| {
                while c.version() < 1 {
                    yield_now();
                }
                // Version 1 or later was seen: at least code(1, 1) is visible.
                plain.check(code(1, 1));
                loop {
                    let (x, v) = c.load();
                    plain.check(x);
                    if v >= 2 {
                        break;
                    }
                    yield_now();
                }
                loop {
                    match c.cas(u64::MAX, 0) {
                        Err((x, v)) => {
                            plain.check(x);
                            if v >= 3 {
                                break;
                            }
                        }
                        Ok(_) => unreachable!("version u64::MAX"),
                    }
                    yield_now();
                }
            });
        });
    }

    /// Two threads hand values to each other through CAS loops: every value
    /// a thread observes (load, failed CAS) must carry its writer's data.
    fn cas_handoff<C: Cas>() {
        let (c, plain) = (C::make(), Plain::<N>::new());
        scope(|s| {
            for t in 0..2u64 {
                let (c, plain) = (&c, &plain);
                s.spawn(move || {
                    for k in 1..=K {
                        plain.fill(t, k);
                        let (mut x, mut v) = c.load();
                        loop {
                            plain.check(x);
                            match c.cas(v, code(t, k)) {
                                Ok(_) => break,
                                Err(now) => (x, v) = now,
                            }
                        }
                    }
                });
            }
        });
        assert_eq!(c.load().1, 2 * K);
    }

    /// Same through `update` closures, which yield so the other thread's
    /// write lands between the closure's read and its CAS (the failure path).
    fn update_handoff<C: Cas>() {
        let (c, plain) = (C::make(), Plain::<N>::new());
        scope(|s| {
            for t in 0..2u64 {
                let (c, plain) = (&c, &plain);
                s.spawn(move || {
                    for k in 1..=K {
                        plain.fill(t, k);
                        c.update(&mut |x| {
                            plain.check(x);
                            yield_now();
                            code(t, k)
                        });
                    }
                });
            }
        });
        assert_eq!(c.load().1, 2 * K);
    }

    #[test]
    fn versioned_small_store_then_observe() {
        store_then_observe::<VersionedCell<u64>>();
    }
    #[test]
    fn versioned_small_cas_handoff() {
        cas_handoff::<VersionedCell<u64>>();
    }
    #[test]
    fn versioned_small_update_handoff() {
        update_handoff::<VersionedCell<u64>>();
    }
    #[test]
    fn versioned_large_store_then_observe() {
        store_then_observe::<VersionedCell<[u64; 3]>>();
    }
    #[test]
    fn versioned_large_cas_handoff() {
        cas_handoff::<VersionedCell<[u64; 3]>>();
    }
    #[test]
    fn versioned_large_update_handoff() {
        update_handoff::<VersionedCell<[u64; 3]>>();
    }
    #[test]
    fn publisher_store_then_observe() {
        store_then_observe::<Publisher<[u64; 2], 2>>();
        store_then_observe::<Publisher<[u64; 2], 3>>();
    }
    #[test]
    fn publisher_cas_handoff() {
        cas_handoff::<Publisher<[u64; 2], 2>>();
    }
    #[test]
    fn publisher_update_handoff() {
        update_handoff::<Publisher<[u64; 2], 3>>();
    }

    /// SeqLock: writers hand over through `update`; a reader checks every
    /// value it reads (and that it is not torn) and the data behind it.
    #[test]
    fn seqlock_handoff_and_reader() {
        let (lock, plain) = (SeqLock::new(enc2(0)), Plain::<N>::new());
        scope(|s| {
            for t in 0..2u64 {
                let (lock, plain) = (&lock, &plain);
                s.spawn(move || {
                    for k in 1..=K / 2 {
                        plain.fill(t, k);
                        lock.update(|x| {
                            plain.check(dec2(x));
                            enc2(code(t, k))
                        });
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..K {
                    if let Ok(v) = lock.try_read() {
                        plain.check(dec2(v.value));
                    }
                    plain.check(dec2(lock.read()));
                    yield_now();
                }
            });
        });
        assert_eq!(lock.version(), K / 2 * 2);
    }

    /// ShardedCounter: an owner adds while two threads take and one sums.
    /// No take or sum may be negative (all adds are positive), and every add
    /// is counted exactly once. A `take` that misses the Acquire/Release on
    /// `taken` can read a stale `total` and move `taken` backwards.
    #[test]
    fn counter_take_and_sum() {
        for _ in 0..K / 2 {
            let c = ShardedCounter::with_shards(1);
            let taken = scope(|s| {
                s.spawn(|| {
                    let local = c.local();
                    for d in [3, 2, 1] {
                        local.add(d);
                        yield_now();
                    }
                });
                let takers: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            let mut got = 0;
                            for _ in 0..2 {
                                let t = c.take();
                                assert!(t >= 0, "negative take {t}");
                                got += t;
                                yield_now();
                            }
                            got
                        })
                    })
                    .collect();
                for _ in 0..3 {
                    let sum = c.sum();
                    assert!((0..=6).contains(&sum), "sum {sum} out of [0, 6]");
                    yield_now();
                }
                takers.into_iter().map(|h| h.join().unwrap()).sum::<i64>()
            });
            assert_eq!(taken + c.take(), 6, "an add was lost or counted twice");
        }
    }

    #[test]
    fn seqlock_version_then_observe() {
        let (lock, plain) = (SeqLock::new(enc2(0)), Plain::<N>::new());
        scope(|s| {
            s.spawn(|| {
                for k in 1..=2 {
                    plain.fill(1, k);
                    lock.write(enc2(code(1, k)));
                }
            });
            s.spawn(|| {
                while lock.version() < 1 {
                    yield_now();
                }
                plain.check(code(1, 1));
                let v = lock.read_versioned();
                plain.check(dec2(v.value));
            });
        });
    }

    /// `SoloWriter`: the writer fills plain data, then publishes its code;
    /// readers that see a version (`version`, `read_versioned`, `try_read`)
    /// must see the data behind it. Two slots, so readers are lapped too.
    #[test]
    fn solo_publish_then_observe() {
        let plain = Plain::<N>::new();
        let (mut w, r) = SoloWriter::<[u64; 2]>::channel(enc2(0));
        scope(|s| {
            s.spawn(|| {
                for k in 1..=K {
                    plain.fill(1, k);
                    w.update(|x| {
                        plain.check(dec2(x));
                        enc2(code(1, k))
                    });
                }
            });
            for _ in 0..2 {
                let (r, plain) = (r.clone(), &plain);
                s.spawn(move || {
                    while r.version() < 1 {
                        yield_now();
                    }
                    plain.check(code(1, 1));
                    loop {
                        let v = r.read_versioned();
                        plain.check(dec2(v.value));
                        if let Ok(v) = r.try_read() {
                            plain.check(dec2(v.value));
                        }
                        if v.version == K {
                            break;
                        }
                        yield_now();
                    }
                });
            }
        });
    }
}
