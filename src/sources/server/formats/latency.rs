//! `LATENCY LATEST` and `LATENCY HISTORY <event>`: the latency monitor's spikes, in ms.
//!
//! The monitor only records events above `latency-monitor-threshold`, which defaults to 0 =
//! disabled; then LATEST is an empty array, which is not an error. LATEST rows are
//! `[event, unix_time_s, latest_ms, max_ms]` (documented as exactly four fields through 8.x;
//! extra trailing fields are ignored so a future addition does not blank the pane). HISTORY
//! is up to 160 `[unix_time_s, ms]` pairs.

use super::{cap_str, parse_cli_text, ParseStats, Value};
use crate::protocol::resp::escape::escape;

/// Most LATEST events kept (7.0 defines about 20 event names).
pub const MAX_EVENTS: usize = 256;
/// Most HISTORY samples kept (the server keeps 160).
pub const MAX_SAMPLES: usize = 1024;

/// One event's latest and worst spike.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatencyEvent {
    /// Event name: `command`, `fast-command`, `fork`, `expire-cycle`, `aof-fsync-always`, …
    pub event: String,
    /// Time of the latest spike, Unix seconds.
    pub time: u64,
    /// Latest spike, ms.
    pub latest_ms: u64,
    /// All-time maximum since start or `LATENCY RESET`, ms.
    pub max_ms: u64,
}

/// Parses a `LATENCY LATEST` reply; rows that do not fit the shape are skipped.
pub fn parse_latency_latest(v: &Value) -> Vec<LatencyEvent> {
    parse_latency_latest_with_stats(v).0
}

/// [`parse_latency_latest`], also saying what was skipped or dropped over the cap.
pub fn parse_latency_latest_with_stats(v: &Value) -> (Vec<LatencyEvent>, ParseStats) {
    collect(v, MAX_EVENTS, |row| {
        let [event, time, latest, max, ..] = row.as_array()? else { return None };
        Some(LatencyEvent {
            event: cap_str(&escape(event.as_bytes()?)),
            time: time.as_u64()?,
            latest_ms: latest.as_u64()?,
            max_ms: max.as_u64()?,
        })
    })
}

/// Parses a `LATENCY HISTORY <event>` reply into `(unix_time_s, ms)` pairs, oldest first as
/// the server sends them.
pub fn parse_latency_history(v: &Value) -> Vec<(u64, u64)> {
    parse_latency_history_with_stats(v).0
}

/// [`parse_latency_history`], also saying what was skipped or dropped over the cap.
pub fn parse_latency_history_with_stats(v: &Value) -> (Vec<(u64, u64)>, ParseStats) {
    collect(v, MAX_SAMPLES, |row| {
        let [time, ms, ..] = row.as_array()? else { return None };
        Some((time.as_u64()?, ms.as_u64()?))
    })
}

/// Maps each element of a top-level array, counting misses and capping the output.
fn collect<T>(v: &Value, cap: usize, f: impl Fn(&Value) -> Option<T>) -> (Vec<T>, ParseStats) {
    let mut stats = ParseStats::default();
    let Some(rows) = v.as_array() else {
        stats.skipped = usize::from(*v != Value::Nil);
        return (Vec::new(), stats);
    };
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= cap {
            stats.dropped += 1;
            continue;
        }
        match f(row) {
            Some(t) => out.push(t),
            None => stats.skipped += 1,
        }
    }
    (out, stats)
}

/// Parses `redis-cli`'s rendering of `LATENCY LATEST`.
pub fn parse_latency_latest_text(text: &str) -> Vec<LatencyEvent> {
    parse_latency_latest(&parse_cli_text(text))
}

/// Parses `redis-cli`'s rendering of `LATENCY HISTORY <event>`.
pub fn parse_latency_history_text(text: &str) -> Vec<(u64, u64)> {
    parse_latency_history(&parse_cli_text(text))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{prefixes, Rng};
    use super::*;

    const LATEST: &str = include_str!("../../../../tests/fixtures/redis-samples/latency_latest.txt");
    const HISTORY: &str = include_str!("../../../../tests/fixtures/redis-samples/latency_history.txt");

    #[test]
    fn latest_from_redis_cli() {
        assert_eq!(
            parse_latency_latest_text(LATEST),
            [
                LatencyEvent { event: "command".into(), time: 1_795_289_217, latest_ms: 120, max_ms: 120 },
                LatencyEvent { event: "fast-command".into(), time: 1_795_289_212, latest_ms: 1, max_ms: 4 },
            ]
        );
    }

    #[test]
    fn history_from_redis_cli() {
        assert_eq!(
            parse_latency_history_text(HISTORY),
            [
                (1_795_289_108, 5),
                (1_795_289_195, 20),
                (1_795_289_199, 3),
                (1_795_289_216, 50),
                (1_795_289_217, 120)
            ]
        );
    }

    #[test]
    fn disabled_monitor_extra_fields_and_bad_rows() {
        assert!(parse_latency_latest_text("(empty array)").is_empty());
        let v = Value::Array(vec![
            Value::Array(vec![
                Value::Bulk(b"fork".to_vec()),
                Value::Int(10),
                Value::Int(2),
                Value::Int(3),
                Value::Int(99),
            ]),
            Value::Array(vec![Value::Bulk(b"x".to_vec()), Value::Int(10), Value::Int(2)]),
            Value::Array(vec![Value::Int(1), Value::Int(10), Value::Int(2), Value::Int(3)]),
        ]);
        let (events, stats) = parse_latency_latest_with_stats(&v);
        assert_eq!(events, [LatencyEvent { event: "fork".into(), time: 10, latest_ms: 2, max_ms: 3 }]);
        assert_eq!(stats.skipped, 2);

        let h = Value::Array(vec![
            Value::Array(vec![Value::Int(5), Value::Int(6)]),
            Value::Array(vec![Value::Int(5), Value::Int(-6)]),
        ]);
        let (samples, stats) = parse_latency_history_with_stats(&h);
        assert_eq!((samples, stats.skipped), (vec![(5, 6)], 1));
        assert_eq!(parse_latency_history_with_stats(&Value::Error("ERR".into())).1.skipped, 1);
    }

    #[test]
    fn caps_samples() {
        let row = Value::Array(vec![Value::Int(1), Value::Int(2)]);
        let (samples, stats) = parse_latency_history_with_stats(&Value::Array(vec![row; MAX_SAMPLES + 4]));
        assert_eq!((samples.len(), stats.dropped), (MAX_SAMPLES, 4));
    }

    #[test]
    fn garbage_never_panics() {
        for p in prefixes(LATEST, 1).chain(prefixes(HISTORY, 1)) {
            let _ = (parse_latency_latest_text(p), parse_latency_history_text(p));
        }
        let mut rng = Rng(0x1a7);
        for _ in 0..3000 {
            let v = rng.value(3);
            let _ = (parse_latency_latest(&v), parse_latency_history(&v));
            let row = Value::Array(vec![Value::Array((0..4).map(|_| rng.value(1)).collect())]);
            let _ = (parse_latency_latest(&row), parse_latency_history(&row));
        }
    }
}
