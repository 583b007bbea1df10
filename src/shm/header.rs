//! What a shared file holds and how its creator publishes it: the header
//! (magic, layout version, layout hash), the object after it, and which
//! objects may live there ([`InShm`]) with the layout numbers hashed.

use core::any::type_name;
use core::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;

use bytemuck::Pod;

use super::Error;
use crate::sync::{fence, AtomicU32, AtomicU64, Ordering};
use crate::words::word_count;
use crate::{publisher, seqlock, solo};

/// First word of every mapping: `b"noclobbr"`.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"noclobbr");

/// Bumped whenever the meaning of the header or of an object's fields
/// changes, so that processes built with different meanings never share a
/// file (the CHANGELOG lists what each version changed).
pub(crate) const LAYOUT_VERSION: u64 = 7;

/// An object that can live in a mapping shared with other processes.
///
/// # Safety
///
/// Every byte pattern (all zeroes in particular) is a valid `Self`, `Self` holds
/// no pointers, and every access to its memory is atomic. Then a `&Self` into
/// the mapping refers only to atomics, which other processes may modify like
/// other threads would, and no byte they leave there can be an invalid value.
pub(crate) unsafe trait InShm {
    type Value: Pod;
    /// Distinguishes object kinds with equal layout numbers.
    const KIND: &'static str;
    /// The object's own layout numbers: size, alignment, slots, payload words
    /// and field offsets.
    const SHAPE: &'static [usize];
    /// The handle that maps it, for error messages:
    /// `SharedPublisher<[u64; 4], 3>`.
    fn handle_name() -> String;
    /// Refuses an object this build cannot share: a shape that must not
    /// compile (fewer than 2 slots), or `Error::NotLockFree` (with an empty
    /// path, which the caller fills in: `Error::in_file`).
    fn check_supported() -> Result<(), Error> {
        Ok(())
    }
    fn init_in_place(&self, value: Self::Value);
    /// The object's waiter words (`notify/mod.rs`).
    fn notify(&self) -> &crate::notify::Notify;
    /// Runs in every process that maps the object writable, once the object
    /// is initialised or checked, before the caller gets it: a store-published
    /// kind prepares its writers for waiters (N5 in `notify/mod.rs`).
    fn mapped_writable(&self) {}
}

// SAFETY: `publisher::Body` is `#[repr(C)]` and consists of
// `CachePadded<AtomicU128>` (the head), `CachePadded<ring::Tickets>` (32
// `AtomicU64`s: the ticket counter and the owner table), two `AtomicU32` waiter
// words (`notify::Notify`) and slots of an `AtomicU64` claim plus an
// `UnsafeCell` of words the crate only accesses as `AtomicU128`
// (`words::Tagged::at`), and padding. Every data byte is thus inside an
// `UnsafeCell` (atomics are), so a `&Body` does not claim the bytes are
// immutable, and all of them are read and written atomically. Integers accept
// every bit pattern, and `T: Pod` makes any payload words a valid `T` when a
// read turns them into a value. It holds no pointers. `T: Send`: values cross
// processes (and threads) by copy.
unsafe impl<T: Pod + Send, const SLOTS: usize> InShm for publisher::Body<T, SLOTS> {
    type Value = T;
    const KIND: &'static str = "Publisher";
    const SHAPE: &'static [usize] = &[
        size_of::<Self>(),
        align_of::<Self>(),
        SLOTS,
        word_count::<T>(),
        offset_of!(Self, head),
        offset_of!(Self, tickets),
        offset_of!(Self, notify),
        offset_of!(Self, slots),
        size_of::<crate::ring::Slot<T>>(),
        offset_of!(crate::ring::Slot<T>, claim),
        offset_of!(crate::ring::Slot<T>, words),
    ];

    fn handle_name() -> String {
        format!("SharedPublisher<{}, {SLOTS}>", type_name::<T>())
    }

    fn check_supported() -> Result<(), Error> {
        // `create` and `open` both call this: a `SharedPublisher` with fewer
        // than 2 slots fails to compile like `Publisher::with_slots` does.
        let () = Self::AT_LEAST_TWO_SLOTS;
        if crate::sync::AtomicU128::is_lock_free() {
            Ok(())
        } else {
            Err(Error::NotLockFree {
                path: PathBuf::new(),
                object: Self::handle_name(),
            })
        }
    }

    fn init_in_place(&self, value: T) {
        publisher::Body::init_in_place(self, value);
    }

    fn notify(&self) -> &crate::notify::Notify {
        &self.notify
    }
}

// SAFETY: `solo::Body` is `#[repr(C, align(128))]`: an `AtomicU64` head, the
// two `AtomicU32` waiter words of `notify::Notify`, and slots of an
// `AtomicU64` stamp plus an `UnsafeCell` of words the crate only accesses as
// `AtomicU64` (`words::Words::at`), and padding. As for the other kinds,
// every data byte is inside an `UnsafeCell`, accessed atomically, any bit
// pattern is valid (`T: Pod`), and there are no pointers.
unsafe impl<T: Pod + Send, const SLOTS: usize> InShm for solo::Body<T, SLOTS> {
    type Value = T;
    const KIND: &'static str = "SoloPublisher";
    const SHAPE: &'static [usize] = &[
        size_of::<Self>(),
        align_of::<Self>(),
        SLOTS,
        word_count::<T>(),
        offset_of!(Self, head),
        offset_of!(Self, notify),
        offset_of!(Self, slots),
        size_of::<solo::Slot<T>>(),
        offset_of!(solo::Slot<T>, words),
    ];

    fn handle_name() -> String {
        format!("SharedSoloWriter<{}, {SLOTS}>", type_name::<T>())
    }

    fn check_supported() -> Result<(), Error> {
        // Fewer than 2 slots fail to compile, as for `SoloWriter::with_slots`.
        let () = Self::AT_LEAST_TWO_SLOTS;
        Ok(())
    }

    fn init_in_place(&self, value: T) {
        solo::Body::init_in_place(self, value);
    }

    fn notify(&self) -> &crate::notify::Notify {
        &self.notify
    }

    fn mapped_writable(&self) {
        self.notify.prepare_store_writers();
    }
}

// SAFETY: `seqlock::Body` is `#[repr(C)]`: an `AtomicU64` sequence, two
// `AtomicU32` waiter words (`notify::Notify`) and an `UnsafeCell` of words the
// crate only accesses as `AtomicU64` (`words::Words::at`). Every bit pattern
// is valid as above (`T: Pod`), and it holds no pointers. Its readers only
// load, so `SharedSeqLockReader` may map the file read-only (on 64-bit
// targets, with `Relaxed` loads only).
unsafe impl<T: Pod + Send> InShm for seqlock::Body<T> {
    type Value = T;
    const KIND: &'static str = "SeqLock";
    const SHAPE: &'static [usize] = &[
        size_of::<Self>(),
        align_of::<Self>(),
        word_count::<T>(),
        offset_of!(Self, seq),
        offset_of!(Self, notify),
        offset_of!(Self, words),
    ];

    fn handle_name() -> String {
        format!("SharedSeqLock<{}>", type_name::<T>())
    }

    fn init_in_place(&self, value: T) {
        seqlock::Body::init_in_place(self, value);
    }

    fn notify(&self) -> &crate::notify::Notify {
        &self.notify
    }
}

/// The start of every mapping. All fields are written before `magic`.
#[repr(C)]
pub(crate) struct Header {
    magic: AtomicU64,
    layout_version: AtomicU64,
    layout_hash: AtomicU64,
    /// The sleepers of the file's wake-up semaphores on Windows (count,
    /// generation and a flag: `notify/platform/windows.rs`); 0 and unused
    /// elsewhere. One format everywhere: a file does not move between
    /// systems, but its layout does not depend on the system.
    sleepers: AtomicU32,
    /// 0 (pads the header to 32 bytes).
    _reserved: AtomicU32,
}

/// What the file holds: the header, then the object at its alignment.
#[repr(C)]
pub(crate) struct Region<O> {
    header: Header,
    pub(crate) object: O,
}

/// The publication protocol of the header, apart from the mapping so that
/// Miri (which cannot map files) checks it on ordinary memory (tests below).
impl<O: InShm> Region<O> {
    /// Initialises the header and the object of an all-zero region nobody else
    /// writes yet, and publishes them.
    pub(crate) fn init(&self, value: O::Value) {
        let Region { header, object } = self;
        // Relaxed (both): published by the Release store of the magic below.
        header
            .layout_version
            .store(LAYOUT_VERSION, Ordering::Relaxed);
        header
            .layout_hash
            .store(layout_hash::<O>(), Ordering::Relaxed);
        // `sleepers` and `_reserved` stay as the new file has them, 0 (the
        // creator's own registration may have set `sleepers`' flag already).
        object.init_in_place(value);
        // Release, and last: an opener that loads the magic with Acquire sees the
        // header fields, the whole initialised object and everything the
        // creator did before. Only Miri checks this (the `tests` below): shm is
        // not built under loom, and on x86-64 every store is a release anyway.
        header.magic.store(MAGIC, Ordering::Release);
    }

    /// The header's sleeper word (Windows' wake-ups; writable mappings only).
    pub(crate) fn sleepers(&self) -> &AtomicU32 {
        &self.header.sleepers
    }

    /// Whether `init` has published a region of this very layout. The errors
    /// have an empty path and found length, which the caller fills in
    /// (`Error::in_file`).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let header = &self.header;
        let path = PathBuf::new;
        // Relaxed, then an Acquire fence: together an Acquire load, pairing
        // with the creator's Release store of the magic in `init`; without
        // it the fields below and the object may be read before the magic
        // (checked by Miri in the `tests` below). A fence rather than an
        // Acquire load, because a read-only mapping allows only `Relaxed`
        // loads (`SharedSeqLockReader`).
        let magic = header.magic.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        match magic {
            MAGIC => {}
            0 => return Err(Error::Uninitialized { path: path() }),
            found => {
                return Err(Error::NotShared {
                    path: path(),
                    found,
                })
            }
        }
        // Relaxed (both): written before the magic, made visible by the Acquire
        // above, and never written again.
        let found = header.layout_version.load(Ordering::Relaxed);
        if found != LAYOUT_VERSION {
            let expected = LAYOUT_VERSION;
            return Err(Error::LayoutVersion {
                path: path(),
                found,
                expected,
            });
        }
        let (found_hash, expected_hash) = (
            header.layout_hash.load(Ordering::Relaxed),
            layout_hash::<O>(),
        );
        if found_hash != expected_hash {
            return Err(Error::LayoutMismatch {
                path: path(),
                expected: O::handle_name(),
                value_size: size_of::<O::Value>(),
                expected_len: size_of::<Self>() as u64,
                found_len: 0,
                expected_hash,
                found_hash,
            });
        }
        Ok(())
    }
}

/// FNV-1a over everything the layout depends on; identical in every process
/// (no random state), so it can be compared across processes.
fn layout_hash<O: InShm>() -> u64 {
    let numbers = [
        size_of::<Region<O>>(),
        align_of::<Region<O>>(),
        offset_of!(Region<O>, object),
        size_of::<O::Value>(),
        align_of::<O::Value>(),
        usize::from(cfg!(target_endian = "big")),
    ];
    let words = numbers
        .iter()
        .chain(O::SHAPE)
        .flat_map(|&n| (n as u64).to_le_bytes());
    let names = [O::KIND, "|", type_name::<O::Value>()]
        .into_iter()
        .flat_map(str::bytes);
    words.chain(names).fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The header protocol on ordinary memory, so that Miri checks its orderings
/// (`scripts/ci-miri.sh` runs these; Miri cannot map files).
#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::UnsafeCell;
    use core::fmt::Debug;

    /// Plain memory the creator writes before `init` and an opener reads after
    /// `check` succeeded: a data race unless the magic carries Release/Acquire.
    struct Plain(UnsafeCell<u64>);

    // SAFETY: the tests below write it only before `init` (in the creating
    // thread) and read it only after `check` returned `Ok` (in the opening
    // thread), so every access is ordered by the magic's Release/Acquire pair;
    // a missing ordering is exactly what Miri is meant to report here.
    unsafe impl Sync for Plain {}

    pub(crate) fn zeroed<O: InShm>() -> Box<Region<O>> {
        // SAFETY: a new file reads as zeroes and `O: InShm` promises every byte
        // pattern is a valid `O`; the header's atomics are valid at zero too.
        // (`Box::new_zeroed` would need Rust 1.92; these regions are small.)
        Box::new(unsafe { core::mem::MaybeUninit::<Region<O>>::zeroed().assume_init() })
    }

    fn opener_sees_everything<O: InShm + Sync>(value: O::Value, read: fn(&O) -> O::Value)
    where
        O::Value: PartialEq + Debug + Sync,
    {
        for _ in 0..if cfg!(miri) { 3 } else { 200 } {
            let region = zeroed::<O>();
            // A reference, so the closures capture the `Sync` wrapper, not its field.
            let plain = &Plain(UnsafeCell::new(0));
            assert!(matches!(region.check(), Err(Error::Uninitialized { .. })));
            std::thread::scope(|s| {
                s.spawn(|| {
                    // SAFETY: see `Plain`; nobody reads it before `check` is Ok.
                    unsafe { *plain.0.get() = 42 };
                    region.init(value);
                });
                s.spawn(|| {
                    loop {
                        match region.check() {
                            Ok(()) => break,
                            Err(Error::Uninitialized { .. }) => std::thread::yield_now(),
                            Err(e) => panic!("opener saw a half-published header: {e}"),
                        }
                    }
                    assert_eq!(read(&region.object), value);
                    // SAFETY: see `Plain`; written before `init`, which `check`
                    // saw complete.
                    assert_eq!(unsafe { *plain.0.get() }, 42);
                });
            });
        }
    }

    #[test]
    fn publisher_opener_sees_everything_created_before_the_magic() {
        opener_sees_everything::<publisher::Body<[u64; 3], 3>>([7, 8, 9], |b| {
            b.read_versioned().value
        });
    }

    #[test]
    fn solo_opener_sees_everything_created_before_the_magic() {
        opener_sees_everything::<solo::Body<[u64; 3], 3>>([7, 8, 9], |b| b.read_versioned().value);
    }

    #[test]
    fn seqlock_opener_sees_everything_created_before_the_magic() {
        opener_sees_everything::<seqlock::Body<[u64; 3]>>([7, 8, 9], |b| b.read_versioned().value);
    }

    #[test]
    fn check_refuses_foreign_and_unfinished_headers() {
        let region = zeroed::<seqlock::Body<u64>>();
        assert!(matches!(region.check(), Err(Error::Uninitialized { .. })));
        region.header.magic.store(1, Ordering::Relaxed);
        assert!(matches!(
            region.check(),
            Err(Error::NotShared { found: 1, .. })
        ));
        region.init(5);
        assert!(region.check().is_ok());
        region.header.layout_hash.fetch_add(1, Ordering::Relaxed);
        assert!(matches!(region.check(), Err(Error::LayoutMismatch { .. })));
        region.header.layout_version.fetch_add(1, Ordering::Relaxed);
        assert!(matches!(region.check(), Err(Error::LayoutVersion { .. })));
    }
}
