#!/usr/bin/env bash
# Windows stage (#30, #29): built for x86_64-pc-windows-gnu with every
# feature and run under wine:
#   1. the lib's unit tests (`shm` included: the writer's lock, process
#      identities, the wake-up semaphore's bits) and every tests/*.rs but the
#      loom models and tests/shm.rs (Unix-only: fork, signals);
#   2. tests/shm_windows.rs, the process tests: writers suspended
#      (`NtSuspendProcess`) and terminated (`TerminateProcess`) while other
#      processes read and wait; its report (successor attach times, wake-up
#      latencies across processes, timeouts with a suspended writer) is
#      printed;
#   3. the doctests (cross-compiled doctests run through the runner, cargo
#      1.89 and later);
#   4. the ShardedCounter tests again CHURN_RUNS times: their thread churn
#      exercises Windows' thread-local destructors, which once left slots
#      held in most runs (#30), not all.
#
# Emulated, not hardware: wine runs the Windows binaries on this Linux kernel
# (Windows' APIs as wine implements them: TLS callbacks, WaitOnAddress, file
# locks, named semaphores, NtSuspendProcess, ...). Where wine and Windows
# differ, the tests say so (wine 8 deletes a mapped file; Windows refuses).
# Debian 12's wine 8 lacks `ProcessPrng` in bcryptprimitives.dll, which
# Rust's std imports, so every test executable would fail to load
# (c0000135): a shim DLL built here from scripts/wine-shim/bcryptprimitives.c
# provides it, found through WINEPATH.
#
# Installs what it needs on Debian 12 (as root): the mingw-w64 linker, wine,
# the rustup target. Idempotent; target dir target/windows, which also holds
# the shim and the wine prefix. About 8 minutes on the 2-core dev host.
#
# Environment: NOCLOBBER_WINE_CHURN_RUNS  repeats of tests/unit_counter.rs (20)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-pc-windows-gnu
CHURN_RUNS=${NOCLOBBER_WINE_CHURN_RUNS:-20}
start=$(date +%s)

# Installs the Debian packages not installed yet (one `apt-get update`).
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

t=$(date +%s)
apt_install gcc-mingw-w64-x86-64 wine wine64
rustup target add "$TARGET"
echo "windows: setup $(($(date +%s) - t)) s"

export CARGO_TARGET_DIR=target/windows
shim="$PWD/$CARGO_TARGET_DIR/wine-shim"
mkdir -p "$shim"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror \
    -o "$shim/bcryptprimitives.dll" scripts/wine-shim/bcryptprimitives.c -ladvapi32

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
export WINEPATH="$shim"
export WINEPREFIX="$PWD/$CARGO_TARGET_DIR/wineprefix"
export WINEDEBUG=-all
# No Mono or Gecko install prompts while the prefix is created.
export WINEDLLOVERRIDES="mscoree,mshtml="
# Stop this prefix's wineserver when done (it lingers a few seconds).
trap 'wineserver -k 2>/dev/null || true' EXIT

# The in-process suites, as in scripts/ci-miri.sh, with the lib's `shm`
# unit tests.
tests=(--lib)
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case "$name" in
        loom_* | shm | shm_windows) ;;
        *) tests+=(--test "$name") ;;
    esac
done

t=$(date +%s)
cargo test --release --all-features --target "$TARGET" --no-run "${tests[@]}" --test shm_windows
echo "windows: build $(($(date +%s) - t)) s"

t=$(date +%s)
if ! cargo test --release --all-features --target "$TARGET" "${tests[@]}"; then
    echo "windows: in-process tests FAILED under wine" >&2
    exit 1
fi
echo "windows: in-process tests $(($(date +%s) - t)) s"

# The process tests, with their report (`--nocapture`).
t=$(date +%s)
if ! cargo test --release --all-features --target "$TARGET" --test shm_windows -- --nocapture; then
    echo "windows: process tests (tests/shm_windows.rs) FAILED under wine" >&2
    exit 1
fi
echo "windows: process tests $(($(date +%s) - t)) s"

t=$(date +%s)
if ! cargo test --release --all-features --target "$TARGET" --doc; then
    echo "windows: doctests FAILED under wine" >&2
    exit 1
fi
echo "windows: doctests $(($(date +%s) - t)) s"

# The churn tests, again and again: one failing run fails the stage.
t=$(date +%s)
counter=$(cargo test --release --all-features --target "$TARGET" --test unit_counter --no-run \
    --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*unit_counter[^"]*\.exe\)".*/\1/p' | tail -n 1)
[ -n "$counter" ] || { echo "windows: no unit_counter executable found" >&2; exit 1; }
failed=0
for i in $(seq 1 "$CHURN_RUNS"); do
    if ! out=$(wine "$counter" -q 2>&1); then
        failed=$((failed + 1))
        echo "windows: unit_counter run $i of $CHURN_RUNS FAILED:"
        printf '%s\n' "$out" | grep -E -A4 'panicked|^failures:|test result' || printf '%s\n' "$out" | tail -n 30
    fi
done
echo "windows: unit_counter under wine: $((CHURN_RUNS - failed)) of $CHURN_RUNS runs passed in $(($(date +%s) - t)) s"
[ "$failed" -eq 0 ] || { echo "windows: ShardedCounter churn tests failed in $failed runs" >&2; exit 1; }
echo "windows: stage ok in $(($(date +%s) - start)) s"
