#!/usr/bin/env bash
# What the lab proxy adds beyond the delay it is asked for, under the load the target names
# ("at most 50 us beyond the asked delay at p99 under 10,000 commands/s"):
#   1. a private redis-server on a free loopback port;
#   2. for each --rtt (0, 0.5ms, 2ms, 5ms): `respscope proxy` in front of it, and
#      examples/proxy_load.rs sending PINGs at 10,000 a second, each connection sequential
#      (enough connections that none still waits for its reply when its turn comes back),
#      directly and through the proxy in alternate 100 ms blocks, so both see the
#      machine in the same state;
#   3. prints each run's p50 / p99 / p99.9 / max and the proxy's added time at each
#      percentile (proxy minus direct minus the asked round trip), then a summary table;
#   4. what this machine takes to wake a thread (a timed sleep, a socket hop): the floor
#      under the added time, since the proxy pays at least one hop per direction.
# A benchmark, not a test: it asserts nothing. Everything it starts is stopped by pid.
# Usage: scripts/bench_proxy.sh [--rate N] [--seconds S] [--rtts "0 500 2000 5000"]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=10000
seconds=5
rtts="0 500 2000 5000"
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --rtts) rtts=$2; shift 2 ;;
    *) echo "usage: $0 [--rate N] [--seconds S] [--rtts \"0 500 2000 5000\"]" >&2; exit 2 ;;
  esac
done
for t in redis-server redis-cli; do
  command -v "$t" >/dev/null || { echo "$0: needs $t (scripts/setup.sh installs it)" >&2; exit 2; }
done
target=${CARGO_TARGET_DIR:-target}
bin=${RESPSCOPE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --profile ci --quiet --bin respscope
  bin=$target/ci/respscope
fi
cargo build --profile ci --quiet --example proxy_load
load=$target/ci/examples/proxy_load
out=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -s "$out/redis.pid" ] && kill "$(cat "$out/redis.pid")" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$out/redis.pid" --logfile "$out/redis.log"
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# Starts the proxy with `--rtt $1us`; sets $proxy_port and $proxy_pid.
start_proxy() {
  "$bin" proxy --to "127.0.0.1:$port" --rtt "$1us" >"$out/proxy-$1.out" 2>"$out/proxy-$1.err" &
  proxy_pid=$!
  pids+=("$proxy_pid")
  proxy_port=""
  for _ in $(seq 50); do
    proxy_port=$(grep -o '127\.0\.0\.1:[0-9]*' "$out/proxy-$1.out" 2>/dev/null | head -1 | cut -d: -f2 || true)
    [ -n "$proxy_port" ] && break; sleep 0.1
  done
  [ -n "$proxy_port" ] || { echo "$0: the proxy did not start:" >&2; cat "$out/proxy-$1.err" >&2; exit 1; }
}

echo "$rate PING/s for ${seconds}s each way per --rtt, direct and through the proxy ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
summary=()
for rtt in $rtts; do
  start_proxy "$rtt"
  timeout $((seconds * 2 + 30)) "$load" "$port" "$proxy_port" "$rtt" "$rate" "$seconds" >"$out/load-$rtt"
  grep -v "^ADDED" "$out/load-$rtt"
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  summary+=("$(grep '^ADDED' "$out/load-$rtt")")
done
echo "added beyond the asked round trip (load now $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '  %-8s %8s %8s %8s\n' "--rtt" "p50" "p99" "p99.9"
for line in "${summary[@]}"; do
  read -r _ r a50 a99 a999 <<<"$line"
  printf '  %-8s %5s us %5s us %5s us\n' "${r}us" "$a50" "$a99" "$a999"
done
echo "this machine's wake-ups (the floor: the proxy adds at least one socket hop per direction):"
"$load" wake
