//! The async targets of issue 28 as paired ratios: noclobber's async waits
//! against `tokio::sync::watch`, alternated in short batches in one process
//! (the order flipping every pair), so that the drift of this shared host
//! hits both alike; criterion's separate runs (`benches/async_wait.rs`)
//! drift by more than the differences asked about. `[u64; 4]` values, a
//! tokio multi-thread runtime of 2 workers.
//!
//! * `pingpong`: a task waits on one object and, woken, writes a second, on
//!   which this thread waits: per round trip, a publication and a wake-up
//!   each way (the wake latency, twice).
//! * `fanout`: 1000 tasks wait on one object; per round, one publication
//!   and the time until every task has seen it (rounds start once every
//!   task waits again).
//!
//! ```text
//! CARGO_TARGET_DIR=target/bench cargo run --release -p noclobber-benches --bin async_report -- [PAIRS]
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use noclobber::{Cursor, Publisher, SoloWriter};
use tokio::runtime::Runtime;
use tokio::sync::watch;

type Words = [u64; 4];
const TASKS: usize = 1000;

/// One side of a comparison: runs a batch, returns the time per unit in ns.
trait Side {
    fn batch(&mut self, rt: &Runtime) -> f64;
}

struct SoloPingPong {
    there: SoloWriter<Words>,
    back: Cursor<noclobber::SoloReader<Words>>,
    n: u64,
}

impl SoloPingPong {
    fn new(rt: &Runtime, n: u64) -> Self {
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
            n,
        }
    }
}

impl Side for SoloPingPong {
    fn batch(&mut self, rt: &Runtime) -> f64 {
        let (there, back, n) = (&mut self.there, &mut self.back, self.n);
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..n {
                there.write([i; 4]);
                black_box(back.changed().await.unwrap());
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
    }
}

struct PublisherPingPong {
    there: Arc<Publisher<Words>>,
    back: Arc<Publisher<Words>>,
    n: u64,
}

impl PublisherPingPong {
    fn new(rt: &Runtime, n: u64) -> Self {
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
        PublisherPingPong { there, back, n }
    }
}

impl Side for PublisherPingPong {
    fn batch(&mut self, rt: &Runtime) -> f64 {
        let (there, back, n) = (&self.there, &self.back, self.n);
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..n {
                let seen = back.version();
                there.write([i; 4]);
                black_box(back.wait_newer_async(seen).await.unwrap());
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
    }
}

struct WatchPingPong {
    there: watch::Sender<Words>,
    back: watch::Receiver<Words>,
    n: u64,
}

impl WatchPingPong {
    fn new(rt: &Runtime, n: u64) -> Self {
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
        WatchPingPong { there, back, n }
    }
}

impl Side for WatchPingPong {
    fn batch(&mut self, rt: &Runtime) -> f64 {
        let (there, back, n) = (&self.there, &mut self.back, self.n);
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..n {
                there.send([i; 4]).unwrap();
                back.changed().await.unwrap();
                black_box(*back.borrow_and_update());
            }
            start.elapsed().as_nanos() as f64 / n as f64
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
    fn time(&self, done: &mpsc::Receiver<()>, rounds: u64, mut publish: impl FnMut(u64)) -> f64 {
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
        total.as_nanos() as f64 / rounds as f64
    }
}

struct Fanout<P> {
    round: Arc<Round>,
    done: mpsc::Receiver<()>,
    publish: P,
    rounds: u64,
    next: u64,
}

impl<P: FnMut(u64)> Side for Fanout<P> {
    fn batch(&mut self, _: &Runtime) -> f64 {
        let next = &mut self.next;
        let publish = &mut self.publish;
        self.round.time(&self.done, self.rounds, |_| {
            *next += 1;
            publish(*next);
        })
    }
}

fn solo_fanout(rt: &Runtime, rounds: u64) -> impl Side {
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
        rounds,
        next: 0,
    }
}

fn publisher_fanout(rt: &Runtime, rounds: u64) -> impl Side {
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
        rounds,
        next: 0,
    }
}

fn watch_fanout(rt: &Runtime, rounds: u64) -> impl Side {
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
        rounds,
        next: 0,
    }
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// `pairs` pairs of batches of `a` and `b`, the order flipping every pair.
fn compare(name: &str, rt: &Runtime, pairs: usize, a: &mut dyn Side, b: &mut dyn Side) {
    for _ in 0..3 {
        a.batch(rt);
        b.batch(rt);
    }
    let (mut va, mut vb, mut vr) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (x, y) = if i % 2 == 0 {
            let x = a.batch(rt);
            (x, b.batch(rt))
        } else {
            let y = b.batch(rt);
            (a.batch(rt), y)
        };
        va.push(x);
        vb.push(y);
        vr.push(x / y);
    }
    println!(
        "{name:<44} {:9.0} ns vs {:9.0} ns  ratio {:.3} [{:.3} .. {:.3}]  ({pairs} pairs)",
        pct(&mut va, 0.5),
        pct(&mut vb, 0.5),
        pct(&mut vr, 0.5),
        pct(&mut vr, 0.25),
        pct(&mut vr, 0.75),
    );
}

fn main() {
    let pairs: usize = std::env::args().nth(1).map_or(100, |a| a.parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    println!("noclobber vs tokio watch, median per unit, ratio = noclobber / watch (median [q1 .. q3] of the pairs)");
    let n = 2000;
    compare(
        "pingpong round trip: solo / watch",
        &rt,
        pairs,
        &mut SoloPingPong::new(&rt, n),
        &mut WatchPingPong::new(&rt, n),
    );
    compare(
        "pingpong round trip: publisher / watch",
        &rt,
        pairs,
        &mut PublisherPingPong::new(&rt, n),
        &mut WatchPingPong::new(&rt, n),
    );
    let rounds = 20;
    compare(
        "fanout 1000 tasks, one publication: solo / watch",
        &rt,
        pairs,
        &mut solo_fanout(&rt, rounds),
        &mut watch_fanout(&rt, rounds),
    );
    compare(
        "fanout 1000 tasks: publisher / watch",
        &rt,
        pairs,
        &mut publisher_fanout(&rt, rounds),
        &mut watch_fanout(&rt, rounds),
    );
}
