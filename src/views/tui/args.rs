//! Command lines typed in the console: split into arguments exactly as redis-cli splits them,
//! and kept in the history only with their secrets hidden.
//!
//! redis-cli splits a line with `sdssplitargs` (Redis's `sds.c`): blanks separate arguments;
//! inside double quotes `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and `\<any>` (so `\\` and `\"`)
//! are escapes; inside single quotes everything is literal but `\'`; a quote may open in the
//! middle of an argument (`a"b c"` is `ab c`), but a closing quote must be followed by a blank
//! or the end; a quote never closed is an error. Arguments are bytes: `"\xff"` is not UTF-8.

use std::ops::Range;

use crate::protocol::resp::redact::{secret_mask, Redactor};

/// One argument of a console line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    /// The argument as sent to the server.
    pub bytes: Vec<u8>,
    /// Where it was typed in the line (byte offsets, quotes included).
    pub span: Range<usize>,
}

/// Splits a line into arguments as redis-cli does; `None` where redis-cli says "Invalid
/// argument(s)" (a quote never closed, or a closing quote followed by something else than a
/// blank).
pub fn split_args(line: &str) -> Option<Vec<Vec<u8>>> {
    Some(split_spans(line)?.into_iter().map(|a| a.bytes).collect())
}

/// [`split_args`], with where each argument was typed.
pub fn split_spans(line: &str) -> Option<Vec<Arg>> {
    let b = line.as_bytes();
    // redis-cli reads a C string: a NUL ends the line.
    let b = &b[..memchr::memchr(0, b).unwrap_or(b.len())];
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while b.get(i).copied().is_some_and(is_blank) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let (bytes, end) = token(b, i)?;
        out.push(Arg { bytes, span: i..end });
        i = end;
    }
}

/// C's `isspace`, which `sdssplitargs` uses between arguments and after a closing quote.
fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Where a token's reader stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
}

/// Reads the argument that starts at `b[i]` (not a blank): its bytes and the index after it.
fn token(b: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    let mut cur = Vec::new();
    let mut quote = Quote::None;
    loop {
        let c = b.get(i).copied();
        match (quote, c) {
            // Outside quotes only these four end an argument (a vertical tab does not).
            (Quote::None, None | Some(b' ' | b'\n' | b'\r' | b'\t')) => return Some((cur, i)),
            (Quote::None, Some(b'"')) => quote = Quote::Double,
            (Quote::None, Some(b'\'')) => quote = Quote::Single,
            (Quote::Double | Quote::Single, None) => return None,
            (Quote::Double, Some(b'\\')) if b.get(i + 1).is_some() => {
                let (byte, used) = double_quoted_escape(b, i);
                cur.push(byte);
                i += used;
                continue;
            }
            (Quote::Single, Some(b'\\')) if b.get(i + 1) == Some(&b'\'') => {
                cur.push(b'\'');
                i += 2;
                continue;
            }
            (Quote::Double, Some(b'"')) | (Quote::Single, Some(b'\'')) => {
                return match b.get(i + 1) {
                    Some(&n) if !is_blank(n) => None,
                    _ => Some((cur, i + 1)),
                };
            }
            (_, Some(c)) => cur.push(c),
        }
        i += 1;
    }
}

/// The escape at `b[i]` (a backslash with something after it) inside double quotes: the byte
/// it stands for and how many bytes it took.
fn double_quoted_escape(b: &[u8], i: usize) -> (u8, usize) {
    let hex = |k: usize| b.get(k).and_then(|c| char::from(*c).to_digit(16));
    if b.get(i + 1) == Some(&b'x') {
        if let (Some(h), Some(l)) = (hex(i + 2), hex(i + 3)) {
            // Two hex digits are below 256.
            return (u8::try_from(h * 16 + l).unwrap_or(0), 4);
        }
    }
    let byte = match b.get(i + 1).copied().unwrap_or(b'\\') {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => other,
    };
    (byte, 2)
}

/// The form of a typed line kept in the console's history: the line as typed, with every
/// argument the redaction policy calls a secret replaced by `***`. A secret must never be
/// recallable in clear, so a line that cannot be split keeps only its first word when that
/// word names a command that can carry one.
pub fn history_entry(line: &str) -> String {
    let Some(args) = split_spans(line) else {
        let mut words = line.split_ascii_whitespace();
        let first = words.next().unwrap_or_default();
        let mut r = Redactor::default();
        r.command(first.as_bytes());
        return if r.hides_any() && words.next().is_some() {
            format!("{first} ***")
        } else {
            line.to_string()
        };
    };
    let secret = secret_mask(&args.iter().map(|a| a.bytes.as_slice()).collect::<Vec<_>>());
    let mut out = line.to_string();
    // From the end, so the spans before each replacement stay where they were.
    for (a, _) in args.iter().zip(secret).rev().filter(|(_, s)| *s) {
        out.replace_range(a.span.clone(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<Vec<u8>>> {
        split_args(line)
    }

    fn args(v: &[&[u8]]) -> Option<Vec<Vec<u8>>> {
        Some(v.iter().map(|a| a.to_vec()).collect())
    }

    #[test]
    fn blanks_separate_and_quotes_group() {
        assert_eq!(split("  SET k  v \t"), args(&[b"SET", b"k", b"v"]));
        assert_eq!(split(""), args(&[]));
        assert_eq!(split(" \t "), args(&[]));
        assert_eq!(split(r#"SET "x y" 'a b'"#), args(&[b"SET", b"x y", b"a b"]));
        assert_eq!(split(r#"SET "" ''"#), args(&[b"SET", b"", b""]));
        // A quote may open inside an argument.
        assert_eq!(split(r#"SET a"b c" d'e f'"#), args(&[b"SET", b"ab c", b"de f"]));
        // Outside quotes a vertical tab or a form feed is part of an argument, not a blank…
        assert_eq!(split("a\x0bb"), args(&[b"a\x0bb"]));
        // …but blanks are skipped between arguments, and a NUL ends the line.
        assert_eq!(split("\x0ba b\0c"), args(&[b"a", b"b"]));
    }

    #[test]
    fn double_quotes_take_redis_cli_escapes() {
        assert_eq!(split(r#""a\x1bb""#), args(&[b"a\x1bb"]));
        assert_eq!(split(r#""\xff\xFE\x00""#), args(&[b"\xff\xfe\x00"]));
        assert_eq!(split(r#""\n\r\t\b\a\\\"""#), args(&[b"\n\r\t\x08\x07\\\""]));
        // An unknown escape is the character itself; `\x` without two hex digits is `x`.
        assert_eq!(split(r#""\q\xZZ\x4""#), args(&[b"qxZZx4"]));
        assert_eq!(split("\"é\\x41\""), args(&["éA".as_bytes()]));
    }

    #[test]
    fn single_quotes_are_literal_but_for_an_escaped_quote() {
        assert_eq!(split(r"'a\x41\n'"), args(&[br"a\x41\n"]));
        assert_eq!(split(r"'it\'s'"), args(&[b"it's"]));
        // As in redis-cli, a backslash before the closing quote escapes it: never closed.
        assert_eq!(split(r"'a\\'"), None);
        assert_eq!(split(r"'a\\b'"), args(&[br"a\\b"]));
    }

    #[test]
    fn invalid_lines_as_redis_cli_rejects_them() {
        for bad in [r#"GET "a"#, r#"GET 'a"#, r#"GET "a"b"#, r#"GET 'a'b"#, r#"GET "a\""#, "GET \"a\\"] {
            assert_eq!(split(bad), None, "{bad:?}");
        }
        // A closing quote followed by any blank is fine.
        assert_eq!(split("GET \"a\"\x0bb"), args(&[b"GET", b"a", b"b"]));
    }

    #[test]
    fn spans_point_at_what_was_typed() {
        let line = r#"SET "a b"  c"#;
        let spans: Vec<&str> =
            split_spans(line).unwrap_or_default().iter().map(|a| &line[a.span.clone()]).collect();
        assert_eq!(spans, ["SET", "\"a b\"", "c"]);
    }

    #[test]
    fn history_hides_secrets_and_keeps_the_rest_as_typed() {
        assert_eq!(history_entry("HELLO 3 AUTH default pw"), "HELLO 3 AUTH *** ***");
        assert_eq!(history_entry(r#"auth "p w""#), "auth ***");
        assert_eq!(history_entry("ACL DRYRUN bob AUTH pw"), "ACL DRYRUN bob AUTH ***");
        assert_eq!(
            history_entry("CONFIG SET tls-key-file-pass 'x' maxmemory 1mb"),
            "CONFIG SET tls-key-file-pass *** maxmemory 1mb"
        );
        assert_eq!(history_entry("ACL SETUSER al on >pw"), "ACL SETUSER al *** ***");
        assert_eq!(history_entry(r#"SET "k\x41"  'v'"#), r#"SET "k\x41"  'v'"#);
        // A line that cannot be split: only the name of a command that can carry a secret.
        assert_eq!(history_entry(r#"AUTH "pw"#), "AUTH ***");
        assert_eq!(history_entry(r#"GET "k"#), r#"GET "k"#);
    }
}
