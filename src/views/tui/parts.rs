//! Small pieces several panes draw with: a sparkline with its scale and time axis, the
//! filter in a title, a closed connection's note, a UTC clock.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Paragraph, Sparkline};
use ratatui::Frame;

use super::state::UiState;
use super::theme::Theme;
use crate::engine::model::Model;
use crate::views::report::us;

/// A sparkline with its scale in the title (the peak of what is shown, which the tallest bar
/// stands for) and a time axis under it (how long ago its first point was, and now).
/// `times` are the points' seconds, oldest first.
#[allow(clippy::too_many_arguments)]
pub fn spark(
    f: &mut Frame<'_>,
    area: Rect,
    what: &str,
    data: &[u64],
    times: &[f64],
    fmt: impl Fn(u64) -> String,
    style: ratatui::style::Style,
    t: &Theme,
) {
    let [plot, axis] = if area.height >= 3 {
        Layout::vertical([Constraint::Min(2), Constraint::Length(1)]).areas(area)
    } else {
        [area, Rect::default()]
    };
    let shown = tail(data, plot.width);
    let peak = shown.iter().copied().max();
    let title = match peak {
        Some(p) => format!(" {what} (peak {}) ", fmt(p)),
        None => format!(" {what}: no data yet "),
    };
    f.render_widget(Sparkline::default().block(Block::default().title(title)).data(shown).style(style), plot);
    if axis.height > 0 {
        let first = times.len().saturating_sub(shown.len());
        let span = match (times.get(first), times.last()) {
            (Some(a), Some(b)) if b > a => format!("-{:.0}s", b - a),
            _ => String::new(),
        };
        // As wide as the bars shown: the axis starts under the first and ends under the last.
        let fill = shown.len().saturating_sub(span.chars().count() + 3).max(1);
        let line = if shown.is_empty() { String::new() } else { format!("{span}{}now", "─".repeat(fill)) };
        f.render_widget(Paragraph::new(Span::styled(line, t.dim)), axis);
    }
}

fn tail(v: &[u64], width: u16) -> &[u64] {
    let w = usize::from(width);
    &v[v.len().saturating_sub(w)..]
}

/// The filter, as a table title says it.
pub fn filtered(ui: &UiState) -> String {
    if ui.filter.is_empty() {
        String::new()
    } else {
        format!(", filter \"{}\"", ui.filter)
    }
}

/// `   closed at HH:MM:SS UTC, 1m 12s ago` for a closed connection (ago in capture time: the
/// newest packet seen), else nothing.
pub fn closed_note(m: &Model, id: u64) -> String {
    match m.activity(id).filter(|a| a.closed) {
        Some(a) => {
            let ago = m.wire_now_us().map_or(0, |now| now.saturating_sub(a.last_ts_us).max(0));
            format!("   closed at {} UTC, {} ago", clock(a.last_ts_us), us(ago))
        }
        None => String::new(),
    }
}

/// `HH:MM:SS` (UTC) of a Unix time in microseconds.
pub fn clock(ts_us: i64) -> String {
    let secs = ts_us.div_euclid(1_000_000);
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600).rem_euclid(24),
        (secs / 60).rem_euclid(60),
        secs.rem_euclid(60)
    )
}

/// `text` in lines of at most `width` characters, broken at spaces (a word longer than the
/// width is cut): the sentences a pane must show whole on a narrow terminal.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut w = word;
        loop {
            let n = w.chars().count();
            let room = if len == 0 { width } else { width.saturating_sub(len + 1) };
            if n <= room {
                if len > 0 {
                    line.push(' ');
                    len += 1;
                }
                line.push_str(w);
                len += n;
                break;
            }
            if len > 0 {
                out.push(std::mem::take(&mut line));
                len = 0;
                continue;
            }
            // Longer than a whole line: cut it.
            let cut = w.char_indices().nth(width).map_or(w.len(), |(i, _)| i);
            out.push(w[..cut].to_string());
            w = &w[cut..];
        }
    }
    if len > 0 || out.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap_words;

    #[test]
    fn words_wrap_at_spaces_and_long_ones_are_cut() {
        assert_eq!(wrap_words("flushes every 8192 bytes", 14), ["flushes every", "8192 bytes"]);
        assert_eq!(wrap_words("abcdefghij k", 4), ["abcd", "efgh", "ij k"]);
        assert_eq!(wrap_words("", 10), [""]);
        assert_eq!(wrap_words("fits", 80), ["fits"]);
    }
}
