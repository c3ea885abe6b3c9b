//! End to end with real parts: a real `redis-server` on a free loopback port, a real libpcap
//! capture (tcpdump), real clients (redis-benchmark -P 16 and a raw socket writing like Jedis),
//! then `respscope analyze` on the capture, checked against the server's own
//! `INFO commandstats`.
//!
//! Needs redis-server, redis-benchmark, tcpdump and capture rights (root or
//! cap_net_raw). Outside CI a missing part skips with a message; with `CI=true` it fails.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::free_port;

fn preconditions() -> bool {
    common::preconditions("live capture test", &["redis-server", "redis-benchmark", "redis-cli", "tcpdump"])
}
use std::time::Duration;

/// `INFO commandstats` calls of one command, by a plain RESP request on a raw socket.
fn calls(port: u16, cmd: &str) -> u64 {
    let out = Command::new("redis-cli").args(["-p", &port.to_string(), "info", "commandstats"]).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let key = format!("cmdstat_{cmd}:calls=");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes 500 `GET jedis` through an 8192-byte buffer flushed when full, as Jedis does, and
/// reads the 500 replies.
fn jedis_like(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let cmd = b"*2\r\n$3\r\nGET\r\n$5\r\njedis\r\n";
    let all: Vec<u8> = cmd.iter().copied().cycle().take(cmd.len() * 500).collect();
    for chunk in all.chunks(8192) {
        s.write_all(chunk).expect("write");
    }
    // 500 null replies, `$-1\r\n` each.
    let mut got = 0;
    let mut buf = [0u8; 4096];
    while got < 500 * 5 {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "server closed early");
        got += n;
    }
}

fn analyze_json(file: &Path, port: u16) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .arg("analyze")
        .arg(file)
        .args(["--port", &port.to_string(), "--format", "json"])
        .output()
        .expect("run respscope");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn live_capture_agrees_with_the_servers_own_counters() {
    if !preconditions() {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("respscope-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let _redis = common::redis(port, &[]);
    let pcap = dir.join("live.pcap");
    let capture = common::tcpdump::Capture::start(port, &pcap);

    let (set0, get0) = (calls(port, "set"), calls(port, "get"));
    common::bench_p16(port, 4000, "set,get");
    jedis_like(port);
    let (set1, get1) = (calls(port, "set"), calls(port, "get"));
    capture.stop();

    let r = analyze_json(&pcap, port);
    let by_name = &r["commands_by_name"];
    assert_eq!(by_name["SET"].as_u64(), Some(set1 - set0), "SET seen on the wire vs the server's count");
    assert_eq!(by_name["GET"].as_u64(), Some(get1 - get0), "GET seen on the wire vs the server's count");
    assert_eq!(r["totals"]["gaps"], 0);
    assert_eq!(r["totals"]["parse_errors"], 0);
    let conns = r["connections"].as_array().cloned().unwrap_or_default();
    // redis-benchmark -P 16 never has more than 16 commands in flight on a connection.
    let deepest = conns.iter().filter_map(|c| c["max_pipeline_depth"].as_i64()).max();
    assert!(deepest >= Some(16), "{deepest:?}");
    // The Jedis-style client: 500 * 24 = 12000 bytes written as 8192 + 3808: two batches.
    let jedis = conns.iter().find(|c| c["commands"] == 500 && c["split_commands"].as_u64() >= Some(1));
    let jedis = jedis.expect("the Jedis-style connection with a split command");
    assert_eq!(jedis["batches"], 2);
    assert_eq!(jedis["replies"], 500);
    let _ = std::fs::remove_dir_all(&dir);
}
