//! The Connections pane: every connection's wire numbers joined with its CLIENT LIST row, and
//! one connection in detail (what a client library investigator asks about: how it flushes,
//! what it announced, its split commands and their bytes, its window events).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::parts::{closed_note, filtered, spark, wrap_words};
use super::state::{sorted_connections, UiState};
use super::theme::Theme;
use crate::engine::model::Model;
use crate::engine::report::ConnReport;
use crate::views::report::{bytes, opt_us, us};

/// Connections: wire metrics per client joined with its CLIENT LIST row by address.
pub fn connections(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let conns = sorted_connections(m, ui);
    if ui.detail {
        if let Some(c) = conns.get(ui.selected.min(conns.len().saturating_sub(1))) {
            return detail(f, area, m, c, ui);
        }
    }
    // Columns by priority: a narrow terminal drops the least needed first and shows the
    // client's name beside its address instead of in a column of its own, so names are never
    // cut to a few letters.
    // Every column, name and library in their own, needs about 175 columns.
    let wide = area.width >= 175;
    let redirected = conns.iter().any(|c| c.moved + c.ask > 0);
    let cols: Vec<(&str, Constraint)> = [
        ("client", if area.width >= 100 && !wide { Constraint::Min(26) } else { Constraint::Min(21) }, 0),
        ("kind", Constraint::Length(4), 90),
        ("name", Constraint::Length(16), 175),
        ("lib", Constraint::Length(8), 175),
        ("cmds", Constraint::Length(8), 0),
        // Commands per second of its life and its round trips (write batches): a sequential
        // client and a pipelined one differ at a glance.
        ("cmd/s", Constraint::Length(7), 0),
        ("trips", Constraint::Length(6), 0),
        ("age", Constraint::Length(7), if redirected { 140 } else { 120 }),
        ("depth", Constraint::Length(5), 0),
        ("cmd/bat", Constraint::Length(7), 0),
        ("splits", Constraint::Length(6), if redirected { 120 } else { 90 }),
        ("p50", Constraint::Length(8), 100),
        ("p99", Constraint::Length(8), 0),
        ("rtt", Constraint::Length(7), 130),
        ("zwin", Constraint::Length(5), 90),
        ("full", Constraint::Length(5), 110),
        ("qbuf", Constraint::Length(9), 130),
        ("omem", Constraint::Length(9), 0),
        // A cluster's redirections (MOVED/ASK), only where some connection was redirected;
        // then the split commands give way below 120 columns and the age below 140.
        ("mov/ask", Constraint::Length(7), if redirected { 0 } else { u16::MAX }),
    ]
    .into_iter()
    .filter(|&(_, _, min)| area.width >= min)
    .map(|(h, w, _)| (h, w))
    .collect();
    let cols = fit_columns(cols, area.width);
    let header = Row::new(cols.iter().map(|(h, _)| *h).collect::<Vec<_>>()).style(t.dim);
    // Only the rows on screen are built: a thousand connections would otherwise cost most of
    // a frame in strings nobody sees.
    let n = conns.len();
    let selected = ui.selected.min(n.saturating_sub(1));
    let visible = usize::from(area.height.saturating_sub(2)).max(1);
    let offset = (selected + 1).saturating_sub(visible);
    let rows: Vec<Row<'_>> = conns
        .iter()
        .skip(offset)
        .take(visible)
        .map(|c| {
            let row = m.client_row(&c.client);
            let act = m.activity(c.id);
            let life_s = act.map_or(0.0, |a| (a.last_ts_us - a.first_ts_us) as f64 / 1e6);
            let closed = act.is_some_and(|a| a.closed);
            let cell = |h: &str| -> String {
                match h {
                    "client" if wide => c.client.clone(),
                    "client" if area.width >= 100 => m.client_label(&c.client),
                    // Narrow: the name alone when there is one (the detail has both).
                    "client" => match m.identity(&c.client) {
                        Some(r) if !r.name.is_empty() => r.name.clone(),
                        _ => c.client.clone(),
                    },
                    "cmd/s" if life_s >= 0.001 => format!("{:.0}", c.commands as f64 / life_s),
                    "cmd/s" => "-".into(),
                    "trips" => c.batches.to_string(),
                    "age" if act.is_some() => us((life_s * 1e6) as i64),
                    "age" => "-".into(),
                    "qbuf" | "omem" if closed => "closed".into(),
                    "kind" => kind_label(c.kind).to_string(),
                    "name" => row.map(|r| r.name.clone()).unwrap_or_default(),
                    "lib" => row.and_then(|r| r.lib_name.clone()).unwrap_or_default(),
                    "cmds" => c.commands.to_string(),
                    "depth" => c.max_pipeline_depth.to_string(),
                    "cmd/bat" => c.max_batch_commands.to_string(),
                    "splits" => c.split_commands.to_string(),
                    "p50" => opt_us(c.latency_us.p50),
                    "p99" => opt_us(c.latency_us.p99),
                    "rtt" => c.rtt_us().map_or_else(|| "-".into(), |v| us(v as i64)),
                    "zwin" => c.tcp.zero_windows.to_string(),
                    "full" => c.tcp.window_full.to_string(),
                    "qbuf" => row.map_or_else(|| "-".into(), |r| bytes(r.qbuf)),
                    "omem" => row.map_or_else(|| "-".into(), |r| bytes(r.omem)),
                    "mov/ask" => format!("{}/{}", c.moved, c.ask),
                    _ => String::new(),
                }
            };
            // A closed connection stays, dimmed, with the name it had.
            let style = if closed { t.dim } else { ratatui::style::Style::default() };
            Row::new(cols.iter().map(|(h, _)| Cell::from(cell(h))).collect::<Vec<_>>()).style(style)
        })
        .collect();
    let widths: Vec<Constraint> = cols.iter().map(|(_, w)| *w).collect();
    let unlisted = m.wire.as_ref().map_or(0, |w| w.capture.unlisted_connections);
    let count = if unlisted > 0 {
        format!("{n} busiest of {} connections", n as u64 + unlisted)
    } else {
        format!("{n} connections")
    };
    let own = if ui.show_own { 0 } else { m.connections().iter().filter(|c| m.is_own(&c.client)).count() };
    let own = if own > 0 { format!(", {own} of respscope's hidden (o)") } else { String::new() };
    let title = format!(" {count}, sorted by {} (s){}{own} ", ui.sort.label(), filtered(ui));
    let table = Table::new(rows, widths)
        .header(header)
        .row_highlight_style(t.selected)
        .block(Block::default().title(title));
    let mut state = TableState::default().with_selected(if n == 0 { None } else { Some(selected - offset) });
    f.render_stateful_widget(table, area, &mut state);
}

/// Columns the least needed give way, in this order, when the rest would not fit.
const GIVE_WAY: [&str; 5] = ["kind", "zwin", "depth", "trips", "cmd/s"];

/// Drops columns until their widths and the gaps between them fit in `width`: a table asked
/// for more than it has is laid out by a constraint solver whose choice among equal
/// solutions is not the same from one run to the next.
fn fit_columns(mut cols: Vec<(&str, Constraint)>, width: u16) -> Vec<(&str, Constraint)> {
    let need = |cols: &[(&str, Constraint)]| -> usize {
        let widths: usize = cols
            .iter()
            .map(|(_, c)| match c {
                Constraint::Length(n) | Constraint::Min(n) => usize::from(*n),
                _ => 0,
            })
            .sum();
        widths + cols.len().saturating_sub(1)
    };
    for drop in GIVE_WAY {
        if need(&cols) <= usize::from(width) {
            break;
        }
        cols.retain(|(h, _)| *h != drop);
    }
    cols
}

/// A connection's kind in a few letters (a plain client shows nothing).
fn kind_label(k: crate::analysis::conversation::ConnKind) -> &'static str {
    use crate::analysis::conversation::ConnKind;
    match k {
        ConnKind::Client => "",
        ConnKind::Subscriber => "sub",
        ConnKind::Monitor => "mon",
        ConnKind::Replica => "repl",
    }
}

/// One connection in detail: what a client library investigator asks about.
fn detail(f: &mut Frame<'_>, area: Rect, m: &Model, c: &ConnReport, ui: &UiState) {
    let t = &ui.theme;
    let row = m.client_row(&c.client);
    let l = &c.latency_us;
    let (kind, extra) = crate::views::report::kind_and_extras(c);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} → {}", c.client, c.server), t.title),
            Span::styled(
                crate::views::report::library_line(c).map_or_else(String::new, |l| format!("  {l}")),
                t.title,
            ),
            Span::styled(closed_note(m, c.id), t.dim),
            Span::styled("   (enter or esc: back)", t.title),
        ]),
        Line::from(format!(
            "{}commands {}  replies {}  errors {}  unanswered {}  pushes {}{}   bytes {} → / {} ←",
            kind,
            c.commands,
            c.replies,
            c.errors,
            c.unanswered,
            c.pushes,
            extra,
            bytes(c.bytes_to_server),
            bytes(c.bytes_to_client)
        )),
        Line::from(format!(
            "latency n={}  min {}  p50 {}  p90 {}  p99 {}  max {}   handshake RTT {}",
            l.count,
            opt_us(l.min),
            opt_us(l.p50),
            opt_us(l.p90),
            opt_us(l.p99),
            opt_us(l.max),
            c.handshake_rtt_us.map_or_else(|| "-".into(), us)
        )),
        Line::from(format!(
            "pipeline max depth {}   batches {} (at most {} commands)   split commands {}   split replies {}",
            c.max_pipeline_depth, c.batches, c.max_batch_commands, c.split_commands, c.split_replies
        )),
    ];
    // The verdicts are sentences: wrapped, never cut at the edge of a narrow terminal (the
    // lines of numbers around them keep one row each).
    let flush = format!("flush: {}", crate::views::report::flush_line(c));
    let interleave = match &c.interleave {
        Some(i) => format!(
            "interleaving, estimated from reply order: {}",
            crate::views::report::interleave_words(i.batches, i.interleaved, i.others_mean, i.others_max)
        ),
        None => "interleaving: no batch of two replies or more yet".to_string(),
    };
    for sentence in [flush, interleave] {
        lines.extend(wrap_words(&sentence, usize::from(area.width)).into_iter().map(Line::from));
    }
    lines.extend([
        Line::from(format!("rtt: {}", crate::views::report::rtt_sources(c))),
        Line::from(format!(
            "tcp: {} zero windows, {} window full, {} updates, {} probes, {} retransmissions, {} gaps",
            c.tcp.zero_windows,
            c.tcp.window_full,
            c.tcp.window_updates,
            c.tcp.zero_window_probes,
            c.tcp.retransmissions,
            c.gaps
        )),
        Line::from(match row {
            Some(r) => format!(
                // Not `{:?}`: the name is escaped already, Debug would double its backslashes.
                "CLIENT LIST: name \"{}\" lib {} cmd {} qbuf {} omem {} tot-mem {} idle {}s",
                r.name,
                r.lib_name.clone().unwrap_or_else(|| "-".into()),
                r.cmd,
                bytes(r.qbuf),
                bytes(r.omem),
                bytes(r.tot_mem),
                r.idle
            ),
            None => "CLIENT LIST: not listed (closed, or no server)".to_string(),
        }),
    ]);
    // A blank row under the header when there is room for it.
    let rows = u16::try_from(lines.len() + 1).unwrap_or(u16::MAX);
    let [top, curves, bottom] =
        Layout::vertical([Constraint::Length(rows), Constraint::Length(4), Constraint::Min(3)]).areas(area);
    f.render_widget(Paragraph::new(lines), top);
    conn_curves(f, curves, m, c, t);
    let [hist, right] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    let max = c.batch_sizes.values().copied().max().unwrap_or(1).max(1);
    let bars: Vec<Line<'_>> = c
        .batch_sizes
        .iter()
        .map(|(size, n)| {
            let w = usize::try_from((n * 24).div_ceil(max)).unwrap_or(24);
            Line::from(format!("{size:>6} cmds {n:>7} {}", "█".repeat(w)))
        })
        .collect();
    f.render_widget(
        Paragraph::new(bars).block(
            Block::default()
                .title(" batches by commands per write ")
                .borders(Borders::TOP)
                .border_style(t.dim),
        ),
        hist,
    );
    let mut events: Vec<Line<'_>> = c
        .window_events
        .iter()
        .map(|e| {
            Line::from(format!(
                "+{:<9} #{:<7} {} win {:<8} {}",
                us(e.t_us),
                e.frame,
                e.dir.arrow(),
                e.window_size,
                e.flags.join(", ")
            ))
        })
        .collect();
    for s in &c.splits {
        events.push(Line::from(format!(
            "split #{} {} ({} B): #{} {} B → #{} {} B, cut {}",
            s.index,
            s.name.to_string_lossy(),
            s.len,
            s.first_frame,
            s.first_bytes,
            s.last_frame,
            s.last_bytes,
            s.cut.describe()
        )));
        for line in crate::views::report::text::cut_lines(s) {
            events.push(Line::from(format!("  {line}")));
        }
    }
    if events.is_empty() {
        events.push(Line::from(Span::styled("no window events, no split commands", t.good)));
    }
    // Scrolled by PgUp/PgDn/Home/End, j/k and the wheel; the selection stays.
    let n = events.len();
    let rows = usize::from(right.height.saturating_sub(1)).max(1);
    let first = ui.detail_scroll.min(n.saturating_sub(rows));
    let title = if n > rows {
        format!(
            " window events and split commands: {}–{} of {n} (PgUp/PgDn/Home/End, j/k, wheel) ",
            first + 1,
            (first + rows).min(n)
        )
    } else {
        " window events and split commands ".to_string()
    };
    let events: Vec<Line<'_>> = events.into_iter().skip(first).take(rows).collect();
    f.render_widget(
        Paragraph::new(events)
            .block(Block::default().title(title).borders(Borders::TOP | Borders::LEFT).border_style(t.dim)),
        right,
    );
}

/// A connection's pipeline depth over time beside its output buffer on the server, with the
/// moments its window hit zero marked under the buffer: a reader that stops reading shows
/// as zero windows while omem climbs.
fn conn_curves(f: &mut Frame<'_>, area: Rect, m: &Model, c: &ConnReport, t: &Theme) {
    let points: Vec<_> =
        m.conn_history.get(&c.client).map(|r| r.iter().copied().collect()).unwrap_or_default();
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let depth: Vec<u64> = points.iter().map(|p| u64::try_from(p.depth).unwrap_or(0)).collect();
    let times: Vec<f64> = points.iter().map(|p| p.t).collect();
    spark(f, left, "pipeline depth, deepest per interval", &depth, &times, |v| v.to_string(), t.good, t);
    let [plot, marks] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(right);
    let omem: Vec<u64> = points.iter().map(|p| p.omem.unwrap_or(0)).collect();
    spark(f, plot, "omem on the server, Z below: zero window", &omem, &times, bytes, t.warn, t);
    let shown = &points[points.len().saturating_sub(usize::from(marks.width))..];
    let mut prev =
        points.len().checked_sub(shown.len() + 1).and_then(|i| points.get(i)).map_or(0, |p| p.zero_windows);
    let line: String = shown
        .iter()
        .map(|p| {
            let z = p.zero_windows > prev;
            prev = p.zero_windows;
            if z {
                'Z'
            } else {
                ' '
            }
        })
        .collect();
    f.render_widget(Paragraph::new(Span::styled(line, t.bad)), marks);
}
