//! The lab's table for a terminal: aligned columns, numbers right-aligned, then the notes.

use unicode_width::UnicodeWidthStr;

use super::{numeric, shown};
use crate::engine::lab::LabResult;

/// Between two columns.
const GAP: &str = "  ";
/// Before each note, and the indent of its wrapped lines.
const NOTE: &str = "note: ";

/// The table as plain text `width` columns wide: a header row, one line per row (values as
/// [`LabResult::cell`] shows them, numeric columns right-aligned), `(no rows yet)` before the
/// first run, then each note on a line starting `note: `.
///
/// A table line wider than `width` is cut with `…`; a note is wrapped at spaces instead, its
/// further lines indented under its first word, since a note's every word matters. A `width`
/// of 0 means no limit. Every line ends with `\n`, and none ends with spaces.
pub fn text_table(r: &LabResult, width: usize) -> String {
    let mut out = String::new();
    if !r.columns.is_empty() {
        let right: Vec<bool> = r.columns.iter().map(|c| numeric(r, c.key)).collect();
        let header: Vec<String> = r.columns.iter().map(|c| shown(c.header)).collect();
        let body: Vec<Vec<String>> = r
            .rows
            .iter()
            .map(|row| r.columns.iter().map(|c| shown(&LabResult::cell(row, c.key))).collect())
            .collect();
        let widths: Vec<usize> = (0..r.columns.len())
            .map(|i| body.iter().map(|cells| cells[i].width()).chain([header[i].width()]).max().unwrap_or(0))
            .collect();
        for cells in std::iter::once(&header).chain(&body) {
            let line = aligned(cells, &widths, &right);
            out.push_str(&cut(&line, width));
            out.push('\n');
        }
        if r.rows.is_empty() {
            out.push_str(&cut("(no rows yet)", width));
            out.push('\n');
        }
    }
    for note in &r.notes {
        for line in wrap(&shown(note), width) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// One line of cells padded to their column's width, right-aligned where `right` says.
fn aligned(cells: &[String], widths: &[usize], right: &[bool]) -> String {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            line.push_str(GAP);
        }
        let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
        if right[i] {
            line.push_str(&pad);
            line.push_str(cell);
        } else {
            line.push_str(cell);
            line.push_str(&pad);
        }
    }
    line.trim_end().to_string()
}

/// `line` cut to `width` display columns, the last one a `…` when anything was cut.
fn cut(line: &str, width: usize) -> String {
    if width == 0 || line.width() <= width {
        return line.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width.saturating_sub(1) {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// A note as `note: …` lines at most `width` wide, broken at spaces (a single word longer than
/// a line stays whole), further lines indented as wide as `note: `.
fn wrap(note: &str, width: usize) -> Vec<String> {
    let indent = " ".repeat(NOTE.len());
    let mut lines = Vec::new();
    let mut line = NOTE.to_string();
    let mut fresh = true;
    for word in note.split(' ').filter(|w| !w.is_empty()) {
        if !fresh && width > 0 && line.width() + 1 + word.width() > width {
            lines.push(std::mem::replace(&mut line, indent.clone()));
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        line.push_str(word);
        fresh = false;
    }
    lines.push(line.trim_end().to_string());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::lab::tests_support::small;

    #[test]
    fn the_table_aligns_numbers_right_and_ends_with_the_notes() {
        insta::assert_snapshot!(text_table(&small(), 0), @r#"
        Commands  Batch  RTT (ms)  Mode        Speedup
           1,000      1         2  plain             1
           1,000    100         2  pipe|ok        87.5
          10,000  1,000         —  multi, "q"        —
        note: the proxy adds the RTT both ways
        note: one run failed: the server closed the connection
        "#);
    }

    #[test]
    fn narrow_terminals_cut_rows_and_wrap_notes() {
        insta::assert_snapshot!(text_table(&small(), 24), @r"
        Commands  Batch  RTT (m…
           1,000      1        …
           1,000    100        …
          10,000  1,000        …
        note: the proxy adds the
              RTT both ways
        note: one run failed:
              the server closed
              the connection
        ");
    }

    #[test]
    fn no_rows_yet_says_so_and_tiny_widths_do_not_panic() {
        let mut r = small();
        r.rows.clear();
        r.notes.clear();
        insta::assert_snapshot!(text_table(&r, 0), @r"
        Commands  Batch  RTT (ms)  Mode  Speedup
        (no rows yet)
        ");
        for w in 0..6 {
            for line in
                text_table(&small(), w).lines().filter(|l| !l.starts_with("note") && !l.starts_with(' '))
            {
                assert!(w == 0 || line.width() <= w, "{w}: {line:?}");
            }
        }
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut r = small();
        r.rows[0].insert("mode".into(), "\u{1b}[31mred".into());
        r.notes = vec!["bell\u{7}".into()];
        let t = text_table(&r, 0);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains(r"\x1b[31mred") && t.contains(r"note: bell\x07"), "{t}");
    }
}
