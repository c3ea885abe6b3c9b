#!/usr/bin/env bash
# bench.sh: measure how fast `respscope analyze` reads real Redis traffic,
# next to Wireshark's RESP dissector (tshark) and a raw pcap read (tcpdump).
#
# Usage: scripts/bench.sh [--size small|full] [--regen] [--no-tshark] [--runs N]
#
#   --size small       (default) about 50 MB per capture; ~35 s on 2 cores
#   --size full        about 500 MB per capture; ~4 min on 2 cores, 1 GB of
#                      disk (the captures of one size replace the other's)
#   --regen            record the captures again even if they are present
#   --no-tshark        skip tshark (50-110x slower than respscope: on
#                      --size full 40-130 s and up to 1.2 GB RSS per file)
#   --runs N           timed runs of respscope and tcpdump (default 5;
#                      tshark always runs once)
#
# What it does (as root: tcpdump needs to capture on lo):
#  1. installs redis-server, redis-tools, tcpdump, tshark and GNU time with
#     apt-get when missing, and builds target/release/respscope when missing;
#  2. starts its own redis-server on a free loopback port P and records two
#     captures of redis-benchmark (set,get,incr,lpush,mset, 100-byte values,
#     50 clients) into bench-out/: mixed-P1.pcap (no pipelining, one command
#     per packet) and mixed-P16.pcap (16 commands per write). A capture is
#     reused when bench-out/NAME.pcap.meta says it was made for this --size;
#  3. times on each capture: respscope analyze --format json, tshark with the
#     RESP dissector (-d tcp.port==P,resp, since P is not 6379) printing every
#     bulk string, and tcpdump -r (raw read, the floor for any pcap reader).
#     Wall time is the median of the runs (taken with date +%s%N around
#     /usr/bin/time, whose %e is only 10 ms fine), max RSS from time's %M;
#  4. prints a table (bench_report.py): size, packets, commands, per tool
#     median seconds, MB/s, commands/s and RSS; the ratios (x faster than
#     tshark, x tcpdump's raw read time); and the targets (>= 100x faster than
#     tshark, <= 1.3x raw read time on both captures, >= 4.5M commands/s on
#     P16 on 2 cores, RSS <= 50 MB) as PASS/MISS;
#  5. writes that table to bench-out/results.txt too (raw numbers in
#     bench-out/times.tsv, respscope's report in bench-out/NAME.respscope.json).
#
# Targets are printed, never enforced: the exit status is 0 on MISS, and
# non-zero only when a tool is missing or a step fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=$ROOT/bench-out
BIN=$ROOT/target/release/respscope

SIZE=small
REGEN=0
WITH_TSHARK=1
RUNS=5
TSHARK_TIMEOUT=3600   # seconds for one tshark run
TOOL_TIMEOUT=600      # seconds for one respscope or tcpdump run

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --size) [[ $# -ge 2 ]] || die "--size needs small or full"; SIZE=$2; shift 2 ;;
        --size=*) SIZE=${1#--size=}; shift ;;
        --regen) REGEN=1; shift ;;
        --no-tshark) WITH_TSHARK=0; shift ;;
        --runs) [[ $# -ge 2 ]] || die "--runs needs a number"; RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "--runs must be 1..99"

# requests per test (-n) for each capture; 5 tests, so 5*N commands plus the
# 2 CONFIG GET that redis-benchmark sends first
case $SIZE in
    small) N_P1=20000;  N_P16=28000 ;;
    full)  N_P1=200000; N_P16=280000 ;;
    *) die "--size must be small or full" ;;
esac

mkdir -p "$OUT"

REDIS_PORT=
TCPDUMP_PID=

cleanup() {
    local rc=$?
    if [[ -n $TCPDUMP_PID ]]; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
    fi
    stop_redis
    rm -f "$OUT"/*.pcap.tmp
    [[ $rc == 0 ]] || log "failed (exit $rc); logs are in $OUT"
}
trap cleanup EXIT

# ---------------------------------------------------------------- install
install_tools() {
    local missing=() t
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null || missing+=(redis-tools)
    command -v tcpdump >/dev/null || missing+=(tcpdump)
    command -v tshark >/dev/null || missing+=(tshark)
    [[ -x /usr/bin/time ]] || missing+=(time)
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing ${missing[*]} with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        timeout 600 apt-get update -q
        timeout 900 apt-get install -y -q "${missing[@]}"
    fi
    for t in redis-server redis-cli redis-benchmark tcpdump tshark python3; do
        command -v "$t" >/dev/null || die "$t is missing"
    done
    [[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (package time)"
    if [[ ! -x $BIN ]]; then
        command -v cargo >/dev/null || die "cargo is missing: cannot build respscope"
        log "building respscope (cargo build --release)"
        (cd "$ROOT" && cargo build --release)
    fi
    [[ -x $BIN ]] || die "$BIN is missing"
}

# ---------------------------------------------------------------- server
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start_redis() {
    REDIS_PORT=$(free_port)
    rm -f "$OUT/redis.pid"
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$OUT/redis.pid" --logfile "$OUT/redis.log" \
        || die "redis-server did not start (see $OUT/redis.log)"
    local i
    for i in $(seq 1 100); do
        if [[ $(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; then
            return 0
        fi
        sleep 0.1
    done
    die "redis-server on port $REDIS_PORT does not answer PING"
}

stop_redis() {
    [[ -n $REDIS_PORT ]] || return 0
    timeout 10 redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    local i pid=
    [[ -s $OUT/redis.pid ]] && pid=$(cat "$OUT/redis.pid")
    for i in $(seq 1 50); do
        [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
    fi
    REDIS_PORT=
}

# ---------------------------------------------------------------- capture
# capture NAME PIPELINE N: record redis-benchmark into $OUT/NAME.pcap and
# write $OUT/NAME.pcap.meta (port, N, pipeline, size, tcpdump's counters)
capture() {
    local name=$1 pipeline=$2 n=$3
    local file=$OUT/$name.pcap tmp=$OUT/$name.pcap.tmp
    local tlog=$OUT/$name.tcpdump.log blog=$OUT/$name.benchmark.log
    [[ -n $REDIS_PORT ]] || start_redis
    rm -f "$tmp" "$file" "$file.meta"
    log "capturing $name.pcap: redis-benchmark -n $n -P $pipeline on port $REDIS_PORT"
    # no --immediate-mode: with it libpcap uses TPACKET_V2, whose ring slots
    # are sized for lo's 64 KiB MTU, so -B 65536 holds only ~1000 packets and
    # the kernel drops packets of the P1 run (gaps in the capture)
    tcpdump -i lo -U -B 65536 -s 0 -w "$tmp" "tcp port $REDIS_PORT" 2>"$tlog" &
    TCPDUMP_PID=$!
    local i
    for i in $(seq 1 50); do
        grep -q 'listening on' "$tlog" 2>/dev/null && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$tlog" >&2; die "tcpdump exited"; }
        sleep 0.1
    done
    sleep 1
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t set,get,incr,lpush,mset \
        -d 100 -r 100000 -n "$n" -c 50 -P "$pipeline" -q >"$blog" 2>&1 \
        || { cat "$blog" >&2; die "redis-benchmark failed for $name"; }
    # -q prints progress lines ending in \r before each result
    tr '\r' '\n' <"$blog" | grep -E 'requests per second' | sed 's/^/[bench]   /' >&2 || true
    # tcpdump may still be behind: SIGINT only once the file has stopped
    # growing for 2 s (at most ~2 min)
    local prev=-1 cur still=0
    for i in $(seq 1 120); do
        sleep 1
        cur=$(stat -c %s "$tmp" 2>/dev/null || echo 0)
        if [[ $cur == "$prev" ]]; then
            still=$((still + 1))
            [[ $still -ge 2 ]] && break
        else
            still=0
        fi
        prev=$cur
    done
    kill -INT "$TCPDUMP_PID"
    for i in $(seq 1 100); do
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$TCPDUMP_PID" 2>/dev/null && kill -TERM "$TCPDUMP_PID" 2>/dev/null
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    local captured received dropped
    captured=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$tlog")
    received=$(sed -n 's/^\([0-9]*\) packets\{0,1\} received by filter.*/\1/p' "$tlog")
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$tlog")
    [[ -s $tmp ]] || die "tcpdump wrote nothing for $name"
    mv "$tmp" "$file"
    cat >"$file.meta" <<EOF
SIZE=$SIZE
PORT=$REDIS_PORT
N=$n
PIPELINE=$pipeline
CAPTURED=${captured:-?}
RECEIVED=${received:-?}
DROPPED=${dropped:-?}
EOF
    log "  $(du -m "$file" | cut -f1) MB, tcpdump: ${captured:-?} captured, ${dropped:-?} dropped by kernel"
    [[ ${dropped:-0} == 0 ]] || log "  WARNING: the kernel dropped packets: counts will be off (try --regen)"
}

# ensure_capture NAME PIPELINE N: reuse $OUT/NAME.pcap if its meta matches
ensure_capture() {
    local name=$1 pipeline=$2 n=$3 file=$OUT/$1.pcap
    if [[ $REGEN == 0 && -s $file && -s $file.meta ]] \
        && grep -qx "SIZE=$SIZE" "$file.meta" && grep -qx "N=$n" "$file.meta" \
        && grep -qx "PIPELINE=$pipeline" "$file.meta"; then
        log "reusing $name.pcap ($(du -m "$file" | cut -f1) MB; --regen to record again)"
        return 0
    fi
    capture "$name" "$pipeline" "$n"
}

# ---------------------------------------------------------------- timing
TIMES=$OUT/times.tsv

# timed CAPTURE TOOL RUN TIMEOUT CMD...: run CMD with stdout to /dev/null,
# append "capture tool run wall elapsed user sys maxrss_kb status" to $TIMES
timed() {
    local cap=$1 tool=$2 run=$3 limit=$4
    shift 4
    local tf=$OUT/.time.$$ ef=$OUT/$cap.$tool.stderr rc=0 t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%e %U %S %M' -o "$tf" timeout "$limit" "$@" >/dev/null 2>"$ef" || rc=$?
    t1=$(date +%s%N)
    local e u s m status=ok
    read -r e u s m <"$tf" || true
    # time -o writes "Command exited with non-zero status N" first on failure
    if [[ $rc != 0 ]]; then
        read -r e u s m < <(tail -n 1 "$tf") || true
        if [[ $rc == 124 ]]; then status=timeout; else status=fail$rc; fi
    fi
    rm -f "$tf"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cap" "$tool" "$run" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')" \
        "${e:-?}" "${u:-?}" "${s:-?}" "${m:-?}" "$status" >>"$TIMES"
    log "  $tool run $run: $(tail -n 1 "$TIMES" | cut -f4) s, max RSS $(( ${m:-0} / 1024 )) MB ($status)"
    case $status in
        ok) ;;
        timeout) log "  $tool hit the ${limit} s limit on $cap" ;;
        *) sed 's/^/[bench]   /' "$ef" | tail -n 20 >&2; die "$tool failed on $cap (exit $rc)" ;;
    esac
}

bench_capture() {
    local name=$1 file=$OUT/$1.pcap port run
    port=$(sed -n 's/^PORT=//p' "$file.meta")
    [[ -n $port ]] || die "no port in $file.meta"
    log "benchmarking $name.pcap (port $port)"

    # untimed: the report whose counts go in the table; also warms the cache
    timeout "$TOOL_TIMEOUT" "$BIN" analyze "$file" --port "$port" --format json \
        >"$OUT/$name.respscope.json" 2>"$OUT/$name.respscope.stderr" \
        || { cat "$OUT/$name.respscope.stderr" >&2; die "respscope analyze failed on $name.pcap"; }
    for run in $(seq 1 "$RUNS"); do
        timed "$name" respscope "$run" "$TOOL_TIMEOUT" \
            "$BIN" analyze "$file" --port "$port" --format json
    done
    for run in $(seq 1 "$RUNS"); do
        timed "$name" tcpdump "$run" "$TOOL_TIMEOUT" tcpdump -r "$file" -w /dev/null
    done
    if [[ $WITH_TSHARK == 0 ]]; then
        log "  tshark skipped (--no-tshark)"
        printf '%s\ttshark\t0\t-\t-\t-\t-\t-\tskipped\n' "$name" >>"$TIMES"
    else
        timed "$name" tshark 1 "$TSHARK_TIMEOUT" \
            tshark -r "$file" -d "tcp.port==$port,resp" -Y resp -T fields \
            -e resp.bulk_string.value
    fi
}

# ---------------------------------------------------------------- main
START=$(date +%s)
install_tools

ensure_capture mixed-P1 1 "$N_P1"
ensure_capture mixed-P16 16 "$N_P16"
stop_redis

printf 'capture\ttool\trun\twall_s\telapsed_s\tuser_s\tsys_s\tmaxrss_kb\tstatus\n' >"$TIMES"
bench_capture mixed-P1
bench_capture mixed-P16

TSHARK_NOTE="tshark: 1 run on each capture"
[[ $WITH_TSHARK == 1 ]] || TSHARK_NOTE="tshark: skipped (--no-tshark)"

python3 "$HERE/bench_report.py" --out "$OUT" --size "$SIZE" --runs "$RUNS" \
    --bin "$BIN" --root "$ROOT" --note "$TSHARK_NOTE" \
    --elapsed "$(( $(date +%s) - START ))" mixed-P1 mixed-P16 \
    | tee "$OUT/results.txt"
