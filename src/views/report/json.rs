//! JSON output: contract v1, one object.

use crate::engine::report::Report;

/// Renders the report as pretty JSON.
///
/// # Errors
/// Only if serialisation fails (it does not for this model).
pub fn render(r: &Report) -> serde_json::Result<String> {
    serde_json::to_string_pretty(r)
}
