//! Placeholder until the lab output views land.
use std::path::{Path, PathBuf};

use crate::engine::lab::LabResult;

/// Plain table.
pub fn text_table(r: &LabResult, _width: usize) -> String {
    let mut s = String::new();
    for row in &r.rows {
        s.push_str(&r.columns.iter().map(|c| LabResult::cell(row, c.key)).collect::<Vec<_>>().join("  "));
        s.push('\n');
    }
    s
}
/// Markdown.
pub fn markdown(r: &LabResult) -> String {
    text_table(r, 0)
}
/// CSV.
pub fn csv(r: &LabResult) -> String {
    text_table(r, 0)
}
/// JSON.
pub fn json(r: &LabResult) -> serde_json::Value {
    serde_json::json!({"lab": r.lab, "about": r.about, "setup": r.setup, "columns": r.columns.iter().map(|c| c.key).collect::<Vec<_>>(), "rows": r.rows, "notes": r.notes, "status": r.status})
}
/// Files.
///
/// # Errors
/// Never.
pub fn write_all(_r: &LabResult, _dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    Ok(Vec::new())
}
