//! The interleaving estimate (other clients' commands inside a write batch, from the order of
//! replies alone) checked batch by batch against the truth MONITOR gives: MONITOR lines come
//! in the server's execution order and name each command's client, so the other clients'
//! commands between a batch's first and last command are exactly those that ran inside it.
//!
//! The fixture test reads `tests/fixtures/interleave.pcap` and the MONITOR feed recorded with
//! it. The live test starts a real redis-server on a free loopback port, captures on `lo`
//! with tcpdump while three clients pipeline batches of 100 and 1,000 SETs and INCRs and a
//! fourth connection runs MONITOR (needs redis-server, tcpdump and capture rights: outside CI
//! it skips with a message, with `CI=true` it fails). Both print how well the estimate agrees
//! and assert it within the bounds measured when they were written (docs/METRICS.md).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::free_port;
use respscope::analysis::conversation::interleave::{BatchEstimate, InterleaveReport, InterleaveSummary};
use respscope::analysis::wire::{WireAnalyzer, WireConfig};
use respscope::sources::capture::{decode, CaptureFile};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Each client's batches with their estimates, from one analyzer that keeps them one by one.
fn estimates(pcap: &Path, port: u16) -> HashMap<String, Vec<BatchEstimate>> {
    let mut file = CaptureFile::open(pcap).expect("open the capture");
    let mut wire = WireAnalyzer::new(WireConfig::ports(vec![port]), file.link());
    wire.keep_interleave_detail();
    let _ = file.for_each(|f| {
        let _ = wire.frame(&f, false);
    });
    wire.finish();
    wire.conns.iter().map(|c| (c.client().to_string(), c.conv().interleave.detail().to_vec())).collect()
}

/// The client address of each MONITOR line (`<time> [<db> <addr>] "CMD" …`), in order.
fn monitor_clients(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = l.split_once('[')?.1;
            let addr = rest.split_once(']')?.0.split_whitespace().nth(1)?;
            Some(addr.to_string())
        })
        .collect()
}

/// One batch compared: what MONITOR says ran inside it, and the estimate.
#[derive(Debug, Clone, Copy)]
struct Pair {
    truth: u64,
    estimate: u64,
    commands: u32,
    /// The frames that completed its first and last reply.
    frames: (u64, u64),
}

/// For every batch of every client (of two replies or more, resolved), MONITOR's count of
/// other clients' commands between its first and last command beside the estimate. A
/// client's k-th command is its k-th MONITOR line: these clients send nothing MONITOR omits.
fn compare(est: &HashMap<String, Vec<BatchEstimate>>, feed: &[String]) -> Vec<Pair> {
    let mut at: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in feed.iter().enumerate() {
        at.entry(c.as_str()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (client, batches) in est {
        let Some(mine) = at.get(client.as_str()) else { continue };
        for b in batches {
            let Some(estimate) = b.others else { continue };
            let first = usize::try_from(b.first_command).unwrap_or(0).saturating_sub(1);
            let last = first + b.replies as usize - 1;
            let (Some(&lo), Some(&hi)) = (mine.get(first), mine.get(last)) else {
                panic!("{client}: batch from command {} not in the MONITOR feed", b.first_command)
            };
            let truth = feed[lo..hi].iter().filter(|c| c.as_str() != client).count() as u64;
            out.push(Pair { truth, estimate, commands: b.replies, frames: (b.first_frame, b.last_frame) });
        }
    }
    out
}

/// Agreement over all batches: exact-match share, mean absolute error, Pearson correlation.
#[derive(Debug)]
struct Agreement {
    batches: usize,
    exact: f64,
    mae: f64,
    correlation: f64,
    mean_truth: f64,
    mean_estimate: f64,
}

fn agreement(pairs: &[Pair]) -> Agreement {
    let n = pairs.len().max(1) as f64;
    let (t, e): (Vec<f64>, Vec<f64>) = pairs.iter().map(|p| (p.truth as f64, p.estimate as f64)).unzip();
    let (mt, me) = (t.iter().sum::<f64>() / n, e.iter().sum::<f64>() / n);
    let cov: f64 = t.iter().zip(&e).map(|(a, b)| (a - mt) * (b - me)).sum();
    let vt: f64 = t.iter().map(|a| (a - mt).powi(2)).sum();
    let ve: f64 = e.iter().map(|b| (b - me).powi(2)).sum();
    Agreement {
        batches: pairs.len(),
        exact: pairs.iter().filter(|p| p.truth == p.estimate).count() as f64 / n,
        mae: t.iter().zip(&e).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
        correlation: if vt > 0.0 && ve > 0.0 { cov / (vt * ve).sqrt() } else { f64::NAN },
        mean_truth: mt,
        mean_estimate: me,
    }
}

#[test]
fn the_fixture_estimate_agrees_with_its_monitor_feed() {
    let est = estimates(&fixture("interleave.pcap"), 6379);
    let text = std::fs::read_to_string(fixture("interleave.monitor.txt")).expect("the MONITOR feed");
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let feed = monitor_clients(&lines);
    assert_eq!(feed.len(), 1984);
    let pairs = compare(&est, &feed);
    let a = agreement(&pairs);
    eprintln!("interleave.pcap: {a:?}");
    // Client A's 64 KiB writes are read in four passes and had B's and C's commands inside
    // every one; B's and C's small batches were read whole and ran alone.
    assert_eq!(a.batches, 270);
    let (alone, mixed): (Vec<Pair>, Vec<Pair>) = pairs.iter().partition(|p| p.truth == 0);
    assert_eq!((alone.len(), mixed.len()), (230, 40));
    assert!(alone.iter().all(|p| p.estimate == 0), "a batch that ran alone is estimated 0");
    assert!(mixed.iter().all(|p| p.estimate > 0), "an interleaved batch is estimated above 0");
    // Measured (docs/METRICS.md): 85.2% exact, mean absolute error 1.63, correlation 0.946;
    // A's estimates run high (23.4 others on average where MONITOR says 13.2): the server
    // writes the replies of one pass in its own order, so one pass of others at each end of
    // a batch is counted inside it.
    assert!(a.exact >= 0.85 && a.mae <= 1.7 && a.correlation >= 0.94, "{a:?}");
}

/// Runs `respscope analyze --format json` with `RESPSCOPE_ANALYZERS=n`.
fn analyze_json(pcap: &Path, port: u16, analyzers: usize) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .arg("analyze")
        .arg(pcap)
        .args(["--port", &port.to_string(), "--format", "json"])
        .env("RESPSCOPE_ANALYZERS", analyzers.to_string())
        .output()
        .expect("run respscope");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Each connection's `interleave` (by client address) and the capture-wide summary.
fn interleave_fields(r: &serde_json::Value) -> (Vec<(String, serde_json::Value)>, serde_json::Value) {
    let mut per: Vec<(String, serde_json::Value)> = r["connections"]
        .as_array()
        .map(|v| v.iter().map(|c| (c["client"].to_string(), c["interleave"].clone())).collect())
        .unwrap_or_default();
    per.sort_by(|a, b| a.0.cmp(&b.0));
    (per, r["interleave"].clone())
}

/// One analyzer or three (each with a share of the connections, their reply indices merged):
/// the same estimates.
fn same_with_one_and_three_analyzers(pcap: &Path, port: u16) -> serde_json::Value {
    let one = analyze_json(pcap, port, 1);
    let three = analyze_json(pcap, port, 3);
    let (a, b) = (interleave_fields(&one), interleave_fields(&three));
    assert_eq!(a, b, "{}: estimates differ between 1 and 3 analyzers", pcap.display());
    one
}

#[test]
fn one_analyzer_and_three_give_the_same_estimates() {
    for name in ["interleave.pcap", "multi_client.pcap", "bench_p16.pcap", "monitor.pcap"] {
        let r = same_with_one_and_three_analyzers(&fixture(name), 6379);
        assert_eq!(r["interleave"]["unresolved"], 0, "{name}");
        eprintln!("{name}: {}", r["interleave"]);
    }
    // The fixture's pipelining client A had other clients' commands inside every batch.
    let r = analyze_json(&fixture("interleave.pcap"), 6379, 3);
    let a = r["connections"].as_array().and_then(|v| v.iter().find(|c| c["commands"] == 640)).cloned();
    let a = a.expect("client A");
    assert_eq!(a["interleave"]["batches"], 40);
    assert_eq!(a["interleave"]["interleaved"], 40);
}

/// Each connection's interleaving sums (by client) and the summary, from `wire`.
fn sums(wire: &WireAnalyzer) -> (Vec<(String, Option<InterleaveReport>)>, InterleaveSummary) {
    let mut v: Vec<_> =
        wire.conns.iter().map(|c| (c.client().to_string(), c.conv().interleave.stats.report())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    (v, wire.interleave_summary())
}

#[test]
fn merged_reply_indices_count_as_one() {
    // In process, the way `analyze` deals frames: each connection to one of three analyzers
    // (shares of a parallel analysis), merged; against one analyzer that saw every frame.
    for name in ["interleave.pcap", "bench_p16.pcap"] {
        let path = fixture(name);
        let mut file = CaptureFile::open(&path).expect("open");
        let link = file.link();
        let mut one = WireAnalyzer::new(WireConfig::ports(vec![6379]), link);
        let mut parts: Vec<WireAnalyzer> =
            (0..3).map(|_| WireAnalyzer::new(WireConfig::ports(vec![6379]), link)).collect();
        for p in &mut parts {
            p.set_part();
        }
        let _ = file.for_each(|f| {
            let _ = one.frame(&f, false);
            let k = WireAnalyzer::shard_of(&decode(f.link, f.data), parts.len());
            let _ = parts[k].frame(&f, false);
        });
        one.finish();
        for p in &mut parts {
            p.finish();
        }
        // A share alone resolves only batches answered in one frame: its index lacks the
        // others' frames.
        let alone: u64 = parts.iter().map(|p| p.interleave_summary().batches).sum();
        assert!(alone < one.interleave_summary().batches, "{name}");
        assert!(parts.iter().all(|p| p.interleave_summary().interleaved == 0), "{name}");
        assert!(parts.iter().filter(|p| !p.conns.is_empty()).count() >= 2, "{name}: dealt to several");
        let merged = WireAnalyzer::merge(parts).expect("merged");
        let (a, b) = (sums(&one), sums(&merged));
        assert!(a.1.batches > 0 && a.1.interleaved > 0, "{name}: {:?}", a.1);
        assert_eq!(a, b, "{name}");
    }
}

/// Reads CRLF-terminated lines from a MONITOR connection until it closes.
fn monitor_lines(s: TcpStream) -> Vec<String> {
    let mut r = BufReader::new(s);
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => out.push(line.trim_end().trim_start_matches('+').to_string()),
        }
    }
    out
}

/// A RESP command.
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// One pipelining client: `sizes.len()` batches, each written at once and answered in full
/// before the next; SETs of 30-100-byte values and INCRs, mixed.
fn pipeliner(port: u16, k: usize, sizes: &[usize]) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (k as u64 + 1);
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (b, &n) in sizes.iter().enumerate() {
        let mut batch = Vec::new();
        for i in 0..n {
            if next() % 3 == 0 {
                batch.extend(resp(&[b"INCR", format!("il:{k}:n").as_bytes()]));
            } else {
                let value = vec![b'a' + (k as u8); 30 + (next() % 71) as usize];
                batch.extend(resp(&[b"SET", format!("il:{k}:{b}:{i}").as_bytes(), &value]));
            }
        }
        s.write_all(&batch).expect("write a batch");
        // Every reply is one line (`+OK` or `:n`).
        let (mut lines, mut buf) = (0, [0u8; 65536]);
        while lines < n {
            let got = s.read(&mut buf).expect("read replies");
            assert!(got > 0, "server closed");
            lines += buf[..got].iter().filter(|&&c| c == b'\n').count();
        }
    }
}

#[test]
fn live_estimates_agree_with_monitor() {
    if !common::preconditions("interleave estimate vs MONITOR", &["redis-server", "tcpdump"]) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("respscope-interleave-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let _redis = common::redis(port, &[]);
    let pcap = dir.join("interleave.pcap");
    let capture = common::tcpdump::Capture::start(port, &pcap);

    let mut mon = TcpStream::connect(("127.0.0.1", port)).expect("connect MONITOR");
    mon.write_all(&resp(&[b"MONITOR"])).expect("MONITOR");
    let mut ok = [0u8; 5];
    mon.read_exact(&mut ok).expect("+OK");
    assert_eq!(&ok, b"+OK\r\n");
    let reader = std::thread::spawn({
        let mon = mon.try_clone().expect("clone");
        move || monitor_lines(mon)
    });
    // Three clients, batches of 100 and 1,000 in different orders: a batch of 1,000 is more
    // than Redis reads from a client at once (16 KiB), so others run between its parts.
    let plans: [Vec<usize>; 3] =
        [[100, 1000].repeat(15), [1000, 100, 100].repeat(10), [100, 100, 1000].repeat(10)];
    std::thread::scope(|s| {
        for (k, sizes) in plans.iter().enumerate() {
            s.spawn(move || pipeliner(port, k, sizes));
        }
    });
    // MONITOR's last lines are on their way: wait until the line count settles.
    std::thread::sleep(Duration::from_millis(500));
    let _ = mon.shutdown(std::net::Shutdown::Both);
    let lines = reader.join().expect("MONITOR reader");

    capture.stop();

    let commands: usize = plans.iter().flatten().sum();
    let feed = monitor_clients(&lines);
    assert_eq!(feed.len(), commands, "MONITOR saw every command");
    let est = estimates(&pcap, port);
    let pairs = compare(&est, &feed);
    let batches: usize = plans.iter().map(Vec::len).sum();
    let a = agreement(&pairs);
    eprintln!("live: {a:?}");
    let mut by_size: HashMap<u32, Vec<Pair>> = HashMap::new();
    for p in &pairs {
        by_size.entry(p.commands).or_default().push(*p);
    }
    for (n, v) in &by_size {
        eprintln!("  batches of {n}: {:?}", agreement(v));
    }
    for p in pairs.iter().filter(|p| p.truth != p.estimate) {
        let (f1, f2) = p.frames;
        eprintln!(
            "  batch of {} (frames #{f1}-#{f2}): MONITOR {}, estimate {}",
            p.commands, p.truth, p.estimate
        );
    }
    // Every client write is a batch here (one send each, now and then two), and every batch
    // was resolved.
    assert!(pairs.len() >= batches, "{} batches compared of {batches}", pairs.len());
    // A batch of 100 (at most 13 KiB) is read in one go: it ran alone, and is estimated so.
    for p in pairs.iter().filter(|p| p.commands <= 200) {
        assert_eq!((p.truth, p.estimate), (0, 0), "a batch read in one go: {p:?}");
    }
    // Bounds measured over 16 runs on 2 cores (docs/METRICS.md): alone or not is told right
    // for all but at most one batch a run; the mean of the estimates 0.98-1.57 times
    // MONITOR's, exact matches 62-65% (the batches of 100), correlation 0.95-0.99.
    let share = |v: Vec<&Pair>, ok: fn(&Pair) -> bool| {
        v.iter().filter(|p| ok(p)).count() as f64 / v.len().max(1) as f64
    };
    let mixed: Vec<&Pair> = pairs.iter().filter(|p| p.truth > 0).collect();
    let alone: Vec<&Pair> = pairs.iter().filter(|p| p.truth == 0).collect();
    assert!(mixed.len() >= 20, "batches of 1,000 are read in several passes: {a:?}");
    assert!(share(mixed, |p| p.estimate > 0) >= 0.9, "interleaved batches estimated above 0: {a:?}");
    assert!(share(alone, |p| p.estimate == 0) >= 0.9, "batches that ran alone estimated 0: {a:?}");
    let ratio = a.mean_estimate / a.mean_truth.max(1.0);
    assert!((0.67..=2.0).contains(&ratio), "estimates {ratio:.2} times MONITOR's on average: {a:?}");
    assert!(a.exact >= 0.55 && a.correlation >= 0.85, "{a:?}");
    same_with_one_and_three_analyzers(&pcap, port);
    if std::env::var_os("RESPSCOPE_KEEP_CAPTURE").is_some() {
        eprintln!("capture kept: {} (port {port})", pcap.display());
        std::fs::write(dir.join("monitor.txt"), lines.join("\n")).expect("write the feed");
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
