#!/usr/bin/env bash
# Miri stage: undefined behaviour, data races and weak-memory effects in the
# unit, linearizability and stress tests (all tests/*.rs except the loom models,
# which are empty without --cfg noclobber_loom, and tests/shm.rs, which needs
# real processes and file mappings). The lib's own tests include the shm header
# protocol on ordinary memory (feature shm), and the async waits (feature async,
# tests/unit_async.rs: tasks on threads, the bridge thread parked). Doctests are
# not run under Miri.
#
# * -Zmiri-strict-provenance: no integer-to-pointer casts.
# * -Zmiri-many-seeds=0..N: every test binary runs once per seed (scheduling and
#   weak-memory choices differ per seed); cheap binaries get more seeds.
# * RUSTFLAGS="-C target-feature=+cmpxchg16b": without it portable-atomic cannot
#   detect cmpxchg16b under Miri (no CPUID) and makes AtomicU128 its lock-based
#   fallback, whose internal lock synchronises every 128-bit access and hides any
#   missing Acquire/Release on the VersionedCell/Publisher heads (measured: the
#   weakened `Ring::commit` passes Miri without the flag, fails with it). With the
#   flag portable-atomic uses core::arch::x86_64::cmpxchg16b, which Miri models
#   with the requested orderings.
# Time on the 2-core dev host: about 6 minutes quiet, twice that when busy.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add miri rust-src --toolchain nightly
cargo +nightly miri setup

SEEDS="${NOCLOBBER_MIRI_SEEDS:-8}"              # unit + linearizability tests
STRESS_SEEDS="${NOCLOBBER_MIRI_STRESS_SEEDS:-3}" # tests/stress.rs
LIMIT="${NOCLOBBER_MIRI_TIMEOUT:-900}"           # seconds per cargo miri invocation
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/miri}"
export RUSTFLAGS="-C target-feature=+cmpxchg16b"
BASE_FLAGS="-Zmiri-strict-provenance"

cheap=(--lib)
stress=()
# Tests whose process keeps a thread to its end: the async bridge thread
# (`src/notify/bridge.rs`) lives as long as the process, which Miri reports
# unless told to ignore leaks (memory leaks too, so only for these).
lasting=()
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case "$name" in
        loom_* | shm) ;;
        stress*) stress+=(--test "$name") ;;
        unit_async) lasting+=(--test "$name") ;;
        *) cheap+=(--test "$name") ;;
    esac
done

start=$(date +%s)
t=$(date +%s)
MIRIFLAGS="$BASE_FLAGS" cargo +nightly miri test --features shm,async --no-run "${cheap[@]}" "${stress[@]}" "${lasting[@]}"
echo "miri: build $(( $(date +%s) - t )) s"

status=0
t=$(date +%s)
if MIRIFLAGS="$BASE_FLAGS -Zmiri-many-seeds=0..$SEEDS" timeout --kill-after=10 "$LIMIT" \
    cargo +nightly miri test --features shm,async --no-fail-fast "${cheap[@]}"; then
    echo "miri: unit + linearizability tests, seeds 0..$SEEDS, ok in $(( $(date +%s) - t )) s"
else
    echo "miri: unit + linearizability tests FAILED (or exceeded ${LIMIT} s) after $(( $(date +%s) - t )) s" >&2
    status=1
fi
if [ ${#lasting[@]} -gt 0 ]; then
    t=$(date +%s)
    if MIRIFLAGS="$BASE_FLAGS -Zmiri-ignore-leaks -Zmiri-many-seeds=0..$SEEDS" timeout --kill-after=10 "$LIMIT" \
        cargo +nightly miri test --features shm,async --no-fail-fast "${lasting[@]}"; then
        echo "miri: async tests, seeds 0..$SEEDS, ok in $(( $(date +%s) - t )) s"
    else
        echo "miri: async tests FAILED (or exceeded ${LIMIT} s) after $(( $(date +%s) - t )) s" >&2
        status=1
    fi
fi
if [ ${#stress[@]} -gt 0 ]; then
    t=$(date +%s)
    if MIRIFLAGS="$BASE_FLAGS -Zmiri-many-seeds=0..$STRESS_SEEDS" timeout --kill-after=10 "$LIMIT" \
        cargo +nightly miri test --features shm,async --no-fail-fast "${stress[@]}"; then
        echo "miri: stress tests, seeds 0..$STRESS_SEEDS, ok in $(( $(date +%s) - t )) s"
    else
        echo "miri: stress tests FAILED (or exceeded ${LIMIT} s) after $(( $(date +%s) - t )) s" >&2
        status=1
    fi
fi
echo "miri: stage $([ $status -eq 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
