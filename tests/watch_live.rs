//! `respscope watch` against a real redis-server on a free loopback port, with real clients:
//! the commands seen on the wire equal the server's own `INFO commandstats` deltas; a server
//! that goes away is picked up again; a wrong password and missing capture rights get clear
//! words.
//!
//! Needs redis-server, redis-benchmark and root (capture, and `setpriv` to drop it). Outside
//! CI a missing part skips with a message; with `CI=true` it fails.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_port, redis};

fn preconditions() -> bool {
    common::preconditions("watch tests", &["redis-server", "redis-benchmark", "setpriv"])
}

fn watch(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_respscope"))
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run respscope watch")
}

fn lines(child: Child) -> (Vec<serde_json::Value>, String) {
    let out = child.wait_with_output().expect("wait for watch");
    let v =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (v, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn server_calls(v: &serde_json::Value, name: &str) -> u64 {
    v["server"]["commandstats"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .and_then(|c| c["calls"].as_u64())
        .unwrap_or(0)
}

fn wire_count(v: &serde_json::Value, name: &str) -> u64 {
    v["wire"]["snapshot"]["report"]["commands_by_name"][name].as_u64().unwrap_or(0)
}

#[test]
fn wire_counts_equal_the_servers_commandstats_under_redis_benchmark() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let _r = redis(port, &[]);
    let p = port.to_string();
    let w = watch(&["-p", &p, "--duration", "5", "--interval", "0.5"]);
    // Let the capture start (the first snapshots come within half a second).
    std::thread::sleep(Duration::from_millis(1200));
    common::bench_p16(port, 20000, "set,get,incr");
    let (snaps, err) = lines(w);
    assert!(snaps.len() >= 6, "{} snapshots; stderr: {err}", snaps.len());
    let first = &snaps[0];
    let last = snaps.last().expect("a last snapshot");
    assert_eq!(first["schema"], "respscope.watch.v1");
    assert_eq!(last["wire"]["status"], "capturing", "{err}");
    assert_eq!(last["server"]["up"], true);
    for (server, wire) in [("set", "SET"), ("get", "GET"), ("incr", "INCR")] {
        let delta = server_calls(last, server) - server_calls(first, server);
        assert_eq!(delta, 20_000, "{server}: the server's own count");
        assert_eq!(wire_count(last, wire) - wire_count(first, wire), delta, "{wire} on the wire");
    }
    assert_eq!(last["wire"]["snapshot"]["loss"]["kernel_dropped"], 0);
    // Each snapshot's latency covers the commands answered since the one before: together
    // they count every command the benchmark sent (and the poller's own, on the wire too).
    let answered: u64 =
        snaps[1..].iter().filter_map(|s| s["wire"]["snapshot"]["latency"]["count"].as_u64()).sum();
    assert!(answered >= 60_000, "{answered}");
    let busy = snaps
        .iter()
        .map(|s| &s["wire"]["snapshot"]["latency"])
        .max_by_key(|l| l["count"].as_u64())
        .expect("a snapshot");
    let q = |k: &str| busy[k].as_u64().unwrap_or(0);
    assert!(q("p50") > 0 && q("p50") <= q("p99") && q("p99") <= q("p999") && q("p999") <= q("max"), "{busy}");
    assert!(last["server"]["ping_us"].as_u64().is_some(), "the poller times its PING");
}

#[test]
fn a_server_that_goes_away_is_picked_up_again() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let r = redis(port, &[]);
    let w = watch(&["-p", &p, "--duration", "6", "--interval", "0.5", "--no-capture"]);
    std::thread::sleep(Duration::from_millis(1500));
    drop(r);
    std::thread::sleep(Duration::from_millis(1500));
    let _r2 = redis(port, &[]);
    let (snaps, _) = lines(w);
    let ups: Vec<bool> = snaps.iter().map(|s| s["server"]["up"] == true).collect();
    let down_at = ups.iter().position(|u| !u).expect("the server went down");
    assert!(ups[..down_at].iter().any(|u| *u), "{ups:?}");
    assert!(ups[down_at..].iter().any(|u| *u), "never reconnected: {ups:?}");
    let why = snaps[down_at]["server"]["error"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("connect") || why.contains("closed"), "{why}");
}

#[test]
fn a_wrong_password_is_said_and_never_echoed() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port, &["--requirepass", "right-pw"]);
    let (snaps, err) =
        lines(watch(&["-p", &p, "-a", "wrong-pw", "--duration", "1", "--interval", "0.5", "--no-capture"]));
    let e = snaps.first().map(|s| s["server"]["error"].to_string()).unwrap_or_default();
    assert!(e.contains("refused the password"), "{e}");
    assert!(!e.contains("wrong-pw") && !err.contains("wrong-pw"));
    let (snaps, _) = lines(watch(&["-p", &p, "--duration", "1", "--interval", "0.5", "--no-capture"]));
    let e = snaps.first().map(|s| s["server"]["error"].to_string()).unwrap_or_default();
    assert!(e.contains("requires a password"), "{e}");
    let (snaps, _) = lines(
        Command::new(env!("CARGO_BIN_EXE_respscope"))
            .args(["watch", "-p", &p, "--duration", "1", "--interval", "0.5", "--no-capture"])
            .env("REDISCLI_AUTH", "right-pw")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch"),
    );
    assert_eq!(snaps.first().map(|s| s["server"]["up"].clone()), Some(serde_json::Value::Bool(true)));
}

#[test]
fn without_capture_rights_the_server_is_still_watched_and_the_fix_is_named() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port, &[]);
    // Drop root: the same binary as an unprivileged user.
    let child = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all"])
        .arg(env!("CARGO_BIN_EXE_respscope"))
        .args(["watch", "-p", &p, "--duration", "1", "--interval", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let (snaps, err) = lines(child);
    assert!(err.contains("setcap cap_net_raw,cap_net_admin=eip"), "{err}");
    let s = snaps.first().expect("snapshots go on without capture");
    assert_eq!(s["server"]["up"], true);
    assert!(s["wire"]["status"].as_str().unwrap_or_default().contains("permission"), "{s}");
}

#[test]
fn a_server_that_never_answers_is_reported_and_watch_goes_on() {
    if !preconditions() {
        return;
    }
    // A listener that accepts and never says a word, for at most ten seconds.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        let _ = l.set_nonblocking(true);
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < end {
            if let Ok((s, _)) = l.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let p = port.to_string();
    let t = std::time::Instant::now();
    let (snaps, _) = lines(watch(&["-p", &p, "--duration", "4", "--interval", "1", "--no-capture"]));
    assert!(t.elapsed() < Duration::from_secs(9), "watch kept its own pace");
    assert!(snaps.len() >= 2, "{snaps:?}");
    let e = snaps[0]["server"]["error"].as_str().unwrap_or_default().to_string();
    assert!(e.contains("did not answer"), "{e}");
    assert!(snaps.iter().all(|s| s["server"]["up"] == false));
}
