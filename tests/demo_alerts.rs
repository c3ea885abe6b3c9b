//! `respscope demo` shows what its alerts are for: the real binary in tmux at 160x45, the
//! Overview's alert list read with `capture-pane`. Within a minute of starting, the demo's
//! workloads raise `slow_command`, `output_buffer`, `latency_spike` and `window_stall` with
//! the default thresholds; `R` kills the demo's redis-server and starts it again on the same
//! port (`server_down`, then `server_restarted`); `q` quits and stops that server.
//!
//! Needs tmux, redis-server and root (capture). Outside CI a missing part skips with a
//! message; with `CI=true` it fails.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::tmux::Tmux;

/// The kinds the demo raises by itself.
const KINDS: [&str; 4] = ["slow_command", "output_buffer", "latency_spike", "window_stall"];

/// How long the demo may take to raise them all: a minute, and some slack for a busy machine.
const WITHIN: Duration = Duration::from_secs(75);

/// The pid of `parent`'s child named `comm`, from /proc.
fn child_named(parent: u32, comm: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let (head, tail) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1;
        let ppid: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
        (name == comm && ppid == parent).then_some(pid)
    })
}

/// True while a process with this pid exists (a zombie too: not yet reaped).
fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The first screen line that holds `what`.
fn line_with<'a>(screen: &'a str, what: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(what))
}

#[test]
fn the_demo_raises_its_alerts_within_a_minute_and_r_restarts_its_server() {
    if !common::preconditions("demo alert test", &["tmux", "redis-server"]) {
        return;
    }
    let started = Instant::now();
    // `exec`: the session's pid is respscope itself, the parent of the demo's redis-server.
    let t = Tmux::start("rs-demo-alerts", &format!("exec {} demo", env!("CARGO_BIN_EXE_respscope")), 160, 45);
    let s = t.wait_until("the demo's server in the header", 10, |s| {
        s.lines().next().is_some_and(|h| h.contains("server 127.0.0.1:") && h.contains(" redis "))
    });
    assert!(s.contains("wire lo"), "the demo captures on lo (else it replays):\n{s}");
    let port: u16 = s
        .split("server 127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("the demo's port on screen");
    let respscope = t.pid().expect("respscope's pid");
    let first_server = child_named(respscope, "redis-server").expect("the demo's redis-server, its child");

    // Every kind on the Overview's alert list within the minute, each with its subject.
    let mut seen: Vec<(&str, Duration, String)> = Vec::new();
    let mut peak_kib = 0;
    let mut screen = String::new();
    while seen.len() < KINDS.len() && started.elapsed() < WITHIN {
        screen = t.screen();
        for k in KINDS {
            if seen.iter().all(|(s, _, _)| *s != k) {
                if let Some(l) = line_with(&screen, &format!(" {k} ")) {
                    seen.push((k, started.elapsed(), l.to_string()));
                }
            }
        }
        if let Some((hwm, _)) = common::rss_of(first_server) {
            peak_kib = peak_kib.max(hwm);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    for (k, at, line) in &seen {
        eprintln!("{k} on screen after {:.1} s: {}", at.as_secs_f64(), line.trim());
    }
    let missing: Vec<&str> = KINDS.iter().copied().filter(|k| seen.iter().all(|(s, _, _)| s != k)).collect();
    assert!(missing.is_empty(), "not raised within {WITHIN:?}: {missing:?}; the screen:\n{screen}");
    let line = |k: &str| seen.iter().find(|(s, _, _)| *s == k).map(|(_, _, l)| l.as_str()).unwrap_or("");
    assert!(line("output_buffer").contains("demo-never-reads"), "{}", line("output_buffer"));
    assert!(line("slow_command").contains("`DEBUG SLEEP 0.08` took"), "{}", line("slow_command"));
    // The client that stops reading is bounded: 48 MiB of replies at most, then freed.
    eprintln!("redis-server peak RSS so far: {} MiB", peak_kib / 1024);
    assert!(peak_kib < 100 * 1024, "the demo's redis-server peaked at {peak_kib} KiB");

    // R: the server goes down, then comes back on the same port as a new run.
    t.keys("R");
    t.wait_for(" server_down ", 10);
    let s = t.wait_for(" server_restarted ", 15);
    assert!(s.contains(&format!("server 127.0.0.1:{port} redis")), "back on the same port:\n{s}");
    assert!(!exists(first_server), "the killed redis-server {first_server} is still there");
    let second_server =
        child_named(respscope, "redis-server").expect("the restarted redis-server, its child");
    assert_ne!(first_server, second_server);

    // q quits at once (MONITOR is off) and stops the server it started.
    t.keys("q");
    let quit = Instant::now();
    while t.alive() {
        assert!(quit.elapsed() < Duration::from_secs(5), "q did not quit:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    while exists(second_server) || TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(quit.elapsed() < Duration::from_secs(5), "the demo's redis-server outlived the console");
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("the whole test took {:.1} s", started.elapsed().as_secs_f64());
}
