//! JSON output: contract v1, one object.

use crate::engine::report::{Connections, Report, Streamed};

/// Renders a report with its own connections as pretty JSON.
///
/// # Errors
/// Only if serialisation fails (it does not for this model).
pub fn render(r: &Report) -> serde_json::Result<String> {
    serde_json::to_string_pretty(r)
}

/// Writes the report as pretty JSON (`pretty`) or on one line, connections one at a time.
///
/// # Errors
/// Writing to `out` failed.
pub fn write(
    out: &mut dyn std::io::Write,
    r: &Report,
    conns: Connections<'_>,
    pretty: bool,
) -> serde_json::Result<()> {
    let doc = Streamed { report: r, connections: conns };
    if pretty {
        serde_json::to_writer_pretty(&mut *out, &doc)?;
    } else {
        serde_json::to_writer(&mut *out, &doc)?;
    }
    out.write_all(b"\n").map_err(serde_json::Error::io)
}
