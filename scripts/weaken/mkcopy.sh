#!/usr/bin/env bash
# Usage: scripts/weaken/mkcopy.sh SRC_CRATE DEST [TEST_FILE...]
# Makes a scratch copy of the crate for mutation runs: Cargo.toml (without the
# [[bench]] / [[example]] tables, whose files are not copied, and with an empty
# [workspace] instead of the repository's, whose `benches/` member is not
# copied and which cargo would otherwise find by walking up from a copy under
# target/), Cargo.lock, src/,
# the named test files (default: tests/loom_*.rs, tests/linearizability.rs and
# tests/unit_async.rs)
# and tests/common/.
set -euo pipefail
src=$1 dest=$2
shift 2
mkdir -p "$dest"
rm -rf "$dest/src" "$dest/tests"
cp -r "$src/src" "$dest/src"
mkdir -p "$dest/tests"
if [ $# -eq 0 ]; then
    set -- "$src"/tests/loom_*.rs "$src"/tests/linearizability.rs "$src"/tests/unit_async.rs
fi
for f in "$@"; do
    [ -e "$f" ] && cp "$f" "$dest/tests/"
done
# Shared test helpers (e.g. the loom model runner).
[ -d "$src/tests/common" ] && cp -r "$src/tests/common" "$dest/tests/"
cp "$src/Cargo.lock" "$dest/Cargo.lock" 2>/dev/null || true
# Drop the [[bench]] and [[example]] tables and the [workspace] table (and
# their keys), keep everything else, and make the copy a workspace of its own.
awk '
    /^\[\[(bench|example)\]\]/ || /^\[workspace\]/ { skip = 1; next }
    /^\[/ { skip = 0 }
    !skip { print }
    END { print ""; print "[workspace]" }
' "$src/Cargo.toml" > "$dest/Cargo.toml.new"
mv "$dest/Cargo.toml.new" "$dest/Cargo.toml"
