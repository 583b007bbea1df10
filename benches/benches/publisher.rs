//! `noclobber::Publisher<[u64; 4], 4>` and the single-writer
//! `noclobber::SoloWriter<[u64; 4], 2>` + `SoloReader` (`noclobber_solo`):
//! * `publisher_read_4x64`: `read` against `arc-swap` `load` + copy of the
//!   array, std and parking_lot `RwLock` read + copy, and `noclobber::SeqLock`
//!   (reference), 1..=N reader threads; `noclobber_publisher_try_read` is the
//!   bounded `try_read` (one attempt, `Result<Versioned<_>, ReadError>`)
//!   beside `read`;
//! * `publisher_read_4x64_paced_writer` / `publisher_read_4x64_busy_writer`: the
//!   same while one extra thread publishes about once per microsecond / back to
//!   back (parameter = reader threads, readers + writer <= N);
//! * `publish_4x64`: the cost of one publication, 1..=N writer threads:
//!   `write` against `ArcSwap::store(Arc::new(..))`, `RwLock` write and
//!   `SeqLock::write` (reference); `noclobber_solo` at 1 thread only (it has
//!   one writer by construction).
//!
//! Time = ns per op per thread. See `benches/common/mod.rs`.

mod common;

use std::hint::black_box;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use common::{
    bench, bench_mode, config, reader_counts_with_writer, thread_counts, Words4, Writer,
    WRITE_PERIOD,
};
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_utils::CachePadded;
use std::sync::Mutex;

use noclobber::{Publisher, SeqLock, SoloWriter};

const INIT: Words4 = [1, 2, 3, 4];
/// Slots: 4 leaves room for two stalled writers (see `Publisher` docs).
type Pub = Publisher<Words4, 4>;
/// Two slots: enough for a single writer never to block readers.
type Solo = SoloWriter<Words4, 2>;

/// Hands the one writer to the one thread that asks for it (once per
/// benchmark, outside the timed loop).
fn take_writer(slot: &Mutex<Option<SoloWriter<Words4, 2>>>) -> SoloWriter<Words4, 2> {
    slot.lock().unwrap().take().expect("one writer thread")
}

macro_rules! impls {
    ($one:ident) => {
        $one!(
            "noclobber_publisher",
            Pub::with_slots(INIT),
            |l| l.read(),
            |l, v| l.write(v)
        );
        $one!(
            "arc_swap_load_copy",
            ArcSwap::from_pointee(INIT),
            |l| **l.load(),
            |l, v| l.store(Arc::new(v))
        );
        $one!(
            "std_rwlock",
            RwLock::new(INIT),
            |l| *l.read().unwrap(),
            |l, v| *l.write().unwrap() = v
        );
        $one!(
            "parking_lot_rwlock",
            parking_lot::RwLock::new(INIT),
            |l| *l.read(),
            |l, v| *l.write() = v
        );
        $one!(
            "noclobber_seqlock",
            SeqLock::new(INIT),
            |l| l.read(),
            |l, v| l.write(v)
        );
    };
}

fn read_scenario(c: &mut Criterion, group: &str, writer: Writer) {
    let mut g = c.benchmark_group(group);
    let counts = match writer {
        Writer::None => thread_counts(),
        _ => reader_counts_with_writer(),
    };
    for t in counts {
        macro_rules! one {
            ($name:expr, $lock:expr, |$l:ident| $read:expr, |$lw:ident, $v:ident| $write:expr) => {{
                let lock = &CachePadded::new($lock);
                let mut i = 0u64;
                bench_mode(
                    &mut g,
                    $name,
                    t,
                    writer,
                    move |_| {
                        move || {
                            let $l = &**lock;
                            black_box($read);
                        }
                    },
                    move || {
                        i += 1;
                        let $v: Words4 = [i; 4];
                        let $lw = &**lock;
                        black_box($write);
                    },
                );
            }};
        }
        impls!(one);
        // #12: the bounded read, against `read` just above (target: within 5%).
        // Read-side only, so not in `impls!`, which the publish group shares.
        one!(
            "noclobber_publisher_try_read",
            Pub::with_slots(INIT),
            |l| black_box(l.try_read()).is_ok(),
            |l, v| l.write(v)
        );
        // The single writer is owned by the writer closure; each reader
        // thread clones its own reader outside the timed loop.
        let mut w = Solo::with_slots(INIT);
        let r = &w.reader();
        let mut i = 0u64;
        bench_mode(
            &mut g,
            "noclobber_solo",
            t,
            writer,
            move |_| {
                let r = r.clone();
                move || {
                    black_box(r.read());
                }
            },
            move || {
                i += 1;
                black_box(w.write([i; 4]));
            },
        );
    }
    g.finish();
}

fn publisher_read(c: &mut Criterion) {
    read_scenario(c, "publisher_read_4x64", Writer::None);
    read_scenario(
        c,
        "publisher_read_4x64_paced_writer",
        Writer::Paced(WRITE_PERIOD),
    );
    read_scenario(c, "publisher_read_4x64_busy_writer", Writer::Busy);
}

fn publish(c: &mut Criterion) {
    let mut g = c.benchmark_group("publish_4x64");
    for t in thread_counts() {
        macro_rules! one {
            ($name:expr, $lock:expr, |$l:ident| $read:expr, |$lw:ident, $v:ident| $write:expr) => {{
                let lock = &CachePadded::new($lock);
                bench(&mut g, $name, t, move |tid| {
                    // Distinct values per thread and per publication.
                    let mut i = (tid as u64) << 48;
                    move || {
                        i += 1;
                        let $v: Words4 = [i; 4];
                        let $lw = &**lock;
                        black_box($write);
                    }
                });
            }};
        }
        impls!(one);
        if t == 1 {
            let w = Solo::with_slots(INIT);
            let _r = w.reader();
            let slot = Mutex::new(Some(w));
            bench(&mut g, "noclobber_solo", t, |_| {
                let mut w = take_writer(&slot);
                let mut i = 0u64;
                move || {
                    i += 1;
                    black_box(w.write([i; 4]));
                }
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = publisher_read, publish
}
criterion_main!(benches);
