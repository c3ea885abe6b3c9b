//! Parsers for the server's own reports, one module per command family.
//!
//! Everything here treats the server's output as untrusted: a proxy, a fork, a future version
//! or a hostile endpoint may send anything. So every parser
//!
//! * never panics (no indexing or unwrapping on input-derived positions);
//! * skips what it does not understand instead of failing the whole reply, and counts it in
//!   [`ParseStats`] so a view can say "3 lines not understood" rather than hide them;
//! * keeps at most a fixed number of entries and at most [`MAX_STR`] bytes per string, so a
//!   reply cannot make us hold more than a small multiple of its own size;
//! * hands over every string it keeps already escaped for display ([`shown`]), so no view,
//!   log or JSON export can print a server's text raw by forgetting to.
//!
//! Formats were checked against real Redis 7.0.15 output; the samples live in
//! `tests/fixtures/redis-samples/`.
//!
//! - [`info`]: `INFO` sections and the derived command, latency, error and keyspace stats.
//! - [`client_list`]: `CLIENT LIST` / `CLIENT INFO` rows.
//! - [`slowlog`]: `SLOWLOG GET` entries, with arguments redacted.
//! - [`latency`]: `LATENCY LATEST` and `LATENCY HISTORY`.
//! - [`monitor`]: one `MONITOR` event line.
//! - [`config`]: `CONFIG GET` replies with secret values hidden.
//! - [`cluster`]: `CLUSTER SHARDS` and `CLUSTER NODES`: a cluster's nodes, roles and slots.
//!
//! Replies that arrive as RESP arrays are handed over as a generic [`Value`] tree built by the
//! client; [`parse_cli_text`] builds the same tree from `redis-cli`'s rendering, which is what
//! people paste into bug reports and what our fixtures are.

pub mod client_list;
pub mod cluster;
pub mod config;
pub mod info;
pub mod latency;
pub mod monitor;
pub mod slowlog;

use crate::protocol::resp::escape::escape;
use crate::protocol::resp::redact::redact_args;

/// Longest string kept from the server, in bytes (names, values, addresses, one argument
/// before escaping). Longer strings are cut at a character boundary.
pub const MAX_STR: usize = 4096;

/// Most arguments kept for one command (SLOWLOG entry, MONITOR line). Redis itself keeps 32
/// in SLOWLOG; MONITOR shows them all, and an `MSET` of a million keys must not become a
/// million strings on our side.
pub const MAX_ARGS: usize = 1024;

/// Deepest nesting [`parse_cli_text`] builds; deeper lines are skipped.
const MAX_CLI_DEPTH: usize = 32;

/// Most values [`parse_cli_text`] builds (an empty `""` line costs 3 input bytes but a whole
/// [`Value`]).
const MAX_CLI_VALUES: usize = 100_000;

/// A generic RESP value, as the server client hands replies to these parsers.
///
/// RESP3 types the parsers do not need are expected to be folded by the client: maps and
/// sets as flat arrays (`k1, v1, k2, v2`), doubles and big numbers as `Simple`, verbatim
/// strings as `Bulk` (with or without their `txt:` prefix, see [`strip_verbatim`]), booleans
/// as `Int(0|1)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Value {
    /// `:` integer.
    Int(i64),
    /// `$` bulk string: arbitrary bytes.
    Bulk(Vec<u8>),
    /// `+` simple string (status reply).
    Simple(String),
    /// `*` array.
    Array(Vec<Value>),
    /// `$-1` / `*-1` / RESP3 `_`.
    Nil,
    /// `-` error reply.
    Error(String),
}

/// The RESP3 type of each node of a [`Value`] tree, which the value folds away (a map is a
/// flat array there, a double a simple string, a boolean 0 or 1): only the console, which
/// shows replies as `redis-cli -3` does, asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// As the value says (integer, string, error, null).
    Plain,
    /// An array of these.
    Array(Vec<Shape>),
    /// A map: keys and values alternate, as in the folded value.
    Map(Vec<Shape>),
    /// A set.
    Set(Vec<Shape>),
    /// A push.
    Push(Vec<Shape>),
    /// `,` a double (folded to text).
    Double,
    /// `#` a boolean (folded to 0 or 1).
    Bool,
    /// `(` a big number (folded to text).
    BigNumber,
    /// `=` a verbatim string (folded to bytes with its `txt:` prefix).
    Verbatim,
}

impl Value {
    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(b) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// An integer, or a string holding one: some proxies and RESP3 paths turn numbers into
    /// strings, and being strict here would only drop data.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Bulk(_) | Value::Simple(_) => {
                std::str::from_utf8(self.as_bytes()?).ok()?.trim().parse().ok()
            }
            _ => None,
        }
    }

    /// A non-negative integer (or a string holding one, up to `u64::MAX`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(n) => u64::try_from(*n).ok(),
            Value::Bulk(_) | Value::Simple(_) => {
                std::str::from_utf8(self.as_bytes()?).ok()?.trim().parse().ok()
            }
            _ => None,
        }
    }
}

/// What a parser left out, so a view can show it instead of silently hiding it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ParseStats {
    /// Lines or entries that were malformed and ignored.
    pub skipped: usize,
    /// Well-formed entries beyond the parser's cap, not kept.
    pub dropped: usize,
}

/// Removes a RESP3 verbatim-string format prefix (`txt:` / `mkd:`) if the client left it on.
///
/// INFO and CLIENT LIST come as verbatim strings under `HELLO 3`. Their real text starts with
/// `#` or `id=`, never with a three-letter tag and a colon, so stripping is unambiguous.
pub fn strip_verbatim(text: &str) -> &str {
    text.strip_prefix("txt:").or_else(|| text.strip_prefix("mkd:")).unwrap_or(text)
}

/// Cuts `s` to at most [`MAX_STR`] bytes, at a character boundary.
pub(crate) fn cap_str(s: &str) -> String {
    if s.len() <= MAX_STR {
        return s.to_string();
    }
    let mut end = MAX_STR;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// A string from the server as it may be shown: cut to [`MAX_STR`] bytes, then escaped
/// ([`escape`]: control, bidirectional and invisible characters as `\xNN`). Names, addresses,
/// flags and INFO values are written by clients and scripts (a client name, an error prefix
/// in `errorstat_*`), so none of them is trusted to be plain text.
pub(crate) fn shown(s: &str) -> String {
    escape(cap_str(s).as_bytes())
}

/// Marks an argument cut to [`MAX_STR`] bytes the way Redis's SLOWLOG does, so a view treats
/// both the same: `<first bytes>... (N more bytes)`.
pub(crate) fn mark_truncated(mut kept: Vec<u8>, full_len: usize) -> Vec<u8> {
    if full_len > kept.len() {
        let more = full_len - kept.len();
        kept.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
    }
    kept
}

/// Turns raw arguments into display strings: caps their count (Redis-style `... (N more
/// arguments)` marker) and hides secrets through the crate-wide redaction policy, which also
/// escapes non-printable bytes. `total` is how many arguments the command really had.
pub(crate) fn render_args(mut args: Vec<Vec<u8>>, total: usize) -> Vec<String> {
    if total > args.len() || args.len() > MAX_ARGS {
        args.truncate(MAX_ARGS.saturating_sub(1));
        let more = total.saturating_sub(args.len());
        args.push(format!("... ({more} more arguments)").into_bytes());
    }
    redact_args(&args)
}

/// One `sdscatrepr`-quoted string read from the front of a text.
pub(crate) struct Quoted<'a> {
    /// The unescaped bytes, at most the `cap` given to [`read_quoted`].
    pub bytes: Vec<u8>,
    /// The full unescaped length, even past `cap`.
    pub len: usize,
    /// The text after the closing quote.
    pub rest: &'a str,
}

/// Reads a `"…"` string as Redis's `sdscatrepr` writes it (MONITOR lines, redis-cli output):
/// `\\ \" \n \r \t \a \b \xHH`. Keeps at most `cap` bytes but scans to the closing quote, so a
/// 200 KB value costs `cap` bytes of memory. `None` when `s` does not start with a quote or
/// the quote is never closed.
///
/// Unknown escapes are kept as written (backslash and character): Redis never writes them,
/// and showing them beats guessing.
pub(crate) fn read_quoted(s: &str, cap: usize) -> Option<Quoted<'_>> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut len = 0usize;
    let mut push = |out: &mut Vec<u8>, bytes: &[u8]| {
        let room = cap.saturating_sub(out.len()).min(bytes.len());
        out.extend_from_slice(bytes.get(..room).unwrap_or_default());
        len = len.saturating_add(bytes.len());
    };
    let mut i = 1;
    loop {
        let tail = b.get(i..)?;
        let off = memchr::memchr2(b'"', b'\\', tail)?;
        push(&mut out, tail.get(..off).unwrap_or_default());
        i += off;
        if b.get(i) == Some(&b'"') {
            let rest = s.get(i + 1..)?;
            return Some(Quoted { bytes: out, len, rest });
        }
        // A backslash.
        let esc = *b.get(i + 1)?;
        let (bytes, used): ([u8; 2], usize) = match esc {
            b'n' => ([b'\n', 0], 1),
            b'r' => ([b'\r', 0], 1),
            b't' => ([b'\t', 0], 1),
            b'a' => ([0x07, 0], 1),
            b'b' => ([0x08, 0], 1),
            b'\\' | b'"' => ([esc, 0], 1),
            b'x' => match (b.get(i + 2).and_then(hex), b.get(i + 3).and_then(hex)) {
                (Some(h), Some(l)) => {
                    push(&mut out, &[(h << 4) | l]);
                    i += 4;
                    continue;
                }
                _ => ([b'\\', b'x'], 2),
            },
            other => ([b'\\', other], 2),
        };
        push(&mut out, bytes.get(..used).unwrap_or_default());
        i += 2;
    }
}

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Builds a [`Value`] from `redis-cli`'s human rendering of a reply (TTY mode):
///
/// ```text
/// 1) 1) (integer) 16
///    4)  1) "rpush"
///       10) "8"
/// ```
///
/// Nesting is read from columns: redis-cli right-aligns each array's indexes to the width of
/// its largest one, so every element of one array has its `)` in the same column, and that
/// column grows with depth. An index line is matched to the open array with that column.
///
/// Leaves: `(integer) N`, `(nil)`, `(error) …`, `(empty array)` / `(empty list or set)`,
/// `(double) x` (as `Simple`), `"…"` (as `Bulk`, unescaped) and anything else as `Simple`
/// (status replies print unquoted). RESP3 maps (`1# k => v`) are not supported; their lines
/// are skipped. Never panics; lines that fit nowhere are skipped.
pub fn parse_cli_text(text: &str) -> Value {
    parse_cli_text_with_stats(text).0
}

/// [`parse_cli_text`], also saying how many lines were skipped.
pub fn parse_cli_text_with_stats(text: &str) -> (Value, ParseStats) {
    let mut stats = ParseStats::default();
    // Open arrays: the column of their `)` and their elements so far.
    let mut stack: Vec<(usize, Vec<Value>)> = Vec::new();
    let mut single: Option<Value> = None;
    let mut values = 0usize;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if values >= MAX_CLI_VALUES {
            stats.dropped += 1;
            continue;
        }
        let (markers, leaf) = cli_markers(line);
        let Some((&first, nested)) = markers.split_first() else {
            if stack.is_empty() && single.is_none() {
                single = Some(cli_leaf(leaf));
                values += 1;
            } else {
                stats.skipped += 1;
            }
            continue;
        };
        if stack.is_empty() {
            if single.is_some() {
                stats.skipped += 1;
                continue;
            }
            stack.push((first, Vec::new()));
        }
        let Some(depth) = stack.iter().rposition(|(col, _)| *col == first) else {
            stats.skipped += 1;
            continue;
        };
        if depth + 1 + nested.len() > MAX_CLI_DEPTH {
            stats.skipped += 1;
            continue;
        }
        fold_to(&mut stack, depth + 1);
        for &col in nested {
            stack.push((col, Vec::new()));
        }
        if let Some((_, top)) = stack.last_mut() {
            top.push(cli_leaf(leaf));
        }
        values += 1 + nested.len();
    }
    fold_to(&mut stack, 1);
    let value = match stack.pop() {
        Some((_, items)) => Value::Array(items),
        None => single.unwrap_or(Value::Nil),
    };
    (value, stats)
}

/// Closes open arrays until `len` remain, each becoming the last element of its parent.
fn fold_to(stack: &mut Vec<(usize, Vec<Value>)>, len: usize) {
    while stack.len() > len.max(1) {
        let Some((_, items)) = stack.pop() else { break };
        if let Some((_, parent)) = stack.last_mut() {
            parent.push(Value::Array(items));
        }
    }
}

/// Splits a redis-cli line into the columns of its index markers (`12) `, or `3~ ` for
/// sets) and the leaf text after them.
fn cli_markers(line: &str) -> (Vec<usize>, &str) {
    let b = line.as_bytes();
    let mut markers = Vec::new();
    let mut pos = 0;
    loop {
        let mut i = pos;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let digits_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let is_marker = i > digits_start
            && matches!(b.get(i), Some(b')' | b'~'))
            && matches!(b.get(i + 1), None | Some(b' '));
        if !is_marker || markers.len() > MAX_CLI_DEPTH {
            return (markers, line.get(digits_start..).unwrap_or_default());
        }
        markers.push(i);
        pos = i + 1;
    }
}

/// One rendered scalar (or empty array) as a [`Value`].
fn cli_leaf(text: &str) -> Value {
    let text = text.trim_end();
    if let Some(n) = text.strip_prefix("(integer) ") {
        return n.trim().parse().map_or_else(|_| Value::Simple(cap_str(text)), Value::Int);
    }
    if let Some(e) = text.strip_prefix("(error) ") {
        return Value::Error(cap_str(e));
    }
    if let Some(d) = text.strip_prefix("(double) ") {
        return Value::Simple(cap_str(d));
    }
    match text {
        "(nil)" => return Value::Nil,
        "(empty array)" | "(empty list or set)" | "(empty set)" | "(empty hash)" => {
            return Value::Array(Vec::new())
        }
        _ => {}
    }
    if let Some(q) = read_quoted(text, usize::MAX) {
        if q.rest.trim().is_empty() {
            return Value::Bulk(q.bytes);
        }
    }
    Value::Simple(cap_str(text))
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Deterministic garbage for the "never panics" tests.

    /// A xorshift64 generator: fixed seed, no dependency, same inputs on every run.
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }

        /// Random text biased towards the characters the parsers care about.
        pub fn text(&mut self, len: usize) -> String {
            const ALPHABET: &[u8] = b"  ::==,,\"\"\\\\[]]()#+-.0123456789abcdefxX|~\r\n\n\t\x00\x7f";
            let mut out = Vec::with_capacity(len);
            for _ in 0..len {
                if self.below(8) == 0 {
                    out.push(self.next() as u8);
                } else {
                    let i = self.below(ALPHABET.len() as u64) as usize;
                    out.push(ALPHABET[i]);
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        }

        /// A random [`super::Value`] tree of bounded depth.
        pub fn value(&mut self, depth: u32) -> super::Value {
            use super::Value;
            match self.below(if depth == 0 { 6 } else { 8 }) {
                0 => Value::Int(self.next() as i64),
                1 => Value::Int(self.below(100) as i64),
                2 => {
                    let len = self.below(20) as usize;
                    Value::Bulk(self.text(len).into_bytes())
                }
                3 => Value::Simple(self.text(5)),
                4 => Value::Nil,
                5 => Value::Error(self.text(5)),
                _ => {
                    let n = self.below(8);
                    Value::Array((0..n).map(|_| self.value(depth - 1)).collect())
                }
            }
        }
    }

    /// Every prefix of `text` (at char boundaries), stepping `step` bytes.
    pub fn prefixes(text: &str, step: usize) -> impl Iterator<Item = &str> {
        (0..=text.len()).step_by(step.max(1)).filter_map(|i| text.get(..i))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::Rng;
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn read_quoted_unescapes_every_sdscatrepr_escape() {
        let q = read_quoted(r#""a\ab\bc\x7fd\x1be\\f\"g\n\r\t\xC3" rest"#, usize::MAX).expect("quoted");
        assert_eq!(q.bytes, b"a\x07b\x08c\x7fd\x1be\\f\"g\n\r\t\xc3");
        assert_eq!(q.len, q.bytes.len());
        assert_eq!(q.rest, " rest");
    }

    #[test]
    fn read_quoted_keeps_unknown_escapes_and_caps_but_counts() {
        let q = read_quoted(r#""\q\xzz""#, usize::MAX).expect("quoted");
        assert_eq!(q.bytes, b"\\q\\xzz");
        let q = read_quoted(r#""abcdef\x00gh""#, 4).expect("quoted");
        assert_eq!(q.bytes, b"abcd");
        assert_eq!(q.len, 9);
        assert!(read_quoted(r#""never closed"#, 10).is_none());
        assert!(read_quoted(r#""ends in backslash\"#, 10).is_none());
        assert!(read_quoted("no quote", 10).is_none());
    }

    #[test]
    fn render_args_caps_count_like_slowlog_and_redacts() {
        let args: Vec<Vec<u8>> = (0..MAX_ARGS + 10).map(|i| i.to_string().into_bytes()).collect();
        let out = render_args(args, MAX_ARGS + 10);
        assert_eq!(out.len(), MAX_ARGS);
        assert_eq!(out.last().map(String::as_str), Some("... (11 more arguments)"));
        assert_eq!(render_args(vec![b"AUTH".to_vec(), b"pw".to_vec()], 2), ["AUTH", "***"]);
    }

    #[test]
    fn cap_str_cuts_at_a_char_boundary() {
        let s = "é".repeat(MAX_STR);
        let c = cap_str(&s);
        assert!(c.len() <= MAX_STR && c.len() >= MAX_STR - 1);
        assert!(c.chars().all(|ch| ch == 'é'));
    }

    #[test]
    fn strip_verbatim_only_strips_format_tags() {
        assert_eq!(strip_verbatim("txt:# Server"), "# Server");
        assert_eq!(strip_verbatim("id=1 addr=x"), "id=1 addr=x");
    }

    #[test]
    fn cli_text_nested_arrays_and_padding() {
        let text = r#"1) 1) (integer) 16
   2) (empty array)
   3)  1) "a"
       2) "b"
       3) "c"
       4) "d"
       5) "e"
       6) "f"
       7) "g"
       8) "h"
       9) "i"
      10) "j"
   4) "x\ny"
2) (nil)
3) OK
4) (error) ERR boom
"#;
        let (v, stats) = parse_cli_text_with_stats(text);
        assert_eq!(stats, ParseStats::default());
        let letters: Vec<Value> = "abcdefghij".chars().map(|c| bulk(&c.to_string())).collect();
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Array(
                    vec![Value::Int(16), Value::Array(vec![]), Value::Array(letters), bulk("x\ny"),]
                ),
                Value::Nil,
                Value::Simple("OK".into()),
                Value::Error("ERR boom".into()),
            ])
        );
    }

    #[test]
    fn cli_text_single_values() {
        assert_eq!(parse_cli_text("(integer) 7\n"), Value::Int(7));
        assert_eq!(parse_cli_text("\"v\""), bulk("v"));
        assert_eq!(parse_cli_text("(empty array)"), Value::Array(vec![]));
        assert_eq!(parse_cli_text(""), Value::Nil);
    }

    #[test]
    fn cli_text_skips_lines_that_fit_nowhere() {
        let (v, stats) = parse_cli_text_with_stats("1) \"a\"\n      7) \"stray\"\n2) \"b\"\n");
        assert_eq!(v, Value::Array(vec![bulk("a"), bulk("b")]));
        assert_eq!(stats.skipped, 1);
    }

    #[test]
    fn value_accessors_are_lenient_about_numbers_in_strings() {
        assert_eq!(bulk(" 42 ").as_u64(), Some(42));
        assert_eq!(Value::Int(-1).as_u64(), None);
        assert_eq!(Value::Int(-1).as_i64(), Some(-1));
        assert_eq!(Value::Simple("x".into()).as_i64(), None);
        assert_eq!(Value::Nil.as_bytes(), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng(0x5eed_cafe);
        for _ in 0..2000 {
            let len = rng.below(200) as usize;
            let text = rng.text(len);
            let _ = parse_cli_text(&text);
            let _ = read_quoted(&text, 16);
            let _ = strip_verbatim(&text);
            let _ = cap_str(&text);
        }
        // Deep nesting is bounded, not a stack overflow.
        let deep: String = (0..500).map(|_| "1) ").collect::<String>() + "\"x\"";
        let (_, stats) = parse_cli_text_with_stats(&deep);
        assert_eq!(stats.skipped, 1);
    }
}
