//! What waiting for a newer version (`wait_newer`) costs: wake-up latency from
//! a writer's `write` to the waiter's return, between threads and between
//! processes, and the CPU time of a waiter through an idle second.
//!
//! ```text
//! # from the repository root (workspace member `benches/`)
//! CARGO_TARGET_DIR=target/bench cargo run --release -p noclobber-benches --bin wake_report -- --out docs/wake-report.md
//! ```
//!
//! Each sample: the writer stores the wall-clock time (`SystemTime`, the clock
//! processes share) in the value and writes it; the waiter, asleep in
//! `wait_newer`, returns and subtracts that time from its own clock. The writer
//! pauses `GAP` between publications, long enough that the waiter is asleep
//! again (not still handling the last value) when the next one comes. Options:
//! `--samples N` (default 2000), `--out FILE`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use noclobber::shm::{SharedPublisher, SharedSeqLock, SharedSoloReader, SharedSoloWriter};
use noclobber::{Publisher, Readable, SeqLock, SoloWriter, Versioned, WaitError};

/// Between publications: the waiter must be back asleep.
const GAP: Duration = Duration::from_micros(500);
/// No sample waits longer than this (a lost wake-up would show as it).
const TIMEOUT: Duration = Duration::from_secs(2);

/// `[time published in ns since the epoch, sample number]`.
type Stamp = [u64; 2];

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn stamp(i: u64) -> Stamp {
    [now_ns(), i]
}

/// Waits for `samples` publications; returns their latencies in ns (and the
/// number of publications skipped, which should be 0 at this pace). `E` is
/// `WaitError` in process, `WaitError<shm::Corrupt>` for the shared files.
fn follow<E: std::fmt::Debug>(
    samples: u64,
    mut wait: impl FnMut(u64) -> Result<Versioned<Stamp>, E>,
) -> (Vec<u64>, u64) {
    let (mut seen, mut latencies, mut skipped) = (0, Vec::new(), 0);
    while seen < samples {
        let v = wait(seen).expect("no wake-up within the timeout");
        let at = now_ns();
        skipped += v.version - seen - 1;
        seen = v.version;
        latencies.push(at.saturating_sub(v.value[0]));
    }
    (latencies, skipped)
}

fn paced(samples: u64, mut publish: impl FnMut(u64)) {
    for i in 1..=samples {
        thread::sleep(GAP);
        publish(i);
    }
}

struct Row {
    case: String,
    latencies: Vec<u64>,
    skipped: u64,
}

fn in_threads(samples: u64) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |case: &str, (latencies, skipped): (Vec<u64>, u64)| {
        rows.push(Row {
            case: case.into(),
            latencies,
            skipped,
        })
    };

    let mut w = SoloWriter::<Stamp, 2>::with_slots([0, 0]);
    let r = w.reader();
    row(
        "SoloReader, threads",
        thread::scope(|s| {
            s.spawn(|| paced(samples, |i| assert_eq!(w.write(stamp(i)), i)));
            follow(samples, |seen| r.wait_newer(seen, TIMEOUT))
        }),
    );
    let lock = SeqLock::new([0u64, 0]);
    row(
        "SeqLock, threads",
        thread::scope(|s| {
            s.spawn(|| paced(samples, |i| assert_eq!(lock.write(stamp(i)), i)));
            follow(samples, |seen| lock.wait_newer(seen, TIMEOUT))
        }),
    );
    let p = Publisher::<Stamp, 3>::with_slots([0, 0]);
    row(
        "Publisher, threads",
        thread::scope(|s| {
            s.spawn(|| paced(samples, |i| assert_eq!(p.write(stamp(i)), i)));
            follow(samples, |seen| p.wait_newer(seen, TIMEOUT))
        }),
    );
    rows
}

/// The waiter in a child process (this binary, re-executed), the writer here.
fn across_processes(samples: u64, dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for kind in ["solo", "seqlock", "publisher"] {
        let path = dir.join(format!("noclobber-wake-{}-{kind}", std::process::id()));
        let _ = fs::remove_file(&path);
        let out = path.with_extension("out");
        let mut publish: Box<dyn FnMut(u64)> = match kind {
            "solo" => {
                let mut w = SharedSoloWriter::<Stamp, 2>::create(&path, [0, 0]).unwrap();
                Box::new(move |i| assert_eq!(w.write(stamp(i)), i))
            }
            "seqlock" => {
                let l = SharedSeqLock::<Stamp>::create(&path, [0, 0]).unwrap();
                Box::new(move |i| assert_eq!(l.write(stamp(i)), i))
            }
            _ => {
                let p = SharedPublisher::<Stamp, 3>::create(&path, [0, 0]).unwrap();
                Box::new(move |i| assert_eq!(p.write(stamp(i)), i))
            }
        };
        let mut child = Command::new(env::current_exe().unwrap())
            .args(["--waiter", kind, &samples.to_string()])
            .arg(&path)
            .arg(&out)
            .spawn()
            .unwrap();
        // The child is ready once it has written its first wait's start.
        let t = Instant::now();
        while !out.with_extension("ready").exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "waiter never started"
            );
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(Duration::from_millis(10));
        paced(samples, &mut publish);
        assert!(child.wait().unwrap().success(), "waiter process failed");
        let text = fs::read_to_string(&out).unwrap();
        let mut lines = text.lines();
        let skipped = lines.next().unwrap().parse().unwrap();
        let latencies = lines.map(|l| l.parse().unwrap()).collect();
        for f in [&path, &out, &out.with_extension("ready")] {
            let _ = fs::remove_file(f);
        }
        let case = match kind {
            "solo" => "SharedSoloReader, processes",
            "seqlock" => "SharedSeqLock, processes",
            _ => "SharedPublisher, processes",
        };
        rows.push(Row {
            case: case.into(),
            latencies,
            skipped,
        });
    }
    rows
}

fn waiter_process(kind: &str, samples: u64, path: &Path, out: &Path) {
    fs::write(out.with_extension("ready"), "").unwrap();
    let (latencies, skipped) = match kind {
        "solo" => {
            let r = SharedSoloReader::<Stamp, 2>::open(path).unwrap();
            follow(samples, |seen| r.wait_newer(seen, TIMEOUT))
        }
        "seqlock" => {
            let l = SharedSeqLock::<Stamp>::open(path).unwrap();
            follow(samples, |seen| l.wait_newer(seen, TIMEOUT))
        }
        _ => {
            let p = SharedPublisher::<Stamp, 3>::open(path).unwrap();
            follow(samples, |seen| p.wait_newer(seen, TIMEOUT))
        }
    };
    let mut text = format!("{skipped}\n");
    for l in latencies {
        writeln!(text, "{l}").unwrap();
    }
    fs::write(out, text).unwrap();
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
        0
    );
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One `wait_newer` call of a case.
type Wait<'a> = dyn Fn() -> Result<Versioned<Stamp>, WaitError> + Sync + 'a;

/// CPU time of a thread whose `wait_newer` sleeps through one idle second.
/// The shared-file reader also checks every 10 ms that its writer still holds
/// the file (its writer lives, idle, in this process).
fn idle_cpu(dir: &Path) -> Vec<(String, Duration)> {
    let w = SoloWriter::<Stamp, 2>::with_slots([0, 0]);
    let r = w.reader();
    let lock = SeqLock::new([0u64, 0]);
    let p = Publisher::<Stamp, 3>::with_slots([0, 0]);
    let path = dir.join(format!("noclobber-wake-idle-{}", std::process::id()));
    let _ = fs::remove_file(&path);
    let _shared_writer = SharedSoloWriter::<Stamp, 2>::create(&path, [0, 0]).unwrap();
    let shared = SharedSoloReader::<Stamp, 2>::open(&path).unwrap();
    let second = Duration::from_secs(1);
    let shared_wait = || match shared.wait_newer(0, second) {
        Err(WaitError::TimedOut) => Err(WaitError::TimedOut),
        other => panic!("the idle shared reader returned {other:?}"),
    };
    let cases: [(&str, &Wait); 4] = [
        ("SoloReader", &|| r.wait_newer(0, second)),
        ("SeqLock", &|| lock.wait_newer(0, second)),
        ("Publisher", &|| p.wait_newer(0, second)),
        (
            "SharedSoloReader (writer watched by a thread on Linux)",
            &shared_wait,
        ),
    ];
    let cpu = cases
        .iter()
        .map(|(name, wait)| {
            let cpu = thread::scope(|s| {
                s.spawn(|| {
                    let before = thread_cpu();
                    assert_eq!(wait(), Err(WaitError::TimedOut));
                    thread_cpu() - before
                })
                .join()
                .unwrap()
            });
            (name.to_string(), cpu)
        })
        .collect();
    let _ = fs::remove_file(&path);
    cpu
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--waiter") {
        let samples = args[2].parse().unwrap();
        waiter_process(&args[1], samples, Path::new(&args[3]), Path::new(&args[4]));
        return;
    }
    let (mut samples, mut out) = (2000u64, None::<PathBuf>);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--samples" => samples = it.next().unwrap().parse().unwrap(),
            "--out" => out = Some(it.next().unwrap().into()),
            other => panic!("unknown option {other}"),
        }
    }
    let dir = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        env::temp_dir()
    };
    let started = SystemTime::now();
    let mut rows = in_threads(samples);
    rows.extend(across_processes(samples, &dir));
    let idle = idle_cpu(&dir);

    let mut md = String::new();
    let when = started.duration_since(UNIX_EPOCH).unwrap().as_secs();
    writeln!(md, "# Wake-up report: what `wait_newer` costs\n").unwrap();
    writeln!(
        md,
        "Generated by `cargo run --release -p noclobber-benches --bin wake_report` \
         (Unix time {when}, {samples} samples per case, one publication every {GAP:?} \
         so that the waiter is asleep when it comes). Latency: from just before the \
         writer's `write` to the waiter's return from `wait_newer`, by the \
         wall clock both processes share.\n"
    )
    .unwrap();
    writeln!(
        md,
        "| case | median µs | p90 µs | p99 µs | max µs | skipped |"
    )
    .unwrap();
    writeln!(md, "|---|---|---|---|---|---|").unwrap();
    for row in &mut rows {
        row.latencies.sort_unstable();
        let l = &row.latencies;
        writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            row.case,
            percentile(l, 0.5),
            percentile(l, 0.9),
            percentile(l, 0.99),
            *l.last().unwrap() as f64 / 1000.0,
            row.skipped
        )
        .unwrap();
    }
    writeln!(
        md,
        "\nCPU time of a thread waiting through one idle second (target: under 1 ms):\n"
    )
    .unwrap();
    writeln!(md, "| waiter | CPU time |").unwrap();
    writeln!(md, "|---|---|").unwrap();
    for (name, cpu) in &idle {
        writeln!(md, "| {name} | {cpu:?} |").unwrap();
    }
    print!("{md}");
    if let Some(out) = out {
        fs::write(out, md).unwrap();
    }
}
