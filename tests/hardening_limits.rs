//! What hostile input and careless operation cannot do to respscope: crash it, grow it with
//! the number of connections, make it write before it knows its input, or make `watch` wait
//! on a server. Crafted captures run through the real binary; memory is the child's peak
//! resident size as GNU time measures it.

mod common;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::pcap::{Pcap, ACK, PSH, SYN};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn respscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_respscope"))
}

fn temp_capture(
    name: &str,
    build: impl FnOnce(&mut Pcap<std::io::BufWriter<std::fs::File>>),
) -> tempfile::TempPath {
    let f = tempfile::Builder::new().prefix(name).suffix(".pcap").tempfile().expect("a temporary file");
    let (file, path) = f.into_parts();
    let mut p = Pcap::new(std::io::BufWriter::new(file));
    build(&mut p);
    p.finish();
    path
}

/// Every output format, as `analyze` arguments.
const FORMATS: [&[&str]; 5] = [
    &["--format", "text"],
    &["--format", "json"],
    &["--format", "markdown"],
    &["--segments"],
    &["--segments", "--format", "json"],
];

#[test]
fn a_segment_of_resync_garbage_is_analysed_in_every_format() {
    // One 60 KB server segment of `+\r\nx\n`: each `x\n` is a parse error and a resync that
    // ends at the next `+`. Before resynchronisation was a loop this overflowed the stack.
    let path = temp_capture("resync-flood-", |p| {
        let (c, s) = p.handshake((CLIENT, 40000), (SERVER, 6379));
        p.tcp((SERVER, 6379), (CLIENT, 40000), s, c, ACK | PSH, &b"+\r\nx\n".repeat(12_000));
    });
    for args in FORMATS {
        let out = respscope().arg("analyze").arg(&path).args(args).output().expect("run analyze");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        if args.contains(&"json") {
            let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
            let text =
                if args.contains(&"--segments") { last } else { String::from_utf8_lossy(&out.stdout).into() };
            let v: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
            assert_eq!(v["totals"]["replies"], 12_000);
            assert_eq!(v["totals"]["parse_errors"], 12_000);
        }
    }
}

/// A capture of `n` connections that each send one SYN and nothing else.
fn syn_flood(n: u32) -> tempfile::TempPath {
    temp_capture("syn-flood-", |p| {
        for i in 0..n {
            let src = Ipv4Addr::from(0x0a00_0000 | (i >> 8));
            let port = 1024 + (i & 0xff) as u16;
            p.tcp((src, port), (SERVER, 6379), i.wrapping_mul(7919), 0, SYN, &[]);
        }
    })
}

#[test]
fn a_syn_flood_of_250000_connections_stays_under_100_mb() {
    common::require("the memory test", &["/usr/bin/time"]);
    let path = syn_flood(250_000);
    let (out, kib) = common::with_peak_rss(respscope().arg("analyze").arg(&path).args(["--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    assert_eq!(v["totals"]["connections"], 250_000);
    let listed = v["connections"].as_array().map_or(0, Vec::len) as u64;
    let retired = v["capture"]["retired_connections"].as_u64().unwrap_or(0);
    assert_eq!(listed + retired, 250_000, "every connection is listed or counted as retired");
    eprintln!("analyze of 250,000 SYN-only connections: peak RSS {} MB, {listed} listed", kib / 1024);
    assert!(kib < 100 * 1024, "peak RSS {kib} KiB");
}

#[test]
fn a_small_memory_budget_retires_connections_and_says_so() {
    let path = syn_flood(50_000);
    let out = respscope()
        .arg("analyze")
        .arg(&path)
        .args(["--format", "json", "--memory", "4"])
        .output()
        .expect("analyze");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
    assert_eq!(v["totals"]["connections"], 50_000, "retired connections still count");
    let listed = v["connections"].as_array().map_or(0, Vec::len) as u64;
    assert!(listed < 50_000 && listed > 5_000, "{listed} listed");
    assert_eq!(v["capture"]["retired_connections"].as_u64(), Some(50_000 - listed));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("summed into the totals") && err.contains("--memory"), "{err}");
    // The listing numbers connections as the report does, retired ones included.
    let seg = respscope()
        .arg("analyze")
        .arg(&path)
        .args(["--segments", "--memory", "4"])
        .output()
        .expect("analyze");
    let text = String::from_utf8_lossy(&seg.stdout);
    assert!(text.contains("connection 50000:"), "the last connection keeps its number");
}

#[test]
fn nothing_reaches_stdout_before_the_input_is_known_to_be_a_capture() {
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/not_a_capture.pcap");
    for args in FORMATS {
        let out = respscope().arg("analyze").arg(&f).args(args).output().expect("analyze");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?} wrote {:?}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn watch_keeps_its_pace_when_the_server_never_answers() {
    // A listener that accepts and never says a word, for at most fifteen seconds.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        let _ = l.set_nonblocking(true);
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok((s, _)) = l.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = respscope()
        .args(["watch", "-p", &port.to_string(), "--duration", "5", "--interval", "1", "--no-capture"])
        .output()
        .expect("watch");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    // One line a second: the server's three-second timeouts delay none of them.
    assert!(lines.len() >= 5, "{} lines in 5 s", lines.len());
    let t: Vec<u64> = lines.iter().filter_map(|l| l["t_ms"].as_u64()).collect();
    assert!(t.windows(2).all(|w| w[1] - w[0] < 1_600), "line times {t:?}");
    assert!(lines.iter().all(|l| l["server"]["up"] == false));
}
