//! `shm` across real processes: writers that are stopped (`SIGSTOP`) or killed
//! (`SIGKILL`) while the parent reads, and the checks made when opening a file.
//!
//! The test binary re-executes itself as the child: `child_role` is a no-op
//! unless `NOCLOBBER_SHM_ROLE` is set. Set `NOCLOBBER_SHM_SEED` to replay a run.
//! Under an emulator, set `NOCLOBBER_TEST_RUNNER` to cargo's target runner
//! (see `self_command`).
#![cfg(all(unix, feature = "shm"))]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use noclobber::shm::{
    Corrupt, Error, IoOp, Options, SharedPublisher, SharedSeqLock, SharedSeqLockReader,
    SharedSoloReader, SharedSoloWriter,
};
use noclobber::{ReadError, Readable, Versioned, WaitError, WriteError};

#[path = "common/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::thread_cpu;

const ROLE: &str = "NOCLOBBER_SHM_ROLE";
const FILE: &str = "NOCLOBBER_SHM_FILE";
/// Words per value: every word of a value equals its version.
const W: usize = 8;
type Value = [u64; W];
/// Three slots: writers carry on while one writer is stopped or dead mid-publication.
type Pub = SharedPublisher<Value, 3>;
/// Values long to copy (64 tagged words), so that writer threads spend most
/// of their time between claim and commit.
const WIDE: usize = 64;
type WidePub = SharedPublisher<[u64; WIDE], 3>;
type Seq = SharedSeqLock<Value>;
/// Words of a value whose file is large (32 KiB) and slow to initialise.
const BIG: usize = 4096;
type Big = SharedSeqLock<[u64; BIG]>;
/// Two slots are enough for the single-writer ring: its one writer never
/// writes the slot the head names.
type SoloW = SharedSoloWriter<Value, 2>;
type SoloR = SharedSoloReader<Value, 2>;
/// A successor writer must open the file this soon after its predecessor was
/// killed.
const ATTACH_AFTER_KILL: Duration = Duration::from_millis(100);

const STOP_CYCLES: usize = 20;
const KILL_CYCLES: usize = 10;
/// How long the parent reads while the writer is stopped or dead.
const FROZEN: Duration = Duration::from_millis(20);
/// Bound on the CPU time of one read while the writer is stopped or dead (a
/// read takes well under a microsecond; the slack is for interrupts and time
/// the hypervisor steals, which count as the thread's CPU time).
const MAX_READ_CPU: Duration = Duration::from_millis(5);
/// Bound on the wall-clock time of one such read: only a liveness bound,
/// because a busy 2-core machine deschedules the reader for tens, at times
/// hundreds, of milliseconds (seen here at load average 14).
const MAX_READ_WALL: Duration = Duration::from_secs(2);
/// A test that runs longer has hung: abort.
const TEST_TIMEOUT: Duration = Duration::from_secs(50);
/// Children give up on their own after this, in case the parent died.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

/// One process test at a time: each keeps a core busy with its writer.
static SERIAL: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------- child side

/// Runs a child role when re-executed by a test below; a no-op otherwise.
#[test]
fn child_role() {
    let Ok(role) = env::var(ROLE) else { return };
    let path = PathBuf::from(env::var(FILE).unwrap());
    let start = Instant::now();
    match role.as_str() {
        // Publishes `n + 1, n + 2, ...` as fast as it can, where `n` is the
        // value found: versions and values stay equal across writers.
        "pub-writer" => publish_forever::<3>(&path, start),
        "pub2-writer" => publish_forever::<2>(&path, start),
        // Two threads publishing as fast as they can, each its own values
        // (thread number in the top bits, a count below), every word of a
        // value the same. `write` keeps its claim across a lost commit, so
        // a kill usually finds both threads holding one.
        "pub-two-writers" => {
            let p = WidePub::open(&path).unwrap();
            thread::scope(|s| {
                for t in 1..=2u64 {
                    let p = &p;
                    s.spawn(move || {
                        for n in 0.. {
                            if start.elapsed() > CHILD_LIFETIME {
                                break;
                            }
                            p.write([t << 56 | n; WIDE]);
                        }
                    });
                }
            });
        }
        // The single writer: waits for the lock, then publishes `n + 1, ...`.
        "solo-writer" => {
            let mut w = open_solo_writer(&path, Duration::from_secs(20)).unwrap();
            let mut n = w.read()[0];
            while !n.is_multiple_of(1024) || start.elapsed() < CHILD_LIFETIME {
                n += 1;
                assert_eq!(w.write([n; W]), n);
            }
        }
        // Publishes `n + 1, ...` with a pause after each, so that waiters
        // in the parent sleep between publications.
        "solo-paced-writer" => {
            let mut w = open_solo_writer(&path, Duration::from_secs(20)).unwrap();
            let mut n = w.read()[0];
            while start.elapsed() < CHILD_LIFETIME {
                n += 1;
                assert_eq!(w.write([n; W]), n);
                thread::sleep(Duration::from_micros(300));
            }
        }
        // Follows the file with unbounded waits, and reports on stdout each
        // close ("closed <monotonic ns> <version>") and the first value after
        // it ("resumed <version>"); while closed, polls until a successor
        // opens the file.
        "solo-closed-waiter" => {
            use std::io::Write;
            let r = SoloR::open(&path).unwrap();
            let mut out = std::io::stdout();
            let (mut seen, mut resumed) = (r.version(), true);
            writeln!(out, "ready {seen}").unwrap();
            while start.elapsed() < CHILD_LIFETIME {
                match r.wait_newer(seen, Duration::MAX) {
                    Ok(v) => {
                        seen = check(v).version;
                        if !resumed {
                            writeln!(out, "resumed {seen}").unwrap();
                            resumed = true;
                        }
                    }
                    Err(WaitError::Closed) => {
                        writeln!(out, "closed {} {seen}", monotonic_ns()).unwrap();
                        resumed = false;
                        while r.is_closed() && start.elapsed() < CHILD_LIFETIME {
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        // Spends about half its time inside writes, half between them.
        "seq-writer" => {
            let s = Seq::open(&path).unwrap();
            while start.elapsed() < CHILD_LIFETIME {
                s.update(|v| {
                    spin(Duration::from_micros(20));
                    [v[0] + 1; W]
                });
                spin(Duration::from_micros(20));
            }
        }
        // Stops itself in the middle of one write, with the sequence odd.
        "seq-stop-in-write" => {
            let s = Seq::open(&path).unwrap();
            s.update(|v| {
                // SAFETY: raising a signal has no memory-safety preconditions.
                assert_eq!(unsafe { libc::raise(libc::SIGSTOP) }, 0);
                [v[0] + 1; W]
            });
        }
        // Creates `f0`, `f1`, ... in the directory `path` until killed.
        "create-loop" => {
            for i in 0u64.. {
                if start.elapsed() > CHILD_LIFETIME {
                    break;
                }
                Big::create(path.join(format!("f{i}")), [i; BIG]).unwrap();
            }
        }
        // Creates under a file-size limit smaller than the file: must be an
        // `Err` (`EFBIG` from the allocation), never a `SIGBUS`.
        "create-fsize" => {
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            // SAFETY: plain system calls with valid arguments; `SIG_IGN` makes
            // an over-limit write fail with `EFBIG` instead of killing us.
            unsafe {
                assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
                assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
            }
            match Big::create(&path, [1; BIG]) {
                Err(Error::Io {
                    op: IoOp::Allocate, ..
                }) => {}
                Err(e) => panic!("create failed, but not in its allocation: {e}"),
                Ok(_) => panic!("created a file over the file-size limit"),
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn publish_forever<const SLOTS: usize>(path: &Path, start: Instant) {
    let p = SharedPublisher::<Value, SLOTS>::open(path).unwrap();
    let mut n = p.read()[0];
    while !n.is_multiple_of(1024) || start.elapsed() < CHILD_LIFETIME {
        n += 1;
        assert_eq!(p.write([n; W]), n);
    }
}

/// Becomes the single writer of `path`, waiting up to `timeout` for the
/// current one to go away.
fn open_solo_writer(path: &Path, timeout: Duration) -> Result<SoloW, Error> {
    Options::new().wait_for_writer(timeout).open(path)
}

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process, so that a
/// child's report can be compared with the parent's kill.
fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid out-pointer; `CLOCK_MONOTONIC` always exists.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) },
        0
    );
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

// --------------------------------------------------------------- parent side

/// A child process, killed and reaped when dropped.
struct Child(std::process::Child);

/// A command that runs this test binary again: through `NOCLOBBER_TEST_RUNNER`
/// when it is set (a program and its arguments, split on whitespace, e.g.
/// `qemu-aarch64 -L /usr/aarch64-linux-gnu`, as cargo's target runner started
/// this binary: without binfmt registration a foreign binary does not run
/// directly), else directly. The runner's process is the child: under
/// qemu-user, signals and `waitpid` reach the emulated program.
fn self_command() -> Command {
    let exe = env::current_exe().unwrap();
    match runner().split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}

/// `NOCLOBBER_TEST_RUNNER` split on whitespace: empty when this binary runs
/// natively, else the emulator that runs it (see `self_command`).
fn runner() -> Vec<String> {
    let runner = env::var("NOCLOBBER_TEST_RUNNER").unwrap_or_default();
    runner.split_whitespace().map(String::from).collect()
}

impl Child {
    fn spawn(role: &str, path: &Path) -> Child {
        let child = self_command()
            .args([
                "child_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE, role)
            .env(FILE, path)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Child(child)
    }

    /// A child whose stdout lines arrive on the returned channel.
    fn spawn_piped(role: &str, path: &Path) -> (Child, std::sync::mpsc::Receiver<String>) {
        use std::io::BufRead;
        let mut child = self_command()
            .args([
                "child_role",
                "--exact",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE, role)
            .env(FILE, path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        (Child(child), rx)
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: `kill` has no memory-safety preconditions; the pid is our
        // child, not yet reaped, so it cannot have been reused.
        assert_eq!(unsafe { libc::kill(self.0.id() as libc::pid_t, sig) }, 0);
    }

    /// Stops the child and returns once the kernel reports it stopped.
    fn stop(&self) {
        self.signal(libc::SIGSTOP);
        self.wait_stopped();
    }

    fn wait_stopped(&self) {
        let mut status = 0;
        loop {
            // SAFETY: `status` is a valid out-pointer. WUNTRACED reports a stop
            // without reaping, so `std::process::Child` still owns the pid.
            let r =
                unsafe { libc::waitpid(self.0.id() as libc::pid_t, &mut status, libc::WUNTRACED) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            }
            assert!(
                r > 0 && libc::WIFSTOPPED(status),
                "child did not stop: {r} {status:#x}"
            );
            return;
        }
    }

    fn kill(mut self) {
        self.signal(libc::SIGKILL);
        self.0.wait().unwrap();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A path in `/dev/shm` (tmpfs: no writeback to disk) or the temp dir,
/// removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            env::temp_dir()
        };
        let path = dir.join(format!("noclobber-shm-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// xorshift64*, seeded from the clock or `NOCLOBBER_SHM_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = env::var("NOCLOBBER_SHM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                t.as_nanos() as u64 | 1
            });
        println!("NOCLOBBER_SHM_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }

    /// A last random pause before a signal: the read before it just saw the
    /// writer between two writes, and a reader sharing a core with the writer
    /// keeps it there; sleeping lets the writer run on to a random point.
    fn jitter(&mut self) {
        thread::sleep(Duration::from_micros(self.below(1000)));
    }
}

/// A value is whole if every word equals its version.
fn check(v: Versioned<Value>) -> Versioned<Value> {
    assert!(
        v.value.iter().all(|&w| w == v.version),
        "torn or foreign value: {v:?}"
    );
    v
}

/// A value is whole if its words are equal (for writers whose values do not
/// follow their versions).
fn whole<const N: usize>(v: Versioned<[u64; N]>) -> Versioned<[u64; N]> {
    assert!(
        v.value.iter().all(|&w| w == v.value[0]),
        "torn value: {v:?}"
    );
    v
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// The slowest of a set of timed reads, in wall-clock time and in CPU time of
/// the reading thread. A read that waited for the writer would show in both;
/// a reader descheduled by other load on the machine only in wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
struct Latency {
    wall: Duration,
    cpu: Duration,
    reads: u64,
}

impl Latency {
    fn time<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let (wall, cpu) = (Instant::now(), thread_cpu());
        let r = f();
        self.cpu = self.cpu.max(thread_cpu().saturating_sub(cpu));
        self.wall = self.wall.max(wall.elapsed());
        self.reads += 1;
        r
    }

    fn merge(&mut self, other: Latency) {
        self.wall = self.wall.max(other.wall);
        self.cpu = self.cpu.max(other.cpu);
        self.reads += other.reads;
    }

    fn assert_small(&self, what: &str) {
        assert!(
            self.cpu < MAX_READ_CPU,
            "{what}: a read used {:?} of CPU",
            self.cpu
        );
        assert!(
            self.wall < MAX_READ_WALL,
            "{what}: a read took {:?}",
            self.wall
        );
    }
}

/// Reads for `d`, checking every value and that versions never go back.
/// Returns the last value read.
fn read_for(
    d: Duration,
    last: &mut u64,
    latency: &mut Latency,
    mut read: impl FnMut() -> Versioned<Value>,
) -> Versioned<Value> {
    let t = Instant::now();
    loop {
        let v = check(latency.time(&mut read));
        assert!(
            v.version >= *last,
            "version went back: {} after {last}",
            v.version
        );
        *last = v.version;
        if t.elapsed() >= d {
            return v;
        }
    }
}

/// Aborts the test process if a test hangs (a read that never returns).
struct Watchdog(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl Watchdog {
    fn start(name: &'static str) -> Watchdog {
        Watchdog::start_for(name, TEST_TIMEOUT)
    }

    fn start_for(name: &'static str, limit: Duration) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("{name}: still running after {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog(tx)
    }
}

/// Stop the Publisher's writer at random moments: reads go on, fast and whole.
#[test]
fn publisher_readers_ignore_stopped_writer() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("publisher_readers_ignore_stopped_writer");
    let file = TempPath::new("pub-stop");
    let p = Pub::create(&file.0, [0; W]).unwrap();
    let child = Child::spawn("pub-writer", &file.0);
    wait_until("the writer to start", Duration::from_secs(20), || {
        p.version() > 0
    });
    let (mut rng, mut last) = (Rng::new(), 0);
    let (mut running, mut stopped) = (Latency::default(), Latency::default());
    for _ in 0..STOP_CYCLES {
        read_for(rng.millis(1, 20), &mut last, &mut running, || {
            p.read_versioned()
        });
        rng.jitter();
        child.stop();
        let frozen = check(p.read_versioned());
        // The writer is stopped: nothing new, and never a partial value.
        read_for(FROZEN, &mut last, &mut stopped, || {
            let v = p.read_versioned();
            assert_eq!(v, frozen, "the value changed while the writer was stopped");
            v
        });
        child.signal(libc::SIGCONT);
        wait_until("the writer to resume", Duration::from_secs(10), || {
            p.version() > frozen.version
        });
    }
    println!("publisher, {STOP_CYCLES} stops: while stopped {stopped:?}; while running {running:?}; last version {last}");
    stopped.assert_small("publisher, writer stopped");
    child.kill();
}

/// Kill the Publisher's writer mid-stream: readers keep the last value, and a
/// new writer process opens the file and continues the versions.
#[test]
fn publisher_survives_killed_writer() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("publisher_survives_killed_writer");
    let file = TempPath::new("pub-kill");
    let p = Pub::create(&file.0, [0; W]).unwrap();
    let mut child = Child::spawn("pub-writer", &file.0);
    wait_until("the writer to start", Duration::from_secs(20), || {
        p.version() > 0
    });
    let (mut rng, mut last) = (Rng::new(), 0);
    let (mut running, mut dead) = (Latency::default(), Latency::default());
    for _ in 0..KILL_CYCLES {
        read_for(rng.millis(5, 30), &mut last, &mut running, || {
            p.read_versioned()
        });
        rng.jitter();
        child.kill();
        let last_published = check(p.read_versioned());
        read_for(FROZEN, &mut last, &mut dead, || {
            let v = p.read_versioned();
            assert_eq!(
                v, last_published,
                "a value appeared after the writer was reaped"
            );
            v
        });
        child = Child::spawn("pub-writer", &file.0);
        wait_until("a new writer to publish", Duration::from_secs(20), || {
            p.version() > last_published.version + 1000
        });
    }
    println!("publisher, {KILL_CYCLES} kills: writer dead {dead:?}; running {running:?}; last version {last}");
    dead.assert_small("publisher, writer killed");
    child.kill();
}

/// Stop the SeqLock's writer at random moments: while it is stopped, either
/// every `try_read` returns the same whole value (stopped between writes) or
/// every one returns `Interrupted` (stopped mid-write). Then stop one
/// deterministically mid-write: `try_read` is `Interrupted` and `read` blocks
/// until it resumes; and kill one mid-write: the lock stays blocked.
#[test]
fn seqlock_stopped_writer_blocks_only_mid_write() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("seqlock_stopped_writer_blocks_only_mid_write");
    let file = TempPath::new("seq-stop");
    let s = Seq::create(&file.0, [0; W]).unwrap();
    let child = Child::spawn("seq-writer", &file.0);
    wait_until("the writer to start", Duration::from_secs(20), || {
        s.version() > 0
    });
    let (mut rng, mut last) = (Rng::new(), 0);
    let (mut mid_write, mut between) = (0, 0);
    let (mut running, mut stopped) = (Latency::default(), Latency::default());
    for _ in 0..STOP_CYCLES {
        read_for(rng.millis(1, 20), &mut last, &mut running, || {
            s.read_versioned()
        });
        rng.jitter();
        child.stop();
        let first = s.try_read();
        let t = Instant::now();
        while t.elapsed() < FROZEN {
            let v = stopped.time(|| s.try_read());
            assert_eq!(v, first, "the stopped writer's lock changed state");
        }
        match first {
            Ok(v) => {
                check(v);
                between += 1;
            }
            Err(ReadError::Interrupted) => mid_write += 1,
            Err(e) => panic!("try_read of a live lock: {e}"),
        }
        let version = s.version();
        child.signal(libc::SIGCONT);
        wait_until("the writer to resume", Duration::from_secs(10), || {
            s.version() > version
        });
    }
    // Killed at a random moment, possibly mid-write: `s` may be stuck for good.
    child.kill();

    // Deterministic, on a fresh lock: the child stops itself inside `update`,
    // with the sequence odd.
    let file = TempPath::new("seq-stop-in-write");
    let s = Seq::create(&file.0, [0; W]).unwrap();
    let stuck = s.read_versioned();
    let child = Child::spawn("seq-stop-in-write", &file.0);
    child.wait_stopped();
    let mut in_write = Latency::default();
    let t = Instant::now();
    while t.elapsed() < FROZEN {
        let v = in_write.time(|| s.try_read());
        assert_eq!(
            v,
            Err(ReadError::Interrupted),
            "try_read succeeded during a stopped write"
        );
    }
    thread::scope(|scope| {
        let reader = scope.spawn(|| s.read_versioned());
        thread::sleep(FROZEN);
        assert!(
            !reader.is_finished(),
            "read() returned during a stopped write"
        );
        child.signal(libc::SIGCONT);
        let v = check(reader.join().unwrap());
        assert_eq!(v.version, stuck.version + 1);
    });
    let mut child = child;
    assert!(child.0.wait().unwrap().success());
    assert_eq!(s.try_read().map(|v| v.version), Ok(stuck.version + 1));

    // A writer killed mid-write leaves the sequence odd forever.
    let child = Child::spawn("seq-stop-in-write", &file.0);
    child.wait_stopped();
    child.kill();
    let t = Instant::now();
    while t.elapsed() < FROZEN {
        let v = in_write.time(|| s.try_read());
        assert_eq!(
            v,
            Err(ReadError::Interrupted),
            "try_read succeeded after a writer died mid-write"
        );
    }
    // Opening it now is refused: the sequence stays odd.
    match Seq::open(&file.0) {
        Err(Error::Corrupt { what, .. }) => assert!(what.contains("odd"), "{what}"),
        other => panic!(
            "opened a lock a dead writer left odd: {:?}",
            other.map(drop)
        ),
    }
    // The bounded writes are the way out: they give up within their bound
    // and write nothing, where `write` and `update` would spin forever.
    let t = Instant::now();
    assert_eq!(
        s.try_write([7; W]),
        Err(WriteError::Busy),
        "wrote past a dead writer"
    );
    assert_eq!(
        s.try_update(|_| unreachable!("ran under a dead writer's lock")),
        Err(WriteError::Busy)
    );
    assert_eq!(s.write_timeout([7; W], FROZEN), Err(WriteError::TimedOut));
    assert_eq!(
        s.update_timeout(|_| unreachable!("ran under a dead writer's lock"), FROZEN),
        Err(WriteError::TimedOut)
    );
    assert_eq!(s.read_timeout(FROZEN), Err(ReadError::TimedOut));
    let waited = t.elapsed();
    assert!(
        waited >= 3 * FROZEN && waited < MAX_READ_WALL,
        "bounded forms waited {waited:?}"
    );
    println!(
        "seqlock, {STOP_CYCLES} random stops: {mid_write} mid-write (try_read Interrupted), \
         {between} between writes (try_read Ok); try_read while stopped {stopped:?}; \
         deterministic stop and kill mid-write: try_read {in_write:?}"
    );
    stopped.merge(in_write);
    stopped.assert_small("seqlock, writer stopped");
}

/// How soon after a writer process was killed the next writer must publish.
const PUBLISH_AFTER_KILL: Duration = Duration::from_millis(100);

/// Kill writer processes at random points, 50 times in one file, two
/// publishing threads each, 3 slots. Every fifth kill first stops the writer
/// at random points until both threads are found holding claims (no slot
/// free: a probing `write_timeout` times out, so a stopped, live writer
/// keeps its claims), then kills it there: claims that were never given back
/// would wedge the file for good (each search may take
/// `WEDGE_SEARCH_STOPS_EACH` stops, and at least one of the 10 must find that
/// state); the other kills land blind. Each time the next writer (this
/// process) gives the dead claims back and publishes within
/// `PUBLISH_AFTER_KILL`, and every value read is whole. Then the same with
/// one writer thread and 2 slots, where any kill between claim and commit
/// leaves no slot free until the dead claim is given back.
#[test]
fn publisher_reclaims_claims_of_killed_writers() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    // Finding a stop with both threads holding claims takes 100 to 350 stops
    // of about 6 ms on average (under 1% of stop points), so this test runs
    // 10 to 20 s, longer than the others.
    let _watchdog = Watchdog::start_for(
        "publisher_reclaims_claims_of_killed_writers",
        Duration::from_secs(150),
    );
    let mut rng = Rng::new();
    let (three, found, stops) = kill_and_publish::<WIDE, 3>("pub-two-writers", 50, &mut rng);
    let (two, _, _) = kill_and_publish::<W, 2>("pub2-writer", 10, &mut rng);
    println!(
        "publish after a kill: 3 slots, 2 threads {three:?} ({found} of 10 kills with \
         both threads holding claims, found in {stops} stops); 2 slots, 1 thread {two:?}"
    );
}

/// Kills `role` writers `kills` times; with 3 slots, every fifth one only once
/// it was found stopped with no slot free (or the search budget ran out).
/// The slowest publication after a kill, how many of those states were
/// found, and the stops the searches took.
fn kill_and_publish<const N: usize, const SLOTS: usize>(
    role: &str,
    kills: usize,
    rng: &mut Rng,
) -> (Duration, usize, usize) {
    let file = TempPath::new(&format!("reclaim-{SLOTS}"));
    let p = SharedPublisher::<[u64; N], SLOTS>::create(&file.0, [0; N]).unwrap();
    let running = |p: &SharedPublisher<[u64; N], SLOTS>| {
        let before = p.version();
        wait_until("the writer to run", Duration::from_secs(20), || {
            whole(p.read_versioned()).version > before + 100
        });
    };
    let (mut slowest, mut stops, mut found) = (Duration::ZERO, 0, 0);
    for i in 0..kills {
        let child = Child::spawn(role, &file.0);
        running(&p);
        thread::sleep(rng.millis(1, 10));
        if SLOTS == 3 && i % 5 == 0 {
            // The stops one search takes have a heavy tail that depends on
            // the child (means of 100 to 500 per find seen, single searches
            // over 5000, and whole runs of 6000 stops that found the state
            // only once): a search that runs out kills blind, and the next
            // one starts on a new child.
            let budget = stops + WEDGE_SEARCH_STOPS_EACH;
            while stops < budget {
                rng.jitter();
                child.stop();
                stops += 1;
                let frozen = whole(p.read_versioned());
                if every_slot_held(p.write_timeout([0; N], Duration::from_millis(1))) {
                    assert_eq!(whole(p.read_versioned()), frozen);
                    found += 1;
                    break;
                }
                child.signal(libc::SIGCONT);
                running(&p);
            }
        }
        child.kill();
        let dead = whole(p.read_versioned()).version;
        let t = Instant::now();
        let published = p.write_timeout([dead + 1; N], PUBLISH_AFTER_KILL);
        let took = t.elapsed();
        assert_eq!(
            published,
            Ok(dead + 1),
            "kill {i}, {SLOTS} slots: no slot free {took:?} after the writer was killed"
        );
        assert_eq!(whole(p.read_versioned()).value, [dead + 1; N]);
        slowest = slowest.max(took);
    }
    if SLOTS == 3 {
        let searches = kills.div_ceil(5);
        assert!(
            found >= 1,
            "the writer held every free slot in only {found} of {searches} searches \
             ({stops} stops)"
        );
    }
    (slowest, found, stops)
}

/// Stops of a live two-thread writer allowed per search for a stop with
/// every free slot held (each stop takes about 6 ms).
const WEDGE_SEARCH_STOPS_EACH: usize = 600;

/// Whether a probing `write_timeout` found every slot but the head's held
/// (it timed out); `false` if it published. Any other error fails the test.
fn every_slot_held(probe: Result<u64, WriteError<Corrupt>>) -> bool {
    match probe {
        Ok(_) => false,
        Err(WriteError::TimedOut) => true,
        Err(e) => panic!("a probing write failed otherwise: {e}"),
    }
}

/// A writer `fork`ed from this process, publishing through the mapping it
/// inherited (no `open` of its own); killed and reaped when dropped.
struct Forked(libc::pid_t);

impl Forked {
    /// Forks a child in which `threads` threads publish `[t << 56 | n; N]`
    /// (thread `t`, `n = 0, 1, ...`) through `p` until it is killed (or
    /// `CHILD_LIFETIME` passes).
    fn publishing<const N: usize, const SLOTS: usize>(
        p: &SharedPublisher<[u64; N], SLOTS>,
        threads: u64,
    ) -> Forked {
        // SAFETY: the child runs only the loops below and `_exit`: it takes
        // no lock another thread of the parent may hold at the fork (it
        // publishes through the inherited mapping; its threads and its first
        // claim, which reads `/proc/self`, allocate: glibc's `malloc` is
        // fork-safe), and never returns into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let start = Instant::now();
            let publish = move |t: u64| {
                for n in 0.. {
                    if start.elapsed() > CHILD_LIFETIME {
                        break;
                    }
                    p.write([t << 56 | n; N]);
                }
            };
            // A one-thread child writes on its own thread: it starts no
            // thread, which qemu-user does not survive reliably in a forked
            // child of a multi-threaded process. (Two writers on spawned
            // threads reach the state searched for far more often than one
            // spawned and the child's own.)
            if threads == 1 {
                publish(1);
            } else {
                thread::scope(|s| {
                    for t in 1..=threads {
                        s.spawn(move || publish(t));
                    }
                });
            }
            // SAFETY: ends the child without running the parent's exit
            // handlers or destructors.
            unsafe { libc::_exit(0) };
        }
        Forked(pid)
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: `kill` has no memory-safety preconditions; the pid is our
        // child, not yet reaped, so it cannot have been reused.
        assert_eq!(unsafe { libc::kill(self.0, sig) }, 0);
    }

    /// Stops the child and returns once the kernel reports it stopped.
    fn stop(&self) {
        self.signal(libc::SIGSTOP);
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer; WUNTRACED reports the
        // stop without reaping the child.
        while unsafe { libc::waitpid(self.0, &mut status, libc::WUNTRACED) } != self.0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "waitpid: {e}");
        }
        assert!(libc::WIFSTOPPED(status), "child did not stop: {status:#x}");
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        self.signal(libc::SIGKILL);
        let mut status = 0;
        // SAFETY: as in `stop`; this reaps the child.
        unsafe { libc::waitpid(self.0, &mut status, 0) };
    }
}

/// Writers `fork`ed from the creator (the fork-style sharing the shm docs
/// describe: they never `open` the file) and killed while they hold claims:
/// the next bounded publication succeeds within `PUBLISH_AFTER_KILL`, every
/// time. With 2 slots a forked writer with one thread holding a claim leaves
/// no slot free; with 3 slots one with two threads, both holding claims
/// (stopping the process stops both at once). A child claims in its own
/// name (it computes its identity at its first claim), not in its parent's
/// and not as an unknown owner, whose claims are never given back.
///
/// Under an emulator (`runner()` not empty) only the 2-slot case
/// runs: qemu-user 7.2 aborts, at random, a forked child of this
/// multi-threaded process that starts a thread (`qemu_plugin_vcpu_init_hook:
/// assertion failed`).
#[test]
fn publisher_reclaims_claims_of_killed_forked_writers() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start_for(
        "publisher_reclaims_claims_of_killed_forked_writers",
        Duration::from_secs(150),
    );
    let mut rng = Rng::new();
    let (two, stops2) = fork_kill_and_publish::<2>(1, 10, &mut rng);
    if !runner().is_empty() {
        println!(
            "publish after killing forked writers holding claims: 2 slots {two:?} \
             ({stops2} stops); 3 slots (two-thread children) not run under an emulator"
        );
        return;
    }
    let (three, stops3) = fork_kill_and_publish::<3>(2, 10, &mut rng);
    println!(
        "publish after killing forked writers holding claims: 2 slots {two:?} \
         ({stops2} stops), 3 slots {three:?} ({stops3} stops)"
    );
}

/// Forks writers with `threads` threads, stops each at random points until
/// it holds every free slot (a 1 ms `write_timeout` of this process times
/// out), kills it there, and publishes with a bounded call; until `kills`
/// kills landed in that state. Some children rarely reach it (the two
/// threads fall into a rhythm in which one's commit keeps retiring the
/// other's claim), so a child not found there within
/// `FORK_SEARCH_STOPS_EACH` stops is killed where it is (the bounded
/// publication after it is checked all the same) and a new one forked.
/// The slowest publication after a kill and the stops the searches took.
fn fork_kill_and_publish<const SLOTS: usize>(
    threads: u64,
    kills: usize,
    rng: &mut Rng,
) -> (Duration, usize) {
    let file = TempPath::new(&format!("fork-{SLOTS}"));
    let p = SharedPublisher::<[u64; WIDE], SLOTS>::create(&file.0, [0; WIDE]).unwrap();
    let running = |p: &SharedPublisher<[u64; WIDE], SLOTS>| {
        let before = p.version();
        wait_until("the forked writers to run", Duration::from_secs(20), || {
            whole(p.read_versioned()).version > before + 100
        });
    };
    let (mut slowest, mut stops, mut found, mut children) = (Duration::ZERO, 0, 0, 0);
    while found < kills {
        assert!(
            children < 4 * kills,
            "{SLOTS} slots: only {found} of {children} forked writers were found holding \
             every free slot ({stops} stops)"
        );
        children += 1;
        let forked = Forked::publishing(&p, threads);
        running(&p);
        for _ in 0..FORK_SEARCH_STOPS_EACH {
            rng.jitter();
            forked.stop();
            stops += 1;
            let frozen = whole(p.read_versioned());
            if every_slot_held(p.write_timeout([0; WIDE], Duration::from_millis(1))) {
                assert_eq!(whole(p.read_versioned()), frozen);
                found += 1;
                break;
            }
            forked.signal(libc::SIGCONT);
            running(&p);
        }
        drop(forked);
        let dead = whole(p.read_versioned()).version;
        let t = Instant::now();
        let published = p.write_timeout([dead + 1; WIDE], PUBLISH_AFTER_KILL);
        let took = t.elapsed();
        assert_eq!(
            published,
            Ok(dead + 1),
            "child {children}, {SLOTS} slots: no slot free {took:?} after the forked writer \
             was killed"
        );
        assert_eq!(whole(p.read_versioned()).value, [dead + 1; WIDE]);
        slowest = slowest.max(took);
    }
    (slowest, stops)
}

/// Stops of one forked writer allowed in the search for it holding every
/// free slot (a stop takes about 1 ms here).
const FORK_SEARCH_STOPS_EACH: usize = 300;

// ------------------------------------------------------------- open checks

#[test]
fn open_refuses_bad_files() {
    let file = TempPath::new("checks");
    let path = &file.0;
    assert!(
        matches!(Pub::open(path), Err(Error::Io { source, op: IoOp::Open, .. }) if source.kind() == std::io::ErrorKind::NotFound)
    );
    let text = Pub::open(path).unwrap_err().to_string();
    assert!(
        text.starts_with(&format!("cannot open {}: ", path.display())),
        "{text}"
    );

    std::fs::write(path, [0u8; 10]).unwrap();
    let err = Pub::open(path).unwrap_err();
    assert!(matches!(err, Error::TooSmall { len: 10, .. }), "{err}");
    let text = err.to_string();
    for part in [
        path.display().to_string(),
        "file is 10 bytes".to_string(),
        format!("SharedPublisher<{}, 3>", std::any::type_name::<Value>()),
    ] {
        assert!(text.contains(&part), "{part:?} missing in: {text}");
    }
    assert!(
        matches!(Pub::create(path, [0; W]), Err(Error::Io { source, op: IoOp::Create, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists)
    );

    std::fs::write(path, vec![0u8; 1 << 16]).unwrap();
    assert!(matches!(Pub::open(path), Err(Error::Uninitialized { .. })));
    std::fs::write(path, vec![0xa5u8; 1 << 16]).unwrap();
    let err = Seq::open(path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotShared {
                found: 0xa5a5_a5a5_a5a5_a5a5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.path(), path.as_path());

    std::fs::remove_file(path).unwrap();
    let p = Pub::create(path, [3; W]).unwrap();
    // Another slot count, kind, or `T` of the same size: refused.
    let err = SharedPublisher::<Value, 2>::open(path).unwrap_err();
    assert!(matches!(err, Error::LayoutMismatch { .. }), "{err}");
    // The message names the file, the object expected (kind, T, slot count),
    // T's size and both file lengths.
    let text = err.to_string();
    let expected_len = std::fs::metadata(path).unwrap().len();
    let value_size = std::mem::size_of::<Value>();
    for part in [
        path.display().to_string(),
        format!("SharedPublisher<{}, 2>", std::any::type_name::<Value>()),
        format!("T of {value_size} bytes"),
        format!("found a file of {expected_len} bytes"),
    ] {
        assert!(text.contains(&part), "{part:?} missing in: {text}");
    }
    assert!(matches!(
        SharedPublisher::<[i64; W], 3>::open(path),
        Err(Error::LayoutMismatch { .. })
    ));
    assert!(matches!(Seq::open(path), Err(Error::LayoutMismatch { .. })));
    // A larger layout does not fit in the file.
    assert!(matches!(
        SharedPublisher::<Value, 4>::open(path),
        Err(Error::TooSmall { .. })
    ));
    // The right one opens and sees the initial value.
    assert_eq!(
        Pub::open(path).unwrap().read_versioned(),
        Versioned {
            value: [3; W],
            version: 0
        }
    );
    assert!(p.version() == 0 && !err.to_string().is_empty());
}

/// A file for the single-writer tests, created and then released by the
/// parent (a child writer opens it), with a reader.
fn solo_file(name: &str) -> (TempPath, SoloR) {
    let file = TempPath::new(name);
    drop(SoloW::create(&file.0, [0; W]).unwrap());
    let reader = SoloR::open(&file.0).unwrap();
    (file, reader)
}

/// Stop the single writer at random moments: reads go on, fast and whole, and
/// the stopped writer keeps its lock, so no second writer can open the file
/// and readers do not take the file for closed.
#[test]
fn solo_readers_ignore_stopped_writer() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("solo_readers_ignore_stopped_writer");
    let (file, r) = solo_file("solo-stop");
    let child = Child::spawn("solo-writer", &file.0);
    wait_until("the writer to start", Duration::from_secs(20), || {
        r.version() > 0
    });
    let (mut rng, mut last) = (Rng::new(), 0);
    let (mut running, mut stopped) = (Latency::default(), Latency::default());
    for _ in 0..STOP_CYCLES {
        read_for(rng.millis(1, 20), &mut last, &mut running, || {
            r.read_versioned()
        });
        rng.jitter();
        child.stop();
        let frozen = check(r.read_versioned());
        read_for(FROZEN, &mut last, &mut stopped, || {
            // The bounded read never fails while the writer is stopped.
            let v = r.try_read().expect("a stopped writer made a read fail");
            assert_eq!(v, frozen, "the value changed while the writer was stopped");
            v
        });
        assert!(matches!(
            SoloW::open(&file.0),
            Err(Error::WriterBusy { .. })
        ));
        assert!(!r.is_closed(), "closed while the writer was only stopped");
        child.signal(libc::SIGCONT);
        wait_until("the writer to resume", Duration::from_secs(10), || {
            r.version() > frozen.version
        });
    }
    println!("solo, {STOP_CYCLES} stops: while stopped {stopped:?}; while running {running:?}; last version {last}");
    stopped.assert_small("solo, writer stopped");
    child.kill();
}

/// Kill the single writer at random points: readers keep the last value,
/// whole, and see the file closed; a successor opens the file within
/// `ATTACH_AFTER_KILL` of the kill (readers see it open again) and continues
/// the versions, then drops its handle (closed again); then a new writer
/// process takes over again.
#[test]
fn solo_successor_attaches_after_killed_writer() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("solo_successor_attaches_after_killed_writer");
    let (file, r) = solo_file("solo-kill");
    let mut child = Child::spawn("solo-writer", &file.0);
    wait_until("the writer to start", Duration::from_secs(20), || {
        r.version() > 0
    });
    let (mut rng, mut last) = (Rng::new(), 0);
    let (mut running, mut dead) = (Latency::default(), Latency::default());
    let mut slowest_attach = Duration::ZERO;
    for _ in 0..KILL_CYCLES * 2 {
        read_for(rng.millis(5, 30), &mut last, &mut running, || {
            r.read_versioned()
        });
        rng.jitter();
        let killed = Instant::now();
        child.kill();
        assert!(r.is_closed(), "not closed after the writer was killed");
        let mut successor = open_solo_writer(&file.0, ATTACH_AFTER_KILL)
            .expect("no successor could open the file after the kill");
        slowest_attach = slowest_attach.max(killed.elapsed());
        assert!(!r.is_closed(), "closed while the successor holds the file");
        let last_published = check(r.read_versioned());
        assert_eq!(successor.version(), last_published.version);
        read_for(FROZEN, &mut last, &mut dead, || {
            let v = r.try_read().expect("a killed writer made a read fail");
            assert_eq!(
                v, last_published,
                "a value appeared after the writer was reaped"
            );
            v
        });
        // The successor continues the versions, over whatever the dead writer
        // left half-written.
        for n in last_published.version + 1..=last_published.version + 3 {
            assert_eq!(successor.write([n; W]), n);
            assert_eq!(check(r.read_versioned()).version, n);
        }
        drop(successor);
        assert!(
            r.is_closed(),
            "not closed after the successor dropped its handle"
        );
        child = Child::spawn("solo-writer", &file.0);
        let resumed = last_published.version + 3;
        wait_until("a new writer to publish", Duration::from_secs(20), || {
            r.version() > resumed + 1000
        });
    }
    println!(
        "solo, {} kills: slowest attach {slowest_attach:?} after the kill; writer dead {dead:?}; running {running:?}; last version {last}",
        KILL_CYCLES * 2
    );
    dead.assert_small("solo, writer killed");
    child.kill();
}

#[test]
fn solo_one_writer_and_checked_files() {
    let file = TempPath::new("solo-checks");
    let path = &file.0;
    let mut w = SoloW::create(path, [1; W]).unwrap();
    assert!(
        matches!(SoloW::create(path, [1; W]), Err(Error::Io { source: e, .. }) if e.kind() == std::io::ErrorKind::AlreadyExists)
    );
    // One writer at a time, in this process too; a timeout is honoured.
    assert!(matches!(SoloW::open(path), Err(Error::WriterBusy { .. })));
    let t = Instant::now();
    assert!(matches!(
        open_solo_writer(path, Duration::from_millis(30)),
        Err(Error::WriterBusy { .. })
    ));
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert_eq!(w.write([2; W]), 1);
    assert_eq!(w.update(|[x, ..]| [x + 1; W]).version, 2);
    drop(w);
    let mut w = SoloW::open(path).unwrap();
    assert_eq!(w.write([4; W]), 3);
    let r = SoloR::open(path).unwrap();
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: [4; W],
            version: 3
        }
    );
    // Other kinds, slot counts and types are refused, both ways.
    assert!(matches!(Seq::open(path), Err(Error::LayoutMismatch { .. })));
    assert!(matches!(
        Pub::open(path),
        Err(Error::LayoutMismatch { .. }) | Err(Error::TooSmall { .. })
    ));
    assert!(matches!(
        SharedSoloReader::<Value, 3>::open(path),
        Err(Error::LayoutMismatch { .. }) | Err(Error::TooSmall { .. })
    ));
    assert!(matches!(
        SharedSoloReader::<[i64; W], 2>::open(path),
        Err(Error::LayoutMismatch { .. })
    ));
    let other = TempPath::new("solo-checks-pub");
    let _p = Pub::create(&other.0, [0; W]).unwrap();
    assert!(matches!(
        SoloR::open(&other.0),
        Err(Error::LayoutMismatch { .. }) | Err(Error::TooSmall { .. })
    ));
    drop(w);

    // A damaged body behind a valid header: the head's slot stamp (slot 1 holds
    // version 3) overwritten with garbage. The object starts at offset 128
    // (the header, padded to the object's 128-byte alignment), its 8-byte head
    // first, then the two 4-byte waiter words, then the slots, each an 8-byte
    // stamp and the payload words (64 bytes of value plus the crate's 7-byte
    // zero tail, rounded up: 72 bytes).
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&999u64.to_ne_bytes(), 128 + 8 + 8 + 80)
        .unwrap();
    assert!(
        matches!(SoloR::open(path), Err(Error::Corrupt { ref what, .. }) if what.contains("stamp 999"))
    );
    assert!(matches!(SoloW::open(path), Err(Error::Corrupt { .. })));
    // A reader that opened before the damage gets `Corrupt` from the bounded
    // reads, at once and within its timeout, instead of spinning.
    assert!(matches!(r.try_read(), Err(ReadError::Corrupt(_))));
    assert!(matches!(
        r.read_timeout(Duration::from_secs(10)),
        Err(ReadError::Corrupt(_))
    ));
    let err = SoloR::open(path).unwrap_err().to_string();
    assert!(
        err.contains("corrupt") && err.contains(&path.display().to_string()),
        "{err}"
    );
}

/// How long a waiter waits once the writer is stopped or dead, and how late
/// past that it may return (a loaded 2-core machine deschedules threads for
/// tens of milliseconds).
const WAIT_AFTER_KILL: Duration = Duration::from_millis(100);
const WAIT_LATE: Duration = Duration::from_secs(2);

/// Waiting across processes: a reader process's waits follow a writer process
/// (every version newer than the last, every value whole); once the writer is
/// stopped (`SIGSTOP`) a wait returns `TimedOut` at its timeout (the stopped
/// writer still holds the file: not closed), and once it is killed
/// (`SIGKILL`, at a random point, possibly mid-publication) a wait returns
/// `Closed` without waiting for its timeout (no writer holds the file); a new
/// writer process opens the file again and wakes the waiters again.
#[test]
fn waiters_follow_a_writer_process_and_see_it_stop_or_die() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("waiters_follow_a_writer_process_and_see_it_stop_or_die");
    let (file, r) = solo_file("solo-wait");
    // The creator dropped its writer, so the file is closed until a writer
    // process opens it.
    assert!(r.is_closed(), "no writer holds the file yet");
    let writer_opened = || {
        wait_until(
            "the writer to open the file",
            Duration::from_secs(20),
            || !r.is_closed(),
        );
    };
    let mut child = Child::spawn("solo-paced-writer", &file.0);
    writer_opened();
    let (mut rng, mut seen, mut wakes) = (Rng::new(), 0, 0);
    let timed_out = |seen: u64| {
        let t = Instant::now();
        assert_eq!(
            r.wait_newer(seen, WAIT_AFTER_KILL),
            Err(WaitError::TimedOut)
        );
        let took = t.elapsed();
        assert!(
            took >= WAIT_AFTER_KILL && took < WAIT_AFTER_KILL + WAIT_LATE,
            "{took:?}"
        );
    };
    // A wait on a file whose writer died ends with `Closed`, long before its
    // timeout, and leaves the last value readable.
    let closed = |seen: u64| {
        let (t, timeout) = (Instant::now(), Duration::from_secs(10));
        assert_eq!(r.wait_newer(seen, timeout), Err(WaitError::Closed));
        let took = t.elapsed();
        assert!(took < WAIT_LATE, "Closed came after {took:?}");
        assert_eq!(check(r.read_versioned()).version, seen);
    };
    for cycle in 0..KILL_CYCLES * 2 {
        let t = Instant::now();
        let follow_for = rng.millis(5, 30);
        while t.elapsed() < follow_for || seen == 0 {
            // A wait that lasts its whole timeout missed its wake-up (its last
            // check then finds the version): fail.
            let (t, timeout) = (Instant::now(), Duration::from_secs(5));
            let v = check(r.wait_newer(seen, timeout).expect("no wake-up"));
            assert!(t.elapsed() < timeout, "no wake-up after version {seen}");
            assert!(v.version > seen, "not newer: {} after {seen}", v.version);
            seen = v.version;
            wakes += 1;
        }
        rng.jitter();
        if cycle % 2 == 0 {
            child.stop();
            assert!(!r.is_closed(), "closed while the writer was only stopped");
            timed_out(r.version());
            child.signal(libc::SIGCONT);
        } else {
            child.kill();
            closed(r.version());
            assert!(r.is_closed(), "not closed after the writer was killed");
            child = Child::spawn("solo-paced-writer", &file.0);
            writer_opened();
        }
    }
    println!("{wakes} wake-ups observed across processes, last version {seen}");
    child.kill();
}

/// A `SharedSeqLock` writer killed in the middle of a write (the sequence
/// odd for good) keeps waiters only until their timeout.
/// How many times `waiting_readers_see_the_writer_go` kills the writer.
const CLOSE_KILLS: usize = 20;

/// The next line from a child that starts with `word`, within `timeout`;
/// other lines (the test harness's) are skipped.
fn next_line(rx: &std::sync::mpsc::Receiver<String>, word: &str, timeout: Duration) -> String {
    let t = Instant::now();
    loop {
        let left = timeout.saturating_sub(t.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with(word) => return line,
            Ok(_) => {}
            Err(e) => panic!("no {word:?} line within {timeout:?}: {e}"),
        }
    }
}

/// Three reader processes wait with an unbounded timeout while writer
/// processes come and go: each `SIGKILL` of the writer ends every waiter's
/// wait with `Closed`, at the version the writer last published; a `SIGSTOP`
/// ends none; each successor's first publication reaches every waiter that
/// waits again. The time from the kill to each reader's `Closed` is
/// reported (the target is a median of 20 ms and a maximum of 100 ms); the
/// test allows `WAIT_LATE` for a loaded machine.
#[test]
fn waiting_readers_see_the_writer_go() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start_for(
        "waiting_readers_see_the_writer_go",
        Duration::from_secs(120),
    );
    let (file, r) = solo_file("solo-close");
    let writer_opened = || {
        wait_until(
            "the writer to open the file",
            Duration::from_secs(20),
            || !r.is_closed() && r.version() > 0,
        );
    };
    let mut writer = Child::spawn("solo-paced-writer", &file.0);
    writer_opened();
    let readers: Vec<_> = (0..3)
        .map(|_| Child::spawn_piped("solo-closed-waiter", &file.0))
        .collect();
    for (_, rx) in &readers {
        next_line(rx, "ready", Duration::from_secs(20));
    }
    let mut latencies = Vec::new();
    let mut rng = Rng::new();
    for kill in 0..CLOSE_KILLS {
        thread::sleep(rng.millis(10, 40));
        if kill % 4 == 0 {
            // Stopped, not gone: no waiter returns.
            writer.stop();
            for (_, rx) in &readers {
                if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                    assert!(
                        !line.starts_with("closed"),
                        "closed with the writer only stopped"
                    );
                }
            }
            assert!(!r.is_closed());
            writer.signal(libc::SIGCONT);
            thread::sleep(rng.millis(5, 20));
        }
        let killed_at = monotonic_ns();
        writer.kill();
        let last = check(r.read_versioned()).version;
        for (i, (_, rx)) in readers.iter().enumerate() {
            let line = next_line(rx, "closed", WAIT_LATE);
            let mut words = line.split(' ').skip(1);
            let at: u64 = words.next().unwrap().parse().unwrap();
            let version: u64 = words.next().unwrap().parse().unwrap();
            assert_eq!(
                version, last,
                "reader {i}, kill {kill}: closed before the last value"
            );
            latencies.push(Duration::from_nanos(at.saturating_sub(killed_at)));
        }
        assert!(r.is_closed());
        writer = Child::spawn("solo-paced-writer", &file.0);
        for (i, (_, rx)) in readers.iter().enumerate() {
            let line = next_line(rx, "resumed", Duration::from_secs(20));
            let version: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
            assert!(
                version > last,
                "reader {i}: resumed at {version}, not after {last}"
            );
        }
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = *latencies.last().unwrap();
    println!(
        "close seen after a SIGKILL, {} waits ({CLOSE_KILLS} kills, 3 reader processes): \
         median {median:?}, max {max:?}",
        latencies.len()
    );
    assert!(
        max < WAIT_LATE,
        "a reader saw the close {max:?} after the kill"
    );
    drop(readers);
    writer.kill();
}

#[test]
fn seqlock_waiters_time_out_on_a_writer_killed_mid_write() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("seqlock_waiters_time_out_on_a_writer_killed_mid_write");
    let file = TempPath::new("seq-wait-kill");
    let s = Seq::create(&file.0, [0; W]).unwrap();
    let child = Child::spawn("seq-stop-in-write", &file.0);
    child.wait_stopped();
    assert_eq!(
        s.try_read(),
        Err(ReadError::Interrupted),
        "the child stopped mid-write"
    );
    child.kill();
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(s.wait_newer(0, WAIT_AFTER_KILL), Err(WaitError::TimedOut));
        let took = t.elapsed();
        assert!(
            took >= WAIT_AFTER_KILL && took < WAIT_AFTER_KILL + WAIT_LATE,
            "{took:?}"
        );
    }
}

// ------------------------------------------------------------ atomic create

/// Temporary files `create` left in `dir` for the final name `name`.
fn temporaries(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!(".{name}.noclobber-tmp.");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect()
}

/// `create` never replaces or touches an existing file, whatever it
/// holds, leaves no temporary behind, and makes the file `0o600`.
#[test]
fn create_never_replaces_an_existing_file() {
    use std::os::unix::fs::PermissionsExt;
    let file = TempPath::new("never-replace");
    let (path, dir) = (&file.0, file.0.parent().unwrap());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let s = Seq::create(path, [1; W]).unwrap();
    assert_eq!(
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    s.write([2; W]);
    let exists = |r: Result<(), Error>| matches!(r, Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists);
    assert!(exists(Seq::create(path, [3; W]).map(drop)));
    assert!(exists(Pub::create(path, [3; W]).map(drop)));
    assert!(exists(SoloW::create(path, [3; W]).map(drop)));
    assert_eq!(Seq::open(path).unwrap().read(), [2; W]);
    // `open_or_create` opens it.
    assert_eq!(Seq::open_or_create(path, [4; W]).unwrap().read(), [2; W]);
    drop(s);
    // A foreign file is not replaced either.
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, b"not ours").unwrap();
    assert!(exists(Seq::create(path, [3; W]).map(drop)));
    assert_eq!(std::fs::read(path).unwrap(), b"not ours");
    assert!(Seq::open_or_create(path, [3; W]).is_err());
    assert_eq!(std::fs::read(path).unwrap(), b"not ours");
    assert_eq!(temporaries(dir, &name), Vec::<PathBuf>::new());
    // Created by `open_or_create` when missing.
    std::fs::remove_file(path).unwrap();
    assert_eq!(Seq::open_or_create(path, [5; W]).unwrap().read(), [5; W]);
    assert_eq!(temporaries(dir, &name), Vec::<PathBuf>::new());
}

/// A file-size limit below the file's size makes `create` return `Err`
/// from its allocation, in a child process (the limit is per process): never
/// a `SIGBUS`, and nothing left under the final name or a temporary one.
#[test]
fn create_over_a_file_size_limit_is_an_err() {
    let file = TempPath::new("fsize");
    let mut child = Child::spawn("create-fsize", &file.0);
    let status = child.0.wait().unwrap();
    assert!(status.success(), "the creating child failed: {status:?}");
    assert!(!file.0.exists(), "a file was left under the final name");
    let name = file.0.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        temporaries(file.0.parent().unwrap(), &name),
        Vec::<PathBuf>::new()
    );
}

/// A creator killed at random moments (20 times) never leaves a file
/// under its final name that `open` refuses or that holds anything but the
/// value it was created with; stray temporaries are all it can leave.
#[test]
fn killed_creators_leave_no_half_initialised_file() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("killed_creators_leave_no_half_initialised_file");
    let mut rng = Rng::new();
    let dir = TempPath::new("create-kill");
    // A child starts creating within a few ms natively, after about 90 ms
    // under qemu-user: the kill lands after `NOCLOBBER_TEST_SLOWDOWN` times
    // 5 to 40 ms (a whole factor, default 1; the aarch64 CI stage sets it).
    let slowdown: u32 = env::var("NOCLOBBER_TEST_SLOWDOWN")
        .map(|s| s.parse().expect("NOCLOBBER_TEST_SLOWDOWN: a whole number"))
        .unwrap_or(1);
    let (mut files, mut strays) = (0, 0);
    for _ in 0..20 {
        std::fs::create_dir(&dir.0).unwrap();
        let child = Child::spawn("create-loop", &dir.0);
        thread::sleep(rng.millis(5, 40) * slowdown);
        child.kill();
        for entry in std::fs::read_dir(&dir.0).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(i) = name.strip_prefix('f') {
                let i: u64 = i.parse().unwrap();
                let opened = Big::open(&path)
                    .unwrap_or_else(|e| panic!("a killed creator left a broken file: {e}"));
                assert_eq!(
                    opened.read_versioned(),
                    Versioned {
                        value: [i; BIG],
                        version: 0
                    }
                );
                files += 1;
            } else {
                assert!(name.contains(".noclobber-tmp."), "unexpected file {name}");
                strays += 1;
            }
        }
        std::fs::remove_dir_all(&dir.0).unwrap();
    }
    println!("killed creators: {files} complete files, {strays} stray temporaries");
    assert!(files > 0, "the creator never created a file");
}

/// `open` checks the `Publisher` body behind a valid header. The ticket
/// counter is overwritten in the file by other means (it sits at byte 256:
/// a 24-byte header padded to the object's 128-byte alignment, then the
/// 128-byte padded head): every writer would spin, so `open` refuses it.
#[test]
fn open_refuses_a_corrupt_publisher_body() {
    use std::os::unix::fs::FileExt;
    let file = TempPath::new("corrupt-body");
    let p = Pub::create(&file.0, [0; W]).unwrap();
    p.write([1; W]);
    drop(p);
    assert_eq!(Pub::open(&file.0).unwrap().read(), [1; W]);
    let raw = std::fs::OpenOptions::new()
        .write(true)
        .open(&file.0)
        .unwrap();
    raw.write_all_at(&0u64.to_ne_bytes(), 256).unwrap();
    match Pub::open(&file.0) {
        Err(Error::Corrupt { what, path, .. }) => {
            assert_eq!(path, file.0);
            assert!(what.contains("ticket counter is at 0, behind it"), "{what}");
        }
        other => panic!("opened a corrupt body: {:?}", other.map(drop)),
    }
    assert!(Pub::open_or_create(&file.0, [0; W]).is_err());
}

/// `SharedSeqLockReader` maps the file read-only (`r--s` in
/// `/proc/self/maps`, where the `SharedSeqLock` writer's mapping is `rw-s`),
/// reads what the writer writes, and refuses a sequence left odd like `open`.
#[cfg(target_os = "linux")]
#[test]
fn seqlock_reader_maps_read_only() {
    let file = TempPath::new("seq-reader");
    // The creator's mapping shows the temporary's name (since removed), so
    // the writer compared against opens the file by its final name.
    drop(Seq::create(&file.0, [1; W]).unwrap());
    let w = Seq::open(&file.0).unwrap();
    let r = SharedSeqLockReader::<Value>::open(&file.0).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let perms: Vec<&str> = maps
        .lines()
        .filter(|l| l.ends_with(&*file.0.to_string_lossy()))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(
        perms.contains(&"r--s") && perms.contains(&"rw-s"),
        "{perms:?}"
    );
    w.write([2; W]);
    assert_eq!(
        r.read_versioned(),
        Versioned {
            value: [2; W],
            version: 1
        }
    );
    assert_eq!(
        r.try_read(),
        Ok(Versioned {
            value: [2; W],
            version: 1
        })
    );
    assert_eq!(
        r.read_timeout(Duration::from_millis(1)).map(|v| v.version),
        Ok(1)
    );
    assert_eq!(r.version(), 1);
    // A writer stopped mid-write (here: inside `update`) makes the reads
    // give up and a new reader refuse the file.
    thread::scope(|s| {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let w = &w;
        s.spawn(move || {
            w.update(|v| {
                let _ = wait.recv();
                v
            })
        });
        wait_until("the write to start", Duration::from_secs(10), || {
            r.try_read() == Err(ReadError::Interrupted)
        });
        assert_eq!(
            r.read_timeout(Duration::from_millis(5)),
            Err(ReadError::TimedOut)
        );
        assert!(matches!(
            SharedSeqLockReader::<Value>::open(&file.0),
            Err(Error::Corrupt { .. })
        ));
        drop(go);
    });
    assert_eq!(r.read_versioned().version, 2);
}

/// Overwrites every byte of `path` after its 24-byte header (magic, layout
/// version and hash) with `fill(i)`: damage done by other means to a file
/// that handles have open.
fn garble(path: &Path, fill: impl Fn(u64) -> u8) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    let bytes: Vec<u8> = (24..len).map(fill).collect();
    f.write_all_at(&bytes, 24).unwrap();
}

/// A byte for each offset of the file.
type Damage = Box<dyn Fn(u64) -> u8>;

/// The damage `garbled_files_never_panic_a_bounded_call` applies: all ones
/// (a ticket counter past the last ticket, an odd sequence), all zeroes but
/// the header, and pseudo-random bytes.
fn damages() -> Vec<(&'static str, Damage)> {
    let random = |seed: u64| {
        move |i: u64| {
            let x = (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (x ^ (x >> 29))
                .wrapping_mul(0xbf58_476d_1ce4_e5b9)
                .to_le_bytes()[7]
        }
    };
    vec![
        ("ones", Box::new(|_| 0xff)),
        ("zeroes", Box::new(|_| 0)),
        ("random 1", Box::new(random(1))),
        ("random 2", Box::new(random(2))),
    ]
}

/// Runs a bounded call on a garbled file: it must return, without a panic,
/// within `bound` (plus slack for a loaded machine). Prints what it returned.
fn bounded<R: std::fmt::Debug>(what: &str, bound: Duration, call: impl FnOnce() -> R) {
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
        .unwrap_or_else(|_| panic!("{what} panicked on a garbled file"));
    let took = t.elapsed();
    assert!(
        took < bound + Duration::from_secs(2),
        "{what} took {took:?} on a garbled file (bound {bound:?})"
    );
    println!("  {what}: {r:?} in {took:?}");
}

/// A file damaged after it was opened makes no bounded call panic or
/// overstay its bound: `try_*` return at once, `*_timeout` and `wait_newer`
/// by their timeouts, for every shared kind.
#[test]
fn garbled_files_never_panic_a_bounded_call() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let _watchdog = Watchdog::start("garbled_files_never_panic_a_bounded_call");
    let t = Duration::from_millis(50);
    let now = Duration::ZERO;
    for (name, fill) in damages() {
        let file = TempPath::new("garbled-pub");
        let p = Pub::create(&file.0, [1; W]).unwrap();
        garble(&file.0, &fill);
        let v = p.version();
        println!("{name}: Publisher at version {v}");
        bounded("try_read", now, || p.try_read());
        bounded("read_timeout", t, || p.read_timeout(t));
        bounded("wait_newer, nothing newer", t, || p.wait_newer(v, t));
        bounded("wait_newer, newer", t, || {
            p.wait_newer(v.wrapping_sub(1), t)
        });
        bounded("try_write", now, || p.try_write([2; W]));
        bounded("write_timeout", t, || p.write_timeout([2; W], t));

        let file = TempPath::new("garbled-seq");
        let s = Seq::create(&file.0, [1; W]).unwrap();
        garble(&file.0, &fill);
        let v = s.version();
        bounded("try_read", now, || s.try_read());
        bounded("read_timeout", t, || s.read_timeout(t));
        bounded("wait_newer, nothing newer", t, || s.wait_newer(v, t));
        bounded("wait_newer, newer", t, || {
            s.wait_newer(v.wrapping_sub(1), t)
        });
        bounded("try_write", now, || s.try_write([2; W]));
        bounded("write_timeout", t, || s.write_timeout([2; W], t));
        bounded("try_update", now, || s.try_update(|x| x));
        bounded("update_timeout", t, || s.update_timeout(|x| x, t));
        let r = SharedSeqLockReader::<Value>::open(&file.0);
        if let Ok(r) = r {
            bounded("read-only try_read", now, || r.try_read());
            bounded("read-only read_timeout", t, || r.read_timeout(t));
        }

        let file = TempPath::new("garbled-solo");
        let w = SoloW::create(&file.0, [1; W]).unwrap();
        let r = SoloR::open(&file.0).unwrap();
        garble(&file.0, &fill);
        let v = r.version();
        bounded("try_read", now, || r.try_read());
        bounded("read_timeout", t, || r.read_timeout(t));
        bounded("wait_newer, nothing newer", t, || r.wait_newer(v, t));
        bounded("wait_newer, newer", t, || {
            r.wait_newer(v.wrapping_sub(1), t)
        });
        drop(w);
    }
}
