//! 1000 tasks follow one object on each executor: every task sees versions
//! only go forward, untorn, up to the last one, and none is left waiting.
//! The writer is a plain thread that starts once every task waits, and
//! pauses after each write, so that tasks sleep until woken (and sometimes
//! find newer versions at once); 4 worker threads on this
//! machine's 2 cores preempt one another. A task left waiting (a lost
//! wake-up) fails the test by its watchdog, which names how many finished.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use noclobber::{Cursor, Publisher, SoloWriter, WaitError};
use noclobber_async_tests::{newer, value_of};

const TASKS: usize = 1000;
const WRITES: u64 = 1000;
const WORKERS: usize = 4;
const LIMIT: Duration = Duration::from_secs(120);

/// Once every task has started, writes versions 1..=WRITES, pausing after
/// each.
fn write_all(started: &AtomicUsize, mut write: impl FnMut(u64)) {
    while started.load(Ordering::SeqCst) < TASKS {
        std::thread::sleep(Duration::from_millis(1));
    }
    for v in 1..=WRITES {
        write(v);
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A task of the multi-writer kind: waits for newer versions until the
/// last, counting itself in `done` when it has it.
async fn follow(
    p: Arc<Publisher<[u64; 2]>>,
    started: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
) -> usize {
    started.fetch_add(1, Ordering::SeqCst);
    let mut seen = 0;
    let mut steps = 0;
    while seen < WRITES {
        seen = newer(p.wait_newer_async(seen).await.unwrap(), seen);
        steps += 1;
    }
    done.fetch_add(1, Ordering::SeqCst);
    steps
}

/// A task of the single-writer kind, through a cursor: every change until
/// the writer is gone, then `Closed` (again on the next call).
async fn follow_to_close(
    mut cursor: Cursor<noclobber::SoloReader<[u64; 2]>>,
    started: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
) -> usize {
    started.fetch_add(1, Ordering::SeqCst);
    let mut steps = 0;
    loop {
        let seen = cursor.seen();
        match cursor.changed().await {
            Ok(v) => assert_eq!(newer(v, seen), cursor.seen()),
            Err(WaitError::Closed) => break,
            Err(e) => panic!("{e}"),
        }
        steps += 1;
    }
    assert_eq!(cursor.seen(), WRITES, "closed before the last version");
    assert_eq!(cursor.changed().await, Err(WaitError::Closed));
    done.fetch_add(1, Ordering::SeqCst);
    steps
}

/// Runs `f` on a thread; fails if it does not finish within `LIMIT`,
/// reporting how many tasks had finished.
fn watchdog<T: Send + 'static>(
    what: &str,
    done: &Arc<AtomicUsize>,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    match rx.recv_timeout(LIMIT) {
        Ok(out) => out,
        Err(_) => panic!(
            "{what}: {} of {TASKS} tasks finished within {LIMIT:?}; the others are stuck",
            done.load(Ordering::SeqCst)
        ),
    }
}

/// The tasks of one run: `TASKS` followers of a publisher written by a
/// thread, or of a single writer that is dropped at the end.
struct Run {
    started: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

impl Run {
    fn new() -> Run {
        Run {
            started: Arc::new(AtomicUsize::new(0)),
            done: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn publisher_tasks(
        &self,
    ) -> (
        Arc<Publisher<[u64; 2]>>,
        Vec<impl Future<Output = usize> + Send + 'static>,
    ) {
        let p = Arc::new(Publisher::new(value_of(0)));
        let tasks = (0..TASKS)
            .map(|_| {
                follow(
                    Arc::clone(&p),
                    Arc::clone(&self.started),
                    Arc::clone(&self.done),
                )
            })
            .collect();
        (p, tasks)
    }

    fn solo_tasks(
        &self,
    ) -> (
        SoloWriter<[u64; 2]>,
        Vec<impl Future<Output = usize> + Send + 'static>,
    ) {
        let (w, r) = SoloWriter::channel(value_of(0));
        let tasks = (0..TASKS)
            .map(|_| {
                follow_to_close(
                    Cursor::new(r.clone()),
                    Arc::clone(&self.started),
                    Arc::clone(&self.done),
                )
            })
            .collect();
        (w, tasks)
    }

    fn check(&self, steps: Vec<usize>) {
        assert_eq!(steps.len(), TASKS);
        assert_eq!(self.done.load(Ordering::SeqCst), TASKS);
        let total: usize = steps.iter().sum();
        eprintln!(
            "{TASKS} tasks, {WRITES} writes: {:.1} wake-ups per task on average",
            total as f64 / TASKS as f64
        );
    }
}

fn tokio_multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap()
}

/// Spawns `tasks` on `rt`, runs `write` on a thread of its own, and returns
/// what each task returned.
fn on_tokio<F>(
    rt: tokio::runtime::Runtime,
    tasks: Vec<F>,
    write: impl FnOnce() + Send + 'static,
) -> Vec<usize>
where
    F: std::future::Future<Output = usize> + Send + 'static,
{
    rt.block_on(async move {
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        let writer = std::thread::spawn(write);
        let mut steps = Vec::new();
        for h in handles {
            steps.push(h.await.unwrap());
        }
        writer.join().unwrap();
        steps
    })
}

#[test]
fn tokio_multi_thread_publisher() {
    let run = Run::new();
    let started = Arc::clone(&run.started);
    let (p, tasks) = run.publisher_tasks();
    let steps = watchdog("tokio multi-thread", &run.done, move || {
        on_tokio(tokio_multi_thread(), tasks, move || {
            write_all(&started, |v| {
                p.write(value_of(v));
            })
        })
    });
    run.check(steps);
}

#[test]
fn tokio_multi_thread_solo_writer_to_close() {
    let run = Run::new();
    let started = Arc::clone(&run.started);
    let (mut w, tasks) = run.solo_tasks();
    let steps = watchdog("tokio multi-thread, solo", &run.done, move || {
        on_tokio(tokio_multi_thread(), tasks, move || {
            write_all(&started, |v| {
                w.write(value_of(v));
            });
            drop(w);
        })
    });
    run.check(steps);
}

#[test]
fn tokio_current_thread_publisher() {
    let run = Run::new();
    let started = Arc::clone(&run.started);
    let (p, tasks) = run.publisher_tasks();
    let steps = watchdog("tokio current-thread", &run.done, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        on_tokio(rt, tasks, move || {
            write_all(&started, |v| {
                p.write(value_of(v));
            })
        })
    });
    run.check(steps);
}

/// smol's executor (`async-executor`), run by 4 threads.
#[test]
fn async_executor_solo_writer_to_close() {
    let run = Run::new();
    let started = Arc::clone(&run.started);
    let (mut w, tasks) = run.solo_tasks();
    let steps = watchdog("async-executor", &run.done, move || {
        let ex = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = stop_signal();
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let ex = Arc::clone(&ex);
                let stopped = stopped.clone();
                std::thread::spawn(move || smol::block_on(ex.run(stopped)))
            })
            .collect();
        let handles: Vec<_> = tasks.into_iter().map(|t| ex.spawn(t)).collect();
        let writer = std::thread::spawn(move || {
            write_all(&started, |v| {
                w.write(value_of(v));
            });
            drop(w);
        });
        let steps = smol::block_on(async {
            let mut steps = Vec::new();
            for h in handles {
                steps.push(h.await);
            }
            steps
        });
        writer.join().unwrap();
        drop(stop);
        workers.into_iter().for_each(|t| t.join().unwrap());
        steps
    });
    run.check(steps);
}

/// `futures::executor::ThreadPool` with 4 threads, awaited by
/// `futures::executor::block_on`.
#[test]
fn futures_thread_pool_publisher() {
    use futures::task::SpawnExt;
    let run = Run::new();
    let started = Arc::clone(&run.started);
    let (p, tasks) = run.publisher_tasks();
    let steps = watchdog("futures thread pool", &run.done, move || {
        let pool = futures::executor::ThreadPool::builder()
            .pool_size(WORKERS)
            .create()
            .unwrap();
        let handles: Vec<_> = tasks
            .into_iter()
            .map(|t| pool.spawn_with_handle(t).unwrap())
            .collect();
        let writer = std::thread::spawn(move || {
            write_all(&started, |v| {
                p.write(value_of(v));
            })
        });
        let steps = futures::executor::block_on(futures::future::join_all(handles));
        writer.join().unwrap();
        steps
    });
    run.check(steps);
}

/// A future that completes when its sender is dropped: the executor
/// threads' signal to stop.
fn stop_signal() -> (
    futures::channel::oneshot::Sender<()>,
    impl Future<Output = ()> + Clone + Send + 'static,
) {
    use futures::FutureExt;
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    (tx, rx.map(|_| ()).shared())
}
