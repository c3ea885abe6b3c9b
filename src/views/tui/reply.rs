//! Replies shown as redis-cli shows them: `(integer) 5`, `"value"`, `(nil)`, numbered arrays.

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
        Value::Simple(s) => out.push(format!("{prefix}{s}")),
        Value::Error(e) => out.push(format!("{prefix}(error) {e}")),
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

/// A bulk string in double quotes with redis-cli's escapes; control bytes never reach the
/// terminal raw.
fn quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        s.push_str(&format!("\\x{byte:02x}"));
                    }
                }
                c => s.push(c),
            }
        }
        for byte in chunk.invalid() {
            s.push_str(&format!("\\x{byte:02x}"));
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
