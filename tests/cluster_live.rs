//! `-c` against a real three-master Redis Cluster the test starts (three redis-servers with
//! `--cluster-enabled yes`, joined by `redis-cli --cluster create`): `watch` reports every
//! node with its slots and numbers that agree with each node's own INFO, while a
//! cluster-aware client (redis-py's `RedisCluster`) drives it; the MOVED and ASK redirections
//! a client that ignores the cluster receives are the ones counted on the wire; the console
//! shows a row per node, finds a node added later and says a node that stops answering.
//!
//! Needs redis-server, redis-cli, tmux, python3 with redis-py (Debian's python3-redis) and root
//! (capture). Outside CI a missing part skips with a message; with `CI=true` it fails.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tmux::Tmux;
use common::{free_port, Guard};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_respscope")
}

/// A python3 that can import redis-py's cluster client: the one on the PATH, else Debian's
/// (python3-redis installs there, and a pyenv on the PATH does not see it).
fn python_with_redis() -> Option<String> {
    ["python3", "/usr/bin/python3"].into_iter().map(str::to_string).find(|py| {
        Command::new(py)
            .args(["-c", "from redis.cluster import RedisCluster"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn preconditions(tools: &[&str]) -> Option<String> {
    if !common::preconditions("cluster tests", tools) {
        return None;
    }
    let py = python_with_redis();
    if py.is_none() {
        common::skip("cluster tests", "python3 with redis-py (apt-get install python3-redis)");
    }
    py
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["10", "redis-cli", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn info_field(port: u16, section: &str, field: &str) -> Option<u64> {
    let text = cli(port, &["INFO", section]);
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))?.trim().parse().ok())
}

/// `cmdstat_NAME:calls=N,…` of one node.
fn calls(port: u16, name: &str) -> u64 {
    let text = cli(port, &["INFO", "commandstats"]);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{name}:calls="))?.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// Three masters on free ports, each redis-server in a directory of its own, joined into one
/// cluster (slots 0-5460, 5461-10922, 10923-16383 in port order) and waited for until every
/// node says `cluster_state:ok`.
struct Cluster {
    ports: [u16; 3],
    nodes: Vec<Option<Guard>>,
    _dirs: Vec<tempfile::TempDir>,
}

/// A redis-server with cluster support on `p`, in a directory of its own, once it listens.
fn node_server(p: u16) -> (Guard, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let conf = dir.path().join(format!("nodes-{p}.conf"));
    let g = Guard(
        Command::new("redis-server")
            .current_dir(dir.path())
            .args(["--port", &p.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
            .arg("--cluster-config-file")
            .arg(&conf)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", p)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "redis-server on {p} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (g, dir)
}

impl Cluster {
    fn start() -> Cluster {
        let ports = [free_port(), free_port(), free_port()];
        let mut nodes = Vec::new();
        let mut dirs = Vec::new();
        for p in ports {
            let (g, dir) = node_server(p);
            nodes.push(Some(g));
            dirs.push(dir);
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("timeout")
            .args(["30", "redis-cli", "--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(out.status.success(), "cluster create: {}", String::from_utf8_lossy(&out.stdout));
        let t = Instant::now();
        while !ports.iter().all(|&p| cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok")) {
            assert!(t.elapsed() < Duration::from_secs(30), "the cluster never said cluster_state:ok");
            std::thread::sleep(Duration::from_millis(200));
        }
        Cluster { ports, nodes, _dirs: dirs }
    }

    /// Stops node `i` (by its pid, through its guard).
    fn kill(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// Starts a fourth node and adds it as a replica of the first; returns its port.
    fn add_replica(&mut self) -> u16 {
        let p = free_port();
        let (g, dir) = node_server(p);
        self.nodes.push(Some(g));
        self._dirs.push(dir);
        let out = Command::new("timeout")
            .args(["30", "redis-cli", "--cluster", "add-node", &format!("127.0.0.1:{p}")])
            .arg(format!("127.0.0.1:{}", self.ports[0]))
            .arg("--cluster-slave")
            .output()
            .expect("run redis-cli --cluster add-node");
        assert!(out.status.success(), "add-node: {}", String::from_utf8_lossy(&out.stdout));
        p
    }
}

/// Sends `commands` (each a list of arguments) in one write on a connection of its own to
/// `port` and reads one reply line per command (every reply here is one line: an error, `+OK`
/// or `$-1`). Returns the client's address and the replies.
fn raw(port: u16, commands: &[&[&str]]) -> (String, Vec<String>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("a timeout");
    let mut out = Vec::new();
    for c in commands {
        out.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
        for a in *c {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    s.write_all(&out).expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while buf.iter().filter(|&&b| b == b'\n').count() < commands.len() {
        let n = s.read(&mut chunk).expect("read the replies");
        assert!(n > 0, "the node closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    let addr = s.local_addr().expect("an address").to_string();
    (addr, String::from_utf8_lossy(&buf).lines().map(str::to_string).collect())
}

fn node(line: &serde_json::Value, port: u16) -> &serde_json::Value {
    let addr = format!("127.0.0.1:{port}");
    line["cluster"]["nodes"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["addr"] == addr.as_str()))
        .unwrap_or_else(|| panic!("no row for {addr} in {}", line["cluster"]))
}

#[test]
fn watch_reports_every_node_and_counts_the_redirections_clients_received() {
    let Some(py) = preconditions(&["redis-server", "redis-cli"]) else { return };
    let c = Cluster::start();
    let [p1, p2, p3] = c.ports;
    let w = Command::new(bin())
        .args(["watch", "-c", "-p", &p1.to_string(), "--duration", "14", "--interval", "0.5"])
        .arg("--all-connections")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run respscope watch");
    std::thread::sleep(Duration::from_millis(1500));
    let sets_before: u64 = c.ports.iter().map(|&p| calls(p, "set")).sum();
    // A cluster-aware client: each key to the node that owns its slot.
    let n = 3000;
    let script = format!(
        "from redis.cluster import RedisCluster, ClusterNode\n\
         rc = RedisCluster(startup_nodes=[ClusterNode('127.0.0.1', {p1})], decode_responses=True)\n\
         for i in range({n}):\n    rc.set(f'key:{{i}}', i)\n\
         for i in range({n}):\n    assert rc.get(f'key:{{i}}') == str(i)\n\
         print('ok')\n"
    );
    let out = Command::new("timeout").args(["60", &py, "-c", &script]).output().expect("run redis-py");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok"),
        "redis-py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sets: u64 = c.ports.iter().map(|&p| calls(p, "set")).sum::<u64>() - sets_before;
    assert_eq!(sets, n, "the nodes ran every SET");
    // A client that ignores the cluster: eight GETs on the first node, which owns slots
    // 0-5460; b (3300) and f (3168) are its own, the six others are elsewhere.
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let gets: Vec<Vec<&str>> = keys.iter().map(|k| vec!["GET", *k]).collect();
    let gets: Vec<&[&str]> = gets.iter().map(Vec::as_slice).collect();
    let (moved_client, replies) = raw(p1, &gets);
    let moved = replies.iter().filter(|r| r.starts_with("-MOVED ")).count() as u64;
    assert_eq!(moved, 6, "{replies:?}");
    // An ASK: slot 3168 (key f) migrating from the first node to the second, f absent.
    let id1 = cli(p1, &["CLUSTER", "MYID"]);
    let id2 = cli(p2, &["CLUSTER", "MYID"]);
    assert_eq!(cli(p2, &["CLUSTER", "SETSLOT", "3168", "IMPORTING", &id1]), "OK");
    assert_eq!(cli(p1, &["CLUSTER", "SETSLOT", "3168", "MIGRATING", &id2]), "OK");
    let (ask_client, replies) = raw(p1, &[&["GET", "f"]]);
    let asked = replies.iter().filter(|r| r.starts_with("-ASK 3168 ")).count() as u64;
    assert_eq!(asked, 1, "{replies:?}");
    let (_, followed) = raw(p2, &[&["ASKING"], &["GET", "f"]]);
    assert_eq!(followed, vec!["+OK", "$-1"]);
    for p in [p1, p2] {
        assert_eq!(cli(p, &["CLUSTER", "SETSLOT", "3168", "STABLE"]), "OK");
    }
    let out = w.wait_with_output().expect("wait for watch");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.len() >= 20, "{} lines; stderr: {err}", lines.len());
    // The first line with every node polled, before the workload; the last, well after it.
    let first = lines
        .iter()
        .find(|l| c.ports.iter().all(|&p| node(l, p)["commands_processed"].is_u64()))
        .expect("a line with every node polled");
    let last = lines.last().expect("a last line");
    assert!(first["t_ms"].as_u64() < Some(1500), "the nodes were first polled at {}", first["t_ms"]);
    assert_eq!(last["wire"]["status"], "capturing", "{err}");
    assert_eq!(last["cluster"]["state"], "ok");
    assert_eq!(last["cluster"]["answering"], 3);
    assert!(last["cluster"]["discoveries"].as_u64() >= Some(2), "found again after 10 s");
    // Every node's port is captured and analysed.
    let mut ports: Vec<u64> = last["wire"]["snapshot"]["report"]["capture"]["ports"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default();
    ports.sort_unstable();
    let mut want: Vec<u64> = c.ports.iter().map(|&p| u64::from(p)).collect();
    want.sort_unstable();
    assert_eq!(ports, want);
    // Slots as the cluster was made: in port order.
    for (p, slots, ranges) in [(p1, 5461, "0-5460"), (p2, 5462, "5461-10922"), (p3, 5461, "10923-16383")] {
        let row = node(last, p);
        assert_eq!((row["role"].as_str(), row["slots"].as_u64()), (Some("master"), Some(slots)), "{row}");
        assert_eq!(row["slot_ranges"], ranges);
        assert_eq!((row["up"].as_bool(), row["captured"].as_bool()), (Some(true), Some(true)));
        // The node's own count, now, is the row's plus the few polls since.
        let own = info_field(p, "stats", "total_commands_processed").expect("INFO stats");
        let row_count = row["commands_processed"].as_u64().expect("commands_processed");
        assert!(own >= row_count && own - row_count <= 60, "{p}: INFO says {own}, the row {row_count}");
        // Between two lines, the commands the wire saw sent to it are those it ran.
        let wire_delta = row["wire"]["commands"].as_u64().unwrap_or(0)
            - node(first, p)["wire"]["commands"].as_u64().unwrap_or(0);
        let own_delta = row_count - node(first, p)["commands_processed"].as_u64().unwrap_or(0);
        eprintln!("node {p}: wire {wire_delta} commands, INFO {own_delta} commands between two lines");
        assert!(wire_delta >= 2 * n / 3 / 2, "{p}: {wire_delta}");
        assert!(
            wire_delta.abs_diff(own_delta) <= 40,
            "{p}: the wire saw {wire_delta}, the node ran {own_delta}"
        );
        let peak = lines.iter().filter_map(|l| node(l, p)["ops_per_sec"].as_u64()).max().unwrap_or(0);
        assert!(peak >= 100, "{p}: INFO's ops/s never rose with the workload: {peak}");
    }
    // The redirections on the wire are the ones the clients got.
    let totals = &last["wire"]["snapshot"]["report"]["totals"];
    assert_eq!((totals["moved"].as_u64(), totals["ask"].as_u64()), (Some(moved), Some(asked)), "{totals}");
    let conn = |addr: &str| {
        last["wire"]["snapshot"]["report"]["connections"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["client"] == addr).cloned())
            .unwrap_or_else(|| panic!("no connection from {addr}"))
    };
    assert_eq!(conn(&moved_client)["moved"].as_u64(), Some(6));
    assert_eq!(conn(&ask_client)["ask"].as_u64(), Some(1));
    assert_eq!(node(last, p1)["wire"]["moved"].as_u64(), Some(6), "the first node sent them");
    eprintln!(
        "measured: {n} SETs and {n} GETs through RedisCluster, {moved} MOVED and {asked} ASK on the wire"
    );
}

#[test]
fn console_shows_a_row_per_node_a_node_added_later_and_one_that_stops_answering() {
    if preconditions(&["redis-server", "redis-cli", "tmux"]).is_none() {
        return;
    }
    let mut c = Cluster::start();
    let [p1, p2, p3] = c.ports;
    let t = Tmux::start("rs-cluster", &format!("exec {} -c -p {p1}", bin()), 140, 36);
    let s = t.wait_for("cluster ok: 3 of 3 nodes answer", 15);
    for (p, slots) in [(p1, "5461"), (p2, "5462"), (p3, "5461")] {
        let row = s
            .lines()
            .find(|l| l.starts_with(&format!("127.0.0.1:{p} ")))
            .unwrap_or_else(|| panic!("no row for {p}:\n{s}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[1..3], &["master", slots], "{row}");
        assert!(row.ends_with(" ok"), "{row}");
    }
    // A node added later shows at the next discovery (every 10 s); the capture filter was
    // set at start, so its traffic is not captured, and the row says so.
    let p4 = c.add_replica();
    let s = t.wait_for("4 of 4 nodes answer", 30);
    let row = s.lines().find(|l| l.contains(&format!(" └ 127.0.0.1:{p4} "))).expect("the new replica's row");
    assert!(row.contains("replica") && row.contains("(not captured)"), "{row}");
    c.kill(2);
    let s = t.wait_for("3 of 4 nodes answer", 15);
    let row = s.lines().find(|l| l.starts_with(&format!("127.0.0.1:{p3} "))).expect("the dead node's row");
    assert!(row.contains("DOWN: "), "{row}");
    t.wait_for("cluster_node", 5);
    t.keys("q");
    let t0 = Instant::now();
    while t.alive() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!t.alive(), "q quits");
}
