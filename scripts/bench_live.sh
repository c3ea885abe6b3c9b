#!/usr/bin/env bash
# Live capture under load, measured beside tcpdump on the same traffic:
#   1. a private redis-server on a free loopback port;
#   2. tcpdump -w, `respscope watch --write` (recording pcapng as tcpdump does) and the
#      console (in tmux, 160x45, keeping its full history) all capturing `tcp port P` on lo;
#   3. redis-benchmark -P 16 -c 50 (SET/GET) in rounds for --minutes (default 1);
#   4. prints the kernel drops of tcpdump and of watch's recording and the packets each file
#      holds, the commands watch saw against the server's own INFO commandstats, the RSS of
#      watch and of the console over the run (flat? within 200 MB?), and from
#      examples/console_cost.rs the capture thread's time per snapshot and the time to draw a
#      frame with 1,000 open and 10,000 closed connections kept.
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

# Both write files, rotated the same way (-C 1000 MB, -W 2): 10 minutes at full rate would
# be ~15 GB each otherwise. -Z root: tcpdump drops to its own user after opening the
# capture, and could then not create the next file in a root-owned directory.
rm -f "$out"/live.pcap* "$out"/respscope.pcapng*
tcpdump -i lo -Z root -U -B 65536 -s 0 -C 1000 -W 2 -w "$out/live.pcap" "tcp port $port" 2>"$out/tcpdump.err" &
pids+=($!); tdpid=$!
$bin watch -p "$port" --interval 1 --write "$out/respscope.pcapng" -C 1000 -W 2 >"$out/watch.jsonl" 2>"$out/watch.err" &
pids+=($!); wpid=$!
tmux kill-session -t respscope-bench 2>/dev/null || true
tmux new-session -d -s respscope-bench -x 160 -y 45 "$bin -p $port; sleep 2"
cpid=""
for _ in $(seq 50); do
  cpid=$(pgrep -n -f "^$bin -p $port\$" || true); [ -n "$cpid" ] && break; sleep 0.1
done
sleep 2
: >"$out/rss.txt"; : >"$out/console-rss.txt"
( while kill -0 "$wpid" 2>/dev/null; do ps -o rss= -p "$wpid" >>"$out/rss.txt" || true
    [ -n "$cpid" ] && ps -o rss= -p "$cpid" >>"$out/console-rss.txt" || true; sleep 1; done ) &
pids+=($!)

end=$(( $(date +%s) + minutes * 60 ))
rounds=0
while [ "$(date +%s)" -lt "$end" ] && [ $rounds -lt 1000 ]; do
  timeout 300 redis-benchmark -p "$port" -P 16 -c 50 -n "$requests" -t set,get -q >/dev/null
  rounds=$((rounds + 1))
done
sleep 3
kill -INT "$tdpid" 2>/dev/null || true; wait "$tdpid" 2>/dev/null || true
kill -INT "$wpid" 2>/dev/null || true; sleep 1; kill "$wpid" 2>/dev/null || true
tmux capture-pane -p -t respscope-bench >"$out/console-screen.txt" 2>/dev/null || true
tmux send-keys -t respscope-bench C-c 2>/dev/null || true; sleep 1
[ -n "$cpid" ] && kill "$cpid" 2>/dev/null || true
tmux kill-session -t respscope-bench 2>/dev/null || true

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
print(f"rounds of redis-benchmark -P 16 -c 50: {rounds}")
for n in ("set", "get"):
    s = calls(last, n) - calls(first, n)
    w = wire(last, n.upper()) - wire(first, n.upper())
    print(f"{n.upper():4} server commandstats {s:>10,}   respscope on the wire {w:>10,}   {'equal' if s == w else 'DIFFERENT'}")
print(f"kernel drops: respscope watch --write {loss['kernel_dropped']:,} (if {loss['if_dropped']:,}), tcpdump -w {td_drop:,} of {td_cap:,} captured")
rec = last["wire"]["snapshot"].get("recording") or {}
print(f"packets written: respscope {rec.get('frames', 0):,} in {rec.get('files', '?')} file(s) (recording error: {rec.get('error')}), tcpdump {td_cap:,}")
print(f"  target: respscope drops no more than tcpdump: {'PASS' if loss['kernel_dropped'] <= max(td_drop, 0) else 'MISS'}")
for name, f in (("watch", "rss.txt"), ("console", "console-rss.txt")):
    rss = [int(x) for x in open(f"{out}/{f}").read().split() if x.strip().isdigit()]
    if rss:
        half = len(rss) // 2
        print(f"respscope {name} RSS over {len(rss)} s: min {min(rss)/1024:.1f} MB, max {max(rss)/1024:.1f} MB, "
              f"first half max {max(rss[:half] or rss)/1024:.1f} MB, second half max {max(rss[half:])/1024:.1f} MB"
              f"{'   target <= 200 MB: ' + ('PASS' if max(rss) <= 200 * 1024 else 'MISS') if name == 'console' else ''}")
PY
target/release/examples/console_cost 1000 10000
target/release/examples/console_cost 50 10000
# The files were only needed for the writers' own counts.
rm -f "$out"/live.pcap* "$out"/respscope.pcapng*
