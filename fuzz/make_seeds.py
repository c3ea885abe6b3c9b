#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from tests/fixtures.

    fuzz/make_seeds.py            # rewrites fuzz/corpus/{file,resp_stream,reassembly}

- file: small captures. Fixtures up to 16 KB whole; larger ones cut to a few packets (20 KB
  at most: every byte of a seed costs time in each run) from the start (with the handshake)
  and from the middle (no SYN), every link type and both pcap and pcapng kept, so the fuzzer
  starts from each framing the decoder knows.
- resp_stream: the TCP payload of each direction of each connection (tshark reassembles
  nothing here: segments in sequence order, repeats dropped), the first 2 KB, whole and cut
  with a gap, in the layout fuzz_targets/resp_stream.rs reads; plus hostile RESP.
- reassembly: each direction's segments as captured (SYN, FIN, retransmissions, holes and
  reordering included), in the layout fuzz_targets/reassembly.rs reads.

Deterministic: the same fixtures give the same files, named by their hash, so running it
again adds nothing twice and keeps what else is there. The committed corpora also hold
inputs the fuzzers found, minimised to the edges they cover (`cargo fuzz cmin TARGET DIR --
-use_counters=0` over fuzz/work/TARGET). Needs tshark (scripts/setup.sh installs it).
"""
import hashlib
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
WHOLE_BELOW = 16 * 1024
STREAM_PREFIX = 2048
SEGMENTS_PER_SEED = 32
SEGMENT_BYTES = 96


def fixtures():
    return sorted(f for f in os.listdir(FIXTURES) if f.endswith((".pcap", ".pcapng")))


def write(target, data, seen):
    """Writes a seed named by its content hash, as libFuzzer names corpus files."""
    h = hashlib.sha1(data).hexdigest()
    if h in seen:
        return
    seen.add(h)
    with open(os.path.join(CORPUS, target, h), "wb") as f:
        f.write(data)


def pcap_records(raw):
    """(endian, header, records) of a classic pcap, or None."""
    for endian in "<>":
        if struct.unpack(endian + "I", raw[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        return None
    recs, off = [], 24
    while off + 16 <= len(raw):
        incl = struct.unpack(endian + "I", raw[off + 8:off + 12])[0]
        if off + 16 + incl > len(raw):
            break
        recs.append(raw[off:off + 16 + incl])
        off += 16 + incl
    return endian, raw[:24], recs


def file_seeds(seen):
    for name in fixtures():
        raw = open(os.path.join(FIXTURES, name), "rb").read()
        if len(raw) <= WHOLE_BELOW:
            write("file", raw, seen)
            continue
        parsed = pcap_records(raw)
        if parsed is None:
            continue  # the big pcapng fixtures are copies of pcap ones
        _, header, recs = parsed
        for start, n in ((0, 8), (0, 16), (len(recs) // 2, 12)):
            body = b""
            for r in recs[start:start + n]:
                if len(header) + len(body) + len(r) > 20 * 1024:
                    break
                body += r
            if body:
                write("file", header + body, seen)


def tshark_segments(path):
    """Every TCP segment: (stream, srcport, seq, flags, payload) in capture order."""
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport",
         "-e", "tcp.seq_raw", "-e", "tcp.flags", "-e", "tcp.payload"],
        capture_output=True, text=True, check=False).stdout
    segs = []
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 5 or not f[0] or not f[2]:
            continue
        segs.append((int(f[0]), int(f[1]), int(f[2]), int(f[3], 16), bytes.fromhex(f[4])))
    return segs


def resp_seed(stream, cuts=(), opts=0):
    """The resp_stream layout: options, cut count, 3 bytes per cut, the stream."""
    head = bytes([opts, len(cuts)])
    for at, gap in cuts:
        head += bytes([0x80 | (gap - 1) if gap else 0]) + struct.pack(">H", at)
    return head + stream


def reassembly_seed(segs):
    """The reassembly layout: ISN, then per segment flags, sequence, length, payload."""
    isn = segs[0][0]
    out = struct.pack(">I", isn)
    for seq, syn, fin, payload in segs:
        payload = payload[:SEGMENT_BYTES]
        rel = (seq - isn) % (1 << 32)
        flags = (1 if syn else 0) | (2 if fin else 0) | 8
        if rel >= 1 << 15:
            out += bytes([flags | 4]) + struct.pack(">I", seq)
        else:
            out += bytes([flags]) + struct.pack(">h", rel)
        out += struct.pack(">H", len(payload)) + payload
    return out


HOSTILE = [
    b"*1\r\n$999999999999\r\n", b"*2147483647\r\n", b"*1\r\n" * 64 + b"$4\r\nPING\r\n",
    b"$-2\r\n", b"*-5\r\n", b"$+5\r\nhello\r\n", b":+12\r\n", b"+\r\nx\n" * 16,
    b"|1\r\n+a\r\n+b\r\n", b">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n", b"%1\r\n+a\r\n:1\r\n",
    b"PING\r\nSET a b\r\nGET a\n\r\nEXISTS a\r\n", b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$2\r\npw\r\n",
    b"=15\r\ntxt:Some string\r\n", b"(3492890328409238509324850943850943825024385\r\n",
]


def stream_seeds(seen_r, seen_a):
    for name in fixtures():
        segs = tshark_segments(os.path.join(FIXTURES, name))
        by_dir = {}
        for stream, port, seq, flags, payload in segs:
            by_dir.setdefault((stream, port), []).append((seq, flags & 2 != 0, flags & 1 != 0, payload))
        # A few connections per fixture are plenty: the big ones repeat themselves.
        for key in sorted(by_dir)[:6]:
            dsegs = by_dir[key]
            # Stream bytes: data segments in sequence order, each byte once.
            data = sorted((s, p) for s, _, _, p in dsegs if p)
            stream, end = b"", None
            for seq, p in data:
                if end is None:
                    end = seq
                if seq + len(p) <= end:
                    continue
                stream += p[max(0, end - seq):]
                end = seq + len(p)
                if len(stream) >= STREAM_PREFIX:
                    break
            stream = stream[:STREAM_PREFIX]
            if stream:
                server = key[1] == 6379
                write("resp_stream", resp_seed(stream), seen_r)
                n = len(stream)
                write("resp_stream", resp_seed(stream, [(n // 3, 0), (n // 2, 5), (2 * n // 3, 0)], 0), seen_r)
                if server:
                    write("resp_stream", resp_seed(stream[n // 2:], [], 1), seen_r)
            write("reassembly", reassembly_seed(dsegs[:SEGMENTS_PER_SEED]), seen_a)
    for h in HOSTILE:
        write("resp_stream", resp_seed(h), seen_r)
        write("resp_stream", resp_seed(h, [(len(h) // 2, 0)]), seen_r)


def main():
    for t in ("file", "resp_stream", "reassembly"):
        os.makedirs(os.path.join(CORPUS, t), exist_ok=True)
    seen_f, seen_r, seen_a = set(), set(), set()
    file_seeds(seen_f)
    stream_seeds(seen_r, seen_a)
    for t, s in (("file", seen_f), ("resp_stream", seen_r), ("reassembly", seen_a)):
        print("%s: %d seeds" % (t, len(s)), file=sys.stderr)


if __name__ == "__main__":
    main()
