//! The analysis model of a whole capture: contract v1 of `docs/METRICS.md`.
//!
//! Built once from a finished [`WireAnalyzer`]; every headless view renders this and nothing
//! else, so text, markdown and JSON can never disagree.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::analysis::conversation::flush::FlushVerdict;
use crate::analysis::conversation::interleave::{InterleaveReport, InterleaveSummary};
use crate::analysis::conversation::{ConnKind, LatencySummary, Library, SplitCommand};
use crate::analysis::tcp::flags;
use crate::analysis::tcp::rtt::RttStats;
use crate::analysis::wire::{CaptureCounts, Connection, Dir, Tally, WireAnalyzer};

/// Schema name of the JSON output.
pub const SCHEMA: &str = "respscope.analysis.v1";

/// The whole analysis.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Capture-wide counts.
    pub capture: CaptureSection,
    /// Sums over connections.
    pub totals: Totals,
    /// Commands by upper-cased name.
    pub commands_by_name: BTreeMap<String, u64>,
    /// Commands as INFO commandstats keys them: lower-case, container commands by
    /// subcommand (`client|list`).
    pub commands_by_stat_name: BTreeMap<String, u64>,
    /// Commands masters propagated to replica links, by name.
    pub propagated_by_name: BTreeMap<String, u64>,
    /// One entry per connection, in order of first appearance.
    pub connections: Vec<Arc<ConnReport>>,
    /// Other clients' commands inside write batches, estimated from reply order, over all
    /// connections.
    pub interleave: InterleaveSummary,
}

/// Capture-wide counts.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureSection {
    /// Every record in the file.
    pub packets: u64,
    /// TCP packets on Redis ports.
    pub tcp_packets: u64,
    /// Last minus first timestamp (µs).
    pub duration_us: i64,
    /// Redis ports analysed.
    pub ports: Vec<u16>,
    /// Records that were not IP/TCP, too short, or fragments.
    pub skipped_packets: u64,
    /// TCP segments cut short by the snap length.
    pub snapped_segments: u64,
    /// Connections summed into the totals and no longer listed: finished ones beyond a live
    /// feed's limit, and any retired to stay within the memory budget.
    pub retired_connections: u64,
    /// Connections still tracked but not in `connections` (a live snapshot lists only the
    /// busiest).
    pub unlisted_connections: u64,
    /// Problems with the input, in words.
    pub warnings: Vec<String>,
}

/// Sums over connections.
pub type Totals = Tally;

/// TCP analysis counts of a connection.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TcpSection {
    /// Zero-window segments.
    pub zero_windows: u64,
    /// Window updates.
    pub window_updates: u64,
    /// Window full.
    pub window_full: u64,
    /// Zero-window probes (tshark's and Linux's).
    pub zero_window_probes: u64,
    /// Retransmissions (plain, fast, spurious).
    pub retransmissions: u64,
    /// Out-of-order segments.
    pub out_of_order: u64,
    /// Previous segment not captured.
    pub lost_segments: u64,
    /// What tshark labels Keep-Alive (Linux zero-window probes are among them).
    pub keep_alives_tshark: u64,
}

/// A window or loss event on the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct EventEntry {
    /// Frame number.
    pub frame: u64,
    /// Microseconds since the connection's first packet.
    pub t_us: i64,
    /// Direction.
    pub dir: Dir,
    /// Raw window.
    pub window: u16,
    /// The window in bytes: raw shifted by the window scale (Wireshark's `tcp.window_size`).
    pub window_size: u32,
    /// Flag names.
    pub flags: Vec<&'static str>,
}

/// One connection.
#[derive(Clone, Debug, Serialize)]
pub struct ConnReport {
    /// Its number, in order of first appearance (as `--segments` names it).
    pub id: u64,
    /// Client address.
    pub client: String,
    /// Server address.
    pub server: String,
    /// Handshake RTT (µs), null without the whole handshake.
    pub handshake_rtt_us: Option<i64>,
    /// Round trips timed from ACKs, per direction of the timed data.
    pub ack_rtt_us: AckRttSection,
    /// Latency of PINGs sent with nothing else in flight.
    pub ping_rtt_us: RttStats,
    /// The connection is TLS: TCP numbers only, its RESP is encrypted.
    pub tls: bool,
    /// Commands.
    pub commands: u64,
    /// Replies.
    pub replies: u64,
    /// Error replies.
    pub errors: u64,
    /// `-MOVED` redirections among them (Redis Cluster: the slot lives on another node).
    pub moved: u64,
    /// `-ASK` redirections among them (the slot is migrating).
    pub ask: u64,
    /// max(0, commands - replies).
    pub unanswered: u64,
    /// Commands that straddled segments.
    pub split_commands: u64,
    /// Write batches.
    pub batches: u64,
    /// Most commands in one batch.
    pub max_batch_commands: u64,
    /// Deepest pipeline.
    pub max_pipeline_depth: i64,
    /// Unique payload bytes client to server.
    pub bytes_to_server: u64,
    /// Unique payload bytes server to client.
    pub bytes_to_client: u64,
    /// Command latency percentiles (µs).
    pub latency_us: LatencySummary,
    /// TCP analysis.
    pub tcp: TcpSection,
    /// Gaps.
    pub gaps: u64,
    /// Parse errors.
    pub parse_errors: u64,
    /// First frame number.
    pub first_frame: u64,
    /// Packets.
    pub packets: u64,
    /// Capture started after this connection did.
    pub joined_midstream: bool,
    /// Out-of-band messages: RESP3 pushes, pub/sub messages and further confirmations,
    /// MONITOR feed lines.
    pub pushes: u64,
    /// What the connection is: `client`, `subscriber`, `monitor` or `replica`.
    pub kind: ConnKind,
    /// Commands that expected no reply (`CLIENT REPLY OFF`/`SKIP`, `REPLCONF ACK`).
    pub silenced: u64,
    /// Replies with no command waiting: never paired.
    pub unsolicited: u64,
    /// Commands the master propagated on this replica link.
    pub propagated: u64,
    /// RDB bytes this replica link received.
    pub rdb_bytes: u64,
    /// Replies that straddled segments.
    pub split_replies: u64,
    /// Batches by number of commands.
    pub batch_sizes: BTreeMap<u32, u64>,
    /// How the client flushes its writes (null under three batches with commands).
    pub flush: Option<FlushVerdict>,
    /// What the client announced about itself on the wire (null: nothing).
    pub library: Option<Library>,
    /// Split commands in detail (first 1000).
    pub splits: Vec<SplitCommand>,
    /// Window and loss events (first 1000).
    pub window_events: Vec<EventEntry>,
    /// Parse errors in detail (first 100): frame, direction, offset, what.
    pub parse_error_details: Vec<String>,
    /// Other clients' commands inside its write batches, estimated from reply order; null
    /// when no batch got two replies or more.
    pub interleave: Option<InterleaveReport>,
}

/// ACK round trips of one connection.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct AckRttSection {
    /// Client data acknowledged by the server.
    pub to_server: RttStats,
    /// Server data acknowledged by the client.
    pub to_client: RttStats,
}

impl ConnReport {
    /// The connection's round-trip floor (µs): the smallest of the handshake RTT, the ACK
    /// path estimate (the larger direction minimum: the other one only times the capturing
    /// host's own ACKs) and the fastest lone PING. `None` without any of them.
    pub fn rtt_us(&self) -> Option<u64> {
        let ack = self.ack_rtt_us.to_server.min.max(self.ack_rtt_us.to_client.min);
        let hs = self.handshake_rtt_us.and_then(|v| u64::try_from(v).ok());
        [hs, ack, self.ping_rtt_us.min].into_iter().flatten().min()
    }
}

/// How much of the connections a live snapshot carries: the busiest ones, each with its
/// detail lists cut short, so a snapshot's size does not grow with the connection count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotLimits {
    /// Connections listed (the busiest in the interval first); `None` lists all.
    pub connections: Option<usize>,
    /// Split commands, window events and parse errors kept per listed connection.
    pub details: usize,
}

impl Report {
    /// Everything but the connections, which a caller lists from the analyzer one at a time
    /// ([`Connections::Analyzer`]): a capture of a million connections never holds a million
    /// connection reports.
    pub fn summary(w: &WireAnalyzer, warnings: Vec<String>) -> Report {
        let c: &CaptureCounts = &w.counts;
        let duration_us = match (c.first_ts, c.last_ts) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        // Connections no longer listed one by one still count.
        let mut t = w.retired;
        for c in &w.conns {
            t.add(c);
        }
        let by_name = |t: &crate::analysis::wire::NameTable| -> BTreeMap<String, u64> {
            t.names
                .iter()
                .zip(&t.counts)
                .filter(|(_, &n)| n > 0)
                .map(|(name, &n)| (name.to_string_lossy(), n))
                .collect()
        };
        let commands_by_name = by_name(&w.names);
        let mut warnings = warnings;
        if w.retired_for_memory > 0 {
            warnings.push(format!(
                "{} connections were summed into the totals and are not listed, to keep the connection table within {} MiB (those that carried no data first, then finished ones, then the longest idle); raise it with --memory",
                w.retired_for_memory,
                w.config().memory_budget >> 20
            ));
        }
        if c.snapped > 0 {
            warnings.push(format!(
                "{} segments were cut short by the capture's snap length; record with `-s 0` to keep whole payloads",
                c.snapped
            ));
        }
        let interleave = w.interleave_summary();
        if interleave.unresolved > 0 {
            warnings.push(interleave_warning(&interleave));
        }
        if t.gaps > 0 {
            warnings.push(format!(
                "{} gaps: bytes the capture never saw; messages across them are lost and FIFO pairing after them may be shifted",
                t.gaps
            ));
        }
        Report {
            schema: SCHEMA,
            capture: CaptureSection {
                packets: c.packets,
                tcp_packets: c.tcp_packets,
                duration_us,
                ports: w.config().ports.clone(),
                skipped_packets: c.not_tcp + c.truncated + c.fragments,
                snapped_segments: c.snapped,
                retired_connections: w.retired.connections,
                unlisted_connections: 0,
                warnings,
            },
            totals: t,
            commands_by_name,
            commands_by_stat_name: w.names.by_stat_name(),
            propagated_by_name: by_name(&w.propagated),
            connections: Vec::new(),
            interleave,
        }
    }

    /// The whole report with every connection listed.
    pub fn build(w: &WireAnalyzer, warnings: Vec<String>) -> Report {
        let mut r = Report::summary(w, warnings);
        r.connections = w.conns.iter().map(|c| Arc::new(conn_report(c))).collect();
        r
    }

    /// The connections a live snapshot lists: the busiest ones (those with the most packets
    /// since the previous snapshot, then the most in all), in order of first appearance.
    pub fn listed(w: &WireAnalyzer, limits: SnapshotLimits) -> Vec<&Connection> {
        let n = limits.connections.unwrap_or(usize::MAX).min(w.conns.len());
        let mut order: Vec<&Connection> = w.conns.iter().collect();
        let busier = |a: &&Connection, b: &&Connection| {
            b.interval_packets.cmp(&a.interval_packets).then(b.packets.cmp(&a.packets)).then(a.id.cmp(&b.id))
        };
        if n < order.len() {
            order.select_nth_unstable_by(n, busier);
            order.truncate(n);
            // Listed in order of first appearance, as the full report lists them.
            order.sort_unstable_by_key(|c| c.id);
        }
        order
    }
}

/// The connections a view lists: a report's own (a live snapshot), or built one at a time
/// from a finished analyzer (a whole capture).
#[derive(Clone, Copy)]
pub enum Connections<'a> {
    /// Already built.
    Listed(&'a [Arc<ConnReport>]),
    /// Built on the way, in order of first appearance.
    Analyzer(&'a WireAnalyzer),
}

impl<'a> Connections<'a> {
    /// The connections, each built as it is reached.
    pub fn iter(self) -> Box<dyn Iterator<Item = std::borrow::Cow<'a, ConnReport>> + 'a> {
        match self {
            Connections::Listed(v) => Box::new(v.iter().map(|c| std::borrow::Cow::Borrowed(&**c))),
            Connections::Analyzer(w) => {
                Box::new(w.conns.iter().map(|c| std::borrow::Cow::Owned(conn_report(c))))
            }
        }
    }
}

/// A report whose connections come from [`Connections`]: serialised as contract v1 with the
/// connections written one at a time.
pub struct Streamed<'a> {
    /// Everything but the connections.
    pub report: &'a Report,
    /// The connections.
    pub connections: Connections<'a>,
}

impl Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Seq<'a>(Connections<'a>);
        impl Serialize for Seq<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.iter())
            }
        }
        let r = self.report;
        let mut st = s.serialize_struct("Report", 8)?;
        st.serialize_field("schema", r.schema)?;
        st.serialize_field("capture", &r.capture)?;
        st.serialize_field("totals", &r.totals)?;
        st.serialize_field("commands_by_name", &r.commands_by_name)?;
        st.serialize_field("commands_by_stat_name", &r.commands_by_stat_name)?;
        st.serialize_field("propagated_by_name", &r.propagated_by_name)?;
        st.serialize_field("connections", &Seq(self.connections))?;
        st.serialize_field("interleave", &r.interleave)?;
        st.end()
    }
}

/// One connection's report.
pub fn conn_report(c: &Connection) -> ConnReport {
    conn_report_latest(c, usize::MAX)
}

/// One connection's report with only the latest `n` entries of each detail list (a live
/// snapshot's: nothing more is copied).
pub fn conn_report_latest(c: &Connection, n: usize) -> ConnReport {
    fn latest<T>(v: &[T], n: usize) -> &[T] {
        &v[v.len().saturating_sub(n)..]
    }
    let v = c.conv();
    ConnReport {
        id: c.id,
        client: c.client().to_string(),
        server: c.server().to_string(),
        handshake_rtt_us: c.handshake_rtt_us,
        commands: v.commands,
        replies: v.replies,
        errors: v.errors,
        moved: v.moved,
        ask: v.ask,
        unanswered: v.unanswered(),
        split_commands: v.split_commands,
        batches: v.batches.count,
        max_batch_commands: u64::from(v.batches.max_commands),
        max_pipeline_depth: v.max_depth,
        bytes_to_server: c.bytes[0],
        bytes_to_client: c.bytes[1],
        latency_us: v.latency.summary(),
        tcp: TcpSection {
            zero_windows: u64::from(c.tcp.zero_windows),
            window_updates: u64::from(c.tcp.window_updates),
            window_full: u64::from(c.tcp.window_full),
            zero_window_probes: u64::from(c.tcp.zero_window_probes),
            retransmissions: u64::from(c.tcp.retransmissions),
            out_of_order: u64::from(c.tcp.out_of_order),
            lost_segments: u64::from(c.tcp.lost_segments),
            keep_alives_tshark: u64::from(c.tcp.keep_alives),
        },
        gaps: c.gaps,
        parse_errors: c.parse_errors,
        first_frame: c.first_frame,
        packets: c.packets,
        joined_midstream: c.joined_midstream,
        pushes: v.pushes,
        kind: v.kind,
        silenced: v.silenced,
        unsolicited: v.unsolicited,
        propagated: v.propagated,
        rdb_bytes: v.rdb_bytes,
        split_replies: v.split_replies,
        batch_sizes: v.batches.sizes.clone(),
        flush: v.batches.flush.verdict(),
        library: v.library.as_deref().copied(),
        splits: latest(&v.splits, n).to_vec(),
        window_events: latest(c.events(), n)
            .iter()
            .map(|e| EventEntry {
                frame: e.frame,
                t_us: e.ts - c.first_ts,
                dir: e.dir,
                window: e.window,
                window_size: e.window_size,
                flags: event_names(e.flags),
            })
            .collect(),
        parse_error_details: latest(c.error_records(), n)
            .iter()
            .map(|e| format!("frame {} {} offset {}: {}", e.frame, e.dir.arrow(), e.offset, e.error))
            .collect(),
        ack_rtt_us: AckRttSection { to_server: c.ack_rtt().stats[0], to_client: c.ack_rtt().stats[1] },
        ping_rtt_us: v.ping_rtt,
        tls: c.tls,
        interleave: v.interleave.stats.report(),
    }
}

/// Why some batches have no interleaving estimate, and what to do about it.
fn interleave_warning(s: &InterleaveSummary) -> String {
    let why = match s.covered_before_frame {
        Some(f) => format!(
            "the index of replies per frame filled at frame #{f}, so later batches are not estimated; raise --memory (the index takes a sixth of it)"
        ),
        None => "a connection had more batches waiting to be resolved than it keeps, or its batches left the index; raise --memory or analyse with RESPSCOPE_ANALYZERS=1 (one analyzer resolves as it goes)".to_string(),
    };
    format!("interleaving: {} batches of two replies or more could not be estimated: {why}", s.unresolved)
}

/// Flag names for an event, without tshark's Keep-Alive on a Linux probe (named once, as a
/// probe).
pub fn event_names(f: u32) -> Vec<&'static str> {
    let f = if f & flags::LINUX_ZERO_WINDOW_PROBE != 0 { f & !flags::KEEP_ALIVE } else { f };
    flags::names(f).collect()
}
