//! Replies shown as redis-cli shows them: `(integer) 5`, `"value"`, `(nil)`, numbered arrays.

use crate::protocol::resp::escape::{escape, escape_with};
use crate::sources::server::formats::{Shape, Value};

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

/// Formats the reply to `args` as redis-cli does in a terminal: the commands whose reply is a
/// report (`INFO`, `CLIENT LIST`, `CLUSTER NODES`, `LATENCY DOCTOR`, …) print it as its lines,
/// everything else as [`format_reply`].
pub fn format_reply_for(args: &[Vec<u8>], v: &Value) -> Vec<String> {
    format_reply_shaped(args, v, &Shape::Plain)
}

/// [`format_reply_for`] with the reply's RESP3 types, as `redis-cli -3` shows them: `1# key
/// => value` for a map, `1~` for a set, `(double)`, `(true)`, `(big number)`, a verbatim
/// string as its lines. Where the value does not have the shape (a secret replaced by `***`),
/// the value is shown as it is.
pub fn format_reply_shaped(args: &[Vec<u8>], v: &Value, shape: &Shape) -> Vec<String> {
    let mut out = match v {
        Value::Bulk(b) if raw_output(args) => return raw_lines(b),
        _ => Vec::new(),
    };
    shaped(v, shape, "", &mut out);
    if out.len() > MAX_LINES {
        let more = out.len() - MAX_LINES;
        out.truncate(MAX_LINES);
        out.push(format!("… {more} more lines"));
    }
    out
}

fn shaped(v: &Value, shape: &Shape, prefix: &str, out: &mut Vec<String>) {
    if out.len() > MAX_LINES {
        return;
    }
    let pad = " ".repeat(prefix.chars().count());
    match (shape, v) {
        (Shape::Double, Value::Simple(d)) => out.push(format!("{prefix}(double) {}", escape(d.as_bytes()))),
        (Shape::BigNumber, Value::Simple(d)) => {
            out.push(format!("{prefix}(big number) {}", escape(d.as_bytes())))
        }
        (Shape::Bool, Value::Int(i)) => {
            out.push(format!("{prefix}({})", if *i != 0 { "true" } else { "false" }))
        }
        (Shape::Verbatim, Value::Bulk(b)) => {
            let text = b.get(4..).filter(|_| b.get(3) == Some(&b':')).unwrap_or(b);
            for (i, line) in text.split(|&c| c == b'\n').enumerate() {
                let line = escape(line.strip_suffix(b"\r").unwrap_or(line));
                out.push(format!("{}{line}", if i == 0 { prefix } else { &pad }));
            }
        }
        (Shape::Map(shapes), Value::Array(items)) if shapes.len() == items.len() && items.len() % 2 == 0 => {
            if items.is_empty() {
                out.push(format!("{prefix}(empty hash)"));
            }
            let n = items.len() / 2;
            let width = n.to_string().len();
            for i in 0..n {
                let label = format!("{:>width$}# ", i + 1);
                let mut key = Vec::new();
                shaped(&items[2 * i], &shapes[2 * i], "", &mut key);
                let key = key.into_iter().next().unwrap_or_default();
                let head = format!("{}{label}{key} => ", if i == 0 { prefix } else { &pad });
                shaped(&items[2 * i + 1], &shapes[2 * i + 1], &head, out);
            }
        }
        (Shape::Set(shapes) | Shape::Push(shapes) | Shape::Array(shapes), Value::Array(items))
            if shapes.len() == items.len() =>
        {
            if items.is_empty() {
                out.push(format!(
                    "{prefix}{}",
                    if matches!(shape, Shape::Set(_)) { "(empty set)" } else { "(empty array)" }
                ));
            }
            let mark = if matches!(shape, Shape::Set(_)) { '~' } else { ')' };
            let width = items.len().to_string().len();
            for (i, (item, s)) in items.iter().zip(shapes).enumerate() {
                let label = format!("{:>width$}{mark} ", i + 1);
                let first = if i == 0 { format!("{prefix}{label}") } else { format!("{pad}{label}") };
                shaped(item, s, &first, out);
            }
        }
        _ => fmt(v, prefix, out),
    }
}

/// redis-cli's list of commands printed raw in a terminal (its `output_raw`).
fn raw_output(args: &[Vec<u8>]) -> bool {
    let word = |i: usize| args.get(i).map(|a| a.to_ascii_lowercase()).unwrap_or_default();
    let (cmd, sub) = (word(0), word(1));
    let n = args.len();
    match cmd.as_slice() {
        b"info" | b"lolwut" => true,
        b"debug" => sub == b"htstats" || sub == b"htstats-key",
        b"memory" => sub == b"malloc-stats" || sub == b"doctor",
        b"cluster" => n == 2 && (sub == b"nodes" || sub == b"info"),
        b"client" => sub == b"list" || sub == b"info",
        b"latency" => (n == 3 && sub == b"graph") || (n == 2 && sub == b"doctor"),
        b"proxy" => sub == b"info",
        _ => false,
    }
}

/// A report's lines, each escaped (a value inside it may hold anything).
fn raw_lines(b: &[u8]) -> Vec<String> {
    let text = b.strip_prefix(b"txt:").unwrap_or(b);
    let mut out: Vec<String> = text
        .split(|&c| c == b'\n')
        .take(MAX_LINES + 1)
        .map(|l| escape(l.strip_suffix(b"\r").unwrap_or(l)))
        .collect();
    if out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    if out.len() > MAX_LINES {
        let lines = text.iter().filter(|&&c| c == b'\n').count() + usize::from(!text.ends_with(b"\n"));
        let more = lines.saturating_sub(MAX_LINES);
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
    fn reports_print_as_their_lines() {
        let args = |a: &[&str]| a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let info = Value::Bulk(b"# Commandstats\r\ncmdstat_get:calls=2,usec=3\r\nx:\x1b[2J\r\n".to_vec());
        assert_eq!(
            format_reply_for(&args(&["INFO", "commandstats"]), &info),
            ["# Commandstats", "cmdstat_get:calls=2,usec=3", r"x:\x1b[2J"]
        );
        let list = Value::Bulk(b"id=3 addr=127.0.0.1:5 name=a\nid=4 addr=127.0.0.1:6 name=b\n".to_vec());
        assert_eq!(
            format_reply_for(&args(&["client", "LIST"]), &list),
            ["id=3 addr=127.0.0.1:5 name=a", "id=4 addr=127.0.0.1:6 name=b"]
        );
        // Anything else is quoted as usual, and an error is an error.
        assert_eq!(format_reply_for(&args(&["GET", "k"]), &Value::Bulk(b"a\nb".to_vec())), [r#""a\nb""#]);
        assert_eq!(format_reply_for(&args(&["INFO"]), &Value::Error("ERR x".into())), ["(error) ERR x"]);
        let long = Value::Bulk("l\n".repeat(MAX_LINES + 5).into_bytes());
        let lines = format_reply_for(&args(&["INFO"]), &long);
        assert_eq!((lines.len(), lines.last().map(String::as_str)), (MAX_LINES + 1, Some("… 5 more lines")));
    }

    #[test]
    fn resp3_as_redis_cli_3() {
        let args = |a: &[&str]| a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let bulk = |s: &str| Value::Bulk(s.as_bytes().to_vec());
        // HGETALL h under RESP3: a map.
        let v = Value::Array(vec![bulk("f1"), bulk("v1"), bulk("f2"), Value::Int(2)]);
        let shape = Shape::Map(vec![Shape::Plain; 4]);
        assert_eq!(
            format_reply_shaped(&args(&["HGETALL", "h"]), &v, &shape),
            ["1# \"f1\" => \"v1\"", "2# \"f2\" => (integer) 2"]
        );
        // SMEMBERS: a set; ZSCORE: a double; EXISTS-like booleans; a big number.
        let set = Value::Array(vec![bulk("a"), bulk("b")]);
        assert_eq!(
            format_reply_shaped(&[], &set, &Shape::Set(vec![Shape::Plain; 2])),
            ["1~ \"a\"", "2~ \"b\""]
        );
        assert_eq!(format_reply_shaped(&[], &Value::Simple("1.5".into()), &Shape::Double), ["(double) 1.5"]);
        assert_eq!(format_reply_shaped(&[], &Value::Int(1), &Shape::Bool), ["(true)"]);
        assert_eq!(
            format_reply_shaped(&[], &Value::Simple("12345678901234567890".into()), &Shape::BigNumber),
            ["(big number) 12345678901234567890"]
        );
        // A verbatim string (CLIENT INFO, LATENCY DOCTOR) as its text.
        let verb = bulk("txt:id=3 addr=x\nsecond");
        assert_eq!(format_reply_shaped(&[], &verb, &Shape::Verbatim), ["id=3 addr=x", "second"]);
        // A map inside an array: HELLO's reply keeps redis-cli's alignment.
        let nested = Value::Array(vec![bulk("server"), bulk("redis"), bulk("modules"), Value::Array(vec![])]);
        let shape = Shape::Map(vec![Shape::Plain, Shape::Plain, Shape::Plain, Shape::Array(vec![])]);
        assert_eq!(
            format_reply_shaped(&[], &nested, &shape),
            ["1# \"server\" => \"redis\"", "2# \"modules\" => (empty array)"]
        );
        // A secret replaced by the redactor no longer has the shape: shown as it is.
        assert_eq!(format_reply_shaped(&[], &Value::Simple("***".into()), &Shape::Verbatim), ["***"]);
        let odd = Value::Array(vec![bulk("requirepass"), Value::Simple("***".into())]);
        assert_eq!(
            format_reply_shaped(&[], &odd, &Shape::Map(vec![Shape::Plain; 2])),
            ["1# \"requirepass\" => ***"]
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
