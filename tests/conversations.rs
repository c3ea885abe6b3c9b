//! Contract v1.1 on captures of conversations that are not one reply per command: pub/sub
//! subscribers (RESP2 and RESP3), MONITOR sessions, CLIENT REPLY, disk and diskless replica
//! links, and refusals at accept. Every expected number comes from the fixture's
//! `NAME.facts.json`, counted by the clients themselves and by the server's INFO while the
//! capture ran (`scripts/fixtures/record.sh`; `tests/fixtures/README.md` says how), so a wrong
//! count on either side fails here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use respscope::analysis::conversation::ConnKind;
use respscope::analysis::wire::WireConfig;
use respscope::engine::report::{ConnReport, Report};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn analyze(name: &str) -> Report {
    let cfg = WireConfig::ports(vec![6379]);
    match respscope::engine::analyze_file(&fixture(&format!("{name}.pcap")), cfg, None) {
        Ok(a) => a.report(),
        Err(e) => panic!("{name}: {e}"),
    }
}

fn facts(name: &str) -> Value {
    let path = fixture(&format!("{name}.facts.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(v["schema"], "respscope.fixture-facts.v1");
    v
}

/// The facts entry of the connection playing `role`.
fn fact<'a>(f: &'a Value, role: &str) -> &'a Value {
    let conns = f["connections"].as_array().expect("connections");
    let mut it = conns.iter().filter(|c| c["role"] == role);
    let c = it.next().unwrap_or_else(|| panic!("no {role} in the facts"));
    assert!(it.next().is_none(), "two {role} entries in the facts");
    c
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn conn<'a>(r: &'a Report, client: &Value) -> &'a ConnReport {
    let addr = client.as_str().expect("client address");
    r.connections.iter().find(|c| c.client == addr).unwrap_or_else(|| panic!("{addr} not in the analysis"))
}

/// Things that hold on every connection of every v1.1 fixture.
fn clean(r: &Report) {
    for c in &r.connections {
        assert_eq!((c.parse_errors, c.gaps), (0, 0), "{}: parse errors or gaps", c.client);
        assert!(c.latency_us.count <= c.replies - c.unsolicited, "{}: latency samples", c.client);
    }
}

/// A subscriber's commands are each answered once (the first confirmation, or the reply);
/// every other value the server sent it is a push.
fn subscriber(name: &str) {
    let (r, f) = (analyze(name), facts(name));
    clean(&r);
    let sub = fact(&f, "subscriber");
    let c = conn(&r, &sub["client"]);
    let sent = num(&sub["sent_total"]);
    let received = num(&sub["received"]["top_level_values"]);
    let ps = &sub["pubsub"]["received"];
    let messages = num(&ps["message"]) + num(&ps["pmessage"]) + num(&ps["smessage"]);
    let confirmations = num(&ps["confirmations"]);
    // One confirmation per subscribe-family command is its reply; the rest are pushes.
    let per = sub["pubsub"]["per_command"].as_array().expect("per_command");
    let family = per
        .iter()
        .filter(|p| {
            let cmd = p["command"].as_str().unwrap_or_default();
            cmd.split(' ').next().is_some_and(|w| w.ends_with("SUBSCRIBE"))
        })
        .count() as u64;
    assert_eq!(family, 17, "{name}: subscribe-family commands in the facts");
    assert_eq!(c.kind, ConnKind::Subscriber);
    assert_eq!((c.commands, c.replies, c.unanswered, c.silenced), (sent, sent, 0, 0), "{name}");
    assert_eq!(c.pushes, received - sent, "{name}: pushes");
    assert_eq!(c.pushes, messages + confirmations - family, "{name}: pushes by kind");
    assert_eq!(c.latency_us.count, sent, "{name}: every command paired");
    assert_eq!(c.max_pipeline_depth, 1, "{name}: redis-py waits for each answer");
    let errors = sub["received_types"]["error"].as_u64().unwrap_or(0);
    assert_eq!(c.errors, errors, "{name}: error replies");

    let publisher = fact(&f, "publisher");
    let p = conn(&r, &publisher["client"]);
    assert_eq!(p.kind, ConnKind::Client);
    let n = num(&publisher["sent_total"]);
    assert_eq!((p.commands, p.replies, p.pushes), (n, n, 0), "{name}: publisher");
    assert_eq!(r.connections.len(), 2);
}

#[test]
fn resp2_subscriber_confirmations_and_messages() {
    subscriber("pubsub_resp2");
}

#[test]
fn resp3_subscriber_first_push_answers_the_command() {
    subscriber("pubsub_resp3");
}

#[test]
fn subscriber_commands_match_commandstats() {
    for name in ["pubsub_resp2", "pubsub_resp3"] {
        let (r, f) = (analyze(name), facts(name));
        for (stat, v) in f["commandstats_delta"].as_object().expect("commandstats_delta") {
            // Every call the server counted (executed or rejected) was seen on the wire.
            let calls = num(&v["calls"]) + num(&v["rejected_calls"]);
            assert_eq!(r.commands_by_stat_name.get(stat), Some(&calls), "{name}: {stat}");
        }
    }
}

#[test]
fn monitor_feed_lines_are_pushes() {
    let (r, f) = (analyze("monitor"), facts("monitor"));
    clean(&r);
    // The raw socket: PING, GET (refused), an unknown command and the rest are answered; a
    // second MONITOR gets no reply at all; RESET ends the feed.
    let raw = fact(&f, "monitor (raw socket)");
    let c = conn(&r, &raw["client"]);
    let rx = &raw["received"];
    assert_eq!(c.kind, ConnKind::Monitor);
    assert_eq!(c.commands, num(&raw["sent_total"]));
    assert_eq!(c.replies, num(&rx["replies"]));
    assert_eq!(c.errors, num(&rx["error_replies"]));
    assert_eq!(c.pushes, num(&rx["feed_lines"]));
    assert_eq!(raw["no_reply"].as_array().map(Vec::len), Some(1));
    assert_eq!((c.silenced, c.unanswered), (1, 0));

    let cli = fact(&f, "monitor (redis-cli)");
    let c = conn(&r, &cli["client"]);
    assert_eq!(c.kind, ConnKind::Monitor);
    assert_eq!((c.commands, c.replies), (1, num(&cli["received"]["replies"])));
    assert_eq!(c.pushes, num(&cli["received"]["feed_lines"]));

    // redis-benchmark's connections are plain clients, one reply per command.
    let bench = fact(&f, "redis-benchmark");
    let others: Vec<_> = r.connections.iter().filter(|c| c.kind == ConnKind::Client).collect();
    assert_eq!(others.len() as u64, num(&bench["connections"]));
    let sent: u64 = others.iter().map(|c| c.commands).sum();
    let got: u64 = others.iter().map(|c| c.replies).sum();
    assert_eq!((sent, got), (num(&bench["sent_total"]), num(&bench["received"]["replies"])));
    assert!(others.iter().all(|c| c.pushes == 0 && c.unanswered == 0));
}

#[test]
fn client_reply_silences_exactly_what_the_server_did_not_answer() {
    let (r, f) = (analyze("client_reply"), facts("client_reply"));
    clean(&r);
    let cr = &f["connections"][0];
    let c = conn(&r, &cr["client"]);
    let per: &Vec<Value> = cr["per_command"].as_array().expect("per_command");
    let answered = per.iter().filter(|p| !p[1].is_null()).count() as u64;
    assert_eq!(answered, num(&cr["answered"]));
    assert_eq!(c.commands, per.len() as u64);
    assert_eq!((c.replies, c.silenced, c.unanswered), (answered, per.len() as u64 - answered, 0));
    assert_eq!(c.latency_us.count, answered, "silenced commands stay out of latency");
    // The 7-command write: SKIP, SET (skipped), INCR, OFF, INCR, ON, and one more, of which
    // only the answered ones ever wait.
    assert!(c.max_pipeline_depth <= 3, "depth {} counts silenced commands", c.max_pipeline_depth);
    assert_eq!(c.errors, 0, "errors while OFF or SKIP are never sent");
}

/// A replica link: its own commands (PING, REPLCONF, PSYNC, and REPLCONF ACKs with no reply),
/// then what the master propagates, counted by name, never as replies.
fn replication(name: &str, links: usize) {
    let (r, f) = (analyze(name), facts(name));
    clean(&r);
    let replicas: Vec<_> = r.connections.iter().filter(|c| c.kind == ConnKind::Replica).collect();
    assert_eq!(replicas.len(), links, "{name}: replica links");
    let sent: u64 = f["replica_links_sent"].as_object().expect("sent").values().map(num).sum();
    assert_eq!(replicas.iter().map(|c| c.commands).sum::<u64>(), sent, "{name}: link commands");
    for c in &replicas {
        // PING +PONG, two REPLCONF +OK, PSYNC +FULLRESYNC/+CONTINUE; every ACK silenced.
        assert_eq!((c.replies, c.unanswered, c.pushes), (4, 0, 0), "{name}: {}", c.client);
        assert_eq!(c.silenced, c.commands - 4, "{name}: REPLCONF ACK has no reply");
    }
    // What the links carried is what the replica executed, command by command.
    let executed: BTreeMap<String, u64> = f["replica_commandstats"]["whole_life"]
        .as_object()
        .expect("replica_commandstats")
        .iter()
        .map(|(k, v)| (k.to_uppercase(), num(&v["calls"])))
        .collect();
    assert_eq!(r.propagated_by_name, executed, "{name}: propagated by name");
    let total: u64 = executed.values().sum();
    assert_eq!(replicas.iter().map(|c| c.propagated).sum::<u64>(), total);
    // The full sync's RDB is counted once, on the link that took it.
    let with_rdb: Vec<_> = replicas.iter().filter(|c| c.rdb_bytes > 0).collect();
    assert_eq!(with_rdb.len(), 1, "{name}: one RDB transfer");
    assert!(with_rdb[0].rdb_bytes > 80_000, "{name}: the RDB is about 85 KB");

    let writer = fact(&f, "writer");
    let w = conn(&r, &writer["client"]);
    let n = num(&writer["sent_total"]);
    assert_eq!((w.kind, w.commands, w.replies, w.propagated), (ConnKind::Client, n, n, 0));
}

#[test]
fn disk_replication_full_then_partial_resync() {
    replication("repl_disk", 2);
}

#[test]
fn diskless_replication_with_keepalives() {
    replication("repl_diskless", 1);
}

#[test]
fn refusal_at_accept_is_unsolicited() {
    let (r, f) = (analyze("maxclients"), facts("maxclients"));
    clean(&r);
    assert_eq!(num(&f["info_delta"]["rejected_connections"]), 2);
    for role in ["refused, silent", "refused, sending"] {
        let fc = fact(&f, role);
        let c = conn(&r, &fc["client"]);
        let sent = num(&fc["sent_total"]);
        // The refusal is a reply nobody asked for: counted, never paired, and the PING that
        // reached the server before it accepted stays unanswered.
        assert_eq!((c.replies, c.unsolicited, c.errors), (1, 1, 1), "{role}");
        assert_eq!((c.commands, c.unanswered, c.latency_us.count), (sent, sent, 0), "{role}");
    }
    let holder = fact(&f, "holder");
    let c = conn(&r, &holder["client"]);
    assert_eq!((c.commands, c.replies, c.unsolicited, c.unanswered), (2, 2, 0, 0));
}
