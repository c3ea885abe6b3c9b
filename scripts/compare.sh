#!/usr/bin/env bash
# compare.sh: check that two builds of respscope give byte-identical `analyze` output.
#
# Usage: scripts/compare.sh OLD_BINARY [NEW_BINARY] [CAPTURE...]
#
#   NEW_BINARY defaults to target/release/respscope; the captures default to every
#   tests/fixtures/*.pcap and *.pcapng plus bench-out/*.pcap (each bench capture with the
#   --port its .meta file names).
#
# For each capture it runs both binaries with `--format json`, `--segments` and
# `--segments --format json`, and compares stdout byte for byte, and the exit codes. Prints
# one line per capture and output (same / DIFFERS, with the first differing lines), and a
# closing count; exits 1 when anything differs. Keep a copy of the binary from before a
# change (cp target/release/respscope /somewhere/respscope-before) to compare with after it.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

[[ $# -ge 1 ]] || { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 2; }
OLD=$1
NEW=${2:-$ROOT/target/release/respscope}
shift $(($# >= 2 ? 2 : 1))
[[ -x $OLD ]] || { echo "compare: $OLD is not an executable" >&2; exit 2; }
[[ -x $NEW ]] || { echo "compare: $NEW is not an executable" >&2; exit 2; }

captures=("$@")
if [[ ${#captures[@]} -eq 0 ]]; then
    shopt -s nullglob
    captures=("$ROOT"/tests/fixtures/*.pcap "$ROOT"/tests/fixtures/*.pcapng "$ROOT"/bench-out/*.pcap)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
same=0
differ=0
for cap in "${captures[@]}"; do
    ports=()
    if [[ -s $cap.meta ]]; then
        p=$(sed -n 's/^PORT=//p' "$cap.meta")
        [[ -n $p ]] && ports=(--port "$p")
    fi
    name=${cap#"$ROOT"/}
    for mode in json segments segments-json; do
        case $mode in
            json) args=(--format json) ;;
            segments) args=(--segments) ;;
            segments-json) args=(--segments --format json) ;;
        esac
        "$OLD" analyze "$cap" "${ports[@]}" "${args[@]}" >"$tmp/old" 2>"$tmp/old.err"
        old_rc=$?
        "$NEW" analyze "$cap" "${ports[@]}" "${args[@]}" >"$tmp/new" 2>"$tmp/new.err"
        new_rc=$?
        if [[ $old_rc == "$new_rc" ]] && cmp -s "$tmp/old" "$tmp/new"; then
            same=$((same + 1))
            printf 'same     %-14s %s (exit %s, %s bytes)\n' "$mode" "$name" "$new_rc" "$(stat -c %s "$tmp/new")"
        else
            differ=$((differ + 1))
            printf 'DIFFERS  %-14s %s (exit %s -> %s)\n' "$mode" "$name" "$old_rc" "$new_rc"
            diff "$tmp/old" "$tmp/new" | head -n 6 | cut -c1-300 | sed 's/^/         /'
        fi
    done
done
echo "compare: $same same, $differ differ"
[[ $differ == 0 ]]
