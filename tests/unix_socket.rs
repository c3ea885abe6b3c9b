//! A server on a Unix socket (`-s PATH`, as redis-cli takes it): polled by `watch`, the
//! exporter and the console, whose Console pane sends commands over it; the wire cannot be
//! captured there, and each says so rather than showing an empty capture.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// redis-server listening only on a Unix socket in `dir`.
fn unix_redis(dir: &std::path::Path) -> (common::Guard, std::path::PathBuf) {
    let sock = dir.join("redis.sock");
    let g = common::Guard(
        Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocket"])
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    let t = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "redis-server did not listen on {}", sock.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    (g, sock)
}

#[test]
fn watch_polls_a_unix_socket_and_says_there_is_no_wire() {
    if !common::preconditions("watch -s", &["redis-server"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_redis, sock) = unix_redis(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["watch", "--duration", "2.2", "-s"])
        .arg(&sock)
        .output()
        .expect("run watch");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let last = lines.last().expect("a line");
    assert_eq!(last["server"]["up"], true, "{last}");
    assert_eq!(last["server"]["addr"], format!("unix:{}", sock.display()));
    assert!(last["server"]["version"].is_string(), "{last}");
    let status = last["wire"]["status"].as_str().unwrap_or_default();
    assert!(status.contains("Unix socket") && status.contains("no wire to capture"), "{status}");
}

#[test]
fn the_console_on_a_unix_socket_says_so_in_its_header_and_sends_commands() {
    if !common::preconditions("the console on -s", &["redis-server", "tmux"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_redis, sock) = unix_redis(dir.path());
    let t = common::tmux::Tmux::start(
        "unix-console",
        &format!("exec {} -s {}", env!("CARGO_BIN_EXE_respscope"), sock.display()),
        80,
        24,
    );
    let s = t.wait_for("no wire: Unix socket", 10);
    assert!(
        s.lines().next().is_some_and(|l| l.contains("unix:") && l.contains("no wire: Unix socket")),
        "{s}"
    );
    t.keys("5");
    t.line("SET k unix-value");
    t.line("GET k");
    let s = t.wait_for("\"unix-value\"", 10);
    assert!(s.contains("unix:"), "{s}");
    t.keys("Escape");
    t.keys("q");
}

#[test]
fn the_exporter_on_a_unix_socket_serves_the_servers_numbers_and_wire_up_0() {
    if !common::preconditions("exporter -s", &["redis-server"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_redis, sock) = unix_redis(dir.path());
    let port = common::free_port();
    let _exp = common::Guard(
        Command::new(env!("CARGO_BIN_EXE_respscope"))
            .args(["exporter", "--listen", &format!("127.0.0.1:{port}"), "-s"])
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the exporter"),
    );
    let t = Instant::now();
    loop {
        let body = metrics(port);
        // A whole sample line: the HELP text itself reads "redis_up 1 when …".
        if body.lines().any(|l| l == "redis_up 1") {
            assert!(body.lines().any(|l| l == "respscope_wire_up 0"), "{body}");
            assert!(body.contains("redis_connected_clients"), "{body}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no redis_up 1:\n{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `/metrics` over a plain HTTP/1.0 GET, empty until the exporter answers.
fn metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
