#!/usr/bin/env bash
# Installs what respscope needs on a fresh Debian machine, only what is missing:
# libpcap-dev to build; redis-server/redis-tools, tcpdump and tshark for the tests (real
# servers, real captures, tshark as the reference); tmux for driving the console as a person;
# openssl to make the TLS tests' certificates, ca-certificates for the system's trust store;
# GNU time to measure the peak memory of the binary under test, iproute2 for the test hosts
# (network namespaces, veth) where capture loss is tried; librsvg2-bin's rsvg-convert renders
# the labs' SVG charts in a test; prometheus scrapes the exporter in a test (each test starts
# its own on a free port; the package's service is not used); groff-base checks the man page;
# curl scrapes in scripts/bench_exporter.sh; python3-redis (redis-py 4.3 on Debian 12, with
# RedisCluster) is the cluster-aware client of the Redis Cluster tests. The flush-verdict test
# (tests/client_verdicts.rs) records real client libraries under strace: strace, gcc with
# libhiredis-dev (C hiredis), golang-go with golang-github-gomodule-redigo-dev (Go redigo, built
# from /usr/share/gocode without modules); scripts/fixtures/record_clients.sh also records
# ruby-redis (redis-rb) and libredis-perl (Redis.pm).
set -euo pipefail

want=(libpcap-dev pkg-config redis-server redis-tools tcpdump tshark tmux openssl ca-certificates time iproute2 librsvg2-bin prometheus groff-base curl python3-redis
  strace gcc libhiredis-dev golang-go golang-github-gomodule-redigo-dev ruby-redis libredis-perl)
[ "${1:-}" = "--build-only" ] && want=(libpcap-dev pkg-config)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }
