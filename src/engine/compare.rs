//! Two captures side by side: the library before and after an upgrade, or two libraries on
//! one workload (`respscope analyze A --compare B`).
//!
//! Connections are grouped per client library (the name it announced on the wire), or per
//! connection class when none was announced (its `CLIENT SETNAME` name, else its kind:
//! `client`, `subscriber`…). Groups of the same key are paired; when each capture holds a
//! single group and the keys differ (two libraries on one workload), those two are paired.
//! Connections that carried no command are left out: they say nothing about writes.
//!
//! Built from the reports' connections one at a time, so a capture of many connections adds
//! a few counters per group, never a copy of its connections. Groups are bounded
//! ([`MAX_GROUPS`]); the rest are summed into one `other` group.

use std::collections::BTreeMap;

use serde::Serialize;

use super::report::{ConnReport, Connections};
use crate::analysis::conversation::flush::{FlushKind, FlushVerdict};

/// Schema name of the JSON output.
pub const SCHEMA: &str = "respscope.compare.v1";
/// Groups kept per capture; further keys are summed into [`OTHER`].
pub const MAX_GROUPS: usize = 64;
/// The group of keys past [`MAX_GROUPS`].
pub const OTHER: &str = "other";
/// A relative change at least this large is marked (and any change of verdict).
pub const MARK_SHARE: f64 = 0.10;

/// One group of connections in one capture.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GroupStats {
    /// Library versions announced, comma-separated (empty when none).
    pub versions: String,
    /// Connections with commands.
    pub connections: u64,
    /// Commands.
    pub commands: u64,
    /// Write batches.
    pub batches: u64,
    /// Batches by commands per batch, summed over the connections.
    pub batch_sizes: BTreeMap<u32, u64>,
    /// Median commands per batch.
    pub batch_p50: Option<u32>,
    /// 90th percentile of commands per batch.
    pub batch_p90: Option<u32>,
    /// Most commands in one batch.
    pub batch_max: Option<u32>,
    /// The verdict of the busiest connection (most commands).
    pub flush: Option<FlushVerdict>,
    /// Connections whose verdict is of the same kind as that one.
    pub flush_agreeing: u64,
    /// Split commands.
    pub split_commands: u64,
    /// Split commands per 1,000 commands.
    pub splits_per_1000: f64,
    /// Deepest pipeline of any connection.
    pub max_depth: i64,
    /// Latency p50 of the busiest connection (µs).
    pub latency_p50_us: Option<u64>,
    /// Latency p99 of the busiest connection (µs).
    pub latency_p99_us: Option<u64>,
    /// The worst p99 of any connection (µs).
    pub worst_p99_us: Option<u64>,
    /// Zero windows, summed.
    pub zero_windows: u64,
    /// Commands of the busiest connection with a verdict, and of the busiest of all.
    #[serde(skip)]
    busiest: u64,
    #[serde(skip)]
    busiest_commands: u64,
    #[serde(skip)]
    versions_seen: Vec<String>,
    /// Connections per verdict kind (five kinds at most).
    #[serde(skip)]
    kinds: Vec<(FlushKind, u64)>,
}

/// A group in both captures.
#[derive(Clone, Debug, Serialize)]
pub struct GroupPair {
    /// The group's key in A (and in B, unless two lone groups were paired).
    pub key: String,
    /// Its key in B when it differs.
    pub key_b: Option<String>,
    /// In capture A (`None`: absent there).
    pub a: Option<GroupStats>,
    /// In capture B.
    pub b: Option<GroupStats>,
    /// What changed, by field name.
    pub changed: Vec<&'static str>,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Capture A's name.
    pub a: String,
    /// Capture B's name.
    pub b: String,
    /// The groups, busiest (in A, then B) first.
    pub groups: Vec<GroupPair>,
}

/// The key of a connection's group.
pub fn group_key(c: &ConnReport) -> String {
    let l = c.library.as_ref();
    if let Some(n) = l.and_then(|l| l.name.as_ref()) {
        return n.to_string_lossy();
    }
    if let Some(n) = l.and_then(|l| l.client_name.as_ref()) {
        return format!("name {}", n.to_string_lossy());
    }
    format!("{} (no library announced)", c.kind.describe())
}

/// Groups the connections of one capture.
pub fn groups(conns: Connections<'_>) -> BTreeMap<String, GroupStats> {
    let mut out: BTreeMap<String, GroupStats> = BTreeMap::new();
    for c in conns.iter() {
        if c.commands == 0 {
            continue;
        }
        let mut key = group_key(&c);
        if !out.contains_key(&key) && out.len() >= MAX_GROUPS {
            key = OTHER.to_string();
        }
        add(out.entry(key).or_default(), &c);
    }
    for g in out.values_mut() {
        finish(g);
    }
    out
}

fn add(g: &mut GroupStats, c: &ConnReport) {
    if g.connections == 0 || c.commands > g.busiest_commands {
        // The busiest connection's percentiles speak for the group.
        g.busiest_commands = c.commands;
        (g.latency_p50_us, g.latency_p99_us) = (c.latency_us.p50, c.latency_us.p99);
    }
    g.connections += 1;
    g.commands += c.commands;
    g.batches += c.batches;
    for (&k, &n) in &c.batch_sizes {
        *g.batch_sizes.entry(k).or_default() += n;
    }
    g.split_commands += c.split_commands;
    g.max_depth = g.max_depth.max(c.max_pipeline_depth);
    g.worst_p99_us = g.worst_p99_us.max(c.latency_us.p99);
    g.zero_windows += c.tcp.zero_windows;
    if let Some(v) = c.library.as_ref().and_then(|l| l.version.as_ref()) {
        let v = v.to_string_lossy();
        // A handful of versions at most are worth naming.
        if !g.versions_seen.contains(&v) && g.versions_seen.len() < 8 {
            g.versions_seen.push(v);
        }
    }
    if let Some(v) = &c.flush {
        match g.kinds.iter_mut().find(|(k, _)| *k == v.kind) {
            Some((_, n)) => *n += 1,
            None => g.kinds.push((v.kind, 1)),
        }
        // The busiest connection speaks for the group.
        if c.commands > g.busiest {
            g.flush = Some(*v);
            g.busiest = c.commands;
        }
    }
}

fn finish(g: &mut GroupStats) {
    g.versions = g.versions_seen.join(", ");
    g.flush_agreeing =
        g.flush.and_then(|f| g.kinds.iter().find(|(k, _)| *k == f.kind)).map_or(0, |&(_, n)| n);
    g.splits_per_1000 = if g.commands == 0 {
        0.0
    } else {
        (g.split_commands as f64 * 1000.0 / g.commands as f64 * 10.0).round() / 10.0
    };
    let total: u64 = g.batch_sizes.values().sum();
    let at = |q: f64| -> Option<u32> {
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        g.batch_sizes.iter().find_map(|(&k, &n)| {
            seen += n;
            (seen >= rank).then_some(k)
        })
    };
    g.batch_p50 = at(0.5);
    g.batch_p90 = at(0.9);
    g.batch_max = g.batch_sizes.keys().next_back().copied();
}

/// What changed between two groups.
fn changes(a: &GroupStats, b: &GroupStats) -> Vec<&'static str> {
    let mut out = Vec::new();
    if a.versions != b.versions {
        out.push("versions");
    }
    let moved = |x: f64, y: f64| {
        let base = x.abs().max(y.abs());
        base > 0.0 && (x - y).abs() / base >= MARK_SHARE
    };
    let num = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) => moved(x as f64, y as f64),
        (None, None) => false,
        _ => true,
    };
    if moved(a.commands as f64, b.commands as f64) {
        out.push("commands");
    }
    if num(a.batch_p50.map(u64::from), b.batch_p50.map(u64::from))
        || num(a.batch_p90.map(u64::from), b.batch_p90.map(u64::from))
        || num(a.batch_max.map(u64::from), b.batch_max.map(u64::from))
    {
        out.push("batch_sizes");
    }
    if flush_changed(a.flush.as_ref(), b.flush.as_ref()) {
        out.push("flush");
    }
    // Splits: any appearance or disappearance counts, then relative.
    if (a.split_commands == 0) != (b.split_commands == 0) || moved(a.splits_per_1000, b.splits_per_1000) {
        out.push("splits_per_1000");
    }
    if moved(a.max_depth as f64, b.max_depth as f64) {
        out.push("max_depth");
    }
    if num(a.latency_p50_us, b.latency_p50_us) {
        out.push("latency_p50_us");
    }
    if num(a.latency_p99_us, b.latency_p99_us) {
        out.push("latency_p99_us");
    }
    if a.zero_windows != b.zero_windows {
        out.push("zero_windows");
    }
    out
}

/// Pairs the groups of A and B.
pub fn compare(
    a_name: &str,
    a: BTreeMap<String, GroupStats>,
    b_name: &str,
    mut b: BTreeMap<String, GroupStats>,
) -> Comparison {
    let mut groups = Vec::new();
    let lone = a.len() == 1 && b.len() == 1 && a.keys().next() != b.keys().next();
    for (key, ga) in a {
        let (key_b, gb) = if lone {
            match b.pop_first() {
                Some((k, g)) => (Some(k), Some(g)),
                None => (None, None),
            }
        } else {
            (None, b.remove(&key))
        };
        let changed = gb.as_ref().map_or_else(Vec::new, |gb| changes(&ga, gb));
        groups.push(GroupPair { key, key_b, a: Some(ga), b: gb, changed });
    }
    for (key, gb) in b {
        groups.push(GroupPair { key, key_b: None, a: None, b: Some(gb), changed: Vec::new() });
    }
    let weight = |g: &GroupPair| {
        std::cmp::Reverse((g.a.as_ref().map_or(0, |s| s.commands), g.b.as_ref().map_or(0, |s| s.commands)))
    };
    groups.sort_by_key(weight);
    Comparison { schema: SCHEMA, a: a_name.to_string(), b: b_name.to_string(), groups }
}

impl GroupStats {
    /// The flush verdict in a few words ("flushes every 16 commands, waits (0.91)").
    pub fn flush_short(&self) -> String {
        let Some(v) = &self.flush else { return "no verdict".to_string() };
        let wait = if v.waits_for_replies { ", waits" } else { "" };
        format!("{}{wait} ({:.2})", v.what(), v.confidence)
    }
}

/// Whether two verdicts describe different clients: another kind, waiting or not, another
/// command count (`fixed_commands`, `per_command`), or another size (`fixed_bytes`) by more
/// than the spread of either's full writes. The commands of a `fixed_bytes` verdict follow
/// the workload's command sizes, and a buffer's largest write depends on where its pieces
/// happened to fall: neither is the library's.
fn flush_changed(a: Option<&FlushVerdict>, b: Option<&FlushVerdict>) -> bool {
    let (Some(a), Some(b)) = (a, b) else { return a.is_some() != b.is_some() };
    if (a.kind, a.waits_for_replies) != (b.kind, b.waits_for_replies) {
        return true;
    }
    match a.kind {
        FlushKind::FixedBytes => {
            let spread = |v: &FlushVerdict| v.bytes_max.zip(v.bytes_min).map_or(0, |(hi, lo)| hi - lo);
            a.bytes.zip(b.bytes).map_or(a.bytes != b.bytes, |(x, y)| x.abs_diff(y) > spread(a).max(spread(b)))
        }
        FlushKind::FixedCommands | FlushKind::PerCommand => a.commands != b.commands,
        FlushKind::WholePipeline | FlushKind::Irregular => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_read_a_few_bytes_apart_is_the_same_flush() {
        let jedis = |bytes, min, commands| FlushVerdict {
            kind: FlushKind::FixedBytes,
            bytes: Some(bytes),
            bytes_min: Some(min),
            bytes_max: Some(bytes),
            commands: Some(commands),
            waits_for_replies: false,
            confidence: 0.9,
            batches: 40,
            fitting: 40,
        };
        // Two workloads through one 8192-byte buffer: the same flush.
        assert!(!flush_changed(Some(&jedis(8192, 8030, 141)), Some(&jedis(8188, 8061, 99))));
        // Another buffer size, an exact quota moved, or waiting: changed.
        assert!(flush_changed(Some(&jedis(8192, 8030, 141)), Some(&jedis(16384, 16200, 282))));
        assert!(flush_changed(Some(&jedis(4096, 4096, 130)), Some(&jedis(4095, 4095, 130))));
        let waits = FlushVerdict { waits_for_replies: true, ..jedis(8192, 8030, 141) };
        assert!(flush_changed(Some(&jedis(8192, 8030, 141)), Some(&waits)));
        assert!(flush_changed(None, Some(&waits)) && !flush_changed(None, None));
    }

    fn stats(commands: u64, p50: u32, splits: u64, kind: FlushKind) -> GroupStats {
        let mut g = GroupStats { commands, connections: 1, split_commands: splits, ..GroupStats::default() };
        g.batch_sizes.insert(p50, commands / u64::from(p50.max(1)));
        g.flush = Some(FlushVerdict {
            kind,
            bytes: None,
            bytes_min: None,
            bytes_max: None,
            commands: Some(u64::from(p50)),
            waits_for_replies: true,
            confidence: 0.9,
            batches: 10,
            fitting: 9,
        });
        finish(&mut g);
        g
    }

    #[test]
    fn same_keys_pair_and_changes_are_marked() {
        let a = BTreeMap::from([("jedis".to_string(), stats(1000, 16, 0, FlushKind::FixedCommands))]);
        let b = BTreeMap::from([
            ("jedis".to_string(), stats(1000, 341, 12, FlushKind::FixedBytes)),
            ("other-lib".to_string(), stats(10, 1, 0, FlushKind::PerCommand)),
        ]);
        let c = compare("a.pcap", a, "b.pcap", b);
        assert_eq!(c.groups.len(), 2);
        assert_eq!(c.groups[0].key, "jedis");
        assert_eq!(c.groups[0].changed, ["batch_sizes", "flush", "splits_per_1000"]);
        assert!(c.groups[1].a.is_none());
    }

    #[test]
    fn two_lone_groups_with_different_keys_are_paired() {
        let a = BTreeMap::from([("redis-py".to_string(), stats(500, 100, 0, FlushKind::FixedBytes))]);
        let b = BTreeMap::from([("ioredis".to_string(), stats(500, 100, 0, FlushKind::FixedBytes))]);
        let c = compare("a", a, "b", b);
        assert_eq!(c.groups.len(), 1);
        assert_eq!(c.groups[0].key_b.as_deref(), Some("ioredis"));
        assert!(c.groups[0].changed.is_empty());
    }

    #[test]
    fn batch_percentiles_are_nearest_rank() {
        let mut g =
            GroupStats { batch_sizes: BTreeMap::from([(1, 5), (16, 4), (100, 1)]), ..GroupStats::default() };
        finish(&mut g);
        assert_eq!((g.batch_p50, g.batch_p90, g.batch_max), (Some(1), Some(16), Some(100)));
    }
}
