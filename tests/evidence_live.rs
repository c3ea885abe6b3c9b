//! Evidence end to end against a real redis-server on a free loopback port: `--write` records
//! what the capture saw, with tcpdump's rotation, and `respscope analyze` of the file gives
//! the counts the live view gave; `w` in the console saves the last seconds with an incident
//! summary that agrees with the file.
//!
//! Needs redis-server, redis-benchmark, tmux and root (capture). Outside CI a missing part
//! skips with a message; with `CI=true` it fails.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::tmux::Tmux;
use common::{free_port, redis};
use serde_json::Value;

fn analyze(path: &std::path::Path, port: u16) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["analyze", "--format", "json", "--port", &port.to_string()])
        .arg(path)
        .output()
        .expect("run analyze");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("analyze json")
}

/// `watch --write FILE` (with `extra` options) on a fresh server for `secs` seconds while
/// `load` runs against it a second in; its JSON lines, the port and the server kept alive.
fn watch_writing(
    secs: &str,
    extra: &[&str],
    file: &std::path::Path,
    load: impl FnOnce(u16),
) -> (Vec<Value>, u16) {
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port, &[]);
    let w = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["watch", "-p", &p, "-i", "lo", "--duration", secs, "--interval", "0.5"])
        .args(extra)
        .arg("--write")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run watch");
    std::thread::sleep(Duration::from_millis(1000));
    load(port);
    let out = w.wait_with_output().expect("watch");
    let lines =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    (lines, port)
}

#[test]
fn write_records_what_the_capture_saw() {
    if !common::preconditions("evidence tests", &["redis-server", "redis-benchmark"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("w.pcapng");
    let (lines, port) = watch_writing("5", &[], &file, |port| common::bench_p16(port, 20_000, "set,get"));
    let last = lines.last().expect("a line");
    let rec = &last["wire"]["snapshot"]["recording"];
    assert_eq!(rec["file"], file.display().to_string(), "{last}");
    assert!(rec["error"].is_null(), "{rec}");
    let live = &last["wire"]["snapshot"]["report"]["commands_by_name"];
    let file_report = analyze(&file, port);
    // The benchmark's commands, as the live view counted them, are in the file.
    for name in ["SET", "GET"] {
        assert_eq!(live[name], 20_000, "{name} live");
        assert_eq!(file_report["commands_by_name"][name], live[name], "{name} in the file");
    }
    assert_eq!(file_report["totals"]["gaps"], 0);
    assert!(rec["frames"].as_u64().unwrap_or(0) <= file_report["capture"]["packets"].as_u64().unwrap_or(0));
}

#[test]
fn write_rotates_as_tcpdump_does() {
    if !common::preconditions("evidence tests", &["redis-server", "redis-benchmark"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("r.pcapng");
    let (lines, port) =
        watch_writing("4", &["-C", "1", "-W", "3"], &base, |port| common::bench_p16(port, 50_000, "set"));
    let last = lines.last().expect("a line");
    let files = last["wire"]["snapshot"]["recording"]["files"].as_u64().unwrap_or(0);
    assert!(files > 3, "50,000 SETs over 1 MB files: more than 3 files started ({files})");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["r.pcapng0", "r.pcapng1", "r.pcapng2"]);
    for n in &names {
        let len = std::fs::metadata(dir.path().join(n)).expect("file").len();
        assert!(len <= 1_000_000 + 300_000, "{n}: {len} bytes");
        // Each file stands alone: analyze reads it.
        analyze(&dir.path().join(n), port);
    }
}

#[test]
fn w_saves_the_last_seconds_with_a_summary() {
    if !common::preconditions("evidence tests", &["tmux", "redis-server", "redis-benchmark"]) {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _r = redis(port, &["--enable-debug-command", "local"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Tmux::start(
        "rs-evidence",
        &format!("cd {} && {} -p {p}", dir.path().display(), env!("CARGO_BIN_EXE_respscope")),
        140,
        36,
    );
    t.wait_for(&format!("server 127.0.0.1:{p} redis"), 10);
    std::thread::sleep(Duration::from_millis(800));
    common::bench_p16(port, 10_000, "set");
    let _ = Command::new("redis-cli").args(["-p", &p, "DEBUG", "SLEEP", "0.05"]).output();
    t.wait_for("slow_command", 5);
    t.keys("w");
    let s = t.wait_for("saved ", 15);
    assert!(s.contains(".pcapng and") && s.contains(".md (the alerts"), "{s}");
    t.keys("q");
    let entries: Vec<std::path::PathBuf> =
        std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").path()).collect();
    let pcap =
        entries.iter().find(|p| p.extension().is_some_and(|e| e == "pcapng")).expect("the saved capture");
    let md = entries.iter().find(|p| p.extension().is_some_and(|e| e == "md")).expect("the summary");
    assert_eq!(pcap.with_extension("md"), *md);
    let name = pcap.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert!(
        name.starts_with("respscope-") && name.len() == "respscope-20261130-174900.pcapng".len(),
        "{name}"
    );
    let report = analyze(pcap, port);
    assert_eq!(report["commands_by_name"]["SET"], 10_000, "the benchmark is in the window");
    let summary = std::fs::read_to_string(md).expect("summary");
    for want in [
        "# respscope incident summary: ",
        "- **Server**: 127.0.0.1:",
        "## Alerts",
        "`slow_command`",
        "DEBUG SLEEP 0.05",
        "## Analysis of the saved window",
    ] {
        assert!(summary.contains(want), "{want}:\n{summary}");
    }
    // The summary's analysis is the file's.
    let text = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["analyze", "--format", "markdown", "--port", &p])
        .arg(name)
        .current_dir(dir.path())
        .output()
        .expect("analyze markdown");
    assert!(summary.ends_with(String::from_utf8_lossy(&text.stdout).as_ref()), "{summary}");
}
