//! A workshop lab's results as files and terminal text: a table for the terminal, markdown to
//! paste, CSV and JSON for scripts, an SVG chart. Each is a pure function of a
//! [`LabResult`]; [`write_all`] puts the four files side by side.
//!
//! The table views (terminal, markdown) show values as [`LabResult::cell`] formats them; the
//! data views (CSV, JSON) keep them raw, so a script reads exactly what was measured.

pub mod chart;
mod data;
mod markdown;
mod text;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::engine::lab::LabResult;
use crate::protocol::resp::escape::escape;

pub use data::{csv, json};
pub use markdown::markdown;
pub use text::text_table;

/// The SVG chart's size in [`write_all`]: wide enough for a legend beside four lines.
pub const SVG_SIZE: (u32, u32) = (900, 540);

/// Why [`write_all`] could not write a lab's files.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output folder could not be made.
    #[error("cannot create the folder {}: {source}; check that its parent exists and is writable, or choose another with --out", dir.display())]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// One file could not be written.
    #[error("cannot write {}: {source}; check that the folder is writable and the disk not full", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The JSON could not be made (it always can: every value is JSON already).
    #[error("cannot write {} as JSON: {source}; this is a bug in respscope, please report it", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// The chart could not be drawn.
    #[error("cannot draw the chart {}: {source}; the other files are written", path.display())]
    Chart {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: chart::ChartError,
    },
}

/// Writes `<lab>.json` (pretty), `<lab>.md`, `<lab>.csv` and `<lab>.svg` (900×540) into `dir`,
/// making it first if needed, and returns their paths in that order.
///
/// The lab's name becomes the file names with anything but letters, digits, `-`, `_` and `.`
/// replaced by `_`, so a name never writes outside `dir`. Every file is made in memory first,
/// so a chart that cannot be drawn leaves the three others written and says so.
///
/// # Errors
/// The folder or a file could not be written, or the chart not drawn ([`OutputError`] names
/// the file).
pub fn write_all(r: &LabResult, dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| OutputError::CreateDir { dir: dir.to_path_buf(), source })?;
    let stem = file_stem(&r.lab);
    let path = |ext: &str| dir.join(format!("{stem}.{ext}"));

    let json_path = path("json");
    let mut json_text = serde_json::to_string_pretty(&json(r))
        .map_err(|source| OutputError::Json { path: json_path.clone(), source })?;
    json_text.push('\n');
    let svg_path = path("svg");
    let svg = chart::svg(&r.chart, SVG_SIZE.0, SVG_SIZE.1);

    let mut written = Vec::with_capacity(4);
    for (p, body) in [(json_path, json_text), (path("md"), markdown(r)), (path("csv"), csv(r))] {
        std::fs::write(&p, body).map_err(|source| OutputError::Write { path: p.clone(), source })?;
        written.push(p);
    }
    let svg = svg.map_err(|source| OutputError::Chart { path: svg_path.clone(), source })?;
    std::fs::write(&svg_path, svg).map_err(|source| OutputError::Write { path: svg_path.clone(), source })?;
    written.push(svg_path);
    Ok(written)
}

/// A lab's name as a file name: only `[A-Za-z0-9._-]`, never empty nor a dot-only name (`..`
/// would climb out of the folder).
fn file_stem(lab: &str) -> String {
    let s: String = lab
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if s.chars().all(|c| c == '.') {
        format!("lab{}", s.replace('.', "_"))
    } else {
        s
    }
}

/// True when a column holds numbers only (nulls and missing values aside): the tables
/// right-align it, as numbers are read by their last digits.
fn numeric(r: &LabResult, key: &str) -> bool {
    r.rows.iter().all(|row| matches!(row.get(key), None | Some(Value::Null | Value::Number(_))))
}

/// Text a person reads, made safe: control and invisible characters become `\xNN` (a lab's
/// strings may carry server text, and ESC would drive the terminal).
fn shown(s: &str) -> String {
    escape(s.as_bytes())
}

/// A small lab the views' tests share: numbers, a null, a missing value, a `|`, a quoted
/// string, a field no column shows, two notes.
#[cfg(test)]
pub(crate) mod tests_support {
    use serde_json::json;

    use crate::engine::lab::{Chart, ChartKind, Column, LabResult, Series};

    /// The lab.
    pub(crate) fn small() -> LabResult {
        let columns = vec![
            Column { key: "commands", header: "Commands" },
            Column { key: "batch", header: "Batch" },
            Column { key: "rtt_ms", header: "RTT (ms)" },
            Column { key: "mode", header: "Mode" },
            Column { key: "speedup", header: "Speedup" },
        ];
        let chart = Chart {
            title: "Speedup by batch".into(),
            x_label: "batch".into(),
            y_label: "speedup".into(),
            kind: ChartKind::Lines { log_x: true },
            series: vec![Series { name: "2 ms RTT".into(), points: vec![(1.0, 1.0), (100.0, 87.5)] }],
        };
        let mut r = LabResult::new("pipelining", "Batching commands saves round trips.", columns, chart);
        r.setup = "redis 7.2 on 127.0.0.1, proxy adds RTT".into();
        for row in [
            json!({"commands": 1000, "batch": 1, "rtt_ms": 2, "mode": "plain", "speedup": 1.0, "round_trips": 1000}),
            json!({"commands": 1000, "batch": 100, "rtt_ms": 2.0, "mode": "pipe|ok", "speedup": 87.549}),
            json!({"commands": 10000, "batch": 1000, "rtt_ms": null, "mode": "multi, \"q\""}),
        ] {
            r.rows.push(row.as_object().cloned().unwrap_or_default());
        }
        r.notes = vec![
            "the proxy adds the RTT both ways".into(),
            "one run failed: the server closed the connection".into(),
        ];
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_stay_in_the_folder() {
        assert_eq!(file_stem("pipelining"), "pipelining");
        assert_eq!(file_stem("../etc/passwd"), ".._etc_passwd");
        assert_eq!(file_stem(".."), "lab__");
        assert_eq!(file_stem(""), "lab");
        assert_eq!(file_stem("a b/ç"), "a_b__");
    }
}
