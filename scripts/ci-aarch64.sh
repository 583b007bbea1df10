#!/usr/bin/env bash
# aarch64 Linux stage (#30): the whole test suite, as README gives it
# (`cargo test --release --all-features`: unit, linearizability, notify,
# stress, the cross-process tests of tests/shm.rs and the doctests), built for
# aarch64-unknown-linux-gnu and run under qemu-user.
#
# Emulated, not hardware: QEMU's TCG on an x86 host keeps x86's strong memory
# order, so this runs the aarch64 code paths (128-bit CAS, fences, futexes,
# file locks, /proc) but not weak-memory reorderings; loom and Miri check the
# memory model. There is no binfmt registration: cargo starts each test binary
# through the runner below, and tests/shm.rs starts its child processes through
# the same runner, read from NOCLOBBER_TEST_RUNNER.
#
# Installs what it needs on Debian 12 (as root): qemu-user, the aarch64 cross
# linker and libc, the rustup target. Idempotent; target dir target/aarch64.
# About 5 minutes on the 2-core dev host, builds included.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
SYSROOT=/usr/aarch64-linux-gnu
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
apt_install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
rustup target add "$TARGET"
echo "aarch64: setup $(($(date +%s) - t)) s"

export CARGO_TARGET_DIR=target/aarch64
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $SYSROOT"
# The process tests re-execute their own binary: through the same emulator.
export NOCLOBBER_TEST_RUNNER="$CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER"
# Blind delays aimed inside a child's work scale by this (a child takes about
# 90 ms to start under qemu-user, a few ms natively).
export NOCLOBBER_TEST_SLOWDOWN=10

t=$(date +%s)
cargo test --release --all-features --target "$TARGET" --no-run
echo "aarch64: build $(($(date +%s) - t)) s"

t=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release --all-features --target "$TARGET" 2>&1 | tee "$log" || status=$?
echo "aarch64: tests $(($(date +%s) - t)) s"
if [ "$status" -ne 0 ]; then
    echo "aarch64: tests FAILED under qemu-user (exit $status)" >&2
    exit 1
fi
# The process tests must have run (not compiled out): tests/shm.rs runs 16.
shm=$(awk '/Running tests\/shm\.rs/ { s = 1 } s && /^test result:/ { print $4; exit }' "$log")
if [ "${shm:-0}" -lt 10 ]; then
    echo "aarch64: tests/shm.rs ran ${shm:-no} tests, expected its process tests" >&2
    exit 1
fi
echo "aarch64: stage ok in $(($(date +%s) - start)) s ($shm process tests under qemu-user)"
