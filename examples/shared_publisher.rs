//! A `Publisher` shared by processes: a writer, a reader that polls and a
//! reader that waits for each new version (`wait_newer`, a futex in the file)
//! over one file; the writer is killed, the readers carry on (the waiting one
//! sleeps and times out until a writer is back), a new writer opens the file and
//! carries on.
//!
//! ```text
//! cargo run --release --features shm --example shared_publisher
//! ```
//!
//! The example re-executes itself with a role: `writer PATH`, `reader NAME PATH`
//! or `waiter NAME PATH`
//! (run those yourself, in other terminals, against a file made by the demo or by
//! `create PATH`).
use std::env;
use std::path::Path;
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::{Duration, Instant};

use noclobber::bytemuck::{Pod, Zeroable};
use noclobber::shm::SharedPublisher;
use noclobber::Readable;

/// What the writers publish. `check` lets readers verify a value is whole.
/// `Pod` (any bytes are a valid value) is what a type shared between
/// processes needs; derived through noclobber's re-export of bytemuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[bytemuck(crate = "noclobber::bytemuck")]
#[repr(C)]
struct Reading {
    counter: u64,
    writer_pid: u64,
    check: u64,
}

impl Reading {
    fn new(counter: u64, writer_pid: u64) -> Reading {
        let check = counter.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ writer_pid;
        Reading {
            counter,
            writer_pid,
            check,
        }
    }

    fn is_whole(&self) -> bool {
        *self == Reading::new(self.counter, self.writer_pid)
    }
}

/// Three slots: a writer killed mid-publication does not stop the next one.
type Shared = SharedPublisher<Reading, 3>;

/// Roles give up after this, in case the demo process is gone.
const LIFETIME: Duration = Duration::from_secs(30);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => demo(),
        ["create", path] => {
            Shared::create(path, Reading::new(0, 0))?;
            Ok(())
        }
        ["writer", path] => writer(Path::new(path)),
        ["reader", name, path] => reader(name, Path::new(path)),
        ["waiter", name, path] => waiter(name, Path::new(path)),
        _ => Err(
            "usage: shared_publisher [create PATH | writer PATH | reader NAME PATH | waiter NAME PATH]"
                .into(),
        ),
    }
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new("/dev/shm");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        env::temp_dir()
    };
    let path = dir.join(format!("noclobber-demo-{}", std::process::id()));
    let shared = Shared::create(&path, Reading::new(0, 0))?;
    println!("[demo] created {}", path.display());

    let mut writer = spawn(&["writer"], &path)?;
    let mut readers = [
        spawn(&["reader", "A"], &path)?,
        spawn(&["waiter", "B"], &path)?,
    ];
    sleep(Duration::from_millis(1000));
    // `SIGKILL` on Unix, `TerminateProcess` on Windows.
    println!("[demo] kill writer {}", writer.id());
    writer.kill()?;
    writer.wait()?;
    sleep(Duration::from_millis(1000));
    let mut writer = spawn(&["writer"], &path)?;
    println!("[demo] started a new writer {}", writer.id());
    sleep(Duration::from_millis(1000));
    for child in readers.iter_mut().chain([&mut writer]) {
        child.kill()?;
        child.wait()?;
    }
    // Unmapped first: Windows deletes no mapped file.
    drop(shared);
    std::fs::remove_file(&path)?;
    println!("[demo] done, removed {}", path.display());
    Ok(())
}

fn spawn(role: &[&str], path: &Path) -> std::io::Result<Child> {
    Command::new(env::current_exe()?)
        .args(role)
        .arg(path)
        .spawn()
}

/// Publishes as fast as it can, continuing from the counter it finds.
fn writer(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let shared = Shared::open(path)?;
    let pid = u64::from(std::process::id());
    let start = shared.read_versioned();
    println!("[writer {pid}] opened at version {}", start.version);
    let (t, mut report) = (Instant::now(), Duration::ZERO);
    let mut counter = start.value.counter;
    while t.elapsed() < LIFETIME {
        counter += 1;
        let version = shared.write(Reading::new(counter, pid));
        if t.elapsed() >= report {
            println!("[writer {pid}] published version {version}");
            report += Duration::from_millis(250);
        }
    }
    Ok(())
}

/// Reads every millisecond, checks each value, prints four times a second.
fn reader(name: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let shared = Shared::open(path)?;
    let (t, mut report) = (Instant::now(), Duration::ZERO);
    let (mut reads, mut slowest) = (0u64, Duration::ZERO);
    while t.elapsed() < LIFETIME {
        let r = Instant::now();
        let v = shared.read_versioned();
        slowest = slowest.max(r.elapsed());
        reads += 1;
        assert!(v.value.is_whole(), "torn value {v:?}");
        if t.elapsed() >= report {
            let Reading {
                counter,
                writer_pid,
                ..
            } = v.value;
            println!(
                "  [reader {name}] version {:>9}  counter {counter:>9}  from writer {writer_pid:>6}  \
                 ({reads} reads, slowest {slowest:?})",
                v.version
            );
            report += Duration::from_millis(250);
            (reads, slowest) = (0, Duration::ZERO);
        }
        sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Waits for each version newer than the last one it saw (no polling: the
/// process sleeps until the writer wakes it), checks each value, prints four
/// times a second, and says when a wait timed out (no writer publishing).
fn waiter(name: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let shared = Shared::open(path)?;
    let (t, mut report) = (Instant::now(), Duration::ZERO);
    let (mut wakes, mut seen) = (0u64, shared.version());
    while t.elapsed() < LIFETIME {
        match shared.wait_newer(seen, Duration::from_millis(250)) {
            Ok(v) => {
                assert!(v.value.is_whole() && v.version > seen, "bad value {v:?}");
                seen = v.version;
                wakes += 1;
            }
            Err(e) => {
                println!("  [waiter {name}] nothing newer than version {seen} for 250 ms ({e})")
            }
        }
        if t.elapsed() >= report {
            println!("  [waiter {name}] version {seen:>9}  ({wakes} waits returned a newer value)");
            report += Duration::from_millis(250);
            wakes = 0;
        }
    }
    Ok(())
}
