#!/usr/bin/env bash
# Sets up and runs every check respscope has: formatting, lints, unit, property, fixture,
# fuzz-mutation, tshark-oracle and live-capture tests. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# Optimised (the `ci` profile: release without LTO): the fixture, oracle and fuzz tests run
# the binary over real captures, tens of thousands of times.
log=$(mktemp)
skips=$(mktemp)
trap 'rm -f "$log" "$skips"' EXIT
# A test that cannot run (a tool or root missing, outside CI) records itself here; with
# CI=true it fails instead.
export RESPSCOPE_SKIP_LOG=$skips
status=0
cargo test --profile ci 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary; a skipped test returned
# early and libtest counted it as passed, so it is moved to its own count and named.
k=$(wc -l < "$skips")
if [ "$k" -gt 0 ]; then
  echo "skipped (each needs what it names; scripts/setup.sh installs the tools, run as root):"
  sed 's/^/  /' "$skips"
fi
awk -v k="$k" '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed, %d skipped\n", p - k, f, k }' "$log"
exit "$status"
