//! A user crate that depends on `noclobber` alone and derives the payload
//! bounds through the re-export `noclobber::bytemuck`, as the crate docs say:
//! `Pod` + `Zeroable` for a type shared between processes, `NoUninit` for one
//! used in-process only, each with `#[bytemuck(crate = "noclobber::bytemuck")]`.
//!
//! Without that attribute the derive cannot find `bytemuck` (the doctests of
//! [`Failures`] check both documented failures), which is why the docs
//! require it.

use noclobber::bytemuck::{Pod, Zeroable};

/// Shared between processes: `Pod` + `Zeroable`, derived once, usable by every
/// primitive.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[bytemuck(crate = "noclobber::bytemuck")]
#[repr(C)]
pub struct Quote {
    pub bid: u64,
    pub ask: u64,
    pub size: [u32; 2],
}

/// In-process only: a `bool` is not `Pod`, but the type is `NoUninit`.
#[derive(Clone, Copy, Debug, PartialEq, noclobber::bytemuck::NoUninit)]
#[bytemuck(crate = "noclobber::bytemuck")]
#[repr(C)]
pub struct Flags {
    pub ready: bool,
    pub level: u8,
}

/// The documented failures.
///
/// Without `#[bytemuck(crate = ...)]` the derive names `::bytemuck`, which a
/// crate without its own bytemuck dependency does not have:
///
/// ```compile_fail,E0433
/// #[derive(Clone, Copy, noclobber::bytemuck::NoUninit)]
/// #[repr(C)]
/// struct NoAttribute {
///     x: u64,
/// }
/// ```
///
/// Deriving `Pod` and `NoUninit` on one type conflicts (every `Pod` type is
/// `NoUninit` already):
///
/// ```compile_fail,E0119
/// #[derive(Clone, Copy, noclobber::bytemuck::Pod, noclobber::bytemuck::Zeroable, noclobber::bytemuck::NoUninit)]
/// #[bytemuck(crate = "noclobber::bytemuck")]
/// #[repr(C)]
/// struct Both {
///     x: u64,
/// }
/// ```
///
/// A type with padding is refused:
///
/// ```compile_fail
/// #[derive(Clone, Copy, noclobber::bytemuck::NoUninit)]
/// #[bytemuck(crate = "noclobber::bytemuck")]
/// #[repr(C)]
/// struct Padded {
///     a: u8,
///     b: u64,
/// }
/// ```
pub struct Failures;

#[cfg(test)]
mod tests {
    use super::*;
    use noclobber::shm::{SharedPublisher, SharedSeqLock};
    use noclobber::{Publisher, Readable, SeqLock, VersionedCell};

    const Q: Quote = Quote {
        bid: 100,
        ask: 101,
        size: [5, 7],
    };

    #[test]
    fn pod_type_works_in_process() {
        let cell = VersionedCell::new(Q);
        let lock = SeqLock::new(Q);
        let publisher: Publisher<Quote> = Publisher::new(Q);
        let higher = Quote { bid: 102, ..Q };
        cell.update(|_| higher);
        lock.write(higher);
        publisher.write(higher);
        assert_eq!(
            (cell.read(), lock.read(), publisher.read()),
            (higher, higher, higher)
        );
        assert_eq!(Quote::zeroed().bid, 0);
    }

    #[test]
    fn pod_type_works_between_processes() {
        let dir = std::env::temp_dir();
        let id = std::process::id();
        let (pub_path, seq_path) = (
            dir.join(format!("noclobber-derive-{id}-pub")),
            dir.join(format!("noclobber-derive-{id}-seq")),
        );
        let _ = std::fs::remove_file(&pub_path);
        let _ = std::fs::remove_file(&seq_path);
        let writer = SharedPublisher::<Quote, 3>::create(&pub_path, Q).unwrap();
        let reader = SharedPublisher::<Quote, 3>::open(&pub_path).unwrap();
        writer.write(Quote { ask: 99, ..Q });
        assert_eq!(reader.read().ask, 99);
        let lock = SharedSeqLock::<Quote>::create(&seq_path, Q).unwrap();
        assert_eq!(
            SharedSeqLock::<Quote>::open(&seq_path).unwrap().read(),
            lock.read()
        );
        std::fs::remove_file(&pub_path).unwrap();
        std::fs::remove_file(&seq_path).unwrap();
    }

    #[test]
    fn no_uninit_type_works_in_process() {
        let flags = VersionedCell::new(Flags {
            ready: false,
            level: 0,
        });
        flags.update(|f| Flags { ready: true, ..f });
        assert!(flags.read().ready);
        let lock = SeqLock::new(Flags {
            ready: true,
            level: 3,
        });
        assert_eq!(lock.read().level, 3);
    }
}
