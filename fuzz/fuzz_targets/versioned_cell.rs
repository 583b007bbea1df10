//! `VersionedCell<T>` against a single-threaded model `(value, version)`.
//!
//! Small `T` (`()`, `u8`, `u64`: one 128-bit word) and large `T` (`[u8; 9]`,
//! `[u64; 3]`, `Abc`, `[u64; 8]`: the tagged slot ring) are both driven. Every
//! result is compared with the model: values and versions. `swap`,
//! `fetch_update` and `checked_update` are checked against
//! `noclobber_fuzz::Model`.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use noclobber::{Versioned, VersionedCell};
use noclobber_fuzz::{accepts, mix, Abc, Init, Model, Payload, VersionSel, MAX_OPS};

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
    /// `read_versioned` (0.1: `load`).
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
    /// `write_if` (0.1: `compare_exchange`).
    WriteIf {
        expected: VersionSel,
        value: T,
    },
    Update {
        k: u64,
    },
    /// `checked_update` (0.1: `try_update`).
    CheckedUpdate {
        k: u64,
        modulus: u8,
    },
    /// `write` (0.1: `store`).
    Write(T),
    Debug,
    Swap(T),
    FetchUpdate {
        k: u64,
        modulus: u8,
    },
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
    let (cell, mut model) = script.init.build(VersionedCell::new);
    let mut waits = noclobber_fuzz::Waits::new();
    for op in script.ops.into_iter().take(MAX_OPS) {
        waits.check(model);
        match op {
            Op::ReadVersioned => assert_eq!(cell.read_versioned(), model),
            Op::Version => assert_eq!(cell.version(), model.version),
            Op::WaitNewerAsync(back) => waits.start(&cell, model, back),
            Op::DropWait => waits.cancel(),
            Op::WaitNewer(back) => {
                let (seen, expected) = noclobber_fuzz::wait_newer_case(model, back);
                assert_eq!(cell.wait_newer(seen, Duration::ZERO), expected);
            }
            Op::WriteIf { expected, value } => {
                let expected = expected.pick(model.version);
                let got = cell.write_if(expected, value);
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
            Op::Update { k } => {
                let mut calls = 0;
                let got = cell.update(|old| {
                    calls += 1;
                    // Nobody else writes: every attempt sees the model's value.
                    assert_eq!(old, model.value);
                    mix(&old, k)
                });
                assert!(calls >= 1);
                model = Versioned {
                    value: mix(&model.value, k),
                    version: model.version + 1,
                };
                assert_eq!(got, model);
            }
            Op::CheckedUpdate { k, modulus } => {
                let mut calls = 0;
                let got = cell.checked_update(|old| {
                    calls += 1;
                    assert_eq!(old, model.value);
                    accepts(&old, modulus).then(|| mix(&old, k))
                });
                assert!(calls >= 1);
                if accepts(&model.value, modulus) {
                    model = Versioned {
                        value: mix(&model.value, k),
                        version: model.version + 1,
                    };
                    assert_eq!(got, Ok(model));
                } else {
                    assert_eq!(got, Err(model));
                }
            }
            Op::Write(v) => {
                model = Versioned {
                    value: v,
                    version: model.version + 1,
                };
                assert_eq!(cell.write(v), model.version);
            }
            Op::Swap(v) => {
                let mut m = Model::new(model);
                assert_eq!(cell.swap(v), m.swap(v));
                model = m.now;
            }
            Op::FetchUpdate { k, modulus } => {
                let mut calls = 0;
                let got = cell.fetch_update(|old| {
                    calls += 1;
                    assert_eq!(old, model.value);
                    accepts(&old, modulus).then(|| mix(&old, k))
                });
                assert!(calls >= 1);
                let mut m = Model::new(model);
                let want = m.fetch_update(|old| accepts(&old, modulus).then(|| mix(&old, k)));
                assert_eq!(got, want);
                model = m.now;
                assert_eq!(cell.read_versioned(), model);
            }
            Op::Debug => assert_eq!(
                format!("{cell:?}"),
                format!(
                    "VersionedCell {{ value: {:?}, version: {} }}",
                    model.value, model.version
                )
            ),
        }
    }
    assert_eq!(cell.read_versioned(), model);
    waits.check(model);
    drop(waits);
    assert_eq!(cell.into_inner(), model.value);
}
