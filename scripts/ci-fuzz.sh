#!/usr/bin/env bash
# CI fuzz stage: builds every cargo-fuzz target under fuzz/, runs each for
# FUZZ_SECONDS (default 30) from the committed seeds (fuzz/seeds/<target>) plus
# the working corpus (fuzz/corpus/<target>, gitignored), prints the executions
# per target and exits non-zero if any target crashed, failed an assertion or
# hung (an input running longer than FUZZ_TIMEOUT seconds counts as a hang).
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 30)
#   FUZZ_TIMEOUT  per-input timeout in seconds, i.e. what counts as a hang (default 10)
#   FUZZ_TARGETS  space-separated targets to run (default: all of `cargo fuzz list`)
#
# Needs a nightly toolchain (cargo-fuzz builds with -Zsanitizer=address).
# Artifacts of failures land in fuzz/artifacts/<target>/; see docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "ci-fuzz: no nightly toolchain (cargo +nightly); cargo fuzz needs one" >&2
    exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

TARGETS=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}

t0=$(date +%s)
# One build of all targets; the `run`s below only relink-check.
cargo +nightly fuzz build
echo "ci-fuzz: built in $(($(date +%s) - t0)) s"

logs=$(mktemp -d)
failed=()
summary=()
for target in $TARGETS; do
    mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
    log="$logs/$target.log"
    echo "ci-fuzz: $target for ${FUZZ_SECONDS} s"
    status=ok
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 \
        >"$log" 2>&1 || status=FAILED
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    if [ "$status" != ok ]; then
        failed+=("$target")
        echo "ci-fuzz: $target FAILED; end of its log:"
        # The panic message, the input (Debug) and the artifact path.
        grep -E -m 5 -A 8 "panicked at|ERROR: libFuzzer|ALARM" "$log" || true
        tail -n 40 "$log"
    fi
    summary+=("$(printf '%-16s %12s execs %5s s  %s' "$target" "${execs:-?}" "${secs:-?}" "$status")")
done

echo "ci-fuzz: executions per target"
printf '  %s\n' "${summary[@]}"
echo "ci-fuzz: total $(($(date +%s) - t0)) s"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "ci-fuzz: failing targets: ${failed[*]} (artifacts in fuzz/artifacts/)" >&2
    exit 1
fi
