//! The console's model: everything the panes show, folded from wire snapshots and server polls.
//!
//! Pure and bounded: histories are fixed-size rings, the SLOWLOG keeps its newest entries,
//! and time comes in with each update (the snapshot's or the poll's), never from a clock read
//! here. Views get `&Model` and nothing else.

use std::collections::VecDeque;

use crate::analysis::conversation::latency::IntervalLatency;
use crate::engine::activity::ConnActivity;
use crate::engine::alerts::rules::{Rules, Thresholds};
use crate::engine::alerts::{AlertBook, AlertKind, Evidence, Finding, Severity, Subject};
use crate::engine::live::{CaptureStatus, Recording};
use crate::engine::report::{ConnReport, Report};
use crate::sources::capture::live::LiveStats;
use crate::sources::server::formats::client_list::ClientRow;
use crate::sources::server::formats::slowlog::SlowEntry;
use crate::sources::server::poller::ServerPoll;

/// Points kept per time series (at one per second, two minutes).
pub const HISTORY: usize = 120;
/// SLOWLOG entries kept.
pub const SLOWLOG_KEEP: usize = 500;
/// MONITOR lines kept.
pub const MONITOR_KEEP: usize = 2000;
/// Console commands kept with their replies.
pub const CONSOLE_KEEP: usize = 100;

/// Where the wire view comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WireSource {
    /// Nothing (capture unavailable).
    #[default]
    None,
    /// Live capture on an interface.
    Live(String),
    /// Replay of a capture file.
    Replay(String),
}

/// One point of the overview's time series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Seconds since the console started (or since the replay's first packet).
    pub t: f64,
    /// Commands per second seen on the wire.
    pub wire_ops: f64,
    /// `instantaneous_ops_per_sec` from INFO.
    pub server_ops: f64,
    /// Commands answered on the wire since the previous point.
    pub answered: u64,
    /// Median latency of those commands (µs; 0 when none).
    pub p50_us: f64,
    /// Their 99th percentile (µs).
    pub p99_us: f64,
    /// Their 99.9th percentile (µs).
    pub p999_us: f64,
    /// `used_memory` (bytes).
    pub used_memory: f64,
}

/// One command as the server and the wire count it, for the per-command table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommandRow {
    /// Upper-cased name (`CLIENT|LIST` for a subcommand, as the server names it).
    pub name: String,
    /// Calls since the previous poll (the server's `commandstats`; polls come once a second).
    pub server_per_poll: u64,
    /// Commands seen on the wire between the same two polls, by the same name (`None` before
    /// the wire has seen any).
    pub wire_per_poll: Option<u64>,
    /// Calls since the server started.
    pub calls: u64,
    /// Mean execution time (µs).
    pub usec_per_call: f64,
    /// Execution time percentiles from `latencystats` (µs; 7.0+, else `None`).
    pub p50: Option<f64>,
    /// See `p50`.
    pub p99: Option<f64>,
    /// See `p50`.
    pub p999: Option<f64>,
    /// Ran and returned an error.
    pub failed: u64,
    /// Refused before running.
    pub rejected: u64,
}

/// One point of a connection's own history.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ConnPoint {
    /// Seconds, as [`Point::t`].
    pub t: f64,
    /// Deepest pipeline since the previous point.
    pub depth: i64,
    /// Its output buffer on the server (`omem` from the latest CLIENT LIST), if listed.
    pub omem: Option<u64>,
    /// Zero-window segments so far (a rise marks a stall).
    pub zero_windows: u64,
}

/// When a listed connection was last seen, packed for the Timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The connection's id.
    pub id: u64,
    /// Capture time of its last packet (µs since the Unix epoch).
    pub last_ts_us: i64,
    /// Capture time of the oldest recent segment kept, if any.
    pub recent_from_us: Option<i64>,
    /// End of its newest logged batch, if any.
    pub newest_batch_us: Option<i64>,
}

/// Everything the console shows.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// The server's address.
    pub server_addr: String,
    /// Where the wire view comes from.
    pub source: WireSource,
    /// Why there is no wire view, when there is none (with what to do).
    pub wire_unavailable: Option<String>,
    /// The workshop lab running under this console (`respscope lab`), as measured so far.
    pub lab: Option<crate::engine::lab::LabResult>,
    /// Whether the wire is being seen now.
    pub capture: Option<CaptureStatus>,
    /// Why not, when it is not (interface down, capture stopped and being reopened).
    pub capture_problem: Option<String>,
    /// `--write`'s recording, when asked for.
    pub recording: Option<Recording>,
    /// Latest wire numbers.
    pub wire: Option<Report>,
    /// Recent activity of the connections the latest wire snapshot lists, in ascending id
    /// order (as the snapshot lists them): found by binary search.
    pub activity: Vec<std::sync::Arc<ConnActivity>>,
    /// Each listed connection's times, packed, in the same order: the Timeline finds the few
    /// connections its window reaches without touching the thousands it does not.
    pub reach: Vec<Reach>,
    /// Kernel and interface drops.
    pub loss: LiveStats,
    /// Latest server poll.
    pub server: Option<ServerPoll>,
    /// The Redis Cluster's nodes (`-c`), as last published.
    pub cluster: Option<crate::sources::server::cluster::ClusterState>,
    /// Time series for the overview.
    pub history: VecDeque<Point>,
    /// `used_memory` per server poll (oldest first).
    pub memory: VecDeque<u64>,
    /// Sum of the clients' output buffers (`omem`) per server poll: what a reader that does
    /// not read costs the server.
    pub client_output: VecDeque<u64>,
    /// MONITOR lines, newest last (only while MONITOR runs).
    pub monitor: VecDeque<crate::sources::server::formats::monitor::MonitorLine>,
    /// MONITOR is streaming.
    pub monitor_on: bool,
    /// The console pane's log: (redacted command, reply lines), oldest first.
    pub console: VecDeque<(String, Vec<String>)>,
    /// Newest SLOWLOG entries first.
    pub slowlog: VecDeque<SlowEntry>,
    /// Things worth a look, newest activity first, deduplicated.
    pub alerts: AlertBook,
    /// The alert rules and what they remember.
    rules: Rules,
    /// Wall clock of the latest update (Unix ms), as the app sets it: alerts carry it.
    pub wall_ms: i64,
    /// Per connection (by client address), recent points for its detail view; only
    /// connections in the latest wire snapshot are kept.
    pub conn_history: std::collections::HashMap<String, VecDeque<ConnPoint>>,
    /// Per command: the server's counts and execution time beside the wire's rate, busiest
    /// first.
    pub commands: Vec<CommandRow>,
    /// CLIENT LIST rows by address.
    client_index: std::collections::HashMap<String, usize>,
    /// The last CLIENT LIST row of each wire connection, kept after it leaves CLIENT LIST: a
    /// closed connection keeps its name, library and user.
    identities: std::collections::HashMap<String, ClientRow>,
    /// Names the console was told by whoever opened the connections (a lab behind its
    /// proxies, where CLIENT LIST sees other addresses), by wire address.
    told: std::collections::HashMap<String, ClientRow>,
    /// The wire's command counts by name when the server was last polled.
    wire_at_poll: std::collections::BTreeMap<String, u64>,
    /// Seconds of wire time covered (replay clock, or since start).
    pub now: f64,
    last_wire: Option<(f64, u64)>,
}

impl Model {
    /// An empty model for `server_addr`.
    pub fn new(server_addr: &str, source: WireSource) -> Model {
        Model { server_addr: server_addr.to_string(), source, ..Model::default() }
    }

    /// The same with these alert thresholds.
    pub fn with_thresholds(mut self, th: Thresholds) -> Model {
        self.rules = Rules::new(th);
        self
    }

    /// The alert thresholds.
    pub fn thresholds(&self) -> &Thresholds {
        &self.rules.th
    }

    /// Sets the wall clock (Unix ms) the next updates happen at.
    pub fn set_clock(&mut self, wall_ms: i64) {
        self.wall_ms = wall_ms;
    }

    /// Folds a wire snapshot taken at `t` seconds, with the latency of the commands answered
    /// since the previous one.
    pub fn apply_wire(
        &mut self,
        t: f64,
        report: Report,
        activity: Vec<std::sync::Arc<ConnActivity>>,
        loss: LiveStats,
        latency: IntervalLatency,
    ) {
        self.set_activity(activity);
        self.now = t;
        let commands = report.totals.commands;
        let wire_ops = match self.last_wire {
            Some((t0, c0)) if t > t0 => (commands.saturating_sub(c0)) as f64 / (t - t0),
            _ => 0.0,
        };
        self.last_wire = Some((t, commands));
        self.fold_connections(t, &report);
        let clients = self.server.as_ref().filter(|s| s.up).map_or(&[][..], |s| s.clients.as_slice());
        // The capture's status is folded as it changes (apply_capture).
        let (found, evaluated) = self.rules.wire(&report, &latency, &loss, None, clients);
        let evaluated: Vec<_> =
            evaluated.iter().copied().filter(|k| *k != AlertKind::CaptureStopped).collect();
        self.alerts.fold(self.wall_ms, &evaluated, found);
        self.loss = loss;
        self.wire = Some(report);
        let server_ops = self.server.as_ref().and_then(|s| s.ops_per_sec).unwrap_or(0) as f64;
        let used_memory = self.server.as_ref().and_then(|s| s.used_memory).unwrap_or(0) as f64;
        let us = |v: Option<u64>| v.unwrap_or(0) as f64;
        self.push(Point {
            t,
            wire_ops,
            server_ops,
            answered: latency.count,
            p50_us: us(latency.p50),
            p99_us: us(latency.p99),
            p999_us: us(latency.p999),
            used_memory,
        });
    }

    /// Sets the listed connections' activity (any order) and what the Timeline reads of it.
    pub fn set_activity(&mut self, mut activity: Vec<std::sync::Arc<ConnActivity>>) {
        if !activity.is_sorted_by_key(|a| a.id) {
            activity.sort_by_key(|a| a.id);
        }
        self.reach = activity
            .iter()
            .map(|a| Reach {
                id: a.id,
                last_ts_us: a.last_ts_us,
                recent_from_us: a.recent.first().map(|s| a.first_ts_us + s.t_us),
                newest_batch_us: a.batches.last_us(),
            })
            .collect();
        self.activity = activity;
    }

    /// Adds a point to each open connection's own history (a closed one keeps what it had)
    /// and forgets connections that left.
    fn fold_connections(&mut self, t: f64, report: &Report) {
        let omem: std::collections::HashMap<&str, u64> = self
            .server
            .as_ref()
            .map(|s| s.clients.iter().map(|r| (r.addr.as_str(), r.omem)).collect())
            .unwrap_or_default();
        for c in &report.connections {
            let Some(a) = self.activity(c.id) else { continue };
            if a.closed {
                continue;
            }
            let point = ConnPoint {
                t,
                depth: a.interval_max_depth,
                omem: omem.get(c.client.as_str()).copied(),
                zero_windows: c.tcp.zero_windows,
            };
            let ring = match self.conn_history.get_mut(&c.client) {
                Some(r) => r,
                None => self.conn_history.entry(c.client.clone()).or_default(),
            };
            if ring.len() == HISTORY {
                ring.pop_front();
            }
            ring.push_back(point);
        }
        // Connections summed into the totals leave with their history.
        if self.conn_history.len() > report.connections.len() {
            let listed: std::collections::HashSet<&str> =
                report.connections.iter().map(|c| c.client.as_str()).collect();
            self.conn_history.retain(|k, _| listed.contains(k.as_str()));
        }
    }

    /// Folds the state of `--write`'s recording: a recording that stops (a full disk) is said
    /// once, as an alert, and the header shows it for as long as it lasts.
    pub fn apply_recording(&mut self, rec: Option<Recording>) {
        let failed = |r: &Option<Recording>| r.as_ref().and_then(|r| r.error.clone());
        if let (None, Some(why)) = (failed(&self.recording), failed(&rec)) {
            self.alerts.notice(self.wall_ms, format!("{why}: the capture goes on, the file ends here"));
        }
        self.recording = rec;
    }

    /// Folds the wire feed's status: a capture that stops, and one that comes back, is an
    /// alert (once per change), and the header says it while it lasts.
    pub fn apply_capture(&mut self, status: CaptureStatus, why: Option<&str>, status_for_s: f64) {
        let before = self.capture.replace(status);
        match status {
            CaptureStatus::Capturing => {
                if matches!(before, Some(CaptureStatus::Stopped | CaptureStatus::InterfaceDown)) {
                    let was = self.capture_problem.take().unwrap_or_default();
                    self.alerts.notice(
                        self.wall_ms,
                        format!("capture is back ({was}): packets while it was not running were not seen"),
                    );
                }
                self.capture_problem = None;
            }
            CaptureStatus::InterfaceDown | CaptureStatus::Stopped => {
                let why = why.unwrap_or("capture stopped").to_string();
                self.capture_problem = Some(format!("{why} (for {status_for_s:.0}s)"));
            }
            // The end of a replay is no problem: the footer says it.
            CaptureStatus::Ended => self.capture_problem = None,
        }
        let found = crate::engine::alerts::rules::capture(status, why);
        self.alerts.fold(self.wall_ms, &[AlertKind::CaptureStopped], found.into_iter().collect());
    }

    /// Folds a server poll.
    pub fn apply_server(&mut self, poll: ServerPoll) {
        let (found, evaluated) = self.rules.server(&poll, self.wire.as_ref());
        self.alerts.fold(self.wall_ms, evaluated, found);
        for e in poll.slowlog_new.iter().rev() {
            self.slowlog.push_front(e.clone());
        }
        self.slowlog.truncate(SLOWLOG_KEEP);
        if poll.up {
            // The wire's counts between the same two polls (as of the latest wire snapshot).
            // Keyed as commandstats keys them, so `client|list` joins too.
            let now = self.wire.as_ref().map(|w| w.commands_by_stat_name.clone()).unwrap_or_default();
            let wire: std::collections::BTreeMap<String, u64> = now
                .iter()
                .map(|(k, &n)| (k.clone(), n.saturating_sub(self.wire_at_poll.get(k).copied().unwrap_or(0))))
                .collect();
            self.commands = command_rows(self.server.as_ref(), &poll, &wire);
            self.wire_at_poll = now;
            let omem: u64 = poll.clients.iter().map(|c| c.omem).sum();
            for (ring, v) in
                [(&mut self.memory, poll.used_memory.unwrap_or(0)), (&mut self.client_output, omem)]
            {
                if ring.len() == HISTORY {
                    ring.pop_front();
                }
                ring.push_back(v);
            }
        }
        if poll.up {
            self.client_index = poll.clients.iter().enumerate().map(|(i, r)| (r.addr.clone(), i)).collect();
            // Remember who each wire connection is; forget those the wire no longer lists.
            let wire: std::collections::HashSet<&str> = self
                .wire
                .as_ref()
                .map(|w| w.connections.iter().map(|c| c.client.as_str()).collect())
                .unwrap_or_default();
            let ids = &mut self.identities;
            ids.retain(|a, _| wire.contains(a.as_str()));
            for r in poll.clients.iter().filter(|r| wire.contains(r.addr.as_str())) {
                ids.insert(r.addr.clone(), r.clone());
            }
            self.server = Some(poll);
        } else {
            // The last CLIENT LIST stays the best knowledge of who is who (names, libraries),
            // with the failed poll's words beside it.
            let clients = self.server.take().map(|s| s.clients).unwrap_or_default();
            self.server = Some(ServerPoll { clients, ..poll });
        }
    }

    /// Folds the cluster's state: nodes that do not answer (or that the cluster marks
    /// failed) are alerts until they come back; nodes that join or leave are said once.
    pub fn apply_cluster(&mut self, state: crate::sources::server::cluster::ClusterState) {
        if let Some(before) = &self.cluster {
            let had = |s: &crate::sources::server::cluster::ClusterState, a: &str| {
                s.nodes.iter().any(|n| n.addr == a)
            };
            let joined: Vec<&str> =
                state.nodes.iter().map(|n| n.addr.as_str()).filter(|a| !had(before, a)).collect();
            let left: Vec<&str> =
                before.nodes.iter().map(|n| n.addr.as_str()).filter(|a| !had(&state, a)).collect();
            for (what, list) in [("joined", joined), ("left", left)] {
                if !list.is_empty() {
                    let more =
                        if list.len() > 5 { format!(" and {} more", list.len() - 5) } else { String::new() };
                    let note = format!("cluster: {} {what}{more}", list[..list.len().min(5)].join(", "));
                    self.alerts.notice(self.wall_ms, note);
                }
            }
        }
        let found = crate::engine::alerts::rules::cluster(&state);
        self.alerts.fold(self.wall_ms, &[AlertKind::ClusterNode], found);
        self.cluster = Some(state);
    }

    fn push(&mut self, p: Point) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(p);
    }

    /// Folds one MONITOR line.
    pub fn monitor_line(&mut self, l: crate::sources::server::formats::monitor::MonitorLine) {
        if self.monitor.len() == MONITOR_KEEP {
            self.monitor.pop_front();
        }
        self.monitor.push_back(l);
    }

    /// MONITOR started or stopped (with why).
    pub fn monitor_state(&mut self, on: bool, why: Option<String>) {
        // The console's own session is said here, at once, and not again from CLIENT LIST.
        self.monitor_on = on;
        self.rules.own_monitor = on;
        if on {
            let found = Finding {
                kind: AlertKind::Monitor,
                severity: Severity::Info,
                subject: Subject::Respscope,
                message: "respscope's MONITOR is running: it can cost a busy server half its throughput (m stops it)"
                    .into(),
                evidence: Evidence::Overview,
                occurrences: 1,
            };
            self.alerts.fold(self.wall_ms, &[], vec![found]);
        } else {
            self.alerts.resolve(self.wall_ms, AlertKind::Monitor, &Subject::Respscope);
            if let Some(w) = why {
                self.alerts.notice(self.wall_ms, w);
            }
        }
    }

    /// Records a command typed in the console and its formatted reply.
    pub fn console_reply(&mut self, command: String, reply: Vec<String>) {
        if self.console.len() == CONSOLE_KEEP {
            self.console.pop_front();
        }
        self.console.push_back((command, reply));
    }

    /// Adds a line to the alerts (a notice from the app).
    pub fn note(&mut self, a: String) {
        self.alerts.notice(self.wall_ms, a);
    }

    /// The output buffer of respscope's own MONITOR connection on the server, if listed.
    pub fn monitor_omem(&self) -> Option<u64> {
        self.server
            .as_ref()?
            .clients
            .iter()
            .find(|c| c.name == crate::sources::server::monitor::CLIENT_NAME)
            .map(|c| c.omem)
    }

    /// The recent activity of a listed connection.
    pub fn activity(&self, id: u64) -> Option<&ConnActivity> {
        let i = self.activity.binary_search_by_key(&id, |a| a.id).ok()?;
        self.activity.get(i).map(|a| &**a)
    }

    /// Wire connections, if any.
    pub fn connections(&self) -> &[std::sync::Arc<ConnReport>] {
        self.wire.as_ref().map_or(&[], |w| w.connections.as_slice())
    }

    /// Capture time of the newest packet the wire has seen (µs since the Unix epoch).
    pub fn wire_now_us(&self) -> Option<i64> {
        self.reach.iter().map(|r| r.last_ts_us).max()
    }

    /// The listed connection numbered `id` (connections are listed in ascending id order).
    pub fn connection(&self, id: u64) -> Option<&ConnReport> {
        let conns = self.connections();
        let i = conns.binary_search_by_key(&id, |c| c.id).ok()?;
        conns.get(i).map(|c| &**c)
    }

    /// Who a connection is: its CLIENT LIST row now, or the last one it had (a closed
    /// connection keeps its name and library).
    pub fn identity(&self, addr: &str) -> Option<&ClientRow> {
        self.client_row(addr).or_else(|| self.identities.get(addr)).or_else(|| self.told.get(addr))
    }

    /// Names the connection whose client address is `addr` (as the wire sees it), for when
    /// CLIENT LIST cannot: at most [`crate::engine::live::LIVE_CLOSED_KEEP`] names are kept.
    pub fn tell_name(&mut self, addr: &str, name: &str) {
        if self.told.contains_key(addr) {
            return;
        }
        if self.told.len() >= crate::engine::live::LIVE_CLOSED_KEEP {
            self.told.clear();
        }
        let row = ClientRow { addr: addr.to_string(), name: name.to_string(), ..ClientRow::default() };
        self.told.insert(addr.to_string(), row);
    }

    /// A client as a person knows it: its CLIENT SETNAME name and address, or the address.
    pub fn client_label(&self, addr: &str) -> String {
        match self.identity(addr) {
            Some(r) if !r.name.is_empty() => format!("{} {addr}", r.name),
            _ => addr.to_string(),
        }
    }

    /// Whether a connection is respscope's own (its poller, console or MONITOR), by the name
    /// it gave itself.
    pub fn is_own(&self, addr: &str) -> bool {
        self.identity(addr)
            .is_some_and(|r| r.name.starts_with(crate::sources::server::client::OWN_NAME_PREFIX))
    }

    /// The CLIENT LIST row of a wire connection, joined by address.
    pub fn client_row(&self, client_addr: &str) -> Option<&ClientRow> {
        // An index, not a scan: views ask this for every connection on every frame.
        self.server.as_ref()?.clients.get(*self.client_index.get(client_addr)?)
    }
}

/// The per-command table from a poll, the one before it and the wire's counts between them.
fn command_rows(
    prev: Option<&ServerPoll>,
    poll: &ServerPoll,
    wire: &std::collections::BTreeMap<String, u64>,
) -> Vec<CommandRow> {
    let lat =
        poll.info.as_ref().map(crate::sources::server::formats::info::latency_stats).unwrap_or_default();
    let before = |name: &str| {
        prev.filter(|p| p.up).and_then(|p| p.commandstats.iter().find(|c| c.name == name)).map(|c| c.calls)
    };
    let mut rows: Vec<CommandRow> = poll
        .commandstats
        .iter()
        .map(|c| {
            let l = lat.iter().find(|l| l.name == c.name);
            let name = c.name.to_ascii_uppercase();
            CommandRow {
                wire_per_poll: Some(wire.get(&c.name.to_ascii_lowercase()).copied().unwrap_or(0)),
                name,
                // A restart resets the counts: then everything counted is new.
                server_per_poll: before(&c.name).map_or(0, |b| c.calls.checked_sub(b).unwrap_or(c.calls)),
                calls: c.calls,
                usec_per_call: c.usec_per_call,
                p50: l.map(|l| l.p50),
                p99: l.map(|l| l.p99),
                p999: l.map(|l| l.p999),
                failed: c.failed_calls,
                rejected: c.rejected_calls,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.server_per_poll.cmp(&a.server_per_poll).then(b.calls.cmp(&a.calls)));
    rows
}
