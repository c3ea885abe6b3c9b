#!/usr/bin/env bash
# The main job: set up, build, and open the console on a private redis-server driven by
# built-in workloads (sequential, pipelined, Jedis-style 8192-byte flushes, Lettuce-style
# 16-command batches, a slow reader stalling its TCP window, several interleaved clients, a
# 80 ms stall and a client that stops reading, so each alert shows within a minute; R restarts
# the private server).
# Live capture needs root or capture rights; without them the console replays the bundled
# capture and says so. Quit with q.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "demo: building respscope (the first build takes a few minutes)..." >&2
cargo build --release --quiet
exec target/release/respscope demo "$@"
