//! `SeqLock<T>` against a single-threaded model `(value, version)`, for payloads
//! of 0, 1, 8, 9, 16, 24 and 64 bytes. Every result is compared: values and
//! versions. Single-threaded, `try_read` must never report a write in progress
//! (`ReadError::Interrupted`).
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::{SeqLock, Versioned};
use noclobber_fuzz::{mix, Abc, Init, Payload, MAX_OPS};

#[derive(Arbitrary, Debug)]
enum Input {
    Unit(Script<()>),
    U8(Script<u8>),
    U64(Script<u64>),
    Bytes9(Script<[u8; 9]>),
    Arr3(Script<[u64; 3]>),
    Abc(Script<Abc>),
    Arr8(Script<[u64; 8]>),
}

#[derive(Arbitrary, Debug)]
struct Script<T> {
    init: Init<T>,
    ops: Vec<Op<T>>,
}

#[derive(Arbitrary, Debug)]
enum Op<T> {
    Read,
    ReadVersioned,
    /// `try_read`, its value (0.1: `try_read`, `Option<T>`).
    TryRead,
    /// `try_read`, value and version (0.1: `try_read_versioned`).
    TryReadVersioned,
    Version,
    /// `wait_newer(version - back, timeout 0)`: the model value if that
    /// version is older, else `TimedOut`.
    WaitNewer(u8),
    /// `wait_newer_async(version - back)`, held across the ops that follow
    /// (`noclobber_fuzz::Waits`).
    WaitNewerAsync(u8),
    /// Drops the oldest held `wait_newer_async`.
    DropWait,
    Write(T),
    Update {
        k: u64,
    },
    Debug,
}

fuzz_target!(|input: Input| match input {
    Input::Unit(s) => run(s),
    Input::U8(s) => run(s),
    Input::U64(s) => run(s),
    Input::Bytes9(s) => run(s),
    Input::Arr3(s) => run(s),
    Input::Abc(s) => run(s),
    Input::Arr8(s) => run(s),
});

fn run<T: Payload>(script: Script<T>) {
    let (lock, mut model) = script.init.build(SeqLock::new);
    let mut waits = noclobber_fuzz::Waits::new();
    for op in script.ops.into_iter().take(MAX_OPS) {
        waits.check(model);
        match op {
            Op::Read => assert_eq!(lock.read(), model.value),
            Op::ReadVersioned => assert_eq!(lock.read_versioned(), model),
            Op::TryRead => assert_eq!(lock.try_read().map(|v| v.value), Ok(model.value)),
            Op::TryReadVersioned => assert_eq!(lock.try_read(), Ok(model)),
            Op::Version => assert_eq!(lock.version(), model.version),
            Op::WaitNewerAsync(back) => waits.start(&lock, model, back),
            Op::DropWait => waits.cancel(),
            Op::WaitNewer(back) => {
                let (seen, expected) = noclobber_fuzz::wait_newer_case(model, back);
                assert_eq!(lock.wait_newer(seen, Duration::ZERO), expected);
            }
            Op::Write(v) => {
                model = Versioned {
                    value: v,
                    version: model.version + 1,
                };
                assert_eq!(lock.write(v), model.version);
            }
            Op::Update { k } => {
                let mut calls = 0;
                let got = lock.update(|old| {
                    calls += 1;
                    assert_eq!(old, model.value);
                    mix(&old, k)
                });
                assert_eq!(calls, 1, "SeqLock::update runs its FnOnce exactly once");
                model = Versioned {
                    value: mix(&model.value, k),
                    version: model.version + 1,
                };
                assert_eq!(got, model);
            }
            Op::Debug => assert_eq!(
                format!("{lock:?}"),
                format!(
                    "SeqLock {{ value: {:?}, version: {} }}",
                    model.value, model.version
                )
            ),
        }
    }
    waits.check(model);
    drop(waits);
    assert_eq!(lock.read_versioned(), model);
    assert_eq!(lock.into_inner(), model.value);
}
