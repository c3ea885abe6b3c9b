//! A Redis Cluster's nodes joined with the wire: what the capture saw of each node, summed
//! over the connections to it.

use std::collections::HashMap;

use crate::engine::report::Report;

/// What the wire saw of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeWire {
    /// Connections to it (of those the snapshot lists).
    pub connections: u64,
    /// Commands sent to it.
    pub commands: u64,
    /// `-MOVED` redirections it answered.
    pub moved: u64,
    /// `-ASK` redirections it answered.
    pub ask: u64,
}

/// The wire's numbers by server address (`host:port`, as connections name their server),
/// over the connections `report` lists: a live snapshot lists the busiest, `analyze` all.
pub fn wire_by_server(report: &Report) -> HashMap<&str, NodeWire> {
    let mut out: HashMap<&str, NodeWire> = HashMap::new();
    for c in &report.connections {
        let w = out.entry(c.server.as_str()).or_default();
        w.connections += 1;
        w.commands += c.commands;
        w.moved += c.moved;
        w.ask += c.ask;
    }
    out
}
