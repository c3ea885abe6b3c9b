//! The RESP-aware packet list (`analyze --segments`): one line per Redis segment, with the
//! commands and replies it completes and where split commands start and end.

use std::fmt::Write;

use crate::analysis::conversation::Step;
use crate::analysis::wire::{SegmentRecord, WireAnalyzer};
use crate::engine::report::event_names;
use crate::protocol::resp::Kind;
use crate::protocol::tcp as tcpf;

/// Messages named one by one per segment before the rest are summarised.
const SHOWN: usize = 4;

/// The header line of the listing.
pub fn header() -> String {
    format!(
        "{:>8} {:>12} {:>5} {:<4} {:>6} {:<5} {:>8}  {}",
        "frame", "time(s)", "conn", "dir", "len", "flags", "win", "what it carries"
    )
}

/// One line (or a few) for a segment.
pub fn line(rec: &SegmentRecord, w: &WireAnalyzer) -> String {
    let t0 = w.counts.first_ts.unwrap_or(rec.ts);
    let mut what: Vec<String> = Vec::new();
    let names = event_names(rec.analysis);
    if !names.is_empty() {
        what.push(format!("[{}]", names.join("] [")));
    }
    for (off, len) in &rec.gaps {
        what.push(format!("GAP: {len} bytes never captured at offset {off}"));
    }
    for e in &rec.errors {
        what.push(format!("PARSE ERROR: {e}"));
    }
    let mut plain: Vec<String> = Vec::new();
    let mut cmds = 0usize;
    let mut reps = 0usize;
    let mut pushes = 0usize;
    let mut propagated = 0usize;
    for it in &rec.items {
        let p = it.preview.to_string_lossy();
        let p = p.trim();
        if let Some(s) = &it.found.split {
            let idx = match it.step {
                Step::Command(i) => format!("#{i} "),
                _ => String::new(),
            };
            what.push(format!(
                "split ends: {idx}{p} ({} B: #{} {} B … #{} {} B, {} segments)",
                it.found.msg.end - it.found.msg.start,
                s.first.frame,
                s.first_bytes,
                it.found.last.frame,
                s.last_bytes,
                s.chunks
            ));
            continue;
        }
        match it.step {
            Step::Command(_) => cmds += 1,
            Step::Reply { .. } => reps += 1,
            Step::Push => pushes += 1,
            Step::Propagated => propagated += 1,
            Step::Rdb => {
                what.push(format!("RDB file of {} B (replication)", it.found.msg.end - it.found.msg.start));
                continue;
            }
        }
        if plain.len() < SHOWN {
            let tag = match (it.found.msg.kind, it.step) {
                (_, Step::Reply { latency_us: Some(l), .. }) => format!("{p} ({l}µs)"),
                _ => p.to_string(),
            };
            plain.push(tag);
        }
    }
    let n = cmds + reps + pushes + propagated;
    if n > 0 {
        let kind = match (cmds, reps, pushes, propagated) {
            (1, 0, 0, 0) => "command",
            (_, 0, 0, 0) => "commands",
            (0, 1, 0, 0) => "reply",
            (0, _, 0, 0) => "replies",
            (0, 0, 1, 0) => "push",
            (0, 0, _, 0) => "pushes",
            (0, 0, 0, 1) => "propagated command",
            (0, 0, 0, _) => "propagated commands",
            _ => "messages",
        };
        let more = if n > plain.len() { format!(", … ({} more)", n - plain.len()) } else { String::new() };
        what.push(format!("{n} {kind}: {}{more}", plain.join(", ")));
    }
    if let Some(s) = rec.split_start {
        what.push(format!(
            "split starts: a message at offset {}, {} B here, cut {}",
            s.offset,
            s.bytes,
            s.cut.describe()
        ));
    }
    let mut o = String::new();
    let _ = write!(
        o,
        "{:>8} {:>12.6} {:>5} {:<4} {:>6} {:<5} {:>8}  {}",
        format!("#{}", rec.frame),
        (rec.ts - t0) as f64 / 1e6,
        rec.conn,
        rec.dir.arrow(),
        rec.len,
        flag_letters(rec.tcp_flags),
        rec.window_size,
        what.join("; ")
    );
    o
}

/// One JSON object (a line of JSON Lines) for a segment: for scripts and for checking against
/// tshark frame by frame.
pub fn json_line(rec: &SegmentRecord, w: &WireAnalyzer) -> String {
    let t0 = w.counts.first_ts.unwrap_or(rec.ts);
    let items: Vec<serde_json::Value> = rec
        .items
        .iter()
        .map(|it| {
            let (kind, name) = match (it.found.msg.kind, it.step) {
                (Kind::Command { name, .. }, Step::Propagated) => ("propagated", name.to_string_lossy()),
                (Kind::Command { name, .. }, _) => ("command", name.to_string_lossy()),
                (Kind::Rdb { .. }, _) => ("rdb", String::new()),
                (_, Step::Push) => ("push", String::new()),
                (Kind::Reply { error: true, .. }, _) => ("error", String::new()),
                (Kind::Reply { .. }, _) => ("reply", String::new()),
            };
            let latency = match it.step {
                Step::Reply { latency_us, .. } => latency_us,
                _ => None,
            };
            serde_json::json!({
                "kind": kind,
                "name": name,
                "preview": it.preview.to_string_lossy(),
                "offset": it.found.msg.start,
                "len": it.found.msg.end - it.found.msg.start,
                "first_frame": it.found.first.frame,
                "latency_us": latency,
                "split": it.found.split.map(|s| serde_json::json!({
                    "first_frame": s.first.frame, "first_bytes": s.first_bytes, "last_bytes": s.last_bytes,
                    "segments": s.chunks, "cut": s.cut.describe(),
                })),
            })
        })
        .collect();
    let v = serde_json::json!({
        "type": "segment",
        "frame": rec.frame,
        "t_us": rec.ts - t0,
        "conn": rec.conn,
        "dir": rec.dir,
        "len": rec.len,
        "flags": flag_letters(rec.tcp_flags),
        "window": rec.window,
        "window_size": rec.window_size,
        "analysis": event_names(rec.analysis),
        "tshark_analysis": crate::analysis::tcp::flags::tshark_fields(rec.analysis),
        "messages": items,
        "split_start": rec.split_start.map(|s| serde_json::json!({
            "offset": s.offset, "bytes_here": s.bytes, "cut": s.cut.describe(), "header_done": s.header_done,
        })),
        "gaps": rec.gaps,
        "parse_errors": rec.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    v.to_string()
}

/// TCP flags as letters (S, F, R, P, A).
pub fn flag_letters(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(tcpf::SYN, 'S'), (tcpf::FIN, 'F'), (tcpf::RST, 'R'), (tcpf::PSH, 'P'), (tcpf::ACK, 'A')]
    {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}
