//! Across processes: async tasks in this process follow shared files that a
//! child process writes, through the process's bridge thread; when the
//! writer process is killed, tasks following its single-writer file end
//! with `Closed`.
//!
//! The child is this test binary again, run with `NOCLOBBER_ASYNC_ROLE` set.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use noclobber::shm::{
    SharedPublisher, SharedSeqLock, SharedSeqLockReader, SharedSoloReader, SharedSoloWriter,
};
use noclobber::{Cursor, Readable, WaitError};

const ROLE: &str = "NOCLOBBER_ASYNC_ROLE";
const DIR: &str = "NOCLOBBER_ASYNC_DIR";
const WRITES: u64 = 500;

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
        0
    );
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The directory of one test's files, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("noclobber-async-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The writer process, killed when dropped.
struct Writer(Child);

impl Writer {
    fn spawn(role: &str, dir: &Path) -> Writer {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE, role)
            .env(DIR, dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Writer(child)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's side: writes versions 1..=WRITES, each value stamped with
/// the time it was written, one every 500 µs, then waits to be killed.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return; // run as a test of its own: nothing to do
    };
    let dir = PathBuf::from(std::env::var_os(DIR).unwrap());
    let pace = || std::thread::sleep(Duration::from_micros(500));
    // The handles stay open until the kill: a dropped writer would close
    // its file, and the readers must learn of its death from the kernel.
    let _handles: Box<dyn std::any::Any> = match role.as_str() {
        "solo" => {
            let mut w = SharedSoloWriter::<[u64; 2]>::create(dir.join("solo"), [0, 0]).unwrap();
            for v in 1..=WRITES {
                w.write([v, now_ns()]);
                pace();
            }
            Box::new(w)
        }
        "several" => {
            let p = SharedPublisher::<[u64; 2]>::open(dir.join("publisher")).unwrap();
            let lock = SharedSeqLock::<[u64; 2]>::open(dir.join("seqlock")).unwrap();
            let mut solo = SharedSoloWriter::<[u64; 2]>::open(dir.join("solo")).unwrap();
            for v in 1..=WRITES {
                p.write([v, now_ns()]);
                lock.write([v, now_ns()]);
                solo.write([v, now_ns()]);
                pace();
            }
            Box::new((p, lock, solo))
        }
        other => panic!("unknown role {other}"),
    };
    loop {
        std::thread::park();
    }
}

/// Opens `path` once the child has made it.
fn open_when_there<H>(path: &Path, open: impl Fn(&Path) -> Result<H, noclobber::shm::Error>) -> H {
    let start = Instant::now();
    loop {
        match open(path) {
            Ok(h) => return h,
            Err(_) if start.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

/// 8 tasks on tokio's multi-thread runtime follow a single-writer file
/// that a child process writes; each version is newer than the last; once
/// all have the last one, the child is killed and every task ends with
/// `Closed` within a second (the readers probe the writer's lock every
/// 10 ms).
#[test]
fn tasks_follow_a_writer_process_and_see_it_die() {
    let dir = Dir::new("die");
    let mut writer = Writer::spawn("solo", &dir.0);
    let path = dir.file("solo");
    let at_last = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let reader = open_when_there(&path, |p| SharedSoloReader::<[u64; 2]>::open(p));
            let at_last = Arc::clone(&at_last);
            rt.spawn(async move {
                let mut cursor = Cursor::new(reader);
                let mut latencies = Vec::new();
                loop {
                    let seen = cursor.seen();
                    match cursor.changed().await {
                        Ok(v) => {
                            assert!(
                                v.version > seen && v.value[0] == v.version,
                                "{v:?} after {seen}"
                            );
                            latencies.push(now_ns().saturating_sub(v.value[1]));
                            if v.version == WRITES {
                                at_last.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Err(WaitError::Closed) => break,
                        Err(e) => panic!("{e}"),
                    }
                }
                assert_eq!(cursor.seen(), WRITES, "closed before the last version");
                (Instant::now(), latencies)
            })
        })
        .collect();
    let start = Instant::now();
    while at_last.load(Ordering::SeqCst) < 8 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "tasks did not reach the last version"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Every task is waiting for a version that will never come.
    std::thread::sleep(Duration::from_millis(50));
    writer.0.kill().unwrap();
    let killed = Instant::now();
    writer.0.wait().unwrap();
    let mut latencies = Vec::new();
    let mut to_closed = Vec::new();
    rt.block_on(async {
        for t in tasks {
            let (closed, l) = tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("a task missed the writer's death")
                .unwrap();
            to_closed.push(closed.saturating_duration_since(killed));
            latencies.extend(l);
        }
    });
    latencies.sort_unstable();
    let slowest = to_closed.iter().max().unwrap();
    eprintln!(
        "wake-up, writer process to task: median {:.0} µs, p99 {:.0} µs over {} wake-ups; Closed {:?} after the kill at the latest",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len(),
        slowest
    );
    assert!(
        *slowest < Duration::from_secs(1),
        "Closed came {slowest:?} after the kill"
    );
}

/// Tasks on smol's executor follow three files of three kinds written by
/// one child process, through one bridge thread sleeping on all their
/// words, plus a read-only reader, which checks every millisecond.
#[test]
fn tasks_follow_several_files_of_a_writer_process() {
    let dir = Dir::new("several");
    let p = SharedPublisher::<[u64; 2]>::create(dir.file("publisher"), [0, 0]).unwrap();
    let lock = SharedSeqLock::<[u64; 2]>::create(dir.file("seqlock"), [0, 0]).unwrap();
    let solo = SharedSoloWriter::<[u64; 2]>::create(dir.file("solo"), [0, 0]).unwrap();
    // The child takes over the single-writer file.
    drop(solo);
    let readonly = SharedSeqLockReader::<[u64; 2]>::open(dir.file("seqlock")).unwrap();
    let solo = SharedSoloReader::<[u64; 2]>::open(dir.file("solo")).unwrap();
    let _writer = Writer::spawn("several", &dir.0);

    async fn follow<R: Readable<Value = [u64; 2]>>(r: &R) -> u64 {
        let mut seen = 0;
        let mut steps = 0;
        while seen < WRITES {
            match r.wait_newer_async(seen).await {
                Ok(v) => {
                    assert!(
                        v.version > seen && v.value[0] == v.version,
                        "{v:?} after {seen}"
                    );
                    seen = v.version;
                    steps += 1;
                }
                // The writer is not there yet (it opens the file after us).
                Err(WaitError::Closed) => {
                    smol::Timer::after(Duration::from_millis(1)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
        steps
    }

    let ex = async_executor::Executor::new();
    let steps = std::thread::scope(|s| {
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let stopped = futures::FutureExt::shared(futures::FutureExt::map(stopped, |_| ()));
        for _ in 0..3 {
            let stopped = stopped.clone();
            let ex = &ex;
            s.spawn(move || smol::block_on(ex.run(stopped)));
        }
        let mut tasks = Vec::new();
        for _ in 0..5 {
            tasks.push(ex.spawn(follow(&p)));
            tasks.push(ex.spawn(follow(&lock)));
            tasks.push(ex.spawn(follow(&solo)));
            tasks.push(ex.spawn(follow(&readonly)));
        }
        let steps = smol::block_on(async {
            let all = async {
                let mut steps = Vec::new();
                for t in tasks {
                    steps.push(t.await);
                }
                steps
            };
            futures::FutureExt::map(
                futures::future::select(
                    Box::pin(all),
                    Box::pin(smol::Timer::after(Duration::from_secs(60))),
                ),
                |either| match either {
                    futures::future::Either::Left((steps, _)) => steps,
                    futures::future::Either::Right(_) => panic!("a task is stuck"),
                },
            )
            .await
        });
        drop(stop);
        steps
    });
    eprintln!(
        "20 tasks over 4 handles of 3 files: {} wake-ups in all",
        steps.iter().sum::<u64>()
    );
}
