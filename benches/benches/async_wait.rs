//! The async waits (feature `async`) against `tokio::sync::watch`, on a
//! tokio multi-thread runtime of 2 workers (this host's cores), `[u64; 4]`:
//!
//! * `async_wake_pingpong` (parameter 1): the wake latency, as a ping-pong
//!   of two tasks (`src/async_sides.rs`): one iteration is a write and a
//!   wake-up each way. `noclobber_solo` (`SoloWriter` + `Cursor::changed`),
//!   `noclobber_publisher` (`Publisher::wait_newer_async`), `tokio_watch`
//!   (`send`, `changed`, `borrow_and_update` + copy).
//! * `async_fanout_1000` (parameter 1000): 1000 tasks wait on one object;
//!   one iteration is one publication and the time until every task has
//!   seen it.
//!
//! Separate criterion runs drift on this host by more than the differences;
//! `src/bin/async_report.rs` times the same sides paired.
//! * `async_read_4x64` / `async_read_4x64_busy_writer` (parameter 1 reader):
//!   what a woken task pays to read the value: `SoloReader::read`, against
//!   `watch::Receiver::borrow` + copy (and `borrow_and_update`), alone and
//!   while another thread publishes back to back.

mod common;
#[path = "../src/async_sides.rs"]
mod sides;

use std::hint::black_box;

use common::{bench_mode, config, Words4, Writer};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use noclobber::{Cursor, SoloWriter};
use sides::{PublisherPingPong, Side, SoloPingPong, WatchPingPong, TASKS};
use tokio::runtime::Runtime;
use tokio::sync::watch;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Times `side` for each of criterion's samples.
fn bench_side(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    rt: &Runtime,
    side: &mut dyn Side,
) {
    g.bench_function(id, |b| b.iter_custom(|iters| side.run(rt, iters)));
}

fn pingpong(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("async_wake_pingpong");
    bench_side(
        &mut g,
        BenchmarkId::new("noclobber_solo", 1),
        &rt,
        &mut SoloPingPong::new(&rt),
    );
    bench_side(
        &mut g,
        BenchmarkId::new("noclobber_publisher", 1),
        &rt,
        &mut PublisherPingPong::new(&rt),
    );
    bench_side(
        &mut g,
        BenchmarkId::new("tokio_watch", 1),
        &rt,
        &mut WatchPingPong::new(&rt),
    );
    g.finish();
}

fn fanout(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("async_fanout_1000");
    g.sample_size(20);
    bench_side(
        &mut g,
        BenchmarkId::new("noclobber_solo", TASKS),
        &rt,
        &mut sides::solo_fanout(&rt),
    );
    bench_side(
        &mut g,
        BenchmarkId::new("noclobber_publisher", TASKS),
        &rt,
        &mut sides::publisher_fanout(&rt),
    );
    bench_side(
        &mut g,
        BenchmarkId::new("tokio_watch", TASKS),
        &rt,
        &mut sides::watch_fanout(&rt),
    );
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
