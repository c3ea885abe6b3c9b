//! A Redis Cluster as a source: its nodes found from one of them (`CLUSTER SHARDS`, else
//! `CLUSTER NODES` on servers before 7.0), found again every [`REDISCOVER_EVERY`], and each
//! node polled on a task of its own (PING and INFO, [`Poller::light`]), so a node that does
//! not answer delays nobody but itself.
//!
//! The cluster task owns everything: the topology, one poller task per node (aborted when the
//! node leaves), the latest poll of each. It publishes a [`ClusterState`] on a `watch` channel
//! once per poll interval and stops when nobody listens any more. Bounded: at most
//! [`MAX_NODES`] nodes, one discovery at a time, each bounded by the connection timeout.

use std::collections::HashMap;
use std::time::Duration;

use super::client::{Client, ClientError, ConnectOptions};
use super::formats::cluster::{parse_cluster_nodes, parse_cluster_shards, ranges_short, ClusterNode, Role};
use super::formats::Value;
use super::poller::{Poller, ServerPoll};

pub use super::formats::cluster::MAX_NODES;

/// How often the nodes are found again (added nodes, failovers, moved slots).
pub const REDISCOVER_EVERY: Duration = Duration::from_secs(10);
/// Nodes tried per discovery when the first does not answer.
const DISCOVERY_TRIES: usize = 4;
/// Slot ranges shown per node.
const RANGES_SHOWN: usize = 4;

/// What one discovery found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// The nodes, as the cluster lists them.
    pub nodes: Vec<ClusterNode>,
    /// `CLUSTER SHARDS` or `CLUSTER NODES`.
    pub source: &'static str,
    /// The node that answered.
    pub from: String,
    /// `cluster_state` of `CLUSTER INFO` on that node (`ok`, `fail`).
    pub state: Option<String>,
    /// Entries of the reply that were not understood or beyond [`MAX_NODES`].
    pub left_out: usize,
}

impl Discovery {
    /// The client ports of the nodes, each once, ascending.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.nodes.iter().map(|n| n.port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// Asks `opts`'s server for the cluster's nodes: `CLUSTER SHARDS`, and `CLUSTER NODES` where
/// that is not known (before 7.0). `Err` says why in words (cluster support disabled, the
/// node down).
pub async fn discover(opts: &ConnectOptions) -> Result<Discovery, String> {
    let mut c = Client::connect(opts).await.map_err(|e| e.to_string())?;
    c.set_name("cluster").await.map_err(|e| e.to_string())?;
    let err = |e: ClientError| e.to_string();
    let (topology, source) = match c.request(&[b"CLUSTER", b"SHARDS"]).await.map_err(err)? {
        Value::Error(e) if e.contains("disabled") => return Err(format!("{}: {e}", opts.addr())),
        Value::Error(_) => match c.request(&[b"CLUSTER", b"NODES"]).await.map_err(err)? {
            Value::Error(e) => return Err(format!("{}: CLUSTER NODES: {e}", opts.addr())),
            v => {
                let text = v.as_bytes().map(String::from_utf8_lossy).unwrap_or_default();
                (parse_cluster_nodes(super::formats::strip_verbatim(&text)), "CLUSTER NODES")
            }
        },
        v => (parse_cluster_shards(&v), "CLUSTER SHARDS"),
    };
    if topology.nodes.is_empty() {
        return Err(format!("{}: {source} listed no node with an address", opts.addr()));
    }
    let state = match c.request(&[b"CLUSTER", b"INFO"]).await {
        Ok(v) => v.as_bytes().and_then(|b| {
            let text = String::from_utf8_lossy(b);
            text.lines().find_map(|l| l.trim_end().strip_prefix("cluster_state:").map(super::formats::shown))
        }),
        Err(_) => None,
    };
    Ok(Discovery {
        nodes: topology.nodes,
        source,
        from: opts.addr(),
        state,
        left_out: topology.stats.skipped + topology.stats.dropped,
    })
}

/// One node's row: what the cluster says of it and what its own INFO says.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct NodeRow {
    /// `host:port`.
    pub addr: String,
    /// Node id.
    pub id: String,
    /// `master` or `replica`: its own INFO's when it answers (fresher after a failover), else
    /// the cluster's.
    pub role: Role,
    /// A replica's master, by id.
    pub master_id: Option<String>,
    /// Slots it serves.
    pub slots: u32,
    /// The first few ranges, `0-5460` (`+N more` past them).
    pub slot_ranges: String,
    /// Slots migrating away and being imported (CLUSTER NODES only; 0 from SHARDS).
    pub migrating: u32,
    /// See `migrating`.
    pub importing: u32,
    /// What the cluster says: `online`, `fail`, `pfail`, `loading`, …
    pub health: String,
    /// It answered respscope's latest poll.
    pub up: bool,
    /// Why not, in words; `None` while the first poll is under way.
    pub error: Option<String>,
    /// Its port is in the capture filter (the filter is set from the nodes found at start).
    pub captured: bool,
    /// `redis_version`.
    pub version: Option<String>,
    /// `instantaneous_ops_per_sec`.
    pub ops_per_sec: Option<u64>,
    /// `used_memory`.
    pub used_memory: Option<u64>,
    /// `connected_clients`.
    pub connected_clients: Option<u64>,
    /// `total_commands_processed`.
    pub commands_processed: Option<u64>,
    /// The poller's PING round trip (µs).
    pub ping_us: Option<u64>,
}

/// The cluster as the latest discovery and polls see it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ClusterState {
    /// The node given on the command line.
    pub seed: String,
    /// The node that answered the latest discovery.
    pub discovered_from: String,
    /// `CLUSTER SHARDS` or `CLUSTER NODES`.
    pub source: &'static str,
    /// `cluster_state` (`ok`, `fail`) as that node said it.
    pub state: Option<String>,
    /// Discoveries done.
    pub discoveries: u64,
    /// Why the latest discovery failed (the previous topology is kept).
    pub discovery_error: Option<String>,
    /// Reply entries not understood or past [`MAX_NODES`].
    pub left_out: usize,
    /// Masters by their first slot, each followed by its replicas; nodes of no shard last.
    pub nodes: Vec<NodeRow>,
}

impl ClusterState {
    /// Nodes that answered their latest poll.
    pub fn answering(&self) -> usize {
        self.nodes.iter().filter(|n| n.up).count()
    }
}

/// Rows in shard order: masters by first slot, each followed by its replicas.
fn rows(d: &Discovery, polls: &HashMap<String, ServerPoll>, captured: &[u16]) -> Vec<NodeRow> {
    let mut order: Vec<&ClusterNode> = d.nodes.iter().filter(|n| n.role == Role::Master).collect();
    order.sort_by_key(|n| (n.slots.is_empty(), n.slots.first().map_or(0, |r| r.0), n.port));
    let mut out: Vec<&ClusterNode> = Vec::with_capacity(d.nodes.len());
    for m in order {
        out.push(m);
        out.extend(
            d.nodes.iter().filter(|n| n.role == Role::Replica && n.master_id.as_deref() == Some(&m.id)),
        );
    }
    // Replicas of a master not listed.
    for n in &d.nodes {
        if !out.iter().any(|o| std::ptr::eq(*o, n)) {
            out.push(n);
        }
    }
    out.into_iter()
        .map(|n| {
            let addr = n.addr();
            let p = polls.get(&addr);
            let up = p.is_some_and(|p| p.up);
            let own_role = p.filter(|p| p.up).and_then(|p| p.role.as_deref()).map(|r| match r {
                "slave" | "replica" => Role::Replica,
                _ => Role::Master,
            });
            let pick = |f: fn(&ServerPoll) -> Option<u64>| p.filter(|p| p.up).and_then(f);
            NodeRow {
                addr,
                id: n.id.clone(),
                role: own_role.unwrap_or(n.role),
                master_id: n.master_id.clone(),
                slots: n.slot_count(),
                slot_ranges: ranges_short(&n.slots, RANGES_SHOWN),
                migrating: n.migrating,
                importing: n.importing,
                health: n.health.clone(),
                up,
                error: p.and_then(|p| p.error.clone()),
                captured: captured.contains(&n.port),
                version: p.filter(|p| p.up).and_then(|p| p.version.clone()),
                ops_per_sec: pick(|p| p.ops_per_sec),
                used_memory: pick(|p| p.used_memory),
                connected_clients: pick(|p| p.connected_clients),
                commands_processed: pick(|p| p.commands_processed),
                ping_us: pick(|p| p.ping_us),
            }
        })
        .collect()
}

/// Starts the cluster task: `initial` is the discovery made at start (its ports are the
/// capture's, `captured`); nodes are polled every `every`. The task publishes on `tx` and
/// ends when every receiver is gone.
pub fn spawn(
    seed: ConnectOptions,
    initial: Discovery,
    captured: Vec<u16>,
    every: Duration,
    tx: tokio::sync::watch::Sender<Option<ClusterState>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(seed, initial, captured, every, tx))
}

/// One node's poller task: polls `opts` every `every` and hands each result over.
fn node_task(
    opts: ConnectOptions,
    every: Duration,
    out: tokio::sync::mpsc::Sender<(String, ServerPoll)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let addr = opts.addr();
        let mut poller = Poller::light(opts);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let p = poller.poll().await;
            if out.send((addr.clone(), p)).await.is_err() {
                break;
            }
        }
    })
}

/// Stops every poller task when the cluster task ends, however it ends.
struct Tasks(HashMap<String, tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in self.0.values() {
            t.abort();
        }
    }
}

async fn run(
    seed: ConnectOptions,
    initial: Discovery,
    captured: Vec<u16>,
    every: Duration,
    tx: tokio::sync::watch::Sender<Option<ClusterState>>,
) {
    let (poll_tx, mut poll_rx) = tokio::sync::mpsc::channel::<(String, ServerPoll)>(256);
    let (disc_tx, mut disc_rx) = tokio::sync::mpsc::channel::<Result<Discovery, String>>(1);
    let mut tasks = Tasks(HashMap::new());
    let mut polls: HashMap<String, ServerPoll> = HashMap::new();
    let mut topology = initial;
    let mut discoveries = 1u64;
    let mut discovery_error: Option<String> = None;
    let mut discovering = false;
    let node_opts = |n: &ClusterNode| ConnectOptions { host: n.host.clone(), port: n.port, ..seed.clone() };
    let sync_tasks = |topology: &Discovery, tasks: &mut Tasks, polls: &mut HashMap<String, ServerPoll>| {
        let wanted: HashMap<String, &ClusterNode> =
            topology.nodes.iter().take(MAX_NODES).map(|n| (n.addr(), n)).collect();
        tasks.0.retain(|addr, t| {
            let keep = wanted.contains_key(addr);
            if !keep {
                t.abort();
            }
            keep
        });
        polls.retain(|addr, _| wanted.contains_key(addr));
        for (addr, n) in wanted {
            tasks.0.entry(addr).or_insert_with(|| node_task(node_opts(n), every, poll_tx.clone()));
        }
    };
    sync_tasks(&topology, &mut tasks, &mut polls);
    let mut rediscover =
        tokio::time::interval_at(tokio::time::Instant::now() + REDISCOVER_EVERY, REDISCOVER_EVERY);
    rediscover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut publish = tokio::time::interval(every);
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            Some((addr, p)) = poll_rx.recv() => {
                if tasks.0.contains_key(&addr) {
                    polls.insert(addr, p);
                }
            }
            Some(found) = disc_rx.recv() => {
                discovering = false;
                match found {
                    Ok(d) => {
                        discoveries += 1;
                        discovery_error = None;
                        topology = d;
                        sync_tasks(&topology, &mut tasks, &mut polls);
                    }
                    Err(why) => discovery_error = Some(why),
                }
            }
            _ = rediscover.tick(), if !discovering => {
                discovering = true;
                // The seed first, then nodes known to answer: a dead seed does not blind us.
                let mut tries = vec![seed.clone()];
                let answering = topology.nodes.iter().filter(|n| polls.get(&n.addr()).is_some_and(|p| p.up));
                tries.extend(answering.take(DISCOVERY_TRIES).map(node_opts));
                let out = disc_tx.clone();
                tokio::spawn(async move {
                    let mut last = String::from("no node to ask");
                    for o in tries {
                        match discover(&o).await {
                            Ok(d) => {
                                let _ = out.send(Ok(d)).await;
                                return;
                            }
                            Err(e) => last = e,
                        }
                    }
                    let _ = out.send(Err(last)).await;
                });
            }
            _ = publish.tick() => {
                let state = ClusterState {
                    seed: seed.addr(),
                    discovered_from: topology.from.clone(),
                    source: topology.source,
                    state: topology.state.clone(),
                    discoveries,
                    discovery_error: discovery_error.clone(),
                    left_out: topology.left_out,
                    nodes: rows(&topology, &polls, &captured),
                };
                if tx.send(Some(state)).is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::server::formats::cluster::parse_cluster_nodes;

    #[test]
    fn rows_follow_shards_and_say_who_answers() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/redis-samples/cluster_nodes_failed.txt"
        ))
        .unwrap_or_default();
        let d = Discovery {
            nodes: parse_cluster_nodes(&text).nodes,
            source: "CLUSTER NODES",
            ..Discovery::default()
        };
        assert_eq!(d.ports(), vec![7101, 7102, 7103, 7104]);
        let mut polls = HashMap::new();
        let up = |ops| ServerPoll {
            up: true,
            ops_per_sec: Some(ops),
            role: Some("master".into()),
            ..ServerPoll::default()
        };
        polls.insert("127.0.0.1:7101".to_string(), up(10));
        polls.insert("127.0.0.1:7102".to_string(), up(20));
        polls.insert(
            "127.0.0.1:7104".to_string(),
            ServerPoll { error: Some("cannot connect".into()), ..ServerPoll::default() },
        );
        let r = rows(&d, &polls, &[7101, 7102, 7103]);
        let order: Vec<(&str, Role, u32, bool)> =
            r.iter().map(|n| (n.addr.as_str(), n.role, n.slots, n.up)).collect();
        assert_eq!(
            order,
            vec![
                ("127.0.0.1:7101", Role::Master, 5461, true),
                ("127.0.0.1:7104", Role::Replica, 0, false),
                ("127.0.0.1:7102", Role::Master, 5462, true),
                ("127.0.0.1:7103", Role::Master, 5461, false),
            ]
        );
        assert_eq!(r[0].slot_ranges, "0-5460");
        assert_eq!(r[1].error.as_deref(), Some("cannot connect"));
        assert_eq!((r[1].health.as_str(), r[1].captured), ("fail", false));
        assert_eq!(r[2].ops_per_sec, Some(20));
        // Polled yet or not: no error until the first poll finishes.
        assert_eq!(r[3].error, None);
    }
}
