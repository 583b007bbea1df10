//! Turns the criterion results of `cargo bench` into a markdown report with
//! ratios of every noclobber primitive to every baseline measured in the same
//! run, checks the targets of DESIGN.md §6, runs a short fixed-time fairness
//! probe (ops per thread), and writes an SVG bar chart of the ratios.
//!
//! ```text
//! # from the repository root (workspace member `benches/`)
//! CARGO_TARGET_DIR=target/bench cargo bench -p noclobber-benches
//! CARGO_TARGET_DIR=target/bench cargo run --release -p noclobber-benches --bin bench_report
//! CARGO_TARGET_DIR=target/bench cargo run --release -p noclobber-benches --bin bench_report -- --out report.md --svg docs/bench-ratios.svg
//! ```
//!
//! Options: `--criterion-dir DIR` (default: `$CRITERION_HOME`, else
//! `$CARGO_TARGET_DIR/criterion`, a relative `CARGO_TARGET_DIR` taken from the
//! repository root as the benches do, else `target/criterion` of the
//! repository), `--out FILE` (also write the markdown there), `--svg FILE`
//! (default `docs/bench-ratios.svg` of the repository; `--no-svg` to skip),
//! `--no-probe`,
//! `--probe-ms N` (per round, 3 rounds per case; default 200).
//!
//! Numbers: criterion's **median** time per iteration. In these benches one
//! iteration is one operation on every thread, so it is **ns per op per
//! thread**; `M ops/s` is the aggregate `threads * 1000 / ns`. A ratio is
//! `baseline ns / noclobber ns` at the same thread count: above 1 the noclobber
//! primitive is faster (higher throughput).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------- JSON (tiny)

/// Only what criterion's `benchmark.json` / `estimates.json` need; booleans and
/// arrays are parsed but not used.
#[allow(dead_code)]
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Option<Json> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        (p.i == p.s.len()).then_some(v)
    }
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, lit: &str) -> Option<()> {
        self.s[self.i..]
            .starts_with(lit.as_bytes())
            .then(|| self.i += lit.len())
    }
    fn value(&mut self) -> Option<Json> {
        self.ws();
        match *self.s.get(self.i)? {
            b'n' => self.eat("null").map(|_| Json::Null),
            b't' => self.eat("true").map(|_| Json::Bool(true)),
            b'f' => self.eat("false").map(|_| Json::Bool(false)),
            b'"' => self.string().map(Json::Str),
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.eat("]").is_some() {
                    return Some(Json::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    if self.eat(",").is_none() {
                        self.eat("]")?;
                        return Some(Json::Arr(v));
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut kv = Vec::new();
                self.ws();
                if self.eat("}").is_some() {
                    return Some(Json::Obj(kv));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    self.eat(":")?;
                    kv.push((k, self.value()?));
                    self.ws();
                    if self.eat(",").is_none() {
                        self.eat("}")?;
                        return Some(Json::Obj(kv));
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-0123456789.eE".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()?
                    .parse()
                    .ok()
                    .map(Json::Num)
            }
        }
    }
    fn string(&mut self) -> Option<String> {
        self.eat("\"")?;
        let mut out = String::new();
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return Some(out),
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            out.push(
                                char::from_u32(u32::from_str_radix(hex, 16).ok()?).unwrap_or('?'),
                            );
                        }
                        other => out.push(other as char),
                    }
                }
                _ => {
                    // Copy the whole UTF-8 sequence starting at c.
                    let start = self.i - 1;
                    while self.i < self.s.len() && (self.s[self.i] & 0xC0) == 0x80 {
                        self.i += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
                }
            }
        }
    }
}

// ------------------------------------------------------------ criterion data

#[derive(Debug, Clone)]
struct Row {
    group: String,
    imp: String,
    threads: usize,
    /// Median ns per iteration (= per op per thread) and its 95 % CI.
    ns: f64,
    ns_lo: f64,
    ns_hi: f64,
    modified: SystemTime,
}

impl Row {
    fn mops(&self) -> f64 {
        self.threads as f64 * 1e3 / self.ns
    }
    fn is_noclobber(&self) -> bool {
        self.imp.starts_with("noclobber_")
    }
}

/// Reference rows: physical limits or hardware primitives without the
/// guarantees of the noclobber type, not competitors.
fn is_reference(group: &str, imp: &str) -> bool {
    matches!(
        (group, imp),
        ("counter_inc", "owned_shard_load_store")
            | ("counter_fresh_thread", "ref_never_churned")
            | ("versioned_read_u64", "std_atomic_load")
            | ("versioned_update_u64", "std_atomic_fetch_add")
            | ("versioned_update_u64", "u128_cas_loop_ref")
            | ("versioned_read_u64", "u128_load_ref")
    )
}

/// Scenario order and a one-line description for the report.
const GROUPS: &[(&str, &str)] = &[
    ("counter_inc", "counter increment, all threads on one counter"),
    ("counter_churn", "one round: threads start, increment 100,000 times each, exit (time per round, not per op)"),
    ("counter_fresh_thread", "increment from a thread started after 10,000 threads started and exited (ref: a never-churned counter)"),
    ("seqlock_read_4x64", "read of a [u64; 4], readers only"),
    ("seqlock_read_4x64_paced_writer", "read of a [u64; 4] while 1 extra thread writes about once per microsecond (threads = readers)"),
    ("seqlock_read_4x64_busy_writer", "read of a [u64; 4] while 1 extra thread writes back to back (threads = readers)"),
    ("publisher_read_4x64", "Publisher read of a [u64; 4], readers only"),
    ("publisher_read_4x64_paced_writer", "Publisher read while 1 extra thread publishes about once per microsecond (threads = readers)"),
    ("publisher_read_4x64_busy_writer", "Publisher read while 1 extra thread publishes back to back (threads = readers)"),
    ("publish_4x64", "one publication of a [u64; 4], all threads publishing"),
    ("versioned_update_u64", "read-modify-write +1 of a u64, all threads on one cell"),
    ("versioned_read_u64", "read of a u64 (with its version for VersionedCell)"),
];

fn group_rank(g: &str) -> usize {
    GROUPS
        .iter()
        .position(|(n, _)| *n == g)
        .unwrap_or(GROUPS.len())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.file_name().is_some_and(|n| n == "benchmark.json")
            && p.parent()
                .and_then(|d| d.file_name())
                .is_some_and(|n| n == "new")
        {
            out.push(p);
        }
    }
}

fn load_rows(dir: &Path) -> Vec<Row> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    let mut rows = Vec::new();
    for bench_file in files {
        let est_file = bench_file.with_file_name("estimates.json");
        let (Ok(b), Ok(e)) = (
            fs::read_to_string(&bench_file),
            fs::read_to_string(&est_file),
        ) else {
            continue;
        };
        let (Some(b), Some(e)) = (Parser::parse(&b), Parser::parse(&e)) else {
            eprintln!("warning: cannot parse {}", bench_file.display());
            continue;
        };
        let group = b.get("group_id").and_then(Json::str);
        let imp = b.get("function_id").and_then(Json::str);
        let threads = b
            .get("value_str")
            .and_then(Json::str)
            .and_then(|s| s.parse().ok());
        let median = e.get("median");
        let ns = median
            .and_then(|m| m.get("point_estimate"))
            .and_then(Json::num);
        let ci = median.and_then(|m| m.get("confidence_interval"));
        let lo = ci.and_then(|c| c.get("lower_bound")).and_then(Json::num);
        let hi = ci.and_then(|c| c.get("upper_bound")).and_then(Json::num);
        let (Some(group), Some(imp), Some(threads), Some(ns)) = (group, imp, threads, ns) else {
            continue;
        };
        let modified = fs::metadata(&est_file)
            .and_then(|m| m.modified())
            .unwrap_or(UNIX_EPOCH);
        rows.push(Row {
            group: group.to_string(),
            imp: imp.to_string(),
            threads,
            ns,
            ns_lo: lo.unwrap_or(ns),
            ns_hi: hi.unwrap_or(ns),
            modified,
        });
    }
    rows.sort_by(|a, b| {
        (
            group_rank(&a.group),
            &a.group,
            a.threads,
            !a.is_noclobber(),
            &a.imp,
        )
            .cmp(&(
                group_rank(&b.group),
                &b.group,
                b.threads,
                !b.is_noclobber(),
                &b.imp,
            ))
    });
    rows
}

// ------------------------------------------------------------------- targets

struct Target {
    group: &'static str,
    /// `None`: every thread count present.
    threads: Option<usize>,
    noclobber: &'static str,
    baseline: &'static str,
    /// Minimum `baseline_ns / noclobber_ns`.
    min_ratio: f64,
    text: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        group: "counter_inc",
        threads: Some(2),
        noclobber: "noclobber_sharded",
        baseline: "std_atomic_fetch_add",
        min_ratio: 8.0,
        text: ">= 8x shared fetch_add (issue 14; DESIGN: 5x)",
    },
    Target {
        group: "counter_inc",
        threads: Some(2),
        noclobber: "noclobber_sharded",
        baseline: "owned_shard_load_store",
        min_ratio: 0.4,
        text: ">= 0.4x the owned-shard limit (issue 14)",
    },
    Target {
        group: "counter_fresh_thread",
        threads: Some(1),
        noclobber: "noclobber_after_10k_churn",
        baseline: "ref_never_churned",
        min_ratio: 1.0 / 1.2,
        text: "after 10,000 churned threads within 1.2x of a never-churned counter (issue 14)",
    },
    Target {
        group: "counter_inc",
        threads: Some(2),
        noclobber: "noclobber_sharded",
        baseline: "std_mutex",
        min_ratio: 8.0,
        text: ">= 8x std Mutex",
    },
    Target {
        group: "counter_inc",
        threads: Some(2),
        noclobber: "noclobber_sharded_local",
        baseline: "std_atomic_fetch_add",
        min_ratio: 5.0,
        text: ">= 5x shared fetch_add (local handle)",
    },
    Target {
        group: "seqlock_read_4x64",
        threads: None,
        noclobber: "noclobber_seqlock",
        baseline: "std_rwlock",
        min_ratio: 3.0,
        text: ">= 3x RwLock read",
    },
    Target {
        group: "seqlock_read_4x64",
        threads: None,
        noclobber: "noclobber_seqlock",
        baseline: "crossbeam_atomiccell",
        min_ratio: 1.0,
        text: ">= AtomicCell load",
    },
    Target {
        group: "seqlock_read_4x64_paced_writer",
        threads: None,
        noclobber: "noclobber_seqlock",
        baseline: "std_rwlock",
        min_ratio: 3.0,
        text: ">= 3x RwLock read, under a writer",
    },
    Target {
        group: "seqlock_read_4x64_paced_writer",
        threads: None,
        noclobber: "noclobber_seqlock",
        baseline: "crossbeam_atomiccell",
        min_ratio: 1.0,
        text: ">= AtomicCell load, under a writer",
    },
    Target {
        group: "publisher_read_4x64",
        threads: None,
        noclobber: "noclobber_publisher",
        baseline: "arc_swap_load_copy",
        min_ratio: 1.0,
        text: ">= arc-swap load + copy",
    },
    Target {
        group: "publisher_read_4x64",
        threads: None,
        noclobber: "noclobber_publisher",
        baseline: "std_rwlock",
        min_ratio: 3.0,
        text: ">= 3x RwLock read",
    },
    Target {
        group: "publisher_read_4x64",
        threads: None,
        noclobber: "noclobber_solo",
        baseline: "arc_swap_load_copy",
        min_ratio: 2.0,
        text: "single writer: >= 2x arc-swap load + copy",
    },
    Target {
        group: "publisher_read_4x64",
        threads: None,
        noclobber: "noclobber_solo",
        baseline: "std_rwlock",
        min_ratio: 3.0,
        text: "single writer: >= 3x RwLock read",
    },
    Target {
        group: "publisher_read_4x64",
        threads: None,
        noclobber: "noclobber_solo",
        baseline: "noclobber_seqlock",
        min_ratio: 1.0 / 1.3,
        text: "single writer: within 1.3x of SeqLock::read",
    },
    Target {
        group: "publisher_read_4x64_busy_writer",
        threads: None,
        noclobber: "noclobber_solo",
        baseline: "arc_swap_load_copy",
        min_ratio: 5.0,
        text: "single writer, busy writer: >= 5x arc-swap",
    },
    Target {
        group: "publish_4x64",
        threads: Some(1),
        noclobber: "noclobber_solo",
        baseline: "noclobber_publisher",
        min_ratio: 2.0,
        text: "single-writer write >= 2x Publisher::write",
    },
    Target {
        group: "versioned_update_u64",
        threads: Some(1),
        noclobber: "noclobber_versioned",
        baseline: "std_mutex",
        min_ratio: 1.0 / 1.5,
        text: "uncontended time <= 1.5x std Mutex",
    },
    Target {
        group: "versioned_update_u64",
        threads: Some(2),
        noclobber: "noclobber_versioned",
        baseline: "std_mutex",
        min_ratio: 1.5,
        text: "contended >= 1.5x std Mutex throughput",
    },
    Target {
        group: "versioned_read_u64",
        threads: None,
        noclobber: "noclobber_versioned",
        baseline: "std_mutex",
        min_ratio: 2.0,
        text: "read >= 2x faster than std Mutex",
    },
];

fn target_for(
    group: &str,
    threads: usize,
    noclobber: &str,
    baseline: &str,
) -> Option<&'static Target> {
    TARGETS.iter().find(|t| {
        t.group == group
            && t.noclobber == noclobber
            && t.baseline == baseline
            && t.threads.is_none_or(|n| n == threads)
    })
}

// ---------------------------------------------------------- fairness probe

/// Runs `make(tid)`'s op on `threads` threads for `rounds` x `dur`; returns the
/// ops done by each thread and the wall time.
fn probe<M, Op>(threads: usize, dur: Duration, rounds: usize, make: M) -> (Vec<u64>, Duration)
where
    M: Fn(usize) -> Op + Sync,
    Op: FnMut(),
{
    let mut totals = vec![0u64; threads];
    let mut wall = Duration::ZERO;
    for _ in 0..rounds {
        let stop = AtomicBool::new(false);
        let barrier = Barrier::new(threads + 1);
        let counts: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|tid| {
                    let (stop, barrier, make) = (&stop, &barrier, &make);
                    s.spawn(move || {
                        let mut op = make(tid);
                        barrier.wait();
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..32 {
                                op();
                            }
                            n += 32;
                        }
                        n
                    })
                })
                .collect();
            barrier.wait();
            let t0 = Instant::now();
            std::thread::sleep(dur);
            stop.store(true, Ordering::Relaxed);
            let c = hs.into_iter().map(|h| h.join().unwrap()).collect();
            wall += t0.elapsed();
            c
        });
        for (t, c) in totals.iter_mut().zip(counts) {
            *t += c;
        }
    }
    (totals, wall)
}

type W4 = [u64; 4];

fn fairness_section(md: &mut String, dur: Duration) {
    let n = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .max(2);
    let rounds = 3;
    let secs = |w: Duration| w.as_secs_f64();
    writeln!(md, "\n## Fairness probe (ops per thread, fixed time)\n").unwrap();
    writeln!(
        md,
        "Separate from criterion: {n} threads hammer one shared object for {rounds} x {} ms; \
         each thread counts its own ops. `min/max` = slowest thread's ops / fastest thread's ops \
         (1.00 = perfectly fair; throughput alone rewards unfair locks).\n",
        dur.as_millis()
    )
    .unwrap();
    writeln!(md, "| scenario | implementation | threads | total M ops/s | per-thread M ops/s (min .. max) | min/max |").unwrap();
    writeln!(md, "|---|---|---:|---:|---:|---:|").unwrap();
    let line = |md: &mut String, scen: &str, imp: &str, (c, w): (Vec<u64>, Duration)| {
        let total: u64 = c.iter().sum();
        let min = *c.iter().min().unwrap();
        let max = *c.iter().max().unwrap();
        let rate = |x: u64| x as f64 / secs(w) / 1e6;
        writeln!(
            md,
            "| {scen} | {imp} | {} | {:.1} | {:.1} .. {:.1} | {:.2} |",
            c.len(),
            rate(total),
            rate(min),
            rate(max),
            min as f64 / max.max(1) as f64
        )
        .unwrap();
        eprintln!("  probe {scen} {imp} done");
    };
    {
        let c = noclobber::ShardedCounter::new();
        line(
            md,
            "counter_inc",
            "noclobber_sharded",
            probe(n, dur, rounds, |_| || c.inc()),
        );
        let a = AtomicU64::new(0);
        line(
            md,
            "counter_inc",
            "std_atomic_fetch_add",
            probe(n, dur, rounds, |_| {
                || {
                    a.fetch_add(1, Ordering::Relaxed);
                }
            }),
        );
        let m = Mutex::new(0u64);
        line(
            md,
            "counter_inc",
            "std_mutex",
            probe(n, dur, rounds, |_| || *m.lock().unwrap() += 1),
        );
        let m = parking_lot::Mutex::new(0u64);
        line(
            md,
            "counter_inc",
            "parking_lot_mutex",
            probe(n, dur, rounds, |_| || *m.lock() += 1),
        );
    }
    {
        let v = noclobber::VersionedCell::new(0u64);
        line(
            md,
            "versioned_update_u64",
            "noclobber_versioned",
            probe(n, dur, rounds, |_| {
                || {
                    black_box(v.update(|x| x + 1));
                }
            }),
        );
        let m = Mutex::new(0u64);
        line(
            md,
            "versioned_update_u64",
            "std_mutex",
            probe(n, dur, rounds, |_| || *m.lock().unwrap() += 1),
        );
        let m = parking_lot::Mutex::new(0u64);
        line(
            md,
            "versioned_update_u64",
            "parking_lot_mutex",
            probe(n, dur, rounds, |_| || *m.lock() += 1),
        );
        let a = AtomicU64::new(0);
        line(
            md,
            "versioned_update_u64",
            "std_atomic_cas_loop",
            probe(n, dur, rounds, |_| {
                || {
                    let mut cur = a.load(Ordering::Relaxed);
                    while let Err(now) =
                        a.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed)
                    {
                        cur = now;
                    }
                }
            }),
        );
    }

    // Readers vs one writer: thread 0 writes, the others read.
    writeln!(md, "\nReaders vs one continuous writer ({} reader(s) + 1 writer, same probe): a lock that starves its writer shows it here.\n", n - 1).unwrap();
    writeln!(
        md,
        "| scenario | implementation | reader M reads/s (total) | writer M writes/s |"
    )
    .unwrap();
    writeln!(md, "|---|---|---:|---:|").unwrap();
    macro_rules! rw {
        ($scen:expr, $imp:expr, $lock:expr, |$l:ident| $read:expr, |$lw:ident, $v:ident| $write:expr) => {{
            let lock = $lock;
            let (c, w) = probe(n, dur, rounds, |tid| {
                let lock = &lock;
                let mut i = 0u64;
                move || {
                    if tid == 0 {
                        i += 1;
                        let $v: W4 = [i; 4];
                        let $lw = lock;
                        black_box($write);
                    } else {
                        let $l = lock;
                        black_box($read);
                    }
                }
            });
            let reads: u64 = c[1..].iter().sum();
            writeln!(
                md,
                "| {} | {} | {:.1} | {:.2} |",
                $scen,
                $imp,
                reads as f64 / secs(w) / 1e6,
                c[0] as f64 / secs(w) / 1e6
            )
            .unwrap();
            eprintln!("  probe {} {} done", $scen, $imp);
        }};
    }
    let init: W4 = [1, 2, 3, 4];
    rw!(
        "read_4x64_writer",
        "noclobber_seqlock",
        noclobber::SeqLock::new(init),
        |l| l.read(),
        |l, v| l.write(v)
    );
    rw!(
        "read_4x64_writer",
        "noclobber_publisher",
        noclobber::Publisher::<W4, 4>::with_slots(init),
        |l| l.read(),
        |l, v| l.write(v)
    );
    rw!(
        "read_4x64_writer",
        "std_rwlock",
        RwLock::new(init),
        |l| *l.read().unwrap(),
        |l, v| *l.write().unwrap() = v
    );
    rw!(
        "read_4x64_writer",
        "parking_lot_rwlock",
        parking_lot::RwLock::new(init),
        |l| *l.read(),
        |l, v| *l.write() = v
    );
    rw!(
        "read_4x64_writer",
        "crossbeam_atomiccell",
        crossbeam_utils::atomic::AtomicCell::new(init),
        |l| l.load(),
        |l, v| l.store(v)
    );
    rw!(
        "read_4x64_writer",
        "seqlock_crate",
        seqlock::SeqLock::new(init),
        |l| l.read(),
        |l, v| *l.lock_write() = v
    );
    rw!(
        "read_4x64_writer",
        "arc_swap_load_copy",
        arc_swap::ArcSwap::from_pointee(init),
        |l| **l.load(),
        |l, v| l.store(std::sync::Arc::new(v))
    );
}

// ------------------------------------------------------------------ helpers

fn cpu_model() -> String {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".into());
    let fam = field("cpu family");
    let m = field("model");
    let hv = info.contains(" hypervisor");
    let mut s = model;
    if let (Some(f), Some(m)) = (fam, m) {
        let _ = write!(s, " (family {f}, model {m})");
    }
    if hv {
        s.push_str(", virtualised");
    }
    s
}

/// `YYYY-MM-DD HH:MM UTC` (Howard Hinnant's days-to-civil).
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn fmt_ns(ns: f64) -> String {
    if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 100.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.0}")
    }
}

fn criterion_dir(arg: Option<String>) -> PathBuf {
    if let Some(a) = arg {
        return PathBuf::from(a);
    }
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        // Relative: from the repository root, as `common::config()` tells
        // criterion (cargo resolves it from where it was started).
        return repo_root().join(t).join("criterion");
    }
    repo_root().join("target").join("criterion")
}

/// The repository root: the workspace root, parent of this crate (`benches/`).
fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
}

// ---------------------------------------------------------------------- SVG

struct Bar {
    /// Scenario; rows of alternate scenarios get a shaded band.
    group: String,
    label: String,
    ratio: f64,
    /// `Some((threshold, met))` when a target applies.
    target: Option<(f64, bool)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn svg(bars: &[Bar], title: &str, subtitle: &str) -> String {
    let (label_w, plot_w, row_h, top, right) = (430.0, 520.0, 18.0, 78.0, 70.0);
    let width = label_w + plot_w + right;
    let height = top + row_h * bars.len() as f64 + 60.0;
    // log2 axis covering all ratios and thresholds, at least 1/4 .. 16.
    let mut lo: f64 = 0.25;
    let mut hi: f64 = 16.0;
    for b in bars {
        lo = lo.min(b.ratio);
        hi = hi.max(b.ratio);
        if let Some((t, _)) = b.target {
            hi = hi.max(t);
        }
    }
    let (lo, hi) = (lo.log2().floor(), hi.log2().ceil());
    let x = |r: f64| label_w + (r.max(1e-9).log2() - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="38" fill="#444">{}</text>"##,
        esc(subtitle)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="54" fill="#444">bar = baseline ns / noclobber ns (log scale; right of 1x = noclobber faster). green/red: target met/missed, black tick = target; grey: no target</text>"##
    );
    // Shaded bands for alternate scenarios (drawn first, under the grid).
    let mut shade = false;
    for (i, b) in bars.iter().enumerate() {
        if i > 0 && b.group != bars[i - 1].group {
            shade = !shade;
        }
        if shade {
            let y = top + row_h * i as f64;
            let _ = writeln!(
                s,
                r##"<rect x="0" y="{y:.1}" width="{width:.1}" height="{row_h:.1}" fill="#eef1f5"/>"##
            );
        }
    }
    let axis_y = top + row_h * bars.len() as f64;
    let mut e = lo as i32;
    while e <= hi as i32 {
        let r = 2f64.powi(e);
        let xx = x(r);
        let (stroke, sw) = if e == 0 { ("#000", 1.2) } else { ("#ddd", 1.0) };
        let _ = writeln!(
            s,
            r#"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{axis_y:.1}" stroke="{stroke}" stroke-width="{sw}"/>"#,
            top - 4.0
        );
        let lab = if r >= 1.0 {
            format!("{r}x")
        } else {
            format!("1/{}x", 1.0 / r)
        };
        let _ = writeln!(
            s,
            r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{lab}</text>"#,
            axis_y + 14.0
        );
        e += 1;
    }
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let color = match b.target {
            Some((_, true)) => "#2e9d48",
            Some((_, false)) => "#d0413c",
            None => "#a8b3c0",
        };
        let (x0, x1) = (x(1.0), x(b.ratio));
        let (bx, bw) = if x1 >= x0 {
            (x0, x1 - x0)
        } else {
            (x1, x0 - x1)
        };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 12.5,
            esc(&b.label)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
            y + 3.0,
            bw.max(1.0),
            row_h - 6.0
        );
        if let Some((t, _)) = b.target {
            let tx = x(t);
            let _ = writeln!(
                s,
                r#"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"#,
                y + 1.0,
                y + row_h - 1.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{:.2}x</text>"#,
            x0.max(x1) + 4.0,
            y + 12.5,
            b.ratio
        );
    }
    s.push_str("</svg>\n");
    s
}

// --------------------------------------------------------------------- main

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut out, mut svg_path, mut run_probe, mut probe_ms) =
        (None, None, None, true, 200u64);
    let mut no_svg = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--criterion-dir" => dir = args.next(),
            "--out" => out = args.next(),
            "--svg" => svg_path = args.next(),
            "--no-svg" => no_svg = true,
            "--no-probe" => run_probe = false,
            "--probe-ms" => probe_ms = args.next().and_then(|s| s.parse().ok()).unwrap_or(probe_ms),
            "-h" | "--help" => {
                println!("usage: bench_report [--criterion-dir DIR] [--out FILE] [--svg FILE | --no-svg] [--no-probe] [--probe-ms N]");
                return;
            }
            other => {
                eprintln!("unknown argument {other}; see --help");
                std::process::exit(2);
            }
        }
    }
    let dir = criterion_dir(dir);
    let rows = load_rows(&dir);
    if rows.is_empty() {
        eprintln!("no criterion results under {} (run `cargo bench -p noclobber-benches` first, with the same CARGO_TARGET_DIR)", dir.display());
        std::process::exit(1);
    }
    let oldest = rows.iter().map(|r| r.modified).min().unwrap();
    let newest = rows.iter().map(|r| r.modified).max().unwrap();
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let ncpu = std::thread::available_parallelism().map_or(1, usize::from);

    let mut md = String::new();
    writeln!(md, "# noclobber benchmark report\n").unwrap();
    writeln!(
        md,
        "- CPU: {} ({} hardware threads available)",
        cpu_model(),
        ncpu
    )
    .unwrap();
    writeln!(
        md,
        "- results measured: {} .. {} (criterion files in `{}`)",
        utc(oldest),
        utc(newest),
        dir.display()
    )
    .unwrap();
    writeln!(
        md,
        "- report generated: {}; load average now: {}",
        utc(SystemTime::now()),
        load
    )
    .unwrap();
    if newest.duration_since(oldest).unwrap_or_default() > Duration::from_secs(3600) {
        writeln!(
            md,
            "- **warning:** results span more than an hour; ratios may mix runs"
        )
        .unwrap();
    }
    writeln!(
        md,
        "- ns/op = criterion median time per iteration = wall time per operation **per thread** \
         (every thread does the same number of ops; time until the slowest finishes). \
         M ops/s = all threads together = threads x 1000 / ns. 95 % CI of the median in brackets.\n"
    )
    .unwrap();

    // Results table.
    writeln!(md, "## Results\n").unwrap();
    writeln!(
        md,
        "| scenario | implementation | threads | ns/op | M ops/s |"
    )
    .unwrap();
    writeln!(md, "|---|---|---:|---:|---:|").unwrap();
    for r in &rows {
        let imp = if r.is_noclobber() {
            format!("**{}**", r.imp)
        } else {
            r.imp.clone()
        };
        writeln!(
            md,
            "| {} | {} | {} | {} [{} .. {}] | {:.1} |",
            r.group,
            imp,
            r.threads,
            fmt_ns(r.ns),
            fmt_ns(r.ns_lo),
            fmt_ns(r.ns_hi),
            r.mops()
        )
        .unwrap();
    }
    writeln!(md).unwrap();
    for (g, d) in GROUPS {
        if rows.iter().any(|r| r.group == *g) {
            writeln!(md, "- `{g}`: {d}").unwrap();
        }
    }

    // Ratios.
    let mut by_key: BTreeMap<(usize, String, usize), Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_key
            .entry((group_rank(&r.group), r.group.clone(), r.threads))
            .or_default()
            .push(r);
    }
    writeln!(
        md,
        "\n## Ratios (same run): baseline ns / noclobber ns, > 1 = noclobber faster\n"
    )
    .unwrap();
    writeln!(
        md,
        "| scenario | threads | noclobber | baseline | ratio | target |"
    )
    .unwrap();
    writeln!(md, "|---|---:|---|---|---:|---|").unwrap();
    let mut bars = Vec::new();
    let mut verdicts = Vec::new();
    for ((_, group, threads), rs) in &by_key {
        for nc in rs.iter().filter(|r| r.is_noclobber()) {
            // Peers, and the noclobber rows a target compares against (the
            // single-writer publisher against the seqlock and `Publisher`).
            let against = |r: &&&Row| {
                !r.is_noclobber() || target_for(group, *threads, &nc.imp, &r.imp).is_some()
            };
            for base in rs.iter().filter(against) {
                let ratio = base.ns / nc.ns;
                let target = target_for(group, *threads, &nc.imp, &base.imp);
                let tcell = match target {
                    Some(t) => {
                        let met = ratio >= t.min_ratio;
                        verdicts.push((t, *threads, ratio, met));
                        format!(
                            "{} ({}): **{}**",
                            t.text,
                            fmt_ratio(t.min_ratio),
                            if met { "met" } else { "MISSED" }
                        )
                    }
                    None if is_reference(group, &base.imp) => {
                        "reference (limit, not a competitor)".into()
                    }
                    None => String::new(),
                };
                writeln!(
                    md,
                    "| {group} | {threads} | {} | {} | {:.2}x | {tcell} |",
                    nc.imp, base.imp, ratio
                )
                .unwrap();
                bars.push(Bar {
                    group: group.clone(),
                    label: format!(
                        "{group} t={threads}: {} vs {}{}",
                        nc.imp.trim_start_matches("noclobber_"),
                        base.imp,
                        if is_reference(group, &base.imp) {
                            " (ref)"
                        } else {
                            ""
                        }
                    ),
                    ratio,
                    target: target.map(|t| (t.min_ratio, ratio >= t.min_ratio)),
                });
            }
        }
    }

    // Target summary.
    writeln!(md, "\n## Targets (DESIGN.md §6)\n").unwrap();
    writeln!(
        md,
        "| scenario | threads | comparison | need | got | verdict |"
    )
    .unwrap();
    writeln!(md, "|---|---:|---|---:|---:|---|").unwrap();
    for (t, threads, ratio, met) in &verdicts {
        writeln!(
            md,
            "| {} | {} | {} vs {}: {} | {} | {:.2}x | {} |",
            t.group,
            threads,
            t.noclobber,
            t.baseline,
            t.text,
            fmt_ratio(t.min_ratio),
            ratio,
            if *met { "met" } else { "**MISSED**" }
        )
        .unwrap();
    }
    for t in TARGETS {
        if !verdicts.iter().any(|(v, ..)| std::ptr::eq(*v, t)) {
            writeln!(
                md,
                "| {} | {} | {} vs {}: {} | {} | - | not measured |",
                t.group,
                t.threads.map_or("all".into(), |n| n.to_string()),
                t.noclobber,
                t.baseline,
                t.text,
                fmt_ratio(t.min_ratio)
            )
            .unwrap();
        }
    }

    if run_probe {
        eprintln!("running the fairness probe ...");
        fairness_section(&mut md, Duration::from_millis(probe_ms));
    }

    print!("{md}");
    if let Some(out) = out {
        fs::write(&out, &md).unwrap_or_else(|e| panic!("cannot write {out}: {e}"));
        eprintln!("wrote {out}");
    }
    if !no_svg {
        let path =
            svg_path.map_or_else(|| repo_root().join("docs/bench-ratios.svg"), PathBuf::from);
        if let Some(p) = path.parent() {
            let _ = fs::create_dir_all(p);
        }
        let sub = format!(
            "{} | measured {} | load avg at report time {}",
            cpu_model(),
            utc(newest),
            load
        );
        fs::write(
            &path,
            svg(&bars, "noclobber vs baselines, same criterion run", &sub),
        )
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 1.0 {
        format!(">= {r:.1}x")
    } else {
        format!(">= {r:.2}x")
    }
}
