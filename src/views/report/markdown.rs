//! Markdown output: the report as tables, for issues, wikis and workshop notes.

use std::fmt::Write;

use super::{bytes, opt_us, us};
use crate::engine::report::{ConnReport, Connections, Report};

/// Renders a report with its own connections as markdown.
pub fn render(r: &Report, source: &str) -> String {
    super::to_string(|out| write(out, r, Connections::Listed(&r.connections), source))
}

/// Writes the report as markdown, one connection at a time (the connections are walked
/// twice: the table, then their split commands).
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
    for c in conns.iter() {
        o.clear();
        row(&mut o, &c);
        out.write_all(o.as_bytes())?;
    }
    out.write_all(b"\n## How each client writes\n\n| # | library | flush | waits for replies | confidence |\n|---:|---|---|---|---:|\n")?;
    for c in conns.iter() {
        o.clear();
        writes(&mut o, &c);
        out.write_all(o.as_bytes())?;
    }
    if r.interleave.batches > 0 {
        let il = &r.interleave;
        o.clear();
        let _ = writeln!(o, "\n## Interleaving (estimated from reply order)\n");
        let _ = writeln!(
            o,
            "Over all connections: {}.\n",
            super::interleave_words(il.batches, il.interleaved, il.others_mean, il.others_max)
        );
        out.write_all(o.as_bytes())?;
        for c in conns.iter() {
            let Some(i) = &c.interleave else { continue };
            o.clear();
            let _ = writeln!(
                o,
                "- connection {} ({}): {}",
                c.id,
                c.client,
                super::interleave_words(i.batches, i.interleaved, i.others_mean, i.others_max)
            );
            out.write_all(o.as_bytes())?;
        }
    }
    for c in conns.iter() {
        o.clear();
        splits(&mut o, &c);
        out.write_all(o.as_bytes())?;
    }
    Ok(())
}

fn header(r: &Report, source: &str) -> String {
    let mut o = String::new();
    let c = &r.capture;
    let t = &r.totals;
    let _ = writeln!(o, "# respscope analysis of `{source}`\n");
    let _ = writeln!(
        o,
        "{} packets ({} TCP on Redis ports) over {}, {} connection(s).\n",
        c.packets,
        c.tcp_packets,
        us(c.duration_us),
        t.connections
    );
    for w in &c.warnings {
        let _ = writeln!(o, "> **warning:** {w}\n");
    }
    let _ = writeln!(o, "| commands | replies | errors | batches | split commands | zero windows | window full | window updates | zero-window probes | retransmissions | gaps | parse errors |");
    let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        t.commands,
        t.replies,
        t.errors,
        t.batches,
        t.split_commands,
        t.zero_windows,
        t.window_full,
        t.window_updates,
        t.zero_window_probes,
        t.retransmissions,
        t.gaps,
        t.parse_errors
    );
    if t.moved > 0 || t.ask > 0 {
        let _ = writeln!(o, "Cluster redirections: {} MOVED, {} ASK.\n", t.moved, t.ask);
    }
    if !r.commands_by_name.is_empty() {
        let _ = writeln!(o, "## Commands by name\n\n| command | count |\n|---|---:|");
        let mut v: Vec<_> = r.commands_by_name.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (name, n) in v {
            let _ = writeln!(o, "| `{}` | {n} |", name.replace('|', "\\|").replace('`', "'"));
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Connections\n");
    let _ = writeln!(o, "| # | client | server | RTT | commands | replies | errors | batches | max/batch | max depth | splits | p50 | p99 | max | to server | to client | zero win | win full | win upd | probes | retrans | gaps |");
    let _ = writeln!(o, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    o
}

fn row(o: &mut String, c: &ConnReport) {
    let l = &c.latency_us;
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        c.id,
        c.client,
        c.server,
        c.handshake_rtt_us.map_or_else(|| "-".into(), us),
        c.commands,
        c.replies,
        c.errors,
        c.batches,
        c.max_batch_commands,
        c.max_pipeline_depth,
        c.split_commands,
        opt_us(l.p50),
        opt_us(l.p99),
        opt_us(l.max),
        bytes(c.bytes_to_server),
        bytes(c.bytes_to_client),
        c.tcp.zero_windows,
        c.tcp.window_full,
        c.tcp.window_updates,
        c.tcp.zero_window_probes,
        c.tcp.retransmissions,
        c.gaps
    );
}

fn writes(o: &mut String, c: &ConnReport) {
    let cell = |t: &str| t.replace('|', "\\|").replace('`', "'");
    let library = super::library_line(c).map_or_else(|| "-".to_string(), |l| format!("`{}`", cell(&l)));
    let (flush, waits, confidence) = match &c.flush {
        Some(v) => (v.what(), if v.waits_for_replies { "yes" } else { "no" }, format!("{:.2}", v.confidence)),
        None => (super::flush_line(c), "-", "-".to_string()),
    };
    let _ = writeln!(o, "| {} | {library} | {} | {waits} | {confidence} |", c.id, cell(&flush));
}

fn splits(o: &mut String, c: &ConnReport) {
    if c.splits.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n### Split commands of connection {}\n", c.id);
    let _ = writeln!(
        o,
        "| command # | preview | bytes | first frame (bytes) | last frame (bytes) | segments | cut |"
    );
    let _ = writeln!(o, "|---:|---|---:|---|---|---:|---|");
    for s in c.splits.iter().take(50) {
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | #{} ({}) | #{} ({}) | {} | {} |",
            s.index,
            s.preview.to_string_lossy().replace('|', "\\|").replace('`', "'"),
            s.len,
            s.first_frame,
            s.first_bytes,
            s.last_frame,
            s.last_bytes,
            s.segments,
            s.cut.describe()
        );
    }
    let cuts: Vec<String> = c
        .splits
        .iter()
        .take(50)
        .flat_map(|s| {
            let lines = super::text::cut_lines(s);
            lines.into_iter().map(move |l| format!("- command #{}: `{}`", s.index, l.replace('`', "'")))
        })
        .collect();
    if !cuts.is_empty() {
        let _ = writeln!(o);
        let _ =
            writeln!(o, "Bytes at each cut (`┃` marks the segment boundary, `…` where a segment goes on):");
        let _ = writeln!(o);
        for l in cuts {
            let _ = writeln!(o, "{l}");
        }
    }
}
