//! The alert rules: pure functions from what a server poll or a wire snapshot says (and a
//! little memory of earlier ones) to [`Finding`]s. Each rule names its subject and says in
//! one line what happened and where to look. Thresholds are the `--alert-*` flags
//! (`docs/CONSOLE.md`).

use std::collections::{HashMap, VecDeque};

use super::{AlertKind, Evidence, Finding, Severity, Subject};
use crate::analysis::conversation::latency::IntervalLatency;
use crate::engine::live::CaptureStatus;
use crate::engine::report::Report;
use crate::sources::capture::live::LiveStats;
use crate::sources::server::formats::client_list::ClientRow;
use crate::sources::server::poller::ServerPoll;

/// What makes an alert: every number a flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// A SLOWLOG entry at least this long is a slow command (µs).
    pub slow_us: u64,
    /// An interval's wire p99 this many times its baseline is a spike.
    pub spike_factor: f64,
    /// ... and at least this high (µs): microsecond wobble is no spike.
    pub spike_floor_us: u64,
    /// A client output buffer this large (bytes).
    pub omem_bytes: u64,
    /// A client output buffer that grew in this many polls in a row (and holds 1 MiB).
    pub omem_growing_polls: usize,
    /// A client query buffer this large (bytes).
    pub qbuf_bytes: u64,
    /// Memory at this percentage of `maxmemory`.
    pub memory_pct: f64,
    /// Blocked clients at least this many.
    pub blocked_clients: u64,
    /// A replica this many seconds behind.
    pub replica_lag_s: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            slow_us: 10_000,
            spike_factor: 5.0,
            spike_floor_us: 1_000,
            omem_bytes: 32 << 20,
            omem_growing_polls: 5,
            qbuf_bytes: 32 << 20,
            memory_pct: 90.0,
            blocked_clients: 1,
            replica_lag_s: 10,
        }
    }
}

/// Intervals of wire p99 the latency baseline is the median of.
const BASELINE: usize = 30;
/// An interval needs this many answered commands to count for or against the baseline.
const SPIKE_MIN_COUNT: u64 = 20;
/// Findings of one rule per observation: the worst ones.
const PER_RULE: usize = 10;
/// A growing output buffer must hold at least this much to be worth an alert.
const OMEM_GROWING_MIN: u64 = 1 << 20;
/// Clients remembered for the growth rule (the largest buffers).
const OMEM_TRACKED: usize = 256;
/// Connections whose zero-window count is remembered.
const ZERO_WINDOWS_TRACKED: usize = 4096;

/// Rule memory: what earlier observations said.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// The thresholds.
    pub th: Thresholds,
    /// This process runs MONITOR itself and says so (the console): its own session, named
    /// by CLIENT SETNAME, is not reported again from CLIENT LIST.
    pub own_monitor: bool,
    /// The last `run_id` and uptime seen, kept across polls that failed.
    last_run: Option<(String, u64)>,
    /// The previous poll's counters (from a poll that reached the server).
    last_evicted: Option<u64>,
    last_rejected: Option<u64>,
    /// Output buffers of the largest clients over the last polls, by address.
    omem: HashMap<String, VecDeque<u64>>,
    /// Recent intervals' wire p99 (µs).
    p99s: VecDeque<u64>,
    /// Zero windows per connection at the previous snapshot, by client address.
    zero_windows: HashMap<String, u64>,
    /// Drops at the previous snapshot.
    dropped: Option<u64>,
}

/// The kinds [`Rules::server`] evaluates on a poll that reached the server.
pub const SERVER_KINDS: &[AlertKind] = &[
    AlertKind::SlowCommand,
    AlertKind::OutputBuffer,
    AlertKind::QueryBuffer,
    AlertKind::Memory,
    AlertKind::Evictions,
    AlertKind::RejectedConnections,
    AlertKind::BlockedClients,
    AlertKind::ServerRestarted,
    AlertKind::ServerDown,
    AlertKind::Replication,
    AlertKind::Monitor,
];

/// The kinds [`Rules::wire`] evaluates.
pub const WIRE_KINDS: &[AlertKind] =
    &[AlertKind::LatencySpike, AlertKind::Drops, AlertKind::CaptureStopped, AlertKind::WindowStall];

/// A client as an alert's subject.
pub fn client_subject(addr: &str, row: Option<&ClientRow>) -> Subject {
    let name = row.map(|r| r.name.clone()).filter(|n| !n.is_empty());
    let lib = row.and_then(|r| {
        r.lib_name.as_ref().map(|l| match &r.lib_ver {
            Some(v) if !v.is_empty() => format!("{l} {v}"),
            _ => l.clone(),
        })
    });
    Subject::Client { addr: addr.to_string(), name, lib }
}

/// Bytes for a person: `950 B`, `12.5 KiB`, `92.0 MiB`, `1.2 GiB`.
fn mib(b: u64) -> String {
    let f = b as f64;
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", f / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", f / 1_048_576.0),
        _ => format!("{:.1} GiB", f / 1_073_741_824.0),
    }
}

fn ms(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else {
        format!("{:.1} ms", us as f64 / 1e3)
    }
}

/// The capture's status as a finding: stopped or its interface down.
pub fn capture(status: CaptureStatus, why: Option<&str>) -> Option<Finding> {
    let default = match status {
        CaptureStatus::Stopped => "capture stopped",
        CaptureStatus::InterfaceDown => "interface down",
        CaptureStatus::Capturing | CaptureStatus::Ended => return None,
    };
    Some(Finding {
        kind: AlertKind::CaptureStopped,
        severity: Severity::Critical,
        subject: Subject::Capture,
        message: format!(
            "the wire is not seen: {} (reopened with backoff; packets meanwhile are lost)",
            why.unwrap_or(default)
        ),
        evidence: Evidence::Overview,
        occurrences: 1,
    })
}

/// A cluster's nodes as findings (`-c`): one that does not answer respscope's polls, or that
/// the cluster marks failed (`fail`, or `pfail` as the node answering discovery sees it). A
/// master is critical (its slots are unserved), a replica a warning. Nodes whose first poll
/// has not finished yet are not judged.
pub fn cluster(state: &crate::sources::server::cluster::ClusterState) -> Vec<Finding> {
    state
        .nodes
        .iter()
        .filter_map(|n| {
            let failed = matches!(n.health.as_str(), "fail" | "pfail");
            let why = match (&n.error, n.up) {
                (Some(e), false) => format!("does not answer: {e}"),
                _ if failed => format!("is marked {} by the cluster", n.health),
                _ => return None,
            };
            let master = n.role == crate::sources::server::formats::cluster::Role::Master;
            let slots = if n.slots > 0 { format!(", {} slots", n.slots) } else { String::new() };
            Some(Finding {
                kind: AlertKind::ClusterNode,
                severity: if master { Severity::Critical } else { Severity::Warning },
                subject: Subject::Server { addr: n.addr.clone() },
                message: format!("cluster node {} ({}{slots}) {why}", n.addr, n.role.name()),
                evidence: Evidence::Overview,
                occurrences: 1,
            })
        })
        .collect()
}

impl Rules {
    /// Rules with these thresholds.
    pub fn new(th: Thresholds) -> Rules {
        Rules { th, ..Rules::default() }
    }

    /// Findings from a server poll; `wire` (the latest wire snapshot, if any) adds the zero
    /// windows of a client with a full output buffer. Returns the kinds it could evaluate:
    /// a poll that failed says nothing about clients or memory.
    pub fn server(
        &mut self,
        poll: &ServerPoll,
        wire: Option<&Report>,
    ) -> (Vec<Finding>, &'static [AlertKind]) {
        let addr = poll.addr.clone();
        let server = || Subject::Server { addr: addr.clone() };
        let mut out = Vec::new();
        if !poll.up {
            out.push(Finding {
                kind: AlertKind::ServerDown,
                severity: Severity::Critical,
                subject: server(),
                message: format!(
                    "the server does not answer ({} failed polls): {}",
                    poll.failures,
                    poll.error.as_deref().unwrap_or("no reply")
                ),
                evidence: Evidence::Overview,
                occurrences: 1,
            });
            return (out, &[AlertKind::ServerDown]);
        }
        let info = poll.info.as_ref();
        let get = |k: &str| info.and_then(|i| i.get_u64(k));

        // Restarted: a new run_id, or uptime that went back.
        let run_id = info.and_then(|i| i.get("run_id")).map(str::to_string);
        let uptime = get("uptime_in_seconds");
        if let (Some(id), Some(up)) = (run_id, uptime) {
            if let Some((old_id, old_up)) = &self.last_run {
                if *old_id != id || up < *old_up {
                    out.push(Finding {
                        kind: AlertKind::ServerRestarted,
                        severity: Severity::Warning,
                        subject: server(),
                        message: format!(
                            "the server restarted {up} s ago (run_id {}…): counters, SLOWLOG and clients start over",
                            id.get(..8).unwrap_or(&id)
                        ),
                        evidence: Evidence::Overview,
                        occurrences: 1,
                    });
                    // Counters start over with it.
                    self.last_evicted = None;
                    self.last_rejected = None;
                }
            }
            self.last_run = Some((id, up));
        }

        // Slow commands: each new SLOWLOG entry over the threshold, by command.
        let mut slow: Vec<_> = poll.slowlog_new.iter().filter(|e| e.duration_us >= self.th.slow_us).collect();
        slow.sort_by_key(|e| std::cmp::Reverse(e.duration_us));
        let mut by_cmd: Vec<(String, u64, &crate::sources::server::formats::slowlog::SlowEntry)> = Vec::new();
        for e in slow {
            let name = e.args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_else(|| "?".into());
            match by_cmd.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, n, _)) => *n += 1,
                None => by_cmd.push((name, 1, e)),
            }
        }
        for (name, n, e) in by_cmd.into_iter().take(PER_RULE) {
            let who = match (e.client_name.as_str(), e.client_addr.as_str()) {
                ("", "") => "an unknown client".to_string(),
                ("", a) => a.to_string(),
                (n, a) => format!("{n} {a}"),
            };
            let more = if n > 1 { format!(" ({n} new entries)") } else { String::new() };
            out.push(Finding {
                kind: AlertKind::SlowCommand,
                severity: if e.duration_us >= 10 * self.th.slow_us { Severity::Critical } else { Severity::Warning },
                subject: Subject::Command { name },
                message: format!(
                    "`{}` took {} on the server, from {who}{more}: every other client waited behind it (Slowlog #{})",
                    e.args.join(" "),
                    ms(e.duration_us),
                    e.id
                ),
                evidence: Evidence::Slowlog(e.id),
                occurrences: n,
            });
        }

        // Output and query buffers, the largest first.
        let zero_windows = |a: &str| {
            wire.and_then(|w| w.connections.iter().find(|c| c.client == a)).map_or(0, |c| c.tcp.zero_windows)
        };
        let mut big: Vec<&ClientRow> = poll.clients.iter().filter(|c| c.omem > 0).collect();
        big.sort_by_key(|c| std::cmp::Reverse(c.omem));
        big.truncate(OMEM_TRACKED);
        let mut tracked = HashMap::with_capacity(big.len());
        let mut buffers = Vec::new();
        for c in &big {
            let mut ring = self.omem.remove(&c.addr).unwrap_or_default();
            if ring.len() > self.th.omem_growing_polls {
                ring.pop_front();
            }
            ring.push_back(c.omem);
            let growing = ring.len() > self.th.omem_growing_polls
                && ring.iter().zip(ring.iter().skip(1)).all(|(a, b)| b > a)
                && c.omem >= OMEM_GROWING_MIN;
            if (c.omem >= self.th.omem_bytes || growing) && buffers.len() < PER_RULE {
                let zw = zero_windows(&c.addr);
                let wire_says = if zw > 0 {
                    format!("; on the wire its receive window hit zero {zw} times: it is not reading")
                } else {
                    String::new()
                };
                let how = if c.omem >= self.th.omem_bytes {
                    format!("over {}", mib(self.th.omem_bytes))
                } else {
                    format!("growing for {} polls", self.th.omem_growing_polls)
                };
                let subject = client_subject(&c.addr, Some(c));
                buffers.push(Finding {
                    kind: AlertKind::OutputBuffer,
                    severity: if c.omem >= 4 * self.th.omem_bytes { Severity::Critical } else { Severity::Warning },
                    message: format!(
                        "{} holds {} of replies the server could not send ({how}, last command {}){wire_says}",
                        subject.label(),
                        mib(c.omem),
                        c.cmd
                    ),
                    subject,
                    evidence: Evidence::Connection(c.addr.clone()),
                    occurrences: 1,
                });
            }
            tracked.insert(c.addr.clone(), ring);
        }
        self.omem = tracked;
        out.extend(buffers);
        let mut qbufs: Vec<&ClientRow> =
            poll.clients.iter().filter(|c| c.qbuf >= self.th.qbuf_bytes).collect();
        qbufs.sort_by_key(|c| std::cmp::Reverse(c.qbuf));
        for c in qbufs.into_iter().take(PER_RULE) {
            let subject = client_subject(&c.addr, Some(c));
            out.push(Finding {
                kind: AlertKind::QueryBuffer,
                severity: Severity::Warning,
                message: format!(
                    "{} has {} of commands waiting in its query buffer (the server has not parsed them yet)",
                    subject.label(),
                    mib(c.qbuf)
                ),
                subject,
                evidence: Evidence::Connection(c.addr.clone()),
                occurrences: 1,
            });
        }

        // Memory near maxmemory; evictions.
        if let (Some(used), Some(max)) = (poll.used_memory, get("maxmemory")) {
            if max > 0 {
                let pct = used as f64 * 100.0 / max as f64;
                if pct >= self.th.memory_pct {
                    out.push(Finding {
                        kind: AlertKind::Memory,
                        severity: if pct >= 98.0 { Severity::Critical } else { Severity::Warning },
                        subject: server(),
                        message: format!(
                            "memory at {pct:.0}% of maxmemory ({} of {}, policy {}): see the Memory pane",
                            mib(used),
                            mib(max),
                            info.and_then(|i| i.get("maxmemory_policy")).unwrap_or("?")
                        ),
                        evidence: Evidence::Memory,
                        occurrences: 1,
                    });
                }
            }
        }
        for (kind, now, last, what) in [
            (
                AlertKind::Evictions,
                poll.evicted_keys,
                &mut self.last_evicted,
                "keys evicted since the last poll: maxmemory reached, the server is dropping data",
            ),
            (
                AlertKind::RejectedConnections,
                poll.rejected_connections,
                &mut self.last_rejected,
                "connections rejected since the last poll: maxclients reached",
            ),
        ] {
            if let (Some(now), Some(prev)) = (now, *last) {
                if now > prev {
                    out.push(Finding {
                        kind,
                        severity: Severity::Warning,
                        subject: server(),
                        message: format!("{} {what}", now - prev),
                        evidence: if kind == AlertKind::Evictions {
                            Evidence::Memory
                        } else {
                            Evidence::Overview
                        },
                        occurrences: now - prev,
                    });
                }
            }
            if now.is_some() {
                *last = now;
            }
        }

        // Blocked clients.
        if let Some(n) = get("blocked_clients") {
            if n >= self.th.blocked_clients.max(1) {
                let cmds: Vec<String> = poll
                    .clients
                    .iter()
                    .filter(|c| c.flags.contains('b'))
                    .take(3)
                    .map(|c| {
                        let s = client_subject(&c.addr, Some(c));
                        format!("{} in {}", s.label(), c.cmd)
                    })
                    .collect();
                let which = if cmds.is_empty() { String::new() } else { format!(": {}", cmds.join(", ")) };
                out.push(Finding {
                    kind: AlertKind::BlockedClients,
                    severity: Severity::Info,
                    subject: server(),
                    message: format!("{n} client(s) blocked waiting for data{which}"),
                    evidence: Evidence::Overview,
                    occurrences: 1,
                });
            }
        }

        // Replication: a replica's link to its master, a master's replicas.
        if let Some(i) = info {
            if i.get("role") == Some("slave") && i.get("master_link_status") != Some("up") {
                out.push(Finding {
                    kind: AlertKind::Replication,
                    severity: Severity::Critical,
                    subject: server(),
                    message: format!(
                        "the link to master {}:{} is {} (down for {} s)",
                        i.get("master_host").unwrap_or("?"),
                        i.get("master_port").unwrap_or("?"),
                        i.get("master_link_status").unwrap_or("?"),
                        i.get("master_link_down_since_seconds").unwrap_or("?")
                    ),
                    evidence: Evidence::Overview,
                    occurrences: 1,
                });
            }
            for (k, v) in i.section("replication").unwrap_or_default() {
                if !k.starts_with("slave") || k.starts_with("slave_") {
                    continue;
                }
                // slave0:ip=127.0.0.1,port=6380,state=online,offset=14,lag=0
                let field = |name: &str| {
                    v.split(',').find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
                };
                let lag = field("lag").and_then(|l| l.parse::<u64>().ok()).unwrap_or(0);
                let state = field("state").unwrap_or("?");
                if state != "online" || lag >= self.th.replica_lag_s {
                    out.push(Finding {
                        kind: AlertKind::Replication,
                        severity: Severity::Warning,
                        subject: server(),
                        message: format!(
                            "replica {}:{} is {state}, {lag} s behind",
                            field("ip").unwrap_or("?"),
                            field("port").unwrap_or("?")
                        ),
                        evidence: Evidence::Overview,
                        occurrences: 1,
                    });
                }
            }
        }

        // MONITOR sessions, respscope's own included.
        for c in poll.clients.iter().filter(|c| c.cmd == "monitor").take(PER_RULE) {
            let ours = c.name == crate::sources::server::monitor::CLIENT_NAME;
            if ours && self.own_monitor {
                continue;
            }
            let subject = client_subject(&c.addr, Some(c));
            out.push(Finding {
                kind: AlertKind::Monitor,
                severity: if ours { Severity::Info } else { Severity::Warning },
                message: if ours {
                    "respscope's MONITOR is running: it can cost a busy server half its throughput (m stops it)"
                        .to_string()
                } else {
                    format!(
                        "{} is running MONITOR: it can cost a busy server half its throughput",
                        subject.label()
                    )
                },
                subject,
                evidence: Evidence::Connection(c.addr.clone()),
                occurrences: 1,
            });
        }
        (out, SERVER_KINDS)
    }

    /// Findings from a wire snapshot: the interval's latency against its baseline, drops, the
    /// capture's status, and connections whose window hit zero since the previous snapshot
    /// (named by `clients`, the latest CLIENT LIST).
    pub fn wire(
        &mut self,
        report: &Report,
        latency: &IntervalLatency,
        loss: &LiveStats,
        status: Option<(CaptureStatus, Option<&str>)>,
        clients: &[ClientRow],
    ) -> (Vec<Finding>, &'static [AlertKind]) {
        let mut out = Vec::new();
        if let (Some(p99), true) = (latency.p99, latency.count >= SPIKE_MIN_COUNT) {
            if self.p99s.len() >= BASELINE / 3 {
                let mut sorted: Vec<u64> = self.p99s.iter().copied().collect();
                sorted.sort_unstable();
                let base = sorted[sorted.len() / 2].max(1);
                if p99 >= self.th.spike_floor_us && p99 as f64 >= self.th.spike_factor * base as f64 {
                    out.push(Finding {
                        kind: AlertKind::LatencySpike,
                        severity: Severity::Warning,
                        subject: Subject::Capture,
                        message: format!(
                            "wire p99 {} over {} commands, {:.0}x its recent baseline of {}: see the Timeline and Slowlog",
                            ms(p99),
                            latency.count,
                            p99 as f64 / base as f64,
                            ms(base)
                        ),
                        evidence: Evidence::Overview,
                        occurrences: 1,
                    });
                }
            }
            if self.p99s.len() == BASELINE {
                self.p99s.pop_front();
            }
            self.p99s.push_back(p99);
        }

        let dropped = loss.kernel_dropped + loss.if_dropped;
        if let Some(prev) = self.dropped {
            if dropped > prev {
                out.push(Finding {
                    kind: AlertKind::Drops,
                    severity: Severity::Warning,
                    subject: Subject::Capture,
                    message: format!(
                        "{} packets dropped by the kernel or the interface: wire numbers undercount from here",
                        dropped - prev
                    ),
                    evidence: Evidence::Overview,
                    occurrences: dropped - prev,
                });
            }
        }
        self.dropped = Some(dropped);

        if let Some((s, why)) = status {
            out.extend(capture(s, why));
        }

        // Connections a snapshot does not list keep their count, so one that comes back is
        // not taken for a new stall; the memory is bounded.
        let mut zw = std::mem::take(&mut self.zero_windows);
        if zw.len() > ZERO_WINDOWS_TRACKED {
            zw.clear();
        }
        let mut stalls = Vec::new();
        for c in &report.connections {
            let now = c.tcp.zero_windows;
            let before = zw.get(&c.client).copied().unwrap_or(0);
            if now > before && stalls.len() < PER_RULE {
                let row = clients.iter().find(|r| r.addr == c.client);
                let subject = client_subject(&c.client, row);
                let omem =
                    row.map(|r| format!(", {} waiting on the server", mib(r.omem))).unwrap_or_default();
                stalls.push(Finding {
                    kind: AlertKind::WindowStall,
                    severity: Severity::Warning,
                    message: format!(
                        "{}: its receive window hit zero {} times (total {now}){omem}: it reads slower than the server replies",
                        subject.label(),
                        now - before
                    ),
                    subject,
                    evidence: Evidence::Connection(c.client.clone()),
                    occurrences: now - before,
                });
            }
            if now > 0 {
                zw.insert(c.client.clone(), now);
            }
        }
        self.zero_windows = zw;
        out.extend(stalls);
        (out, WIRE_KINDS)
    }
}

#[cfg(test)]
mod tests;
