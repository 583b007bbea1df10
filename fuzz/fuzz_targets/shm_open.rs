//! `shm` files damaged behind (or in) their header: random bytes, truncations,
//! bit flips and 8-byte writes into a file made by `create` (or a file of
//! random bytes), then `open` of `SharedPublisher`, `SharedSeqLock` and
//! `SharedSoloReader`, then, on an opened file, more damage (no truncation: a
//! mapped file that shrinks is a `SIGBUS` by design, see the `shm` docs) and
//! every bounded read (through `noclobber::Readable`, the handles' only read
//! side since 0.2) plus `Debug`. Every call must end in `Ok` or `Err` within
//! its bound: never a hang (libFuzzer's `-timeout`), never a crash or
//! undefined behaviour (AddressSanitizer), never a panic. A refused `open`'s
//! `shm::Error` must display and name the file.
#![no_main]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::shm::{Error, SharedPublisher, SharedSeqLock, SharedSoloReader, SharedSoloWriter};
use noclobber::Readable;

type Value = [u64; 3];
type Pub = SharedPublisher<Value, 3>;
type Seq = SharedSeqLock<Value>;
type SoloW = SharedSoloWriter<Value, 2>;
type SoloR = SharedSoloReader<Value, 2>;

/// What a bounded read may take, generously; the bounds asked for are 1 ms.
const BOUND: Duration = Duration::from_secs(2);

#[derive(Arbitrary, Debug)]
enum Kind {
    Publisher,
    SeqLock,
    Solo,
}

#[derive(Arbitrary, Debug)]
enum Start {
    /// A file made by `create`, after `publications` publications.
    Created { publications: u8 },
    /// A file of these bytes.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    Flip { at: u16, bit: u8 },
    Write { at: u16, bytes: [u8; 8] },
    Truncate { len: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    kind: Kind,
    start: Start,
    before_open: Vec<Damage>,
    after_open: Vec<Damage>,
}

fn path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("noclobber-fuzz-shm-open-{}", std::process::id()))
    })
}

fn damage(path: &Path, damage: &[Damage], truncate: bool) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = file.metadata().unwrap().len();
    for d in damage.iter().take(64) {
        match *d {
            // Inside the file only: writing past the end would grow it.
            Damage::Flip { at, bit } if u64::from(at) < len => {
                let mut b = [0u8];
                file.read_exact_at(&mut b, u64::from(at)).unwrap();
                b[0] ^= 1 << (bit % 8);
                file.write_all_at(&b, u64::from(at)).unwrap();
            }
            Damage::Write { at, bytes } if u64::from(at) + 8 <= len => {
                file.write_all_at(&bytes, u64::from(at)).unwrap();
            }
            Damage::Truncate { len: to } if truncate && u64::from(to) < len => {
                file.set_len(u64::from(to)).unwrap();
                return;
            }
            _ => {}
        }
    }
}

/// Runs `f`, which must return within `BOUND`.
fn bounded<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    assert!(start.elapsed() < BOUND, "{what} took {:?}", start.elapsed());
    r
}

/// Every bounded read of a handle. `try_read` is the one-attempt read 0.1
/// had twice (`try_read`, `try_read_versioned`).
fn read_all<R: Readable + std::fmt::Debug>(r: &R) {
    let _ = bounded("try_read", || r.try_read());
    let _ = bounded("read_timeout", || r.read_timeout(Duration::from_millis(1)));
    let _ = bounded("Debug", || format!("{r:?}"));
    let _ = bounded("version", || r.version());
}

/// The result of an `open` that must end within `BOUND`; a refusal must
/// format (its `Display` describes what the garbled file holds) and name the
/// file.
fn open<H>(path: &Path, f: impl FnOnce(&Path) -> Result<H, Error>) -> Option<H> {
    match bounded("open", || f(path)) {
        Ok(h) => Some(h),
        Err(e) => {
            let _ = bounded("Error::fmt", || (e.to_string(), format!("{e:?}")));
            assert_eq!(e.path(), path, "{e}");
            None
        }
    }
}

fuzz_target!(|input: Input| {
    let path = path();
    let _ = std::fs::remove_file(path);
    match &input.start {
        Start::Created { publications } => {
            let n = u64::from(*publications % 8);
            match input.kind {
                Kind::Publisher => {
                    let p = Pub::create(path, [1, 2, 3]).unwrap();
                    for i in 0..n {
                        p.write([i; 3]);
                    }
                }
                Kind::SeqLock => {
                    let s = Seq::create(path, [1, 2, 3]).unwrap();
                    for i in 0..n {
                        s.write([i; 3]);
                    }
                }
                Kind::Solo => {
                    let mut w = SoloW::create(path, [1, 2, 3]).unwrap();
                    for i in 0..n {
                        w.write([i; 3]);
                    }
                }
            }
        }
        Start::Raw(bytes) => std::fs::write(path, bytes).unwrap(),
    }
    damage(path, &input.before_open, true);
    match input.kind {
        Kind::Publisher => {
            if let Some(p) = open(path, |p| Pub::open(p)) {
                read_all(&p);
                damage(path, &input.after_open, false);
                read_all(&p);
            }
        }
        Kind::SeqLock => {
            if let Some(s) = open(path, |p| Seq::open(p)) {
                read_all(&s);
                damage(path, &input.after_open, false);
                read_all(&s);
            }
        }
        Kind::Solo => {
            if let Some(r) = open(path, |p| SoloR::open(p)) {
                read_all(&r);
                damage(path, &input.after_open, false);
                read_all(&r);
            }
        }
    }
    let _ = std::fs::remove_file(path);
});
