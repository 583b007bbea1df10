//! The one model runner of the `tests/loom_*.rs` files (included with
//! `#[path = "common/loom_model.rs"] mod loom_model;`).

/// Runs `f` under loom at preemption bound `default_bound`, unless
/// `LOOM_MAX_PREEMPTIONS` sets a bound for every model, and prints how many
/// executions loom explored. `LOOM_MAX_DURATION` must stay unset: loom reports
/// success silently when it expires.
pub fn model<F>(default_bound: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    // `Builder::new` reads LOOM_MAX_PREEMPTIONS; only set our default without it.
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(default_bound);
    }
    builder.max_branches = 100_000;
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    eprintln!(
        "loom: {} executions (preemption bound {:?})",
        runs.load(std::sync::atomic::Ordering::Relaxed),
        builder.preemption_bound
    );
}
