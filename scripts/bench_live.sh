#!/usr/bin/env bash
# Live capture under load, measured beside tcpdump on the same traffic:
#   1. a private redis-server on a free loopback port;
#   2. tcpdump and `respscope watch` both capturing `tcp port P` on lo;
#   3. redis-benchmark -P 16 (SET/GET) in rounds for --minutes (default 1);
#   4. prints the kernel drops of each, the commands each saw against the server's own
#      INFO commandstats, respscope's RSS over the run (is it flat?), and the time to draw one
#      console frame with 1000 connections (examples/render_frame.rs).
# Everything runs on loopback, bounded in rounds and time; processes are stopped by pid.
# Needs root (capture). Usage: scripts/bench_live.sh [--minutes N] [--requests N]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=1
requests=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--requests N]" >&2; exit 2 ;;
  esac
done
scripts/setup.sh
cargo build --release --quiet --examples
bin=target/release/respscope
out=bench-out/live
mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}
trap cleanup EXIT
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$PWD/$out/redis.pid" --logfile "$PWD/$out/redis.log"
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

tcpdump -i lo -U -B 65536 -s 0 -w "$out/live.pcap" "tcp port $port" 2>"$out/tcpdump.err" &
pids+=($!); tdpid=$!
$bin watch -p "$port" --interval 1 >"$out/watch.jsonl" 2>"$out/watch.err" &
pids+=($!); wpid=$!
sleep 2
: >"$out/rss.txt"
( while kill -0 "$wpid" 2>/dev/null; do ps -o rss= -p "$wpid" >>"$out/rss.txt" || true; sleep 1; done ) &
pids+=($!)

end=$(( $(date +%s) + minutes * 60 ))
rounds=0
while [ "$(date +%s)" -lt "$end" ] && [ $rounds -lt 1000 ]; do
  timeout 300 redis-benchmark -p "$port" -P 16 -c 50 -n "$requests" -t set,get -q >/dev/null
  rounds=$((rounds + 1))
done
sleep 3
kill -INT "$tdpid"; wait "$tdpid" 2>/dev/null || true
kill -INT "$wpid" 2>/dev/null || true; sleep 1; kill "$wpid" 2>/dev/null || true

python3 - "$out" "$rounds" <<'PY'
import json, re, sys
out, rounds = sys.argv[1], int(sys.argv[2])
lines = [json.loads(l) for l in open(f"{out}/watch.jsonl") if l.strip()]
first = lines[0]
last = next(l for l in reversed(lines) if l["wire"].get("snapshot"))
def calls(v, n):
    return next((c["calls"] for c in v["server"]["commandstats"] if c["name"] == n), 0)
def wire(v, n):
    return v["wire"]["snapshot"]["report"]["commands_by_name"].get(n, 0)
td = open(f"{out}/tcpdump.err").read()
td_drop = int(re.search(r"(\d+) packets dropped by kernel", td).group(1)) if "dropped by kernel" in td else -1
td_cap = int(re.search(r"(\d+) packets captured", td).group(1)) if "captured" in td else -1
loss = last["wire"]["snapshot"]["loss"]
rss = [int(x) for x in open(f"{out}/rss.txt").read().split() if x.strip().isdigit()]
print(f"rounds of redis-benchmark -P 16 -c 50: {rounds}")
for n in ("set", "get"):
    s = calls(last, n) - calls(first, n)
    w = wire(last, n.upper()) - wire(first, n.upper())
    print(f"{n.upper():4} server commandstats {s:>10,}   respscope on the wire {w:>10,}   {'equal' if s == w else 'DIFFERENT'}")
print(f"kernel drops: respscope {loss['kernel_dropped']:,} (if {loss['if_dropped']:,}), tcpdump {td_drop:,} of {td_cap:,} captured")
print(f"  target: respscope drops no more than tcpdump: {'PASS' if loss['kernel_dropped'] <= max(td_drop, 0) else 'MISS'}")
if rss:
    half = len(rss) // 2
    print(f"respscope RSS over {len(rss)} s: min {min(rss)/1024:.1f} MB, max {max(rss)/1024:.1f} MB, "
          f"first half max {max(rss[:half] or rss)/1024:.1f} MB, second half max {max(rss[half:])/1024:.1f} MB")
PY
target/release/examples/render_frame 1000
# The capture was only needed for tcpdump's own counts; at full rate it grows ~1.4 GB a minute.
rm -f "$out/live.pcap"
