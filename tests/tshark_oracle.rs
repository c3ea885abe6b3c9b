//! tshark is the reference for TCP analysis flags and RESP message boundaries. On every
//! fixture, each frame's `tcp.analysis.*` flags from tshark must equal ours, the handshake RTT
//! must equal `tcp.analysis.initial_rtt`, the ACK-timed round trips must equal their
//! definition worked out again over tshark's parse of the same packets, and where tshark's
//! RESP dissector understands the client's stream, the commands each frame completes must
//! match its top-level arrays.
//!
//! Deliberate difference, checked here too: Linux probes a zero window with an empty segment
//! that tshark labels Keep-Alive; we label it a zero-window probe as well (and keep tshark's
//! `keep_alive` in `tshark_analysis`, which is what is compared).
//!
//! Needs tshark. Outside CI a missing tshark skips with a message; with `CI=true` it fails.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const FLAGS: [&str; 13] = [
    "zero_window_probe",
    "zero_window",
    "lost_segment",
    "keep_alive",
    "window_update",
    "window_full",
    "keep_alive_ack",
    "zero_window_probe_ack",
    "duplicate_ack",
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
];

/// Fixtures whose client stream tshark's RESP dissector reads the way Redis does: multibulk
/// requests only, nothing lost or reordered (tshark hands no retransmitted or out-of-order
/// segment to RESP), no command spread over more than two segments (tshark re-shows a
/// partial array in each middle segment of one).
const RESP_COMPARABLE: &[&str] = &[
    "jedis_8192.pcap",
    "lettuce_16.pcap",
    "bench_p16.pcap",
    "cli_pipe.pcap",
    "redispy_pipeline.pcap",
    "ioredis_pipeline.pcap",
    "multi_client.pcap",
    "slow_reader.pcap",
    "errors.pcap",
    "ipv6.pcap",
];

fn tshark_available() -> bool {
    let ok = Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        common::skip("the tshark oracle", "tshark");
    }
    ok
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.ends_with(".pcap") || n.ends_with(".pcapng")) && n != "not_a_capture.pcap"
        })
        .collect();
    v.sort();
    assert!(v.len() >= 20, "fixtures missing: {v:?}");
    v
}

#[derive(Default, Debug)]
struct Frame {
    flags: BTreeSet<String>,
    arrays: usize,
    to_server: bool,
    stream: u64,
    irtt_us: Option<i64>,
    window_size: Option<u64>,
}

fn tshark_frames(file: &Path) -> BTreeMap<u64, Frame> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args([
        "-T",
        "json",
        "-e",
        "frame.number",
        "-e",
        "tcp.stream",
        "-e",
        "tcp.dstport",
    ]);
    cmd.args(["-e", "resp.array.length", "-e", "tcp.analysis.initial_rtt", "-e", "tcp.window_size"]);
    for f in FLAGS {
        cmd.args(["-e", &format!("tcp.analysis.{f}")]);
    }
    let out = cmd.output().expect("run tshark");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let mut frames = BTreeMap::new();
    for pkt in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        let l = &pkt["_source"]["layers"];
        let first = |k: &str| l[k][0].as_str().map(str::to_string);
        let Some(no) = first("frame.number").and_then(|s| s.parse::<u64>().ok()) else { continue };
        let mut f = Frame {
            to_server: first("tcp.dstport").as_deref() == Some("6379"),
            stream: first("tcp.stream").and_then(|s| s.parse().ok()).unwrap_or(0),
            arrays: l["resp.array.length"].as_array().map_or(0, Vec::len),
            irtt_us: first("tcp.analysis.initial_rtt")
                .and_then(|s| s.parse::<f64>().ok())
                .map(|s| (s * 1e6).round() as i64),
            window_size: first("tcp.window_size").and_then(|s| s.parse().ok()),
            ..Frame::default()
        };
        for flag in FLAGS {
            if !l[format!("tcp.analysis.{flag}")].is_null() {
                f.flags.insert(flag.to_string());
            }
        }
        frames.insert(no, f);
    }
    frames
}

struct Ours {
    /// Frame → (tshark-named flags, commands completed as tshark would show them, a message
    /// starts here and continues, the window in bytes).
    frames: BTreeMap<u64, (BTreeSet<String>, usize, bool, Option<u64>)>,
    report: serde_json::Value,
}

fn ours(file: &Path) -> Ours {
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .arg("analyze")
        .arg(file)
        .args(["--segments", "--format", "json"])
        .output()
        .expect("run respscope");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut frames = BTreeMap::new();
    let mut report = serde_json::Value::Null;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        if v["type"] == "segment" {
            let flags = v["tshark_analysis"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let msgs = v["messages"].as_array().cloned().unwrap_or_default();
            let cmds = msgs.iter().filter(|x| x["kind"] == "command").count();
            // tshark's RESP dissector loses the array header of a command whose first cut fell
            // exactly between two of its elements: the reassembled part shows as loose bulk
            // strings. Those commands are not counted on tshark's side.
            let lost = msgs
                .iter()
                .filter(|x| x["kind"] == "command" && x["split"]["cut"] == "between elements")
                .count();
            let cmds = cmds - lost;
            // tshark shows a partial array once its `*N` line is complete.
            let starts = v["split_start"]["header_done"] == true;
            frames.insert(v["frame"].as_u64().unwrap_or(0), (flags, cmds, starts, v["window_size"].as_u64()));
        } else {
            report = v;
        }
    }
    Ours { frames, report }
}

#[test]
fn tcp_analysis_flags_match_tshark_frame_by_frame() {
    if !tshark_available() {
        return;
    }
    let mut checked_frames = 0;
    let mut flagged = 0;
    for file in fixtures() {
        let theirs = tshark_frames(&file);
        let mine = ours(&file);
        assert!(!theirs.is_empty(), "{}: tshark read nothing", file.display());
        for (no, f) in &theirs {
            let empty = (BTreeSet::new(), 0, false, None);
            let (mine_flags, _, _, window_size) = mine.frames.get(no).unwrap_or(&empty);
            assert_eq!(mine_flags, &f.flags, "{} frame {no}", file.display());
            if window_size.is_some() {
                // The window in bytes, as Wireshark's `tcp.window_size` scales it.
                assert_eq!(window_size, &f.window_size, "{} frame {no}: window size", file.display());
            }
            checked_frames += 1;
            flagged += usize::from(!f.flags.is_empty());
        }
    }
    // The fixtures must actually exercise the rules.
    assert!(flagged >= 100, "only {flagged} flagged frames in {checked_frames}");
}

#[test]
fn handshake_rtt_matches_tshark_initial_rtt() {
    if !tshark_available() {
        return;
    }
    let mut compared = 0;
    for file in fixtures() {
        let theirs = tshark_frames(&file);
        let mine = ours(&file);
        // tshark streams in order of first appearance, as our connections.
        let mut irtt: BTreeMap<u64, i64> = BTreeMap::new();
        for f in theirs.values() {
            if let Some(r) = f.irtt_us {
                irtt.entry(f.stream).or_insert(r);
            }
        }
        let conns = mine.report["connections"].as_array().cloned().unwrap_or_default();
        for (i, c) in conns.iter().enumerate() {
            if let (Some(ours), Some(t)) = (c["handshake_rtt_us"].as_i64(), irtt.get(&(i as u64))) {
                assert_eq!(ours, *t, "{} connection {}", file.display(), i + 1);
                compared += 1;
            }
        }
    }
    assert!(compared >= 20, "compared {compared}");
}

#[test]
fn commands_per_frame_match_tshark_resp_pdus() {
    if !tshark_available() {
        return;
    }
    let mut total = 0;
    for name in RESP_COMPARABLE {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let theirs = tshark_frames(&file);
        let mine = ours(&file);
        for (no, f) in theirs.iter().filter(|(_, f)| f.to_server) {
            let (cmds, starts) = mine.frames.get(no).map_or((0, false), |x| (x.1, x.2));
            // tshark also shows the array a split command starts in the frame where it starts
            // ("Array is partially decoded"), then again, whole, where it ends.
            assert_eq!(cmds + usize::from(starts), f.arrays, "{name} frame {no}: commands completed here");
            total += cmds;
        }
    }
    assert!(total > 10_000, "compared {total} commands");
}

/// One TCP segment as tshark parses it, for the ACK round-trip check.
struct Seg {
    stream: usize,
    to_server: bool,
    seq: u32,
    len: u32,
    ack: Option<u32>,
    retransmission: bool,
    ts_us: i64,
}

fn tshark_segments(file: &Path) -> Vec<Seg> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(file).args(["-T", "fields", "-E", "separator=/t"]);
    for f in [
        "tcp.stream",
        "tcp.dstport",
        "tcp.seq_raw",
        "tcp.len",
        "tcp.ack_raw",
        "tcp.flags.ack",
        "frame.time_epoch",
        "tcp.analysis.retransmission",
        "tcp.analysis.fast_retransmission",
        "tcp.analysis.spurious_retransmission",
    ] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut segs = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 10 || f[0].is_empty() {
            continue;
        }
        // `1795293736.814251000` → µs, exactly.
        let (secs, frac) = f[6].split_once('.').unwrap_or((f[6], "0"));
        let micros: i64 = format!("{frac:0<6}")[..6].parse().unwrap_or(0);
        let yes = |s: &str| !s.is_empty() && s != "0" && s != "False";
        segs.push(Seg {
            stream: f[0].parse().unwrap_or(0),
            to_server: f[1] == "6379",
            seq: f[2].parse().unwrap_or(0),
            len: f[3].parse().unwrap_or(0),
            ack: yes(f[5]).then(|| f[4].parse().unwrap_or(0)),
            retransmission: yes(f[7]) || yes(f[8]) || yes(f[9]),
            ts_us: secs.parse::<i64>().unwrap_or(0) * 1_000_000 + micros,
        });
    }
    segs
}

/// The sampling rule of `docs/METRICS.md`, written again over tshark's parse of the capture:
/// per direction one data segment timed at a time, to the first ACK from the peer covering its
/// last byte; a retransmission of the timed bytes drops the timing. Returns per stream and
/// direction (0: client data) the sample count and minimum.
fn ack_rtt_by_the_definition(segs: &[Seg]) -> BTreeMap<(usize, usize), (u64, Option<i64>)> {
    let mut timed: BTreeMap<(usize, usize), (u32, i64)> = BTreeMap::new();
    let mut out: BTreeMap<(usize, usize), (u64, Option<i64>)> = BTreeMap::new();
    for s in segs {
        let d = usize::from(!s.to_server);
        let other = (s.stream, 1 - d);
        if let (Some(a), Some(&(end, t0))) = (s.ack, timed.get(&other)) {
            if (a.wrapping_sub(end) as i32) >= 0 {
                let e = out.entry(other).or_insert((0, None));
                let rtt = (s.ts_us - t0).max(0);
                e.0 += 1;
                e.1 = Some(e.1.map_or(rtt, |m| m.min(rtt)));
                timed.remove(&other);
            }
        }
        if s.len == 0 {
            continue;
        }
        let me = (s.stream, d);
        if s.retransmission {
            if timed.get(&me).is_some_and(|&(end, _)| (s.seq.wrapping_sub(end) as i32) < 0) {
                timed.remove(&me);
            }
        } else {
            timed.entry(me).or_insert((s.seq.wrapping_add(s.len), s.ts_us));
        }
    }
    out
}

#[test]
fn ack_rtt_follows_its_definition_on_tsharks_parse() {
    if !tshark_available() {
        return;
    }
    let mut compared = 0;
    for file in fixtures() {
        let expect = ack_rtt_by_the_definition(&tshark_segments(&file));
        let mine = ours(&file);
        let conns = mine.report["connections"].as_array().cloned().unwrap_or_default();
        for (i, c) in conns.iter().enumerate() {
            for (d, key) in [(0, "to_server"), (1, "to_client")] {
                let r = &c["ack_rtt_us"][key];
                let got = (r["count"].as_u64().unwrap_or(0), r["min"].as_i64());
                let want = expect.get(&(i, d)).copied().unwrap_or((0, None));
                assert_eq!(got, want, "{} connection {} {key}", file.display(), i + 1);
                compared += usize::from(want.0 > 0);
            }
        }
    }
    assert!(compared >= 40, "compared {compared} directions with samples");
}

/// Every frame's TCP payload as tshark decodes it.
fn tshark_payloads(file: &Path) -> BTreeMap<u64, Vec<u8>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-Y", "tcp.len > 0", "-T", "fields", "-e", "frame.number", "-e", "tcp.payload"])
        .output()
        .expect("run tshark");
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split('\t');
        let (Some(n), Some(hex)) = (f.next().and_then(|n| n.parse().ok()), f.next()) else { continue };
        let hex = hex.replace(':', "");
        let bytes: Vec<u8> =
            (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
        m.insert(n, bytes);
    }
    m
}

/// The bytes shown at each cut of a split command are the frames' own, as tshark reads them:
/// the end of the frame before the cut (as many of the command's bytes as it holds, at most
/// 32), the start of the frame after it, `…` exactly where a frame holds more than is shown.
#[test]
fn split_cut_bytes_match_tshark_frame_payloads() {
    if !tshark_available() {
        return;
    }
    use respscope::protocol::resp::cut::show;
    let mut checked = 0;
    // Fixtures without retransmitted or overlapping bytes: each frame's payload is what the
    // stream was handed.
    for name in ["jedis_8192.pcap", "cli_pipe.pcap", "big_values.pcap", "interleave.pcap", "bidi.pcap"] {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let payloads = tshark_payloads(&file);
        let report = ours(&file).report;
        for c in report["connections"].as_array().into_iter().flatten() {
            for s in c["splits"].as_array().into_iter().flatten() {
                let cuts = s["cuts"].as_array().cloned().unwrap_or_default();
                assert_eq!(
                    cuts.len() as u64 + s["more_cuts"].as_u64().unwrap_or(0) + 1,
                    s["segments"].as_u64().unwrap_or(0),
                    "{name}: {s}"
                );
                let len = s["len"].as_u64().unwrap_or(0);
                for (j, cut) in cuts.iter().enumerate() {
                    let at = cut["at"].as_u64().unwrap_or(0);
                    let prev = if j == 0 { 0 } else { cuts[j - 1]["at"].as_u64().unwrap_or(0) };
                    let next = cuts.get(j + 1).and_then(|n| n["at"].as_u64()).unwrap_or(len);
                    let before = &payloads[&cut["before_frame"].as_u64().unwrap_or(0)];
                    let after = &payloads[&cut["after_frame"].as_u64().unwrap_or(0)];
                    let kb = ((at - prev) as usize).min(32);
                    let ka = ((next - at) as usize).min(32);
                    let dots = |more: bool| if more { "…" } else { "" };
                    let want_before =
                        format!("{}{}", dots(before.len() > kb), show(&before[before.len() - kb..]));
                    let want_after = format!("{}{}", show(&after[..ka]), dots(after.len() > ka));
                    assert_eq!(cut["before"], want_before.as_str(), "{name}: {cut}");
                    assert_eq!(cut["after"], want_after.as_str(), "{name}: {cut}");
                    checked += 1;
                }
                // The Jedis capture's first split command is cut right after `*2\r\n$3\r\n`.
                if name == "jedis_8192.pcap" && s["index"] == 343 {
                    assert_eq!(cuts[0]["position"], "before_bulk_payload", "{s}");
                    assert_eq!(cuts[0]["before"], "…*2\\r\\n$3\\r\\n", "{s}");
                }
            }
        }
    }
    assert!(checked >= 20, "{checked} cuts checked");
}
