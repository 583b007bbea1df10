//! `ShardedCounter` (and its `local()` handle) against a wrapping `i64` model.
//!
//! Shard counts from 0 to `usize::MAX` (clamped by the crate), deltas biased to
//! `i64::MIN` / `i64::MAX`. Besides the fuzzing thread (which owns its shard),
//! `Elsewhere` runs a batch of operations on a fresh thread, joined before the
//! next op: it owns a shard of its own or, when its shard is taken, goes through
//! the shared `fetch_add` cell, and it leaves behind a shard whose owner is gone.
//! `Resident` ops drive up to two long-lived threads (issue 14: thread
//! lifecycles): started on first use, they run batches on request, may keep a
//! `local()` handle across batches, and exit on `Exit` (joined), giving their
//! slot and shard back to the next thread. Everything stays sequential (each
//! request waits for its reply), so every result is exact.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::ShardedCounter;
use std::sync::mpsc;
use std::sync::OnceLock;

use noclobber_fuzz::{expected_shards, Delta, ShardSel, MAX_OPS};

#[derive(Arbitrary, Debug)]
struct Input {
    init: Init,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Init {
    New,
    Default,
    WithShards(ShardSel),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Basic(Basic),
    Shards,
    Debug,
    /// A batch on a fresh thread (joined before the next op).
    Elsewhere(Vec<Basic>),
    /// A request to resident thread `which % 2`, started if not running.
    Resident {
        which: u8,
        cmd: Cmd,
    },
}

#[derive(Arbitrary, Debug)]
enum Cmd {
    /// Runs the batch on the resident thread.
    Run(Vec<Basic>),
    /// Takes a `local()` handle and keeps it until `Exit`.
    Hold,
    /// Adds through the kept handle (or a fresh one when none is kept).
    HeldAdd(Delta),
    /// Ends the thread (joined: its exit hook has run).
    Exit,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Basic {
    Add(Delta),
    Inc,
    Dec,
    Sum,
    Take,
    /// Through a fresh `ShardedCounter::local()` handle.
    LocalAdd(Delta),
    LocalInc,
    LocalDec,
}

struct Model {
    count: i64,
    /// `sum` and `take` visit every shard: on 65536 shards (about 1 ms each
    /// with sanitizer coverage) only a few per input are run.
    scans_left: usize,
}

impl Model {
    fn apply(&mut self, counter: &ShardedCounter, op: Basic) {
        if let Basic::Sum | Basic::Take = op {
            if self.scans_left == 0 {
                return;
            }
            self.scans_left -= 1;
        }
        match op {
            Basic::Add(d) => {
                counter.add(d.get());
                self.count = self.count.wrapping_add(d.get());
            }
            Basic::Inc => {
                counter.inc();
                self.count = self.count.wrapping_add(1);
            }
            Basic::Dec => {
                counter.dec();
                self.count = self.count.wrapping_sub(1);
            }
            Basic::Sum => assert_eq!(counter.sum(), self.count),
            Basic::Take => {
                assert_eq!(counter.take(), self.count);
                self.count = 0;
            }
            Basic::LocalAdd(d) => {
                counter.local().add(d.get());
                self.count = self.count.wrapping_add(d.get());
            }
            Basic::LocalInc => {
                counter.local().inc();
                self.count = self.count.wrapping_add(1);
            }
            Basic::LocalDec => {
                counter.local().dec();
                self.count = self.count.wrapping_sub(1);
            }
        }
    }
}

/// What a resident thread is asked to do; it replies with the model.
enum Request {
    Run(Vec<Basic>, Model),
    Hold(Model),
    HeldAdd(i64, Model),
}

fn resident(
    counter: &ShardedCounter,
    requests: mpsc::Receiver<Request>,
    reply: mpsc::Sender<Model>,
) {
    let mut held = None;
    for request in requests {
        let model = match request {
            Request::Run(batch, mut model) => {
                batch.into_iter().for_each(|b| model.apply(counter, b));
                model
            }
            Request::Hold(model) => {
                held = Some(counter.local());
                model
            }
            Request::HeldAdd(d, mut model) => {
                match &held {
                    Some(local) => local.add(d),
                    None => counter.local().add(d),
                }
                model.count = model.count.wrapping_add(d);
                model
            }
        };
        reply.send(model).unwrap();
    }
}

fn default_shards() -> usize {
    static SHARDS: OnceLock<usize> = OnceLock::new();
    // Documented: twice the hardware threads, rounded up to a power of two.
    *SHARDS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(4, usize::from);
        expected_shards(threads.saturating_mul(2))
    })
}

/// Counters clamped to `MAX_SHARDS` are 16 MiB: allocating one per input would
/// make this target spend nearly all its time in page faults, so the first one
/// is kept and reused. Every input leaves its counter at 0 (checked at the end),
/// so the next one starts from 0 too, with shards owned by threads long gone.
static LARGE: OnceLock<ShardedCounter> = OnceLock::new();

fuzz_target!(|input: Input| {
    let mut fresh: Option<ShardedCounter> = None;
    let (counter, shards) = match input.init {
        Init::New => (&*fresh.insert(ShardedCounter::new()), default_shards()),
        Init::Default => (&*fresh.insert(ShardedCounter::default()), default_shards()),
        Init::WithShards(sel @ ShardSel::Large(_)) => (
            LARGE.get_or_init(|| ShardedCounter::with_shards(sel.get())),
            noclobber::counter::MAX_SHARDS,
        ),
        Init::WithShards(sel) => (
            &*fresh.insert(ShardedCounter::with_shards(sel.get())),
            expected_shards(sel.get()),
        ),
    };
    assert_eq!(counter.shards(), shards);
    assert!(
        counter.shards().is_power_of_two() && counter.shards() <= noclobber::counter::MAX_SHARDS
    );
    let large = shards > 4096;
    let mut model = Model {
        count: 0,
        scans_left: if large { 2 } else { usize::MAX },
    };
    if !large {
        assert_eq!(counter.sum(), 0);
    }
    let mut spent = 0;
    std::thread::scope(|scope| {
        let mut residents: [Option<(
            mpsc::Sender<Request>,
            mpsc::Receiver<Model>,
            std::thread::ScopedJoinHandle<'_, ()>,
        )>; 2] = [None, None];
        for op in input.ops {
            spent += match &op {
                Op::Elsewhere(batch) => 1 + batch.len(),
                Op::Resident {
                    cmd: Cmd::Run(batch),
                    ..
                } => 1 + batch.len(),
                _ => 1,
            };
            if spent > MAX_OPS {
                break;
            }
            match op {
                Op::Basic(b) => model.apply(counter, b),
                Op::Shards => assert_eq!(counter.shards(), shards),
                Op::Debug if !large => assert_eq!(
                    format!("{counter:?}"),
                    format!(
                        "ShardedCounter {{ sum: {}, shards: {shards} }}",
                        model.count
                    )
                ),
                Op::Debug => {}
                Op::Elsewhere(batch) => std::thread::scope(|s| {
                    // Joined explicitly: the end of a scope only waits for the
                    // closure, not for the thread's exit (its TLS destructors), which
                    // LeakSanitizer then reports as a leak.
                    s.spawn(|| {
                        for b in batch {
                            model.apply(counter, b);
                        }
                    })
                    .join()
                    .unwrap();
                }),
                Op::Resident {
                    which,
                    cmd: Cmd::Exit,
                } => {
                    if let Some((requests, _, handle)) = residents[usize::from(which % 2)].take() {
                        drop(requests);
                        // An explicit join waits for the thread's exit hook.
                        handle.join().unwrap();
                    }
                }
                Op::Resident { which, cmd } => {
                    let (requests, replies, _) = residents[usize::from(which % 2)]
                        .get_or_insert_with(|| {
                            let (requests, incoming) = mpsc::channel();
                            let (reply, replies) = mpsc::channel();
                            let handle = scope.spawn(move || resident(counter, incoming, reply));
                            (requests, replies, handle)
                        });
                    let m = std::mem::replace(
                        &mut model,
                        Model {
                            count: 0,
                            scans_left: 0,
                        },
                    );
                    requests
                        .send(match cmd {
                            Cmd::Run(batch) => Request::Run(batch, m),
                            Cmd::Hold => Request::Hold(m),
                            Cmd::HeldAdd(d) => Request::HeldAdd(d.get(), m),
                            Cmd::Exit => unreachable!(),
                        })
                        .unwrap();
                    model = replies.recv().unwrap();
                }
            }
        }
        for (requests, _, handle) in residents.into_iter().flatten() {
            drop(requests);
            handle.join().unwrap();
        }
    });
    assert_eq!(counter.sum(), model.count);
    assert_eq!(counter.take(), model.count);
    assert_eq!(counter.sum(), 0);
    if !large {
        assert_eq!(counter.take(), 0);
    }
});
