//! The lab as data for scripts: CSV for a spreadsheet, JSON for everything else. Values stay
//! raw (no thousands separators, no rounding), as measured.

use serde_json::{Map, Value};

use crate::engine::lab::LabResult;

/// A header line of the column keys, then one line per row: numbers as JSON writes them,
/// `null` or a missing value as an empty field, `true`/`false`, strings as they are (nested
/// values as their JSON text). A field with `,`, `"`, a line break or an edge space is quoted
/// per RFC 4180, its quotes doubled. Lines end with `\r\n`, as RFC 4180 has it.
pub fn csv(r: &LabResult) -> String {
    let mut out = String::new();
    let mut line = |fields: Vec<String>| {
        out.push_str(&fields.iter().map(|f| quoted(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    };
    line(r.columns.iter().map(|c| c.key.to_string()).collect());
    for row in &r.rows {
        line(r.columns.iter().map(|c| raw(row.get(c.key))).collect());
    }
    out
}

/// The lab as one JSON object: `lab`, `about`, `setup`, `columns` (the keys, in order),
/// `rows` (whole, so a field no column shows is kept), `notes` and `status`.
pub fn json(r: &LabResult) -> Value {
    let mut o = Map::new();
    o.insert("lab".into(), r.lab.clone().into());
    o.insert("about".into(), r.about.clone().into());
    o.insert("setup".into(), r.setup.clone().into());
    o.insert("columns".into(), r.columns.iter().map(|c| Value::from(c.key)).collect());
    o.insert("rows".into(), r.rows.iter().cloned().map(Value::Object).collect());
    o.insert("notes".into(), r.notes.iter().map(|n| Value::from(n.as_str())).collect());
    // A status is plain enum data and always serialises; null would only mark a bug.
    o.insert("status".into(), serde_json::to_value(&r.status).unwrap_or(Value::Null));
    Value::Object(o)
}

/// One field's text before quoting.
fn raw(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A field quoted when RFC 4180 needs it (and for edge spaces, which spreadsheets trim).
fn quoted(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) || f.starts_with(' ') || f.ends_with(' ') {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::lab::LabStatus;
    use crate::views::lab::tests_support::small;
    use serde_json::json;

    #[test]
    fn csv_keeps_raw_values_and_quotes_what_needs_it() {
        assert_eq!(
            csv(&small()),
            "commands,batch,rtt_ms,mode,speedup\r\n\
             1000,1,2,plain,1.0\r\n\
             1000,100,2.0,pipe|ok,87.549\r\n\
             10000,1000,,\"multi, \"\"q\"\"\",\r\n"
        );
    }

    #[test]
    fn csv_quotes_line_breaks_and_writes_other_values_as_json() {
        let mut r = small();
        r.rows.truncate(1);
        r.rows[0].insert("mode".into(), "a\nb".into());
        r.rows[0].insert("speedup".into(), json!(true));
        r.rows[0].insert("batch".into(), json!([1, 2]));
        assert_eq!(csv(&r).lines().nth(1), Some("1000,\"[1,2]\",2,\"a"));
        assert!(csv(&r).ends_with("b\",true\r\n"));
    }

    #[test]
    fn json_is_the_contract_shape_with_whole_rows() {
        let mut r = small();
        r.status = LabStatus::Failed { why: "redis-server exited".into() };
        assert_eq!(
            json(&r),
            json!({
                "lab": "pipelining",
                "about": "Batching commands saves round trips.",
                "setup": "redis 7.2 on 127.0.0.1, proxy adds RTT",
                "columns": ["commands", "batch", "rtt_ms", "mode", "speedup"],
                "rows": [
                    {"commands": 1000, "batch": 1, "rtt_ms": 2, "mode": "plain", "speedup": 1.0, "round_trips": 1000},
                    {"commands": 1000, "batch": 100, "rtt_ms": 2.0, "mode": "pipe|ok", "speedup": 87.549},
                    {"commands": 10000, "batch": 1000, "rtt_ms": null, "mode": "multi, \"q\""}
                ],
                "notes": ["the proxy adds the RTT both ways", "one run failed: the server closed the connection"],
                "status": {"state": "failed", "why": "redis-server exited"}
            })
        );
    }
}
