//! Helpers shared by the tests of this crate: a waker that counts its wakes,
//! and the check every follower applies to what it got.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use noclobber::Versioned;

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct Counting(AtomicUsize);

impl Counting {
    /// A new counter and a waker that bumps it.
    pub fn waker() -> (Arc<Counting>, Waker) {
        let counter = Arc::new(Counting::default());
        (Arc::clone(&counter), Waker::from(counter))
    }

    /// How often the waker was woken so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The value every test writes for version `v`: a tear shows as a mismatch.
pub fn value_of(v: u64) -> [u64; 2] {
    [v, !v]
}

/// Checks that `got` is newer than `seen` and not torn; returns its version.
pub fn newer(got: Versioned<[u64; 2]>, seen: u64) -> u64 {
    assert!(got.version > seen, "went back: {got:?} after {seen}");
    assert_eq!(got.value, value_of(got.version), "torn: {got:?}");
    got.version
}
