//! The async waits (feature `async`) against `tokio::sync::watch`, on a
//! tokio multi-thread runtime of 2 workers (this host's cores), `[u64; 4]`:
//!
//! * `async_wake_pingpong` (parameter 1): the wake latency. A task waits on
//!   one object and, woken, writes a second, on which the bench thread
//!   waits: one iteration is a write and a wake-up each way, publish to task
//!   resumed twice. `noclobber_solo` (`SoloWriter` + `Cursor::changed`),
//!   `noclobber_publisher` (`Publisher::wait_newer_async`), `tokio_watch`
//!   (`send`, `changed`, `borrow_and_update` + copy).
//! * `async_fanout_1000` (parameter 1000): 1000 tasks wait on one object;
//!   one iteration is one publication and the time until every task has
//!   seen it (the last one tells the bench thread). Between iterations, not
//!   timed, every task is back waiting.
//! * `async_read_4x64` / `async_read_4x64_busy_writer` (parameter 1 reader):
//!   what a woken task pays to read the value: `SoloReader::read`, against
//!   `watch::Receiver::borrow` + copy (and `borrow_and_update`), alone and
//!   while another thread publishes back to back.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{bench_mode, config, Words4, Writer};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use noclobber::{Cursor, Publisher, SoloWriter};
use tokio::runtime::Runtime;
use tokio::sync::watch;

const TASKS: usize = 1000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn pingpong(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("async_wake_pingpong");
    {
        let (mut there, far) = SoloWriter::<Words4>::channel([0; 4]);
        let (mut echo, back) = SoloWriter::<Words4>::channel([0; 4]);
        // Made before the task starts: it has seen version 0.
        let mut far = Cursor::new(far);
        rt.spawn(async move {
            while let Ok(v) = far.changed().await {
                echo.write(v.value);
            }
        });
        let mut back = Cursor::new(back);
        g.bench_function(BenchmarkId::new("noclobber_solo", 1), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        there.write([i; 4]);
                        black_box(back.changed().await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    {
        let there = Arc::new(Publisher::<Words4>::new([0; 4]));
        let back = Arc::new(Publisher::<Words4>::new([0; 4]));
        let (far, echo) = (Arc::clone(&there), Arc::clone(&back));
        let echoing = rt.spawn(async move {
            let mut seen = 0;
            loop {
                let v = far.wait_newer_async(seen).await.unwrap();
                seen = v.version;
                if v.value[0] == u64::MAX {
                    return;
                }
                echo.write(v.value);
            }
        });
        g.bench_function(BenchmarkId::new("noclobber_publisher", 1), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        let seen = back.version();
                        there.write([i; 4]);
                        black_box(back.wait_newer_async(seen).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
        there.write([u64::MAX; 4]);
        rt.block_on(echoing).unwrap();
    }
    {
        let (there, mut far) = watch::channel::<Words4>([0; 4]);
        let (echo, mut back) = watch::channel::<Words4>([0; 4]);
        rt.spawn(async move {
            while far.changed().await.is_ok() {
                let v = *far.borrow_and_update();
                if echo.send(v).is_err() {
                    return;
                }
            }
        });
        g.bench_function(BenchmarkId::new("tokio_watch", 1), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        there.send([i; 4]).unwrap();
                        back.changed().await.unwrap();
                        black_box(*back.borrow_and_update());
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// The tasks' side of a fan-out round: counted once each per publication.
struct Round {
    /// Tasks that have not seen this round's publication yet.
    left: AtomicUsize,
    /// Tasks waiting again (or about to) after the last round.
    armed: AtomicUsize,
    done: std::sync::Mutex<mpsc::Sender<()>>,
}

impl Round {
    fn new() -> (Arc<Round>, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let round = Round {
            left: AtomicUsize::new(0),
            armed: AtomicUsize::new(0),
            done: std::sync::Mutex::new(tx),
        };
        (Arc::new(round), rx)
    }

    /// A task saw the round's publication.
    fn seen(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.done.lock().unwrap().send(());
        }
    }

    /// `iters` rounds of `publish`, timed from the publication until the
    /// last task saw it; each starts once all tasks wait again.
    fn time(
        &self,
        done: &mpsc::Receiver<()>,
        iters: u64,
        mut publish: impl FnMut(u64),
    ) -> Duration {
        let mut total = Duration::ZERO;
        for i in 0..iters {
            while self.armed.load(Ordering::Acquire) < TASKS {
                std::thread::yield_now();
            }
            // Let the last ones reach their wait.
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

fn fanout(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("async_fanout_1000");
    g.sample_size(20);
    {
        let (round, done) = Round::new();
        let (mut w, r) = SoloWriter::<Words4>::channel([0; 4]);
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
        g.bench_function(BenchmarkId::new("noclobber_solo", TASKS), |b| {
            b.iter_custom(|iters| {
                round.time(&done, iters, |i| {
                    w.write([i; 4]);
                })
            })
        });
    }
    {
        let (round, done) = Round::new();
        let p = Arc::new(Publisher::<Words4>::new([0; 4]));
        for _ in 0..TASKS {
            let (round, p) = (Arc::clone(&round), Arc::clone(&p));
            rt.spawn(async move {
                let mut seen = 0;
                loop {
                    round.armed.fetch_add(1, Ordering::Release);
                    let v = p.wait_newer_async(seen).await.unwrap();
                    if v.value[0] == u64::MAX {
                        return;
                    }
                    seen = v.version;
                    round.seen();
                }
            });
        }
        g.bench_function(BenchmarkId::new("noclobber_publisher", TASKS), |b| {
            b.iter_custom(|iters| {
                round.time(&done, iters, |i| {
                    p.write([i; 4]);
                })
            })
        });
        p.write([u64::MAX; 4]);
    }
    {
        let (round, done) = Round::new();
        let (tx, rx) = watch::channel::<Words4>([0; 4]);
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
        drop(rx);
        g.bench_function(BenchmarkId::new("tokio_watch", TASKS), |b| {
            b.iter_custom(|iters| round.time(&done, iters, |i| tx.send([i; 4]).unwrap()))
        });
    }
    g.finish();
}

fn read(c: &mut Criterion) {
    for (group, writer) in [
        ("async_read_4x64", Writer::None),
        ("async_read_4x64_busy_writer", Writer::Busy),
    ] {
        let mut g = c.benchmark_group(group);
        {
            let (w, r) = SoloWriter::<Words4>::channel([1; 4]);
            let w = std::sync::Mutex::new(w);
            let mut i = 0u64;
            bench_mode(
                &mut g,
                "noclobber_solo",
                1,
                writer,
                |_| {
                    let r = r.clone();
                    move || {
                        black_box(r.read());
                    }
                },
                || {
                    i += 1;
                    w.lock().unwrap().write([i; 4]);
                },
            );
        }
        {
            let (w, r) = SoloWriter::<Words4>::channel([1; 4]);
            let w = std::sync::Mutex::new(w);
            let mut i = 0u64;
            bench_mode(
                &mut g,
                "noclobber_cursor_read_and_update",
                1,
                writer,
                |_| {
                    let mut cursor = Cursor::new(r.clone());
                    move || {
                        black_box(cursor.read_and_update());
                    }
                },
                || {
                    i += 1;
                    w.lock().unwrap().write([i; 4]);
                },
            );
        }
        {
            let (tx, rx) = watch::channel::<Words4>([1; 4]);
            let mut i = 0u64;
            bench_mode(
                &mut g,
                "tokio_watch_borrow_copy",
                1,
                writer,
                |_| {
                    let rx = rx.clone();
                    move || {
                        black_box(*rx.borrow());
                    }
                },
                || {
                    i += 1;
                    tx.send_replace([i; 4]);
                },
            );
        }
        {
            let (tx, rx) = watch::channel::<Words4>([1; 4]);
            let mut i = 0u64;
            bench_mode(
                &mut g,
                "tokio_watch_borrow_and_update_copy",
                1,
                writer,
                |_| {
                    let mut rx = rx.clone();
                    move || {
                        black_box(*rx.borrow_and_update());
                    }
                },
                || {
                    i += 1;
                    tx.send_replace([i; 4]);
                },
            );
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = pingpong, fanout, read
}
criterion_main!(benches);
