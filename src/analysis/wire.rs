//! The wire analyzer: frames in, Redis connections out.
//!
//! For each TCP segment on a Redis port: find (or start) its connection, orient it (the SYN's
//! sender is the client; without a SYN, the side not on a Redis port; if both are, the lower
//! port is the server), run tshark's TCP analysis, reassemble, parse RESP and fold the
//! messages into the connection's [`Conversation`].
//!
//! Memory is bounded: a connection's live state is a fixed-size struct plus reassembly and
//! resync buffers that are capped; the connection table itself is capped at
//! [`MAX_CONNECTIONS`], beyond which new connections are counted in totals only.

use std::net::{IpAddr, SocketAddr};

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;

use crate::analysis::conversation::latency::{IntervalLatency, MAX_LATENCY_US};
use crate::analysis::conversation::{Conversation, SegRef, Step};
use crate::analysis::resp::{Event, Found, Kind, Name, ParseError, RespStream, Role};
use crate::analysis::tcp::flags::{self, Analysis, Seg};
use crate::analysis::tcp::rtt::AckRtt;
use crate::analysis::tcp::{Delivery, Reassembler};
use crate::sources::capture::decode::flags as tcpf;
use crate::sources::capture::{decode, Frame, Link, Skip, TcpPacket};

/// Connections kept with full detail.
pub const MAX_CONNECTIONS: usize = 200_000;
/// Window events kept per connection for the timeline (all are counted).
pub const MAX_WINDOW_EVENTS: usize = 1000;
/// Distinct command names counted one by one; the rest share `(other)`.
pub const MAX_NAMES: usize = 4096;
/// Parse errors kept per connection in detail.
pub const MAX_ERROR_RECORDS: usize = 100;

/// What to analyse and how much detail to keep.
#[derive(Clone, Debug)]
pub struct WireConfig {
    /// Redis server ports.
    pub ports: Vec<u16>,
    /// Build display previews of commands and replies.
    pub previews: bool,
}

impl Default for WireConfig {
    fn default() -> Self {
        WireConfig { ports: vec![6379], previews: false }
    }
}

/// Whole-capture counters.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CaptureCounts {
    /// Every record read.
    pub packets: u64,
    /// TCP packets on a Redis port.
    pub tcp_packets: u64,
    /// First timestamp (µs).
    pub first_ts: Option<i64>,
    /// Last timestamp (µs).
    pub last_ts: Option<i64>,
    /// Records that were not IP/TCP.
    pub not_tcp: u64,
    /// Records too short to decode.
    pub truncated: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// TCP segments whose payload was cut by the snap length.
    pub snapped: u64,
    /// Connections beyond [`MAX_CONNECTIONS`], counted in totals only.
    pub untracked_connections: u64,
}

/// Per-connection TCP analysis counts.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct TcpCounts {
    /// Segments advertising a zero window.
    pub zero_windows: u64,
    /// Window updates.
    pub window_updates: u64,
    /// Segments that filled the receiver's window exactly.
    pub window_full: u64,
    /// Zero-window probes (tshark's and Linux's).
    pub zero_window_probes: u64,
    /// Retransmissions (plain, fast and spurious).
    pub retransmissions: u64,
    /// Out-of-order segments.
    pub out_of_order: u64,
    /// Previous segment not captured.
    pub lost_segments: u64,
    /// Segments tshark calls Keep-Alive (Linux window probes among them).
    #[serde(skip)]
    pub keep_alives: u64,
    /// Duplicate ACKs.
    #[serde(skip)]
    pub duplicate_acks: u64,
}

impl TcpCounts {
    fn add(&mut self, f: u32) {
        let bump = |bit: u32, c: &mut u64| {
            if f & bit != 0 {
                *c += 1;
            }
        };
        bump(flags::ZERO_WINDOW, &mut self.zero_windows);
        bump(flags::WINDOW_UPDATE, &mut self.window_updates);
        bump(flags::WINDOW_FULL, &mut self.window_full);
        bump(flags::ANY_ZERO_WINDOW_PROBE, &mut self.zero_window_probes);
        bump(flags::ANY_RETRANSMISSION, &mut self.retransmissions);
        bump(flags::OUT_OF_ORDER, &mut self.out_of_order);
        bump(flags::LOST_SEGMENT, &mut self.lost_segments);
        bump(flags::KEEP_ALIVE, &mut self.keep_alives);
        bump(flags::DUPLICATE_ACK, &mut self.duplicate_acks);
    }
}

/// Direction of a segment within its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Dir {
    /// Client to server.
    #[serde(rename = "to_server")]
    ToServer,
    /// Server to client.
    #[serde(rename = "to_client")]
    ToClient,
}

impl Dir {
    fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
    /// Arrow for listings.
    pub fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "C→S",
            Dir::ToClient => "S→C",
        }
    }
}

/// A flow-control or loss event for a connection's timeline.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct WindowEvent {
    /// Frame number.
    pub frame: u64,
    /// Timestamp (µs).
    pub ts: i64,
    /// Direction of the segment.
    pub dir: Dir,
    /// Analysis flags ([`flags`]).
    pub flags: u32,
    /// Raw window advertised.
    pub window: u16,
}

/// A parse error, where it happened.
#[derive(Clone, Copy, Debug)]
pub struct ParseErrorRecord {
    /// Frame in which it was found.
    pub frame: u64,
    /// Direction.
    pub dir: Dir,
    /// Stream offset.
    pub offset: u64,
    /// What was wrong.
    pub error: ParseError,
}

/// One message completed in a segment (for the per-segment listing).
#[derive(Clone, Debug)]
pub struct SegmentItem {
    /// The message.
    pub found: Found<SegRef>,
    /// Its redacted preview.
    pub preview: crate::analysis::resp::Preview,
    /// What the conversation made of it.
    pub step: Step,
}

/// One segment in a few numbers, for the console's packet list: cheap enough to keep for
/// every segment of a live capture (a bounded ring per connection).
#[derive(Clone, Copy, Debug)]
pub struct SegmentLine {
    /// Frame number.
    pub frame: u64,
    /// Microseconds since the connection's first packet.
    pub t_us: i64,
    /// Direction.
    pub dir: Dir,
    /// Payload length.
    pub len: u32,
    /// TCP flag bits.
    pub tcp_flags: u8,
    /// Raw window.
    pub window: u16,
    /// Analysis flags.
    pub analysis: u32,
    /// Commands completed here.
    pub commands: u32,
    /// Replies completed here (error replies included).
    pub replies: u32,
    /// Error replies among them.
    pub errors: u32,
    /// Pushes completed here.
    pub pushes: u32,
    /// Name of the last command completed here.
    pub last_command: Option<Name>,
    /// Messages completed here that began in an earlier segment.
    pub split_ends: u32,
    /// A message begins here and continues in a later segment.
    pub split_starts: bool,
    /// Gaps declared here.
    pub gaps: u32,
    /// Parse errors found here.
    pub parse_errors: u32,
}

/// A message that starts in a segment and continues in a later one.
#[derive(Clone, Copy, Debug)]
pub struct SplitStart {
    /// Stream offset of its first byte.
    pub offset: u64,
    /// Its bytes in this segment.
    pub bytes: u64,
    /// Token at the cut.
    pub cut: crate::analysis::resp::Token,
    /// Its top-level header line (`*N\r\n`) is complete in this segment.
    pub header_done: bool,
}

/// One analysed segment (only built when a listing asks for it).
#[derive(Clone, Debug)]
pub struct SegmentRecord {
    /// Frame number.
    pub frame: u64,
    /// Timestamp (µs).
    pub ts: i64,
    /// Connection index.
    pub conn: usize,
    /// Direction.
    pub dir: Dir,
    /// Payload length.
    pub len: u32,
    /// TCP flag bits.
    pub tcp_flags: u8,
    /// Raw window.
    pub window: u16,
    /// Analysis flags.
    pub analysis: u32,
    /// Messages completed here.
    pub items: Vec<SegmentItem>,
    /// A message that starts here and continues in a later segment: its start offset, the
    /// bytes it has here and the token at the cut.
    pub split_start: Option<SplitStart>,
    /// Gaps declared while processing this segment (stream offset, length).
    pub gaps: Vec<(u64, u64)>,
    /// Parse errors found here.
    pub errors: Vec<ParseError>,
}

/// A TLS record header (handshake or application data, TLS 1.0 to 1.3): no RESP message
/// starts with these bytes.
fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [0x16 | 0x17, 0x03, 0x00..=0x04, ..])
}

/// What every connection's messages also fold into: the capture-wide command names and,
/// when the console asks for it, the histogram of this interval's latencies.
struct Shared<'a> {
    names: &'a mut NameTable,
    interval: Option<&'a mut Histogram<u32>>,
}

/// Folds one stream event into the connection; returns what to list for the segment.
fn apply_event(
    ev: &Event<'_, SegRef>,
    dir: Dir,
    conv: &mut Conversation,
    shared: &mut Shared<'_>,
    errors: &mut Vec<ParseErrorRecord>,
    rec: Option<&mut SegmentRecord>,
) {
    let names = &mut *shared.names;
    match ev {
        Event::Message { found, preview } => {
            let step = match &found.msg.kind {
                Kind::Command { name, .. } => {
                    let id = names.count(name);
                    conv.command(found, preview, id)
                }
                Kind::Reply { .. } => {
                    let (step, answered) = conv.reply(found);
                    if let Step::Reply { latency_us: Some(us), .. } = step {
                        if let Some(h) = shared.interval.as_deref_mut() {
                            let _ = h.record(us.clamp(1, MAX_LATENCY_US));
                        }
                        // A PING alone in flight is a round trip plus the server's cheapest
                        // command: the client's own RTT probe.
                        if let Some((id, true)) = answered {
                            if names.is_ping(id) {
                                conv.ping_rtt.record(us);
                            }
                        }
                    }
                    step
                }
            };
            if let Some(r) = rec {
                r.items.push(SegmentItem { found: *found, preview: **preview, step });
            }
        }
        &Event::ParseError { offset, error, owner } => {
            if errors.len() < MAX_ERROR_RECORDS {
                errors.push(ParseErrorRecord { frame: owner.frame, dir, offset, error });
            }
            if let Some(r) = rec {
                r.errors.push(error);
            }
        }
        Event::Resumed { .. } => {}
    }
}

struct Live {
    analysis: Analysis,
    reasm: [Reassembler<SegRef>; 2],
    resp: [RespStream<SegRef>; 2],
    synack_seen: bool,
}

/// One TCP connection to a Redis port.
pub struct Connection {
    /// The client side.
    pub client: SocketAddr,
    /// The server side.
    pub server: SocketAddr,
    /// First frame number.
    pub first_frame: u64,
    /// First timestamp (µs).
    pub first_ts: i64,
    /// Last timestamp (µs).
    pub last_ts: i64,
    /// Packets seen.
    pub packets: u64,
    /// Handshake RTT (µs): the client's ACK completing the handshake minus the SYN.
    pub handshake_rtt_us: Option<i64>,
    /// TCP analysis counts.
    pub tcp: TcpCounts,
    /// Unique payload bytes per direction (0: to server, 1: to client).
    pub bytes: [u64; 2],
    /// The Redis conversation.
    pub conv: Conversation,
    /// Flow-control and loss events (first [`MAX_WINDOW_EVENTS`]).
    pub events: Vec<WindowEvent>,
    /// Parse errors (first [`MAX_ERROR_RECORDS`]).
    pub error_records: Vec<ParseErrorRecord>,
    /// Gaps in either direction.
    pub gaps: u64,
    /// Parse errors in either direction.
    pub parse_errors: u64,
    /// The capture started after this connection did.
    pub joined_midstream: bool,
    /// FIN or RST seen.
    pub closed: bool,
    /// FIN seen from each side (0: client, 1: server), or an RST: nothing more is coming.
    ended: [bool; 2],
    /// Analysis flags of the last segment.
    last_flags: u32,
    /// The most recent segments, when the analyzer keeps them (the console's packet list).
    pub recent: std::collections::VecDeque<SegmentLine>,
    /// Round trips timed from ACKs.
    pub ack_rtt: AckRtt,
    /// The client's first bytes are a TLS record: RESP is not parsed (it is encrypted).
    pub tls: bool,
    key: Key,
    live: Option<Box<Live>>,
}

/// Interned command names with their counts.
#[derive(Default)]
pub struct NameTable {
    /// The last name counted: a connection usually repeats a few commands, so this saves
    /// most hash lookups.
    last: Option<(Name, u32)>,
    ids: FxHashMap<Name, u32>,
    /// Names by id.
    pub names: Vec<Name>,
    /// Command counts by id.
    pub counts: Vec<u64>,
    other: Option<u32>,
}

impl NameTable {
    /// The name with this id is PING.
    pub fn is_ping(&self, id: u32) -> bool {
        self.names.get(id as usize).is_some_and(|n| n.as_bytes() == b"PING")
    }

    /// Counts one command and returns its name's id.
    pub fn count(&mut self, name: &Name) -> u32 {
        let id = match self.last {
            Some((n, id)) if n.as_bytes() == name.as_bytes() => id,
            _ => {
                let id = match self.ids.get(name) {
                    Some(&id) => id,
                    None => self.intern(name),
                };
                self.last = Some((*name, id));
                id
            }
        };
        if let Some(c) = self.counts.get_mut(id as usize) {
            *c += 1;
        }
        id
    }

    fn intern(&mut self, name: &Name) -> u32 {
        if self.names.len() >= MAX_NAMES {
            if let Some(o) = self.other {
                return o;
            }
            let mut n = Name::default();
            n.push(b"(other)");
            let id = self.names.len() as u32;
            self.names.push(n);
            self.counts.push(0);
            self.other = Some(id);
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(*name, id);
        self.names.push(*name);
        self.counts.push(0);
        id
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    a: (IpAddr, u16),
    b: (IpAddr, u16),
}

impl Key {
    fn new(x: (IpAddr, u16), y: (IpAddr, u16)) -> Key {
        if x <= y {
            Key { a: x, b: y }
        } else {
            Key { a: y, b: x }
        }
    }
}

/// Sums over connections: the report's totals, and the numbers of connections no longer kept
/// one by one (a long live capture keeps the most recent finished connections only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Connections.
    pub connections: u64,
    /// Commands.
    pub commands: u64,
    /// Replies.
    pub replies: u64,
    /// Error replies.
    pub errors: u64,
    /// Pushes.
    pub pushes: u64,
    /// Split commands.
    pub split_commands: u64,
    /// Batches.
    pub batches: u64,
    /// Zero windows.
    pub zero_windows: u64,
    /// Window updates.
    pub window_updates: u64,
    /// Window full.
    pub window_full: u64,
    /// Zero-window probes.
    pub zero_window_probes: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Parse errors.
    pub parse_errors: u64,
    /// Gaps.
    pub gaps: u64,
}

impl Tally {
    /// Adds one connection.
    pub fn add(&mut self, c: &Connection) {
        self.connections += 1;
        self.commands += c.conv.commands;
        self.replies += c.conv.replies;
        self.errors += c.conv.errors;
        self.pushes += c.conv.pushes;
        self.split_commands += c.conv.split_commands;
        self.batches += c.conv.batches.count;
        self.zero_windows += c.tcp.zero_windows;
        self.window_updates += c.tcp.window_updates;
        self.window_full += c.tcp.window_full;
        self.zero_window_probes += c.tcp.zero_window_probes;
        self.retransmissions += c.tcp.retransmissions;
        self.parse_errors += c.parse_errors;
        self.gaps += c.gaps;
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Tally) {
        self.connections += o.connections;
        self.commands += o.commands;
        self.replies += o.replies;
        self.errors += o.errors;
        self.pushes += o.pushes;
        self.split_commands += o.split_commands;
        self.batches += o.batches;
        self.zero_windows += o.zero_windows;
        self.window_updates += o.window_updates;
        self.window_full += o.window_full;
        self.zero_window_probes += o.zero_window_probes;
        self.retransmissions += o.retransmissions;
        self.parse_errors += o.parse_errors;
        self.gaps += o.gaps;
    }
}

/// A connection closed this long ago (packet time) is finished and compacted: late
/// retransmissions and the last ACKs have had time to pass.
const CLOSED_GRACE_US: i64 = 2_000_000;
/// How often (packet time) closed connections are swept.
const SWEEP_EVERY_US: i64 = 1_000_000;

/// Folds frames into connections. Pure: time comes from frame timestamps only.
pub struct WireAnalyzer {
    cfg: WireConfig,
    link: Link,
    table: FxHashMap<Key, usize>,
    /// Connections in order of first appearance.
    pub conns: Vec<Connection>,
    /// Command names and counts.
    pub names: NameTable,
    /// Capture counters.
    pub counts: CaptureCounts,
    /// Connections dropped from `conns` to bound memory, summed.
    pub retired: Tally,
    /// Most finished connections kept one by one (`None`: all, as `analyze` reports them).
    closed_limit: Option<usize>,
    /// Recent segments kept per connection for a packet list (0: none).
    segment_log: usize,
    /// Latencies since the last [`WireAnalyzer::end_interval`], when asked for.
    interval: Option<Histogram<u32>>,
    last_sweep_us: i64,
    finished: bool,
}

impl WireAnalyzer {
    /// An analyzer for frames of `link` framing.
    pub fn new(cfg: WireConfig, link: Link) -> Self {
        WireAnalyzer {
            cfg,
            link,
            table: FxHashMap::default(),
            conns: Vec::new(),
            names: NameTable::default(),
            counts: CaptureCounts::default(),
            retired: Tally::default(),
            closed_limit: None,
            segment_log: 0,
            interval: None,
            last_sweep_us: 0,
            finished: false,
        }
    }

    /// Keeps at most `n` finished connections one by one; older ones are summed into
    /// [`WireAnalyzer::retired`]. For captures that run for hours.
    pub fn set_closed_limit(&mut self, n: Option<usize>) {
        self.closed_limit = n;
    }

    /// Collects every paired latency into one capture-wide histogram, emptied by
    /// [`WireAnalyzer::end_interval`]: the console's latency over time.
    pub fn track_interval_latency(&mut self) {
        self.interval = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).ok();
    }

    /// Ends the console's interval: returns the percentiles of the latencies paired since the
    /// last call and starts afresh (them, and each connection's deepest pipeline).
    pub fn end_interval(&mut self) -> IntervalLatency {
        for c in &mut self.conns {
            c.conv.start_interval();
        }
        let Some(h) = self.interval.as_mut() else { return IntervalLatency::default() };
        let out = IntervalLatency::of(h);
        h.reset();
        out
    }

    /// Keeps the last `n` segments of each connection as [`SegmentLine`]s (0: none).
    pub fn set_segment_log(&mut self, n: usize) {
        self.segment_log = n;
    }

    /// Finishes connections closed for a while (their memory shrinks to their numbers) and,
    /// past the limit, retires the oldest finished ones.
    fn sweep(&mut self, now_us: i64) {
        self.last_sweep_us = now_us;
        for c in &mut self.conns {
            // Both sides finished (a half-closed connection may still stream replies).
            if c.ended == [true, true] && c.live.is_some() && now_us - c.last_ts > CLOSED_GRACE_US {
                c.finish(&mut Shared { names: &mut self.names, interval: self.interval.as_mut() });
                c.conv.compact();
                c.recent = std::collections::VecDeque::new();
            }
        }
        let Some(limit) = self.closed_limit else { return };
        let finished = self.conns.iter().filter(|c| c.live.is_none()).count();
        if finished <= limit {
            return;
        }
        let mut excess = finished - limit;
        let retired = &mut self.retired;
        self.conns.retain(|c| {
            if excess > 0 && c.live.is_none() {
                excess -= 1;
                retired.add(c);
                false
            } else {
                true
            }
        });
        // Indices moved: rebuild the table (later connections on the same ports win, as
        // they did when they were added).
        self.table.clear();
        for (i, c) in self.conns.iter().enumerate() {
            self.table.insert(c.key, i);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WireConfig {
        &self.cfg
    }

    fn is_redis_port(&self, p: u16) -> bool {
        self.cfg.ports.contains(&p)
    }

    /// Processes one frame. With `listing`, returns what the segment carried.
    pub fn frame(&mut self, frame: &Frame<'_>, listing: bool) -> Option<SegmentRecord> {
        let c = &mut self.counts;
        c.packets += 1;
        c.first_ts.get_or_insert(frame.ts_us);
        c.last_ts = Some(frame.ts_us);
        let p = match decode(self.link, frame.data) {
            Ok(p) => p,
            Err(Skip::NotTcp) => {
                c.not_tcp += 1;
                return None;
            }
            Err(Skip::Fragment) => {
                c.fragments += 1;
                return None;
            }
            Err(Skip::Truncated) => {
                c.truncated += 1;
                return None;
            }
        };
        if !self.is_redis_port(p.sport) && !self.is_redis_port(p.dport) {
            return None;
        }
        self.counts.tcp_packets += 1;
        if (p.payload.len() as u32) < p.seglen {
            self.counts.snapped += 1;
        }
        if frame.ts_us - self.last_sweep_us >= SWEEP_EVERY_US {
            self.sweep(frame.ts_us);
        }
        let idx = self.connection_for(&p, frame.no, frame.ts_us)?;
        let frame_no = frame.no;
        let conn = &mut self.conns[idx];
        let log = self.segment_log;
        let before = (log > 0).then(|| conn.counters());
        let mut shared = Shared { names: &mut self.names, interval: self.interval.as_mut() };
        let rec = conn.segment(&p, frame_no, frame.ts_us, &mut shared, listing, idx);
        if let Some(b) = before {
            conn.log_segment(&p, frame_no, frame.ts_us, b, &self.names, log);
        }
        rec
    }

    fn connection_for(&mut self, p: &TcpPacket<'_>, frame_no: u64, ts: i64) -> Option<usize> {
        let key = Key::new((p.src, p.sport), (p.dst, p.dport));
        let fresh_syn = p.has(tcpf::SYN) && !p.has(tcpf::ACK);
        if let Some(&i) = self.table.get(&key) {
            let reused = fresh_syn && {
                let c = &self.conns[i];
                let d = c.dir_of(p).index();
                c.live.as_ref().is_none_or(|l| l.analysis.is_new_syn(d, p.seq))
            };
            if !reused {
                return Some(i);
            }
            // Same ports, new SYN: a new connection (the old one ends here).
            self.conns[i].finish(&mut Shared { names: &mut self.names, interval: self.interval.as_mut() });
        }
        if self.conns.len() >= MAX_CONNECTIONS {
            if !self.table.contains_key(&key) {
                self.counts.untracked_connections += 1;
            }
            return None;
        }
        let (client, server) = self.orient(p);
        let idx = self.conns.len();
        self.conns.push(Connection::new(client, server, frame_no, ts, self.cfg.previews, p, key));
        self.table.insert(key, idx);
        Some(idx)
    }

    fn orient(&self, p: &TcpPacket<'_>) -> (SocketAddr, SocketAddr) {
        let src = SocketAddr::new(p.src, p.sport);
        let dst = SocketAddr::new(p.dst, p.dport);
        if p.has(tcpf::SYN) {
            return if p.has(tcpf::ACK) { (dst, src) } else { (src, dst) };
        }
        match (self.is_redis_port(p.sport), self.is_redis_port(p.dport)) {
            (false, true) => (src, dst),
            (true, false) => (dst, src),
            _ => {
                if p.sport < p.dport {
                    (dst, src)
                } else {
                    (src, dst)
                }
            }
        }
    }

    /// Which of `n` analyzers a frame belongs to: all frames of one connection (both
    /// directions) go to the same one, so connections can be analysed in parallel.
    pub fn shard_of(link: Link, frame: &Frame<'_>, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        match decode(link, frame.data) {
            Ok(p) => {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                Key::new((p.src, p.sport), (p.dst, p.dport)).hash(&mut h);
                (h.finish() % n as u64) as usize
            }
            Err(_) => 0,
        }
    }

    /// Joins finished analyzers of disjoint connection sets into one, as if one analyzer had
    /// seen every frame: connections in order of first frame, counts summed, names merged.
    pub fn merge(mut parts: Vec<WireAnalyzer>) -> Option<WireAnalyzer> {
        let mut first = parts.pop()?;
        for mut other in parts {
            let c = &mut first.counts;
            let o = &other.counts;
            c.packets += o.packets;
            c.tcp_packets += o.tcp_packets;
            c.not_tcp += o.not_tcp;
            c.truncated += o.truncated;
            c.fragments += o.fragments;
            c.snapped += o.snapped;
            c.untracked_connections += o.untracked_connections;
            c.first_ts = [c.first_ts, o.first_ts].into_iter().flatten().min();
            c.last_ts = [c.last_ts, o.last_ts].into_iter().flatten().max();
            first.retired.merge(&other.retired);
            for (name, &n) in other.names.names.iter().zip(&other.names.counts) {
                if n > 0 {
                    let id = first.names.count(name) as usize;
                    if let Some(slot) = first.names.counts.get_mut(id) {
                        *slot += n - 1;
                    }
                }
            }
            first.conns.append(&mut other.conns);
        }
        first.conns.sort_by_key(|c| c.first_frame);
        first.table.clear();
        for (i, c) in first.conns.iter().enumerate() {
            first.table.insert(c.key, i);
        }
        Some(first)
    }

    /// Ends the capture: holes left are gaps, unfinished messages are dropped.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        for c in &mut self.conns {
            c.finish(&mut Shared { names: &mut self.names, interval: self.interval.as_mut() });
        }
    }
}

impl Connection {
    fn new(
        client: SocketAddr,
        server: SocketAddr,
        frame: u64,
        ts: i64,
        previews: bool,
        first: &TcpPacket<'_>,
        key: Key,
    ) -> Connection {
        // Without the handshake the first bytes may be the tail of a message.
        let handshake = first.has(tcpf::SYN);
        let stream = |role| {
            if handshake {
                RespStream::new(role, previews)
            } else {
                RespStream::joined(role, previews, 0)
            }
        };
        Connection {
            client,
            server,
            first_frame: frame,
            first_ts: ts,
            last_ts: ts,
            packets: 0,
            handshake_rtt_us: None,
            tcp: TcpCounts::default(),
            bytes: [0, 0],
            conv: Conversation::default(),
            events: Vec::new(),
            error_records: Vec::new(),
            gaps: 0,
            parse_errors: 0,
            joined_midstream: !handshake,
            closed: false,
            ended: [false, false],
            last_flags: 0,
            recent: std::collections::VecDeque::new(),
            ack_rtt: AckRtt::default(),
            tls: false,
            key,
            live: Some(Box::new(Live {
                analysis: Analysis::default(),
                reasm: [Reassembler::default(), Reassembler::default()],
                resp: [stream(Role::Requests), stream(Role::Replies)],
                synack_seen: false,
            })),
        }
    }

    fn dir_of(&self, p: &TcpPacket<'_>) -> Dir {
        if p.src == self.client.ip() && p.sport == self.client.port() {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    fn segment(
        &mut self,
        p: &TcpPacket<'_>,
        frame: u64,
        ts: i64,
        shared: &mut Shared<'_>,
        listing: bool,
        conn_idx: usize,
    ) -> Option<SegmentRecord> {
        self.packets += 1;
        self.last_ts = ts;
        let dir = self.dir_of(p);
        let d = dir.index();
        let live = self.live.as_mut()?;

        let syn = p.has(tcpf::SYN);
        if syn && p.has(tcpf::ACK) && dir == Dir::ToClient {
            live.synack_seen = true;
        }
        if p.has(tcpf::FIN) || p.has(tcpf::RST) {
            self.closed = true;
        }
        if p.has(tcpf::RST) {
            self.ended = [true, true];
        } else if p.has(tcpf::FIN) {
            self.ended[d] = true;
        }

        let seg = Seg {
            seq: p.seq,
            ack: p.ack,
            flags: p.flags,
            window: p.window,
            len: p.seglen,
            wscale: p.wscale,
            ts,
        };
        let af = live.analysis.segment(d, &seg);
        self.tcp.add(af);
        let ack = p.has(tcpf::ACK).then_some(p.ack);
        self.ack_rtt.segment(d, p.seq, p.seglen, ack, af & flags::ANY_RETRANSMISSION != 0, ts);
        self.last_flags = af;
        // The contract wants all three handshake packets; tshark's rule gives the number.
        if self.handshake_rtt_us.is_none() && live.synack_seen && !self.joined_midstream {
            self.handshake_rtt_us = live.analysis.irtt_us;
        }
        const TIMELINE: u32 = flags::ZERO_WINDOW
            | flags::WINDOW_FULL
            | flags::WINDOW_UPDATE
            | flags::ANY_ZERO_WINDOW_PROBE
            | flags::ANY_RETRANSMISSION
            | flags::OUT_OF_ORDER
            | flags::LOST_SEGMENT;
        if af & TIMELINE != 0 && self.events.len() < MAX_WINDOW_EVENTS {
            self.events.push(WindowEvent { frame, ts, dir, flags: af, window: p.window });
        }

        let owner = SegRef { frame, ts, batch: self.conv.batches.current() };
        let mut record = listing.then(|| SegmentRecord {
            frame,
            ts,
            conn: conn_idx,
            dir,
            len: p.seglen,
            tcp_flags: p.flags,
            window: p.window,
            analysis: af,
            items: Vec::new(),
            split_start: None,
            gaps: Vec::new(),
            errors: Vec::new(),
        });

        let Live { reasm, resp, .. } = &mut **live;
        let stream = &mut resp[d];
        let conv = &mut self.conv;
        let errors = &mut self.error_records;
        let tls = &mut self.tls;
        let new = reasm[d].segment(p.seq, syn, p.has(tcpf::FIN), p.payload, owner, &mut |dl| match dl {
            Delivery::Data { offset, bytes, owner } => {
                if offset == 0 && dir == Dir::ToServer && looks_like_tls(bytes) {
                    *tls = true;
                }
                if *tls {
                    // Encrypted: TCP analysis and batches go on, RESP cannot be read.
                    return;
                }
                stream.feed(bytes, owner, &mut |ev| {
                    apply_event(ev, dir, conv, shared, errors, record.as_mut());
                });
            }
            Delivery::Gap { offset, len } => {
                if *tls {
                    return;
                }
                stream.gap(len);
                if let Some(r) = record.as_mut() {
                    r.gaps.push((offset, len));
                }
            }
        });
        self.bytes[d] += new;
        if dir == Dir::ToServer {
            self.conv.batches.segment(new, p.has(tcpf::PSH));
        }
        if let Some(r) = record.as_mut() {
            r.split_start =
                stream.pending_split().filter(|(first, ..)| first.frame == frame).map(|(_, bytes, cut)| {
                    SplitStart {
                        offset: stream.partial_start(),
                        bytes,
                        cut,
                        header_done: stream.partial_header_done(),
                    }
                });
        }
        self.gaps = resp[0].gaps + resp[1].gaps;
        self.parse_errors = resp[0].parse_errors + resp[1].parse_errors;
        record
    }

    /// Running counts a segment's line is the difference of.
    fn counters(&self) -> [u64; 7] {
        let v = &self.conv;
        [
            v.commands,
            v.replies,
            v.errors,
            v.pushes,
            v.split_commands + v.split_replies,
            self.gaps,
            self.parse_errors,
        ]
    }

    fn log_segment(
        &mut self,
        p: &TcpPacket<'_>,
        frame: u64,
        ts: i64,
        before: [u64; 7],
        names: &NameTable,
        cap: usize,
    ) {
        let now = self.counters();
        let diff = |i: usize| u32::try_from(now[i] - before[i]).unwrap_or(u32::MAX);
        let dir = self.dir_of(p);
        let split_starts = self.live.as_ref().is_some_and(|l| {
            l.resp[dir.index()].pending_split().is_some_and(|(first, ..)| first.frame == frame)
        });
        let line = SegmentLine {
            frame,
            t_us: ts - self.first_ts,
            dir,
            len: p.seglen,
            tcp_flags: p.flags,
            window: p.window,
            analysis: self.last_flags,
            commands: diff(0),
            replies: diff(1),
            errors: diff(2),
            pushes: diff(3),
            last_command: (diff(0) > 0)
                .then(|| names.names.get(self.conv.last_command as usize).copied())
                .flatten(),
            split_ends: diff(4),
            split_starts,
            gaps: diff(5),
            parse_errors: diff(6),
        };
        if self.recent.len() >= cap {
            self.recent.pop_front();
        }
        self.recent.push_back(line);
    }

    /// Ends this connection's analysis: remaining holes become gaps.
    fn finish(&mut self, shared: &mut Shared<'_>) {
        let Some(mut live) = self.live.take() else { return };
        if self.tls {
            return;
        }
        let Live { reasm, resp, .. } = &mut *live;
        for (d, (r, stream)) in reasm.iter_mut().zip(resp.iter_mut()).enumerate() {
            let dir = if d == 0 { Dir::ToServer } else { Dir::ToClient };
            let conv = &mut self.conv;
            let errors = &mut self.error_records;
            r.finish(&mut |dl| match dl {
                Delivery::Data { bytes, owner, .. } => {
                    stream.feed(bytes, owner, &mut |ev| {
                        apply_event(ev, dir, conv, shared, errors, None);
                    });
                }
                Delivery::Gap { len, .. } => stream.gap(len),
            });
            stream.finish();
        }
        self.gaps = resp[0].gaps + resp[1].gaps;
        self.parse_errors = resp[0].parse_errors + resp[1].parse_errors;
    }
}
