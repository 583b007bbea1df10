#!/usr/bin/env bash
# i686 Linux stage (#30): the in-process test suites (the lib's unit tests and
# every tests/*.rs but the loom models and tests/shm.rs) built for
# i686-unknown-linux-gnu and run natively: the x86_64 kernel runs 32-bit
# binaries. 64-bit atomics are native there (`cmpxchg8b`); there is no
# 128-bit CAS, so portable-atomic's lock-based fallback serves the 128-bit
# types, which report `is_lock_free() == false`
# (tests/unit_versioned.rs checks that).
#
# Installs what it needs on Debian 12 (as root): the i686 cross linker and libc
# to link, the 32-bit loader and libgcc_s to run (not gcc-multilib, which
# removes the cross compilers), the rustup target. Idempotent; target dir
# target/i686. About 2 minutes on the 2-core dev host.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=i686-unknown-linux-gnu
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
apt_install gcc-i686-linux-gnu libc6-dev-i386-cross libc6-i386 lib32gcc-s1
rustup target add "$TARGET"
echo "i686: setup $(($(date +%s) - t)) s"

export CARGO_TARGET_DIR=target/i686
export CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER=i686-linux-gnu-gcc

# The in-process suites, as in scripts/ci-miri.sh.
tests=(--lib)
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case "$name" in
        loom_* | shm) ;;
        *) tests+=(--test "$name") ;;
    esac
done

t=$(date +%s)
cargo test --release --target "$TARGET" --no-run "${tests[@]}"
echo "i686: build $(($(date +%s) - t)) s"

t=$(date +%s)
if ! cargo test --release --target "$TARGET" "${tests[@]}"; then
    echo "i686: in-process tests FAILED" >&2
    exit 1
fi
echo "i686: in-process tests $(($(date +%s) - t)) s"
echo "i686: stage ok in $(($(date +%s) - start)) s"
