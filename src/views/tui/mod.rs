//! The console's panes: pure functions of `(&Model, &UiState)` drawn on a frame tick.
//!
//! ```text
//! ┌ respscope ─ server 127.0.0.1:6379 redis 7.0.15 ─ wire lo, 0 dropped ─ t 12.3s ──────┐
//! │ 1 Overview │ 2 Connections │ 3 Slowlog │ 4 Memory │ ? Help              [paused]   │
//! ├──────────────────────────────────────────────────────────────────────────────────────┤
//! │ the selected pane                                                                    │
//! └ q quit  p pause  tab/1-4 panes  j/k select  s sort ─────────────────────────────────┘
//! ```

pub mod args;
pub mod connections;
pub mod lab;
pub mod panes;
pub mod parts;
pub mod reply;
pub mod state;
pub mod theme;
pub mod timeline;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Tabs};
use ratatui::Frame;

pub use state::{Pane, UiState};
pub use theme::Theme;

use crate::engine::model::{Model, WireSource};

/// Draws the whole console.
pub fn render(f: &mut Frame<'_>, model: &Model, ui: &UiState) {
    let theme = ui.theme;
    let area = f.area();
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(header_line(model, ui, header.width)).style(theme.header), header);
    // Short titles when the full ones do not fit: every tab, Help included, stays visible.
    let panes = Pane::shown(model);
    let full: usize = panes.iter().map(|p| p.title().chars().count() + 5).sum();
    let short = full > usize::from(tabs.width);
    let titles: Vec<Line<'_>> = panes
        .iter()
        .map(|p| Line::from(format!("{} {}", p.key(), if short { p.short_title() } else { p.title() })))
        .collect();
    let selected = panes.iter().position(|p| *p == ui.pane).unwrap_or(0);
    f.render_widget(Tabs::new(titles).select(selected).highlight_style(theme.selected).divider("│"), tabs);
    let block = Block::default().borders(Borders::TOP).border_style(theme.dim);
    let inner = block.inner(body);
    f.render_widget(block, body);
    if ui.show_help {
        panes::help(f, inner, &theme);
    } else {
        match ui.pane {
            Pane::Overview => panes::overview(f, inner, model, ui),
            Pane::Connections => connections::connections(f, inner, model, ui),
            Pane::Slowlog => panes::slowlog(f, inner, model, ui),
            Pane::Memory => panes::memory(f, inner, model, ui),
            Pane::Console => panes::console(f, inner, model, ui),
            Pane::Monitor => panes::monitor(f, inner, model, ui),
            Pane::Packets => panes::packets(f, inner, model, ui),
            Pane::Timeline => timeline::draw(f, inner, model, ui),
            Pane::Lab => lab::draw(f, inner, model, ui),
            Pane::Help => panes::help(f, inner, &theme),
        }
    }
    f.render_widget(Paragraph::new(footer_line(ui)).style(theme.dim), footer);
}

fn header_line(m: &Model, ui: &UiState, width: u16) -> Line<'static> {
    // The full words when they fit; otherwise the short ones, so the clock, the server and a
    // capture problem are never what gets cut at 80 or 100 columns.
    let full = header_spans(m, ui, false);
    let len: usize = full.iter().map(|s| s.content.chars().count()).sum();
    if len <= usize::from(width) {
        return Line::from(full);
    }
    Line::from(header_spans(m, ui, true))
}

fn header_spans(m: &Model, ui: &UiState, short: bool) -> Vec<Span<'static>> {
    let theme = ui.theme;
    let mut spans = vec![Span::styled(if short { " respscope" } else { " respscope " }, theme.title)];
    let version = |s: &crate::sources::server::poller::ServerPoll| s.version.clone().unwrap_or_default();
    let server = match &m.server {
        Some(s) if s.up && short => format!(" {} {} ", m.server_addr, version(s)),
        Some(s) if s.up => format!(" server {} redis {} ", m.server_addr, version(s)),
        Some(s) if short => format!(" {} DOWN ", m.server_addr),
        Some(s) => format!(" server {} DOWN: {} ", m.server_addr, s.error.clone().unwrap_or_default()),
        None if m.server_addr.is_empty() => " no server ".to_string(),
        None => format!(" {} connecting… ", m.server_addr),
    };
    let server_style = if m.server.as_ref().is_some_and(|s| !s.up) { theme.bad } else { theme.header };
    spans.push(Span::styled(server, server_style));
    let dropped = m.loss.kernel_dropped + m.loss.if_dropped;
    let wire = match (&m.source, &m.wire_unavailable) {
        // A Unix socket has no wire at all: said even in the short header.
        (_, Some(_)) if short && m.server_addr.starts_with("unix:") => {
            Span::styled("│ no wire: Unix socket ", theme.bad)
        }
        (_, Some(_)) if short => Span::styled("│ wire off ", theme.bad),
        (_, Some(why)) => Span::styled(format!("│ wire off: {why} "), theme.bad),
        (WireSource::Live(i), None) if m.capture_problem.is_some() && short => {
            Span::styled(format!("│ {i} NOT CAPTURING "), theme.bad)
        }
        (WireSource::Live(i), None) if m.capture_problem.is_some() => Span::styled(
            format!("│ wire {i} NOT CAPTURING: {} ", m.capture_problem.clone().unwrap_or_default()),
            theme.bad,
        ),
        (WireSource::Live(i), None) if short => {
            let style = if dropped > 0 { theme.bad } else { theme.header };
            Span::styled(format!("│ {i} {dropped} dropped "), style)
        }
        (WireSource::Live(i), None) => Span::raw(format!(
            "│ wire {i}, {dropped} dropped (kernel {}, if {}) ",
            m.loss.kernel_dropped, m.loss.if_dropped
        )),
        (WireSource::Replay(_), None) if short => Span::raw("│ replay "),
        (WireSource::Replay(f), None) => Span::raw(format!("│ replay {f} ")),
        (WireSource::None, None) => Span::raw("│ no wire "),
    };
    spans.push(wire);
    spans.push(Span::raw(if short {
        format!("│ {:.0}s ", m.now)
    } else {
        format!("│ t {:.1}s ", m.now)
    }));
    if let Some(c) = &ui.clock {
        spans.push(Span::raw(format!("│ {c} UTC ")));
    }
    if m.monitor_on {
        spans.push(Span::styled(if short { " MON " } else { " MONITOR ON " }, theme.bad));
    }
    match &m.recording {
        Some(r) if r.error.is_some() => spans.push(Span::styled(" REC STOPPED ", theme.bad)),
        Some(_) => spans.push(Span::styled(" REC ", theme.header)),
        None => {}
    }
    if ui.frozen.is_some() {
        spans.push(Span::styled(" PAUSED ", theme.bad));
    }
    spans
}

fn footer_line(ui: &UiState) -> Line<'static> {
    if ui.filtering {
        return Line::from(format!(" filter: {}▏  (enter keeps it, esc clears it)", ui.filter));
    }
    if ui.confirm_quit {
        return Line::from(" MONITOR is running: q again quits (and stops it), any other key stays");
    }
    let mut keys = " q quit  p pause  tab/1-8 panes  m monitor  / filter  ? help".to_string();
    match ui.pane {
        Pane::Overview => keys.push_str("  j/k alert  enter evidence"),
        Pane::Connections | Pane::Packets => keys.push_str("  j/k select  s sort"),
        Pane::Slowlog | Pane::Memory => keys.push_str("  s sort"),
        Pane::Timeline => keys.push_str("  j/k lane  z/Z zoom"),
        Pane::Lab => keys = keys.replace("1-8", "1-9"),
        _ => {}
    }
    if !ui.filter.is_empty() {
        keys.push_str(&format!("  [filter \"{}\"]", ui.filter));
    }
    if ui.pane == Pane::Console {
        keys = " type a command, enter sends, ↑↓ history, esc leaves, tab next pane".to_string();
    }
    if let Some(extra) = &ui.footer_extra {
        keys.push_str("  ");
        keys.push_str(extra);
    }
    Line::from(keys)
}

/// A rectangle `pct`% of `r` centred in it (for modals).
pub fn centered(r: Rect, pct_x: u16, pct_y: u16) -> Rect {
    let [_, mid, _] = Layout::vertical([
        Constraint::Percentage((100 - pct_y) / 2),
        Constraint::Percentage(pct_y),
        Constraint::Percentage((100 - pct_y) / 2),
    ])
    .areas(r);
    let [_, c, _] = Layout::horizontal([
        Constraint::Percentage((100 - pct_x) / 2),
        Constraint::Percentage(pct_x),
        Constraint::Percentage((100 - pct_x) / 2),
    ])
    .areas(mid);
    c
}
