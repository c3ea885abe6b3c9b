#!/usr/bin/env python3
"""Print the table of scripts/bench.sh from what it left in bench-out/.

Reads, for each capture NAME given: NAME.pcap (its size), NAME.pcap.meta
(port, requests per test, pipeline depth, tcpdump's counters),
NAME.respscope.json (respscope's report: packets, commands, replies) and
times.tsv (one line per timed run). Prints the table on stdout; bench.sh
tees it to bench-out/results.txt. Targets are reported, never enforced.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

TESTS = 5  # set,get,incr,lpush,mset
SETUP_COMMANDS = 2  # CONFIG GET save, CONFIG GET appendonly

TARGET_VS_TSHARK = 100.0  # respscope at least this many times faster than tshark
TARGET_VS_RAW = 1.3  # respscope at most this many times tcpdump -r (every capture)
TARGET_CMDS_PER_S = 4_500_000  # on the P16 capture, on 2 cores
TARGET_RSS_MB = 50.0


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def read_times(path):
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return rows


def fnum(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def fsec(x):
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def ratio(x):
    return "-" if x is None else (f"{x:.2f}x" if x < 10 else f"{x:,.0f}x")


def table(rows, aligns):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(r, widths, aligns)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def tool_stats(rows, cap, tool):
    runs = [r for r in rows if r["capture"] == cap and r["tool"] == tool]
    if not runs:
        return None
    if all(r["status"] == "skipped" for r in runs):
        return {"status": "skipped", "runs": 0}
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        walls = [float(r["wall_s"]) for r in runs if r["wall_s"] not in ("-", "?")]
        return {"status": runs[0]["status"], "runs": len(runs), "wall": max(walls) if walls else None}
    walls = [float(r["wall_s"]) for r in ok]
    rss = [int(r["maxrss_kb"]) for r in ok if r["maxrss_kb"].isdigit()]
    try:
        cpu = statistics.median(float(r["user_s"]) + float(r["sys_s"]) for r in ok)
    except ValueError:
        cpu = None
    return {
        "status": "ok",
        "runs": len(ok),
        "wall": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "rss_mb": max(rss) / 1024 if rss else None,
        "cpu": cpu,
    }


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", required=True)
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("--elapsed", type=int, default=None)
    ap.add_argument("captures", nargs="+")
    a = ap.parse_args()

    times = read_times(os.path.join(a.out, "times.tsv"))
    lines = []
    odd = []
    p = lines.append

    rev = version(["git", "-C", a.root, "describe", "--always", "--dirty"])
    p(f"respscope benchmark, --size {a.size}")
    p(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}; "
        f"respscope {version([a.bin, '--version']).split()[-1]} (git {rev}); "
        f"{version(['tshark', '--version']).split(' (Git')[0]}; "
        f"{version(['tcpdump', '--version'])}"
    )
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    p(f"runs: respscope and tcpdump median of {a.runs} (wall clock); {a.note}")
    p(f"load average at the end: {load} (the machine may be shared: spread is in min..max)")
    p("")

    caps = {}
    for cap in a.captures:
        path = os.path.join(a.out, cap + ".pcap")
        meta = read_meta(path + ".meta")
        with open(os.path.join(a.out, cap + ".respscope.json")) as f:
            rep = json.load(f)
        n = int(meta["N"])
        c = {
            "file": cap + ".pcap",
            "mb": os.path.getsize(path) / 1e6,
            "meta": meta,
            "packets": rep["capture"]["packets"],
            "commands": rep["totals"]["commands"],
            "replies": rep["totals"]["replies"],
            "connections": rep["totals"]["connections"],
            "expected": TESTS * n + SETUP_COMMANDS,
            "rep": rep,
        }
        for tool in ("respscope", "tshark", "tcpdump"):
            c[tool] = tool_stats(times, cap, tool)
        caps[cap] = c

        if c["commands"] != c["expected"]:
            odd.append(
                f"{c['file']}: respscope counts {c['commands']:,} commands, expected "
                f"{c['expected']:,} (5 x {n:,} + 2 CONFIG GET), off by {c['commands'] - c['expected']:+,}"
            )
        if c["replies"] != c["commands"]:
            odd.append(f"{c['file']}: {c['replies']:,} replies for {c['commands']:,} commands")
        if meta.get("DROPPED") not in ("0", None):
            odd.append(f"{c['file']}: tcpdump reported {meta.get('DROPPED')} packets dropped by kernel")
        if meta.get("CAPTURED", "?").isdigit() and int(meta["CAPTURED"]) != c["packets"]:
            odd.append(
                f"{c['file']}: tcpdump captured {int(meta['CAPTURED']):,} packets, respscope read {c['packets']:,}"
            )
        tot = rep["totals"]
        for k in ("parse_errors", "gaps", "retransmissions", "errors"):
            if tot.get(k):
                odd.append(f"{c['file']}: totals.{k} = {tot[k]:,}")
        for k in ("skipped_packets", "snapped_segments", "untracked_connections"):
            if rep["capture"].get(k):
                odd.append(f"{c['file']}: capture.{k} = {rep['capture'][k]:,}")
        for w in rep["capture"].get("warnings") or []:
            odd.append(f"{c['file']}: warning: {w}")

    # captures
    rows = [["capture", "size MB", "packets", "commands", "expected", "replies", "conns", "-n", "-P", "port"]]
    for c in caps.values():
        m = c["meta"]
        rows.append(
            [
                c["file"],
                fnum(c["mb"], 1),
                fnum(c["packets"]),
                fnum(c["commands"]),
                fnum(c["expected"]),
                fnum(c["replies"]),
                fnum(c["connections"]),
                fnum(int(m["N"])),
                m["PIPELINE"],
                m["PORT"],
            ]
        )
    lines += table(rows, "<>>>>>>>>>")
    p("")

    # tools
    rows = [["capture", "tool", "runs", "median s", "min..max s", "cpu s", "MB/s", "commands/s", "max RSS MB"]]
    for c in caps.values():
        for tool in ("respscope", "tshark", "tcpdump"):
            s = c[tool]
            if s is None:
                continue
            if s["status"] != "ok":
                what = "skipped" if s["status"] == "skipped" else f"{s['status']} after {fsec(s.get('wall'))} s"
                rows.append([c["file"], tool, str(s["runs"]), what, "", "", "", "", ""])
                continue
            spread = f"{fsec(s['min'])}..{fsec(s['max'])}" if s["runs"] > 1 else ""
            rows.append(
                [
                    c["file"],
                    tool,
                    str(s["runs"]),
                    fsec(s["wall"]),
                    spread,
                    fsec(s["cpu"]),
                    fnum(c["mb"] / s["wall"], 1),
                    fnum(c["commands"] / s["wall"]) if tool == "respscope" else "",
                    fnum(s["rss_mb"], 1),
                ]
            )
    lines += table(rows, "<<>>>>>>>")
    p("median s: wall clock; cpu s: median user+sys; MB/s and commands/s from the median")
    p("")

    # ratios
    rows = [["capture", "x faster than tshark", "x raw read time", "x raw read cpu", "RSS respscope", "RSS tshark"]]
    for c in caps.values():
        r, t, d = c["respscope"], c["tshark"], c["tcpdump"]
        c["vs_tshark"] = t["wall"] / r["wall"] if t and t["status"] == "ok" else None
        c["vs_tshark_lower"] = (
            t["wall"] / r["wall"] if t and t["status"] == "timeout" and t.get("wall") else None
        )
        c["vs_raw"] = r["wall"] / d["wall"] if d and d["status"] == "ok" else None
        c["vs_raw_cpu"] = r["cpu"] / d["cpu"] if d and d["status"] == "ok" and r["cpu"] and d["cpu"] else None
        vt = ratio(c["vs_tshark"])
        if c["vs_tshark_lower"]:
            vt = f">{ratio(c['vs_tshark_lower'])} (tshark timed out)"
        elif t and t["status"] == "skipped":
            vt = "- (tshark skipped)"
        rows.append(
            [
                c["file"],
                vt,
                ratio(c["vs_raw"]),
                ratio(c["vs_raw_cpu"]),
                f"{fnum(r['rss_mb'], 1)} MB",
                f"{fnum(t['rss_mb'], 1)} MB" if t and t["status"] == "ok" else "-",
            ]
        )
    lines += table(rows, "<>>>>>")
    p("x raw read: respscope's median over tcpdump -r's (wall clock, then user+sys CPU)")
    p("")

    # targets
    def verdict(ok):
        return "PASS" if ok else "MISS"

    rows = [["target", "capture", "measured", "result"]]
    for c in caps.values():
        v = c["vs_tshark"] if c["vs_tshark"] is not None else c["vs_tshark_lower"]
        if v is None:
            rows.append([f"respscope >= {TARGET_VS_TSHARK:.0f}x faster than tshark", c["file"], "tshark not run", "-"])
        else:
            rows.append(
                [
                    f"respscope >= {TARGET_VS_TSHARK:.0f}x faster than tshark",
                    c["file"],
                    ratio(v) if c["vs_tshark"] is not None else ">" + ratio(v),
                    verdict(v >= TARGET_VS_TSHARK),
                ]
            )
    for c in caps.values():
        v = c["vs_raw"]
        rows.append(
            [
                f"respscope <= {TARGET_VS_RAW:.1f}x raw read time",
                c["file"],
                ratio(v),
                "-" if v is None else verdict(v <= TARGET_VS_RAW),
            ]
        )
    for c in caps.values():
        if c["meta"]["PIPELINE"] == "16":
            v = c["commands"] / c["respscope"]["wall"]
            rows.append(
                [f">= {TARGET_CMDS_PER_S:,} commands/s (P16)", c["file"], f"{fnum(v)}/s", verdict(v >= TARGET_CMDS_PER_S)]
            )
    for c in caps.values():
        v = c["respscope"]["rss_mb"]
        rows.append([f"respscope RSS <= {TARGET_RSS_MB:.0f} MB", c["file"], f"{fnum(v, 1)} MB", verdict(v <= TARGET_RSS_MB)])
    lines += table(rows, "<<><")
    p("(targets are reported, not enforced)")

    p("")
    if odd:
        p("odd:")
        for o in odd:
            p(f"  - {o}")
    else:
        p("odd: nothing (commands = 5 x N + 2, replies = commands, no drops, no parse errors)")
    if a.elapsed is not None:
        p(f"bench.sh took {a.elapsed // 60} min {a.elapsed % 60} s")

    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
