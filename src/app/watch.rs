//! `respscope watch`: one JSON object per interval, for scripts and tests.
//!
//! The wire and the server keep their own pace. Lines come out on the interval whatever the
//! server does: a server that does not answer delays only its own part, which then carries
//! the latest poll that did finish and how old it is. A line's size does not grow with the
//! connection count: it lists the busiest connections and clients and counts the rest,
//! unless asked for everything.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::engine::alerts::rules::{Rules, Thresholds};
use crate::engine::alerts::AlertBook;
use crate::engine::live::{LiveWire, WireSnapshot};
use crate::engine::report::SnapshotLimits;
use crate::sources::server::client::ConnectOptions;
use crate::sources::server::formats::slowlog::SlowEntry;
use crate::sources::server::poller::{Poller, ServerPoll};

/// Schema name of a watch line.
pub const SCHEMA: &str = "respscope.watch.v1";

/// Connections and clients a line lists unless everything is asked for.
pub const LISTED: usize = 50;

/// SLOWLOG entries carried from polls no line has shown yet.
const SLOWLOG_CARRIED: usize = 512;

/// Detail entries (split commands, window events, parse errors) per listed connection.
const DETAILS: usize = 20;

/// What to watch and how.
pub struct WatchConfig {
    /// The server to poll.
    pub server: ConnectOptions,
    /// The wire feed, or why there is none.
    pub wire: Result<LiveWire, String>,
    /// Time between lines.
    pub interval: Duration,
    /// Stop after this long (`None`: until interrupted).
    pub duration: Option<Duration>,
    /// List every connection and client, not only the busiest.
    pub all: bool,
    /// What raises an alert.
    pub thresholds: Thresholds,
    /// JSON Lines for scripts, or a short text summary per interval for people.
    pub text: bool,
    /// A Redis Cluster's nodes, found at start (`-c`).
    pub cluster: Option<crate::app::ClusterSetup>,
}

/// The snapshot limits a watch with or without `--all-connections` asks the wire for.
pub fn limits(all: bool) -> SnapshotLimits {
    if all {
        SnapshotLimits { connections: None, details: usize::MAX }
    } else {
        SnapshotLimits { connections: Some(LISTED), details: DETAILS }
    }
}

/// The latest finished poll, numbered so a line can tell whether it already printed it.
#[derive(Clone)]
struct Polled {
    seq: u64,
    poll: ServerPoll,
    at: Instant,
}

/// Runs until the duration is over (or forever), writing lines to `out`.
///
/// # Errors
/// Writing to `out` failed (a closed pipe, say).
pub fn run(cfg: WatchConfig, out: &mut dyn Write) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start = Instant::now();
    let deadline = cfg.duration.map(|d| start + d);
    let interval = cfg.interval;
    rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel::<Option<Polled>>(None);
        let opts = cfg.server.clone();
        // The last poll a line printed: SLOWLOG entries of polls no line showed (a slow server
        // can finish two polls between lines) are carried into the next poll, never lost.
        let shown = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let shown_by_lines = std::sync::Arc::clone(&shown);
        let poller = tokio::spawn(async move {
            let mut poller = Poller::new(opts);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seq = 0u64;
            let mut unshown: Vec<(u64, SlowEntry)> = Vec::new();
            loop {
                tick.tick().await;
                let mut poll = poller.poll().await;
                seq += 1;
                let printed = shown.load(std::sync::atomic::Ordering::Acquire);
                unshown.retain(|(s, _)| *s > printed);
                unshown.extend(poll.slowlog_new.drain(..).map(|e| (seq, e)));
                if unshown.len() > SLOWLOG_CARRIED {
                    unshown.drain(..unshown.len() - SLOWLOG_CARRIED);
                }
                poll.slowlog_new = unshown.iter().map(|(_, e)| e.clone()).collect();
                if tx.send(Some(Polled { seq, poll, at: Instant::now() })).is_err() {
                    break;
                }
            }
        });
        // A cluster's nodes are polled by a task of their own, each node on its own task.
        let cluster_rx = cfg.cluster.clone().map(|c| {
            let (tx, rx) = tokio::sync::watch::channel(None);
            crate::sources::server::cluster::spawn(cfg.server.clone(), c.discovery, c.captured, interval, tx);
            rx
        });
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut printed = 0u64;
        let mut rx = rx;
        let mut rules = Rules::new(cfg.thresholds.clone());
        let mut last_wire: Option<(f64, u64)> = None;
        let mut alerts = AlertBook::default();
        loop {
            tick.tick().await;
            let snapshot = wire_part(cfg.wire.as_ref(), interval).await;
            // A poll fresher than the last line's is worth half an interval's wait; a server
            // slower than that delays nothing, the line says how old its poll is.
            if rx.borrow().as_ref().is_none_or(|p| p.seq <= printed) {
                let _ = tokio::time::timeout(interval / 2, rx.changed()).await;
            }
            let latest = rx.borrow().clone();
            // The same rules as the console's, on the same observations.
            let now = crate::app::wall_ms();
            let report = snapshot.as_ref().ok().map(|s| &s.report);
            if let Some(p) = latest.as_ref().filter(|p| p.seq > printed) {
                let (found, evaluated) = rules.server(&p.poll, report);
                alerts.fold(now, evaluated, found);
            }
            let cluster = cluster_rx.as_ref().and_then(|r| r.borrow().clone());
            if let Some(c) = &cluster {
                let found = crate::engine::alerts::rules::cluster(c);
                alerts.fold(now, &[crate::engine::alerts::AlertKind::ClusterNode], found);
            }
            if let (Err(_), Ok(_)) = (&snapshot, &cfg.wire) {
                // The capture thread is gone or silent: as much a stopped capture as any.
                let why = "the capture thread ended or did not answer";
                let found = crate::engine::alerts::rules::capture(
                    crate::engine::live::CaptureStatus::Stopped,
                    Some(why),
                );
                alerts.fold(
                    now,
                    &[crate::engine::alerts::AlertKind::CaptureStopped],
                    found.into_iter().collect(),
                );
            }
            if let Ok(s) = &snapshot {
                let clients =
                    latest.as_ref().filter(|p| p.poll.up).map_or(&[][..], |p| p.poll.clients.as_slice());
                let (found, evaluated) = rules.wire(
                    &s.report,
                    &s.latency,
                    &s.loss,
                    Some((s.status, s.stopped.as_deref())),
                    clients,
                );
                alerts.fold(now, evaluated, found);
            }
            if cfg.text {
                let fresh = latest.as_ref().is_some_and(|p| p.seq > printed);
                printed = latest.as_ref().map_or(printed, |p| p.seq);
                shown_by_lines.store(printed, std::sync::atomic::Ordering::Release);
                let text = text_summary(
                    now,
                    &cfg.server,
                    latest.as_ref(),
                    snapshot.as_ref().ok(),
                    &mut last_wire,
                    &alerts,
                    fresh,
                );
                write!(out, "{text}")?;
                if let Some(c) = &cluster {
                    write!(out, "{}", cluster_text(c, snapshot.as_ref().ok().map(|s| &s.report)))?;
                }
                out.flush()?;
                if deadline.is_some_and(|d| Instant::now() + interval / 2 >= d) {
                    poller.abort();
                    return Ok::<(), anyhow::Error>(());
                }
                continue;
            }
            let cluster_part = cfg
                .cluster
                .as_ref()
                .map(|_| cluster_json(cluster.as_ref(), snapshot.as_ref().ok().map(|s| &s.report)));
            let wire = match snapshot {
                Ok(s) => snapshot_json(s),
                Err(v) => v,
            };
            let server = server_part(&cfg.server, latest.as_ref(), &mut printed, start, cfg.all);
            shown_by_lines.store(printed, std::sync::atomic::Ordering::Release);
            let mut line = json!({
                "schema": SCHEMA,
                "t_ms": u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
                "server": server,
                "wire": wire,
                "alerts": alerts.shown(),
            });
            if let (Some(c), Some(o)) = (cluster_part, line.as_object_mut()) {
                o.insert("cluster".into(), c);
            }
            writeln!(out, "{line}")?;
            out.flush()?;
            if deadline.is_some_and(|d| Instant::now() + interval / 2 >= d) {
                poller.abort();
                return Ok::<(), anyhow::Error>(());
            }
        }
    })
}

/// The wire's part: the snapshot, asked of the capture thread without blocking the server's
/// poll, or the line's wire object saying why there is none.
async fn wire_part(wire: Result<&LiveWire, &String>, interval: Duration) -> Result<WireSnapshot, Value> {
    let l = match wire {
        Ok(l) => l,
        Err(why) => return Err(json!({ "status": format!("unavailable: {why}") })),
    };
    let Some(rx) = l.request_snapshot() else {
        return Err(json!({ "status": "stopped", "stopped": "the capture thread ended" }));
    };
    let wait = interval.max(Duration::from_millis(500));
    let got = tokio::task::spawn_blocking(move || rx.recv_timeout(wait).ok()).await.ok().flatten();
    match got {
        Some(s) => Ok(s.wire),
        None => Err(json!({ "status": "stopped", "stopped": "the capture thread did not answer" })),
    }
}

fn snapshot_json(s: WireSnapshot) -> Value {
    // The line's status is the snapshot's own: the two never disagree.
    let status = serde_json::to_value(s.status).unwrap_or(Value::Null);
    json!({ "status": status, "snapshot": s })
}

/// The server's part: the latest finished poll (its SLOWLOG entries only the first time it
/// is printed) with its age, or why there is none yet.
fn server_part(
    opts: &ConnectOptions,
    latest: Option<&Polled>,
    printed: &mut u64,
    start: Instant,
    all: bool,
) -> Value {
    let Some(p) = latest else {
        return json!({
            "addr": opts.addr(),
            "up": false,
            "error": format!("the server did not answer yet: the first poll has waited {} ms", start.elapsed().as_millis()),
            "poll": 0,
            "age_ms": null,
        });
    };
    let mut poll = p.poll.clone();
    if p.seq <= *printed {
        poll.slowlog_new.clear();
    }
    *printed = p.seq;
    let clients_total = poll.clients.len();
    if !all && clients_total > LISTED {
        // The clients holding the most memory, in the server's order.
        let mut order: Vec<usize> = (0..clients_total).collect();
        order.select_nth_unstable_by_key(LISTED, |&i| {
            std::cmp::Reverse(poll.clients[i].tot_mem.max(poll.clients[i].omem))
        });
        order.truncate(LISTED);
        order.sort_unstable();
        let keep: std::collections::HashSet<usize> = order.into_iter().collect();
        let mut i = 0;
        poll.clients.retain(|_| {
            let k = keep.contains(&i);
            i += 1;
            k
        });
    }
    let mut v = serde_json::to_value(&poll).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("poll".into(), json!(p.seq));
        o.insert("age_ms".into(), json!(u64::try_from(p.at.elapsed().as_millis()).unwrap_or(u64::MAX)));
        o.insert("clients_total".into(), json!(clients_total));
    }
    v
}

/// The cluster's part of a line: the latest discovery, and a row per node with its own
/// numbers and what the wire saw of it (`null` without a wire snapshot).
fn cluster_json(
    state: Option<&crate::sources::server::cluster::ClusterState>,
    report: Option<&crate::engine::report::Report>,
) -> Value {
    let Some(c) = state else {
        return json!({ "nodes": [], "error": "the nodes have not been polled yet" });
    };
    let wire = report.map(crate::engine::cluster::wire_by_server);
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("answering".into(), json!(c.answering()));
        let nodes: Vec<Value> = c
            .nodes
            .iter()
            .map(|n| {
                let mut nv = serde_json::to_value(n).unwrap_or(Value::Null);
                if let Some(no) = nv.as_object_mut() {
                    let w = wire.as_ref().map(|w| w.get(n.addr.as_str()).copied().unwrap_or_default());
                    no.insert("wire".into(), serde_json::to_value(w).unwrap_or(Value::Null));
                }
                nv
            })
            .collect();
        o.insert("nodes".into(), Value::Array(nodes));
    }
    v
}

/// The cluster in a few lines for people: one per node.
fn cluster_text(
    c: &crate::sources::server::cluster::ClusterState,
    report: Option<&crate::engine::report::Report>,
) -> String {
    use crate::views::report::bytes;
    let wire = report.map(crate::engine::cluster::wire_by_server);
    let mut out = format!(
        "  cluster via {} ({}): state {}, {} of {} nodes answer{}\n",
        c.discovered_from,
        c.source,
        c.state.as_deref().unwrap_or("?"),
        c.answering(),
        c.nodes.len(),
        c.discovery_error.as_ref().map_or_else(String::new, |e| format!("; rediscovery failed: {e}"))
    );
    for n in c.nodes.iter().take(LISTED) {
        let n_ = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let state = match (&n.error, n.up) {
            (_, true) => String::new(),
            (Some(e), false) => format!("  DOWN: {e}"),
            (None, false) => "  (first poll under way)".into(),
        };
        let w = wire.as_ref().and_then(|w| w.get(n.addr.as_str()));
        let redirects = match w {
            Some(w) if w.moved + w.ask > 0 => format!(", {} MOVED, {} ASK", w.moved, w.ask),
            _ => String::new(),
        };
        out.push_str(&format!(
            "    {} {} {} slots {}: {} ops/s, {} used, {} clients{redirects}{state}\n",
            n.addr,
            n.role.name(),
            n.slots,
            n.slot_ranges,
            n_(n.ops_per_sec),
            n.used_memory.map_or_else(|| "-".into(), bytes),
            n_(n.connected_clients),
        ));
    }
    if c.nodes.len() > LISTED {
        out.push_str(&format!("    … {} more nodes\n", c.nodes.len() - LISTED));
    }
    out
}

/// Open alerts shown in a text summary.
const TEXT_ALERTS: usize = 5;

/// One interval for a person: when, the server, the wire, the open alerts; a few lines that
/// paste into a ticket as they are.
fn text_summary(
    now_ms: i64,
    opts: &ConnectOptions,
    latest: Option<&Polled>,
    wire: Option<&WireSnapshot>,
    last_wire: &mut Option<(f64, u64)>,
    alerts: &AlertBook,
    fresh: bool,
) -> String {
    use crate::views::report::{bytes, opt_us};
    let mut out =
        format!("{} UTC  ", crate::engine::alerts::wall_time(now_ms).replace('T', " ").trim_end_matches('Z'));
    match latest.map(|p| &p.poll) {
        Some(p) if p.up => {
            let n = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
            out.push_str(&format!(
                "server {} redis {}: {} ops/s, {} used, {} clients, ping {}{}\n",
                p.addr,
                p.version.as_deref().unwrap_or("?"),
                n(p.ops_per_sec),
                p.used_memory.map_or_else(|| "-".into(), bytes),
                n(p.connected_clients),
                opt_us(p.ping_us),
                if fresh { "" } else { " (no new poll)" }
            ));
        }
        Some(p) => {
            out.push_str(&format!("server {} DOWN: {}\n", p.addr, p.error.as_deref().unwrap_or("no reply")))
        }
        None => out.push_str(&format!("server {}: no poll has finished yet\n", opts.addr())),
    }
    match wire {
        Some(w) => {
            let t = &w.report.totals;
            let rate = match *last_wire {
                Some((t0, c0)) if w.clock_s > t0 => {
                    format!("{:.0}/s", t.commands.saturating_sub(c0) as f64 / (w.clock_s - t0))
                }
                _ => "-/s".into(),
            };
            *last_wire = Some((w.clock_s, t.commands));
            let l = &w.latency;
            let latency = if l.count == 0 {
                "none answered".to_string()
            } else {
                format!(
                    "{} answered, p50 {} p99 {} max {}",
                    l.count,
                    opt_us(l.p50),
                    opt_us(l.p99),
                    opt_us(l.max)
                )
            };
            let status = match w.status {
                crate::engine::live::CaptureStatus::Capturing => String::new(),
                _ => format!(" NOT CAPTURING: {}", w.stopped.as_deref().unwrap_or("stopped")),
            };
            out.push_str(&format!(
                "  wire {}{status}: {} connections, {} commands ({rate}), {latency}; {} zero windows, {} split commands, {} dropped\n",
                w.interface,
                t.connections,
                t.commands,
                t.zero_windows,
                t.split_commands,
                w.loss.kernel_dropped + w.loss.if_dropped
            ));
            if t.moved + t.ask > 0 {
                out.push_str(&format!("  wire cluster redirections: {} MOVED, {} ASK\n", t.moved, t.ask));
            }
        }
        None => out.push_str("  wire: not seen\n"),
    }
    let open: Vec<_> = alerts.shown().into_iter().filter(|a| !a.resolved).collect();
    if open.is_empty() {
        out.push_str("  alerts: none open\n");
    }
    for a in open.iter().take(TEXT_ALERTS) {
        let count = if a.count > 1 { format!(" x{}", a.count) } else { String::new() };
        out.push_str(&format!(
            "  {} {}{count} since {}: {}\n",
            match a.severity {
                crate::engine::alerts::Severity::Critical => "CRITICAL",
                crate::engine::alerts::Severity::Warning => "WARNING",
                crate::engine::alerts::Severity::Info => "info",
            },
            a.kind.name(),
            crate::engine::alerts::clock_time(a.first_seen),
            a.message
        ));
    }
    if open.len() > TEXT_ALERTS {
        out.push_str(&format!("  … {} more open alerts\n", open.len() - TEXT_ALERTS));
    }
    out
}
