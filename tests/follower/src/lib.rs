//! A user crate that depends on `noclobber` alone and follows a stream of
//! quotes with one function, [`follow`], written against the public
//! [`Readable`] trait only. Its tests (`tests/every_readable.rs`) run that
//! same function over every readable type and handle of the crate, in
//! process and in shared files, each fed by a writer that publishes the
//! known sequence [`quote`]`(1)`, [`quote`]`(2)`, ...

use std::time::Duration;

use noclobber::bytemuck::{Pod, Zeroable};
use noclobber::{Readable, Versioned, WaitError};

/// The value followed: `Pod` + `Zeroable` (derived through noclobber's
/// re-export), so that it can live in a shared file as well as in process
/// memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[bytemuck(crate = "noclobber::bytemuck")]
#[repr(C)]
pub struct Quote {
    /// Best bid.
    pub bid: u64,
    /// Best ask.
    pub ask: u64,
    /// Sizes at the bid and the ask.
    pub size: [u32; 2],
}

/// The quote that a writer of the known sequence publishes as version `n`
/// (and that every object starts with, as version 0). Every field follows
/// from `n`, so a follower can tell that a value is whole and belongs to the
/// version it came with.
///
/// ```
/// use noclobber_follower::quote;
/// assert_eq!(quote(3).bid, 1003);
/// assert_ne!(quote(3), quote(4));
/// ```
#[must_use]
pub fn quote(n: u64) -> Quote {
    let low = n as u32;
    Quote {
        bid: n.wrapping_add(1000),
        ask: n.wrapping_add(1001),
        size: [low, !low],
    }
}

/// Why [`follow`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// It saw the target version or a later one.
    Reached,
    /// The writer is gone (`WaitError::Closed`): nothing newer will come.
    /// Only single-writer objects have a writer that can go.
    WriterGone,
    /// Nothing newer came for `idle`.
    Idle,
}

/// What [`follow`] saw, and why it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Followed {
    /// The value it found first, then every value `wait_newer` returned, in
    /// the order it got them.
    pub seen: Vec<Versioned<Quote>>,
    /// Why it stopped.
    pub end: End,
}

/// Follows `source` until it has seen version `target` or a later one, or
/// the writer is gone, or nothing newer came for `idle`: reads the current
/// value, then waits for each newer version with
/// [`wait_newer`](Readable::wait_newer), passing the version it got last.
/// It may skip versions (a writer faster than the follower), never go back.
///
/// A newer version whose every copy was interrupted by yet newer writes
/// until `idle` passed (`WaitError::Interrupted`) is waited for again.
/// Errors: what `wait_newer` reports otherwise, `WaitError::Corrupt` for a
/// shared file damaged by other means.
///
/// ```
/// use std::time::Duration;
/// use noclobber::Publisher;
/// use noclobber_follower::{follow, quote, End};
///
/// let latest = Publisher::new(quote(0));
/// std::thread::scope(|s| {
///     let follower = s.spawn(|| follow(&latest, 3, Duration::from_secs(10)));
///     for n in 1..=3 {
///         latest.write(quote(n));
///     }
///     let followed = follower.join().unwrap().unwrap();
///     assert_eq!(followed.end, End::Reached);
///     assert_eq!(followed.seen.last().unwrap().value, quote(3));
/// });
/// ```
pub fn follow<R: Readable<Value = Quote>>(
    source: &R,
    target: u64,
    idle: Duration,
) -> Result<Followed, WaitError<R::Corrupt>> {
    let mut last = source.read_versioned();
    let mut seen = vec![last];
    let end = loop {
        if last.version >= target {
            break End::Reached;
        }
        match source.wait_newer(last.version, idle) {
            Ok(v) => {
                last = v;
                seen.push(v);
            }
            Err(WaitError::Interrupted) => {}
            Err(WaitError::Closed) => break End::WriterGone,
            Err(WaitError::TimedOut) => break End::Idle,
            Err(e) => return Err(e),
        }
    };
    Ok(Followed { seen, end })
}
