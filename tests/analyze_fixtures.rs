//! `analyze` on captures recorded from real clients against a real redis-server
//! (`scripts/fixtures/record.sh` regenerates them; `tests/fixtures/README.md` lists what each
//! holds). Each test checks facts known from how the capture was made.

use std::path::PathBuf;
use std::process::Command;

use respscope::analysis::wire::WireConfig;
use respscope::engine::report::{ConnReport, Report};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn analyze(name: &str) -> Report {
    let cfg = WireConfig { previews: true, ..WireConfig::ports(vec![6379]) };
    match respscope::engine::analyze_file(&fixture(name), cfg, None) {
        Ok(a) => a.report(),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn only(r: &Report) -> &ConnReport {
    assert_eq!(r.connections.len(), 1, "expected one connection");
    &r.connections[0]
}

#[test]
fn jedis_flushes_split_command_342_of_the_pipeline() {
    let r = analyze("jedis_8192.pcap");
    let c = only(&r);
    assert_eq!((c.commands, c.replies, c.unanswered, c.errors), (1001, 1001, 0, 0));
    assert_eq!(r.commands_by_name.get("GET"), Some(&1000));
    assert_eq!(r.commands_by_name.get("SET"), Some(&1));
    // SET, then three 8192/8192/7616-byte writes: 4 batches, the second of them holding
    // 341 whole commands.
    assert_eq!(c.batches, 4);
    assert_eq!(c.max_batch_commands, 341);
    assert_eq!(c.max_pipeline_depth, 1000);
    assert_eq!(c.split_commands, 2);
    let s = &c.splits[0];
    // Command 343 of the connection is the 342nd GET: 8 bytes in the first flush, 16 in the next.
    assert_eq!((s.index, s.len, s.first_bytes, s.last_bytes, s.segments), (343, 24, 8, 16, 2));
    assert_eq!(s.name.to_string_lossy(), "GET");
    assert_eq!(s.preview.to_string_lossy(), "GET jedis");
    assert!(s.first_frame < s.last_frame);
    assert!(c.handshake_rtt_us.is_some());
    let l = &c.latency_us;
    assert_eq!(l.count, 1001);
    assert!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    assert_eq!((c.gaps, c.parse_errors), (0, 0));
}

#[test]
fn lettuce_writes_sixteen_commands_per_batch() {
    let r = analyze("lettuce_16.pcap");
    let c = only(&r);
    assert_eq!((c.commands, c.replies), (160, 160));
    assert_eq!(c.batches, 10);
    assert_eq!(c.batch_sizes.get(&16), Some(&10));
    assert_eq!(c.max_batch_commands, 16);
    assert_eq!(c.max_pipeline_depth, 16);
    assert_eq!(c.split_commands, 0);
}

/// The same conversation under every link type and file format gives the same connection.
#[test]
fn link_types_and_pcapng_give_identical_results() {
    let base = serde_json::to_value(&analyze("lettuce_16.pcap").connections).ok();
    for f in [
        "lettuce_16.pcapng",
        "lettuce_16_null.pcap",
        "lettuce_16_raw.pcap",
        "lettuce_16_vlan.pcap",
        "lettuce_16_sll.pcap",
        "lettuce_16_sll2.pcap",
    ] {
        let got = serde_json::to_value(&analyze(f).connections).ok();
        assert_eq!(got, base, "{f}");
    }
}

#[test]
fn sequence_numbers_crossing_two_to_the_32_change_nothing() {
    let a = analyze("lettuce_16.pcap");
    let b = analyze("seqwrap.pcap");
    let (x, y) = (only(&a), only(&b));
    assert_eq!(
        (x.commands, x.replies, x.batches, x.bytes_to_server, x.bytes_to_client, x.gaps),
        (y.commands, y.replies, y.batches, y.bytes_to_server, y.bytes_to_client, y.gaps)
    );
    assert_eq!(y.tcp.lost_segments + y.tcp.retransmissions + y.tcp.out_of_order, 0);
}

#[test]
fn slow_reader_shows_window_full_zero_window_linux_probes_and_update() {
    let r = analyze("slow_reader.pcap");
    let c = r.connections.iter().find(|c| c.commands == 40).expect("the 40-GET reader");
    assert_eq!(c.replies, 40);
    assert!(c.tcp.zero_windows >= 1);
    assert!(c.tcp.window_full >= 1);
    assert!(c.tcp.window_updates >= 1);
    // tshark calls Linux's empty probes Keep-Alive; we count them as zero-window probes.
    assert!(c.tcp.zero_window_probes >= 1);
    assert_eq!(c.tcp.zero_window_probes, c.tcp.keep_alives_tshark);
    let kinds: Vec<&str> = c.window_events.iter().flat_map(|e| e.flags.iter().copied()).collect();
    let first = |k: &str| kinds.iter().position(|x| x.starts_with(k));
    // Window Full → ZeroWindow → probe → Window Update, in that order.
    let (full, zero, probe, update) =
        (first("Window Full"), first("ZeroWindow"), first("ZeroWindowProbe"), first("Window Update"));
    assert!(full < zero && zero < probe && probe < update, "{kinds:?}");
    // Each 20,010-byte reply spans segments.
    assert!(c.split_replies >= 1);
}

#[test]
fn big_values_span_many_segments_without_being_stored() {
    let r = analyze("big_values.pcap");
    let big = r.connections.iter().map(|c| c.bytes_to_server + c.bytes_to_client).max().unwrap_or(0);
    assert!(big > 300_000);
    assert_eq!(r.totals.parse_errors, 0);
    assert_eq!(r.totals.commands, r.totals.replies);
    assert!(r.totals.split_commands >= 1);
}

#[test]
fn resp3_pushes_are_out_of_band() {
    let r = analyze("resp3.pcap");
    assert!(r.totals.pushes >= 4, "invalidation and pub/sub pushes");
    assert_eq!(r.totals.parse_errors, 0);
    // SUBSCRIBE and UNSUBSCRIBE under RESP3 are answered by their first confirmation, a push
    // that is their reply (contract v1.1); the three messages stay pushes.
    let sub = r.connections.iter().find(|c| c.pushes >= 3).expect("the subscriber");
    assert_eq!((sub.commands, sub.replies, sub.pushes, sub.unanswered), (4, 4, 3, 0));
    assert_eq!(sub.kind, respscope::analysis::conversation::ConnKind::Subscriber);
    // A reply for every other command.
    let tracking = &r.connections[0];
    assert_eq!(tracking.commands, tracking.replies);
    assert!(tracking.pushes >= 1);
}

#[test]
fn inline_commands_count_and_empty_lines_do_not() {
    let r = analyze("inline.pcap");
    let c = only(&r);
    assert_eq!((c.commands, c.replies), (4, 4));
    for n in ["PING", "SET", "GET", "EXISTS"] {
        assert_eq!(r.commands_by_name.get(n), Some(&1), "{n}");
    }
}

#[test]
fn error_replies_are_counted() {
    let r = analyze("errors.pcap");
    // Unknown command, INCR on a string, wrong arity, WRONGTYPE, and a WRONGTYPE inside a
    // three-command pipeline.
    assert_eq!(r.totals.errors, 5);
    assert_eq!(r.totals.commands, r.totals.replies);
}

#[test]
fn cluster_redirections_are_counted_per_connection_and_in_every_format() {
    // A client that ignores the cluster, against three masters (tests/fixtures/README.md).
    let cfg = WireConfig { previews: true, ..WireConfig::ports(vec![7101, 7102, 7103]) };
    let r = respscope::engine::analyze_file(&fixture("cluster_redirects.pcap"), cfg, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .report();
    assert_eq!((r.totals.moved, r.totals.ask), (5, 1));
    let redirected: Vec<(u64, u64, u64)> =
        r.connections.iter().filter(|c| c.moved + c.ask > 0).map(|c| (c.moved, c.ask, c.errors)).collect();
    // One MOVED each on two connections, an ASK on one, three MOVED in one pipelined write.
    assert_eq!(redirected, vec![(1, 0, 1), (1, 0, 1), (0, 1, 1), (3, 0, 3)]);
    // The node the ASK sent the client to answered ASKING and the GET.
    assert_eq!(r.commands_by_name.get("ASKING"), Some(&1));
    let file = fixture("cluster_redirects.pcap");
    let f = file.to_str().expect("a UTF-8 path");
    let ports = ["-p", "7101", "-p", "7102", "-p", "7103"];
    let (code, text, _) = cli(&[&["analyze", f][..], &ports[..]].concat());
    assert_eq!(code, 0);
    assert!(text.contains("cluster redirections: 5 MOVED, 1 ASK"), "{text}");
    assert!(text.contains("pushes 0  MOVED 3"), "{text}");
    assert!(text.contains("pushes 0  ASK 1"), "{text}");
    let (_, json, _) = cli(&[&["analyze", f, "--format", "json"][..], &ports[..]].concat());
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!((v["totals"]["moved"].as_u64(), v["totals"]["ask"].as_u64()), (Some(5), Some(1)));
    let (_, md, _) = cli(&[&["analyze", f, "--format", "markdown"][..], &ports[..]].concat());
    assert!(md.contains("Cluster redirections: 5 MOVED, 1 ASK."), "{md}");
}

#[test]
fn garbage_on_the_port_is_read_as_redis_reads_it() {
    let r = analyze("garbage.pcap");
    // Random bytes: one "inline command" as Redis saw it; a bad bulk length is a parse error.
    assert_eq!(r.totals.parse_errors, 1);
    assert_eq!(r.totals.errors, 2);
    // Names with control bytes are escaped, never raw.
    for name in r.commands_by_name.keys() {
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
}

#[test]
fn ipv6_connections() {
    let r = analyze("ipv6.pcap");
    let c = only(&r);
    assert!(c.client.starts_with("[::1]:"), "{}", c.client);
    assert_eq!(c.server, "[::1]:6379");
    assert_eq!(c.commands, 20);
}

#[test]
fn real_client_libraries_pair_every_command() {
    for f in [
        "redispy_pipeline.pcap",
        "ioredis_pipeline.pcap",
        "cli_pipe.pcap",
        "bench_p16.pcap",
        "multi_client.pcap",
    ] {
        let r = analyze(f);
        assert!(r.totals.commands > 0, "{f}");
        assert_eq!(r.totals.commands, r.totals.replies, "{f}");
        assert_eq!((r.totals.gaps, r.totals.parse_errors), (0, 0), "{f}");
        for c in &r.connections {
            assert!(c.latency_us.count == c.replies, "{f}");
        }
    }
    let b = analyze("bench_p16.pcap");
    // redis-benchmark -P 16: the deepest pipeline is 16 (plus nothing else).
    assert_eq!(b.connections.iter().map(|c| c.max_pipeline_depth).max(), Some(16));
    assert_eq!(b.connections.iter().map(|c| c.max_batch_commands).max(), Some(16));
}

#[test]
fn reordered_and_duplicated_segments_give_the_original_conversation() {
    let base = analyze("jedis_8192.pcap");
    for (f, flag) in [("jedis_8192_reordered.pcap", "ooo"), ("jedis_8192_dup.pcap", "retrans")] {
        let r = analyze(f);
        let (a, b) = (only(&base), only(&r));
        assert_eq!((b.commands, b.replies, b.gaps, b.parse_errors), (a.commands, a.replies, 0, 0), "{f}");
        assert_eq!(b.bytes_to_server, a.bytes_to_server, "{f}: each byte once");
        match flag {
            "ooo" => assert!(b.tcp.out_of_order >= 1, "{f}"),
            _ => assert!(b.tcp.retransmissions >= 1, "{f}"),
        }
    }
}

#[test]
fn a_lost_segment_is_a_gap_and_parsing_resumes() {
    let r = analyze("jedis_8192_gap.pcap");
    let c = only(&r);
    assert_eq!(c.gaps, 1);
    assert_eq!(c.tcp.lost_segments, 1);
    // The 8192 lost bytes held 341 whole commands and parts of two more.
    assert!(c.commands < 1001 && c.commands >= 1001 - 343, "{}", c.commands);
    assert_eq!(c.replies, 1001);
    assert!(r.capture.warnings.iter().any(|w| w.contains("gap")));
}

#[test]
fn a_capture_joined_midstream_resynchronises_quietly() {
    let r = analyze("jedis_8192_midstream.pcap");
    let c = only(&r);
    assert!(c.joined_midstream);
    assert_eq!(c.handshake_rtt_us, None);
    assert_eq!(c.gaps, 0);
    assert!(c.commands > 0 && c.replies > 0);
}

#[test]
fn a_file_cut_mid_record_gives_a_warning_and_the_packets_before_it() {
    let r = analyze("jedis_8192_truncated.pcap");
    assert!(r.capture.warnings.iter().any(|w| w.contains("damaged record")), "{:?}", r.capture.warnings);
    assert_eq!(r.totals.commands, 1001);
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_respscope")).args(args).output().expect("run respscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_or_non_capture_files_get_one_clear_line_and_exit_2() {
    let (code, out, err) = cli(&["analyze", "does-not-exist.pcap"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no such file"), "{err}");
    let f = fixture("not_a_capture.pcap");
    let (code, _, err) = cli(&["analyze", f.to_str().unwrap_or_default()]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not a pcap or pcapng capture"), "{err}");
}

#[test]
fn damaged_input_exits_0_with_a_report_and_a_warning() {
    let f = fixture("jedis_8192_truncated.pcap");
    let (code, out, err) = cli(&["analyze", f.to_str().unwrap_or_default(), "--format", "json"]);
    assert_eq!(code, 0);
    assert!(err.contains("warning"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["schema"], "respscope.analysis.v1");
}

#[test]
fn auth_secrets_never_reach_any_output() {
    let f = fixture("auth.pcap");
    let p = f.to_str().unwrap_or_default();
    for args in [
        vec!["analyze", p],
        vec!["analyze", p, "--format", "json"],
        vec!["analyze", p, "--format", "markdown"],
        vec!["analyze", p, "--segments"],
        vec!["analyze", p, "--segments", "--format", "json"],
    ] {
        let (code, out, err) = cli(&args);
        assert_eq!(code, 0);
        assert!(!out.contains("s3cret") && !err.contains("s3cret"), "{args:?} leaked the password");
    }
    let (_, out, _) = cli(&["analyze", p, "--segments"]);
    assert!(out.contains("AUTH ***"), "{out}");
    assert!(out.contains("HELLO 3 AUTH *** ***"), "{out}");
}

#[test]
fn json_has_every_contract_v1_field() {
    let f = fixture("jedis_8192.pcap");
    let (code, out, _) = cli(&["analyze", f.to_str().unwrap_or_default(), "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    for k in ["packets", "tcp_packets", "duration_us"] {
        assert!(v["capture"][k].is_u64() || v["capture"][k].is_i64(), "capture.{k}");
    }
    for k in [
        "connections",
        "commands",
        "replies",
        "split_commands",
        "batches",
        "zero_windows",
        "window_updates",
        "window_full",
        "zero_window_probes",
        "retransmissions",
        "parse_errors",
        "gaps",
    ] {
        assert!(v["totals"][k].is_u64(), "totals.{k}");
    }
    assert!(v["commands_by_name"]["GET"].is_u64());
    let c = &v["connections"][0];
    for k in [
        "client",
        "server",
        "handshake_rtt_us",
        "commands",
        "replies",
        "errors",
        "unanswered",
        "split_commands",
        "batches",
        "max_batch_commands",
        "max_pipeline_depth",
        "bytes_to_server",
        "bytes_to_client",
        "latency_us",
        "tcp",
        "gaps",
        "parse_errors",
    ] {
        assert!(!c[k].is_null(), "connections[0].{k}");
    }
    for k in ["count", "min", "p50", "p90", "p99", "max"] {
        assert!(c["latency_us"][k].is_u64(), "latency_us.{k}");
    }
    for k in [
        "zero_windows",
        "window_updates",
        "window_full",
        "zero_window_probes",
        "retransmissions",
        "out_of_order",
        "lost_segments",
    ] {
        assert!(c["tcp"][k].is_u64(), "tcp.{k}");
    }
}

#[test]
fn segments_listing_shows_where_a_split_starts_and_ends() {
    let f = fixture("jedis_8192.pcap");
    let (code, out, _) = cli(&["analyze", f.to_str().unwrap_or_default(), "--segments"]);
    assert_eq!(code, 0);
    assert!(out.contains("split starts: a message at offset 8215, 8 B here"), "{out}");
    assert!(out.contains("split ends: #343 GET jedis (24 B"), "{out}");
    assert!(out.contains("341 commands"), "{out}");
}

#[test]
fn parallel_analysis_gives_the_same_report_as_one_analyzer() {
    for f in ["bench_p16.pcap", "multi_client.pcap", "resp3.pcap", "slow_reader.pcap", "garbage.pcap"] {
        let p = fixture(f);
        let run = |n: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
                .args(["analyze", p.to_str().unwrap_or_default(), "--format", "json"])
                .env("RESPSCOPE_ANALYZERS", n)
                .output()
                .expect("run respscope");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let one = run("1");
        assert!(one.contains("respscope.analysis.v1"));
        // 2: the reading thread's analyzer and one thread's; 3: and a second thread's.
        assert_eq!(run("2"), one, "{f}");
        assert_eq!(run("3"), one, "{f}");
    }
}

#[test]
fn a_small_snap_length_gives_gaps_and_a_warning_not_nonsense() {
    let r = analyze("jedis_8192_snaplen300.pcap");
    let c = only(&r);
    // The three 8192-byte writes and the replies lost their tails: holes, counted as gaps.
    assert!(c.gaps >= 3, "{}", c.gaps);
    assert!(r.capture.snapped_segments >= 3);
    assert!(r.capture.warnings.iter().any(|w| w.contains("snap length")), "{:?}", r.capture.warnings);
    assert_eq!(c.parse_errors, 0, "a hole is a gap, not garbage");
    // Sequence analysis uses the IP lengths, so no segment looks lost.
    assert_eq!(c.tcp.lost_segments, 0);
}

#[test]
fn a_long_capture_keeps_memory_flat_and_its_totals_whole() {
    use respscope::analysis::wire::WireAnalyzer;
    use respscope::engine::report::Report;
    use respscope::sources::capture::CaptureFile;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let run = |limit: Option<usize>| {
        let mut f = CaptureFile::open(&path).expect("demo capture");
        let mut w = WireAnalyzer::new(WireConfig::ports(vec![6379]), f.link());
        w.set_closed_limit(limit);
        f.for_each(|fr| {
            w.frame(&fr, false);
        });
        w.finish();
        Report::build(&w, Vec::new())
    };
    let all = run(None);
    let kept = run(Some(1));
    // Connections finished long enough ago are summed, not listed; the totals do not change.
    assert!(kept.connections.len() < all.connections.len(), "{}", kept.connections.len());
    assert!(kept.capture.retired_connections > 0);
    assert_eq!(kept.totals, all.totals);
    assert_eq!(kept.commands_by_name, all.commands_by_name);
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["analyze", "--help"],
        &["analyze", "-h"],
        &["watch", "--help"],
        &["replay", "--help"],
        &["demo", "--help"],
    ] {
        let (code, out, err) = cli(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: respscope"), "{args:?}: {out}");
    }
}
