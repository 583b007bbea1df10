//! Child processes for the Windows process tests (`tests/shm_windows.rs`,
//! which includes this with `#[path = "common/windows_process.rs"] mod
//! process;`): the test binary re-executed with a role, suspended with
//! `NtSuspendProcess` and terminated with `TerminateProcess`; temporary
//! paths, a seeded generator, a watchdog.

use std::env;
use std::os::windows::io::{AsRawHandle, RawHandle};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The child's role, and the file it works on.
pub const ROLE: &str = "NOCLOBBER_SHM_ROLE";
pub const FILE: &str = "NOCLOBBER_SHM_FILE";

#[link(name = "ntdll")]
extern "system" {
    /// Suspends every thread of a process (undocumented, stable since
    /// Windows XP; Wine implements it). Needs `PROCESS_SUSPEND_RESUME`,
    /// which the handle `CreateProcess` returns has.
    pub fn NtSuspendProcess(process: RawHandle) -> i32;
    pub fn NtResumeProcess(process: RawHandle) -> i32;
}

/// `GetCurrentProcess()`: the pseudo-handle of the calling process.
pub const THIS_PROCESS: RawHandle = -1isize as RawHandle;

/// Wall-clock time in ns since the epoch.
pub fn now_ns() -> u64 {
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    t.unwrap().as_nanos() as u64
}

/// A child process, terminated and waited for when dropped.
pub struct Child(pub std::process::Child);

impl Child {
    fn command(role: &str, path: &Path) -> Command {
        let mut c = Command::new(env::current_exe().unwrap());
        c.args(["child_role", "--exact", "--nocapture", "--test-threads=1"])
            .arg("-q")
            .env(ROLE, role)
            .env(FILE, path);
        c
    }

    pub fn spawn(role: &str, path: &Path) -> Child {
        let child = Child::command(role, path).stdout(Stdio::null()).spawn();
        Child(child.unwrap())
    }

    /// A child whose stdout lines arrive on the returned channel.
    pub fn spawn_piped(role: &str, path: &Path) -> (Child, std::sync::mpsc::Receiver<String>) {
        use std::io::BufRead;
        let mut child = Child::command(role, path)
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

    /// Suspends every thread of the child (`NtSuspendProcess`).
    pub fn suspend(&self) {
        // SAFETY: a process handle with every right, open while `self` lives.
        assert_eq!(unsafe { NtSuspendProcess(self.0.as_raw_handle()) }, 0);
    }

    pub fn resume(&self) {
        // SAFETY: as in `suspend`.
        assert_eq!(unsafe { NtResumeProcess(self.0.as_raw_handle()) }, 0);
    }

    /// `TerminateProcess`, then waits until the process has ended.
    pub fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A path in the temp dir, removed when dropped (by then unmapped: Windows
/// deletes no mapped file).
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(name: &str) -> TempPath {
        let name = format!("noclobber-shm-test-{}-{name}", std::process::id());
        let path = env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// xorshift64*, seeded from the clock or `NOCLOBBER_SHM_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn new() -> Rng {
        let seed = env::var("NOCLOBBER_SHM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(now_ns() | 1);
        println!("NOCLOBBER_SHM_SEED={seed}");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }
}

/// Aborts the test process if a test hangs.
pub struct Watchdog(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl Watchdog {
    pub fn start(name: &'static str, limit: Duration) -> Watchdog {
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

pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// The next line from a child that starts with `word`, within `timeout`.
pub fn next_line(rx: &std::sync::mpsc::Receiver<String>, word: &str, timeout: Duration) -> String {
    let t = Instant::now();
    loop {
        match rx.recv_timeout(timeout.saturating_sub(t.elapsed())) {
            Ok(line) if line.starts_with(word) => return line,
            Ok(_) => {}
            Err(e) => panic!("no {word:?} line within {timeout:?}: {e}"),
        }
    }
}

pub fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}
