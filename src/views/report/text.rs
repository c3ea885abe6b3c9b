//! The text report: what a person reads first.

use std::fmt::Write;

use super::{bytes, opt_us, us};
use crate::engine::report::{ConnReport, Connections, Report};

/// Longest bar in the distributions.
const BAR: u64 = 30;
/// Split commands and events listed per connection in text (all are in JSON).
const LIST: usize = 20;

/// Renders a report with its own connections for a terminal.
pub fn render(r: &Report, source: &str) -> String {
    super::to_string(|out| write(out, r, Connections::Listed(&r.connections), source))
}

/// Writes the report for a terminal, one connection at a time.
///
/// # Errors
/// Writing to `out` failed.
pub fn write(
    out: &mut dyn std::io::Write,
    r: &Report,
    conns: Connections<'_>,
    source: &str,
) -> std::io::Result<()> {
    out.write_all(header(r, source).as_bytes())?;
    let mut o = String::new();
    for conn in conns.iter() {
        o.clear();
        connection(&mut o, &conn);
        out.write_all(o.as_bytes())?;
    }
    Ok(())
}

fn header(r: &Report, source: &str) -> String {
    let mut o = String::new();
    let c = &r.capture;
    let t = &r.totals;
    let _ = writeln!(o, "respscope analyze {source}");
    let _ = writeln!(
        o,
        "capture: {} packets, {} TCP on port {}, over {}; {} connection(s)",
        c.packets,
        c.tcp_packets,
        ports(&c.ports),
        us(c.duration_us),
        t.connections
    );
    for w in &c.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let _ = writeln!(
        o,
        "totals: {} commands, {} replies ({} errors, {} pushes), {} batches, {} split commands, {} gaps, {} parse errors",
        t.commands, t.replies, t.errors, t.pushes, t.batches, t.split_commands, t.gaps, t.parse_errors
    );
    if t.moved > 0 || t.ask > 0 {
        let _ = writeln!(o, "cluster redirections: {} MOVED, {} ASK", t.moved, t.ask);
    }
    let il = &r.interleave;
    if il.batches > 0 {
        let _ = writeln!(
            o,
            "interleaving (estimated from reply order, batches of two replies or more): {}",
            super::interleave_words(il.batches, il.interleaved, il.others_mean, il.others_max)
        );
    }
    let _ = writeln!(
        o,
        "tcp: {} zero windows, {} window full, {} window updates, {} zero-window probes, {} retransmissions",
        t.zero_windows, t.window_full, t.window_updates, t.zero_window_probes, t.retransmissions
    );
    if !r.commands_by_name.is_empty() {
        let _ = writeln!(o, "\ncommands by name:");
        let mut v: Vec<_> = r.commands_by_name.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let max = v.first().map_or(1, |x| *x.1).max(1);
        let w = v.iter().map(|x| x.0.chars().count()).max().unwrap_or(4);
        for (name, n) in v.iter().take(30) {
            let _ = writeln!(o, "  {name:<w$} {n:>9}  {}", bar(**n, max));
        }
        if v.len() > 30 {
            let _ = writeln!(o, "  … {} more names (see --format json)", v.len() - 30);
        }
    }
    if c.unlisted_connections > 0 {
        let _ = writeln!(
            o,
            "({} more connections are counted in the totals but not listed here)",
            c.unlisted_connections
        );
    }
    o
}

fn ports(p: &[u16]) -> String {
    p.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

fn bar(n: u64, max: u64) -> String {
    let len = if n == 0 { 0 } else { (n * BAR).div_ceil(max).max(1) };
    "█".repeat(len as usize)
}

fn connection(o: &mut String, c: &ConnReport) {
    let _ = writeln!(o, "\nconnection {}: {} → {}", c.id, c.client, c.server);
    let rtt = c.handshake_rtt_us.map_or_else(|| "not captured".to_string(), us);
    let _ = writeln!(
        o,
        "  from frame #{}, {} packets, handshake RTT {rtt}{}",
        c.first_frame,
        c.packets,
        if c.joined_midstream { " (capture joined mid-connection)" } else { "" }
    );
    let _ = writeln!(o, "  rtt: {}", super::rtt_sources(c));
    if let Some(l) = super::library_line(c) {
        let _ = writeln!(o, "  library: {l} (announced on the wire)");
    }
    if c.tls {
        let _ = writeln!(o, "  TLS: encrypted, so RESP is not read; the TCP numbers below still are");
    }
    let (kind, extra) = super::kind_and_extras(c);
    let _ = writeln!(
        o,
        "  {kind}commands {}  replies {}  errors {}  unanswered {}  pushes {}{extra}",
        c.commands, c.replies, c.errors, c.unanswered, c.pushes
    );
    let _ = writeln!(
        o,
        "  bytes: {} to server, {} to client",
        bytes(c.bytes_to_server),
        bytes(c.bytes_to_client)
    );
    let l = &c.latency_us;
    if l.count > 0 {
        let _ = writeln!(
            o,
            "  latency (last byte of command → last byte of reply, n={}): min {}  p50 {}  p90 {}  p99 {}  max {}",
            l.count,
            opt_us(l.min),
            opt_us(l.p50),
            opt_us(l.p90),
            opt_us(l.p99),
            opt_us(l.max)
        );
    } else {
        let _ = writeln!(o, "  latency: no command/reply pair");
    }
    let _ = writeln!(o, "  pipeline: max depth {}", c.max_pipeline_depth);
    let _ = writeln!(o, "  batches: {}, at most {} commands in one", c.batches, c.max_batch_commands);
    let _ = writeln!(o, "  flush: {}", super::flush_line(c));
    if !c.batch_sizes.is_empty() {
        let max = c.batch_sizes.values().copied().max().unwrap_or(1).max(1);
        let _ = writeln!(o, "    commands/batch    batches");
        for (size, count) in &c.batch_sizes {
            let _ = writeln!(o, "    {size:>14} {count:>10}  {}", bar(*count, max));
        }
    }
    if let Some(i) = &c.interleave {
        let _ = writeln!(
            o,
            "  interleaving (estimated from reply order): {}",
            super::interleave_words(i.batches, i.interleaved, i.others_mean, i.others_max)
        );
    }
    if c.split_commands > 0 {
        let _ = writeln!(
            o,
            "  split commands: {} (a command whose bytes came in more than one segment)",
            c.split_commands
        );
        for s in c.splits.iter().take(LIST) {
            let _ = writeln!(
                o,
                "    #{} {} ({} B at offset {}): frame #{} ({} B) → frame #{} ({} B), {} segment(s), cut {}",
                s.index,
                s.preview.to_string_lossy().trim(),
                s.len,
                s.offset,
                s.first_frame,
                s.first_bytes,
                s.last_frame,
                s.last_bytes,
                s.segments,
                s.cut.describe()
            );
            for line in cut_lines(s) {
                let _ = writeln!(o, "      {line}");
            }
        }
        if c.splits.len() > LIST {
            let _ = writeln!(o, "    … {} more (see --format json)", c.split_commands as usize - LIST);
        }
    }
    let tc = &c.tcp;
    let _ = writeln!(
        o,
        "  tcp: {} zero windows, {} window full, {} window updates, {} zero-window probes, {} retransmissions, {} out-of-order, {} lost segments",
        tc.zero_windows,
        tc.window_full,
        tc.window_updates,
        tc.zero_window_probes,
        tc.retransmissions,
        tc.out_of_order,
        tc.lost_segments
    );
    if !c.window_events.is_empty() {
        let _ = writeln!(o, "  window timeline:");
        for e in c.window_events.iter().take(LIST) {
            let _ = writeln!(
                o,
                "    {:>10}  #{:<7} {}  win {:<8} {}",
                format!("+{}", us(e.t_us)),
                e.frame,
                e.dir.arrow(),
                e.window_size,
                e.flags.join(", ")
            );
        }
        if c.window_events.len() > LIST {
            let _ = writeln!(o, "    … {} more events (see --format json)", c.window_events.len() - LIST);
        }
    }
    if c.gaps > 0 || c.parse_errors > 0 {
        let _ = writeln!(o, "  damage: {} gaps, {} parse errors", c.gaps, c.parse_errors);
        for d in c.parse_error_details.iter().take(5) {
            let _ = writeln!(o, "    {d}");
        }
    }
}

/// One line per cut of a split command: the frames on each side, where it fell and the bytes
/// around it (`#85 ┃ #86 before a bulk payload (byte 8 of 24): …*2\r\n$3\r\n ┃ GET\r\n…`),
/// then how many more cuts were not recorded.
pub fn cut_lines(s: &crate::analysis::conversation::SplitCommand) -> Vec<String> {
    let mut out: Vec<String> = s
        .cuts
        .iter()
        .map(|c| {
            format!("#{} ┃ #{} {}: {}", c.before_frame, c.after_frame, c.describe(s.len), c.bytes.text())
        })
        .collect();
    if s.more_cuts > 0 {
        out.push(format!("… and {} more cut(s) not shown", s.more_cuts));
    }
    out
}
