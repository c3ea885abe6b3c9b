//! One TCP connection to a Redis port: its numbers, and the analysis it carries while open.
//!
//! A connection grows its state in steps, so that what most flows of a flood or a scan cost
//! is a few hundred bytes:
//! - one segment without payload (a SYN, say) is kept as that segment ([`Stage::One`]) and
//!   replayed into a fresh TCP analysis when a second segment arrives;
//! - from the second segment on, TCP analysis and the per-segment detail (conversation,
//!   window events, ACK round trips) are boxed beside the connection;
//! - reassembly and RESP start with the first payload byte (or FIN), replaying each
//!   direction's SYN so the byte offsets are the same as if they had run from the start;
//! - a finished connection keeps its numbers and detail, not its analysis state.

use std::collections::VecDeque;
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};

use hdrhistogram::Histogram;

use super::batchlog::{BatchLog, KEEP_BATCHES};
use super::feed::{apply_event, flush_streams, looks_like_tls, Chunk};
use super::names::NameTable;
use super::records::{Dir, ParseErrorRecord, SegmentLine, SegmentRecord, SplitStart, TcpCounts, WindowEvent};
use crate::analysis::conversation::interleave::{Interleave, ReplyIndex};
use crate::analysis::conversation::{Conversation, SegRef};
use crate::analysis::resp::RespStream;
use crate::analysis::tcp::flags::{self, Analysis, Seg};
use crate::analysis::tcp::rtt::AckRtt;
use crate::analysis::tcp::{Delivery, Reassembler};
use crate::protocol::resp::Role;
use crate::protocol::tcp as tcpf;
use crate::sources::capture::TcpPacket;

/// Window events kept per connection for the timeline (all are counted).
pub const MAX_WINDOW_EVENTS: usize = 1000;
/// Parse errors kept per connection in detail.
pub const MAX_ERROR_RECORDS: usize = 100;
/// What the allocator adds to each heap block, for the memory estimate.
const BLOCK: usize = 16;

/// Analysis flags worth a line in a connection's window timeline.
const TIMELINE: u32 = flags::ZERO_WINDOW
    | flags::WINDOW_FULL
    | flags::WINDOW_UPDATE
    | flags::ANY_ZERO_WINDOW_PROBE
    | flags::ANY_RETRANSMISSION
    | flags::OUT_OF_ORDER
    | flags::LOST_SEGMENT;

/// An address and port: 20 bytes where a `SocketAddr` takes 32, kept twice per connection.
pub(super) type Endpoint = (IpAddr, u16);

/// What every connection's messages also fold into: the capture-wide command names and,
/// when the console asks for it, the histogram of this interval's latencies.
pub(super) struct Shared<'a> {
    pub(super) names: &'a mut NameTable,
    pub(super) propagated: &'a mut NameTable,
    pub(super) interval: Option<&'a mut Histogram<u32>>,
    /// Latency by command name, when an exporter asks for it.
    pub(super) by_command: Option<&'a mut super::bycommand::CommandLatency>,
    /// Replies completed per frame, for the interleaving estimate.
    pub(super) replies: &'a mut ReplyIndex,
}

/// What the analyzer wants of a segment besides its numbers.
#[derive(Clone, Copy)]
pub(super) struct SegmentOptions {
    /// Return what it carried (a listing).
    pub(super) listing: bool,
    /// Keep the last this many segments' lines (0: none).
    pub(super) log: usize,
    /// Build display previews.
    pub(super) previews: bool,
    /// Keep each write batch's interleaving estimate (tests).
    pub(super) interleave_detail: bool,
}

/// One TCP connection to a Redis port.
pub struct Connection {
    /// Number in order of first appearance, from 1: listings name connections by it, and it
    /// stays the same when older connections are retired.
    pub id: u64,
    client: Endpoint,
    server: Endpoint,
    /// First frame number.
    pub first_frame: u64,
    /// First timestamp (µs).
    pub first_ts: i64,
    /// Last timestamp (µs).
    pub last_ts: i64,
    /// Packets seen.
    pub packets: u64,
    /// Packets since the console's interval started (what "busiest" ranks by).
    pub interval_packets: u32,
    /// Handshake RTT (µs): the client's ACK completing the handshake minus the SYN.
    pub handshake_rtt_us: Option<i64>,
    /// TCP analysis counts.
    pub tcp: TcpCounts,
    /// Unique payload bytes per direction (0: to server, 1: to client).
    pub bytes: [u64; 2],
    /// Gaps in either direction.
    pub gaps: u64,
    /// Parse errors in either direction.
    pub parse_errors: u64,
    /// The capture started after this connection did.
    pub joined_midstream: bool,
    /// FIN or RST seen.
    pub closed: bool,
    /// The client's first bytes are a TLS record: RESP is not parsed (it is encrypted).
    pub tls: bool,
    /// FIN seen from each side (0: client, 1: server), or an RST: nothing more is coming.
    pub(super) ended: [bool; 2],
    /// Analysis flags of the last segment.
    last_flags: u32,
    /// Window of the last segment, in bytes.
    last_window: u32,
    /// Heap bytes last charged to the analyzer's memory budget for this connection.
    pub(super) charged: usize,
    detail: Option<Box<Detail>>,
    stage: Stage,
}

/// What a connection keeps once it carried more than one segment.
#[derive(Default)]
pub(super) struct Detail {
    pub(super) conv: Conversation,
    events: Vec<WindowEvent>,
    pub(super) error_records: Vec<ParseErrorRecord>,
    recent: VecDeque<SegmentLine>,
    /// Write batches over the last minutes, when segments are logged.
    batches: BatchLog,
    ack_rtt: AckRtt,
}

/// How far a connection's state has grown (see the module documentation).
enum Stage {
    /// Nothing seen yet.
    Fresh,
    /// One segment without payload, with the flags it was given.
    One { seg: Seg, dir: Dir, frame: u64, flags: u32 },
    /// TCP analysis, and reassembly and RESP once bytes flow.
    Live(Box<Live>),
    /// Finished: only numbers and detail remain.
    Done,
}

#[derive(Default)]
struct Live {
    analysis: Analysis,
    synack_seen: bool,
    /// Each direction's SYN sequence number: where reassembly starts when it starts late.
    syn_seq: [Option<u32>; 2],
    /// The full segment each direction's SYN allows its peer to send.
    mss: [Option<u16>; 2],
    /// The payload of a full client segment: the smaller of the two (each end caps it),
    /// `None` without both SYNs.
    client_mss: Option<u32>,
    streams: Option<Box<Streams>>,
}

pub(super) struct Streams {
    pub(super) reasm: [Reassembler<SegRef>; 2],
    pub(super) resp: [RespStream<SegRef>; 2],
}

/// An empty conversation for connections that never had one.
static NO_CONVERSATION: std::sync::LazyLock<Conversation> = std::sync::LazyLock::new(Conversation::default);
/// No ACK round trips.
const NO_ACK_RTT: AckRtt = AckRtt::new();

impl Connection {
    pub(super) fn new(
        id: u64,
        client: Endpoint,
        server: Endpoint,
        frame: u64,
        ts: i64,
        handshake: bool,
    ) -> Self {
        Connection {
            id,
            client,
            server,
            first_frame: frame,
            first_ts: ts,
            last_ts: ts,
            packets: 0,
            interval_packets: 0,
            handshake_rtt_us: None,
            tcp: TcpCounts::default(),
            bytes: [0, 0],
            gaps: 0,
            parse_errors: 0,
            joined_midstream: !handshake,
            closed: false,
            tls: false,
            ended: [false, false],
            last_flags: 0,
            last_window: 0,
            charged: 0,
            detail: None,
            stage: Stage::Fresh,
        }
    }

    /// The client side.
    pub fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client.0, self.client.1)
    }

    /// The server side.
    pub fn server(&self) -> SocketAddr {
        SocketAddr::new(self.server.0, self.server.1)
    }

    pub(super) fn endpoints(&self) -> (Endpoint, Endpoint) {
        (self.client, self.server)
    }

    /// The Redis conversation (empty for a connection that carried no data).
    pub fn conv(&self) -> &Conversation {
        self.detail.as_ref().map_or(&NO_CONVERSATION, |d| &d.conv)
    }

    /// Flow-control and loss events (the first [`MAX_WINDOW_EVENTS`]).
    pub fn events(&self) -> &[WindowEvent] {
        self.detail.as_ref().map_or(&[], |d| &d.events)
    }

    /// Parse errors (the first [`MAX_ERROR_RECORDS`]).
    pub fn error_records(&self) -> &[ParseErrorRecord] {
        self.detail.as_ref().map_or(&[], |d| &d.error_records)
    }

    /// The write batches of the last minutes, when the analyzer logs segments (the Timeline).
    pub fn batch_log(&self) -> Option<&BatchLog> {
        self.detail.as_ref().map(|d| &d.batches)
    }

    /// Drops logged batches older than ten minutes before `now_us` or beyond `keep`.
    pub(super) fn trim_batches(&mut self, now_us: i64, keep: usize) {
        if let Some(d) = self.detail.as_deref_mut() {
            d.batches.trim(now_us, keep);
        }
    }

    /// The most recent segments, when the analyzer keeps them (the console's packet list).
    pub fn recent(&self) -> impl ExactSizeIterator<Item = &SegmentLine> + '_ {
        static NONE: VecDeque<SegmentLine> = VecDeque::new();
        self.detail.as_ref().map_or(&NONE, |d| &d.recent).iter()
    }

    /// Round trips timed from ACKs.
    pub fn ack_rtt(&self) -> &AckRtt {
        self.detail.as_ref().map_or(&NO_ACK_RTT, |d| &d.ack_rtt)
    }

    /// Still analysed (not finished).
    pub fn is_live(&self) -> bool {
        !matches!(self.stage, Stage::Done)
    }

    /// No payload was seen in either direction: a scan, a health check, a half-open flow.
    pub fn carried_no_data(&self) -> bool {
        self.bytes == [0, 0]
    }

    fn dir_of(&self, p: &TcpPacket<'_>) -> Dir {
        if p.src == self.client.0 && p.sport == self.client.1 {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    /// Bytes held ahead of holes and in resynchronisation, both directions.
    pub(super) fn buffered(&self) -> usize {
        match &self.stage {
            Stage::Live(l) => l.streams.as_ref().map_or(0, |s| {
                s.reasm.iter().map(Reassembler::held_bytes).sum::<usize>()
                    + s.resp.iter().map(RespStream::held_bytes).sum::<usize>()
            }),
            _ => 0,
        }
    }

    /// An estimate of the heap this connection holds beyond its slot in the table: what the
    /// analyzer's memory budget counts.
    pub(super) fn footprint(&self) -> usize {
        let mut n = 0;
        if let Some(d) = &self.detail {
            n += size_of::<Detail>()
                + BLOCK
                + d.conv.heap_bytes()
                + d.events.capacity() * size_of::<WindowEvent>()
                + d.error_records.capacity() * size_of::<ParseErrorRecord>()
                + d.recent.capacity() * size_of::<SegmentLine>();
        }
        if let Stage::Live(l) = &self.stage {
            n += size_of::<Live>() + BLOCK;
            if let Some(s) = &l.streams {
                n += size_of::<Streams>()
                    + BLOCK
                    + s.reasm.iter().map(Reassembler::heap_bytes).sum::<usize>()
                    + s.resp.iter().map(RespStream::heap_bytes).sum::<usize>();
            }
        }
        n
    }

    /// Sets up the live analysis if it is not there yet: a stored first segment is replayed
    /// into it. Nothing once the connection is finished.
    fn promote(&mut self, log: usize) {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Done => {}
            Stage::Live(l) => self.stage = Stage::Live(l),
            Stage::Fresh => {
                self.detail.get_or_insert_with(Box::default);
                self.stage = Stage::Live(Box::default());
            }
            Stage::One { seg, dir, frame, flags } => {
                let mut live: Box<Live> = Box::default();
                // Replayed, the first segment leaves the analysis as it would have (its
                // flags were counted when it came).
                live.note(dir, &seg);
                let _ = live.analysis.segment(dir.index(), &seg);
                let detail = self.detail.get_or_insert_with(Box::default);
                if log > 0 {
                    detail.recent.push_back(SegmentLine {
                        frame,
                        t_us: 0,
                        dir,
                        len: 0,
                        tcp_flags: seg.flags,
                        window: seg.window,
                        // A first segment's window is unscaled: no handshake told the scale.
                        window_size: u32::from(seg.window),
                        analysis: flags,
                        commands: 0,
                        replies: 0,
                        errors: 0,
                        pushes: 0,
                        last_command: None,
                        split_ends: 0,
                        split_starts: false,
                        gaps: 0,
                        parse_errors: 0,
                    });
                }
                self.stage = Stage::Live(live);
            }
        }
    }
}

impl Connection {
    /// Processes one segment of this connection. With `o.listing`, returns what it carried;
    /// with `o.log > 0`, keeps its line among the last `o.log` segments.
    pub(super) fn segment(
        &mut self,
        p: &TcpPacket<'_>,
        frame: u64,
        ts: i64,
        shared: &mut Shared<'_>,
        o: SegmentOptions,
    ) -> Option<Box<SegmentRecord>> {
        let SegmentOptions { listing, log, previews, interleave_detail } = o;
        self.packets += 1;
        self.interval_packets = self.interval_packets.saturating_add(1);
        self.last_ts = ts;
        if !self.is_live() {
            return None;
        }
        let dir = self.dir_of(p);
        let d = dir.index();
        let fin = p.has(tcpf::FIN);
        if fin || p.has(tcpf::RST) {
            self.closed = true;
        }
        if p.has(tcpf::RST) {
            self.ended = [true, true];
        } else if fin {
            self.ended[d] = true;
        }
        let seg =
            Seg { seq: p.seq, ack: p.ack, flags: p.flags, window: p.window, len: p.seglen, syn: p.syn, ts };
        let id = self.id;
        let record = |af: u32, window_size: u32| {
            listing.then(|| {
                Box::new(SegmentRecord {
                    frame,
                    ts,
                    conn: id,
                    dir,
                    len: p.seglen,
                    tcp_flags: p.flags,
                    window: p.window,
                    window_size,
                    analysis: af,
                    items: Vec::new(),
                    split_start: None,
                    gaps: Vec::new(),
                    errors: Vec::new(),
                })
            })
        };
        if matches!(self.stage, Stage::Fresh) && p.payload.is_empty() && !fin {
            let af = Analysis::default().segment(d, &seg);
            if af & TIMELINE == 0 {
                self.tcp.add(af);
                self.last_flags = af;
                self.stage = Stage::One { seg, dir, frame, flags: af };
                self.last_window = u32::from(p.window);
                return record(af, self.last_window);
            }
        }
        let joined = self.joined_midstream;
        let before = (log > 0).then(|| self.counters());
        self.promote(log);
        if interleave_detail {
            if let Some(d) = self.detail.as_deref_mut() {
                d.conv.interleave.keep_detail();
            }
        }
        let Stage::Live(live) = &mut self.stage else { return None };
        live.note(dir, &seg);
        let af = live.analysis.segment(d, &seg);
        let client_mss = live.client_mss;
        let window_size = live.analysis.window_size(d, p.flags, p.window);
        self.last_window = window_size;
        // The contract wants all three handshake packets; tshark's rule gives the number.
        let irtt = (live.synack_seen && !joined).then_some(live.analysis.irtt_us).flatten();
        let streams = (!p.payload.is_empty() || fin).then(|| live.streams(joined, previews));
        self.tcp.add(af);
        self.last_flags = af;
        if self.handshake_rtt_us.is_none() {
            self.handshake_rtt_us = irtt;
        }
        let detail = self.detail.as_deref_mut()?;
        let ack = p.has(tcpf::ACK).then_some(p.ack);
        detail.ack_rtt.segment(d, p.seq, p.seglen, ack, af & flags::ANY_RETRANSMISSION != 0, ts);
        if af & TIMELINE != 0 && detail.events.len() < MAX_WINDOW_EVENTS {
            detail.events.push(WindowEvent { frame, ts, dir, flags: af, window: p.window, window_size });
        }
        let mut rec = record(af, window_size);
        if let Some(s) = streams {
            let owner = SegRef { frame, ts, batch: detail.conv.batches.current() };
            // Before this segment's commands count: did the client wait for every reply?
            let drained = detail.conv.depth <= 0;
            let Streams { reasm, resp } = s;
            let stream = &mut resp[d];
            let conv = &mut detail.conv;
            let errors = &mut detail.error_records;
            let tls = &mut self.tls;
            let rec_ref = &mut rec;
            let new = reasm[d].segment(p.seq, p.has(tcpf::SYN), fin, p.payload, owner, &mut |dl| match dl {
                Delivery::Data { offset, bytes, owner } => {
                    if offset == 0 && dir == Dir::ToServer && looks_like_tls(bytes) {
                        *tls = true;
                    }
                    if *tls {
                        // Encrypted: TCP analysis and batches go on, RESP cannot be read.
                        return;
                    }
                    // `SYNC` is answered by an RDB file with no reply line before it.
                    if dir == Dir::ToClient {
                        stream.expect(conv.next_after_reply());
                    }
                    let chunk = Chunk { offset, bytes };
                    stream.feed_with(bytes, owner, &mut |ev| {
                        apply_event(ev, chunk, dir, conv, shared, errors, rec_ref.as_deref_mut())
                    });
                }
                Delivery::Gap { offset, len } => {
                    if *tls {
                        return;
                    }
                    stream.gap(len);
                    if let Some(r) = rec_ref.as_mut() {
                        r.gaps.push((offset, len));
                    }
                }
            });
            self.bytes[d] += new;
            if dir == Dir::ToServer {
                // A write that ends inside a command: the client flushed on a byte count.
                let cut = stream.has_partial();
                // Linux pushes when `send()` must wait for room: the segment that filled the
                // server's window, or a full-sized one (alone or merged by segmentation
                // offload) while the congestion window or the send buffer holds the rest. A
                // client's own flush ends anywhere.
                // (Only asked of a PSH inside a command: most segments are neither.)
                let psh = p.has(tcpf::PSH);
                let kernel_push = psh
                    && cut
                    && (af & flags::WINDOW_FULL != 0
                        || client_mss.is_some_and(|m| p.seglen > 0 && p.seglen.is_multiple_of(m)));
                detail.conv.batches.segment(new, psh, drained, cut, kernel_push);
            }
            if let Some(r) = rec.as_mut() {
                r.split_start = stream.pending_split().filter(|(first, ..)| first.frame == frame).map(
                    |(_, bytes, cut)| SplitStart {
                        offset: stream.partial_start(),
                        bytes,
                        cut,
                        header_done: stream.partial_header_done(),
                    },
                );
            }
            self.gaps = resp[0].gaps + resp[1].gaps;
            self.parse_errors = resp[0].parse_errors + resp[1].parse_errors;
        }
        if let Some(b) = before {
            self.log_segment(p, frame, ts, b, shared.names, log);
        }
        rec
    }

    /// Running counts a segment's line is the difference of.
    fn counters(&self) -> [u64; 7] {
        let v = self.conv();
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
        let split_starts = match &self.stage {
            Stage::Live(l) => l.streams.as_ref().is_some_and(|s| {
                s.resp[dir.index()].pending_split().is_some_and(|(first, ..)| first.frame == frame)
            }),
            _ => false,
        };
        let last_command =
            (diff(0) > 0).then(|| names.names.get(self.conv().last_command as usize).copied()).flatten();
        let line = SegmentLine {
            frame,
            t_us: ts - self.first_ts,
            dir,
            len: p.seglen,
            tcp_flags: p.flags,
            window: p.window,
            window_size: self.last_window,
            analysis: self.last_flags,
            commands: diff(0),
            replies: diff(1),
            errors: diff(2),
            pushes: diff(3),
            last_command,
            split_ends: diff(4),
            split_starts,
            gaps: diff(5),
            parse_errors: diff(6),
        };
        let Some(d) = self.detail.as_deref_mut() else { return };
        d.batches.segment(&line, self.first_ts, KEEP_BATCHES);
        if d.recent.len() >= cap {
            d.recent.pop_front();
        }
        d.recent.push_back(line);
    }

    /// Gives up the holes reassembly waits on and the bytes a resync holds: they become gaps
    /// and skipped bytes, and their memory is freed. For a connection over its share of the
    /// memory budget.
    pub(super) fn release_buffers(&mut self, shared: &mut Shared<'_>) {
        let Stage::Live(live) = &mut self.stage else { return };
        if let (Some(s), Some(detail)) = (live.streams.as_deref_mut(), self.detail.as_deref_mut()) {
            (self.gaps, self.parse_errors) = flush_streams(s, detail, self.tls, shared, false);
        }
    }

    /// Ends this connection's analysis: remaining holes become gaps, unfinished messages
    /// are dropped, and its analysis state is freed.
    pub(super) fn finish(&mut self, shared: &mut Shared<'_>) {
        let Stage::Live(mut live) = std::mem::replace(&mut self.stage, Stage::Done) else { return };
        if let (Some(s), Some(detail)) = (live.streams.as_deref_mut(), self.detail.as_deref_mut()) {
            (self.gaps, self.parse_errors) = flush_streams(s, detail, self.tls, shared, true);
        }
        // No reply can come any more: the batch being answered is complete.
        if let Some(d) = self.detail.as_deref_mut() {
            d.conv.interleave.close();
        }
    }

    /// The interleaving estimate's per-connection side, for the analyzer to resolve.
    pub(super) fn interleave_mut(&mut self) -> Option<&mut Interleave> {
        self.detail.as_deref_mut().map(|d| &mut d.conv.interleave)
    }

    /// Gives up what only a live view needs, once finished: latency samples (their summary
    /// stays), the queue of commands waiting, recent segments.
    pub(super) fn compact(&mut self) {
        if let Some(d) = self.detail.as_deref_mut() {
            d.conv.compact();
            d.recent = VecDeque::new();
            d.events.shrink_to_fit();
            d.error_records.shrink_to_fit();
        }
    }

    /// Starts a new console interval (the deepest pipeline since).
    pub(super) fn start_interval(&mut self) {
        self.interval_packets = 0;
        if let Some(d) = self.detail.as_deref_mut() {
            d.conv.start_interval();
        }
    }

    /// True when a bare SYN from the sender of `p` starts a new connection on these ports
    /// (a new initial sequence number, not a retransmitted SYN).
    pub(super) fn is_new_syn(&self, p: &TcpPacket<'_>) -> bool {
        let d = self.dir_of(p);
        match &self.stage {
            Stage::Fresh => false,
            Stage::Done => true,
            Stage::One { seg, dir, .. } => {
                let mut a = Analysis::default();
                let _ = a.segment(dir.index(), seg);
                a.is_new_syn(d.index(), p.seq)
            }
            Stage::Live(l) => l.analysis.is_new_syn(d.index(), p.seq),
        }
    }
}

impl Live {
    /// Notes what reassembly started later needs from a segment without payload.
    fn note(&mut self, dir: Dir, seg: &Seg) {
        let syn = seg.flags & tcpf::SYN != 0;
        if syn && seg.flags & tcpf::ACK != 0 && dir == Dir::ToClient {
            self.synack_seen = true;
        }
        if syn {
            self.syn_seq[dir.index()] = Some(seg.seq);
            self.mss[dir.index()] = seg.syn.mss();
            self.client_mss = self.mss[0].zip(self.mss[1]).map(|(a, b)| u32::from(a.min(b)));
        }
    }

    /// Reassembly and RESP, started on the first payload byte or FIN with each direction's
    /// SYN replayed.
    fn streams(&mut self, joined: bool, previews: bool) -> &mut Streams {
        let syn_seq = self.syn_seq;
        self.streams.get_or_insert_with(|| {
            let stream = |role| {
                if joined {
                    RespStream::joined(role, previews, 0)
                } else {
                    RespStream::new(role, previews)
                }
            };
            let mut s = Box::new(Streams {
                reasm: [Reassembler::default(), Reassembler::default()],
                resp: [stream(Role::Requests), stream(Role::Replies)],
            });
            let owner = SegRef { frame: 0, ts: 0, batch: 0 };
            for (r, isn) in s.reasm.iter_mut().zip(syn_seq) {
                if let Some(isn) = isn {
                    r.segment(isn, true, false, &[], owner, &mut |_| {});
                }
            }
            s
        })
    }
}
