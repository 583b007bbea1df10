//! Aborts the test process if a test hangs: a waiter never woken is what the
//! tests that wait without a bound exercise.

use std::time::Duration;

/// Armed until dropped; after 120 s (an hour under Miri) it aborts the
/// process, naming the test and what `stuck` says.
pub struct Watchdog(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

impl Watchdog {
    pub fn start(name: &'static str, stuck: &'static str) -> Watchdog {
        let limit = Duration::from_secs(if cfg!(miri) { 3600 } else { 120 });
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("{name}: still running after {limit:?}: {stuck}");
                std::process::abort();
            }
        });
        Watchdog(tx)
    }
}
