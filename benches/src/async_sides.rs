//! The two sides of each async comparison against `tokio::sync::watch`,
//! shared by the criterion bench (`benches/async_wait.rs`) and the paired
//! report (`src/bin/async_report.rs`). `[u64; 4]` values.
//!
//! * ping-pong: a task waits on one object and, woken, writes a second, on
//!   which the caller waits: per round trip, a publication and a wake-up
//!   each way (the wake latency, twice);
//! * fan-out: 1000 tasks wait on one object; per round, one publication and
//!   the time until every task has seen it (each round starts once every
//!   task waits again; that wait is not timed).

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use noclobber::{Cursor, Publisher, SoloWriter};
use tokio::runtime::Runtime;
use tokio::sync::watch;

type Words = [u64; 4];
/// Tasks of a fan-out.
pub const TASKS: usize = 1000;

/// One side of a comparison: `run(rt, n)` does `n` units (round trips,
/// rounds) and returns the time they took.
pub trait Side {
    fn run(&mut self, rt: &Runtime, n: u64) -> Duration;
}

/// A ping-pong between two `SoloWriter`s, a task echoing through a cursor.
pub struct SoloPingPong {
    there: SoloWriter<Words>,
    back: Cursor<noclobber::SoloReader<Words>>,
}

impl SoloPingPong {
    pub fn new(rt: &Runtime) -> Self {
        let (there, far) = SoloWriter::channel([0; 4]);
        let (mut echo, back) = SoloWriter::channel([0; 4]);
        let mut far = Cursor::new(far);
        rt.spawn(async move {
            while let Ok(v) = far.changed().await {
                echo.write(v.value);
            }
        });
        SoloPingPong {
            there,
            back: Cursor::new(back),
        }
    }
}

impl Side for SoloPingPong {
    fn run(&mut self, rt: &Runtime, n: u64) -> Duration {
        let (there, back) = (&mut self.there, &mut self.back);
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..n {
                there.write([i; 4]);
                black_box(back.changed().await.unwrap());
            }
            start.elapsed()
        })
    }
}

/// A ping-pong between two `Publisher`s.
pub struct PublisherPingPong {
    there: Arc<Publisher<Words>>,
    back: Arc<Publisher<Words>>,
}

impl PublisherPingPong {
    pub fn new(rt: &Runtime) -> Self {
        let there = Arc::new(Publisher::new([0; 4]));
        let back = Arc::new(Publisher::new([0; 4]));
        let (far, echo) = (Arc::clone(&there), Arc::clone(&back));
        rt.spawn(async move {
            let mut seen = 0;
            loop {
                let v = far.wait_newer_async(seen).await.unwrap();
                seen = v.version;
                echo.write(v.value);
            }
        });
        PublisherPingPong { there, back }
    }
}

impl Side for PublisherPingPong {
    fn run(&mut self, rt: &Runtime, n: u64) -> Duration {
        let (there, back) = (&self.there, &self.back);
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..n {
                let seen = back.version();
                there.write([i; 4]);
                black_box(back.wait_newer_async(seen).await.unwrap());
            }
            start.elapsed()
        })
    }
}

/// A ping-pong between two `watch` channels.
pub struct WatchPingPong {
    there: watch::Sender<Words>,
    back: watch::Receiver<Words>,
}

impl WatchPingPong {
    pub fn new(rt: &Runtime) -> Self {
        let (there, mut far) = watch::channel([0; 4]);
        let (echo, back) = watch::channel([0; 4]);
        rt.spawn(async move {
            while far.changed().await.is_ok() {
                let v = *far.borrow_and_update();
                if echo.send(v).is_err() {
                    return;
                }
            }
        });
        WatchPingPong { there, back }
    }
}

impl Side for WatchPingPong {
    fn run(&mut self, rt: &Runtime, n: u64) -> Duration {
        let (there, back) = (&self.there, &mut self.back);
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..n {
                there.send([i; 4]).unwrap();
                back.changed().await.unwrap();
                black_box(*back.borrow_and_update());
            }
            start.elapsed()
        })
    }
}

/// The tasks' side of a fan-out round: counted once each per publication.
struct Round {
    left: AtomicUsize,
    armed: AtomicUsize,
    done: Mutex<mpsc::Sender<()>>,
}

impl Round {
    fn new() -> (Arc<Round>, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let round = Round {
            left: AtomicUsize::new(0),
            armed: AtomicUsize::new(0),
            done: Mutex::new(tx),
        };
        (Arc::new(round), rx)
    }

    fn seen(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.done.lock().unwrap().send(());
        }
    }

    /// `rounds` rounds of `publish`, each timed from the publication until
    /// the last task saw it, and started once every task waits again.
    fn time(
        &self,
        done: &mpsc::Receiver<()>,
        rounds: u64,
        mut publish: impl FnMut(u64),
    ) -> Duration {
        let mut total = Duration::ZERO;
        for i in 0..rounds {
            while self.armed.load(Ordering::Acquire) < TASKS {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_micros(200));
            self.armed.store(0, Ordering::Relaxed);
            self.left.store(TASKS, Ordering::Release);
            let start = Instant::now();
            publish(i);
            done.recv().unwrap();
            total += start.elapsed();
        }
        total
    }
}

struct Fanout<P> {
    round: Arc<Round>,
    done: mpsc::Receiver<()>,
    publish: P,
    next: u64,
}

impl<P: FnMut(u64)> Side for Fanout<P> {
    fn run(&mut self, _: &Runtime, n: u64) -> Duration {
        let next = &mut self.next;
        let publish = &mut self.publish;
        self.round.time(&self.done, n, |_| {
            *next += 1;
            publish(*next);
        })
    }
}

/// 1000 tasks following a `SoloWriter` through cursors.
pub fn solo_fanout(rt: &Runtime) -> impl Side {
    let (round, done) = Round::new();
    let (mut w, r) = SoloWriter::<Words>::channel([0; 4]);
    for _ in 0..TASKS {
        let (round, mut cursor) = (Arc::clone(&round), Cursor::new(r.clone()));
        rt.spawn(async move {
            loop {
                round.armed.fetch_add(1, Ordering::Release);
                if cursor.changed().await.is_err() {
                    return;
                }
                round.seen();
            }
        });
    }
    Fanout {
        round,
        done,
        publish: move |i| {
            w.write([i; 4]);
        },
        next: 0,
    }
}

/// 1000 tasks following a `Publisher`.
pub fn publisher_fanout(rt: &Runtime) -> impl Side {
    let (round, done) = Round::new();
    let p = Arc::new(Publisher::<Words>::new([0; 4]));
    for _ in 0..TASKS {
        let (round, p) = (Arc::clone(&round), Arc::clone(&p));
        rt.spawn(async move {
            let mut seen = 0;
            loop {
                round.armed.fetch_add(1, Ordering::Release);
                seen = p.wait_newer_async(seen).await.unwrap().version;
                round.seen();
            }
        });
    }
    Fanout {
        round,
        done,
        publish: move |i| {
            p.write([i; 4]);
        },
        next: 0,
    }
}

/// 1000 tasks following a `watch` channel.
pub fn watch_fanout(rt: &Runtime) -> impl Side {
    let (round, done) = Round::new();
    let (tx, rx) = watch::channel::<Words>([0; 4]);
    for _ in 0..TASKS {
        let (round, mut rx) = (Arc::clone(&round), rx.clone());
        rt.spawn(async move {
            loop {
                round.armed.fetch_add(1, Ordering::Release);
                if rx.changed().await.is_err() {
                    return;
                }
                black_box(*rx.borrow_and_update());
                round.seen();
            }
        });
    }
    Fanout {
        round,
        done,
        publish: move |i| tx.send([i; 4]).unwrap(),
        next: 0,
    }
}
