//! Each rule on sequences of observations, folded through an [`AlertBook`] as the console
//! and `watch` fold them.

use super::*;
use crate::engine::alerts::AlertBook;
use crate::sources::server::formats::client_list::parse_client_list;
use crate::sources::server::formats::info::parse_info;
use crate::sources::server::formats::slowlog::SlowEntry;

fn poll(info: &str, clients: &str) -> ServerPoll {
    let info = parse_info(&info.replace('\n', "\r\n"));
    ServerPoll {
        addr: "127.0.0.1:6379".into(),
        up: true,
        used_memory: info.get_u64("used_memory"),
        evicted_keys: info.get_u64("evicted_keys"),
        rejected_connections: info.get_u64("rejected_connections"),
        clients: parse_client_list(clients),
        info: Some(info),
        ..ServerPoll::default()
    }
}

const INFO: &str = "# Server\nrun_id:aaaaaaaaaaaa\nuptime_in_seconds:100\n# Clients\nblocked_clients:0\n\
# Memory\nused_memory:1000\nmaxmemory:0\nmaxmemory_policy:noeviction\n# Stats\nevicted_keys:0\nrejected_connections:0\n\
# Replication\nrole:master\nconnected_slaves:0\n";

fn client(addr: &str, name: &str, omem: u64, qbuf: u64, cmd: &str, flags: &str) -> String {
    format!(
        "id=7 addr={addr} laddr=127.0.0.1:6379 fd=8 name={name} age=1 idle=0 flags={flags} db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=10 omem={omem} tot-mem={omem} events=rw cmd={cmd} user=default redir=-1 resp=2 lib-name=redis-py lib-ver=5.0\n"
    )
}

fn kinds(f: &[Finding]) -> Vec<AlertKind> {
    f.iter().map(|f| f.kind).collect()
}

#[test]
fn a_quiet_server_raises_nothing() {
    let mut r = Rules::default();
    for _ in 0..3 {
        let (f, ev) = r.server(&poll(INFO, &client("127.0.0.1:5000", "app", 0, 0, "get", "N")), None);
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(ev, SERVER_KINDS);
    }
}

#[test]
fn slow_commands_over_the_threshold_by_name() {
    let mut r = Rules::default();
    let mut p = poll(INFO, "");
    let entry = |id, us, cmd: &str| SlowEntry {
        id,
        time: 0,
        duration_us: us,
        args: cmd.split(' ').map(str::to_string).collect(),
        client_addr: "127.0.0.1:5000".into(),
        client_name: "demo-slow".into(),
    };
    p.slowlog_new =
        vec![entry(1, 9_000, "GET k"), entry(2, 501_000, "DEBUG SLEEP 0.5"), entry(3, 78_000, "KEYS *")];
    let (f, _) = r.server(&p, None);
    assert_eq!(kinds(&f), [AlertKind::SlowCommand, AlertKind::SlowCommand], "GET at 9 ms is under 10 ms");
    assert_eq!(f[0].subject, Subject::Command { name: "DEBUG".into() });
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].evidence, Evidence::Slowlog(2));
    assert_eq!(
        f[0].message,
        "`DEBUG SLEEP 0.5` took 501.0 ms on the server, from demo-slow 127.0.0.1:5000: every other client waited behind it (Slowlog #2)"
    );
    assert_eq!((f[1].severity, f[1].subject.label()), (Severity::Warning, "KEYS".to_string()));
    // Folded: two alerts; the same command again counts into its alert.
    let mut b = AlertBook::default();
    b.fold(1_000, SERVER_KINDS, f);
    p.slowlog_new = vec![entry(4, 80_000, "KEYS *"), entry(5, 90_000, "keys *")];
    let (f, _) = r.server(&p, None);
    assert_eq!((f.len(), f[0].occurrences), (1, 2));
    b.fold(2_000, SERVER_KINDS, f);
    let keys = b.get(0).expect("alert");
    assert_eq!((keys.count, keys.first_seen, keys.last_seen, keys.resolved), (3, 1_000, 2_000, false));
    assert_eq!(b.len(), 2);
}

#[test]
fn output_buffer_over_the_threshold_names_the_client_and_its_zero_windows() {
    let mut r = Rules::default();
    let p = poll(
        INFO,
        &(client("127.0.0.1:5000", "reader", 92 << 20, 0, "get", "N")
            + &client("127.0.0.1:5001", "", 10, 0, "get", "N")),
    );
    let (f, _) = r.server(&p, None);
    assert_eq!(kinds(&f), [AlertKind::OutputBuffer]);
    assert_eq!(
        f[0].subject,
        Subject::Client {
            addr: "127.0.0.1:5000".into(),
            name: Some("reader".into()),
            lib: Some("redis-py 5.0".into())
        }
    );
    assert_eq!(f[0].evidence, Evidence::Connection("127.0.0.1:5000".into()));
    assert_eq!(
        f[0].message,
        "reader 127.0.0.1:5000 holds 92.0 MiB of replies the server could not send (over 32.0 MiB, last command get)"
    );
}

#[test]
fn output_buffer_growing_for_several_polls() {
    let mut r = Rules::default();
    let mut found = Vec::new();
    for i in 1..=7u64 {
        let p = poll(INFO, &client("127.0.0.1:5000", "slow", i << 20, 0, "get", "N"));
        found.push(!r.server(&p, None).0.is_empty());
    }
    // Five rises take six polls: from the sixth on, it is growing.
    assert_eq!(found, [false, false, false, false, false, true, true]);
    // It stops growing: the condition clears.
    let p = poll(INFO, &client("127.0.0.1:5000", "slow", 7 << 20, 0, "get", "N"));
    assert!(r.server(&p, None).0.is_empty());
}

#[test]
fn query_buffer_memory_blocked_and_monitor() {
    let mut r = Rules::default();
    let info = INFO
        .replace("maxmemory:0", "maxmemory:1000")
        .replace("used_memory:1000", "used_memory:950")
        .replace("blocked_clients:0", "blocked_clients:1");
    let clients = client("127.0.0.1:5000", "loader", 0, 40 << 20, "set", "N")
        + &client("127.0.0.1:5001", "worker", 0, 0, "blpop", "b")
        + &client("127.0.0.1:5002", "", 0, 0, "monitor", "O")
        + &client("127.0.0.1:5003", crate::sources::server::monitor::CLIENT_NAME, 0, 0, "monitor", "O");
    let (f, _) = r.server(&poll(&info, &clients), None);
    assert_eq!(
        kinds(&f),
        [
            AlertKind::QueryBuffer,
            AlertKind::Memory,
            AlertKind::BlockedClients,
            AlertKind::Monitor,
            AlertKind::Monitor
        ]
    );
    assert_eq!(
        f[1].message,
        "memory at 95% of maxmemory (0.0 MiB of 0.0 MiB, policy noeviction): see the Memory pane"
    );
    assert_eq!(f[2].message, "1 client(s) blocked waiting for data: worker 127.0.0.1:5001 in blpop");
    assert_eq!(
        (f[3].severity, f[4].severity),
        (Severity::Warning, Severity::Info),
        "another's MONITOR, ours"
    );
}

#[test]
fn maxmemory_zero_is_unlimited() {
    let mut r = Rules::default();
    let info = INFO.replace("used_memory:1000", "used_memory:99999999999");
    assert!(r.server(&poll(&info, ""), None).0.is_empty());
}

#[test]
fn evictions_and_rejections_are_counted_between_polls() {
    let mut r = Rules::default();
    assert!(r.server(&poll(INFO, ""), None).0.is_empty(), "the first poll is the baseline");
    let info = INFO
        .replace("evicted_keys:0", "evicted_keys:12")
        .replace("rejected_connections:0", "rejected_connections:2");
    let (f, _) = r.server(&poll(&info, ""), None);
    assert_eq!(kinds(&f), [AlertKind::Evictions, AlertKind::RejectedConnections]);
    assert_eq!((f[0].occurrences, f[1].occurrences), (12, 2));
    assert!(r.server(&poll(&info, ""), None).0.is_empty(), "no change, no finding");
}

#[test]
fn down_then_restarted_then_quiet() {
    let mut r = Rules::default();
    let mut b = AlertBook::default();
    let (f, ev) = r.server(&poll(INFO, ""), None);
    b.fold(0, ev, f);
    let down = ServerPoll {
        addr: "127.0.0.1:6379".into(),
        up: false,
        error: Some("connection refused".into()),
        failures: 3,
        ..ServerPoll::default()
    };
    let (f, ev) = r.server(&down, None);
    assert_eq!(kinds(&f), [AlertKind::ServerDown]);
    assert_eq!(ev, [AlertKind::ServerDown]);
    b.fold(1_000, ev, f);
    // Back, with a new run_id and uptime 1: down resolves, restarted is raised.
    let info = INFO
        .replace("run_id:aaaaaaaaaaaa", "run_id:bbbbbbbbbbbb")
        .replace("uptime_in_seconds:100", "uptime_in_seconds:1");
    let (f, ev) = r.server(&poll(&info, ""), None);
    assert_eq!(kinds(&f), [AlertKind::ServerRestarted]);
    assert!(f[0].message.starts_with("the server restarted 1 s ago (run_id bbbbbbbb…)"), "{}", f[0].message);
    b.fold(2_000, ev, f);
    let all: Vec<_> = b.all().map(|a| (a.kind, a.resolved)).collect();
    assert_eq!(all, [(AlertKind::ServerRestarted, false), (AlertKind::ServerDown, true)]);
    // Same run, uptime going forward: nothing new.
    let info = info.replace("uptime_in_seconds:1", "uptime_in_seconds:3");
    assert!(r.server(&poll(&info, ""), None).0.is_empty());
    // Uptime going back with the same run_id (a restart that kept its id): restarted.
    let info = info.replace("uptime_in_seconds:3", "uptime_in_seconds:0");
    assert_eq!(kinds(&r.server(&poll(&info, ""), None).0), [AlertKind::ServerRestarted]);
}

#[test]
fn replication_link_down_and_lagging_replica() {
    let mut r = Rules::default();
    let replica = INFO.replace(
        "role:master\nconnected_slaves:0",
        "role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nmaster_link_status:down\nmaster_link_down_since_seconds:42",
    );
    let (f, _) = r.server(&poll(&replica, ""), None);
    assert_eq!(kinds(&f), [AlertKind::Replication]);
    assert_eq!(f[0].message, "the link to master 10.0.0.1:6379 is down (down for 42 s)");
    let master = INFO.replace(
        "connected_slaves:0",
        "connected_slaves:2\nslave0:ip=127.0.0.1,port=6380,state=online,offset=14,lag=0\nslave1:ip=127.0.0.1,port=6381,state=online,offset=10,lag=12",
    );
    let (f, _) = r.server(&poll(&master, ""), None);
    assert_eq!(kinds(&f), [AlertKind::Replication]);
    assert_eq!(f[0].message, "replica 127.0.0.1:6381 is online, 12 s behind");
}

fn latency(count: u64, p99: u64) -> IntervalLatency {
    IntervalLatency { count, p50: Some(p99 / 2), p99: Some(p99), p999: Some(p99), max: Some(p99) }
}

fn slow_reader() -> Report {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slow_reader.pcap");
    let cfg = crate::analysis::wire::WireConfig::ports(vec![6379]);
    match crate::engine::analyze_file(&path, cfg, None) {
        Ok(a) => a.report(),
        Err(e) => panic!("slow_reader.pcap: {e}"),
    }
}

#[test]
fn latency_spike_against_the_baseline() {
    let mut r = Rules::default();
    let report = slow_reader();
    let loss = LiveStats::default();
    let mut spikes = Vec::new();
    let series = [200u64, 210, 190, 205, 200, 195, 200, 210, 220, 200, 5_000, 900, 200];
    for p99 in series {
        let (f, _) = r.wire(&report, &latency(100, p99), &loss, None, &[]);
        spikes.push(f.iter().any(|f| f.kind == AlertKind::LatencySpike));
    }
    // Ten intervals make a baseline (~200 µs); 5 ms is 25x it; 900 µs is under the 1 ms floor.
    let expect: Vec<bool> = series.iter().map(|&p| p == 5_000).collect();
    assert_eq!(spikes, expect);
    // Too few commands say nothing either way.
    let (f, _) = r.wire(&report, &latency(3, 50_000), &loss, None, &[]);
    assert!(f.iter().all(|f| f.kind != AlertKind::LatencySpike));
}

#[test]
fn window_stall_once_per_new_zero_window_with_the_client_name() {
    let mut r = Rules::default();
    let report = slow_reader();
    let loss = LiveStats::default();
    let stalled = report.connections.iter().find(|c| c.tcp.zero_windows > 0).expect("a stalled reader");
    let clients = client(&stalled.client, "slow-reader", 3 << 20, 0, "get", "N");
    let rows = parse_client_list(&clients);
    let (f, _) = r.wire(&report, &IntervalLatency::default(), &loss, None, &rows);
    assert_eq!(kinds(&f), [AlertKind::WindowStall]);
    assert_eq!(f[0].occurrences, stalled.tcp.zero_windows);
    assert!(
        f[0].message.starts_with(&format!("slow-reader {}: its receive window hit zero", stalled.client)),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("3.0 MiB waiting on the server"));
    // The same counts again: no new stall.
    assert!(r.wire(&report, &IntervalLatency::default(), &loss, None, &rows).0.is_empty());
}

#[test]
fn drops_and_capture_stopped() {
    let mut r = Rules::default();
    let report = slow_reader();
    let mut loss = LiveStats::default();
    r.wire(&report, &IntervalLatency::default(), &loss, None, &[]);
    loss.kernel_dropped = 5;
    loss.if_dropped = 2;
    let (f, _) = r.wire(
        &report,
        &IntervalLatency::default(),
        &loss,
        Some((CaptureStatus::Stopped, Some("lo went away"))),
        &[],
    );
    assert_eq!(kinds(&f), [AlertKind::Drops, AlertKind::CaptureStopped]);
    assert_eq!(f[0].occurrences, 7);
    assert!(f[1].message.starts_with("the wire is not seen: lo went away"));
    let (f, _) =
        r.wire(&report, &IntervalLatency::default(), &loss, Some((CaptureStatus::Capturing, None)), &[]);
    assert!(f.is_empty());
}
