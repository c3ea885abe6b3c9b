#!/usr/bin/env bash
# The main job: build respscope and analyse the bundled capture of real clients (Jedis-style
# 8192-byte flushes, Lettuce-style 16-command batches, a slow reader stalling the TCP window,
# RESP3 pushes, several interleaved clients).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --build-only
cargo build --release --quiet
exec target/release/respscope analyze assets/demo.pcap "$@"
