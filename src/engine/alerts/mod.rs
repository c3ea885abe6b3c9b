//! Alerts: what an on-call engineer should look at, named, timed and deduplicated.
//!
//! [`rules`] turns what the server and the wire report into findings (pure functions of the
//! latest observation and a little memory of earlier ones); the [`AlertBook`] folds findings
//! into alerts: one per kind and subject, updated in place with its last-seen time and a
//! count, and marked resolved when its condition clears. Time comes in with each fold (wall
//! clock, Unix ms), never from a clock read here, so sequences are unit-tested as they are.

pub mod rules;

use std::collections::VecDeque;

use serde::Serialize;

/// Alerts kept, resolved ones dropped first.
pub const ALERTS_KEEP: usize = 64;

/// An event alert (a slow command, evictions) with no new occurrence for this long is
/// resolved: it says "happened", not "is happening".
pub const EVENT_QUIET_MS: i64 = 60_000;

/// What an alert is about. Kinds are documented in `docs/WATCH.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A new SLOWLOG entry over the threshold.
    SlowCommand,
    /// An interval's wire p99 far over its recent baseline.
    LatencySpike,
    /// A client's output buffer over the threshold, or growing poll after poll.
    OutputBuffer,
    /// A client's query buffer over the threshold.
    QueryBuffer,
    /// Memory near `maxmemory`.
    Memory,
    /// Keys evicted.
    Evictions,
    /// Connections refused (`maxclients`).
    RejectedConnections,
    /// Clients blocked in BLPOP and friends.
    BlockedClients,
    /// The server restarted (a new `run_id`, or its uptime went back).
    ServerRestarted,
    /// The server does not answer.
    ServerDown,
    /// A replication link down or lagging.
    Replication,
    /// A MONITOR session is running.
    Monitor,
    /// Packets dropped by the kernel or the interface: the wire undercounts.
    Drops,
    /// The capture stopped or its interface is down.
    CaptureStopped,
    /// A receiver's TCP window hit zero.
    WindowStall,
    /// A notice from respscope itself (why a demo replays, what a key did).
    Notice,
    /// A Redis Cluster node that does not answer respscope's polls, or that the cluster
    /// marks failed (`-c`).
    ClusterNode,
}

impl AlertKind {
    /// Whether the kind reports events (resolved after a quiet time) rather than a condition
    /// that holds until it clears.
    pub fn is_event(self) -> bool {
        matches!(
            self,
            AlertKind::SlowCommand
                | AlertKind::Evictions
                | AlertKind::RejectedConnections
                | AlertKind::ServerRestarted
                | AlertKind::Drops
                | AlertKind::WindowStall
                | AlertKind::Notice
        )
    }

    /// The name used in JSON and on screen.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::SlowCommand => "slow_command",
            AlertKind::LatencySpike => "latency_spike",
            AlertKind::OutputBuffer => "output_buffer",
            AlertKind::QueryBuffer => "query_buffer",
            AlertKind::Memory => "memory",
            AlertKind::Evictions => "evictions",
            AlertKind::RejectedConnections => "rejected_connections",
            AlertKind::BlockedClients => "blocked_clients",
            AlertKind::ServerRestarted => "server_restarted",
            AlertKind::ServerDown => "server_down",
            AlertKind::Replication => "replication",
            AlertKind::Monitor => "monitor",
            AlertKind::Drops => "drops",
            AlertKind::CaptureStopped => "capture_stopped",
            AlertKind::WindowStall => "window_stall",
            AlertKind::Notice => "notice",
            AlertKind::ClusterNode => "cluster_node",
        }
    }
}

/// How urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth a look now.
    Warning,
    /// Something is broken or about to be.
    Critical,
}

/// Who or what an alert is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    /// The server as a whole.
    Server {
        /// Its address.
        addr: String,
    },
    /// One client connection, by address, with what CLIENT LIST says of it.
    Client {
        /// `ip:port`.
        addr: String,
        /// CLIENT SETNAME name, if any.
        name: Option<String>,
        /// `lib-name` and `lib-ver`, if announced.
        lib: Option<String>,
    },
    /// A command, by name.
    Command {
        /// Upper-cased name.
        name: String,
    },
    /// The capture.
    Capture,
    /// respscope itself.
    Respscope,
}

impl Subject {
    /// What makes two findings the same alert (a client keeps its alert when it gets a name).
    fn key(&self) -> String {
        match self {
            Subject::Server { addr } => format!("server {addr}"),
            Subject::Client { addr, .. } => format!("client {addr}"),
            Subject::Command { name } => format!("command {name}"),
            Subject::Capture => "capture".into(),
            Subject::Respscope => "respscope".into(),
        }
    }

    /// A short label for a person: a client by name and address.
    pub fn label(&self) -> String {
        match self {
            Subject::Server { addr } => format!("server {addr}"),
            Subject::Client { addr, name: Some(n), .. } if !n.is_empty() => format!("{n} {addr}"),
            Subject::Client { addr, .. } => addr.clone(),
            Subject::Command { name } => name.clone(),
            Subject::Capture => "capture".into(),
            Subject::Respscope => "respscope".into(),
        }
    }
}

/// Where the evidence behind an alert is in the console.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Evidence {
    /// Nowhere in particular (the Overview says it all).
    #[default]
    Overview,
    /// The connection detail of this client address.
    Connection(String),
    /// This SLOWLOG entry.
    Slowlog(u64),
    /// The Memory pane.
    Memory,
}

/// One thing a rule found in an observation.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What.
    pub kind: AlertKind,
    /// How urgent.
    pub severity: Severity,
    /// About whom.
    pub subject: Subject,
    /// What happened and where to look, in one line.
    pub message: String,
    /// Where the console jumps for it.
    pub evidence: Evidence,
    /// Occurrences this finding stands for (events: how many; conditions: 1).
    pub occurrences: u64,
}

/// One alert as a person sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// What.
    pub kind: AlertKind,
    /// How urgent (the highest seen while it was open).
    pub severity: Severity,
    /// When it was first seen (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: i64,
    /// When it was last seen (RFC 3339, UTC).
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: i64,
    /// Events: how many; conditions: how many times it started.
    pub count: u64,
    /// About whom.
    pub subject: Subject,
    /// The latest message.
    pub message: String,
    /// The condition cleared (or an event has not recurred for a minute).
    pub resolved: bool,
    /// Where the console jumps for it.
    #[serde(skip)]
    pub evidence: Evidence,
    #[serde(skip)]
    key: String,
}

fn rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&wall_time(*ms))
}

/// A Unix time in ms as RFC 3339 (UTC, milliseconds).
pub fn wall_time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// `HH:MM:SS` (UTC) of a Unix time in ms.
pub fn clock_time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%H:%M:%S").to_string(),
        Err(_) => "--:--:--".into(),
    }
}

/// The alerts, newest activity first, bounded.
#[derive(Clone, Debug, Default)]
pub struct AlertBook {
    alerts: VecDeque<Alert>,
}

impl AlertBook {
    /// Folds the findings of rules that evaluated `evaluated` kinds at `now_ms`: a finding
    /// opens an alert or updates the open one of its kind and subject; an open condition of an
    /// evaluated kind that was not found again is resolved; an event quiet for a minute too.
    pub fn fold(&mut self, now_ms: i64, evaluated: &[AlertKind], findings: Vec<Finding>) {
        let mut refreshed: std::collections::HashSet<String> =
            std::collections::HashSet::with_capacity(findings.len());
        for f in findings {
            let key = format!("{} {}", f.kind.name(), f.subject.key());
            match self.alerts.iter().position(|a| a.key == key) {
                Some(i) => {
                    let Some(mut a) = self.alerts.remove(i) else { continue };
                    if a.resolved {
                        // It came back: the same alert, started again.
                        a.resolved = false;
                        a.severity = f.severity;
                        a.count += if f.kind.is_event() { f.occurrences } else { 1 };
                    } else {
                        a.severity = a.severity.max(f.severity);
                        if f.kind.is_event() {
                            a.count += f.occurrences;
                        }
                    }
                    a.last_seen = now_ms;
                    a.message = f.message;
                    a.subject = f.subject;
                    a.evidence = f.evidence;
                    // Newest activity first.
                    self.alerts.push_front(a);
                }
                None => self.alerts.push_front(Alert {
                    kind: f.kind,
                    severity: f.severity,
                    first_seen: now_ms,
                    last_seen: now_ms,
                    count: if f.kind.is_event() { f.occurrences.max(1) } else { 1 },
                    subject: f.subject,
                    message: f.message,
                    resolved: false,
                    evidence: f.evidence,
                    key: key.clone(),
                }),
            }
            refreshed.insert(key);
        }
        for a in self.alerts.iter_mut().filter(|a| !a.resolved) {
            if a.kind.is_event() {
                if now_ms - a.last_seen >= EVENT_QUIET_MS {
                    a.resolved = true;
                }
            } else if evaluated.contains(&a.kind) && !refreshed.contains(&a.key) {
                a.resolved = true;
                a.last_seen = now_ms;
            }
        }
        self.trim();
    }

    /// Keeps at most [`ALERTS_KEEP`], dropping the oldest resolved ones first.
    fn trim(&mut self) {
        while self.alerts.len() > ALERTS_KEEP {
            match self.alerts.iter().rposition(|a| a.resolved) {
                Some(i) => {
                    self.alerts.remove(i);
                }
                None => {
                    self.alerts.pop_back();
                }
            }
        }
    }

    /// A notice from respscope itself, as an event alert.
    pub fn notice(&mut self, now_ms: i64, message: String) {
        self.fold(
            now_ms,
            &[],
            vec![Finding {
                kind: AlertKind::Notice,
                severity: Severity::Info,
                subject: Subject::Respscope,
                message,
                evidence: Evidence::Overview,
                occurrences: 1,
            }],
        );
    }

    /// Resolves the open alert of this kind and subject, if any.
    pub fn resolve(&mut self, now_ms: i64, kind: AlertKind, subject: &Subject) {
        let key = format!("{} {}", kind.name(), subject.key());
        for a in self.alerts.iter_mut().filter(|a| a.key == key && !a.resolved) {
            a.resolved = true;
            a.last_seen = now_ms;
        }
    }

    /// Every alert, newest activity first.
    pub fn all(&self) -> impl ExactSizeIterator<Item = &Alert> {
        self.alerts.iter()
    }

    /// Alerts not resolved, newest activity first.
    pub fn open(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| !a.resolved)
    }

    /// As a person reads them: open alerts first (the most severe first), then resolved
    /// ones, each newest activity first.
    pub fn shown(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self.alerts.iter().collect();
        // Stable: newest activity first within each group.
        v.sort_by_key(|a| {
            (a.resolved, std::cmp::Reverse(if a.resolved { Severity::Info } else { a.severity }))
        });
        v
    }

    /// How many alerts there are.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// The `i`-th alert, newest activity first.
    pub fn get(&self, i: usize) -> Option<&Alert> {
        self.alerts.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: AlertKind, who: &str, msg: &str) -> Finding {
        Finding {
            kind,
            severity: Severity::Warning,
            subject: Subject::Client { addr: who.into(), name: None, lib: None },
            message: msg.into(),
            evidence: Evidence::Connection(who.into()),
            occurrences: 1,
        }
    }

    #[test]
    fn a_condition_is_updated_in_place_then_resolved() {
        let mut b = AlertBook::default();
        let ev = [AlertKind::OutputBuffer];
        b.fold(1000, &ev, vec![f(AlertKind::OutputBuffer, "a:1", "10 MB")]);
        b.fold(2000, &ev, vec![f(AlertKind::OutputBuffer, "a:1", "20 MB")]);
        assert_eq!(b.len(), 1);
        let a = b.get(0).expect("alert");
        assert_eq!((a.first_seen, a.last_seen, a.count, a.resolved), (1000, 2000, 1, false));
        assert_eq!(a.message, "20 MB");
        b.fold(3000, &ev, vec![]);
        let a = b.get(0).expect("alert");
        assert!(a.resolved);
        assert_eq!(a.last_seen, 3000);
        // It comes back: the same alert, counted as started twice.
        b.fold(4000, &ev, vec![f(AlertKind::OutputBuffer, "a:1", "30 MB")]);
        let a = b.get(0).expect("alert");
        assert_eq!((a.first_seen, a.count, a.resolved), (1000, 2, false));
    }

    #[test]
    fn a_condition_not_evaluated_stays_open() {
        let mut b = AlertBook::default();
        b.fold(1000, &[AlertKind::OutputBuffer], vec![f(AlertKind::OutputBuffer, "a:1", "x")]);
        // A poll that could not see the clients (server down) says nothing about them.
        b.fold(2000, &[AlertKind::ServerDown], vec![]);
        assert!(!b.get(0).expect("alert").resolved);
    }

    #[test]
    fn events_count_up_and_resolve_after_a_quiet_minute() {
        let mut b = AlertBook::default();
        let mut e = f(AlertKind::WindowStall, "a:1", "stall");
        e.occurrences = 3;
        b.fold(1000, &[AlertKind::WindowStall], vec![e.clone()]);
        b.fold(2000, &[AlertKind::WindowStall], vec![e]);
        b.fold(30_000, &[AlertKind::WindowStall], vec![]);
        let a = b.get(0).expect("alert");
        assert_eq!((a.count, a.resolved), (6, false));
        b.fold(62_000, &[AlertKind::WindowStall], vec![]);
        assert!(b.get(0).expect("alert").resolved);
    }

    #[test]
    fn newest_activity_first_and_separate_subjects() {
        let mut b = AlertBook::default();
        let ev = [AlertKind::OutputBuffer];
        b.fold(1, &ev, vec![f(AlertKind::OutputBuffer, "a:1", "a"), f(AlertKind::OutputBuffer, "b:2", "b")]);
        b.fold(2, &ev, vec![f(AlertKind::OutputBuffer, "a:1", "a"), f(AlertKind::OutputBuffer, "b:2", "b")]);
        assert_eq!(b.len(), 2);
        assert!(b.all().all(|a| !a.resolved), "both were found again");
        b.fold(3, &ev, vec![f(AlertKind::OutputBuffer, "a:1", "a")]);
        assert_eq!(b.get(0).map(|a| a.subject.label()), Some("a:1".into()));
        assert_eq!(b.open().count(), 1);
    }

    #[test]
    fn bounded_dropping_resolved_first() {
        let mut b = AlertBook::default();
        b.fold(0, &[], vec![f(AlertKind::Monitor, "keep:1", "open")]);
        for i in 0..200 {
            b.notice(i, format!("n{i}"));
            // Notices are events: they count into one alert, so the book stays small.
        }
        assert_eq!(b.len(), 2);
        let many: Vec<Finding> =
            (0..100).map(|i| f(AlertKind::OutputBuffer, &format!("c:{i}"), "x")).collect();
        b.fold(1, &[AlertKind::OutputBuffer], many);
        assert_eq!(b.len(), ALERTS_KEEP);
    }

    #[test]
    fn json_names_and_times() {
        let mut b = AlertBook::default();
        b.fold(1_796_000_000_123, &[], vec![f(AlertKind::SlowCommand, "a:1", "KEYS took 78 ms")]);
        let v = serde_json::to_value(b.get(0).expect("alert")).expect("json");
        assert_eq!(v["kind"], "slow_command");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["first_seen"], "2026-11-30T00:53:20.123Z");
        assert_eq!(v["subject"]["type"], "client");
        assert_eq!(v["resolved"], false);
        assert_eq!(v["count"], 1);
    }
}
