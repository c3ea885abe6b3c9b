//! The console as a person uses it: the real binary in tmux, keys sent with `send-keys`, the
//! screen read with `capture-pane`. Against a real redis-server on a free loopback port with
//! redis-benchmark and a `DEBUG SLEEP`, and replaying the slow-reader capture.
//!
//! Needs tmux, redis-server, redis-benchmark, redis-cli and root (capture). Outside CI a
//! missing part skips with a message; with `CI=true` it fails.

mod common;

use std::net::TcpStream;
use std::process::Command;

use common::free_port;
use common::tmux::Tmux;

fn preconditions() -> bool {
    common::preconditions("console tests", &["tmux", "redis-server", "redis-benchmark", "redis-cli"])
}

fn redis(port: u16) -> common::Guard {
    common::redis(port, &["--enable-debug-command", "local"])
}
use std::time::{Duration, Instant};

/// `respscope demo` (then `after` in the same shell) in a tmux session, and the private
/// server's port as the header names it.
fn start_demo(name: &str, after: &str, w: u16, h: u16) -> (Tmux, u16) {
    let t = Tmux::start(name, &format!("{} demo{after}", bin()), w, h);
    // The header names the demo's private server.
    let s = t.wait_until("the demo's server in the header", 10, |s| {
        s.lines().next().is_some_and(|h| h.contains("server 127.0.0.1:") && h.contains(" redis "))
    });
    let port = s
        .split("server 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("the demo's port on screen");
    (t, port)
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_respscope")
}

#[test]
fn live_console_shows_pipelines_slowlog_and_survives_a_restart_and_a_tiny_terminal() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let r = redis(port);
    let name = "rs-live";
    let t = Tmux::start(name, &format!("{} -p {p}", bin()), 140, 36);
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 10);
    t.wait_for("wire lo", 5);
    common::bench_p16(port, 20000, "set,get");
    let _ = Command::new("redis-cli").args(["-p", &p, "debug", "sleep", "0.2"]).output();
    t.keys("2");
    // redis-benchmark -P 16: connections with 16 commands in flight.
    t.wait_until("a connection with depth 16", 10, |s| {
        // The depth and cmd/bat columns, wherever the header puts them.
        let Some(head) = s.lines().find(|l| l.starts_with("client ")) else { return false };
        let cols: Vec<&str> = head.split_whitespace().filter(|c| *c != "kind").collect();
        let (Some(d), Some(b)) =
            (cols.iter().position(|c| *c == "depth"), cols.iter().position(|c| *c == "cmd/bat"))
        else {
            return false;
        };
        s.lines().any(|l| {
            let v: Vec<&str> = l.split_whitespace().collect();
            v.get(d) == Some(&"16") && v.get(b) == Some(&"16")
        })
    });
    t.keys("3");
    let s = t.wait_for("SLOWLOG: ", 5);
    t.wait_for("debug sleep 0.2", 5);
    assert!(!s.contains("thread 'main' panicked"));
    // The server goes away and comes back: the console says so and recovers by itself.
    drop(r);
    t.wait_for("DOWN", 10);
    let _r2 = redis(port);
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 15);
    // A terminal shrunk to 40x10 keeps drawing.
    let _ = Command::new("tmux").args(["resize-window", "-t", &t.0, "-x", "40", "-y", "10"]).status();
    std::thread::sleep(Duration::from_millis(600));
    assert!(t.screen().contains("respscope"), "{}", t.screen());
    assert!(t.alive());
    t.keys("q");
    let start = Instant::now();
    while t.alive() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!t.alive(), "q quits");
}

#[test]
fn replaying_the_slow_reader_raises_the_zero_window_alert() {
    if !preconditions() {
        return;
    }
    let name = "rs-replay";
    let cap = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/slow_reader.pcap");
    let t = Tmux::start(name, &format!("{} replay {cap} --speed max; sleep 30", bin()), 120, 36);
    let s = t.wait_for("window_stall", 10);
    assert!(s.contains("replay"), "{s}");
    assert!(s.contains("3 zero windows"), "{s}");
    t.keys("2");
    let s = t.wait_for("sorted by first seen", 5);
    assert!(s.contains(" 40 "), "the 40-GET reader:\n{s}");
    // Restart: a fresh analysis from the first packet, the alert raised again.
    t.keys("r");
    t.keys("1");
    t.wait_for("window_stall", 10);
}

#[test]
fn demo_brings_every_workload_to_the_console_and_cleans_up() {
    if !preconditions() {
        return;
    }
    let (t, port) = start_demo("rs-demo", "; sleep 30", 150, 40);
    t.wait_for("wire lo", 5);
    t.keys("2");
    let s = t.wait_for("demo-jedis", 10);
    for client in ["demo-lettuce", "demo-pipelined", "demo-sequential", "demo-many"] {
        assert!(s.contains(client), "{client}:\n{s}");
    }
    // `/` keeps the rows that match: only the Lettuce-style client.
    t.keys("/");
    t.keys("demo-lettuce");
    t.keys("Enter");
    let s = t.wait_for("filter \"demo-lettuce\"", 5);
    assert!(s.contains("1 connections") && !s.contains("demo-jedis"), "{s}");
    t.keys("/");
    t.keys("Escape");
    t.wait_for("demo-jedis", 5);
    // The Timeline: a lane per client; with MONITOR on, the server's execution order.
    t.keys("8");
    let s = t.wait_for("A demo-", 10);
    // Without MONITOR: the reply order's estimate for the selected lane once one of its
    // batches is answered, else how to start MONITOR.
    assert!(
        s.contains("MONITOR is off: m starts it") || s.contains("MONITOR is off; from reply order, A: "),
        "{s}"
    );
    t.keys("m");
    let s = t.wait_for("order, newest last", 10);
    assert!(s.contains("server (MONITOR)") && s.contains("other clients inside"), "{s}");
    t.keys("m");
    // Latency over time on the overview: p50, p99 and p999 of each interval.
    t.keys("1");
    t.wait_for("latency p50 / p99 / p999 per interval", 10);
    // The slow reader stalls its window within a few seconds of starting.
    t.wait_for("window_stall", 15);
    t.keys("3");
    t.wait_for("DEBUG SLEEP 0.005", 15);
    t.keys("q");
    // Quitting stops the private server it started.
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(5), "the demo's redis-server outlived the console");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_console_pane_runs_commands_and_never_shows_a_password() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port);
    let name = "rs-console";
    let t = Tmux::start(name, &format!("{} -p {p} --no-capture", bin()), 120, 30);
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 10);
    t.keys("5");
    t.wait_for("enter sends", 5);
    for line in ["SET k \"hello world\"", "GET k", "AUTH s3cret-pw", "RPUSH l a b", "LRANGE l 0 -1"] {
        t.keys(line);
        t.keys("Enter");
    }
    let s = t.wait_for("2) \"b\"", 5);
    assert!(s.contains("\"hello world\""), "{s}");
    assert!(s.contains("AUTH ***"), "{s}");
    assert!(!s.contains("s3cret-pw"), "{s}");
    assert!(s.contains("(integer) 2"), "{s}");
    // Typed keys went to the input line, not to the keymap: still on the console pane.
    assert!(s.contains("enter sends"), "{s}");
    t.keys("Escape");
    t.wait_for("ops/s  wire", 5);
}

#[test]
fn monitor_is_opt_in_warned_and_redacted() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port);
    let name = "rs-monitor";
    let t = Tmux::start(name, &format!("{} -p {p} --no-capture", bin()), 130, 30);
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 10);
    t.keys("6");
    t.wait_for("MONITOR is off", 5);
    t.keys("m");
    t.wait_for("MONITOR ON", 5);
    std::thread::sleep(Duration::from_millis(300));
    for args in [&["set", "mk", "1"][..], &["auth", "s3cret-pw"], &["get", "mk"]] {
        let _ = Command::new("redis-cli").arg("-p").arg(&p).args(args).output();
    }
    let s = t.wait_for("get mk", 5);
    assert!(s.contains("set mk 1"), "{s}");
    assert!(s.contains("auth ***") && !s.contains("s3cret-pw"), "{s}");
    t.keys("m");
    t.wait_until("MONITOR off", 5, |s| !s.contains("MONITOR ON"));
    t.keys("1");
    // Its alert says what it costs and is resolved once MONITOR is off.
    let s = t.wait_for("✓ ", 5);
    assert!(s.contains("monitor respscope's MONITOR is running: it can"), "{s}");
    assert!(s.contains("notice MONITOR stopped"), "{s}");
}

#[test]
fn closing_the_terminal_stops_the_demos_server() {
    if !preconditions() {
        return;
    }
    // Nothing after it: closing the window hangs up on respscope itself.
    let (t, port) = start_demo("rs-hangup", "", 120, 30);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(t); // tmux kill-session: SIGHUP, and a terminal that is gone
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the demo's redis-server outlived its closed terminal"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_slow_command_is_an_alert_and_esc_never_quits() {
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port);
    let t = Tmux::start("rs-alerts", &format!("{} -p {p}", bin()), 120, 32);
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 10);
    // Esc from Help, from a filter and from a detail: the program stays.
    t.keys("?");
    t.wait_for("Help", 5);
    t.keys("Escape");
    t.keys("/");
    t.keys("nothing");
    t.keys("Enter");
    t.wait_for("filter \"nothing\"", 5);
    t.keys("Escape");
    t.keys("2");
    t.keys("Enter");
    t.keys("Escape");
    t.keys("Escape");
    t.keys("1");
    std::thread::sleep(Duration::from_millis(300));
    assert!(t.alive(), "Esc quit the console");
    // A slow command: named with its client in the alerts within 2 s.
    let sent = Instant::now();
    let out =
        Command::new("redis-cli").args(["-p", &p, "DEBUG", "SLEEP", "0.3"]).output().expect("redis-cli");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));
    let s = t.wait_for("slow_command `DEBUG SLEEP 0.3` took 30", 5);
    assert!(sent.elapsed() < Duration::from_millis(2500), "took {:?}:\n{s}", sent.elapsed());
    assert!(s.contains("from 127.0.0.1:"), "{s}");
    // Enter on it shows the SLOWLOG entry, marked.
    t.keys("Enter");
    let s = t.wait_for("▶", 5);
    assert!(s.contains("DEBUG SLEEP 0.3"), "{s}");
    t.keys("q");
    let start = Instant::now();
    while t.alive() {
        assert!(start.elapsed() < Duration::from_secs(5), "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_closed_client_keeps_its_name_row_and_lane() {
    use std::io::{Read, Write};
    if !preconditions() {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port);
    let t = Tmux::start("rs-history", &format!("{} -p {p}", bin()), 160, 45);
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 10);
    t.wait_for("wire lo", 5);
    // A named client pipelines 3 batches of 8 SETs, stays long enough for CLIENT LIST to see
    // it (polled once a second), and closes.
    {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut buf = vec![0u8; 4096];
        c.write_all(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$13\r\nhistory-check\r\n").expect("write");
        let _ = c.read(&mut buf);
        for _ in 0..3 {
            c.write_all(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".repeat(8)).expect("write");
            let mut got = 0;
            while got < 8 * 5 {
                got += c.read(&mut buf).expect("read");
            }
        }
        std::thread::sleep(Duration::from_millis(2500));
    }
    // Past the two seconds a closed connection takes to be finished.
    std::thread::sleep(Duration::from_secs(3));
    t.keys("2");
    t.keys("/");
    t.keys("history-check");
    t.keys("Enter");
    t.wait_until("its row, closed, with its name", 5, |s| {
        s.contains("filter \"history-check\"")
            && s.lines().any(|l| l.contains("history-check") && l.contains("closed"))
    });
    t.keys("Enter");
    t.wait_until("its detail with the close time", 5, |s| {
        s.contains("closed at ") && s.contains("commands 25")
    });
    t.keys("Escape");
    // Its lane is still drawn from its batches: the filter keeps it alone, and the span reaches
    // back to them.
    t.keys("8");
    let s = t.wait_until("a lane for the closed client", 5, |s| {
        s.lines().any(|l| l.contains("history-check") && l.trim_start().starts_with('A'))
    });
    assert!(!s.contains("panicked"), "{s}");
    t.keys("q");
}
