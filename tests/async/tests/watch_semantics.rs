//! `tokio::sync::watch`'s semantics, tested the way its own tests
//! (`tokio/tests/sync_watch.rs`) test them, on `Cursor` and
//! `wait_newer_async`: a fresh cursor is not notified; a publication wakes
//! every pending future; after the writer is gone the final value is
//! observed once, then `Closed`; a dropped future wakes nothing and loses
//! nothing. Futures are polled by hand with counting wakers, so that each
//! step is seen exactly.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use noclobber::{Cursor, Publisher, SeqLock, SoloWriter, Versioned, VersionedCell, WaitError};
use noclobber_async_tests::Counting;

/// One poll with `waker`.
fn poll_with<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

fn ready<T>(p: Poll<T>) -> T {
    match p {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("pending"),
    }
}

fn v<T>(value: T, version: u64) -> Versioned<T> {
    Versioned { value, version }
}

/// watch's `single_rx_recv`: a fresh cursor's `changed` is pending; a
/// publication wakes it and it returns the value; dropping the writer wakes
/// a pending `changed` with `Closed`; the value stays readable.
#[test]
fn single_cursor() {
    let (mut w, r) = SoloWriter::channel(1u32);
    let mut cursor = Cursor::new(r);
    let (woken, waker) = Counting::waker();
    {
        let mut changed = pin!(cursor.changed());
        assert!(
            poll_with(changed.as_mut(), &waker).is_pending(),
            "a fresh cursor is notified"
        );
        w.write(2);
        assert_eq!(woken.count(), 1);
        assert_eq!(ready(poll_with(changed, &waker)), Ok(v(2, 1)));
    }
    {
        let mut changed = pin!(cursor.changed());
        assert!(poll_with(changed.as_mut(), &waker).is_pending());
        drop(w);
        assert_eq!(woken.count(), 2);
        assert_eq!(ready(poll_with(changed, &waker)), Err(WaitError::Closed));
    }
    assert_eq!(cursor.read_and_update(), 2);
}

/// `rx_version_underflow` and `rx_mark_changed`: marking changed twice is
/// harmless; a marked cursor's `changed` completes at once with the current
/// value; clones made before are unaffected; `read_and_update` clears it.
#[test]
fn mark_changed() {
    let (mut w, r) = SoloWriter::channel(1u32);
    let mut cursor = Cursor::new(r);
    let before = cursor.clone();
    cursor.mark_changed();
    cursor.mark_changed();
    assert_eq!(cursor.has_changed(), Ok(true));
    assert_eq!(before.has_changed(), Ok(false));
    let (_, waker) = Counting::waker();
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Ok(v(1, 0))
    );
    assert_eq!(cursor.has_changed(), Ok(false));
    cursor.mark_changed();
    assert_eq!(cursor.read_and_update(), 1);
    assert_eq!(cursor.has_changed(), Ok(false));
    // After a real publication too.
    w.write(2);
    cursor.mark_changed();
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Ok(v(2, 1))
    );
    assert!(poll_with(pin!(cursor.changed()), &waker).is_pending());
}

/// `rx_mark_unchanged`: undoes `mark_changed`, and hides a real new value
/// (which stays readable).
#[test]
fn mark_unchanged() {
    let (mut w, r) = SoloWriter::channel(1u32);
    let mut cursor = Cursor::new(r);
    cursor.mark_changed();
    cursor.mark_unchanged();
    assert_eq!(cursor.has_changed(), Ok(false));
    w.write(2);
    assert_eq!(cursor.has_changed(), Ok(true));
    cursor.mark_unchanged();
    assert_eq!(cursor.has_changed(), Ok(false));
    assert_eq!(cursor.source().read(), 2);
    let (_, waker) = Counting::waker();
    assert!(poll_with(pin!(cursor.changed()), &waker).is_pending());
}

/// `multi_rx`: each cursor tracks its own version; one publication wakes
/// every pending future; a future created before a publication but first
/// polled after it sees it.
#[test]
fn several_cursors() {
    let (mut w, r) = SoloWriter::channel(0u32);
    let mut a = Cursor::new(r.clone());
    let mut b = Cursor::new(r);
    let (woken_a, waker_a) = Counting::waker();
    let (woken_b, waker_b) = Counting::waker();
    {
        let mut fa = pin!(a.changed());
        let mut fb = pin!(b.changed());
        assert!(poll_with(fa.as_mut(), &waker_a).is_pending());
        assert!(poll_with(fb.as_mut(), &waker_b).is_pending());
        w.write(1);
        assert_eq!((woken_a.count(), woken_b.count()), (1, 1));
        assert_eq!(ready(poll_with(fa, &waker_a)), Ok(v(1, 1)));
        // `b` takes its time: a second publication comes first.
        w.write(2);
        assert_eq!(ready(poll_with(fb, &waker_b)), Ok(v(2, 2)));
    }
    // Created before the publication, polled after it.
    let fa = a.changed();
    w.write(3);
    assert_eq!(ready(poll_with(pin!(fa), &waker_a)), Ok(v(3, 3)));
    assert_eq!(b.has_changed(), Ok(true));
}

/// `rx_observes_final_value`, `changed_succeeds_on_closed_channel_with_unseen_value`,
/// `changed_errors_on_closed_channel_with_seen_value`: after the writer is
/// gone, an unseen final value is returned once, then `Closed`; with
/// nothing unseen, `Closed` at once.
#[test]
fn final_value_then_closed() {
    let (_, waker) = Counting::waker();
    // Nothing unseen.
    let (w, r) = SoloWriter::channel(0u32);
    let mut cursor = Cursor::new(r);
    drop(w);
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Err(WaitError::Closed)
    );
    // One unseen value.
    let (mut w, r) = SoloWriter::channel(0u32);
    let mut cursor = Cursor::new(r);
    w.write(1);
    drop(w);
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Ok(v(1, 1))
    );
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Err(WaitError::Closed)
    );
    // Written and dropped while a future is pending.
    let (mut w, r) = SoloWriter::channel(0u32);
    let mut cursor = Cursor::new(r);
    {
        let mut changed = pin!(cursor.changed());
        assert!(poll_with(changed.as_mut(), &waker).is_pending());
        w.write(1);
        drop(w);
        assert_eq!(ready(poll_with(changed, &waker)), Ok(v(1, 1)));
    }
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Err(WaitError::Closed)
    );
}

/// `has_changed_errors_on_closed_channel_with_(un)seen_value`: once the
/// writer is gone `has_changed` is `Closed`, whether or not a value is
/// unseen (and `changed` still returns that value once).
#[test]
fn has_changed_is_closed_once_the_writer_is_gone() {
    let (mut w, r) = SoloWriter::channel(0u32);
    let mut cursor = Cursor::new(r);
    w.write(1);
    drop(w);
    assert_eq!(cursor.has_changed(), Err(WaitError::Closed));
    let (_, waker) = Counting::waker();
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Ok(v(1, 1))
    );
    assert_eq!(cursor.has_changed(), Err(WaitError::Closed));
}

/// `borrow_and_update`: reading with `read_and_update` marks seen, so
/// `changed` waits for the next publication.
#[test]
fn read_and_update_marks_seen() {
    let (mut w, r) = SoloWriter::channel(0u32);
    let mut cursor = Cursor::new(r);
    w.write(1);
    assert_eq!(cursor.has_changed(), Ok(true));
    assert_eq!(cursor.read_and_update(), 1);
    assert_eq!(cursor.has_changed(), Ok(false));
    let (_, waker) = Counting::waker();
    assert!(poll_with(pin!(cursor.changed()), &waker).is_pending());
}

/// A dropped future wakes nothing and loses nothing: its waker is not woken
/// by later publications, the publication it did not return is there for
/// the next wait, and the cursor marked nothing seen. On every type.
#[test]
fn a_dropped_future_wakes_nothing_and_loses_nothing() {
    let (mut w, r) = SoloWriter::channel(0u32);
    let mut cursor = Cursor::new(r);
    let (woken, waker) = Counting::waker();
    {
        let mut changed = Box::pin(cursor.changed());
        assert!(poll_with(changed.as_mut(), &waker).is_pending());
    }
    w.write(1);
    assert_eq!(woken.count(), 0, "a dropped future was woken");
    assert_eq!(cursor.seen(), 0);
    assert_eq!(
        ready(poll_with(pin!(cursor.changed()), &waker)),
        Ok(v(1, 1))
    );

    fn check<R: noclobber::Readable<Value = u32>>(r: &R, write: impl Fn(u32)) {
        let (woken, waker) = Counting::waker();
        let seen = r.version();
        {
            let mut wait = Box::pin(r.wait_newer_async(seen));
            assert!(poll_with(wait.as_mut(), &waker).is_pending());
        }
        write(7);
        write(8);
        assert_eq!(woken.count(), 0, "a dropped future was woken");
        let got = ready(poll_with(pin!(r.wait_newer_async(seen)), &waker)).unwrap();
        assert_eq!((got.value, got.version), (8, seen + 2));
    }
    let cell = VersionedCell::new(0u32);
    check(&cell, |x| {
        cell.write(x);
    });
    let lock = SeqLock::new(0u32);
    check(&lock, |x| {
        lock.write(x);
    });
    let p = Publisher::new(0u32);
    check(&p, |x| {
        p.write(x);
    });
}

/// A future polled again with another waker wakes that one (the `Future`
/// contract): the task moved between threads, say.
#[test]
fn the_last_waker_is_woken() {
    let p = Publisher::new(0u32);
    let (first, waker1) = Counting::waker();
    let (second, waker2) = Counting::waker();
    let mut wait = pin!(p.wait_newer_async(0));
    assert!(poll_with(wait.as_mut(), &waker1).is_pending());
    assert!(poll_with(wait.as_mut(), &waker2).is_pending());
    p.write(1);
    assert_eq!(second.count(), 1);
    assert!(first.count() <= 1);
    assert_eq!(ready(poll_with(wait, &waker2)).unwrap().version, 1);
}

/// A publication wakes every pending future of every type, each once.
#[test]
fn a_publication_wakes_every_pending_future() {
    fn check<R: noclobber::Readable<Value = u32>>(r: &R, write: impl Fn(u32)) {
        let wakers: Vec<_> = (0..8).map(|_| Counting::waker()).collect();
        let mut waits: Vec<_> = (0..8).map(|_| Box::pin(r.wait_newer_async(0))).collect();
        for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
            assert!(poll_with(wait.as_mut(), waker).is_pending());
        }
        write(1);
        for (wait, (woken, waker)) in waits.iter_mut().zip(&wakers) {
            assert_eq!(woken.count(), 1);
            assert_eq!(ready(poll_with(wait.as_mut(), waker)).unwrap().value, 1);
        }
    }
    let cell = VersionedCell::new(0u32);
    check(&cell, |x| {
        cell.write(x);
    });
    let lock = SeqLock::new(0u32);
    check(&lock, |x| {
        lock.write(x);
    });
    let p = Publisher::new(0u32);
    check(&p, |x| {
        p.write(x);
    });
    let (w, r) = SoloWriter::channel(0u32);
    let w = std::cell::RefCell::new(w);
    check(&r, |x| {
        w.borrow_mut().write(x);
    });
}
