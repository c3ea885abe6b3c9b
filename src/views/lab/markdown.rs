//! The lab as markdown to paste into notes or an issue: heading, what and where, the table,
//! the notes.

use super::{numeric, shown};
use crate::engine::lab::LabResult;

/// `## lab NAME`, the about line, `setup: …`, a GitHub markdown table (values as
/// [`LabResult::cell`] shows them, numeric columns right-aligned) and the notes as a bullet
/// list. A `|` in any cell is written `\|` and a line break as a space, so the table keeps its
/// shape; empty parts (no setup yet, no notes) are left out.
pub fn markdown(r: &LabResult) -> String {
    let mut out = format!("## lab {}\n\n", inline(&r.lab));
    if !r.about.is_empty() {
        out.push_str(&inline(&r.about));
        out.push_str("\n\n");
    }
    if !r.setup.is_empty() {
        out.push_str(&format!("setup: {}\n\n", inline(&r.setup)));
    }
    if !r.columns.is_empty() {
        let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        out.push_str(&row(r.columns.iter().map(|c| cell(c.header)).collect()));
        out.push_str(&row(r
            .columns
            .iter()
            .map(|c| if numeric(r, c.key) { "---:" } else { "---" }.to_string())
            .collect()));
        for values in &r.rows {
            out.push_str(&row(r.columns.iter().map(|c| cell(&LabResult::cell(values, c.key))).collect()));
        }
        out.push('\n');
    }
    for note in &r.notes {
        out.push_str(&format!("- {}\n", inline(note)));
    }
    if out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Text on one markdown line: line breaks become spaces (one would end a paragraph, a list
/// item or the table), anything else a terminal or viewer would act on becomes `\xNN`.
fn inline(s: &str) -> String {
    let flat: String = s.chars().map(|c| if matches!(c, '\n' | '\r') { ' ' } else { c }).collect();
    shown(&flat)
}

/// A table cell: [`inline`], with `|` escaped so it does not split the cell.
fn cell(s: &str) -> String {
    inline(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::lab::tests_support::small;

    #[test]
    fn heading_table_and_notes() {
        insta::assert_snapshot!(markdown(&small()), @r#"
        ## lab pipelining

        Batching commands saves round trips.

        setup: redis 7.2 on 127.0.0.1, proxy adds RTT

        | Commands | Batch | RTT (ms) | Mode | Speedup |
        | ---: | ---: | ---: | --- | ---: |
        | 1,000 | 1 | 2 | plain | 1 |
        | 1,000 | 100 | 2 | pipe\|ok | 87.5 |
        | 10,000 | 1,000 | — | multi, "q" | — |

        - the proxy adds the RTT both ways
        - one run failed: the server closed the connection
        "#);
    }

    #[test]
    fn an_empty_lab_is_a_heading_and_a_header_row() {
        let mut r = small();
        r.rows.clear();
        r.notes.clear();
        r.setup.clear();
        insta::assert_snapshot!(markdown(&r), @r"
        ## lab pipelining

        Batching commands saves round trips.

        | Commands | Batch | RTT (ms) | Mode | Speedup |
        | ---: | ---: | ---: | ---: | ---: |
        ");
    }

    #[test]
    fn line_breaks_and_pipes_keep_the_table_whole() {
        let mut r = small();
        r.rows[0].insert("mode".into(), "a|b\nc".into());
        r.notes = vec!["two\nlines".into()];
        let md = markdown(&r);
        assert!(md.contains(r"| a\|b c |"), "{md}");
        assert!(md.contains("- two lines\n"), "{md}");
    }
}
