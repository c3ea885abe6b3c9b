//! `analyze A --compare B`: the two captures' groups side by side, in text and in markdown
//! that fits in a pull request.

use std::fmt::Write;

use super::opt_us;
use crate::engine::compare::{Comparison, GroupPair, GroupStats};

/// One row: its label, A's and B's cells, and the field whose change marks it.
struct Row {
    label: &'static str,
    a: String,
    b: String,
    changed: bool,
}

fn rows(p: &GroupPair) -> Vec<Row> {
    let cell =
        |g: &Option<GroupStats>, f: &dyn Fn(&GroupStats) -> String| g.as_ref().map_or("-".to_string(), f);
    let changed = |field: &str| p.changed.contains(&field);
    let mut out = Vec::new();
    let mut push = |label, f: &dyn Fn(&GroupStats) -> String, field: &str| {
        out.push(Row { label, a: cell(&p.a, f), b: cell(&p.b, f), changed: changed(field) });
    };
    push(
        "library versions",
        &|g| if g.versions.is_empty() { "-".into() } else { g.versions.clone() },
        "versions",
    );
    push("connections", &|g| g.connections.to_string(), "");
    push("commands", &|g| g.commands.to_string(), "commands");
    push("batches", &|g| g.batches.to_string(), "");
    push(
        "commands per batch p50 / p90 / max",
        &|g| {
            let o = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
            format!("{} / {} / {}", o(g.batch_p50), o(g.batch_p90), o(g.batch_max))
        },
        "batch_sizes",
    );
    push(
        "flush",
        &|g| {
            let agree = if g.connections > 1 {
                format!(" [{} of {} conns]", g.flush_agreeing, g.connections)
            } else {
                String::new()
            };
            format!("{}{agree}", g.flush_short())
        },
        "flush",
    );
    push("split commands per 1,000", &|g| format!("{:.1}", g.splits_per_1000), "splits_per_1000");
    push("max pipeline depth", &|g| g.max_depth.to_string(), "max_depth");
    push("latency p50 (busiest conn)", &|g| opt_us(g.latency_p50_us), "latency_p50_us");
    push("latency p99 (busiest conn)", &|g| opt_us(g.latency_p99_us), "latency_p99_us");
    push("worst p99 of any conn", &|g| opt_us(g.worst_p99_us), "");
    push("zero windows", &|g| g.zero_windows.to_string(), "zero_windows");
    out
}

fn title(p: &GroupPair) -> String {
    match &p.key_b {
        Some(kb) => format!("{} (A) vs {kb} (B)", p.key),
        None => p.key.clone(),
    }
}

/// The comparison as text.
pub fn text(c: &Comparison) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "respscope analyze {} --compare {}", c.a, c.b);
    let _ = writeln!(o, "A = {}, B = {}; `*` marks what changed (a verdict, or 10 % or more)", c.a, c.b);
    if c.groups.is_empty() {
        let _ = writeln!(o, "\nno connection carried commands in either capture");
    }
    for p in &c.groups {
        let _ = writeln!(o, "\n{}", title(p));
        let rows = rows(p);
        let w = rows.iter().map(|r| r.a.chars().count()).max().unwrap_or(1).max(1);
        for r in rows {
            let mark = if r.changed { " *" } else { "" };
            let _ = writeln!(o, "  {:<36} {:<w$}   {}{mark}", r.label, r.a, r.b);
        }
    }
    o
}

/// The comparison as markdown.
pub fn markdown(c: &Comparison) -> String {
    let esc = |t: &str| t.replace('|', "\\|").replace('`', "'");
    let mut o = String::new();
    let _ = writeln!(o, "# respscope: `{}` vs `{}`\n", esc(&c.a), esc(&c.b));
    let _ = writeln!(o, "Connections grouped by the library they announced (else by name or kind). **Bold** rows changed: a different flush verdict, or 10 % or more.\n");
    if c.groups.is_empty() {
        let _ = writeln!(o, "No connection carried commands in either capture.");
    }
    for p in &c.groups {
        let _ = writeln!(o, "## {}\n", esc(&title(p)));
        let _ = writeln!(o, "| | A: `{}` | B: `{}` |", esc(&c.a), esc(&c.b));
        let _ = writeln!(o, "|---|---|---|");
        for r in rows(p) {
            if r.changed {
                let _ = writeln!(o, "| **{}** | **{}** | **{}** |", r.label, esc(&r.a), esc(&r.b));
            } else {
                let _ = writeln!(o, "| {} | {} | {} |", r.label, esc(&r.a), esc(&r.b));
            }
        }
        let _ = writeln!(o);
    }
    o
}
