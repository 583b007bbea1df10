//! The async targets of issue 28 as paired ratios: noclobber's async waits
//! against `tokio::sync::watch`, alternated in short batches in one process
//! (the order flipping every pair), so that the drift of this shared host
//! hits both alike; criterion's separate runs (`benches/async_wait.rs`)
//! drift by more than the differences asked about. `[u64; 4]` values, a
//! tokio multi-thread runtime of 2 workers.
//!
//! * `pingpong`: a task waits on one object and, woken, writes a second, on
//!   which this thread waits: per round trip, a publication and a wake-up
//!   each way (the wake latency, twice).
//! * `fanout`: 1000 tasks wait on one object; per round, one publication
//!   and the time until every task has seen it (rounds start once every
//!   task waits again).
//!
//! ```text
//! CARGO_TARGET_DIR=target/bench cargo run --release -p noclobber-benches --bin async_report -- [PAIRS]
//! ```

#[path = "../async_sides.rs"]
mod sides;

use sides::{PublisherPingPong, Side, SoloPingPong, WatchPingPong};
use tokio::runtime::Runtime;

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// `pairs` pairs of batches of `n` units of `a` and `b`, the order flipping
/// every pair; ns per unit.
fn compare(name: &str, rt: &Runtime, pairs: usize, n: u64, a: &mut dyn Side, b: &mut dyn Side) {
    let batch = |side: &mut dyn Side| side.run(rt, n).as_nanos() as f64 / n as f64;
    for _ in 0..3 {
        batch(a);
        batch(b);
    }
    let (mut va, mut vb, mut vr) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (x, y) = if i % 2 == 0 {
            let x = batch(a);
            (x, batch(b))
        } else {
            let y = batch(b);
            (batch(a), y)
        };
        va.push(x);
        vb.push(y);
        vr.push(x / y);
    }
    println!(
        "{name:<44} {:9.0} ns vs {:9.0} ns  ratio {:.3} [{:.3} .. {:.3}]  ({pairs} pairs)",
        pct(&mut va, 0.5),
        pct(&mut vb, 0.5),
        pct(&mut vr, 0.5),
        pct(&mut vr, 0.25),
        pct(&mut vr, 0.75),
    );
}

fn main() {
    let pairs: usize = std::env::args().nth(1).map_or(100, |a| a.parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    println!("noclobber vs tokio watch, median per unit, ratio = noclobber / watch (median [q1 .. q3] of the pairs)");
    let n = 2000;
    compare(
        "pingpong round trip: solo / watch",
        &rt,
        pairs,
        n,
        &mut SoloPingPong::new(&rt),
        &mut WatchPingPong::new(&rt),
    );
    compare(
        "pingpong round trip: publisher / watch",
        &rt,
        pairs,
        n,
        &mut PublisherPingPong::new(&rt),
        &mut WatchPingPong::new(&rt),
    );
    let rounds = 20;
    compare(
        "fanout 1000 tasks, one publication: solo / watch",
        &rt,
        pairs,
        rounds,
        &mut sides::solo_fanout(&rt),
        &mut sides::watch_fanout(&rt),
    );
    compare(
        "fanout 1000 tasks: publisher / watch",
        &rt,
        pairs,
        rounds,
        &mut sides::publisher_fanout(&rt),
        &mut sides::watch_fanout(&rt),
    );
}
