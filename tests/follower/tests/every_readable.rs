//! The one generic [`follow`] over every readable type and handle of
//! noclobber: in process `VersionedCell`, `SeqLock`, `Publisher`,
//! `SoloWriter`, `SoloReader`, `&Publisher`, `Arc<SeqLock>` and a
//! `Box<dyn Readable>`; in shared files (in a temporary directory)
//! `SharedPublisher`, `SharedSeqLock`, `SharedSeqLockReader`,
//! `SharedSoloWriter` and `SharedSoloReader`.
//!
//! Each object starts at `quote(0)` and a writer thread publishes `quote(1)`,
//! ..., `quote(LAST)`, each `write` returning its version. The follower must
//! see versions only increasing, each value whole and the one of its version,
//! and end at `quote(LAST)`: having reached it, or (single writer only) with
//! the writer gone after it.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use noclobber::{Publisher, Readable, SeqLock, SoloWriter, Versioned, VersionedCell};
use noclobber_follower::{follow, quote, End, Followed, Quote};

/// The writers publish versions `1..=LAST`.
const LAST: u64 = 2000;
/// A follower that sees nothing newer for this long gives up (and the test
/// fails): only a bound against a hang.
const IDLE: Duration = Duration::from_secs(10);

/// Writes `quote(1)` to `quote(last)` through `write`, checking that each
/// write returns its version, with a short pause every 16 writes so that
/// followers (also the polling `SharedSeqLockReader`) see several versions.
fn publish(last: u64, mut write: impl FnMut(Quote) -> u64) {
    for n in 1..=last {
        assert_eq!(write(quote(n)), n, "a write returned another version");
        if n % 16 == 0 {
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Runs [`follow`] over `source` towards `target` on one thread while
/// `writer` runs on another, both released together.
fn follow_while<R>(source: &R, target: u64, writer: impl FnOnce() + Send) -> Followed
where
    R: Readable<Value = Quote> + Sync,
{
    let start = Barrier::new(2);
    thread::scope(|s| {
        let follower = s.spawn(|| {
            start.wait();
            follow(source, target, IDLE).unwrap()
        });
        start.wait();
        writer();
        follower.join().unwrap()
    })
}

/// Versions only increase, every value is whole and the one of its version,
/// the last one seen is `quote(last)` at version `last`, and the follow ended
/// as `end`.
#[track_caller]
fn verify(what: &str, followed: &Followed, last: u64, end: End) {
    let seen = &followed.seen;
    for pair in seen.windows(2) {
        assert!(
            pair[0].version < pair[1].version,
            "{what}: version {} after {}",
            pair[1].version,
            pair[0].version
        );
    }
    for v in seen {
        assert_eq!(
            v.value,
            quote(v.version),
            "{what}: torn or foreign value at version {}",
            v.version
        );
    }
    assert_eq!(
        seen.last(),
        Some(&Versioned {
            value: quote(last),
            version: last
        }),
        "{what}: the last value seen"
    );
    assert_eq!(followed.end, end, "{what}: how the follow ended");
}

/// [`verify`], and prints what the follower saw.
#[track_caller]
fn check(what: &str, followed: &Followed, last: u64, end: End) {
    verify(what, followed, last, end);
    println!(
        "{what}: {} values seen, versions {} to {last}, {:?}",
        followed.seen.len(),
        followed.seen[0].version,
        followed.end
    );
}

#[test]
fn versioned_cell() {
    let cell = VersionedCell::new(quote(0));
    let followed = follow_while(&cell, LAST, || publish(LAST, |q| cell.write(q)));
    check("VersionedCell", &followed, LAST, End::Reached);
}

#[test]
fn seqlock() {
    let lock = SeqLock::new(quote(0));
    let followed = follow_while(&lock, LAST, || publish(LAST, |q| lock.write(q)));
    check("SeqLock", &followed, LAST, End::Reached);
}

#[test]
fn publisher() {
    let latest = Publisher::new(quote(0));
    let followed = follow_while(&latest, LAST, || publish(LAST, |q| latest.write(q)));
    check("Publisher", &followed, LAST, End::Reached);
}

#[test]
fn publisher_by_reference() {
    let latest = Publisher::new(quote(0));
    let by_ref: &Publisher<Quote> = &latest;
    let followed = follow_while(&by_ref, LAST, || publish(LAST, |q| latest.write(q)));
    check("&Publisher", &followed, LAST, End::Reached);
}

#[test]
fn arc_seqlock() {
    let lock = Arc::new(SeqLock::new(quote(0)));
    let writer = Arc::clone(&lock);
    let followed = follow_while(&lock, LAST, move || publish(LAST, |q| writer.write(q)));
    check("Arc<SeqLock>", &followed, LAST, End::Reached);
}

#[test]
fn boxed_trait_object() {
    let latest = Publisher::new(quote(0));
    let boxed: Box<dyn Readable<Value = Quote, Corrupt = std::convert::Infallible> + Sync + '_> =
        Box::new(&latest);
    let followed = follow_while(&boxed, LAST, || publish(LAST, |q| latest.write(q)));
    check("Box<dyn Readable>", &followed, LAST, End::Reached);
}

/// The writer publishes the whole sequence, then is dropped.
#[test]
fn solo_reader() {
    let (mut writer, reader) = SoloWriter::channel(quote(0));
    let followed = follow_while(&reader, LAST, move || {
        publish(LAST, |q| writer.write(q));
        drop(writer);
    });
    check("SoloReader", &followed, LAST, End::Reached);
}

/// The writer is dropped halfway: the follower gets the last value, then
/// `Closed`.
#[test]
fn solo_reader_writer_gone() {
    let (mut writer, reader) = SoloWriter::channel(quote(0));
    let half = LAST / 2;
    let followed = follow_while(&reader, LAST, move || {
        publish(half, |q| writer.write(q));
        drop(writer);
    });
    check(
        "SoloReader, writer dropped",
        &followed,
        half,
        End::WriterGone,
    );
    assert!(reader.is_closed());
}

/// A single writer writes through `&mut self`, so no other thread can read
/// through the writer while it writes: the writer thread follows its own
/// handle between its writes (each follow finds the version just written),
/// then past the end, where nothing newer comes and the writer is not gone
/// (it is the writer): the follow ends idle.
fn follow_own_writes<W: Readable<Value = Quote>>(
    what: &str,
    writer: &mut W,
    mut write: impl FnMut(&mut W, Quote) -> u64,
) {
    for n in 1..=LAST {
        assert_eq!(write(writer, quote(n)), n);
        if n % 100 == 0 {
            let followed = follow(&*writer, n, IDLE).unwrap();
            verify(what, &followed, n, End::Reached);
            assert_eq!(followed.seen.len(), 1);
        }
    }
    let short = Duration::from_millis(20);
    let followed = follow(&*writer, LAST + 1, short).unwrap();
    check(what, &followed, LAST, End::Idle);
    assert!(!writer.is_closed());
}

#[test]
fn solo_writer() {
    let mut writer = SoloWriter::new(quote(0));
    thread::spawn(move || {
        follow_own_writes("SoloWriter", &mut writer, |w, q| w.write(q));
    })
    .join()
    .unwrap();
}

#[cfg(unix)]
mod shared {
    use std::path::PathBuf;

    use noclobber::shm::{SharedPublisher, SharedSeqLock, SharedSoloReader, SharedSoloWriter};

    use super::*;

    /// A fresh directory under the temporary directory, removed with its
    /// files when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("noclobber-follower-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self) -> PathBuf {
            self.0.join("quote")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn shared_publisher() {
        let dir = TempDir::new("publisher");
        let reader = SharedPublisher::<Quote>::create(dir.file(), quote(0)).unwrap();
        let writer = SharedPublisher::<Quote>::open(dir.file()).unwrap();
        let followed = follow_while(&reader, LAST, || publish(LAST, |q| writer.write(q)));
        check("SharedPublisher", &followed, LAST, End::Reached);
    }

    #[test]
    fn shared_seqlock() {
        let dir = TempDir::new("seqlock");
        let reader = SharedSeqLock::<Quote>::create(dir.file(), quote(0)).unwrap();
        let writer = SharedSeqLock::<Quote>::open(dir.file()).unwrap();
        let followed = follow_while(&reader, LAST, || publish(LAST, |q| writer.write(q)));
        check("SharedSeqLock", &followed, LAST, End::Reached);
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn shared_seqlock_reader() {
        use noclobber::shm::SharedSeqLockReader;
        let dir = TempDir::new("seqlock-reader");
        let writer = SharedSeqLock::<Quote>::create(dir.file(), quote(0)).unwrap();
        let reader = SharedSeqLockReader::<Quote>::open(dir.file()).unwrap();
        let followed = follow_while(&reader, LAST, || publish(LAST, |q| writer.write(q)));
        check("SharedSeqLockReader", &followed, LAST, End::Reached);
    }

    /// The writer publishes the whole sequence, then drops its handle.
    #[test]
    fn shared_solo_reader() {
        let dir = TempDir::new("solo-reader");
        let mut writer = SharedSoloWriter::<Quote>::create(dir.file(), quote(0)).unwrap();
        let reader = SharedSoloReader::<Quote>::open(dir.file()).unwrap();
        let followed = follow_while(&reader, LAST, move || {
            publish(LAST, |q| writer.write(q));
            drop(writer);
        });
        check("SharedSoloReader", &followed, LAST, End::Reached);
    }

    /// The writer drops its handle halfway: the follower gets the last
    /// value, then `Closed`.
    #[test]
    fn shared_solo_reader_writer_gone() {
        let dir = TempDir::new("solo-reader-gone");
        let mut writer = SharedSoloWriter::<Quote>::create(dir.file(), quote(0)).unwrap();
        let reader = SharedSoloReader::<Quote>::open(dir.file()).unwrap();
        let half = LAST / 2;
        let followed = follow_while(&reader, LAST, move || {
            publish(half, |q| writer.write(q));
            drop(writer);
        });
        check(
            "SharedSoloReader, writer dropped",
            &followed,
            half,
            End::WriterGone,
        );
        assert!(reader.is_closed());
    }

    #[test]
    fn shared_solo_writer() {
        let dir = TempDir::new("solo-writer");
        let mut writer = SharedSoloWriter::<Quote>::create(dir.file(), quote(0)).unwrap();
        thread::spawn(move || {
            follow_own_writes("SharedSoloWriter", &mut writer, |w, q| w.write(q));
        })
        .join()
        .unwrap();
    }
}
