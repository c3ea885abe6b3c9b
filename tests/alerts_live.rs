//! Alerts end to end: `respscope watch` against a real redis-server on a free loopback port,
//! while real clients make the trouble an on-call engineer is paged for: a slow command, a
//! client that never reads its replies, a server killed and started again.
//!
//! Needs redis-server, redis-cli and root (capture). Outside CI a missing part skips with a
//! message; with `CI=true` it fails.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, redis};
use serde_json::Value;

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["10", "redis-cli", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The alerts of a line with this kind.
fn alerts<'a>(line: &'a Value, kind: &str) -> Vec<&'a Value> {
    line["alerts"].as_array().map(|a| a.iter().filter(|a| a["kind"] == kind).collect()).unwrap_or_default()
}

/// A client that names itself, pipelines `n` GETs of a large value and never reads a reply:
/// its replies pile up in its output buffer on the server.
fn never_reads(port: u16, n: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return };
        let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"CLIENT SETNAME never-reads\r\n");
        let get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(1000);
        for _ in 0..n / 1000 {
            if s.write_all(&get).is_err() {
                return;
            }
        }
        // Hold the connection (unread) until the server goes away.
        let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
        let mut one = [0u8; 1];
        let _ = s.peek(&mut one);
        std::thread::sleep(Duration::from_secs(8));
        drop(s.read(&mut one));
    })
}

#[test]
fn slow_command_output_buffer_and_restart_are_named_in_watch() {
    if !common::preconditions("alert tests", &["redis-server", "redis-cli"]) {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let mut r = redis(port, &["--enable-debug-command", "local"]);
    cli(port, &["SET", "big", &"x".repeat(10_000)]);
    let start = Instant::now();
    let w = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["watch", "-p", &p, "-i", "lo", "--duration", "14", "--interval", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run respscope watch");
    std::thread::sleep(Duration::from_millis(1500));
    let slow_at = start.elapsed();
    assert!(cli(port, &["DEBUG", "SLEEP", "0.3"]).contains("OK"));
    // 10,000 replies of 10 KB: about 100 MB held for a client that does not read.
    let reader = never_reads(port, 10_000);
    std::thread::sleep(Duration::from_secs(5));
    // kill -9, then the same port again.
    let _ = Command::new("kill").args(["-9", &r.0.id().to_string()]).status();
    let _ = r.0.wait();
    std::thread::sleep(Duration::from_millis(2500));
    let _r2 = redis(port, &[]);
    let out = w.wait_with_output().expect("wait for watch");
    let _ = reader.join();
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(lines.len() >= 20, "{} lines; stderr: {err}", lines.len());

    // The slow command: named with its client, within 2 s of being sent.
    let (first, slow) = lines
        .iter()
        .find_map(|l| alerts(l, "slow_command").first().map(|a| (l, (*a).clone())))
        .expect("a slow_command alert");
    assert_eq!(slow["subject"], serde_json::json!({"type": "command", "name": "DEBUG"}), "{slow}");
    assert!(slow["message"].as_str().unwrap_or_default().contains("`DEBUG SLEEP 0.3` took 30"), "{slow}");
    assert!(["warning", "critical"].contains(&slow["severity"].as_str().unwrap_or_default()));
    let t_ms = first["t_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(t_ms <= slow_at.as_millis() as u64 + 2_500, "raised at {t_ms} ms, sent at {slow_at:?}");

    // The reader that never reads: named by its CLIENT SETNAME name.
    let buffer = lines
        .iter()
        .find_map(|l| alerts(l, "output_buffer").first().map(|a| (*a).clone()))
        .expect("an output_buffer alert");
    assert_eq!(buffer["subject"]["type"], "client");
    assert_eq!(buffer["subject"]["name"], "never-reads", "{buffer}");
    assert!(buffer["message"].as_str().unwrap_or_default().starts_with("never-reads 127.0.0.1:"), "{buffer}");

    // Down, then back as a new run: server_down resolved, server_restarted raised.
    let down_line =
        lines.iter().position(|l| !alerts(l, "server_down").is_empty()).expect("server_down alert");
    let last = lines.last().expect("a last line");
    let down = alerts(last, "server_down");
    assert_eq!(down.len(), 1, "deduplicated: {down:?}");
    assert_eq!(down[0]["resolved"], true, "the server is back: {}", down[0]);
    assert_eq!(down[0]["severity"], "critical");
    let restarted = alerts(last, "server_restarted");
    assert_eq!(restarted.len(), 1, "{last}");
    let restarted_line =
        lines.iter().position(|l| !alerts(l, "server_restarted").is_empty()).expect("server_restarted");
    assert!(restarted_line > down_line);
    // Every alert carries its times, count and one line of words.
    for a in last["alerts"].as_array().expect("alerts") {
        for field in
            ["kind", "severity", "first_seen", "last_seen", "count", "subject", "message", "resolved"]
        {
            assert!(!a[field].is_null(), "{field} missing: {a}");
        }
        assert!(a["first_seen"].as_str().unwrap_or_default() <= a["last_seen"].as_str().unwrap_or_default());
    }
}
