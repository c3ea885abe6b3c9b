//! `SLOWLOG GET`: an array of entries, newest first.
//!
//! An entry is `[id, unix_time_s, duration_us, [args…]]` on Redis < 4.0 and adds
//! `client_addr, client_name` from 4.0. The duration is execution time only: no I/O, no
//! queueing. Redis itself keeps at most 32 arguments (the last becoming
//! `"... (N more arguments)"`) and 128 bytes per argument (`"... (N more bytes)"`); those
//! markers are kept as given so a view can show them.
//!
//! Arguments go through the crate-wide redaction policy here, at the parser, so an `AUTH`
//! password (which old servers logged in clear) never reaches a view, a log or an export.

use super::{cap_str, mark_truncated, parse_cli_text, render_args, ParseStats, Value, MAX_ARGS, MAX_STR};
use crate::protocol::resp::escape::escape;

/// Most entries kept. `slowlog-max-len` defaults to 128, but `SLOWLOG GET -1` returns all.
pub const MAX_ENTRIES: usize = 10_000;

/// One slow command.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlowEntry {
    /// Entry id: monotonic, reset only on restart.
    pub id: u64,
    /// When it was logged, Unix seconds.
    pub time: u64,
    /// Execution time, µs.
    pub duration_us: u64,
    /// Command and arguments, redacted and escaped for display.
    pub args: Vec<String>,
    /// Client `ip:port` (empty before 4.0).
    pub client_addr: String,
    /// Client name (empty when unset, or before 4.0).
    pub client_name: String,
}

/// Parses a `SLOWLOG GET` reply. Entries that are not arrays of at least four fields with
/// numeric id, time and duration are skipped.
pub fn parse_slowlog(v: &Value) -> Vec<SlowEntry> {
    parse_slowlog_with_stats(v).0
}

/// [`parse_slowlog`], also saying what was skipped or dropped over the cap.
pub fn parse_slowlog_with_stats(v: &Value) -> (Vec<SlowEntry>, ParseStats) {
    let mut stats = ParseStats::default();
    let Some(items) = v.as_array() else {
        // Not even an array (an error reply, say): nothing to show, one thing not understood.
        stats.skipped = usize::from(*v != Value::Nil);
        return (Vec::new(), stats);
    };
    let mut out = Vec::new();
    for item in items {
        if out.len() >= MAX_ENTRIES {
            stats.dropped += 1;
            continue;
        }
        match entry(item) {
            Some(e) => out.push(e),
            None => stats.skipped += 1,
        }
    }
    (out, stats)
}

fn entry(item: &Value) -> Option<SlowEntry> {
    let fields = item.as_array()?;
    let [id, time, duration, args, rest @ ..] = fields else { return None };
    let args = args.as_array()?;
    let mut raw = Vec::with_capacity(args.len().min(MAX_ARGS));
    for a in args.iter().take(MAX_ARGS) {
        raw.push(arg_bytes(a));
    }
    let text = |v: Option<&Value>| match v {
        Some(Value::Int(n)) => n.to_string(),
        Some(v) => v.as_bytes().map(|b| cap_str(&escape(b.get(..MAX_STR).unwrap_or(b)))).unwrap_or_default(),
        None => String::new(),
    };
    Some(SlowEntry {
        id: id.as_u64()?,
        time: time.as_u64()?,
        duration_us: duration.as_u64()?,
        args: render_args(raw, args.len()),
        client_addr: text(rest.first()),
        client_name: text(rest.get(1)),
    })
}

/// One argument's bytes, at most [`MAX_STR`] plus a Redis-style truncation marker. Integers
/// (a RESP3 proxy may send them) become their decimal text; anything else is empty.
fn arg_bytes(a: &Value) -> Vec<u8> {
    match a {
        Value::Int(n) => n.to_string().into_bytes(),
        _ => {
            let b = a.as_bytes().unwrap_or_default();
            mark_truncated(b.get(..MAX_STR).unwrap_or(b).to_vec(), b.len())
        }
    }
}

/// Parses `redis-cli`'s rendering of `SLOWLOG GET` (what people paste; our fixture).
pub fn parse_slowlog_text(text: &str) -> Vec<SlowEntry> {
    parse_slowlog(&parse_cli_text(text))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{prefixes, Rng};
    use super::*;

    const SLOWLOG: &str = include_str!("../../../../tests/fixtures/redis-samples/slowlog_pretty.txt");

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn redis_cli_rendering_of_7_0() {
        let entries = parse_slowlog_text(SLOWLOG);
        assert_eq!(entries.len(), 7);
        let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, [21, 20, 19, 18, 17, 16, 15]);
        let durations: Vec<u64> = entries.iter().map(|e| e.duration_us).collect();
        assert_eq!(durations, [20089, 4, 2, 600, 9241, 12, 4]);
        assert!(entries.iter().all(|e| e.time == 1_795_289_195));

        assert_eq!(
            entries[0],
            SlowEntry {
                id: 21,
                time: 1_795_289_195,
                duration_us: 20089,
                args: vec!["debug".into(), "sleep".into(), "0.02".into()],
                client_addr: "127.0.0.1:60914".into(),
                client_name: String::new(),
            }
        );
        assert_eq!(entries[1].args, ["GET", "greeting"]);
        assert_eq!(entries[1].client_name, "worker-7");
        assert_eq!(entries[4].args, ["keys", "key:1*"]);

        // Redis's own truncation markers are kept as given.
        let rpush = &entries[5];
        assert_eq!(rpush.args.len(), 32);
        assert_eq!(rpush.args[0], "rpush");
        assert_eq!(rpush.args[31], "... (11 more arguments)");
        let long = &entries[6].args[2];
        assert_eq!(long.len(), 128 + "... (172 more bytes)".len());
        assert!(long.starts_with("yyyy") && long.ends_with("... (172 more bytes)"));
    }

    #[test]
    fn resp_tree_old_and_new_shapes_and_redaction() {
        let v = Value::Array(vec![
            // 4.0+: six fields.
            Value::Array(vec![
                Value::Int(3),
                Value::Int(1_700_000_000),
                Value::Int(15000),
                Value::Array(vec![bulk("AUTH"), bulk("hunter2")]),
                bulk("[::1]:5000"),
                bulk("app\x01"),
            ]),
            // Before 4.0: four fields.
            Value::Array(vec![
                Value::Int(2),
                Value::Int(1_600_000_000),
                Value::Int(10),
                Value::Array(vec![bulk("GET"), bulk("k\x00")]),
            ]),
            // Not entries.
            Value::Array(vec![Value::Int(1), Value::Int(1), Value::Int(-5), Value::Array(vec![])]),
            Value::Int(9),
            Value::Array(vec![Value::Int(1), Value::Int(1)]),
        ]);
        let (entries, stats) = parse_slowlog_with_stats(&v);
        assert_eq!(stats.skipped, 3);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].args, ["AUTH", "***"]);
        assert_eq!(entries[0].client_addr, "[::1]:5000");
        assert_eq!(entries[0].client_name, "app\\x01");
        assert_eq!(entries[1].args, ["GET", "k\\x00"]);
        assert_eq!((entries[1].client_addr.as_str(), entries[1].client_name.as_str()), ("", ""));

        assert_eq!(parse_slowlog_with_stats(&Value::Array(vec![])), (vec![], ParseStats::default()));
        assert_eq!(parse_slowlog_with_stats(&Value::Error("ERR".into())).1.skipped, 1);
    }

    #[test]
    fn caps_argument_count_and_length() {
        let big = Value::Bulk(vec![b'z'; 10_000]);
        let args: Vec<Value> = std::iter::once(bulk("SET")).chain(std::iter::repeat_n(big, 2000)).collect();
        let v = Value::Array(vec![Value::Array(vec![
            Value::Int(1),
            Value::Int(1),
            Value::Int(1),
            Value::Array(args),
            bulk("a"),
            bulk("b"),
        ])]);
        let e = &parse_slowlog(&v)[0];
        assert_eq!(e.args.len(), MAX_ARGS);
        assert_eq!(e.args[MAX_ARGS - 1], format!("... ({} more arguments)", 2001 - (MAX_ARGS - 1)));
        assert_eq!(e.args[1].len(), MAX_STR + "... (5904 more bytes)".len());
    }

    #[test]
    fn garbage_never_panics() {
        for p in prefixes(SLOWLOG, 1) {
            let _ = parse_slowlog_text(p);
        }
        let mut rng = Rng(0x510);
        for _ in 0..3000 {
            let v = rng.value(4);
            let _ = parse_slowlog(&v);
            // Entry-shaped trees with random leaves reach the field code.
            let e = Value::Array(vec![Value::Array((0..6).map(|_| rng.value(2)).collect())]);
            let _ = parse_slowlog(&e);
            let len = rng.below(200) as usize;
            let _ = parse_slowlog_text(&rng.text(len));
        }
    }
}
