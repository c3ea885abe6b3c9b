//! One function per pane.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::state::{MemSort, SlowSort, UiState};
use super::theme::Theme;
use crate::engine::alerts::{clock_time, Severity};
use crate::engine::model::Model;
use crate::engine::report::ConnReport;
use crate::views::report::{bytes, us};

use super::parts::{clock, filtered, spark};
use super::state::sorted_connections;

/// Overview: ops on the wire and from INFO, latency over time, deepest pipelines now, memory,
/// alerts.
pub fn overview(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    // A cluster's nodes (`-c`) get rows between the numbers and the tables, as many as fit
    // in a third of the pane.
    let nodes_h = m.cluster.as_ref().map_or(0, |c| {
        let n = u16::try_from(c.nodes.len()).unwrap_or(u16::MAX).max(1);
        n.saturating_add(2).min((area.height / 3).max(4))
    });
    let [top, nodes, bottom] =
        Layout::vertical([Constraint::Length(9), Constraint::Length(nodes_h), Constraint::Min(3)])
            .areas(area);
    if let Some(c) = &m.cluster {
        cluster_nodes(f, nodes, m, c, ui);
    }
    let [stats, graphs] = Layout::horizontal([Constraint::Length(44), Constraint::Min(10)]).areas(top);
    let last = m.history.back().copied().unwrap_or_default();
    let totals = m.wire.as_ref().map(|w| &w.totals);
    let s = m.server.as_ref();
    let num = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let lines = vec![
        Line::from(format!(
            "ops/s  wire {:>10.0}   server {:>10}",
            last.wire_ops,
            num(s.and_then(|s| s.ops_per_sec))
        )),
        Line::from(format!(
            "wire   {} conns, {} cmds, {} replies",
            totals.map_or(0, |x| x.connections),
            totals.map_or(0, |x| x.commands),
            totals.map_or(0, |x| x.replies)
        )),
        Line::from(format!(
            "       {} errors, {} splits, {} batches",
            totals.map_or(0, |x| x.errors),
            totals.map_or(0, |x| x.split_commands),
            totals.map_or(0, |x| x.batches)
        )),
        // An interval that answered nothing has no latency: a dash, never 0µs.
        Line::from(if last.answered == 0 {
            "lat    p50 — p99 — p999 — (none answered)".to_string()
        } else {
            format!(
                "lat    p50 {} p99 {} p999 {}",
                us(last.p50_us as i64),
                us(last.p99_us as i64),
                us(last.p999_us as i64)
            )
        }),
        Line::from(format!(
            "memory {}   clients {}   ping {}",
            s.and_then(|s| s.used_memory).map_or_else(|| "-".into(), bytes),
            num(s.and_then(|s| s.connected_clients)),
            s.and_then(|s| s.ping_us).map_or_else(|| "-".into(), |v| us(v as i64))
        )),
        Line::from(format!(
            "tcp    {} zero windows, {} full, {} probes",
            totals.map_or(0, |x| x.zero_windows),
            totals.map_or(0, |x| x.window_full),
            totals.map_or(0, |x| x.zero_window_probes)
        )),
        Line::from(format!(
            "damage {} gaps, {} parse errors",
            totals.map_or(0, |x| x.gaps),
            totals.map_or(0, |x| x.parse_errors)
        )),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::RIGHT).border_style(t.dim)),
        stats,
    );
    let [g1, g2] = Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(graphs);
    let ops: Vec<u64> = m.history.iter().map(|p| p.wire_ops as u64).collect();
    let times: Vec<f64> = m.history.iter().map(|p| p.t).collect();
    spark(f, g1, "commands/s on the wire", &ops, &times, |v| format!("{v}/s"), t.good, t);
    latency_chart(f, g2, m, t);
    let [deep, alerts] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    let mut conns: Vec<&ConnReport> =
        m.connections().iter().map(|c| &**c).filter(|c| !m.is_own(&c.client)).collect();
    conns.sort_by_key(|c| std::cmp::Reverse(c.max_pipeline_depth));
    let rows: Vec<Row<'_>> = conns
        .iter()
        .take(usize::from(deep.height.saturating_sub(2)))
        .map(|c| {
            Row::new(vec![
                Cell::from(m.client_label(&c.client)),
                Cell::from(c.max_pipeline_depth.to_string()),
                Cell::from(c.max_batch_commands.to_string()),
                Cell::from(c.commands.to_string()),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [Constraint::Min(22), Constraint::Length(6), Constraint::Length(7), Constraint::Length(9)],
        )
        .header(Row::new(vec!["deepest pipelines", "depth", "cmd/bat", "commands"]).style(t.dim))
        .block(Block::default().borders(Borders::TOP).border_style(t.dim)),
        deep,
    );
    alerts_list(f, alerts, m, ui);
}

/// A Redis Cluster's nodes, a row each: role, slots, the node's own ops/s, memory and
/// clients, what the wire saw of it, and whether it answers (a node that does not is red,
/// with why).
fn cluster_nodes(
    f: &mut Frame<'_>,
    area: Rect,
    m: &Model,
    c: &crate::sources::server::cluster::ClusterState,
    ui: &UiState,
) {
    use crate::sources::server::formats::cluster::Role;
    let t = &ui.theme;
    let wire = m.wire.as_ref().map(crate::engine::cluster::wire_by_server);
    let redirects = wire.as_ref().is_some_and(|w| w.values().any(|n| n.moved + n.ask > 0));
    let cols: Vec<(&str, Constraint)> = [
        ("node", Constraint::Length(24), 0),
        ("role", Constraint::Length(7), 0),
        ("slots", Constraint::Length(5), 0),
        ("ranges", Constraint::Length(13), 100),
        ("ops/s", Constraint::Length(7), 0),
        ("memory", Constraint::Length(9), 0),
        ("clients", Constraint::Length(7), 90),
        ("wire cmds", Constraint::Length(9), 120),
        ("MOVED", Constraint::Length(6), if redirects { 100 } else { u16::MAX }),
        ("ASK", Constraint::Length(5), if redirects { 100 } else { u16::MAX }),
        ("state", Constraint::Min(10), 0),
    ]
    .into_iter()
    .filter(|&(_, _, min)| area.width >= min)
    .map(|(h, w, _)| (h, w))
    .collect();
    let num = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let rows: Vec<Row<'_>> = c
        .nodes
        .iter()
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|n| {
            let w = wire.as_ref().map(|w| w.get(n.addr.as_str()).copied().unwrap_or_default());
            let state = match (&n.error, n.up) {
                (Some(e), false) => format!("DOWN: {e}"),
                (None, false) => "polling…".into(),
                (_, true) if n.health == "online" => "ok".into(),
                (_, true) => format!("answers; cluster says {}", n.health),
            };
            let state = if n.captured { state } else { format!("{state} (not captured)") };
            let cell = |h: &str| -> String {
                match h {
                    "node" if n.role == Role::Replica => format!(" └ {}", n.addr),
                    "node" => n.addr.clone(),
                    "role" => n.role.name().to_string(),
                    "slots" => n.slots.to_string(),
                    "ranges" => n.slot_ranges.clone(),
                    "ops/s" => num(n.ops_per_sec),
                    "memory" => n.used_memory.map_or_else(|| "-".into(), bytes),
                    "clients" => num(n.connected_clients),
                    "wire cmds" => num(w.map(|w| w.commands)),
                    "MOVED" => num(w.map(|w| w.moved)),
                    "ASK" => num(w.map(|w| w.ask)),
                    "state" => state.clone(),
                    _ => String::new(),
                }
            };
            let style = if !n.up && n.error.is_some() || matches!(n.health.as_str(), "fail" | "pfail") {
                t.bad
            } else {
                ratatui::style::Style::default()
            };
            Row::new(cols.iter().map(|(h, _)| Cell::from(cell(h))).collect::<Vec<_>>()).style(style)
        })
        .collect();
    let shown = rows.len();
    let more =
        if c.nodes.len() > shown { format!(", {} not shown", c.nodes.len() - shown) } else { String::new() };
    let rediscovery =
        c.discovery_error.as_ref().map_or_else(String::new, |e| format!("; rediscovery failed: {e}"));
    let title = format!(
        " cluster {}: {} of {} nodes answer{more} ({} via {}{rediscovery}) ",
        c.state.as_deref().unwrap_or("?"),
        c.answering(),
        c.nodes.len(),
        c.source,
        c.discovered_from
    );
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| *w).collect();
    f.render_widget(
        Table::new(rows, widths)
            .header(Row::new(cols.iter().map(|(h, _)| *h).collect::<Vec<_>>()).style(t.dim))
            .block(Block::default().title(title).borders(Borders::TOP).border_style(t.dim)),
        area,
    );
}

/// The alerts, open ones first: time, severity, kind, count and what to look at; the
/// selected one (`j`/`k`) jumps to its evidence with Enter.
fn alerts_list(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let shown = m.alerts.shown();
    let open = shown.iter().filter(|a| !a.resolved).count();
    let mut lines: Vec<Line<'_>> = Vec::new();
    if let Some(why) = &m.wire_unavailable {
        lines.push(Line::from(Span::styled(format!("wire off: {why}"), t.bad)));
    }
    if shown.is_empty() {
        lines.push(Line::from(Span::styled("no alerts", t.good)));
    }
    let sel = ui.alert_sel.min(shown.len().saturating_sub(1));
    for (i, a) in shown.iter().enumerate() {
        let (mark, style) = match (a.resolved, a.severity) {
            (true, _) => ("✓", t.dim),
            (false, Severity::Critical) => ("!!", t.bad),
            (false, Severity::Warning) => ("!", t.warn),
            (false, Severity::Info) => ("i", t.header),
        };
        let count = if a.count > 1 { format!(" ×{}", a.count) } else { String::new() };
        let when = if a.first_seen == a.last_seen || a.resolved {
            clock_time(a.last_seen)
        } else {
            format!("{}–{}", clock_time(a.first_seen), clock_time(a.last_seen))
        };
        let style = if i == sel { style.patch(t.selected) } else { style };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} {} {}{count} ", when, a.kind.name()), style.patch(t.title)),
            Span::styled(a.message.clone(), style),
        ]));
    }
    let title = format!(" alerts: {open} open, {} resolved (j/k, enter: evidence) ", shown.len() - open);
    // Keep the selected alert in view: skip whole alerts above it when they do not fit.
    let inner_h = area.height.saturating_sub(1);
    let width = area.width.saturating_sub(1).max(1) as usize;
    let rows_of = |l: &Line<'_>| l.width().div_ceil(width).max(1) as u16;
    let first = usize::from(m.wire_unavailable.is_some()) + usize::from(shown.is_empty());
    let mut skip = 0;
    while skip < sel && lines[first + skip..=first + sel].iter().map(rows_of).sum::<u16>() > inner_h {
        skip += 1;
    }
    let lines: Vec<Line<'_>> = lines
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i < first || *i >= first + skip)
        .map(|(_, l)| l)
        .collect();
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::default().title(title).borders(Borders::TOP | Borders::LEFT).border_style(t.dim)),
        area,
    );
}

/// p50, p99 and p999 of each interval's answered commands, on a log scale (they are often
/// two orders of magnitude apart).
fn latency_chart(f: &mut Frame<'_>, area: Rect, m: &Model, t: &Theme) {
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    let series = |pick: fn(&crate::engine::model::Point) -> f64| -> Vec<(f64, f64)> {
        m.history.iter().filter(|p| p.answered > 0).map(|p| (p.t, pick(p).max(1.0).log10())).collect()
    };
    let p50 = series(|p| p.p50_us);
    let p99 = series(|p| p.p99_us);
    let p999 = series(|p| p.p999_us);
    let all = p50.iter().chain(&p99).chain(&p999);
    let lo = all.clone().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = all.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo.floor(), hi.ceil().max(lo.floor() + 1.0)) } else { (1.0, 4.0) };
    let t0 = m.history.front().map_or(0.0, |p| p.t);
    let t1 = m.history.back().map_or(1.0, |p| p.t).max(t0 + 1.0);
    let decade = |d: f64| us(10f64.powf(d).round() as i64);
    let mut labels: Vec<String> = Vec::new();
    let mut d = lo;
    while d <= hi {
        labels.push(decade(d));
        d += 1.0;
    }
    // More decades than rows would draw labels over each other ("1.00sms"): then only the
    // ends, which the axis places exactly.
    if labels.len() > usize::from(area.height.saturating_sub(3)).max(2) {
        labels = vec![decade(lo), decade(hi)];
    }
    let data = [
        Dataset::default()
            .name("p50")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.good)
            .data(&p50),
        Dataset::default()
            .name("p99")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.warn)
            .data(&p99),
        Dataset::default()
            .name("p999")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.bad.remove_modifier(ratatui::style::Modifier::BOLD))
            .data(&p999),
    ];
    let title = if p50.is_empty() {
        " latency p50 / p99 / p999 (no command answered yet) "
    } else {
        " latency p50 / p99 / p999 per interval, log scale "
    };
    f.render_widget(
        Chart::new(data.to_vec())
            .block(Block::default().title(title))
            .x_axis(
                Axis::default()
                    .bounds([t0, t1])
                    .labels([format!("-{:.0}s", t1 - t0), "now".to_string()])
                    .style(t.dim),
            )
            .y_axis(Axis::default().bounds([lo, hi]).labels(labels).style(t.dim))
            .legend_position(Some(ratatui::widgets::LegendPosition::TopLeft))
            .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(60))),
        area,
    );
}

/// Per command, what the server counts and how long it takes to run (INFO commandstats and
/// latencystats) beside the rate seen on the wire; below, the SLOWLOG.
pub fn slowlog(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let rows: Vec<_> = m.commands.iter().filter(|c| ui.passes(&[&c.name])).collect();
    let area = if rows.is_empty() {
        area
    } else {
        let want = u16::try_from(rows.len() + 2).unwrap_or(u16::MAX).min(area.height / 2).max(3);
        let [top, rest] = Layout::vertical([Constraint::Length(want), Constraint::Min(3)]).areas(area);
        command_table(f, top, &rows, &ui.theme);
        rest
    };
    slowlog_table(f, area, m, ui);
}

fn command_table(f: &mut Frame<'_>, area: Rect, rows: &[&crate::engine::model::CommandRow], t: &Theme) {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| us(x.round() as i64));
    let body: Vec<Row<'_>> = rows
        .iter()
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|c| {
            Row::new(vec![
                Cell::from(c.name.clone()),
                Cell::from(c.server_per_poll.to_string()),
                Cell::from(c.wire_per_poll.map_or_else(|| "-".into(), |n| n.to_string())),
                Cell::from(c.calls.to_string()),
                Cell::from(format!("{:.2}µs", c.usec_per_call)),
                Cell::from(pct(c.p50)),
                Cell::from(pct(c.p99)),
                Cell::from(pct(c.p999)),
                Cell::from(c.failed.to_string()),
                Cell::from(c.rejected.to_string()),
            ])
            .style(if c.failed + c.rejected > 0 {
                t.warn
            } else {
                ratatui::style::Style::default()
            })
        })
        .collect();
    f.render_widget(
        Table::new(
            body,
            [
                Constraint::Min(14),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(12),
                Constraint::Length(11),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
            ],
        )
        .header(
            Row::new(vec!["command", "server", "wire", "calls", "usec/call", "p50", "p99", "p999", "failed", "rejected"])
                .style(t.dim),
        )
        .block(Block::default().title(
            " commands in the last second: the server's count and run time (INFO commandstats, latencystats), the wire's count beside ",
        )),
        area,
    );
}

/// The server's SLOWLOG, newest first.
fn slowlog_table(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let mut entries: Vec<_> = m
        .slowlog
        .iter()
        .filter(|e| ui.passes(&[&e.client_addr, &e.client_name, &e.args.join(" ")]))
        .collect();
    if ui.slow_sort == SlowSort::Slowest {
        entries.sort_by_key(|e| std::cmp::Reverse(e.duration_us));
    }
    let shown = entries.len();
    let rows: Vec<Row<'_>> = entries
        .into_iter()
        .map(|e| {
            let marked = ui.slow_mark == Some(e.id);
            Row::new(vec![
                Cell::from(if marked { format!("▶{}", e.id) } else { e.id.to_string() }),
                Cell::from(clock(crate::sources::capture::timestamp_us(
                    i64::try_from(e.time).unwrap_or(i64::MAX),
                    0,
                ))),
                Cell::from(us(i64::try_from(e.duration_us).unwrap_or(i64::MAX))),
                Cell::from(e.client_addr.clone()),
                Cell::from(e.args.join(" ")),
            ])
            .style(if marked { t.selected } else { ratatui::style::Style::default() })
        })
        .collect();
    let title = if m.slowlog.is_empty() {
        " SLOWLOG: nothing slower than slowlog-log-slower-than yet ".to_string()
    } else {
        format!(
            " SLOWLOG: {shown} of {} entries, {} first (s){} ",
            m.slowlog.len(),
            if ui.slow_sort == SlowSort::Slowest { "slowest" } else { "newest" },
            filtered(ui)
        )
    };
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(6),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(22),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(vec!["id", "time (UTC)", "took", "client", "command"]).style(t.dim))
        .block(Block::default().title(title)),
        area,
    );
}

/// Memory: INFO memory, used memory and the clients' output buffers over time, and the
/// clients holding the most memory with their wire window stalls beside.
pub fn memory(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let [top, bottom] = Layout::vertical([Constraint::Length(9), Constraint::Min(3)]).areas(area);
    let [left, right] = Layout::horizontal([Constraint::Length(44), Constraint::Min(10)]).areas(top);
    let info = m.server.as_ref().and_then(|s| s.info.as_ref());
    let field = |k: &str| info.and_then(|i| i.get(k)).unwrap_or("-").to_string();
    let human = |k: &str| info.and_then(|i| i.get_u64(k)).map_or_else(|| "-".to_string(), bytes);
    let lines = vec![
        Line::from(format!("used      {}", human("used_memory"))),
        Line::from(format!(
            "rss       {}   frag {}",
            human("used_memory_rss"),
            field("mem_fragmentation_ratio")
        )),
        Line::from(format!("peak      {}", human("used_memory_peak"))),
        // maxmemory 0 means no limit, not a limit of 0 bytes.
        Line::from(match info.and_then(|i| i.get_u64("maxmemory")) {
            Some(0) => format!("maxmemory unlimited (0)   {}", field("maxmemory_policy")),
            _ => format!("maxmemory {}   {}", human("maxmemory"), field("maxmemory_policy")),
        }),
        Line::from(format!("clients   {} in buffers", human("mem_clients_normal"))),
        Line::from(format!("evicted   {} keys", field("evicted_keys"))),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::RIGHT).border_style(t.dim)),
        left,
    );
    let [g1, g2] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
    let mem: Vec<u64> = m.memory.iter().copied().collect();
    let out: Vec<u64> = m.client_output.iter().copied().collect();
    // One point per poll, a second apart.
    let polls = |n: usize| (0..n).map(|i| i as f64).collect::<Vec<f64>>();
    spark(f, g1, "used_memory", &mem, &polls(mem.len()), bytes, t.good, &ui.theme);
    spark(f, g2, "clients' output buffers (omem)", &out, &polls(out.len()), bytes, t.warn, &ui.theme);
    let mut clients: Vec<_> = m
        .server
        .as_ref()
        .map(|s| s.clients.iter().filter(|c| ui.passes(&[&c.addr, &c.name, &c.cmd])).collect())
        .unwrap_or_default();
    match ui.mem_sort {
        MemSort::Total => clients.sort_by_key(|c| std::cmp::Reverse(c.tot_mem)),
        MemSort::Output => clients.sort_by_key(|c| std::cmp::Reverse(c.omem)),
        MemSort::Query => clients.sort_by_key(|c| std::cmp::Reverse(c.qbuf)),
    }
    let rows: Vec<Row<'_>> = clients
        .iter()
        .take(usize::from(bottom.height.saturating_sub(2)))
        .map(|c| {
            let zw = m
                .connections()
                .iter()
                .find(|w| w.client == c.addr)
                .map_or("-".to_string(), |w| w.tcp.zero_windows.to_string());
            Row::new(vec![
                Cell::from(c.addr.clone()),
                Cell::from(c.name.clone()),
                Cell::from(c.cmd.clone()),
                Cell::from(bytes(c.qbuf)),
                Cell::from(bytes(c.omem)),
                Cell::from(bytes(c.tot_mem)),
                Cell::from(zw),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(21),
                Constraint::Length(16),
                Constraint::Length(14),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
            ],
        )
        .header(Row::new(vec!["client", "name", "cmd", "qbuf", "omem", "tot-mem", "zero win"]).style(t.dim))
        .block(
            Block::default()
                .title(format!(
                    " clients by {} (CLIENT LIST; s sorts), zero windows from the wire{} ",
                    ui.mem_sort.label(),
                    filtered(ui)
                ))
                .borders(Borders::TOP)
                .border_style(t.dim),
        ),
        bottom,
    );
}

/// Console: commands typed and their replies as redis-cli shows them; the input line last.
pub fn console(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let [log, input] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (cmd, reply) in &m.console {
        lines.push(Line::from(Span::styled(format!("{}> {cmd}", m.server_addr), t.dim)));
        lines.extend(reply.iter().map(|l| Line::from(l.clone())));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "Commands typed here go to the server on their own connection; replies show as redis-cli shows them.",
            t.dim,
        )));
    }
    let h = usize::from(log.height);
    let skip = lines.len().saturating_sub(h);
    f.render_widget(Paragraph::new(lines.split_off(skip)), log);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(format!("{}> ", m.server_addr), t.title),
            Span::raw(ui.input.clone()),
        ])),
        input,
    );
}

/// MONITOR: the commands the server ran, newest last, with who sent them.
pub fn monitor(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let h = usize::from(area.height.saturating_sub(1));
    let kept: Vec<_> = m
        .monitor
        .iter()
        .filter(|l| ui.filter.is_empty() || ui.passes(&[&l.source.to_string(), &l.args.join(" ")]))
        .collect();
    let lines: Vec<Line<'_>> = if m.monitor.is_empty() {
        vec![Line::from(Span::styled(
            if m.monitor_on {
                "MONITOR on: waiting for commands"
            } else {
                "MONITOR is off: m starts it (it can cost a busy server half its throughput; it stops by itself if its buffer grows or the console falls behind)"
            },
            t.dim,
        ))]
    } else {
        kept.iter()
            .skip(kept.len().saturating_sub(h))
            .map(|l| {
                Line::from(format!(
                    "{}.{:06} [{} {}] {}",
                    clock(l.ts_us),
                    l.ts_us.rem_euclid(1_000_000),
                    l.db,
                    l.source,
                    l.args.join(" ")
                ))
            })
            .collect()
    };
    let title = format!(
        " MONITOR {} ({} lines kept){} ",
        if m.monitor_on { "on" } else { "off" },
        m.monitor.len(),
        filtered(ui)
    );
    f.render_widget(Paragraph::new(lines).block(Block::default().title(title)), area);
}

/// Packets: the selected connection's most recent segments, as `analyze --segments` lists
/// them (live and replay feeds keep the last 100 per connection).
pub fn packets(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let conns = sorted_connections(m, ui);
    let Some(c) = conns.get(ui.selected.min(conns.len().saturating_sub(1))) else {
        f.render_widget(Paragraph::new(Span::styled("no connection yet", t.dim)), area);
        return;
    };
    let recent: &[crate::analysis::wire::SegmentLine] = m.activity(c.id).map_or(&[], |a| &a.recent);
    let rows: Vec<Row<'_>> = recent
        .iter()
        .rev()
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|s| {
            let mut what: Vec<String> = Vec::new();
            let flags = crate::engine::report::event_names(s.analysis);
            if !flags.is_empty() {
                what.push(format!("[{}]", flags.join("] [")));
            }
            if s.commands > 0 {
                let name = s.last_command.map(|n| n.to_string_lossy()).unwrap_or_default();
                what.push(format!(
                    "{} command{} ({name}…)",
                    s.commands,
                    if s.commands == 1 { "" } else { "s" }
                ));
            }
            if s.replies > 0 {
                what.push(format!(
                    "{} repl{} ({} errors)",
                    s.replies,
                    if s.replies == 1 { "y" } else { "ies" },
                    s.errors
                ));
            }
            if s.pushes > 0 {
                what.push(format!("{} pushes", s.pushes));
            }
            if s.split_ends > 0 {
                what.push(format!("{} split end here", s.split_ends));
            }
            if s.split_starts {
                what.push("a split starts here".into());
            }
            if s.gaps > 0 {
                what.push(format!("{} GAP", s.gaps));
            }
            if s.parse_errors > 0 {
                what.push(format!("{} PARSE ERROR", s.parse_errors));
            }
            let style = if s.analysis != 0 { t.warn } else { ratatui::style::Style::default() };
            Row::new(vec![
                Cell::from(format!("#{}", s.frame)),
                Cell::from(format!("+{}", us(s.t_us))),
                Cell::from(s.dir.arrow()),
                Cell::from(s.len.to_string()),
                Cell::from(crate::views::report::segments::flag_letters(s.tcp_flags)),
                Cell::from(s.window_size.to_string()),
                Cell::from(what.join("; ")),
            ])
            .style(style)
        })
        .collect();
    let title = format!(
        " {} → {}: last {} segments, newest first (j/k picks the connection) ",
        c.client,
        c.server,
        recent.len()
    );
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(9),
                Constraint::Length(10),
                Constraint::Length(4),
                Constraint::Length(6),
                Constraint::Length(5),
                // A scaled window runs to eight digits.
                Constraint::Length(8),
                Constraint::Min(10),
            ],
        )
        .header(Row::new(vec!["frame", "time", "dir", "len", "flags", "win", "what it carries"]).style(t.dim))
        .block(Block::default().title(title)),
        area,
    );
}

/// Keys.
pub fn help(f: &mut Frame<'_>, area: Rect, t: &Theme) {
    // Keys first, one line each and never wrapped: at 80x24 every key still shows.
    let r = if area.width < 110 { area } else { super::centered(area, 80, 90) };
    let text = vec![
        Line::from(Span::styled("respscope keys (esc closes)", t.title)),
        Line::from("1-9 tab ← →   panes (9 Lab: respscope lab)   ? h   this help"),
        Line::from("j k ↓ ↑       select (Overview: alert, Timeline: lane)"),
        Line::from("enter         Overview: the alert's evidence; Connections: detail"),
        Line::from("esc           close help, clear filter, leave detail (never quits)"),
        Line::from("q             quit (asks while MONITOR runs)   ctrl-c  quit now"),
        Line::from("/             filter rows by text (enter keeps it, esc clears it)"),
        Line::from("s             sort (connections, SLOWLOG, clients by memory)"),
        Line::from("o             show / hide respscope's own connections"),
        Line::from("m             MONITOR on / off (costly: stops itself if it lags)"),
        Line::from("w             save the last 60 s as pcapng with an incident summary"),
        Line::from("z Z           Timeline: zoom in / out"),
        Line::from("p space       pause: freeze the picture while capture goes on"),
        Line::from("+ - . r       replay: faster, slower, one step while paused, restart"),
        Line::from("R             demo: kill its redis-server, start it again on the same port"),
        Line::from(Span::styled("panes", t.title)),
        Line::from("1 Overview    ops on the wire and from INFO, p99, pipelines, alerts"),
        Line::from("2 Connections wire metrics per client with CLIENT LIST; enter: detail"),
        Line::from("3 Slowlog     per-command times, the server's SLOWLOG"),
        Line::from("4 Memory      INFO memory, client buffers over time"),
        Line::from("5 : Console   type a command (enter sends, ↑↓ history, esc leaves)"),
        Line::from("6 Monitor     MONITOR lines"),
        Line::from("7 Packets     the selected connection's recent segments"),
        Line::from("8 Timeline    clients' batches on one time axis, the server's order"),
        Line::from("Numbers mean what docs/METRICS.md says (latency: last byte to last byte)."),
    ];
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" help ")), r);
}
