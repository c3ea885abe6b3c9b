//! Replies shown as redis-cli shows them: `(integer) 5`, `"value"`, `(nil)`, numbered arrays.

use crate::protocol::resp::escape::{escape, escape_with};
use crate::sources::server::formats::Value;

/// Lines kept of one reply (a KEYS * on a big keyspace must not flood the pane).
pub const MAX_LINES: usize = 1000;

/// Formats a reply like redis-cli.
pub fn format_reply(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fmt(v, "", &mut out);
    if out.len() > MAX_LINES {
        let more = out.len() - MAX_LINES;
        out.truncate(MAX_LINES);
        out.push(format!("… {more} more lines"));
    }
    out
}

fn fmt(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Int(i) => out.push(format!("{prefix}(integer) {i}")),
        // Status and error lines come from the server too (an error echoes what was sent).
        Value::Simple(s) => out.push(format!("{prefix}{}", escape(s.as_bytes()))),
        Value::Error(e) => out.push(format!("{prefix}(error) {}", escape(e.as_bytes()))),
        Value::Nil => out.push(format!("{prefix}(nil)")),
        Value::Bulk(b) => out.push(format!("{prefix}{}", quote(b))),
        Value::Array(items) if items.is_empty() => out.push(format!("{prefix}(empty array)")),
        Value::Array(items) => {
            let width = items.len().to_string().len();
            let pad = " ".repeat(prefix.chars().count());
            for (i, item) in items.iter().enumerate() {
                let label = format!("{:>width$}) ", i + 1);
                let first = if i == 0 { format!("{prefix}{label}") } else { format!("{pad}{label}") };
                if out.len() > MAX_LINES {
                    return;
                }
                fmt(item, &first, out);
            }
        }
    }
}

/// A bulk string in double quotes with redis-cli's escapes, through the crate's one escaping
/// function: control and invisible characters never reach the terminal raw.
fn quote(b: &[u8]) -> String {
    let special = |c| match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        '\x07' => Some("\\a"),
        '\x08' => Some("\\b"),
        _ => None,
    };
    format!("\"{}\"", escape_with(b, special))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_reaches_the_terminal_raw() {
        assert_eq!(
            format_reply(&Value::Bulk("inv\u{202e}oice\u{200b}".into())),
            [r#""inv\xe2\x80\xaeoice\xe2\x80\x8b""#]
        );
        assert_eq!(format_reply(&Value::Bulk(b"\x07\x08\xff".to_vec())), [r#""\a\b\xff""#]);
        assert_eq!(format_reply(&Value::Simple("O\u{202e}K\x1b".into())), [r"O\xe2\x80\xaeK\x1b"]);
        assert_eq!(
            format_reply(&Value::Error("ERR unknown command 'X\u{202e}'".into())),
            [r"(error) ERR unknown command 'X\xe2\x80\xae'"]
        );
    }

    #[test]
    fn like_redis_cli() {
        assert_eq!(format_reply(&Value::Int(5)), ["(integer) 5"]);
        assert_eq!(format_reply(&Value::Bulk(b"a\"b\n\x01".to_vec())), ["\"a\\\"b\\n\\x01\""]);
        assert_eq!(format_reply(&Value::Nil), ["(nil)"]);
        let nested = Value::Array(vec![
            Value::Bulk(b"k".to_vec()),
            Value::Array(vec![Value::Int(1), Value::Int(2)]),
            Value::Array(vec![]),
        ]);
        assert_eq!(
            format_reply(&nested),
            ["1) \"k\"", "2) 1) (integer) 1", "   2) (integer) 2", "3) (empty array)"]
        );
    }
}
