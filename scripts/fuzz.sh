#!/usr/bin/env bash
# Runs one coverage-guided fuzz target (cargo-fuzz, libFuzzer) for SECONDS seconds.
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER-OPTION...]
#
# Targets (fuzz/fuzz_targets/): file (bytes as a capture, through analyze and every report
# format), resp_stream (the RESP stream cut anywhere, with gaps), reassembly (TCP reassembly
# fed arbitrary segments). libFuzzer needs a nightly compiler; where none is installed this
# says so and exits 0: CI and the stable build never depend on it.
#
# Seeds come from fuzz/corpus/TARGET (made by fuzz/make_seeds.py); inputs found on the way go
# to fuzz/work/TARGET (not committed), a crash to fuzz/artifacts/TARGET/ with the command that
# replays it. Debug assertions and overflow checks are on: an arithmetic overflow is a finding.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: scripts/fuzz.sh file|resp_stream|reassembly SECONDS [LIBFUZZER-OPTION...]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
target=$1
secs=$2
shift 2
case $target in
    file | resp_stream | reassembly) ;;
    *) usage ;;
esac
[[ $secs =~ ^[0-9]+$ ]] || usage

if ! command -v rustup >/dev/null || ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz.sh: no nightly Rust toolchain, which cargo-fuzz needs; not fuzzing." >&2
    echo "fuzz.sh: 'rustup toolchain install nightly' adds one (CI does not need it)." >&2
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# Room for inputs as large as the bugs they find: a resync loop needs tens of KB of stream.
# The file target starts analyzer threads, whose frees libFuzzer's leak check reads as leaks
# and then runs each such input again: a quarter of the time for nothing.
leaks=1
case $target in
    file) max_len=131072 leaks=0 ;;
    resp_stream) max_len=65536 ;;
    reassembly) max_len=4096 ;;
esac
mkdir -p "fuzz/work/$target"
exec cargo +nightly fuzz run --debug-assertions "$target" "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -max_len="$max_len" -detect_leaks="$leaks" -timeout=10 -print_final_stats=1 "$@"
