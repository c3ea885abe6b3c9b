//! `respscope lab` end to end: each lab run by the real binary against a private
//! redis-server it starts, through its proxies, with the wire captured, as a trainer runs it
//! (`--headless --format json`, `--out`); the proxy's jitter and bandwidth cap measured; the
//! Lab pane driven in tmux.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use respscope::app::lab::proxy::{Proxy, ProxyConfig};
use serde_json::Value;

/// Labs measure time: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_respscope")
}

/// Runs `respscope lab ARGS --headless --format json` and returns its JSON, failing with its
/// stderr when it does not finish well.
fn lab(args: &[&str]) -> Value {
    let out = Command::new("timeout")
        .arg("180")
        .arg(bin())
        .arg("lab")
        .args(args)
        .args(["--headless", "--format", "json"])
        .output()
        .expect("run respscope lab");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "respscope lab {args:?} failed ({}):\n{err}", out.status);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)))
}

fn rows(v: &Value) -> &Vec<Value> {
    v["rows"].as_array().expect("rows")
}

/// The row whose fields have these values.
fn row<'a>(v: &'a Value, want: &[(&str, Value)]) -> &'a Value {
    rows(v)
        .iter()
        .find(|r| want.iter().all(|(k, x)| &r[*k] == x))
        .unwrap_or_else(|| panic!("no row with {want:?} in {:#}", v["rows"]))
}

fn num(r: &Value, k: &str) -> f64 {
    r[k].as_f64().unwrap_or_else(|| panic!("{k} is not a number in {r}"))
}

#[test]
fn pipelining_at_2ms_is_10x_faster_by_100_and_the_wire_shows_why() {
    let _s = serial();
    if !common::preconditions("lab pipelining", &["redis-server", "rsvg-convert"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("results");
    let t = Instant::now();
    let v = {
        let o = Command::new(bin())
            .args([
                "lab",
                "pipelining",
                "--commands",
                "1000",
                "--rtt",
                "2ms",
                "--headless",
                "--format",
                "json",
                "--out",
            ])
            .arg(&out)
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Value>(&o.stdout).expect("JSON")
    };
    eprintln!("lab pipelining --commands 1000 --rtt 2ms: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(v["lab"], "pipelining");
    assert_eq!(v["status"]["state"], "done", "{v:#}");
    // One row per batch size, each with the fields a script reads.
    assert_eq!(rows(&v).len(), 4, "{:#}", v["rows"]);
    for r in rows(&v) {
        for k in ["commands", "batch", "rtt_ms", "elapsed_ms", "round_trips", "commands_per_sec", "speedup"] {
            assert!(!r[k].is_null(), "{k} missing in {r}");
        }
        assert_eq!(num(r, "rtt_ms"), 2.0);
    }
    let one = row(&v, &[("batch", 1.into())]);
    let by100 = row(&v, &[("batch", 100.into())]);
    // The wire: one round trip per command one by one, one per batch pipelined.
    assert_eq!(one["round_trips"], 1000, "{one}");
    assert_eq!(by100["round_trips"], 10, "{by100}");
    assert_eq!(row(&v, &[("batch", 10.into())])["round_trips"], 100);
    assert_eq!(row(&v, &[("batch", 1000.into())])["round_trips"], 1);
    // 1,000 round trips of 2 ms cannot take less than 2 s.
    assert!(num(one, "elapsed_ms") >= 2000.0, "{one}");
    let speedup = num(one, "elapsed_ms") / num(by100, "elapsed_ms");
    assert!(speedup >= 10.0, "by 100 only {speedup:.1}x faster: {one} {by100}");
    assert!((num(by100, "speedup") - speedup).abs() / speedup < 0.05, "{by100}");
    // The results files: JSON, CSV and markdown parse; the SVG renders.
    check_files(&out, "pipelining", 4);
}

/// The four files `--out` writes, each checked by reading it back, the SVG rendered to PNG
/// by a real renderer.
fn check_files(dir: &Path, lab: &str, n_rows: usize) {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{lab}.json"))).expect("json file"))
            .expect("JSON");
    assert_eq!(json["lab"], lab);
    assert_eq!(rows(&json).len(), n_rows);
    let csv = std::fs::read_to_string(dir.join(format!("{lab}.csv"))).expect("csv file");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), n_rows + 1, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    assert!(lines.iter().all(|l| l.split(',').count() >= header.len()), "{csv}");
    let md = std::fs::read_to_string(dir.join(format!("{lab}.md"))).expect("markdown file");
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), n_rows + 2, "{md}");
    let svg = dir.join(format!("{lab}.svg"));
    let png = dir.join(format!("{lab}.png"));
    let r = Command::new("rsvg-convert").arg("-o").arg(&png).arg(&svg).output().expect("rsvg-convert");
    assert!(r.status.success(), "rsvg-convert: {}", String::from_utf8_lossy(&r.stderr));
    let bytes = std::fs::read(&png).expect("png");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert_eq!((w, h), (900, 540));
    assert!(bytes.len() > 5_000, "a blank chart ({} bytes)", bytes.len());
}

#[test]
fn batching_compares_the_ways_in_round_trips_and_server_time() {
    let _s = serial();
    if !common::preconditions("lab batching", &["redis-server"]) {
        return;
    }
    let v = lab(&["batching", "--commands", "200", "--rtt", "1ms"]);
    assert_eq!(v["status"]["state"], "done", "{v:#}");
    let modes: Vec<&str> = rows(&v).iter().map(|r| r["mode"].as_str().expect("mode")).collect();
    assert_eq!(
        modes,
        [
            "one by one",
            "pipeline",
            "MSET",
            "MULTI/EXEC",
            "Lua script",
            "--pipe stream",
            "GET pipeline",
            "MGET"
        ]
    );
    let r = |m: &str| row(&v, &[("mode", m.into())]).clone();
    assert_eq!(r("one by one")["round_trips"], 200);
    for m in ["pipeline", "MSET", "MULTI/EXEC", "Lua script", "GET pipeline", "MGET"] {
        assert_eq!(r(m)["round_trips"], 1, "{m}: {}", r(m));
    }
    assert_eq!(r("MSET")["commands"], 1);
    assert_eq!(r("MULTI/EXEC")["commands"], 202);
    // The server's own numbers: every way took server time, and on the lab's own server the
    // longest single command is known: one MSET of 200 keys outlasts any single SET.
    for m in modes {
        assert!(num(&r(m), "server_usec") > 0.0, "{m}: {}", r(m));
        assert!(num(&r(m), "longest_usec") >= 0.0, "{m}: {}", r(m));
    }
    assert!(num(&r("MSET"), "longest_usec") > num(&r("pipeline"), "longest_usec"), "{v:#}");
    // Pipelined, 200 keys cost one round trip instead of 200.
    assert!(num(&r("one by one"), "elapsed_ms") > 10.0 * num(&r("pipeline"), "elapsed_ms"), "{v:#}");
}

#[test]
fn flush_policies_show_on_the_wire_as_batches_and_split_commands() {
    let _s = serial();
    if !common::preconditions("lab flush", &["redis-server"]) {
        return;
    }
    let v = lab(&["flush", "--commands", "600", "--rtt", "0"]);
    assert_eq!(v["status"]["state"], "done", "{v:#}");
    assert_eq!(rows(&v).len(), 6);
    let r = |m: &str, nagle: &str| row(&v, &[("mode", m.into()), ("nagle", nagle.into())]).clone();
    let buffered = r("8192-byte buffer", "off");
    // 600 SETs of 49 bytes: 29,400 bytes, four writes of at most 8192, each full one ending
    // inside a command.
    assert_eq!(buffered["bytes"], 29_400);
    assert_eq!(buffered["writes"], 4);
    assert!(num(&buffered, "split_commands") >= 1.0, "{buffered}");
    assert!(num(&buffered, "batches") <= 4.0, "{buffered}");
    assert_eq!(r("16 commands", "off")["writes"], 38);
    assert_eq!(r("per command", "off")["writes"], 600);
    for m in ["8192-byte buffer", "16 commands", "per command"] {
        for n in ["on", "off"] {
            let x = r(m, n);
            // The wire never shows more batches than the client made writes.
            assert!(num(&x, "batches") >= 1.0 && num(&x, "batches") <= num(&x, "writes"), "{x}");
        }
    }
    // Whole commands per write never split.
    assert_eq!(r("16 commands", "off")["split_commands"], 0);
    assert_eq!(r("per command", "off")["split_commands"], 0);
}

#[test]
fn a_slow_reader_fills_the_window_then_the_servers_buffer_until_a_limit_closes_it() {
    let _s = serial();
    if !common::preconditions("lab slow-reader", &["redis-server"]) {
        return;
    }
    let v = lab(&["slow-reader", "--rtt", "0"]);
    assert_eq!(v["status"]["state"], "done", "{v:#}");
    let rs = rows(&v);
    assert_eq!(rs.len(), 3, "{v:#}");
    let stops = &rs[0];
    assert_eq!(stops["phase"], "stops reading");
    // 25 MiB asked for and not read: the window closes and the server holds megabytes.
    assert!(num(stops, "zero_windows") >= 1.0, "{stops}");
    assert!(num(stops, "omem_max_mib") >= 1.0, "{stops}");
    let reads = &rs[1];
    assert_eq!(reads["phase"], "reads again");
    assert!(num(reads, "window_updates") >= 1.0, "{reads}");
    let limited = &rs[2];
    assert_eq!(limited["closed_by_server"], true, "{limited}");
    assert!(limited["outcome"].as_str().is_some_and(|s| s.starts_with("closed by the server")), "{limited}");
    // The chart is the omem curve.
    let points = v["rows"].as_array().map(Vec::len);
    assert!(points.is_some());
}

#[test]
fn interleave_counts_other_clients_commands_inside_each_batch_exactly() {
    let _s = serial();
    if !common::preconditions("lab interleave", &["redis-server"]) {
        return;
    }
    let v = lab(&["interleave", "--commands", "3000", "--rtt", "0"]);
    assert_eq!(v["status"]["state"], "done", "{v:#}");
    let batches: Vec<u64> = rows(&v).iter().map(|r| r["batch"].as_u64().expect("batch")).collect();
    assert_eq!(batches, [1, 10, 100, 1000]);
    let one = row(&v, &[("batch", 1.into())]);
    // A batch of one command has nobody inside it, by definition.
    assert_eq!(one["others_inside_max"], 0);
    // 1,000 INCRs are 35 KB: the server reads them in pieces, and other clients' commands
    // run between the pieces.
    let big = row(&v, &[("batch", 1000.into())]);
    assert!(num(big, "others_inside_max") > 0.0, "{big}");
    for r in rows(&v) {
        assert!(num(r, "probe_commands") >= 1.0, "{r}");
        assert!(num(r, "probe_p99_us") >= num(r, "probe_p50_us"), "{r}");
        assert!((0.0..=100.0).contains(&num(r, "interleaved_pct")), "{r}");
    }
}

#[test]
fn a_lab_on_a_given_server_leaves_its_configuration_alone_and_says_so() {
    let _s = serial();
    if !common::preconditions("lab on -p", &["redis-server"]) {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &["--slowlog-log-slower-than", "12345"]);
    let v = lab(&["batching", "--commands", "50", "--rtt", "0", "-p", &port.to_string()]);
    assert_eq!(v["status"]["state"], "done", "{v:#}");
    assert!(rows(&v).iter().all(|r| r["longest_usec"].is_null()), "{v:#}");
    let notes = v["notes"].to_string();
    assert!(notes.contains("leaves a given server's configuration alone"), "{notes}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$23\r\nslowlog-log-slower-than\r\n").expect("write");
    std::thread::sleep(Duration::from_millis(200));
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("12345"), "{}", String::from_utf8_lossy(&buf[..n]));
}

#[test]
fn a_lab_that_cannot_start_says_what_to_do() {
    let port = common::free_port();
    let out = Command::new(bin())
        .args(["lab", "pipelining", "--headless", "-p", &port.to_string()])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let out = Command::new(bin()).args(["lab", "nosuch"]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pipelining") && err.contains("slow-reader"), "{err}");
}

fn ping_rtts(addr: SocketAddr, n: usize) -> Vec<f64> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
            let mut b = [0u8; 7];
            s.read_exact(&mut b).expect("pong");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn jitter_spreads_the_round_trip_within_its_bounds() {
    let _s = serial();
    if !common::preconditions("proxy jitter", &["redis-server"]) {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    let cfg = |jitter| ProxyConfig {
        jitter,
        ..ProxyConfig::new(format!("127.0.0.1:{port}"), Duration::from_millis(4))
    };
    let steady = Proxy::start(cfg(Duration::ZERO), None).expect("proxy");
    let jittery = Proxy::start(cfg(Duration::from_millis(1)), None).expect("proxy");
    let a = ping_rtts(steady.local_addr(), 100);
    let b = ping_rtts(jittery.local_addr(), 100);
    let spread = |v: &[f64]| v[89] - v[10];
    eprintln!(
        "4 ms RTT: min {:.3} / p10 {:.3} ms steady, min {:.3} / p10 {:.3} ms with ±1 ms jitter each way (p10-p90 spread {:.3} and {:.3} ms)",
        a[0], a[10], b[0], b[10], spread(&a), spread(&b)
    );
    // What a busy machine cannot fake: it only adds delay, so round trips *shorter* than the
    // asked one are the jitter's. Steady, none is below 4 ms; with ±1 ms each way the sum of
    // two uniform draws is below -0.1 ms 40 % of the time, so dozens of the 100 are under
    // 3.9 ms (a loaded machine's wake-ups, adding a few hundred µs to some, leave more than
    // 5), and nothing is below the round trip less both jitters.
    assert!(a[0] >= 4.0, "a steady round trip below the asked 4 ms: {a:?}");
    let short = b.iter().filter(|&&ms| ms < 3.9).count();
    assert!(short >= 5, "jitter does not shorten round trips ({short} under 3.9 ms): {b:?}");
    assert!(b[0] >= 4.0 - 2.0 - 0.05, "below the round trip less both jitters: {b:?}");
}

#[test]
fn a_bandwidth_cap_holds_a_transfer_to_its_rate() {
    let _s = serial();
    if !common::preconditions("proxy bandwidth", &["redis-server"]) {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    let mut setup = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let value = vec![b'v'; 2 << 20];
    let mut cmd = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).into_bytes();
    cmd.extend_from_slice(&value);
    cmd.extend_from_slice(b"\r\n");
    setup.write_all(&cmd).expect("set");
    let mut ok = [0u8; 5];
    setup.read_exact(&mut ok).expect("+OK");
    let rate = 4u64 << 20; // 4 MiB/s: 2 MiB takes 0.5 s
    let p = Proxy::start(
        ProxyConfig {
            bandwidth: Some(rate),
            ..ProxyConfig::new(format!("127.0.0.1:{port}"), Duration::ZERO)
        },
        None,
    )
    .expect("proxy");
    let mut s = TcpStream::connect(p.local_addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let t = Instant::now();
    s.write_all(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n").expect("get");
    let header = format!("${}\r\n", value.len());
    let mut got = vec![0u8; header.len() + value.len() + 2];
    s.read_exact(&mut got).expect("the value");
    let took = t.elapsed().as_secs_f64();
    let expect = got.len() as f64 / rate as f64;
    eprintln!("2 MiB at 4 MiB/s: {took:.3} s (the cap alone: {expect:.3} s)");
    assert!(took >= expect * 0.9, "faster than the cap: {took:.3} s");
    // Loose above: a busy machine only adds time, and the point is the floor.
    assert!(took <= expect * 3.0 + 0.5, "much slower than the cap: {took:.3} s");
}

#[test]
fn the_lab_pane_fills_as_runs_are_measured_and_q_stops_everything() {
    let _s = serial();
    if !common::preconditions("the Lab pane", &["redis-server", "tmux"]) {
        return;
    }
    for (w, h) in [(80u16, 24u16), (120, 36)] {
        let t = common::tmux::Tmux::start(
            &format!("lab-pane-{w}"),
            &format!("exec {} lab pipelining --commands 100,300 --rtt 0,1ms", bin()),
            w,
            h,
        );
        let pid = t.pid().expect("pid");
        // The Lab pane is selected from the start and fills while the runs go.
        let running = t.wait_for("lab pipelining running", 20);
        assert!(running.contains("9 Lab"), "{running}");
        let done = t.wait_for("done: 12 runs measured", 60);
        eprintln!("{w}x{h}:\n{done}");
        let lines: Vec<&str> = done.lines().collect();
        assert!(lines[1].contains("9 Lab"), "{done}");
        let header = lines.iter().position(|l| l.contains("RTT ms") && l.contains("round trips (wire)"));
        let header = header.unwrap_or_else(|| panic!("no table header:\n{done}"));
        // The newest row is the last run: 300 commands by 100 at 1 ms, in 3 round trips.
        let last = lines[header + 1..].iter().rfind(|l| l.trim_start().starts_with('1')).expect("a 1 ms row");
        let cells: Vec<&str> = last.split_whitespace().collect();
        assert_eq!(&cells[..3], ["1", "300", "100"], "{done}");
        assert_eq!(cells[5], "3", "{done}");
        if h >= 30 {
            assert!(done.contains("speedup against batch size"), "{done}");
            assert!(done.contains("1ms RTT"), "{done}");
        }
        // The Timeline shows the lab's connections by their names; 9 comes back.
        t.keys("8");
        t.wait_for("lab:pipelining:", 10);
        t.keys("9");
        t.wait_for("done: 12 runs measured", 10);
        let server = server_pid(pid);
        t.keys("q");
        let t0 = Instant::now();
        while t.alive() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(!t.alive(), "q did not end the lab");
        if let Some(s) = server {
            assert!(
                !Path::new(&format!("/proc/{s}")).exists() || zombie(s),
                "the lab's redis-server {s} outlived it"
            );
        }
    }
}

/// The redis-server child of `pid`, if any.
fn server_pid(pid: u32) -> Option<u32> {
    let out = Command::new("pgrep").args(["-P", &pid.to_string(), "redis-server"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}

#[test]
fn a_slow_reader_in_the_console_joins_its_client_list_row_through_the_proxy() {
    let _s = serial();
    if !common::preconditions("the slow reader in the console", &["redis-server", "tmux"]) {
        return;
    }
    let t =
        common::tmux::Tmux::start("lab-slow", &format!("exec {} lab slow-reader --rtt 0", bin()), 160, 30);
    t.wait_for("running 1/3", 20);
    // While it stalls, the Connections pane names the client and shows what the server holds
    // for it: CLIENT LIST sees the proxy's address, which the console maps to the wire's.
    t.keys("2");
    let s = t.wait_until("lab:slow-reader with omem in MiB", 20, |s| {
        s.lines().any(|l| l.contains("lab:slow-reader") && l.trim_end().ends_with("MiB"))
    });
    eprintln!("{s}");
    t.keys("9");
    let done = t.wait_for("done: 3 runs measured", 30);
    assert!(done.contains("closed by the server"), "{done}");
    t.keys("q");
}
