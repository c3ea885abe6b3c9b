//! `CLUSTER SHARDS` (Redis 7+) and `CLUSTER NODES` (every version with cluster support): who
//! the nodes of a Redis Cluster are, their roles, their slots and whether the cluster thinks
//! they are healthy.
//!
//! Untrusted like every reply here: at most [`MAX_NODES`] nodes and [`MAX_RANGES`] slot ranges
//! per reply, lines longer than [`MAX_LINE`] skipped, slots outside 0..16383 skipped, every
//! string kept escaped and capped ([`shown`]). Walks at a fixed depth, never recursively.

use super::{shown, ParseStats, Value};

/// Most nodes kept from one reply (Redis suggests at most 1,000).
pub const MAX_NODES: usize = 1000;
/// Slot ranges kept from one reply over all nodes: a sane cluster has at most 16,384.
pub const MAX_RANGES: usize = 16_384;
/// Longest `CLUSTER NODES` line read (a node holding every other slot writes about 90 KB).
pub const MAX_LINE: usize = 256 * 1024;
/// Slots in a cluster.
pub const SLOTS: u32 = 16_384;

/// A node's role in its shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Serves its slots.
    #[default]
    Master,
    /// Replicates a master.
    Replica,
}

impl Role {
    /// As the views name it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "replica",
        }
    }
}

/// One node as the cluster describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNode {
    /// Node id (40 hex characters).
    pub id: String,
    /// Host to connect to (the node's IP, else its announced endpoint).
    pub host: String,
    /// Client port.
    pub port: u16,
    /// Master or replica.
    pub role: Role,
    /// A replica's master, by id.
    pub master_id: Option<String>,
    /// Slot ranges it serves, inclusive, ascending as the server lists them.
    pub slots: Vec<(u16, u16)>,
    /// Slots it is migrating away (`[slot->-id]`, CLUSTER NODES only).
    pub migrating: u32,
    /// Slots it is importing (`[slot-<-id]`, CLUSTER NODES only).
    pub importing: u32,
    /// What the cluster says of it: `online`, `fail`, `pfail` (`fail?`), `loading`,
    /// `handshake`, `noaddr`, `disconnected`, as SHARDS' `health` or NODES' flags and link.
    pub health: String,
    /// The node that answered the discovery (NODES' `myself`; SHARDS does not say).
    pub myself: bool,
}

impl ClusterNode {
    /// `host:port` (`[v6]:port`).
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Slots it serves.
    pub fn slot_count(&self) -> u32 {
        slot_count(&self.slots)
    }
}

/// Slots in `ranges`.
pub fn slot_count(ranges: &[(u16, u16)]) -> u32 {
    ranges.iter().map(|&(a, b)| u32::from(b.saturating_sub(a)) + 1).sum()
}

/// Ranges as people read them, at most `max` of them: `0-5460`, `0-99,5461-5560 +3 more`.
pub fn ranges_short(ranges: &[(u16, u16)], max: usize) -> String {
    if ranges.is_empty() {
        return "-".into();
    }
    let mut out = ranges
        .iter()
        .take(max)
        .map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect::<Vec<_>>()
        .join(",");
    if ranges.len() > max {
        out.push_str(&format!(" +{} more", ranges.len() - max));
    }
    out
}

/// What [`parse_cluster_nodes`] and [`parse_cluster_shards`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// The nodes, in the reply's order.
    pub nodes: Vec<ClusterNode>,
    /// What was skipped or dropped.
    pub stats: ParseStats,
}

/// A slot range within the cluster's slots, or `None`.
fn range(a: i64, b: i64) -> Option<(u16, u16)> {
    let ok = |v: i64| (0..i64::from(SLOTS)).contains(&v);
    (ok(a) && ok(b) && a <= b).then(|| (u16::try_from(a).ok(), u16::try_from(b).ok())).and_then(|r| match r {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    })
}

/// `host:port@cport[,hostname]` → host and port; an empty host (`:0@0`, a node with no
/// address yet) gives `None`.
fn host_port(field: &str) -> Option<(String, u16)> {
    let addr = field.split(['@', ',']).next()?;
    let (host, port) = addr.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((shown(host), port.parse().ok()?))
}

/// Parses `CLUSTER NODES`: one line per node,
/// `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
/// <link-state> <slot> <slot> ... <slot>`, where a slot is `N`, `A-B`, `[N->-id]` (migrating)
/// or `[N-<-id]` (importing). Lines that do not have the eight fixed fields, or whose address
/// is empty, are skipped and counted.
pub fn parse_cluster_nodes(text: &str) -> Topology {
    let mut t = Topology::default();
    let mut ranges = 0usize;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            t.stats.skipped += 1;
            continue;
        }
        if t.nodes.len() >= MAX_NODES {
            t.stats.dropped += 1;
            continue;
        }
        let mut f = line.split_ascii_whitespace();
        let (Some(id), Some(addr), Some(flags), Some(master), Some(_), Some(_), Some(_), Some(link)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            t.stats.skipped += 1;
            continue;
        };
        let Some((host, port)) = host_port(addr) else {
            t.stats.skipped += 1;
            continue;
        };
        let flag = |name: &str| flags.split(',').any(|x| x == name);
        let health = if flag("fail") {
            "fail"
        } else if flag("fail?") {
            "pfail"
        } else if flag("handshake") {
            "handshake"
        } else if flag("noaddr") {
            "noaddr"
        } else if link != "connected" {
            "disconnected"
        } else {
            "online"
        };
        let mut node = ClusterNode {
            id: shown(id),
            host,
            port,
            role: if flag("slave") { Role::Replica } else { Role::Master },
            master_id: (master != "-").then(|| shown(master)),
            health: health.into(),
            myself: flag("myself"),
            ..ClusterNode::default()
        };
        for s in f {
            if let Some(inner) = s.strip_prefix('[') {
                if inner.contains("->-") {
                    node.migrating = node.migrating.saturating_add(1);
                } else if inner.contains("-<-") {
                    node.importing = node.importing.saturating_add(1);
                } else {
                    t.stats.skipped += 1;
                }
                continue;
            }
            let r = match s.split_once('-') {
                Some((a, b)) => a.parse().ok().zip(b.parse().ok()).and_then(|(a, b)| range(a, b)),
                None => s.parse().ok().and_then(|a| range(a, a)),
            };
            match r {
                Some(_) if ranges >= MAX_RANGES => t.stats.dropped += 1,
                Some(r) => {
                    node.slots.push(r);
                    ranges += 1;
                }
                None => t.stats.skipped += 1,
            }
        }
        t.nodes.push(node);
    }
    t
}

/// The value of `key` in a flat key-value array (RESP2 maps, and RESP3 maps as the client
/// folds them).
fn field<'a>(kv: &'a [Value], key: &str) -> Option<&'a Value> {
    kv.chunks_exact(2)
        .find(|p| p[0].as_bytes().is_some_and(|k| k.eq_ignore_ascii_case(key.as_bytes())))
        .map(|p| &p[1])
}

fn text(v: Option<&Value>) -> Option<String> {
    let b = v?.as_bytes()?;
    Some(shown(&String::from_utf8_lossy(b)))
}

/// Parses `CLUSTER SHARDS`: an array of shards, each a map with `slots` (a flat array of
/// start, end, start, end…) and `nodes` (an array of maps with `id`, `port`, `tls-port`, `ip`,
/// `endpoint`, `hostname`, `role`, `replication-offset`, `health`). A shard's slots belong to
/// its master; its replicas serve none. Entries that are not maps, or nodes with no address
/// or port, are skipped and counted.
pub fn parse_cluster_shards(v: &Value) -> Topology {
    let mut t = Topology::default();
    let Some(shards) = v.as_array() else {
        t.stats.skipped += 1;
        return t;
    };
    let mut ranges = 0usize;
    for shard in shards {
        let Some(kv) = shard.as_array() else {
            t.stats.skipped += 1;
            continue;
        };
        let mut slots = Vec::new();
        if let Some(list) = field(kv, "slots").and_then(Value::as_array) {
            for p in list.chunks(2) {
                let r = match p {
                    [a, b] => a.as_i64().zip(b.as_i64()).and_then(|(a, b)| range(a, b)),
                    _ => None,
                };
                match r {
                    Some(_) if ranges >= MAX_RANGES => t.stats.dropped += 1,
                    Some(r) => {
                        slots.push(r);
                        ranges += 1;
                    }
                    None => t.stats.skipped += 1,
                }
            }
        }
        let nodes = field(kv, "nodes").and_then(Value::as_array).unwrap_or_default();
        // The master's id, for its replicas.
        let master_id = nodes
            .iter()
            .filter_map(Value::as_array)
            .find(|n| text(field(n, "role")).as_deref() == Some("master"))
            .and_then(|n| text(field(n, "id")));
        for n in nodes {
            if t.nodes.len() >= MAX_NODES {
                t.stats.dropped += 1;
                continue;
            }
            let Some(n) = n.as_array() else {
                t.stats.skipped += 1;
                continue;
            };
            let host = text(field(n, "ip"))
                .filter(|h| !h.is_empty() && h != "?")
                .or_else(|| text(field(n, "endpoint")).filter(|h| !h.is_empty() && h != "?"));
            let port = field(n, "port")
                .or_else(|| field(n, "tls-port"))
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok());
            let (Some(host), Some(port)) = (host, port) else {
                t.stats.skipped += 1;
                continue;
            };
            let master = text(field(n, "role")).as_deref() == Some("master");
            t.nodes.push(ClusterNode {
                id: text(field(n, "id")).unwrap_or_default(),
                host,
                port,
                role: if master { Role::Master } else { Role::Replica },
                master_id: if master { None } else { master_id.clone() },
                slots: if master { slots.clone() } else { Vec::new() },
                health: text(field(n, "health")).unwrap_or_else(|| "online".into()),
                ..ClusterNode::default()
            });
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::server::formats::parse_cli_text;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/redis-samples/");

    fn sample(name: &str) -> String {
        std::fs::read_to_string(format!("{SAMPLES}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn by_port(t: &Topology, port: u16) -> &ClusterNode {
        t.nodes.iter().find(|n| n.port == port).unwrap_or_else(|| panic!("no node on {port}: {t:?}"))
    }

    #[test]
    fn cluster_nodes_of_three_masters_a_replica_and_a_migrating_slot() {
        let t = parse_cluster_nodes(&sample("cluster_nodes_migrating.txt"));
        assert_eq!(t.stats, ParseStats::default());
        assert_eq!(t.nodes.len(), 4);
        let me = by_port(&t, 7101);
        assert!(me.myself);
        assert_eq!((me.role, me.slots.as_slice(), me.slot_count()), (Role::Master, &[(0, 5460)][..], 5461));
        assert_eq!((me.migrating, me.importing), (1, 0));
        assert_eq!(me.addr(), "127.0.0.1:7101");
        assert_eq!(me.id, "3f14d8ffc2f96ae6f97b523af2a9c5ce1d561900");
        assert_eq!(by_port(&t, 7102).slot_count(), 5462);
        assert_eq!(by_port(&t, 7103).slots, vec![(10923, 16383)]);
        let replica = by_port(&t, 7104);
        assert_eq!(replica.role, Role::Replica);
        assert_eq!(replica.master_id.as_deref(), Some(me.id.as_str()));
        assert_eq!((replica.slot_count(), replica.health.as_str()), (0, "online"));
        let total: u32 = t.nodes.iter().map(ClusterNode::slot_count).sum();
        assert_eq!(total, SLOTS);
        let imp = parse_cluster_nodes(&sample("cluster_nodes_importing.txt"));
        assert_eq!(by_port(&imp, 7102).importing, 1);
    }

    #[test]
    fn a_failed_replica_is_said() {
        let t = parse_cluster_nodes(&sample("cluster_nodes_failed.txt"));
        assert_eq!(by_port(&t, 7104).health, "fail");
        assert_eq!(by_port(&t, 7101).health, "online");
        let s = parse_cluster_shards(&parse_cli_text(&sample("cluster_shards_failed.txt")));
        assert_eq!(by_port(&s, 7104).health, "fail");
    }

    #[test]
    fn cluster_shards_gives_the_same_topology_as_cluster_nodes() {
        for (shards, nodes) in [
            ("cluster_shards.txt", "cluster_nodes_migrating.txt"),
            ("cluster_shards_from_replica.txt", "cluster_nodes_replica.txt"),
        ] {
            let s = parse_cluster_shards(&parse_cli_text(&sample(shards)));
            let n = parse_cluster_nodes(&sample(nodes));
            assert_eq!(s.stats, ParseStats::default(), "{shards}");
            assert_eq!(s.nodes.len(), 4, "{shards}");
            for port in 7101..=7104 {
                let (a, b) = (by_port(&s, port), by_port(&n, port));
                assert_eq!((&a.id, a.role, &a.slots, &a.master_id), (&b.id, b.role, &b.slots, &b.master_id));
            }
        }
    }

    #[test]
    fn ranges_are_short() {
        assert_eq!(ranges_short(&[(0, 5460)], 3), "0-5460");
        assert_eq!(ranges_short(&[(0, 1), (5, 5), (7, 9), (11, 12)], 2), "0-1,5 +2 more");
        assert_eq!(ranges_short(&[], 2), "-");
    }

    #[test]
    fn hostile_replies_are_bounded_and_never_panic() {
        // Slots out of range, reversed, not numbers; an empty address; too few fields.
        let t = parse_cluster_nodes(
            "a 1.2.3.4:1@2 master - 0 0 1 connected 16384 5-3 x 0-16383 [junk]\n\
             b :0@0 master,noaddr - 0 0 0 disconnected\nc d e\n\
             e [::1]:7000@17000 slave a 0 0 1 connected\n",
        );
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.nodes[0].slots, vec![(0, 16383)]);
        assert_eq!(t.stats.skipped, 6);
        assert_eq!(t.nodes[1].addr(), "[::1]:7000");
        // More nodes than kept.
        let many: String = (0..MAX_NODES + 5)
            .map(|i| format!("id{i} 10.0.0.1:{}@1 master - 0 0 1 connected {i}\n", i % 60000))
            .collect();
        let t = parse_cluster_nodes(&many);
        assert_eq!((t.nodes.len(), t.stats.dropped), (MAX_NODES, 5));
        // A line past the limit is skipped whole.
        let long = format!("x 1.1.1.1:1@1 master - 0 0 1 connected {}", "1 ".repeat(MAX_LINE));
        assert_eq!(parse_cluster_nodes(&long).stats.skipped, 1);
        // Escaped text, odd shapes.
        let t = parse_cluster_nodes("\u{202e}id 1.1.1.1:1@1 master - 0 0 1 connected\n");
        assert_eq!(t.nodes[0].id, "\\xe2\\x80\\xaeid");
        for v in [
            Value::Nil,
            Value::Array(vec![Value::Int(1)]),
            Value::Array(vec![Value::Array(vec![Value::Simple("slots".into()), Value::Int(3)])]),
            Value::Array(vec![Value::Array(vec![
                Value::Simple("slots".into()),
                Value::Array(vec![Value::Int(0), Value::Int(99999), Value::Int(7)]),
                Value::Simple("nodes".into()),
                Value::Array(vec![
                    Value::Int(1),
                    Value::Array(vec![Value::Simple("port".into()), Value::Int(1)]),
                ]),
            ])]),
        ] {
            let t = parse_cluster_shards(&v);
            assert!(t.nodes.is_empty(), "{v:?}");
        }
    }
}
