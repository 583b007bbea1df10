//! Two threads (`std::thread::scope`) run fuzzer-chosen op sequences against
//! shared primitives; the invariants are checked after both are joined.
//!
//! Every written value encodes `(writer, primitive, sequence)` through
//! [`Payload::from_seed`], so values are unique and a torn value (words of two
//! writes) is recognisable. Each thread logs what it observed, in order; after
//! the join, for every `VersionedCell`, `SeqLock` and `Publisher`:
//!
//! * the versions returned by successful writes are exactly `1..=n`, each once,
//!   and the final version is `n`;
//! * every observed value is the initial value or a committed write, and an
//!   observed `(value, version)` pair is the one that write produced;
//! * per thread, the versions observed (including those of plain reads, found
//!   through the value) never go backwards;
//! * a failed `write_if` reports a version other than the expected one;
//! * an `update` committed as version `v` computed its value from the value of
//!   version `v - 1` (no lost update).
//!
//! For the `ShardedCounter`: the sum of all adds equals the sum of all takes
//! plus the final sum (wrapping), and a final `take` empties it.
//!
//! A concurrency bug is timing dependent, so a crash found here may not
//! reproduce on every run of the saved input.
#![no_main]

use std::collections::HashMap;
use std::sync::Barrier;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::{Publisher, ReadError, SeqLock, ShardedCounter, Versioned, VersionedCell};
use noclobber_fuzz::{Abc, Delta, Payload, MAX_OPS};

#[derive(Arbitrary, Debug)]
struct Input {
    /// `with_shards(shards % 9)`: 1 shard forces one thread onto the shared cell.
    shards: u8,
    /// Each thread runs its sequence `1 + rounds % 32` times (more overlap).
    rounds: u8,
    a: Vec<Step>,
    b: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    Once(COp),
    /// The op `1 + n % 64` times in a row: hammers one primitive, so the two
    /// threads overlap on it.
    Burst(COp, u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum COp {
    Cell64(CellOp),
    CellArr3(CellOp),
    CellAbc(CellOp),
    Seq64(SeqOp),
    SeqArr3(SeqOp),
    Pub64x2(PubOp),
    PubArr3x2(PubOp),
    PubAbc3(PubOp),
    Counter(CounterOp),
}

/// Which version a conditional write expects.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Expect {
    /// The last version this thread observed (right unless the other thread wrote).
    Last,
    /// A version read just before.
    Fresh,
    /// `last + 1 + n`: wrong now, may become right after the other thread writes.
    Ahead(u8),
    /// `last - 1 - n` (wrapping): always wrong.
    Stale(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum CellOp {
    /// `read_versioned` (0.1: `load`).
    ReadVersioned,
    Version,
    /// `write_if` (0.1: `compare_exchange`).
    WriteIf(Expect),
    Update,
    /// `checked_update` (0.1: `try_update`).
    CheckedUpdate {
        decline_odd: bool,
    },
    /// `write` (0.1: `store`).
    Write,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SeqOp {
    Read,
    ReadVersioned,
    /// `try_read`, its value logged (0.1: `try_read`, `Option<T>`).
    TryRead,
    /// `try_read`, value and version logged (0.1: `try_read_versioned`).
    TryReadVersioned,
    Version,
    Write,
    Update,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum PubOp {
    Read,
    ReadVersioned,
    Version,
    /// `write` (0.1: `publish`).
    Write,
    /// `write_if` (0.1: `publish_if`).
    WriteIf(Expect),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum CounterOp {
    Add(Delta),
    Inc,
    Dec,
    Sum,
    Take,
    /// Through the thread's `ShardedCounter::local()` handle.
    LocalAdd(Delta),
}

struct Shared {
    cell64: VersionedCell<u64>,
    cell_arr3: VersionedCell<[u64; 3]>,
    cell_abc: VersionedCell<Abc>,
    seq64: SeqLock<u64>,
    seq_arr3: SeqLock<[u64; 3]>,
    pub64: Publisher<u64, 2>,
    pub_arr3: Publisher<[u64; 3], 2>,
    pub_abc: Publisher<Abc, 3>,
    counter: ShardedCounter,
}

/// Primitive ids, part of every stamped value.
const CELL64: u64 = 0;
const CELL_ARR3: u64 = 1;
const CELL_ABC: u64 = 2;
const SEQ64: u64 = 3;
const SEQ_ARR3: u64 = 4;
const PUB64: u64 = 5;
const PUB_ARR3: u64 = 6;
const PUB_ABC: u64 = 7;

/// `writer` 0 is the initial value; the threads are writers 1 and 2.
fn stamp<T: Payload>(writer: u64, prim: u64, seq: u64) -> T {
    T::from_seed(writer << 56 | prim << 48 | seq)
}

/// One observation, in program order of the thread that made it.
#[derive(Debug)]
struct Obs<T> {
    version: Option<u64>,
    value: Option<T>,
}

/// What one thread did and saw on one primitive.
struct Log<T> {
    /// `(version, value)` of each successful write by this thread.
    writes: Vec<(u64, T)>,
    obs: Vec<Obs<T>>,
    /// `(committed version, value the closure was given)` of each successful
    /// read-modify-write: the value must be the one of the version before.
    rmw: Vec<(u64, T)>,
    /// Last version observed, for the conditional writes.
    last: u64,
}

impl<T: Payload> Log<T> {
    fn new() -> Self {
        Log {
            writes: Vec::new(),
            obs: Vec::new(),
            rmw: Vec::new(),
            last: 0,
        }
    }
    fn value(&mut self, value: T) {
        assert!(value.seed_of().is_some(), "torn value {value:?}");
        self.obs.push(Obs {
            version: None,
            value: Some(value),
        });
    }
    fn version(&mut self, version: u64) {
        self.last = version;
        self.obs.push(Obs {
            version: Some(version),
            value: None,
        });
    }
    fn versioned(&mut self, v: Versioned<T>) {
        assert!(v.value.seed_of().is_some(), "torn value {v:?}");
        self.last = v.version;
        self.obs.push(Obs {
            version: Some(v.version),
            value: Some(v.value),
        });
    }
    fn wrote(&mut self, version: u64, value: T) {
        self.writes.push((version, value));
        self.versioned(Versioned { value, version });
    }
    fn expect(&self, e: Expect, fresh: impl FnOnce() -> u64) -> u64 {
        match e {
            Expect::Last => self.last,
            Expect::Fresh => fresh(),
            Expect::Ahead(n) => self.last.wrapping_add(1 + u64::from(n)),
            Expect::Stale(n) => self.last.wrapping_sub(1 + u64::from(n)),
        }
    }
}

/// Stamps for one primitive on one thread.
struct Stamper {
    writer: u64,
    prim: u64,
    seq: u64,
}

impl Stamper {
    fn next<T: Payload>(&mut self) -> T {
        self.seq += 1;
        stamp(self.writer, self.prim, self.seq)
    }
}

struct Thread {
    cell64: (Log<u64>, Stamper),
    cell_arr3: (Log<[u64; 3]>, Stamper),
    cell_abc: (Log<Abc>, Stamper),
    seq64: (Log<u64>, Stamper),
    seq_arr3: (Log<[u64; 3]>, Stamper),
    pub64: (Log<u64>, Stamper),
    pub_arr3: (Log<[u64; 3]>, Stamper),
    pub_abc: (Log<Abc>, Stamper),
    adds: i64,
    takes: i64,
}

impl Thread {
    fn new(writer: u64) -> Self {
        let s = |prim| Stamper {
            writer,
            prim,
            seq: 0,
        };
        Thread {
            cell64: (Log::new(), s(CELL64)),
            cell_arr3: (Log::new(), s(CELL_ARR3)),
            cell_abc: (Log::new(), s(CELL_ABC)),
            seq64: (Log::new(), s(SEQ64)),
            seq_arr3: (Log::new(), s(SEQ_ARR3)),
            pub64: (Log::new(), s(PUB64)),
            pub_arr3: (Log::new(), s(PUB_ARR3)),
            pub_abc: (Log::new(), s(PUB_ABC)),
            adds: 0,
            takes: 0,
        }
    }

    fn run(&mut self, shared: &Shared, op: COp) {
        match op {
            COp::Cell64(op) => cell_op(&shared.cell64, &mut self.cell64, op),
            COp::CellArr3(op) => cell_op(&shared.cell_arr3, &mut self.cell_arr3, op),
            COp::CellAbc(op) => cell_op(&shared.cell_abc, &mut self.cell_abc, op),
            COp::Seq64(op) => seq_op(&shared.seq64, &mut self.seq64, op),
            COp::SeqArr3(op) => seq_op(&shared.seq_arr3, &mut self.seq_arr3, op),
            COp::Pub64x2(op) => pub_op(&shared.pub64, &mut self.pub64, op),
            COp::PubArr3x2(op) => pub_op(&shared.pub_arr3, &mut self.pub_arr3, op),
            COp::PubAbc3(op) => pub_op(&shared.pub_abc, &mut self.pub_abc, op),
            COp::Counter(op) => match op {
                CounterOp::Add(d) => {
                    shared.counter.add(d.get());
                    self.adds = self.adds.wrapping_add(d.get());
                }
                CounterOp::Inc => {
                    shared.counter.inc();
                    self.adds = self.adds.wrapping_add(1);
                }
                CounterOp::Dec => {
                    shared.counter.dec();
                    self.adds = self.adds.wrapping_sub(1);
                }
                CounterOp::Sum => {
                    let _ = shared.counter.sum();
                }
                CounterOp::Take => self.takes = self.takes.wrapping_add(shared.counter.take()),
                CounterOp::LocalAdd(d) => {
                    shared.counter.local().add(d.get());
                    self.adds = self.adds.wrapping_add(d.get());
                }
            },
        }
    }
}

fn cell_op<T: Payload>(cell: &VersionedCell<T>, (log, stamps): &mut (Log<T>, Stamper), op: CellOp) {
    match op {
        CellOp::ReadVersioned => log.versioned(cell.read_versioned()),
        CellOp::Version => log.version(cell.version()),
        CellOp::WriteIf(e) => {
            let expected = log.expect(e, || cell.read_versioned().version);
            let value = stamps.next();
            match cell.write_if(expected, value) {
                Ok(v) => {
                    assert_eq!(v, expected.wrapping_add(1));
                    log.wrote(v, value);
                }
                Err(current) => {
                    assert_ne!(
                        current.version, expected,
                        "write_if refused the right version"
                    );
                    log.versioned(current);
                }
            }
        }
        CellOp::Update => {
            let mut given = None;
            let done = cell.update(|old| {
                log.value(old);
                given = Some(old);
                stamps.next()
            });
            log.wrote(done.version, done.value);
            log.rmw.push((done.version, given.unwrap()));
        }
        CellOp::CheckedUpdate { decline_odd } => {
            let mut given = None;
            let got = cell.checked_update(|old| {
                log.value(old);
                given = Some(old);
                let odd = old.seed_of().unwrap_or(0) & 1 == 1;
                (odd != decline_odd).then(|| stamps.next())
            });
            match got {
                Ok(done) => {
                    log.wrote(done.version, done.value);
                    log.rmw.push((done.version, given.unwrap()));
                }
                Err(current) => {
                    let odd = current.value.seed_of().unwrap_or(0) & 1 == 1;
                    assert_eq!(
                        odd, decline_odd,
                        "checked_update returned Err for a value the closure accepts"
                    );
                    log.versioned(current);
                }
            }
        }
        CellOp::Write => {
            let value = stamps.next();
            let v = cell.write(value);
            log.wrote(v, value);
        }
    }
}

fn seq_op<T: Payload>(lock: &SeqLock<T>, (log, stamps): &mut (Log<T>, Stamper), op: SeqOp) {
    match op {
        SeqOp::Read => log.value(lock.read()),
        SeqOp::ReadVersioned => log.versioned(lock.read_versioned()),
        // A write in progress is the only reason a one-shot read may fail.
        SeqOp::TryRead => match lock.try_read() {
            Ok(v) => log.value(v.value),
            Err(ReadError::Interrupted) => {}
            Err(e) => panic!("SeqLock::try_read: {e}"),
        },
        SeqOp::TryReadVersioned => match lock.try_read() {
            Ok(v) => log.versioned(v),
            Err(ReadError::Interrupted) => {}
            Err(e) => panic!("SeqLock::try_read: {e}"),
        },
        SeqOp::Version => log.version(lock.version()),
        SeqOp::Write => {
            let value = stamps.next();
            let v = lock.write(value);
            log.wrote(v, value);
        }
        SeqOp::Update => {
            let mut given = None;
            let done = lock.update(|old| {
                log.value(old);
                given = Some(old);
                stamps.next()
            });
            log.wrote(done.version, done.value);
            log.rmw.push((done.version, given.unwrap()));
        }
    }
}

fn pub_op<T: Payload, const S: usize>(
    p: &Publisher<T, S>,
    (log, stamps): &mut (Log<T>, Stamper),
    op: PubOp,
) {
    match op {
        PubOp::Read => log.value(p.read()),
        PubOp::ReadVersioned => log.versioned(p.read_versioned()),
        PubOp::Version => log.version(p.version()),
        PubOp::Write => {
            let value = stamps.next();
            let v = p.write(value);
            log.wrote(v, value);
        }
        PubOp::WriteIf(e) => {
            let expected = log.expect(e, || p.version());
            let value = stamps.next();
            match p.write_if(expected, value) {
                Ok(v) => {
                    assert_eq!(v, expected.wrapping_add(1));
                    log.wrote(v, value);
                }
                Err(current) => {
                    assert_ne!(
                        current.version, expected,
                        "write_if refused the right version"
                    );
                    log.versioned(current);
                }
            }
        }
    }
}

/// The post-join checks for one versioned primitive.
fn check<T: Payload>(name: &str, init: T, last: Versioned<T>, version: u64, logs: [&Log<T>; 2]) {
    let mut by_version = HashMap::from([(0u64, init)]);
    for log in logs {
        for &(v, value) in &log.writes {
            if let Some(old) = by_version.insert(v, value) {
                panic!("{name}: version {v} returned by two writes ({old:?} and {value:?})");
            }
        }
    }
    let n = by_version.len() as u64 - 1;
    assert_eq!(
        last.version, n,
        "{name}: final version is not the number of successful writes"
    );
    assert_eq!(
        version, n,
        "{name}: version() is not the number of successful writes"
    );
    for v in 0..=n {
        assert!(
            by_version.contains_key(&v),
            "{name}: no write returned version {v}"
        );
    }
    assert_eq!(
        by_version[&last.version], last.value,
        "{name}: final value is not the last write's"
    );
    let by_value: HashMap<T, u64> = by_version.iter().map(|(&v, &x)| (x, v)).collect();
    assert_eq!(
        by_value.len(),
        by_version.len(),
        "{name}: stamps are not unique"
    );
    for (thread, log) in logs.into_iter().enumerate() {
        for &(v, old) in &log.rmw {
            let before = by_version[&(v - 1)];
            assert_eq!(old, before, "{name}: thread {thread}: update committed as version {v} from {old:?}, but version {} was {before:?} (lost update)", v - 1);
        }
        let mut prev = 0;
        for obs in &log.obs {
            let version = match (obs.version, obs.value) {
                (Some(v), Some(value)) => {
                    let written = by_version.get(&v);
                    assert_eq!(
                        written,
                        Some(&value),
                        "{name}: thread {thread} saw {value:?} at version {v}"
                    );
                    v
                }
                (Some(v), None) => {
                    assert!(v <= n, "{name}: thread {thread} saw version {v} > {n}");
                    v
                }
                (None, Some(value)) => *by_value.get(&value).unwrap_or_else(|| {
                    panic!("{name}: thread {thread} saw {value:?}, never written")
                }),
                (None, None) => unreachable!(),
            };
            assert!(
                version >= prev,
                "{name}: thread {thread} saw version {version} after {prev}"
            );
            prev = version;
        }
    }
}

fuzz_target!(|input: Input| {
    let shared = Shared {
        cell64: VersionedCell::new(stamp(0, CELL64, 0)),
        cell_arr3: VersionedCell::new(stamp(0, CELL_ARR3, 0)),
        cell_abc: VersionedCell::new(stamp(0, CELL_ABC, 0)),
        seq64: SeqLock::new(stamp(0, SEQ64, 0)),
        seq_arr3: SeqLock::new(stamp(0, SEQ_ARR3, 0)),
        pub64: Publisher::with_slots(stamp(0, PUB64, 0)),
        pub_arr3: Publisher::with_slots(stamp(0, PUB_ARR3, 0)),
        pub_abc: Publisher::with_slots(stamp(0, PUB_ABC, 0)),
        counter: ShardedCounter::with_shards(usize::from(input.shards % 9)),
    };
    let rounds = 1 + usize::from(input.rounds % 32);
    let barrier = Barrier::new(2);
    let run = |writer: u64, steps: &[Step]| {
        let mut t = Thread::new(writer);
        barrier.wait();
        for _ in 0..rounds {
            for &step in steps.iter().take(MAX_OPS) {
                match step {
                    Step::Once(op) => t.run(&shared, op),
                    Step::Burst(op, n) => (0..=n % 64).for_each(|_| t.run(&shared, op)),
                }
            }
        }
        t
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(1, &input.a));
        let b = s.spawn(|| run(2, &input.b));
        (a.join().unwrap(), b.join().unwrap())
    });

    check(
        "cell64",
        stamp(0, CELL64, 0),
        shared.cell64.read_versioned(),
        shared.cell64.version(),
        [&a.cell64.0, &b.cell64.0],
    );
    check(
        "cell_arr3",
        stamp(0, CELL_ARR3, 0),
        shared.cell_arr3.read_versioned(),
        shared.cell_arr3.version(),
        [&a.cell_arr3.0, &b.cell_arr3.0],
    );
    check(
        "cell_abc",
        stamp(0, CELL_ABC, 0),
        shared.cell_abc.read_versioned(),
        shared.cell_abc.version(),
        [&a.cell_abc.0, &b.cell_abc.0],
    );
    check(
        "seq64",
        stamp(0, SEQ64, 0),
        shared.seq64.read_versioned(),
        shared.seq64.version(),
        [&a.seq64.0, &b.seq64.0],
    );
    check(
        "seq_arr3",
        stamp(0, SEQ_ARR3, 0),
        shared.seq_arr3.read_versioned(),
        shared.seq_arr3.version(),
        [&a.seq_arr3.0, &b.seq_arr3.0],
    );
    check(
        "pub64",
        stamp(0, PUB64, 0),
        shared.pub64.read_versioned(),
        shared.pub64.version(),
        [&a.pub64.0, &b.pub64.0],
    );
    check(
        "pub_arr3",
        stamp(0, PUB_ARR3, 0),
        shared.pub_arr3.read_versioned(),
        shared.pub_arr3.version(),
        [&a.pub_arr3.0, &b.pub_arr3.0],
    );
    check(
        "pub_abc",
        stamp(0, PUB_ABC, 0),
        shared.pub_abc.read_versioned(),
        shared.pub_abc.version(),
        [&a.pub_abc.0, &b.pub_abc.0],
    );

    let final_sum = shared.counter.sum();
    let adds = a.adds.wrapping_add(b.adds);
    let takes = a.takes.wrapping_add(b.takes);
    assert_eq!(
        adds,
        takes.wrapping_add(final_sum),
        "counter: adds != takes + final sum"
    );
    assert_eq!(shared.counter.take(), final_sum);
    assert_eq!(shared.counter.sum(), 0);
});
