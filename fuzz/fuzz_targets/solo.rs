//! `SoloWriter<T, SLOTS>` + `SoloReader` (one writer) against a single-threaded model
//! `(value, version)`, with 2, 3, 4 and 8 slots and payloads of 0 to 64 bytes;
//! long op sequences go round the ring many times and every result is
//! compared. The `Threaded` inputs publish their values from a writer thread
//! while the main thread reads: every value read must be the one published
//! under its version, and versions never go back.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::{ReadError, SoloWriter, Versioned};
use noclobber_fuzz::{mix, Abc, Payload, MAX_OPS};

#[derive(Arbitrary, Debug)]
enum Input {
    Unit2(Script<()>),
    U8x2(Script<u8>),
    U64x3(Script<u64>),
    Bytes9x2(Script<[u8; 9]>),
    Arr3x2(Script<[u64; 3]>),
    Abc4(Script<Abc>),
    Arr8x8(Script<[u64; 8]>),
    Threaded2(Vec<u64>),
    Threaded3(Vec<u64>),
}

#[derive(Arbitrary, Debug)]
struct Script<T> {
    init: T,
    ops: Vec<Op<T>>,
}

#[derive(Arbitrary, Debug)]
enum Op<T> {
    /// `write` (0.1: `publish`).
    Write(T),
    Update(u64),
    Read,
    ReadVersioned,
    /// `try_read` (0.1: `try_read_versioned`).
    TryRead,
    ReadTimeout,
    Version,
    /// `wait_newer(version - back, timeout 0)`: the model value if that
    /// version is older, else `TimedOut`.
    WaitNewer(u8),
    /// `wait_newer_async(version - back)`, held across the ops that follow
    /// (`noclobber_fuzz::Waits`).
    WaitNewerAsync(u8),
    /// Drops the oldest held `wait_newer_async`.
    DropWait,
    WriterRead,
    NewReader,
    Debug,
}

fuzz_target!(|input: Input| match input {
    Input::Unit2(s) => run::<_, 2>(s),
    Input::U8x2(s) => run::<_, 2>(s),
    Input::U64x3(s) => run::<_, 3>(s),
    Input::Bytes9x2(s) => run::<_, 2>(s),
    Input::Arr3x2(s) => run::<_, 2>(s),
    Input::Abc4(s) => run::<_, 4>(s),
    Input::Arr8x8(s) => run::<_, 8>(s),
    Input::Threaded2(values) => threaded::<2>(values),
    Input::Threaded3(values) => threaded::<3>(values),
});

fn run<T: Payload, const SLOTS: usize>(script: Script<T>) {
    let mut writer = SoloWriter::<T, SLOTS>::with_slots(script.init);
    let mut reader = writer.reader();
    let mut model = Versioned {
        value: script.init,
        version: 0,
    };
    let async_reader = writer.reader();
    let mut waits = noclobber_fuzz::Waits::new();
    for op in script.ops.into_iter().take(MAX_OPS) {
        waits.check(model);
        match op {
            Op::Write(v) => {
                model = Versioned {
                    value: v,
                    version: model.version + 1,
                };
                assert_eq!(writer.write(v), model.version);
            }
            Op::Update(k) => {
                let mut seen = None;
                let got = writer.update(|old| {
                    seen = Some(old);
                    mix(&old, k)
                });
                assert_eq!(seen, Some(model.value), "update saw another value");
                model = Versioned {
                    value: mix(&model.value, k),
                    version: model.version + 1,
                };
                assert_eq!(got, model);
            }
            Op::Read => assert_eq!(reader.read(), model.value),
            Op::ReadVersioned => assert_eq!(reader.read_versioned(), model),
            // No writer runs meanwhile: a bounded read can neither be lapped
            // nor time out.
            Op::TryRead => assert_eq!(reader.try_read(), Ok(model)),
            Op::ReadTimeout => assert_eq!(reader.read_timeout(Duration::ZERO), Ok(model)),
            Op::Version => assert_eq!(reader.version(), model.version),
            Op::WaitNewerAsync(back) => waits.start(&async_reader, model, back),
            Op::DropWait => waits.cancel(),
            Op::WaitNewer(back) => {
                let (seen, expected) = noclobber_fuzz::wait_newer_case(model, back);
                assert_eq!(reader.wait_newer(seen, Duration::ZERO), expected);
            }
            Op::WriterRead => assert_eq!(writer.read_versioned(), model),
            Op::NewReader => reader = writer.reader(),
            Op::Debug => assert_eq!(
                format!("{reader:?}"),
                format!(
                    "SoloReader {{ value: {:?}, version: {}, slots: {SLOTS} }}",
                    model.value, model.version
                )
            ),
        }
    }
    waits.check(model);
    drop(waits);
    drop(writer);
    assert_eq!(reader.read_versioned(), model);
}

fn threaded<const SLOTS: usize>(mut values: Vec<u64>) {
    values.truncate(MAX_OPS);
    // Version n carries `[values[n - 1], n]`; version 0 is `[0, 0]`.
    let mut writer = SoloWriter::<[u64; 2], SLOTS>::with_slots([0, 0]);
    let reader = writer.reader();
    let expected = |v: Versioned<[u64; 2]>| match v.version {
        0 => [0, 0],
        n => [values[n as usize - 1], n],
    };
    std::thread::scope(|s| {
        // Joined explicitly below, as in the `concurrent` target: LeakSanitizer
        // otherwise reports the thread's exit-time allocations as a leak.
        let publisher = s.spawn(|| {
            for (n, &x) in (1..).zip(&values) {
                assert_eq!(writer.write([x, n]), n);
            }
        });
        let mut last = 0;
        for i in 0..values.len() {
            let v = if i % 2 == 0 {
                reader.read_versioned()
            } else {
                match reader.try_read() {
                    Ok(v) => v,
                    Err(ReadError::Interrupted) => continue,
                    Err(e) => panic!("{e}"),
                }
            };
            assert_eq!(v.value, expected(v), "torn or mismatched read");
            assert!(v.version >= last, "version went back");
            last = v.version;
        }
        publisher.join().unwrap();
    });
    assert_eq!(reader.version(), values.len() as u64);
}
