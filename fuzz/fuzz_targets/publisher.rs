//! `Publisher<T, SLOTS>` against a single-threaded model `(value, version)`,
//! with 2, 3, 4 and 8 slots and payloads of 0 to 64 bytes. Long op sequences
//! go round the ring many times. Every result is compared: values and versions.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::{Publisher, Versioned};
use noclobber_fuzz::{Abc, Payload, VersionSel, MAX_OPS};

#[derive(Arbitrary, Debug)]
enum Input {
    Unit2(Script<()>),
    U8x2(Script<u8>),
    U8x3(Script<u8>),
    U64x2(Script<u64>),
    U64x3(Script<u64>),
    Bytes9x3(Script<[u8; 9]>),
    Arr3x2(Script<[u64; 3]>),
    Arr3x3(Script<[u64; 3]>),
    Abc2(Script<Abc>),
    Abc3(Script<Abc>),
    Abc4(Script<Abc>),
    Arr8x8(Script<[u64; 8]>),
}

#[derive(Arbitrary, Debug)]
struct Script<T> {
    init: Init<T>,
    ops: Vec<Op<T>>,
}

#[derive(Arbitrary, Debug)]
enum Init<T> {
    New(T),
    Default,
}

#[derive(Arbitrary, Debug)]
enum Op<T> {
    /// `write` (0.1: `publish`).
    Write(T),
    /// `write_if` (0.1: `publish_if`).
    WriteIf {
        expected: VersionSel,
        value: T,
    },
    Read,
    ReadVersioned,
    Version,
    /// `wait_newer(version - back, timeout 0)`: the model value if that
    /// version is older, else `TimedOut`.
    WaitNewer(u8),
    /// `wait_newer_async(version - back)`, held across the ops that follow
    /// (`noclobber_fuzz::Waits`).
    WaitNewerAsync(u8),
    /// Drops the oldest held `wait_newer_async`.
    DropWait,
    Debug,
}

fuzz_target!(|input: Input| match input {
    Input::Unit2(s) => run::<_, 2>(s),
    Input::U8x2(s) => run::<_, 2>(s),
    Input::U8x3(s) => run::<_, 3>(s),
    Input::U64x2(s) => run::<_, 2>(s),
    Input::U64x3(s) => run::<_, 3>(s),
    Input::Bytes9x3(s) => run::<_, 3>(s),
    Input::Arr3x2(s) => run::<_, 2>(s),
    Input::Arr3x3(s) => run::<_, 3>(s),
    Input::Abc2(s) => run::<_, 2>(s),
    Input::Abc3(s) => run::<_, 3>(s),
    Input::Abc4(s) => run::<_, 4>(s),
    Input::Arr8x8(s) => run::<_, 8>(s),
});

fn run<T: Payload, const SLOTS: usize>(script: Script<T>) {
    let (publisher, mut model): (Publisher<T, SLOTS>, _) = match script.init {
        Init::New(v) => (
            Publisher::with_slots(v),
            Versioned {
                value: v,
                version: 0,
            },
        ),
        Init::Default => (
            Publisher::default(),
            Versioned {
                value: T::default(),
                version: 0,
            },
        ),
    };
    let mut waits = noclobber_fuzz::Waits::new();
    for op in script.ops.into_iter().take(MAX_OPS) {
        waits.check(model);
        match op {
            Op::Write(v) => {
                model = Versioned {
                    value: v,
                    version: model.version + 1,
                };
                assert_eq!(publisher.write(v), model.version);
            }
            Op::WriteIf { expected, value } => {
                let expected = expected.pick(model.version);
                let got = publisher.write_if(expected, value);
                if expected == model.version {
                    model = Versioned {
                        value,
                        version: model.version + 1,
                    };
                    assert_eq!(got, Ok(model.version));
                } else {
                    assert_eq!(got, Err(model));
                }
            }
            Op::Read => assert_eq!(publisher.read(), model.value),
            Op::ReadVersioned => assert_eq!(publisher.read_versioned(), model),
            Op::Version => assert_eq!(publisher.version(), model.version),
            Op::WaitNewerAsync(back) => waits.start(&publisher, model, back),
            Op::DropWait => waits.cancel(),
            Op::WaitNewer(back) => {
                let (seen, expected) = noclobber_fuzz::wait_newer_case(model, back);
                assert_eq!(publisher.wait_newer(seen, Duration::ZERO), expected);
            }
            Op::Debug => assert_eq!(
                format!("{publisher:?}"),
                format!(
                    "Publisher {{ value: {:?}, version: {}, slots: {SLOTS} }}",
                    model.value, model.version
                )
            ),
        }
    }
    waits.check(model);
    drop(waits);
    assert_eq!(publisher.read_versioned(), model);
    assert_eq!(publisher.into_inner(), model.value);
}
