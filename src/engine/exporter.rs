//! What the Prometheus exporter serves, folded from the wire's snapshots and the server's
//! polls: counters that only grow, label sets that stay bounded.
//!
//! The wire's capture-wide numbers (commands by name, totals, latency buckets) are
//! cumulative already. Per client library they are not: a library's numbers are the sum of
//! its connections', and connections come and go. So each connection's numbers are followed
//! from snapshot to snapshot and only what they grew by is added to its library, which keeps
//! the library's counters monotonic when its connections close.

use std::collections::{BTreeMap, HashMap};

use crate::analysis::conversation::library::{Label, Library};
use crate::analysis::wire::bycommand::Buckets;
use crate::analysis::wire::Tally;
use crate::engine::live::FeedSnapshot;
use crate::sources::capture::live::LiveStats;
use crate::sources::server::poller::ServerPoll;

/// Client libraries (and client names) labelled one by one; the rest are summed under
/// `other`. Labels go to the busiest first and, once given, stay: a counter must not jump
/// from one label to another.
pub const LIB_LABELS: usize = 20;
/// Connections followed at most (each ~200 bytes); past it the longest unseen go first.
pub const CONNS_FOLLOWED: usize = 50_000;
/// Snapshots a connection may go unlisted before it is forgotten (a snapshot a second).
const FORGET_AFTER: u64 = 600;
/// Upper bounds of the batch-size histogram, commands per batch.
pub const BATCH_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1_024, 8_192];
/// The label of connections whose library is not known (no CLIENT SETINFO, or no poll yet).
pub const UNKNOWN_LIB: &str = "unknown";
/// The label libraries past [`LIB_LABELS`] are summed under.
pub const OTHER_LIB: &str = "other";

/// One client library's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LibTotals {
    /// Commands its connections sent.
    pub commands: u64,
    /// Their write batches.
    pub batches: u64,
    /// Their commands that straddled segments.
    pub split_commands: u64,
    /// Zero windows on their connections.
    pub zero_windows: u64,
    /// Their connections listed in the latest snapshot.
    pub connections: u64,
}

/// What one connection had at the last snapshot that listed it.
#[derive(Clone, Debug, Default)]
struct Seen {
    lib: String,
    name: String,
    commands: u64,
    batches: u64,
    split_commands: u64,
    zero_windows: u64,
    batch_sizes: BTreeMap<u32, u64>,
    snapshot: u64,
}

/// The exporter's model.
#[derive(Debug, Default)]
pub struct Exported {
    /// Snapshots folded so far (0: the wire has not been seen yet).
    pub snapshots: u64,
    /// The capture delivers packets now.
    pub wire_up: bool,
    /// Capture-wide sums, closed connections included.
    pub totals: Tally,
    /// Commands by INFO commandstats name.
    pub commands: BTreeMap<String, u64>,
    /// Latency buckets by lower-case command name.
    pub latency: Vec<(String, Buckets)>,
    /// Packets the capture received and dropped.
    pub loss: LiveStats,
    /// Connections listed in the latest snapshot.
    pub connections: u64,
    /// The deepest pipeline of a listed connection since it opened.
    pub max_depth: i64,
    /// Batches by commands per batch, per [`BATCH_BOUNDS`] bucket (the last is above them).
    pub batch_buckets: [u64; BATCH_BOUNDS.len() + 1],
    /// Commands in those batches.
    pub batch_commands: u64,
    /// By client library label (at most [`LIB_LABELS`] + 2: `unknown` and `other`).
    pub libs: BTreeMap<String, LibTotals>,
    /// By client name (CLIENT SETNAME), the same way: the busiest [`LIB_LABELS`] names, then
    /// `other`; unnamed connections are `unknown`.
    pub names: BTreeMap<String, LibTotals>,
    /// Connections' names from the latest CLIENT LIST, by address.
    name_of: HashMap<String, String>,
    /// The latest poll of the server.
    pub server: Option<ServerPoll>,
    /// Connections' libraries from the latest CLIENT LIST, by address.
    lib_of: HashMap<String, String>,
    seen: HashMap<u64, Seen>,
}

/// A label value made safe and short: letters, digits and `_.-|:/` kept, anything else `_`,
/// at most 64 characters. Wire and server text is untrusted.
pub fn label(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || "_.-|:/".contains(c) { c } else { '_' })
        .collect()
}

impl Exported {
    /// Folds a wire snapshot.
    pub fn apply_wire(&mut self, s: &FeedSnapshot) {
        self.snapshots += 1;
        let w = &s.wire;
        self.wire_up = w.stopped.is_none();
        self.totals = w.report.totals;
        self.commands.clone_from(&w.report.commands_by_stat_name);
        if let Some(l) = &s.command_latency {
            self.latency.clone_from(l);
        }
        self.loss = w.loss;
        self.connections = w.report.connections.len() as u64;
        self.max_depth = w.report.connections.iter().map(|c| c.max_pipeline_depth).max().unwrap_or(0);
        for t in self.libs.values_mut().chain(self.names.values_mut()) {
            t.connections = 0;
        }
        let now = self.snapshots;
        // What each listed connection grew by, busiest first: labels go to the busiest.
        let mut grown: Vec<(String, String, LibTotals)> = Vec::with_capacity(w.report.connections.len());
        for c in &w.report.connections {
            // The server's CLIENT LIST first; what the client announced on the wire when the
            // server is not polled (or has not listed it yet).
            let announced = |f: fn(&Library) -> Option<Label>| {
                c.library.as_ref().and_then(f).map(|v| label(&v.to_string_lossy()))
            };
            let lib = self.lib_of.get(&c.client).cloned().or_else(|| announced(|l| l.name));
            let name = self.name_of.get(&c.client).cloned().or_else(|| announced(|l| l.client_name));
            let e = self.seen.entry(c.id).or_default();
            // A library (or name) learnt after the first packets counts from then on.
            match lib {
                Some(l) => e.lib = l,
                None if e.lib.is_empty() => e.lib = UNKNOWN_LIB.to_string(),
                None => {}
            }
            match name {
                Some(n) => e.name = n,
                None if e.name.is_empty() => e.name = UNKNOWN_LIB.to_string(),
                None => {}
            }
            let grow = LibTotals {
                commands: c.commands.saturating_sub(e.commands),
                batches: c.batches.saturating_sub(e.batches),
                split_commands: c.split_commands.saturating_sub(e.split_commands),
                zero_windows: c.tcp.zero_windows.saturating_sub(e.zero_windows),
                connections: 1,
            };
            for (&size, &n) in &c.batch_sizes {
                let before = e.batch_sizes.get(&size).copied().unwrap_or(0);
                let more = n.saturating_sub(before);
                if more > 0 {
                    let b = BATCH_BOUNDS.partition_point(|&bound| bound < u64::from(size));
                    self.batch_buckets[b] += more;
                    self.batch_commands += more * u64::from(size);
                }
            }
            e.batch_sizes.clone_from(&c.batch_sizes);
            e.commands = c.commands;
            e.batches = c.batches;
            e.split_commands = c.split_commands;
            e.zero_windows = c.tcp.zero_windows;
            e.snapshot = now;
            grown.push((e.lib.clone(), e.name.clone(), grow));
        }
        grown.sort_by_key(|g| std::cmp::Reverse(g.2.commands));
        for (lib, name, grow) in grown {
            fold(&mut self.libs, lib, grow);
            fold(&mut self.names, name, grow);
        }
        self.seen.retain(|_, e| now.saturating_sub(e.snapshot) < FORGET_AFTER);
        if self.seen.len() > CONNS_FOLLOWED {
            let mut ages: Vec<u64> = self.seen.values().map(|e| e.snapshot).collect();
            ages.sort_unstable();
            let cut = ages[self.seen.len() - CONNS_FOLLOWED];
            self.seen.retain(|_, e| e.snapshot >= cut);
        }
    }

    /// Folds a poll of the server: its numbers, and each connection's library and name.
    pub fn apply_server(&mut self, poll: ServerPoll) {
        if poll.up {
            self.name_of = poll
                .clients
                .iter()
                .filter(|r| !r.name.is_empty())
                .map(|r| (r.addr.clone(), label(&r.name)))
                .collect();
            self.lib_of = poll
                .clients
                .iter()
                .filter_map(|r| {
                    let lib = r.lib_name.as_deref().filter(|l| !l.is_empty())?;
                    Some((r.addr.clone(), label(lib)))
                })
                .collect();
        }
        self.server = Some(poll);
    }
}

/// Adds `grow` to `label`'s counters, or to `other` once [`LIB_LABELS`] labels are given.
fn fold(to: &mut BTreeMap<String, LibTotals>, label: String, grow: LibTotals) {
    let named =
        to.len() - usize::from(to.contains_key(OTHER_LIB)) - usize::from(to.contains_key(UNKNOWN_LIB));
    let key = if to.contains_key(&label) || label == UNKNOWN_LIB || named < LIB_LABELS {
        label
    } else {
        OTHER_LIB.to_string()
    };
    let t = to.entry(key).or_default();
    t.commands += grow.commands;
    t.batches += grow.batches;
    t.split_commands += grow.split_commands;
    t.zero_windows += grow.zero_windows;
    t.connections += grow.connections;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_go_to_the_first_twenty_and_stay_the_rest_are_other() {
        let mut m = BTreeMap::new();
        let one = LibTotals { commands: 5, connections: 1, ..LibTotals::default() };
        for i in 0..25 {
            fold(&mut m, format!("lib{i}"), one);
        }
        fold(&mut m, UNKNOWN_LIB.to_string(), one);
        // A labelled one keeps its label after the cap is reached.
        fold(&mut m, "lib3".to_string(), one);
        assert_eq!(m.len(), 22);
        assert_eq!(m["other"].commands, 25);
        assert_eq!(m["lib3"].commands, 10);
        assert_eq!(m[UNKNOWN_LIB].commands, 5);
    }

    #[test]
    fn labels_keep_what_a_label_may_hold_and_nothing_else() {
        assert_eq!(label("client|list"), "client|list");
        assert_eq!(label("redis-py"), "redis-py");
        assert_eq!(label("a\"b\\c\nd}"), "a_b_c_d_");
        assert_eq!(label(&"x".repeat(100)).len(), 64);
    }
}
