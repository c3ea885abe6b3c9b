//! The Lab pane: a workshop lab's table as its runs are measured, and its chart, beside the
//! usual panes (the Timeline and Packets show the run in progress on the wire).
//!
//! ```text
//! running 7/32: 1,000 commands by 10 at 2ms RTT
//!  RTT ms  commands  batch  elapsed ms  cmd/s  round trips (wire)  speedup  stated
//!       2     1,000      1    2,391.2     418               1,000        1
//!       2     1,000     10      245.0   4,082                 100      9.8
//! ┌ speedup against batch size, per round trip ────────────────────────────┐
//! │ ⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⠀⣀⠤⠒⠉                                      │
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Bar, BarChart, BarGroup, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use super::UiState;
use crate::engine::lab::{ChartKind, LabResult, LabStatus};
use crate::engine::model::Model;
use crate::protocol::resp::escape::escape;

/// Draws the lab's status, table, notes and chart.
pub fn draw(f: &mut Frame<'_>, area: Rect, m: &Model, ui: &UiState) {
    let t = &ui.theme;
    let Some(lab) = &m.lab else {
        f.render_widget(
            Paragraph::new("no lab is running: `respscope lab pipelining` starts one").style(t.dim),
            area,
        );
        return;
    };
    let (status, style) = match &lab.status {
        LabStatus::Starting => ("starting: server, proxies, capture".to_string(), t.warn),
        LabStatus::Running { step, of, what } => (format!("running {step}/{of}: {what}"), t.warn),
        LabStatus::Done => (format!("done: {} runs measured", lab.rows.len()), t.good),
        LabStatus::Failed { why } => (format!("stopped: {why}"), t.bad),
    };
    // The chart gets what the table does not need, and at least 8 rows when there are 16.
    let chart_rows = if area.height >= 16 { (area.height - 3) / 2 } else { 0 };
    let [head, table, chart] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(1), Constraint::Length(chart_rows)])
            .areas(area);
    let head_lines = vec![
        Line::from(vec![Span::styled(format!("lab {} ", lab.lab), t.title), Span::styled(status, style)]),
        Line::from(Span::styled(lab.setup.clone(), t.dim)),
    ];
    f.render_widget(Paragraph::new(head_lines), head);
    draw_table(f, table, lab, ui);
    if chart_rows > 0 {
        draw_chart(f, chart, lab, ui);
    }
}

/// The columns, widths fitted to the header and the values, newest rows last; the notes
/// under them while there is room.
fn draw_table(f: &mut Frame<'_>, area: Rect, lab: &LabResult, ui: &UiState) {
    let t = &ui.theme;
    let cells: Vec<Vec<String>> = lab
        .rows
        .iter()
        .map(|r| lab.columns.iter().map(|c| escape(LabResult::cell(r, c.key).as_bytes())).collect())
        .collect();
    let widths: Vec<usize> = lab
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells.iter().map(|r| r[i].chars().count()).chain([c.header.chars().count()]).max().unwrap_or(1)
        })
        .collect();
    let line = |values: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (v, w)) in values.iter().zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            // Text left, numbers right: what a table of measurements looks like.
            let numeric =
                !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-' | '—'));
            if numeric {
                s.push_str(&format!("{v:>w$}"));
            } else {
                s.push_str(&format!("{v:<w$}"));
            }
        }
        s
    };
    let height = usize::from(area.height);
    let mut lines =
        vec![Line::from(Span::styled(line(lab.columns.iter().map(|c| c.header).collect()), t.dim))];
    let room = height.saturating_sub(1);
    let shown_rows = cells.len().min(room);
    let skipped = cells.len() - shown_rows;
    let room_rows = if skipped > 0 { shown_rows.saturating_sub(1) } else { shown_rows };
    if skipped > 0 {
        lines.push(Line::from(Span::styled(
            format!("  … {} earlier runs (--out writes every row)", cells.len() - room_rows),
            t.dim,
        )));
    }
    for r in &cells[cells.len() - room_rows..] {
        lines.push(Line::from(line(r.iter().map(String::as_str).collect())));
    }
    for n in &lab.notes {
        if lines.len() >= height {
            break;
        }
        lines.push(Line::from(Span::styled(format!("note: {}", escape(n.as_bytes())), t.dim)));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// The chart: lines (x on a log scale for batch sizes) or grouped bars.
fn draw_chart(f: &mut Frame<'_>, area: Rect, lab: &LabResult, ui: &UiState) {
    let t = &ui.theme;
    let c = &lab.chart;
    let block = Block::default().borders(Borders::ALL).border_style(t.dim).title(format!(" {} ", c.title));
    match &c.kind {
        ChartKind::Lines { log_x } => {
            let fx = |x: f64| if *log_x { x.max(1e-9).log10() } else { x };
            let data: Vec<Vec<(f64, f64)>> = c
                .series
                .iter()
                .map(|s| {
                    s.points
                        .iter()
                        .filter(|(x, y)| x.is_finite() && y.is_finite())
                        .map(|&(x, y)| (fx(x), y))
                        .collect()
                })
                .collect();
            let xs = data.iter().flatten().map(|p| p.0);
            let (x0, x1) = xs.clone().fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
            let (x0, x1) = if x0 <= x1 { (x0, if x1 > x0 { x1 } else { x0 + 1.0 }) } else { (0.0, 1.0) };
            let y1 = data.iter().flatten().map(|p| p.1).fold(0.0f64, f64::max).max(1.0) * 1.1;
            let datasets: Vec<Dataset<'_>> = c
                .series
                .iter()
                .zip(&data)
                .enumerate()
                .map(|(i, (s, d))| {
                    Dataset::default()
                        .name(s.name.clone())
                        .marker(Marker::Braille)
                        .graph_type(GraphType::Line)
                        .style(t.lane(i))
                        .data(d)
                })
                .collect();
            let label = |v: f64| if *log_x { short(10f64.powf(v)) } else { short(v) };
            let x_axis = Axis::default()
                .title(Span::styled(c.x_label.clone(), t.dim))
                .bounds([x0, x1])
                .labels([label(x0), label((x0 + x1) / 2.0), label(x1)]);
            let y_axis = Axis::default()
                .title(Span::styled(c.y_label.clone(), t.dim))
                .bounds([0.0, y1])
                .labels(["0".to_string(), short(y1 / 2.0), short(y1)]);
            let chart = Chart::new(datasets)
                .block(block)
                .x_axis(x_axis)
                .y_axis(y_axis)
                .legend_position(Some(ratatui::widgets::LegendPosition::TopLeft))
                .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(60)));
            f.render_widget(chart, area);
        }
        ChartKind::Bars { categories } => {
            let mut chart = BarChart::default().block(block).bar_gap(0).group_gap(2);
            let series = c.series.len().max(1);
            let inner = usize::from(area.width.saturating_sub(2));
            let per_group = (inner / categories.len().max(1)).saturating_sub(2);
            let width = u16::try_from((per_group / series).clamp(1, 12)).unwrap_or(1);
            chart = chart.bar_width(width);
            for (k, cat) in categories.iter().enumerate() {
                let bars: Vec<Bar<'_>> = c
                    .series
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| {
                        let y = s.points.iter().find(|(x, _)| (*x - k as f64).abs() < 0.5)?.1;
                        let v = if y.is_finite() && y > 0.0 { y.round() as u64 } else { 0 };
                        Some(Bar::default().value(v).text_value(short(y)).style(t.lane(i)))
                    })
                    .collect();
                chart = chart.data(BarGroup::default().label(Line::from(cat.clone())).bars(&bars));
            }
            f.render_widget(chart, area);
            // The series' names, as the line chart's legend gives them.
            if area.height > 2 && !c.series.is_empty() {
                let legend: Vec<Span<'_>> = c
                    .series
                    .iter()
                    .enumerate()
                    .flat_map(|(i, s)| {
                        [
                            Span::styled("■ ", t.lane(i)),
                            Span::styled(format!("{}  ", s.name), Style::default()),
                        ]
                    })
                    .collect();
                let at =
                    Rect { x: area.x + 2, y: area.y + 1, width: area.width.saturating_sub(4), height: 1 };
                f.render_widget(Paragraph::new(Line::from(legend)), at);
            }
        }
    }
}

/// A tick label: `1`, `10`, `1.5k`, `2.4M`.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == a.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
