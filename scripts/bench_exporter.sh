#!/usr/bin/env bash
# The exporter under load, beside tcpdump on the same traffic, in one run:
#   1. a private redis-server on a free loopback port;
#   2. tcpdump -w /dev/null and `respscope exporter` both capturing `tcp port P` on lo, each
#      with a 32 MiB kernel buffer;
#   3. redis-benchmark -P 16 (SET/GET) with --clients connections (default 1,000), bounded
#      by --requests;
#   4. during the load, /metrics scraped once a second: its time and size (the target: under
#      50 ms and 200 KB with 1,000 clients);
#   5. after it, the kernel drops of each and their ratio, and the exporter's SET count
#      against the server's own INFO commandstats.
# Loopback only, bounded in requests and time; everything stopped by pid. Needs root.
# Usage: scripts/bench_exporter.sh [--requests N] [--clients N]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=2000000
clients=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    *) echo "usage: $0 [--requests N] [--clients N]" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
command -v curl >/dev/null || { echo "bench_exporter: needs curl" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/respscope
out=bench-out/exporter
mkdir -p "$out"
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free); listen=$(free)
ulimit -n 8192 || true
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --maxclients 4000 --daemonize yes \
  --pidfile "$PWD/$out/redis.pid" --logfile "$PWD/$out/redis.log"
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

tcpdump -i lo -B 32768 -s 0 -w /dev/null "tcp port $port" 2>"$out/tcpdump.err" &
pids+=($!); tdpid=$!
$bin exporter -p "$port" --listen "127.0.0.1:$listen" >"$out/exporter.out" 2>&1 &
pids+=($!); epid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$listen/metrics" >/dev/null && break; sleep 0.1; done
sleep 1
before=$(redis-cli -p "$port" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_set:/ {print $3}')
before=${before:-0}
: >"$out/scrapes.txt"
( while kill -0 "$epid" 2>/dev/null; do
    curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$listen/metrics" >>"$out/scrapes.txt" || true
    sleep 1
  done ) &
pids+=($!)
start=$(date +%s.%N)
timeout 300 redis-benchmark -p "$port" -c "$clients" -P 16 -n "$requests" -t set,get -q >"$out/benchmark.txt" 2>&1 || true
took=$(echo "$(date +%s.%N) - $start" | bc)
sleep 3
after=$(redis-cli -p "$port" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_set:/ {print $3}')
metrics=$(curl -s "http://127.0.0.1:$listen/metrics")
kill -INT "$tdpid"; wait "$tdpid" 2>/dev/null || true
td_drops=$(awk '/dropped by kernel/ {print $1}' "$out/tcpdump.err")
td_recv=$(awk '/packets received by filter/ {print $1}' "$out/tcpdump.err")
ex_drops=$(echo "$metrics" | awk '/^respscope_wire_kernel_drops_total / {print $2}')
ex_recv=$(echo "$metrics" | awk '/^respscope_wire_packets_received_total / {print $2}')
ex_set=$(echo "$metrics" | awk -F'[ ]' '/^respscope_wire_commands_total\{command="set"\}/ {print $2}')
echo "load: redis-benchmark -P 16 -c $clients -n $requests -t set,get in ${took%.*} s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kernel drops: tcpdump ${td_drops:-?} of ${td_recv:-?} received; exporter ${ex_drops:-?} of ${ex_recv:-?}"
if [ -n "${td_drops:-}" ] && [ -n "${ex_drops:-}" ]; then
  awk -v t="$td_drops" -v e="$ex_drops" 'BEGIN { printf "exporter/tcpdump drops: %s (target: no more than tcpdump)\n", (t > 0 ? sprintf("%.2fx", e / t) : (e == 0 ? "both 0" : "tcpdump 0, exporter " e)) }'
fi
echo "SET: wire ${ex_set:-?}, server $(( ${after:-0} - before ))"
sort -n "$out/scrapes.txt" | awk '{ t[NR] = $1 * 1000; if ($2 > s) s = $2 } END {
  if (NR == 0) { print "no scrapes"; exit }
  printf "scrapes during the load: %d, time median %.1f ms, max %.1f ms (target < 50 ms); size max %d bytes (target < 200 KB)\n", NR, t[int((NR + 1) / 2)], t[NR], s }'
