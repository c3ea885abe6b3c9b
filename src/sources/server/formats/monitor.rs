//! `MONITOR`: one line per command the server ran.
//!
//! ```text
//! 1795289448.182057 [0 127.0.0.1:33726] "set" "greeting" "hello world"
//! 1795289448.231659 [0 unix:/tmp/redis.sock] "get" "greeting"
//! 1795289448.237793 [0 [::1]:34062] "set" "v6" "yes"
//! 1795289448.243333 [0 lua] "set" "luakey" "luaval"
//! ```
//!
//! Grammar (redis `replicationFeedMonitors`): `secs.micros [db source] "arg" "arg"…`, each
//! argument written by `sdscatrepr`, so a line never holds a raw CR or LF and every byte that
//! is not printable ASCII (UTF-8 included) arrives as `\xHH`. On the wire each line is a RESP
//! simple string (`+…\r\n`), so a leading `+` is accepted; so is a stray `[` before the
//! timestamp, which some hosted Redis variants emit.
//!
//! The monitor connection also carries replies: `+OK` to MONITOR itself, `+PONG`, `+RESET`.
//! They are reported as [`MonitorParseError::Reply`] so the caller can skip them without
//! counting them as damage.
//!
//! Things a view must know (7.0+): lines are written *after* the command ran (so `SELECT 3`
//! shows db 3, and queued MULTI commands appear before their `EXEC`); admin commands and
//! commands rejected before running never appear; the source `unix:` is the server's socket
//! path, the same for every unix client. Arguments are unescaped, then redacted (AUTH and
//! friends), then escaped again for display, and each is capped at [`MAX_STR`] bytes with a
//! Redis-style `... (N more bytes)` marker: one 200 KB value is a 571 KB line.

use super::{mark_truncated, read_quoted, render_args, shown, ParseStats, MAX_ARGS, MAX_STR};

/// Most lines [`parse_monitor_lines`] keeps.
pub const MAX_LINES: usize = 100_000;

/// One parsed MONITOR event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MonitorLine {
    /// Server wall clock when the line was written (after the command ran), µs since the
    /// Unix epoch.
    pub ts_us: i64,
    /// The client's database after the command.
    pub db: u32,
    /// Who sent the command.
    pub source: Source,
    /// Command and arguments, redacted and escaped for display.
    pub args: Vec<String>,
}

/// The `source` part of `[db source]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Source {
    /// A TCP client as `ip:port` or `[v6]:port` (on a replica, the master's address marks
    /// the replication stream).
    Tcp(String),
    /// A unix-socket client: the server's socket path (not per client).
    Unix(String),
    /// Issued by a script or function (`EVAL`, `FCALL`).
    Lua,
    /// Anything else, kept as written.
    Other(String),
}

impl std::fmt::Display for Source {
    /// Writes the source the way MONITOR does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Tcp(a) | Source::Other(a) => f.write_str(a),
            Source::Unix(p) => write!(f, "unix:{p}"),
            Source::Lua => f.write_str("lua"),
        }
    }
}

/// Why a line is not a MONITOR event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorParseError {
    /// Nothing but whitespace.
    #[error("empty line")]
    Empty,
    /// A reply on the monitor connection (`OK` to MONITOR, `PONG`, `RESET`, an error), not an
    /// event: skip it.
    #[error("server reply, not a monitor event: {0}")]
    Reply(String),
    /// The line starts like an event but the timestamp is not `digits[.digits]`.
    #[error("bad timestamp")]
    Timestamp,
    /// The `[db source]` part is missing or malformed.
    #[error("missing or malformed [db source]")]
    Header,
    /// An argument is not a well-formed quoted string; the byte offset in the line.
    #[error("bad argument quoting at byte {0}")]
    Args(usize),
}

/// Parses one MONITOR line (with or without the RESP `+` and the line end).
pub fn parse_monitor_line(line: &str) -> Result<MonitorLine, MonitorParseError> {
    use MonitorParseError as E;
    let line = line.trim_end_matches(['\r', '\n']);
    let line = line.strip_prefix('+').unwrap_or(line);
    if line.trim().is_empty() {
        return Err(E::Empty);
    }
    let body = line.strip_prefix('[').unwrap_or(line);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(E::Reply(shown(line)));
    }
    let (ts, rest) = body.split_once(' ').ok_or(E::Timestamp)?;
    let ts_us = parse_ts(ts).ok_or(E::Timestamp)?;
    let rest = rest.strip_prefix('[').ok_or(E::Header)?;
    let (db, rest) = rest.split_once(' ').ok_or(E::Header)?;
    let db = db.parse().map_err(|_| E::Header)?;
    // The source ends at the `]` that is followed by the first argument's quote. Searching
    // for `] "` rather than the first `]` keeps `[::1]:6379` (a bracket inside the bracket)
    // and unix paths with `]` whole.
    let (source, args_text) = match memchr::memmem::find(rest.as_bytes(), b"] \"") {
        Some(i) => (rest.get(..i).ok_or(E::Header)?, rest.get(i + 1..).ok_or(E::Header)?),
        None => (rest.trim_end().strip_suffix(']').ok_or(E::Header)?, ""),
    };
    let (args, total) = parse_args(line, args_text)?;
    Ok(MonitorLine { ts_us, db, source: classify(source), args: render_args(args, total) })
}

/// `secs[.micros]` to µs. Fewer than six fraction digits are scaled, more are cut.
fn parse_ts(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(frac) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut us = 0i64;
    let mut bytes = frac.bytes();
    for _ in 0..6 {
        us = us * 10 + bytes.next().map_or(0, |b| i64::from(b - b'0'));
    }
    Some(crate::sources::capture::timestamp_us(secs, us))
}

/// Reads the quoted arguments; returns at most [`MAX_ARGS`] (each capped and marked) and how
/// many the line really had. Offsets in errors are relative to `line`, which `text` ends.
fn parse_args(line: &str, text: &str) -> Result<(Vec<Vec<u8>>, usize), MonitorParseError> {
    let mut args = Vec::new();
    let mut total = 0usize;
    let mut rest = text;
    loop {
        let arg = rest.trim_start_matches(' ');
        if arg.is_empty() {
            return Ok((args, total));
        }
        let at = line.len().saturating_sub(arg.len());
        let q = read_quoted(arg, MAX_STR).ok_or(MonitorParseError::Args(at))?;
        if !(q.rest.is_empty() || q.rest.starts_with(' ')) {
            return Err(MonitorParseError::Args(line.len().saturating_sub(q.rest.len())));
        }
        total += 1;
        if args.len() < MAX_ARGS {
            args.push(mark_truncated(q.bytes, q.len));
        }
        rest = q.rest;
    }
}

fn classify(source: &str) -> Source {
    if source == "lua" {
        return Source::Lua;
    }
    if let Some(path) = source.strip_prefix("unix:") {
        return Source::Unix(shown(path));
    }
    let host_port = source.rsplit_once(':').is_some_and(|(host, port)| {
        let bracketed = host.starts_with('[') == host.ends_with(']');
        !host.is_empty() && bracketed && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    });
    if host_port {
        Source::Tcp(shown(source))
    } else {
        Source::Other(shown(source))
    }
}

/// Parses a whole MONITOR transcript (`redis-cli monitor > file`, or our own buffer): replies
/// such as the leading `OK` and blank lines are skipped silently, malformed lines are counted.
pub fn parse_monitor_lines(text: &str) -> (Vec<MonitorLine>, ParseStats) {
    let mut out = Vec::new();
    let mut stats = ParseStats::default();
    for line in text.lines() {
        match parse_monitor_line(line) {
            Ok(m) if out.len() < MAX_LINES => out.push(m),
            Ok(_) => stats.dropped += 1,
            Err(MonitorParseError::Reply(_) | MonitorParseError::Empty) => {}
            Err(_) => stats.skipped += 1,
        }
    }
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{prefixes, Rng};
    use super::*;

    macro_rules! sample {
        ($name:literal) => {
            include_str!(concat!("../../../../tests/fixtures/redis-samples/", $name))
        };
    }

    const FINAL: &str = sample!("monitor_final.txt");
    const ESCAPES: &str = sample!("monitor_escapes.txt");
    const BIG: &str = sample!("monitor_big.txt");
    const BLOCK: &str = sample!("monitor_block.txt");
    const MASTER2: &str = sample!("monitor_master2.txt");
    const REPLICA: &str = sample!("monitor_replica.txt");
    const PIPELINE: &str = sample!("monitor_pipeline.txt");
    const PIPE: &str = sample!("mon_pipe.txt");

    fn all(text: &str) -> Vec<MonitorLine> {
        let (lines, stats) = parse_monitor_lines(text);
        assert_eq!(stats, ParseStats::default());
        lines
    }

    fn tcp(a: &str) -> Source {
        Source::Tcp(a.into())
    }

    #[test]
    fn every_sample_starts_with_the_ok_reply() {
        for text in [FINAL, ESCAPES, BIG, BLOCK, MASTER2, REPLICA, PIPELINE, PIPE] {
            let first = text.lines().next().unwrap_or_default();
            assert_eq!(parse_monitor_line(first), Err(MonitorParseError::Reply("OK".into())));
        }
    }

    #[test]
    fn session_covering_every_variant() {
        let lines = all(FINAL);
        assert_eq!(lines.len(), 31);
        assert_eq!(
            lines[0],
            MonitorLine {
                ts_us: 1_795_289_448_182_057,
                db: 0,
                source: tcp("127.0.0.1:33726"),
                args: vec!["set".into(), "greeting".into(), "hello world".into()],
            }
        );
        // `\"` and `\\` unescape; the backslash stays a backslash on display.
        assert_eq!(lines[1].args, ["set", "q", "he said \"hi\"\\n"]);
        // Control and invalid UTF-8 bytes are re-escaped for display; valid UTF-8 is shown.
        assert_eq!(lines[2].args, ["set", "binkey", "bin\\x00\\x01\\xff\\x09end"]);
        assert_eq!(lines[3].args, ["set", "nlkey", "line1\\x0aline2\\x0d\\x0a"]);
        assert_eq!(lines[5].args, ["hset", "h", "f1", "v 1", "f2", "ü€"]);
        assert_eq!(lines[6].args, ["set", "key with spaces", ""]);
        assert_eq!(lines[7].db, 3);
        assert_eq!(lines[7].args, ["SELECT", "3"]);
        assert_eq!(lines[8].db, 3);
        assert_eq!(lines[9].source, Source::Unix("/tmp/redis.sock".into()));
        assert_eq!(lines[10].source, tcp("[::1]:34062"));
        assert_eq!(lines[12].source, Source::Lua);
        assert_eq!(lines[12].args, ["set", "luakey", "luaval"]);
        assert_eq!(
            lines[16],
            MonitorLine {
                ts_us: 1_795_289_448_252_386,
                db: 0,
                source: Source::Lua,
                args: vec!["incr".into(), "fkey".into()]
            }
        );
        // The server already wrote "(redacted)"; our policy hides it again regardless.
        assert_eq!(lines[17].args, ["AUTH", "***", "***"]);
        let sources: Vec<String> = lines.iter().map(|l| l.source.to_string()).collect();
        assert_eq!(sources[9], "unix:/tmp/redis.sock");
        assert_eq!(sources[10], "[::1]:34062");
        // MULTI's queued commands come before EXEC.
        let names: Vec<&str> = lines[22..26].iter().map(|l| l.args[0].as_str()).collect();
        assert_eq!(names, ["MULTI", "SET", "INCR", "EXEC"]);
    }

    #[test]
    fn escapes_sample() {
        let lines = all(ESCAPES);
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0].args, ["set", "esc", "a\\x07b\\x08c\\x7fd\\x1be\\f\"g"]);
        assert_eq!(lines[1].source, tcp("[::1]:53438"));
        assert_eq!(lines[5].args, ["setex", "ttlkey", "100", "v"]);
    }

    #[test]
    fn big_binary_value_is_capped_and_marked() {
        let lines = all(BIG);
        assert_eq!(lines.len(), 1);
        let args = &lines[0].args;
        assert_eq!(&args[..2], ["set", "bigbin"]);
        assert!(args[2].ends_with("... (195904 more bytes)"), "{}", &args[2][args[2].len() - 40..]);
        // 4096 raw bytes become at most 4 display bytes each.
        assert!(args[2].len() <= 4 * MAX_STR + 32);
    }

    #[test]
    fn smaller_samples() {
        let block = all(BLOCK);
        assert_eq!(block.len(), 3);
        assert_eq!(block[0].args, ["blpop", "jobs2", "0"]);
        assert_eq!(block[1].ts_us - block[0].ts_us, 997_784);

        let master = all(MASTER2);
        assert_eq!(master.len(), 5);
        assert_eq!(master[3].source, Source::Lua);

        let replica = all(REPLICA);
        assert_eq!(replica.len(), 7);
        let from_master = replica.iter().filter(|l| l.source == tcp("127.0.0.1:7777")).count();
        assert_eq!(from_master, 6);
        assert_eq!(replica[1].args, ["SET", "exp1", "v", "PXAT", "1795289237802"]);

        let pipeline = all(PIPELINE);
        assert_eq!(pipeline.len(), 192);
        assert!(pipeline.iter().all(|l| l.db == 0 && matches!(l.source, Source::Tcp(_))));
        assert!(pipeline.windows(2).all(|w| w[0].ts_us <= w[1].ts_us));
        assert_eq!(pipeline[0].args, ["SET", "key:000000000178", "VXKeHogK"]);

        let pipe = all(PIPE);
        assert_eq!(pipe.len(), 2);
        assert_eq!(pipe[1].args[0], "ECHO");
        assert_eq!(
            pipe[1].args[1],
            "\\x10\\xb0(\\x8a\\x19\\x1d\\x08\\xf9\\x88\\xc0~\\x8e\\xf6i\\x9b\\xaei\\x99\\x0e\\x8e"
        );
    }

    #[test]
    fn raw_resp_framing_replies_and_lenient_timestamps() {
        let raw = "+1795289131.867206 [0 127.0.0.1:57434] \"set\" \"a b\" \"x\\r\\ny\"\r\n";
        let l = parse_monitor_line(raw).expect("event");
        assert_eq!(l.ts_us, 1_795_289_131_867_206);
        assert_eq!(l.args, ["set", "a b", "x\\x0d\\x0ay"]);
        for reply in ["+OK\r\n", "+PONG", "+RESET", "-ERR unknown"] {
            assert!(matches!(parse_monitor_line(reply), Err(MonitorParseError::Reply(_))), "{reply}");
        }
        assert_eq!(parse_monitor_line("  \r\n"), Err(MonitorParseError::Empty));
        let ali = parse_monitor_line("[1700000000.5 [12 10.0.0.1:6379] \"get\" \"k\"").expect("stray [");
        assert_eq!((ali.ts_us, ali.db), (1_700_000_000_500_000, 12));
        let secs = parse_monitor_line("1700000000 [0 lua] \"ping\"").expect("no fraction");
        assert_eq!(secs.ts_us, 1_700_000_000_000_000);
        let none = parse_monitor_line("1700000000.000001 [0 lua]").expect("no args");
        assert!(none.args.is_empty());
    }

    #[test]
    fn sources() {
        assert_eq!(classify("lua"), Source::Lua);
        assert_eq!(classify("unix:/var/run/a]b.sock"), Source::Unix("/var/run/a]b.sock".into()));
        assert_eq!(classify("[fe80::1%eth0]:1234"), tcp("[fe80::1%eth0]:1234"));
        assert_eq!(classify("AOF"), Source::Other("AOF".into()));
        assert_eq!(classify("[::1:99"), Source::Other("[::1:99".into()));
        let l = parse_monitor_line("1.000001 [0 unix:/tmp/x] y.sock] \"get\"").expect("odd path");
        assert_eq!(l.source, Source::Unix("/tmp/x] y.sock".into()));
    }

    #[test]
    fn arguments_and_sources_come_escaped() {
        // sdscatrepr sends U+202E as bytes; they must not be shown as the character again.
        let l = parse_monitor_line(r#"1.0 [0 unix:/tmp/\x1b.sock] "get" "inv\xe2\x80\xaeoice""#).expect("ok");
        assert_eq!(l.args, ["get", r"inv\xe2\x80\xaeoice"]);
        assert_eq!(l.source, Source::Unix(r"/tmp/\x1b.sock".into()));
        assert_eq!(classify("h\u{202e}:1"), Source::Tcp(r"h\xe2\x80\xae:1".into()));
        assert_eq!(classify("\u{2066}x"), Source::Other(r"\xe2\x81\xa6x".into()));
    }

    #[test]
    fn secrets_never_leave_the_parser() {
        let l =
            parse_monitor_line(r#"1.0 [0 1.2.3.4:5] "hello" "3" "AUTH" "u" "pw" "SETNAME" "x""#).expect("ok");
        assert_eq!(l.args, ["hello", "3", "AUTH", "***", "***", "SETNAME", "x"]);
        let l = parse_monitor_line(r#"1.0 [0 1.2.3.4:5] "config" "set" "requirepass" "pw""#).expect("ok");
        assert_eq!(l.args, ["config", "set", "requirepass", "***"]);
    }

    #[test]
    fn malformed_lines() {
        use MonitorParseError as E;
        assert_eq!(parse_monitor_line("17x.5 [0 lua] \"x\""), Err(E::Timestamp));
        assert_eq!(parse_monitor_line("1700000000.1"), Err(E::Timestamp));
        assert_eq!(parse_monitor_line("99999999999999999999.1 [0 lua] \"x\""), Err(E::Timestamp));
        assert_eq!(parse_monitor_line("1.1 0 lua] \"x\""), Err(E::Header));
        assert_eq!(parse_monitor_line("1.1 [z lua] \"x\""), Err(E::Header));
        assert_eq!(parse_monitor_line("1.1 [0 lua \"x\""), Err(E::Header));
        assert_eq!(parse_monitor_line("1.1 [0 lua] \"unterminated"), Err(E::Args(12)));
        assert_eq!(parse_monitor_line("1.1 [0 lua] \"a\"\"b\""), Err(E::Args(15)));
        assert_eq!(parse_monitor_line("1.1 [0 lua] \"a\" b"), Err(E::Args(16)));
        let (lines, stats) = parse_monitor_lines("OK\n1.1 [0 lua] \"a\"\nbroken 1\n2.2 [0 lua] \"b\n");
        assert_eq!((lines.len(), stats.skipped), (1, 1));
    }

    #[test]
    fn many_arguments_are_capped() {
        let line: String = std::iter::once("1.0 [0 lua] \"mset\"".to_string())
            .chain((0..3000).map(|i| format!(" \"k{i}\"")))
            .collect();
        let l = parse_monitor_line(&line).expect("ok");
        assert_eq!(l.args.len(), MAX_ARGS);
        assert_eq!(l.args[MAX_ARGS - 1], format!("... ({} more arguments)", 3001 - (MAX_ARGS - 1)));
    }

    #[test]
    fn garbage_never_panics() {
        for text in [FINAL, ESCAPES, BLOCK, MASTER2, REPLICA, PIPE] {
            for line in text.lines() {
                for p in prefixes(line, 1) {
                    let _ = parse_monitor_line(p);
                }
            }
        }
        for p in prefixes(BIG, 4099) {
            let _ = parse_monitor_line(p);
        }
        let mut rng = Rng(0x30_7100);
        for _ in 0..5000 {
            let len = rng.below(120) as usize;
            let mut text = rng.text(len);
            match rng.below(3) {
                0 => text.insert_str(0, "1700000000.123456 [0 "),
                1 => text.insert_str(0, "+1.1 [0 lua] \""),
                _ => {}
            }
            let _ = parse_monitor_line(&text);
        }
    }
}
