//! The markdown summary saved beside a window of capture (`w` in the console): what a person
//! pastes into an incident ticket. The server and its version, the alerts with their times,
//! the busiest connections by name, the slow commands, then the analysis of the saved file
//! itself, so the numbers in the summary are the ones `respscope analyze` gives for it.

use std::fmt::Write;

use crate::engine::alerts::{wall_time, Severity};
use crate::engine::model::Model;
use crate::engine::report::Report;
use crate::views::report::{bytes, opt_us, us};

/// Connections listed by name in the summary.
const TOP: usize = 10;
/// SLOWLOG entries listed.
const SLOW: usize = 10;

/// What the summary is about.
pub struct Window<'a> {
    /// The saved capture file's name.
    pub file: &'a str,
    /// Wall-clock time of the save (Unix ms).
    pub saved_at_ms: i64,
    /// Capture time of the window's first and last frame (µs since the epoch).
    pub span_us: Option<(i64, i64)>,
    /// Frames saved.
    pub frames: u64,
}

/// The summary of `w`, from the console's model and the analysis of the saved file.
pub fn render(m: &Model, w: &Window<'_>, saved: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# respscope incident summary: {}\n", wall_time(w.saved_at_ms));
    let server = match &m.server {
        Some(s) if s.up => format!(
            "{} (redis {}), {} ops/s, {} used, {} clients",
            m.server_addr,
            s.version.as_deref().unwrap_or("?"),
            s.ops_per_sec.map_or_else(|| "-".into(), |v| v.to_string()),
            s.used_memory.map_or_else(|| "-".into(), bytes),
            s.connected_clients.map_or_else(|| "-".into(), |v| v.to_string())
        ),
        Some(s) => format!("{} DOWN: {}", m.server_addr, s.error.as_deref().unwrap_or("no reply")),
        None => "no server polled".into(),
    };
    let _ = writeln!(o, "- **Server**: {server}");
    let window = match w.span_us {
        Some((a, b)) => format!(
            "{} frames from {} to {} ({})",
            w.frames,
            wall_time(a / 1000),
            wall_time(b / 1000),
            us(b - a)
        ),
        None => "no frames in the window".into(),
    };
    let _ = writeln!(o, "- **Capture**: `{}`, {window}", w.file);
    let _ = writeln!(
        o,
        "- **Wire**: {} dropped by the kernel, {} by the interface{}\n",
        m.loss.kernel_dropped,
        m.loss.if_dropped,
        m.capture_problem.as_deref().map(|p| format!("; NOT CAPTURING: {p}")).unwrap_or_default()
    );

    let _ = writeln!(o, "## Alerts\n");
    let alerts = m.alerts.shown();
    if alerts.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(o, "| severity | kind | first seen | last seen | count | state | subject | what |");
        let _ = writeln!(o, "|---|---|---|---|---:|---|---|---|");
        for a in alerts {
            let sev = match a.severity {
                Severity::Critical => "critical",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            let _ = writeln!(
                o,
                "| {sev} | `{}` | {} | {} | {} | {} | {} | {} |",
                a.kind.name(),
                wall_time(a.first_seen),
                wall_time(a.last_seen),
                a.count,
                if a.resolved { "resolved" } else { "open" },
                cell(&a.subject.label()),
                cell(&a.message)
            );
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Busiest connections in the window\n");
    let mut conns: Vec<_> = saved.connections.iter().collect();
    conns.sort_by_key(|c| std::cmp::Reverse(c.commands));
    if conns.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(o, "| client | name | lib | commands | batches | max depth | p50 | p99 | zero windows | split commands |");
        let _ = writeln!(o, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for c in conns.iter().take(TOP) {
            let id = m.identity(&c.client);
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.client,
                cell(id.map_or("", |r| r.name.as_str())),
                cell(id.and_then(|r| r.lib_name.as_deref()).unwrap_or("")),
                c.commands,
                c.batches,
                c.max_pipeline_depth,
                opt_us(c.latency_us.p50),
                opt_us(c.latency_us.p99),
                c.tcp.zero_windows,
                c.split_commands
            );
        }
        if conns.len() > TOP {
            let _ = writeln!(o, "\n{} more in the analysis below.", conns.len() - TOP);
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Slow commands (SLOWLOG, newest first)\n");
    if m.slowlog.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(o, "| id | took | client | command |");
        let _ = writeln!(o, "|---:|---:|---|---|");
        for e in m.slowlog.iter().take(SLOW) {
            let who = if e.client_name.is_empty() {
                e.client_addr.clone()
            } else {
                format!("{} {}", e.client_name, e.client_addr)
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | `{}` |",
                e.id,
                us(i64::try_from(e.duration_us).unwrap_or(i64::MAX)),
                cell(&who),
                cell(&e.args.join(" ")).replace('`', "'")
            );
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Analysis of the saved window\n");
    let _ = writeln!(o, "`respscope analyze {}` gives the same numbers.\n", w.file);
    o.push_str(&super::markdown::render(saved, w.file));
    o
}

/// Text for a markdown table cell: pipes and line breaks would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}
