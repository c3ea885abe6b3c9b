//! The Timeline pane: each client's write batches on one time axis, the server's execution
//! order from MONITOR beneath, and the selected lane's batches in a table.
//!
//! ```text
//!  10 ms across, 1 column = 125 µs (auto; z/Z zoom) · 3 lanes
//!  A 127.0.0.1:40112      │   █      █      █      █      █
//!  B 127.0.0.1:40118      │ ╷──▃ ╷──▃ S──▅
//!  server (MONITOR)       │   A  B   A  B+  A
//!  order, newest last     │AAAAAAAAAAAAAAAABBBBBBBBAAAAAAAAAAAAAAAA
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::state::UiState;
use crate::engine::model::Model;
use crate::engine::timeline::{self, LaneCell, ServerCell, Timeline};
use crate::views::report::{bytes, us};

/// Width of the lane labels.
const LABEL: u16 = 24;
/// Levels of a column's command count.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Draws the pane.
pub fn draw(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let columns = usize::from(area.width.saturating_sub(LABEL + 1)).max(1);
    // Lanes take what is left after the legend, the server's two rows and a few table rows.
    let max_lanes = usize::from(area.height.saturating_sub(9)).max(1);
    let keep = |c: &crate::engine::report::ConnReport| super::state::conn_passes(m, ui, c);
    let tl = timeline::build(m, columns, timeline::Span::Auto(ui.zoom), max_lanes, &keep);
    let server_rows = if tl.server.is_some() { 2 } else { 1 };
    let lane_rows = u16::try_from(tl.lanes.len().max(1)).unwrap_or(u16::MAX);
    let zoom = match ui.zoom {
        0 => "auto".to_string(),
        z => format!("auto{z:+}"),
    };
    let hidden = if tl.hidden > 0 { format!(", {} more without room", tl.hidden) } else { String::new() };
    let title = format!(
        " {} across, 1 column = {} ({zoom}; z/Z zoom) · {} lanes{hidden} ",
        us(tl.span_us),
        us(tl.column_us),
        tl.lanes.len()
    );
    let legend = " ▁…█ commands done  ╷─ batch arriving  S split command  Z zero window";
    // The legend goes on a line of its own when both do not fit: it is never cut.
    let one_line = title.chars().count() + legend.chars().count() <= usize::from(area.width);
    let [head, lanes, server, table] = Layout::vertical([
        Constraint::Length(if one_line { 1 } else { 2 }),
        Constraint::Length(lane_rows),
        Constraint::Length(server_rows),
        Constraint::Min(0),
    ])
    .areas(area);

    let head_lines = if one_line {
        vec![Line::from(vec![Span::styled(title, t.title), Span::styled(legend, t.dim)])]
    } else {
        vec![Line::from(Span::styled(title, t.title)), Line::from(Span::styled(legend, t.dim))]
    };
    f.render_widget(Paragraph::new(head_lines), head);

    let peak = tl.lanes.iter().flat_map(|l| l.cells.iter().map(|c| c.commands)).max().unwrap_or(1).max(1);
    let selected = ui.lane.min(tl.lanes.len().saturating_sub(1));
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (i, lane) in tl.lanes.iter().enumerate() {
        let colour = t.lane(i);
        let label_style = if i == selected { t.selected } else { colour };
        let mut spans = vec![Span::styled(
            format!(
                "{:<w$}",
                fit(&format!("{} {}", lane.label, m.client_label(&lane.client)), usize::from(LABEL) - 1),
                w = usize::from(LABEL)
            ),
            label_style,
        )];
        spans.push(Span::styled("│", t.dim));
        spans.extend(lane.cells.iter().map(|c| cell_span(c, peak, colour, t)));
        lines.push(Line::from(spans));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "no client traffic yet (the wire feed shows each connection's most recent segments here)",
            t.dim,
        )));
    }
    f.render_widget(Paragraph::new(lines), lanes);

    let mut rows: Vec<Line<'_>> = Vec::new();
    match &tl.server {
        Some(cells) => {
            let mut spans =
                vec![Span::styled(format!("{:<w$}│", "server (MONITOR)", w = usize::from(LABEL)), t.dim)];
            spans.extend(cells.iter().map(|c| server_span(c, &tl, t)));
            rows.push(Line::from(spans));
            let mut spans =
                vec![Span::styled(format!("{:<w$}│", "order, newest last", w = usize::from(LABEL)), t.dim)];
            spans.extend(tl.order.iter().map(|o| match o {
                Some(i) => Span::styled(label_of(&tl, *i).to_string(), t.lane(*i)),
                None => Span::styled("·", t.dim),
            }));
            rows.push(Line::from(spans));
        }
        None => {
            // Without MONITOR the reply order still says roughly how much ran inside the
            // selected client's batches (docs/METRICS.md: "interleaving").
            let estimate = tl.lanes.get(selected).and_then(|l| {
                let c = m.connections().iter().find(|c| c.client == l.client)?;
                let i = c.interleave.as_ref()?;
                Some(format!(
                    "MONITOR is off; from reply order, {}: {} of {} batches had others inside ({:.1} on average, at most {}); m for the exact order",
                    l.label, i.interleaved, i.batches, i.others_mean, i.others_max
                ))
            });
            let text = estimate.unwrap_or_else(|| {
                "MONITOR is off: m starts it to see the server's execution order and other clients' commands inside each batch".to_string()
            });
            rows.push(Line::from(Span::styled(
                format!("{:<w$}│ {text}", "server", w = usize::from(LABEL)),
                t.dim,
            )));
        }
    }
    f.render_widget(Paragraph::new(rows), server);
    batches_table(f, table, m, &tl, selected, ui);
}

fn label_of(tl: &Timeline, i: usize) -> char {
    tl.lanes.get(i).map_or('?', |l| l.label)
}

fn cell_span(c: &LaneCell, peak: u32, colour: Style, t: &super::Theme) -> Span<'static> {
    if c.zero_window {
        return Span::styled("Z", t.bad);
    }
    if c.splits > 0 {
        return Span::styled("S", t.warn.add_modifier(Modifier::BOLD));
    }
    if c.commands > 0 {
        return Span::styled(level(c.commands, peak).to_string(), colour);
    }
    if c.batch_starts > 0 {
        return Span::styled("╷", colour);
    }
    if c.inside_batch {
        return Span::styled("─", colour);
    }
    Span::raw(" ")
}

/// A count as one of eight levels, on a log scale up to `peak` (one command is the lowest).
fn level(n: u32, peak: u32) -> char {
    if peak <= 1 || n <= 1 {
        return LEVELS[0];
    }
    let x = (f64::from(n).ln() / f64::from(peak).ln() * 7.0).round();
    LEVELS[(x as usize).min(7)]
}

fn server_span(c: &ServerCell, tl: &Timeline, t: &super::Theme) -> Span<'static> {
    match (c.commands, c.lane) {
        (0, _) => Span::raw(" "),
        (_, Some(i)) if c.mixed => Span::styled("+", t.lane(i).add_modifier(Modifier::BOLD)),
        (_, Some(i)) => Span::styled(label_of(tl, i).to_string(), t.lane(i)),
        (_, None) => Span::raw("·"),
    }
}

fn batches_table(f: &mut Frame<'_>, area: Rect, m: &Model, tl: &Timeline, selected: usize, ui: &UiState) {
    let t = &ui.theme;
    let Some(lane) = tl.lanes.get(selected) else { return };
    let end = tl.start_us + tl.span_us;
    let mine: Vec<_> = tl.batches.iter().filter(|b| b.lane == selected).collect();
    let rows: Vec<Row<'_>> = mine
        .iter()
        .rev()
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|b| {
            Row::new(vec![
                Cell::from(format!("-{}", us(end - b.t_first_us))),
                Cell::from(format!("#{}", b.first_frame)),
                Cell::from(us(b.t_last_us - b.t_first_us)),
                Cell::from(b.segments.to_string()),
                Cell::from(bytes(b.bytes)),
                Cell::from(b.commands.to_string()),
                Cell::from(b.splits.to_string()),
                Cell::from(b.others.map_or_else(|| "-".into(), |n| n.to_string())),
            ])
            .style(if b.splits > 0 { t.warn } else { Style::default() })
        })
        .collect();
    let per_batch = if lane.batches > 0 {
        format!("{:.1} commands per batch", lane.commands as f64 / f64::from(lane.batches))
    } else {
        "no batch in view".to_string()
    };
    let with_others: Vec<u32> = mine.iter().filter_map(|b| b.others).collect();
    let others = if with_others.is_empty() {
        String::new()
    } else {
        format!(
            ", other clients' commands inside a batch: {:.1} on average",
            f64::from(with_others.iter().sum::<u32>()) / with_others.len() as f64
        )
    };
    let title = format!(
        " lane {} {}: {} batches, {per_batch}, {} split{others} (j/k picks the lane) ",
        lane.label,
        m.client_label(&lane.client),
        lane.batches,
        lane.splits,
    );
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(5),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Min(8),
            ],
        )
        .header(
            Row::new(vec![
                "started",
                "frame",
                "took",
                "segs",
                "bytes",
                "cmds",
                "splits",
                "other clients inside",
            ])
            .style(t.dim),
        )
        .block(Block::default().title(title).borders(Borders::TOP).border_style(t.dim)),
        area,
    );
}

/// `s` cut to `n` characters, the cut marked with `…`: a long name must not push its lane's
/// cells off the shared time axis.
fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}
