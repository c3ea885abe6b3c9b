//! A workshop lab's results as the views show them: a table that grows one row per measured
//! run, a chart over those rows, and notes on what could not be measured.
//!
//! The labs themselves run in `app::lab`; this is only what they produce, so the console's
//! Lab pane and the files `--out` writes (JSON, markdown, CSV, SVG) read one value.

use serde::Serialize;
use serde_json::{Map, Value};

/// One column of a lab's table.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Column {
    /// The row field it shows (the JSON and CSV name).
    pub key: &'static str,
    /// Its header in the console and in markdown.
    pub header: &'static str,
}

/// How a chart is drawn.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Lines over a numeric x axis, logarithmic when `log_x`.
    Lines {
        /// A logarithmic x axis (batch sizes 1, 10, 100, 1,000).
        log_x: bool,
    },
    /// Bars, one group per category; a point's x is its category's index.
    Bars {
        /// The category names, in x order.
        categories: Vec<String>,
    },
}

/// One line (or one bar colour) of a chart.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Series {
    /// Its legend, `2 ms RTT`.
    pub name: String,
    /// `(x, y)`, in x order.
    pub points: Vec<(f64, f64)>,
}

/// A chart over a lab's rows.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Chart {
    /// Above the chart.
    pub title: String,
    /// The x axis.
    pub x_label: String,
    /// The y axis.
    pub y_label: String,
    /// Lines or bars.
    pub kind: ChartKind,
    /// What is drawn.
    pub series: Vec<Series>,
}

/// Where a lab is.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LabStatus {
    /// Starting: the server, the proxy and the capture.
    Starting,
    /// Running step `step` of `of`, doing `what`.
    Running {
        /// Steps done so far, plus one.
        step: usize,
        /// Steps in all.
        of: usize,
        /// The run in progress, `1,000 commands by 100 at 2 ms`.
        what: String,
    },
    /// Every run measured.
    Done,
    /// Stopped early, and why.
    Failed {
        /// What went wrong and what to do about it.
        why: String,
    },
}

/// A lab's results so far.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LabResult {
    /// The lab's name, as `respscope lab NAME` takes it.
    pub lab: String,
    /// What it shows, in one sentence.
    pub about: String,
    /// Where it ran: the server, the proxy, the capture.
    pub setup: String,
    /// The table's columns, in order.
    pub columns: Vec<Column>,
    /// One object per measured run; each has (at least) every column's key, `null` where a
    /// number could not be measured.
    pub rows: Vec<Map<String, Value>>,
    /// What could not be measured, and why; what the numbers rest on.
    pub notes: Vec<String>,
    /// The chart over the rows.
    pub chart: Chart,
    /// Where the lab is.
    pub status: LabStatus,
    /// The lab's connections as the wire sees them (`127.0.0.1:PORT` on the proxy's client
    /// side) with the names they gave themselves: the server sees them through the proxy, at
    /// other addresses, so CLIENT LIST cannot name them on the wire.
    #[serde(skip)]
    pub clients: Vec<(String, String)>,
}

impl LabResult {
    /// A lab with no rows yet.
    pub fn new(lab: &str, about: &str, columns: Vec<Column>, chart: Chart) -> Self {
        Self {
            lab: lab.to_string(),
            about: about.to_string(),
            setup: String::new(),
            columns,
            rows: Vec::new(),
            notes: Vec::new(),
            chart,
            status: LabStatus::Starting,
            clients: Vec::new(),
        }
    }

    /// A row's value in a column as the table shows it: numbers with thousands separators
    /// (at most 2 decimals, none for integers), `—` for a missing or null value.
    pub fn cell(row: &Map<String, Value>, key: &str) -> String {
        match row.get(key) {
            None | Some(Value::Null) => "—".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    group(&i.to_string())
                } else if let Some(f) = n.as_f64() {
                    // A whole number measured as a float (2.0 ms) reads as one.
                    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
                        group(&format!("{f:.0}"))
                    } else {
                        show_float(f)
                    }
                } else {
                    n.to_string()
                }
            }
            Some(v) => v.to_string(),
        }
    }
}

/// `12345.678` → `12,345.68`; `3.0` → `3`; small values keep two significant decimals.
fn show_float(f: f64) -> String {
    if !f.is_finite() {
        return "—".to_string();
    }
    let s = if f.abs() >= 100.0 {
        format!("{f:.0}")
    } else if f.abs() >= 10.0 {
        format!("{f:.1}")
    } else {
        format!("{f:.2}")
    };
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut out = group(int);
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Thousands separators on an integer's digits (a leading `-` kept).
fn group(digits: &str) -> String {
    let (sign, d) = digits.strip_prefix('-').map_or(("", digits), |d| ("-", d));
    let mut out = String::with_capacity(d.len() + d.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_grouped_and_missing_values_say_so() {
        let row = json!({"a": 1234567, "b": 1.23456, "c": 12345.678, "d": null, "e": "seq", "f": 15.25, "g": -1200, "h": 2.0})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let cells: Vec<String> =
            ["a", "b", "c", "d", "e", "f", "g", "h", "i"].iter().map(|k| LabResult::cell(&row, k)).collect();
        assert_eq!(cells, ["1,234,567", "1.23", "12,346", "—", "seq", "15.2", "-1,200", "2", "—"]);
    }
}
