//! Shared pieces of the `noclobber` fuzz targets: payload types of several
//! sizes, deterministic value transformations for `update` closures, and
//! `arbitrary` selectors that bias the fuzzer towards interesting versions,
//! deltas and shard counts.

use std::fmt::Debug;
use std::hash::Hash;

use arbitrary::Arbitrary;
use bytemuck::NoUninit;
use noclobber::counter::MAX_SHARDS;
use noclobber::Versioned;

/// A `wait_newer` call for the model at `now` (timeout 0): the version it
/// passes as seen (`back` versions behind, 0 to 2) and what it must return,
/// the current value if that is newer, else `TimedOut` (the objects these
/// targets wait on are never closed while they wait).
pub fn wait_newer_case<T: Copy>(
    now: Versioned<T>,
    back: u8,
) -> (u64, Result<Versioned<T>, noclobber::WaitError>) {
    let seen = now.version.saturating_sub(u64::from(back % 3));
    let expected = if seen < now.version {
        Ok(now)
    } else {
        Err(noclobber::WaitError::TimedOut)
    };
    (seen, expected)
}

/// Upper bound on the operations taken from one input, so that a single input
/// stays fast even with 65536 counter shards.
pub const MAX_OPS: usize = 256;

/// A 16-byte struct without padding: two words, the large-`T` path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Arbitrary, NoUninit)]
#[repr(C)]
pub struct Abc {
    pub a: u32,
    pub b: u32,
    pub c: u64,
}

/// How a fuzz script builds its primitive: `new(value)`, `Default` or
/// `From<value>`.
#[derive(Arbitrary, Debug)]
pub enum Init<T> {
    New(T),
    Default,
    From(T),
}

impl<T: Payload> Init<T> {
    /// The primitive, built the chosen way, and the sequential model it starts
    /// as: its value at version 0.
    pub fn build<P: Default + From<T>>(self, new: impl FnOnce(T) -> P) -> (P, Versioned<T>) {
        let (primitive, value) = match self {
            Init::New(v) => (new(v), v),
            Init::Default => (P::default(), T::default()),
            Init::From(v) => (P::from(v), v),
        };
        (primitive, Versioned { value, version: 0 })
    }
}

/// The sequential model of a `VersionedCell` / `Publisher`: a value and a
/// version that goes up by one with every write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Model<T> {
    pub now: Versioned<T>,
}

impl<T: Copy> Model<T> {
    pub fn new(now: Versioned<T>) -> Self {
        Model { now }
    }

    /// Writes `value`; returns the new version (`write`).
    pub fn write(&mut self, value: T) -> u64 {
        self.swap(value).version + 1
    }

    /// Writes `value`; returns what it replaced (`VersionedCell::swap`).
    pub fn swap(&mut self, value: T) -> Versioned<T> {
        let previous = self.now;
        self.now = Versioned {
            value,
            version: previous.version + 1,
        };
        previous
    }

    /// `VersionedCell::fetch_update`: `Ok(previous)` after writing `f`'s
    /// value, or `Err(current)` if `f` declines.
    pub fn fetch_update(
        &mut self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        match f(self.now.value) {
            Some(value) => Ok(self.swap(value)),
            None => Err(self.now),
        }
    }

    /// `VersionedCell::checked_update`: `Ok(committed)` or `Err(current)`.
    pub fn checked_update(
        &mut self,
        f: impl FnOnce(T) -> Option<T>,
    ) -> Result<Versioned<T>, Versioned<T>> {
        self.fetch_update(f).map(|_| self.now)
    }
}

/// A value type the fuzz targets can store: plain data, comparable, and
/// constructible from a 64-bit seed.
pub trait Payload:
    NoUninit + for<'a> Arbitrary<'a> + Copy + Eq + Hash + Debug + Default + Send + Sync + 'static
{
    /// A value spread over every word of the type from `seed`. For types of at
    /// least 8 bytes it is injective and [`Payload::seed_of`] inverts it.
    fn from_seed(seed: u64) -> Self;

    /// `Some(seed)` if `self == from_seed(seed)`; `None` for a value no
    /// `from_seed` produced (e.g. a torn mix of two values).
    fn seed_of(&self) -> Option<u64>;
}

impl Payload for () {
    fn from_seed(_: u64) -> Self {}
    fn seed_of(&self) -> Option<u64> {
        Some(0)
    }
}

impl Payload for u8 {
    fn from_seed(seed: u64) -> Self {
        seed as u8
    }
    fn seed_of(&self) -> Option<u64> {
        Some(u64::from(*self))
    }
}

impl Payload for u64 {
    fn from_seed(seed: u64) -> Self {
        seed
    }
    fn seed_of(&self) -> Option<u64> {
        Some(*self)
    }
}

/// 9 bytes: two words, the second mostly tail padding inside the crate.
impl Payload for [u8; 9] {
    fn from_seed(seed: u64) -> Self {
        let b = seed.to_le_bytes();
        [
            b[0],
            b[1],
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
            b[7],
            b.iter().fold(0x5a, |x, y| x ^ y),
        ]
    }
    fn seed_of(&self) -> Option<u64> {
        let seed = u64::from_le_bytes(self[..8].try_into().unwrap());
        (Self::from_seed(seed) == *self).then_some(seed)
    }
}

impl Payload for [u64; 3] {
    fn from_seed(seed: u64) -> Self {
        [seed, !seed, seed.rotate_left(23) ^ 0x9e37_79b9_7f4a_7c15]
    }
    fn seed_of(&self) -> Option<u64> {
        (Self::from_seed(self[0]) == *self).then_some(self[0])
    }
}

impl Payload for [u64; 8] {
    fn from_seed(seed: u64) -> Self {
        core::array::from_fn(|i| seed.rotate_left(8 * i as u32) ^ (i as u64))
    }
    fn seed_of(&self) -> Option<u64> {
        (Self::from_seed(self[0]) == *self).then_some(self[0])
    }
}

impl Payload for Abc {
    fn from_seed(seed: u64) -> Self {
        Abc {
            a: seed as u32,
            b: (seed >> 32) as u32,
            c: seed.rotate_left(17) ^ 0xdead_beef_cafe_f00d,
        }
    }
    fn seed_of(&self) -> Option<u64> {
        let seed = u64::from(self.a) | (u64::from(self.b) << 32);
        (Self::from_seed(seed) == *self).then_some(seed)
    }
}

/// FNV-1a over the bytes of a value.
pub fn digest<T: NoUninit>(value: &T) -> u64 {
    bytemuck::bytes_of(value)
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The new value an `update` closure computes from the old one: depends on the
/// old value, so a closure handed the wrong value produces a different result.
pub fn mix<T: Payload>(old: &T, k: u64) -> T {
    T::from_seed(digest(old) ^ k.rotate_left(29))
}

/// Whether a `checked_update` / `fetch_update` closure accepts `old`
/// (`modulus` 0: never, 1: always).
pub fn accepts<T: Payload>(old: &T, modulus: u8) -> bool {
    match modulus {
        0 => false,
        1 => true,
        m => !digest(old).is_multiple_of(u64::from(m)),
    }
}

/// The version passed to `write_if`, relative to the version the model
/// holds.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum VersionSel {
    /// The right version.
    Current,
    /// `current - 1 - n` (wrapping: from version 0 this is near `u64::MAX`).
    Stale(u8),
    /// `current + 1 + n`.
    Ahead(u8),
    Zero,
    Max,
    Raw(u64),
}

impl VersionSel {
    pub fn pick(self, current: u64) -> u64 {
        match self {
            VersionSel::Current => current,
            VersionSel::Stale(n) => current.wrapping_sub(1 + u64::from(n)),
            VersionSel::Ahead(n) => current.wrapping_add(1 + u64::from(n)),
            VersionSel::Zero => 0,
            VersionSel::Max => u64::MAX,
            VersionSel::Raw(v) => v,
        }
    }
}

/// A counter delta, biased towards the extremes.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum Delta {
    Min,
    Max,
    MinPlusOne,
    MaxMinusOne,
    MinusOne,
    Zero,
    One,
    Small(i8),
    Raw(i64),
}

impl Delta {
    pub fn get(self) -> i64 {
        match self {
            Delta::Min => i64::MIN,
            Delta::Max => i64::MAX,
            Delta::MinPlusOne => i64::MIN + 1,
            Delta::MaxMinusOne => i64::MAX - 1,
            Delta::MinusOne => -1,
            Delta::Zero => 0,
            Delta::One => 1,
            Delta::Small(d) => i64::from(d),
            Delta::Raw(d) => d,
        }
    }
}

/// The argument to `ShardedCounter::with_shards`.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum ShardSel {
    Zero,
    One,
    Small(u8),
    /// Up to 1023.
    Medium(u16),
    /// At least `MAX_SHARDS`: the crate clamps these to 65536 shards (16 MiB).
    Large(LargeShards),
}

#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum LargeShards {
    /// Powers of two from `MAX_SHARDS` to 2^63.
    Pow2(u8),
    MaxShards,
    MaxShardsPlusOne,
    UsizeMax,
    Raw(usize),
}

impl ShardSel {
    pub fn get(self) -> usize {
        match self {
            ShardSel::Zero => 0,
            ShardSel::One => 1,
            ShardSel::Small(n) => usize::from(n),
            ShardSel::Medium(n) => usize::from(n % 1024),
            ShardSel::Large(LargeShards::Pow2(n)) => {
                let min = MAX_SHARDS.trailing_zeros();
                1usize << (min + u32::from(n) % (usize::BITS - min))
            }
            ShardSel::Large(LargeShards::MaxShards) => MAX_SHARDS,
            ShardSel::Large(LargeShards::MaxShardsPlusOne) => MAX_SHARDS + 1,
            ShardSel::Large(LargeShards::UsizeMax) => usize::MAX,
            ShardSel::Large(LargeShards::Raw(n)) => n.max(MAX_SHARDS),
        }
    }
}

/// The shard count `with_shards(n)` is documented to produce: `n` rounded up to
/// a power of two and clamped to `1..=MAX_SHARDS`.
pub fn expected_shards(n: usize) -> usize {
    n.clamp(1, MAX_SHARDS).next_power_of_two()
}

/// Async waits (`wait_newer_async`) held across the ops of a script, each
/// polled once when it starts and again after every op (with a waker that
/// does nothing: only the results are checked): a wait whose version is
/// behind the model's must be ready with the model's value, any other
/// pending. At most 4 are held; older ones, and those `cancel` picks, are
/// dropped while pending (a cancelled wait must leave nothing behind that a
/// later wait or write trips over).
pub struct Waits<'a, T, C> {
    pending: Vec<(u64, std::pin::Pin<Box<noclobber::future::WaitNewer<'a, T, C>>>)>,
}

impl<'a, T: Copy + PartialEq + Debug, C: PartialEq + Debug> Waits<'a, T, C> {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Waits { pending: Vec::new() }
    }

    /// `wait_newer_async(version - back)` on `source` (`back` 0 to 2).
    pub fn start<R>(&mut self, source: &'a R, now: Versioned<T>, back: u8)
    where
        R: noclobber::Readable<Value = T, Corrupt = C>,
        T: Send,
    {
        let seen = now.version.saturating_sub(u64::from(back % 3));
        let mut wait = Box::pin(source.wait_newer_async(seen));
        match poll(wait.as_mut()) {
            std::task::Poll::Ready(got) => {
                assert!(seen < now.version, "ready with nothing newer: {got:?}");
                assert_eq!(got, Ok(now));
            }
            std::task::Poll::Pending => {
                assert!(seen >= now.version, "pending though {now:?} is newer than {seen}");
                if self.pending.len() == 4 {
                    drop(self.pending.remove(0));
                }
                self.pending.push((seen, wait));
            }
        }
    }

    /// Drops the oldest pending wait.
    pub fn cancel(&mut self) {
        if !self.pending.is_empty() {
            drop(self.pending.remove(0));
        }
    }

    /// Polls every pending wait against the model at `now`.
    pub fn check(&mut self, now: Versioned<T>) {
        self.pending.retain_mut(|(seen, wait)| match poll(wait.as_mut()) {
            std::task::Poll::Ready(got) => {
                assert!(*seen < now.version, "ready with nothing newer: {got:?}");
                assert_eq!(got, Ok(now));
                false
            }
            std::task::Poll::Pending => {
                assert!(*seen >= now.version, "pending though {now:?} is newer than {seen}");
                true
            }
        });
    }
}

fn poll<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}
