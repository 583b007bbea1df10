//! Reads of a `[u64; 4]`: `noclobber::SeqLock::read` against std `RwLock` and
//! `Mutex`, parking_lot `RwLock`, crossbeam `AtomicCell::load` and the
//! `seqlock` crate, in three groups:
//! * `seqlock_read_4x64`: readers only, 1..=N reader threads;
//! * `seqlock_read_4x64_paced_writer`: one extra thread writes about once per
//!   microsecond (parameter = reader threads, readers + writer <= N);
//! * `seqlock_read_4x64_busy_writer`: the extra thread writes back to back.
//!
//! Time = ns per read per reader thread. See `benches/common/mod.rs`.

mod common;

use std::hint::black_box;
use std::sync::{Mutex, RwLock};

use common::{
    bench_mode, config, reader_counts_with_writer, thread_counts, Words4, Writer, WRITE_PERIOD,
};
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_utils::atomic::AtomicCell;
use crossbeam_utils::CachePadded;

const INIT: Words4 = [1, 2, 3, 4];

fn scenario(c: &mut Criterion, group: &str, writer: Writer) {
    let mut g = c.benchmark_group(group);
    let counts = match writer {
        Writer::None => thread_counts(),
        _ => reader_counts_with_writer(),
    };
    for t in counts {
        // `$lock`: the shared object; `|l| $read`: one read; `|l, v| $write`: one
        // write of `v` (used by the background writer only).
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
        one!(
            "noclobber_seqlock",
            noclobber::SeqLock::new(INIT),
            |l| l.read(),
            |l, v| l.write(v)
        );
        one!(
            "std_rwlock",
            RwLock::new(INIT),
            |l| *l.read().unwrap(),
            |l, v| *l.write().unwrap() = v
        );
        one!(
            "parking_lot_rwlock",
            parking_lot::RwLock::new(INIT),
            |l| *l.read(),
            |l, v| *l.write() = v
        );
        one!(
            "std_mutex",
            Mutex::new(INIT),
            |l| *l.lock().unwrap(),
            |l, v| *l.lock().unwrap() = v
        );
        one!(
            "crossbeam_atomiccell",
            AtomicCell::new(INIT),
            |l| l.load(),
            |l, v| l.store(v)
        );
        one!(
            "seqlock_crate",
            seqlock::SeqLock::new(INIT),
            |l| l.read(),
            |l, v| *l.lock_write() = v
        );
    }
    g.finish();
}

fn seqlock_read(c: &mut Criterion) {
    scenario(c, "seqlock_read_4x64", Writer::None);
    scenario(
        c,
        "seqlock_read_4x64_paced_writer",
        Writer::Paced(WRITE_PERIOD),
    );
    scenario(c, "seqlock_read_4x64_busy_writer", Writer::Busy);
}

criterion_group! {
    name = benches;
    config = config();
    targets = seqlock_read
}
criterion_main!(benches);
