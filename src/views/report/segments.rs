//! The RESP-aware packet list (`analyze --segments`): one line per Redis segment, with the
//! commands and replies it completes and where split commands start and end.

use std::fmt::Write;

use crate::analysis::conversation::Step;
use crate::analysis::resp::Kind;
use crate::analysis::wire::{SegmentRecord, WireAnalyzer};
use crate::engine::report::event_names;
use crate::sources::capture::decode::flags as tcpf;

/// Messages named one by one per segment before the rest are summarised.
const SHOWN: usize = 4;

/// The header line of the listing.
pub fn header() -> String {
    format!(
        "{:>8} {:>12} {:>5} {:<4} {:>6} {:<5} {:>6}  {}",
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
    for it in &rec.items {
        let p = it.found.msg.preview.to_string_lossy();
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
        match it.found.msg.kind {
            Kind::Command { .. } => cmds += 1,
            Kind::Reply { push: true, .. } => pushes += 1,
            Kind::Reply { .. } => reps += 1,
        }
        if plain.len() < SHOWN {
            let tag = match (it.found.msg.kind, it.step) {
                (_, Step::Reply { latency_us: Some(l), .. }) => format!("{p} ({l}µs)"),
                _ => p.to_string(),
            };
            plain.push(tag);
        }
    }
    let n = cmds + reps;
    if n > 0 {
        let kind = if cmds > 0 && reps == 0 {
            if cmds == 1 {
                "command"
            } else {
                "commands"
            }
        } else if reps > 0 && cmds == 0 {
            if reps == 1 {
                "reply"
            } else {
                "replies"
            }
        } else {
            "messages"
        };
        let more = if n > plain.len() { format!(", … ({} more)", n - plain.len()) } else { String::new() };
        what.push(format!("{n} {kind}: {}{more}", plain.join(", ")));
    }
    if let Some((off, b, token)) = rec.split_start {
        what.push(format!("split starts: a message at offset {off}, {b} B here, cut {}", token.describe()));
    }
    let mut o = String::new();
    let _ = write!(
        o,
        "{:>8} {:>12.6} {:>5} {:<4} {:>6} {:<5} {:>6}  {}",
        format!("#{}", rec.frame),
        (rec.ts - t0) as f64 / 1e6,
        rec.conn + 1,
        rec.dir.arrow(),
        rec.len,
        tcp_flags(rec.tcp_flags),
        rec.window,
        what.join("; ")
    );
    o
}

fn tcp_flags(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(tcpf::SYN, 'S'), (tcpf::FIN, 'F'), (tcpf::RST, 'R'), (tcpf::PSH, 'P'), (tcpf::ACK, 'A')]
    {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}
