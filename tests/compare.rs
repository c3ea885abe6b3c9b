//! `respscope analyze A --compare B` on two real captures of one workload with different
//! flush settings: redis-benchmark writing pipelines of 16, then of 4, each captured by
//! tcpdump from a real redis-server on a free loopback port.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::tcpdump::Capture;

/// One capture of `redis-benchmark -P pipeline` (1 client, 2,000 SETs).
fn record(port: u16, pipeline: u32, path: &Path) {
    let cap = Capture::start(port, path);
    let ok = Command::new("timeout")
        .args(["60", "redis-benchmark", "-p", &port.to_string(), "-P", &pipeline.to_string(), "-c", "1"])
        .args(["-n", "2000", "-t", "set", "-q"])
        .stdout(Stdio::null())
        .status()
        .expect("run redis-benchmark");
    assert!(ok.success(), "redis-benchmark failed");
    cap.stop();
}

fn respscope(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_respscope")).args(args).output().expect("run respscope");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn compare_marks_a_changed_flush_between_two_real_captures() {
    if !common::preconditions("compare two captures", &["redis-server", "redis-benchmark", "tcpdump"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    let (a, b) = (dir.path().join("p16.pcap"), dir.path().join("p4.pcap"));
    record(port, 16, &a);
    record(port, 4, &b);
    let port_s = port.to_string();
    let args = |fmt: &str| -> Vec<std::ffi::OsString> {
        vec![
            "analyze".into(),
            a.clone().into(),
            "--compare".into(),
            b.clone().into(),
            "-p".into(),
            port_s.clone().into(),
            "--format".into(),
            fmt.into(),
        ]
    };
    let run = |fmt: &str| {
        let v = args(fmt);
        respscope(&v.iter().map(|s| s.as_os_str()).collect::<Vec<_>>())
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).expect("json");
    assert_eq!(json["schema"], "respscope.compare.v1");
    // redis-benchmark announces nothing: its connections are one class, paired.
    let g = json["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["a"]["commands"].as_u64() >= Some(2000)))
        .cloned()
        .expect("the benchmark's group");
    assert_eq!(g["key"], "client (no library announced)");
    assert_eq!(g["a"]["flush"]["kind"], "fixed_commands");
    assert_eq!(g["a"]["flush"]["commands"], 16);
    assert_eq!(g["b"]["flush"]["kind"], "fixed_commands");
    assert_eq!(g["b"]["flush"]["commands"], 4);
    assert_eq!(g["a"]["batch_max"], 16);
    assert_eq!(g["b"]["batch_max"], 4);
    let changed: Vec<&str> =
        g["changed"].as_array().expect("changed").iter().filter_map(|c| c.as_str()).collect();
    assert!(
        changed.contains(&"flush") && changed.contains(&"batch_sizes") && changed.contains(&"max_depth"),
        "{changed:?}"
    );
    assert!(!changed.contains(&"commands"), "the same workload: {changed:?}");
    // The markdown a pull request gets: the changed rows in bold, side by side.
    let md = run("markdown");
    eprintln!("{md}");
    assert!(md.contains("| **flush** | **flushes every 16 commands, waits ("), "{md}");
    assert!(md.contains("** | **flushes every 4 commands, waits ("), "{md}");
    assert!(
        md.contains("| **commands per batch p50 / p90 / max** | **16 / 16 / 16** | **4 / 4 / 4** |"),
        "{md}"
    );
    let text = run("text");
    assert!(text.lines().any(|l| l.starts_with("  flush ") && l.ends_with(" *")), "{text}");
}

#[test]
fn compare_of_a_capture_with_itself_marks_nothing() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redispy_pipeline.pcap");
    let out = respscope(&[
        "analyze".as_ref(),
        f.as_os_str(),
        "--compare".as_ref(),
        f.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let groups = json["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["key"], "redis-py");
    assert_eq!(groups[0]["a"]["versions"], "8.1.0");
    assert_eq!(groups[0]["changed"].as_array().map(Vec::len), Some(0));
}
