//! `respscope exporter` scraped by a real Prometheus (Debian's `prometheus`, started on a
//! free loopback port) while redis-benchmark runs: its query API must return wire command
//! counts equal to the server's own commandstats deltas, and latency histogram counts equal
//! to the commands answered. A scrape with 1,000 clients connected stays small.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A plain HTTP GET on loopback: the status and the body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Percent-encodes a PromQL query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of a PromQL query that returns one sample, if it does.
fn query(prom: u16, q: &str) -> Option<f64> {
    let (status, body) = get(prom, &format!("/api/v1/query?query={}", encode(q)))?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    let r = v["data"]["result"].as_array()?;
    r.first()?["value"][1].as_str()?.parse().ok()
}

/// `calls` of each command in INFO commandstats.
fn commandstats(port: u16) -> Vec<(String, u64)> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "info", "commandstats"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|f| f.strip_prefix("calls="))?.parse().ok()?;
            Some((name.to_string(), calls))
        })
        .collect()
}

fn calls(stats: &[(String, u64)], name: &str) -> u64 {
    stats.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c)
}

fn exporter(redis: u16, listen: u16) -> common::Guard {
    let g = common::Guard(
        Command::new(env!("CARGO_BIN_EXE_respscope"))
            .args(["exporter", "-p", &redis.to_string(), "--listen", &format!("127.0.0.1:{listen}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("start the exporter"),
    );
    let t = Instant::now();
    while get(listen, "/metrics").is_none() {
        assert!(t.elapsed() < Duration::from_secs(10), "the exporter did not serve /metrics");
        std::thread::sleep(Duration::from_millis(100));
    }
    g
}

#[test]
fn prometheus_scrapes_wire_counts_equal_to_the_servers_commandstats() {
    let _s = serial();
    if !common::preconditions(
        "the exporter under Prometheus",
        &["redis-server", "redis-benchmark", "prometheus"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let redis = common::free_port();
    let _server = common::redis(redis, &[]);
    let listen = common::free_port();
    let _exp = exporter(redis, listen);
    let prom = common::free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: respscope\n    static_configs:\n      - targets: ['127.0.0.1:{listen}']\n"
        ),
    )
    .expect("config");
    let _prometheus = common::Guard(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let t = Instant::now();
    while get(prom, "/-/ready").is_none_or(|(s, _)| s != 200) {
        assert!(t.elapsed() < Duration::from_secs(30), "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = commandstats(redis);
    common::bench_p16(redis, 20_000, "set,get");
    let after = commandstats(redis);
    let sets = calls(&after, "set") - calls(&before, "set");
    let gets = calls(&after, "get") - calls(&before, "get");
    assert_eq!((sets, gets), (20_000, 20_000));
    // Until a scrape after the exporter's next snapshot has landed in Prometheus.
    let t = Instant::now();
    let want = |q: &str, v: u64| query(prom, q) == Some(v as f64);
    while !(want("respscope_wire_commands_total{command=\"set\"}", sets)
        && want("respscope_wire_commands_total{command=\"get\"}", gets)
        && want("respscope_wire_command_latency_seconds_count{command=\"get\"}", gets))
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "Prometheus has set {:?} get {:?} latency count get {:?} set {:?}, the server counted {sets} and {gets}",
            query(prom, "respscope_wire_commands_total{command=\"set\"}"),
            query(prom, "respscope_wire_commands_total{command=\"get\"}"),
            query(prom, "respscope_wire_command_latency_seconds_count{command=\"get\"}"),
            query(prom, "respscope_wire_command_latency_seconds_count{command=\"set\"}"),
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // Every SET was answered, so its histogram counted each one, in a bucket at most +Inf.
    assert_eq!(
        query(prom, "respscope_wire_command_latency_seconds_count{command=\"set\"}"),
        Some(sets as f64)
    );
    assert_eq!(
        query(prom, "respscope_wire_command_latency_seconds_bucket{command=\"set\",le=\"+Inf\"}"),
        Some(sets as f64)
    );
    // redis-benchmark -P 16 writes 16 commands per batch: the batch histogram says so.
    let p16 = query(prom, "respscope_wire_batch_commands_bucket{le=\"16.0\"}").unwrap_or(0.0)
        - query(prom, "respscope_wire_batch_commands_bucket{le=\"8.0\"}").unwrap_or(0.0);
    assert!(p16 >= 2_000.0, "batches of 9-16 commands: {p16}");
    // The server's own numbers under the names dashboards know.
    assert_eq!(query(prom, "redis_up"), Some(1.0));
    let t = Instant::now();
    while query(prom, "redis_commands_total{cmd=\"set\"}") != Some(calls(&after, "set") as f64) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "redis_commands_total{{cmd=set}}: {:?}",
            query(prom, "redis_commands_total{cmd=\"set\"}")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(query(prom, "respscope_wire_up"), Some(1.0));
    assert_eq!(query(prom, "respscope_wire_kernel_drops_total"), Some(0.0));
    dashboard_queries_run_on_what_is_served(prom);
}

/// Every query of the Grafana dashboard in `assets/` is valid PromQL to this Prometheus, and
/// every metric it names is one the exporter serves (and this run has samples of).
fn dashboard_queries_run_on_what_is_served(prom: u16) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/grafana-dashboard.json");
    let d: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).expect("JSON");
    let exprs: Vec<String> = d["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(exprs.len() >= 12, "{exprs:?}");
    for e in &exprs {
        let q = e.replace("$__rate_interval", "10s");
        let (status, body) = get(prom, &format!("/api/v1/query?query={}", encode(&q))).expect("query");
        assert_eq!(status, 200, "{q}: {body}");
        for name in q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if name.starts_with("respscope_") || name.starts_with("redis_") {
                let series = query(prom, &format!("count({name})"));
                assert!(
                    series.is_some_and(|n| n >= 1.0),
                    "the dashboard's {name} has no series in Prometheus"
                );
            }
        }
    }
}

#[test]
fn a_scrape_with_a_thousand_clients_stays_small() {
    let _s = serial();
    if !common::preconditions("a scrape with 1,000 clients", &["redis-server"]) {
        return;
    }
    // 1,000 clients and the server's own descriptors need more than the usual 1,024.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard.min(8192), hard);
    }
    let redis = common::free_port();
    let _server = common::redis(redis, &["--maxclients", "2000"]);
    let listen = common::free_port();
    let _exp = exporter(redis, listen);
    // CLIENT SETINFO came with Redis 7.2: an older server refuses it and lists no library,
    // but the client announced it on the wire, and that is what labels it then.
    let mut clients: Vec<TcpStream> = (0..1_000)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", redis)).expect("a client");
            let name = format!("app-{i}");
            let lib = format!("lib{}", i % 40);
            let mut cmd = format!("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n${}\r\n{name}\r\n", name.len());
            cmd.push_str(&format!(
                "*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n${}\r\n{lib}\r\n",
                lib.len()
            ));
            s.write_all(cmd.as_bytes()).expect("write");
            s
        })
        .collect();
    for s in &mut clients {
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut b = [0u8; 5];
        let _ = s.read_exact(&mut b);
    }
    // Two polls and two snapshots after every client spoke.
    std::thread::sleep(Duration::from_millis(2_500));
    let t = Instant::now();
    let (status, body) = get(listen, "/metrics").expect("a scrape");
    let took = t.elapsed();
    assert_eq!(status, 200);
    eprintln!("a scrape with 1,000 clients: {} bytes in {:.1} ms", body.len(), took.as_secs_f64() * 1e3);
    assert!(body.len() < 200_000, "{} bytes", body.len());
    assert!(body.trim_end().ends_with("# EOF"), "not OpenMetrics");
    let listed = body
        .lines()
        .find_map(|l| l.strip_prefix("respscope_wire_connections_listed "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(listed.is_some_and(|n| n >= 1_000), "{listed:?}");
    // 40 libraries announced: 20 by name, the rest summed as `other`; never a label per client.
    let libs: std::collections::BTreeSet<&str> = body
        .lines()
        .filter(|l| l.starts_with("respscope_wire_client_connections{"))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(libs.len() <= 22, "{libs:?}");
    assert!(libs.contains("other") && libs.len() >= 21, "{libs:?}");
    // 1,000 client names: the 20 busiest are labels, the rest are summed as `other`.
    let names: Vec<(&str, u64)> = body
        .lines()
        .filter_map(|l| l.strip_prefix("respscope_wire_client_name_connections{name=\""))
        .filter_map(|l| {
            let (name, v) = l.split_once("\"} ")?;
            Some((name, v.trim().parse().ok()?))
        })
        .collect();
    assert!(names.len() <= 22, "{names:?}");
    let other = names.iter().find(|(n, _)| *n == "other").map_or(0, |(_, v)| *v);
    assert!(other >= 970, "{names:?}");
    assert!(!body.contains("127.0.0.1:"), "an address became a label");
}
