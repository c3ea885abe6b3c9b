//! The wire analyzer: frames in, Redis connections out.
//!
//! For each TCP segment on a Redis port: find (or start) its connection, orient it (the SYN's
//! sender is the client; without a SYN, the side not on a Redis port; if both are, the lower
//! port is the server), run tshark's TCP analysis, reassemble, parse RESP and fold the
//! messages into the connection's [`Conversation`](crate::analysis::conversation::Conversation).
//!
//! Memory is bounded by bytes, not by a count of connections: each connection is charged what
//! it holds ([`Connection`] grows its state in steps, so a flow that never carried data costs
//! a few hundred bytes), and past the budget connections are retired into the totals, those
//! that carried no data first, then finished ones, then the longest idle.

pub mod batchlog;
pub mod bycommand;
mod connection;
mod feed;
mod names;
mod records;
mod shard;

use std::mem::size_of;
use std::net::IpAddr;

use hashbrown::HashTable;
use hdrhistogram::Histogram;

use crate::analysis::conversation::interleave::{
    InterleaveStats, InterleaveSummary, ReplyIndex, INDEX_BUDGET_SHARE,
};
use crate::analysis::conversation::latency::{IntervalLatency, MAX_LATENCY_US};
use crate::protocol::tcp as tcpf;
use crate::sources::capture::{decode, Frame, Link, Skip, TcpPacket};

pub use connection::{Connection, MAX_ERROR_RECORDS, MAX_WINDOW_EVENTS};
use connection::{Endpoint, SegmentOptions, Shared};
pub use names::{NameTable, MAX_NAMES};
pub use records::{
    CaptureCounts, Dir, ParseErrorRecord, SegmentItem, SegmentLine, SegmentRecord, SplitStart, Tally,
    TcpCounts, WindowEvent,
};

/// Memory the connection table may use by default (connections, their analysis state,
/// reassembly and resync buffers), in bytes.
pub const DEFAULT_MEMORY_BUDGET: usize = 96 << 20;

/// What to analyse and how much detail to keep.
#[derive(Clone, Debug)]
pub struct WireConfig {
    /// Redis server ports.
    pub ports: Vec<u16>,
    /// Build display previews of commands and replies.
    pub previews: bool,
    /// Bytes the connection table may hold before connections are retired into the totals.
    pub memory_budget: usize,
}

impl Default for WireConfig {
    fn default() -> Self {
        WireConfig { ports: vec![6379], previews: false, memory_budget: DEFAULT_MEMORY_BUDGET }
    }
}

impl WireConfig {
    /// Ports, no previews, the default memory budget.
    pub fn ports(ports: Vec<u16>) -> Self {
        WireConfig { ports, ..WireConfig::default() }
    }
}

/// The unordered pair of endpoints a connection is found by.
fn key_of(x: Endpoint, y: Endpoint) -> (Endpoint, Endpoint) {
    if x <= y {
        (x, y)
    } else {
        (y, x)
    }
}

/// The hash a connection is found (and dealt to an analyzer) by, the same whichever way
/// round its endpoints come: each endpoint is mixed on its own and the two are added, so the
/// endpoints need no ordering, and it is computed once per frame (the analyzer reuses what
/// the dispatching thread computed).
fn flow_hash(x: Endpoint, y: Endpoint) -> u64 {
    mix(endpoint_word(x)).wrapping_add(mix(endpoint_word(y)))
}

/// An endpoint folded into a word: exact for IPv4, an IPv6 address's halves combined
/// (equality is checked on the endpoints themselves, so a collision costs only a probe).
fn endpoint_word((ip, port): Endpoint) -> u64 {
    let addr = match ip {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            (v as u64) ^ ((v >> 64) as u64).rotate_left(29) ^ (1 << 63)
        }
    };
    (addr << 16) ^ u64::from(port)
}

/// SplitMix64's finaliser: every input bit reaches the high bits hashbrown tags buckets with
/// and the low bits the analyzers are dealt by.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn conn_hash(c: &Connection) -> u64 {
    let (a, b) = c.endpoints();
    flow_hash(a, b)
}

fn conn_key(c: &Connection) -> (Endpoint, Endpoint) {
    let (a, b) = c.endpoints();
    key_of(a, b)
}

/// True when `c` is the connection between `x` and `y`, either way round (no ordering of
/// addresses on the lookup path).
fn is_between(c: &Connection, x: Endpoint, y: Endpoint) -> bool {
    let (a, b) = c.endpoints();
    (a == x && b == y) || (a == y && b == x)
}

/// A connection closed this long ago (packet time) is finished and compacted: late
/// retransmissions and the last ACKs have had time to pass.
const CLOSED_GRACE_US: i64 = 2_000_000;
/// How often (packet time) closed connections are swept.
const SWEEP_EVERY_US: i64 = 1_000_000;
/// Batches all connections' Timeline logs hold together (48 bytes each: about 46 MiB).
pub const BATCH_LOG_MAX: usize = 1_000_000;

/// Folds frames into connections. Pure: time comes from frame timestamps only.
pub struct WireAnalyzer {
    cfg: WireConfig,
    link: Link,
    /// Indices into `conns` of the connections packets are still matched to, found by their
    /// endpoints (a connection replaced by a new SYN on the same ports stays in `conns`).
    table: HashTable<u32>,
    /// Connections in order of first appearance.
    pub conns: Vec<Connection>,
    /// Command names and counts.
    pub names: NameTable,
    /// Commands masters propagated to replica links, by name.
    pub propagated: NameTable,
    /// Capture counters.
    pub counts: CaptureCounts,
    /// Connections dropped from `conns` to bound memory, summed.
    pub retired: Tally,
    /// Of them, connections retired because the memory budget was reached (the others are
    /// finished connections beyond the live feeds' limit).
    pub retired_for_memory: u64,
    /// Heap bytes charged by the connections (see [`Connection::footprint`]).
    heap: usize,
    next_id: u64,
    /// Most finished connections kept one by one (`None`: all, as `analyze` reports them).
    closed_limit: Option<usize>,
    /// How long a finished connection is kept one by one after its last packet (µs).
    closed_keep_us: Option<i64>,
    /// Recent segments kept per connection for a packet list (0: none).
    segment_log: usize,
    /// Latencies since the last [`WireAnalyzer::end_interval`], when asked for.
    interval: Option<Histogram<u32>>,
    /// Latency by command name, when asked for (an exporter).
    by_command: Option<bycommand::CommandLatency>,
    last_sweep_us: i64,
    finished: bool,
    /// Replies completed per frame, for the interleaving estimate (once merged, every
    /// analyzer's combined).
    replies: ReplyIndex,
    /// One share of a parallel analysis: its index holds only its own connections' frames,
    /// so batches are resolved when the shares are merged, not before.
    part: bool,
    /// Keep each write batch's interleaving estimate (tests compare them with MONITOR).
    interleave_detail: bool,
    /// The interleaving sums of connections retired from the table.
    retired_interleave: InterleaveStats,
    /// The newest frame's number.
    last_frame: u64,
}

impl WireAnalyzer {
    /// An analyzer for frames of `link` framing.
    pub fn new(cfg: WireConfig, link: Link) -> Self {
        let cfg_index_bytes = cfg.memory_budget / INDEX_BUDGET_SHARE;
        WireAnalyzer {
            cfg,
            link,
            table: HashTable::new(),
            conns: Vec::new(),
            names: NameTable::default(),
            propagated: NameTable::default(),
            counts: CaptureCounts::default(),
            retired: Tally::default(),
            retired_for_memory: 0,
            heap: 0,
            next_id: 1,
            closed_limit: None,
            closed_keep_us: None,
            segment_log: 0,
            interval: None,
            by_command: None,
            last_sweep_us: 0,
            finished: false,
            replies: ReplyIndex::new(cfg_index_bytes, true),
            part: false,
            interleave_detail: false,
            retired_interleave: InterleaveStats::default(),
            last_frame: 0,
        }
    }

    /// Keeps at most `n` finished connections one by one; older ones are summed into
    /// [`WireAnalyzer::retired`]. For captures that run for hours.
    pub fn set_closed_limit(&mut self, n: Option<usize>) {
        self.closed_limit = n;
    }

    /// Keeps finished connections one by one for `keep_us` after their last packet (µs),
    /// then sums them into [`WireAnalyzer::retired`]. For the console's history.
    pub fn set_closed_keep(&mut self, keep_us: Option<i64>) {
        self.closed_keep_us = keep_us;
    }

    /// Collects every paired latency into one capture-wide histogram, emptied by
    /// [`WireAnalyzer::end_interval`]: the console's latency over time.
    pub fn track_interval_latency(&mut self) {
        self.interval = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).ok();
    }

    /// Counts every paired command's latency by command name in fixed buckets, from now on:
    /// what an exporter's latency histograms are made of.
    pub fn track_command_latency(&mut self) {
        self.by_command.get_or_insert_with(bycommand::CommandLatency::default);
    }

    /// The latency buckets by command name id ([`WireAnalyzer::names`]), when tracked.
    pub fn command_latency(&self) -> Option<&bycommand::CommandLatency> {
        self.by_command.as_ref()
    }

    /// Ends the console's interval: returns the percentiles of the latencies paired since the
    /// last call and starts afresh (them, and each connection's deepest pipeline).
    pub fn end_interval(&mut self) -> IntervalLatency {
        for c in &mut self.conns {
            c.start_interval();
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

    /// Decodes later frames as `link` (a live capture reopened on an interface of another
    /// type).
    pub fn set_link(&mut self, link: Link) {
        self.link = link;
    }

    /// The configuration.
    pub fn config(&self) -> &WireConfig {
        &self.cfg
    }

    /// What the connection table holds now, as the memory budget counts it: the slots
    /// allocated for connections, the index, and the heap each connection holds.
    pub fn memory_used(&self) -> usize {
        // The index: a u32 and a control byte per bucket, buckets at most 8/7 of capacity.
        self.conns.capacity() * size_of::<Connection>()
            + self.table.capacity() * 6
            + self.heap
            + self.replies.heap_bytes()
    }

    /// Makes this analyzer one share of a parallel analysis: it sees only its own
    /// connections' frames, so its interleaving estimates wait for [`WireAnalyzer::merge`]
    /// (and its reply index keeps everything until then, stopping when full).
    pub fn set_part(&mut self) {
        self.part = true;
        self.replies.set_rolling(false);
    }

    /// Keeps each write batch's interleaving estimate one by one (the first
    /// [`MAX_DETAIL`](crate::analysis::conversation::interleave::MAX_DETAIL) per connection),
    /// for tests that compare them with MONITOR.
    pub fn keep_interleave_detail(&mut self) {
        self.interleave_detail = true;
    }

    /// Resolves the interleaving estimates of every batch answered in the frames seen so far:
    /// what a live snapshot shows (the sweep resolves only once a second of packet time).
    /// A share of a parallel analysis waits for the merge.
    pub fn resolve_seen(&mut self) {
        if !self.part {
            self.resolve_interleave(self.last_frame.saturating_add(1));
        }
    }

    /// Resolves the interleaving estimates of batches whose replies all completed before
    /// frame `before`; then drops the index entries no waiting batch needs.
    pub(super) fn resolve_interleave(&mut self, before: u64) {
        self.replies.prepare();
        let index = &self.replies;
        let mut oldest = before;
        for c in &mut self.conns {
            // Nothing waits for a reply: the batch being answered got all of its replies.
            let idle = c.conv().depth <= 0;
            let Some(il) = c.interleave_mut() else { continue };
            if idle {
                il.close();
            }
            il.resolve(before, &mut |a, b| index.between(a, b));
            if let Some(f) = il.oldest_frame() {
                oldest = oldest.min(f);
            }
        }
        // Frames up to the oldest one a batch still needs are never asked for again.
        if !self.part && oldest > 0 {
            self.replies.trim(oldest);
        }
    }

    /// The capture-wide interleaving summary: sums over every connection, listed or retired.
    pub fn interleave_summary(&self) -> InterleaveSummary {
        let mut s = self.retired_interleave;
        for c in &self.conns {
            s.add(&c.conv().interleave.stats);
        }
        InterleaveSummary::of(&s, self.replies.full_from())
    }

    #[inline]
    fn is_redis_port(&self, p: u16) -> bool {
        self.cfg.ports.contains(&p)
    }

    /// Processes one frame of this analyzer's link type. With `listing`, returns what the
    /// segment carried.
    pub fn frame(&mut self, frame: &Frame<'_>, listing: bool) -> Option<SegmentRecord> {
        self.packet(frame.no, frame.ts_us, decode(self.link, frame.data), listing)
    }

    /// Processes one frame already decoded (by whoever read it, so that a frame is decoded
    /// once wherever it is analysed): its number, its timestamp and what [`decode`] made of
    /// it. The same as [`WireAnalyzer::frame`] on the frame. With `listing`, returns what
    /// the segment carried.
    pub fn packet(
        &mut self,
        no: u64,
        ts_us: i64,
        decoded: Result<TcpPacket<'_>, Skip>,
        listing: bool,
    ) -> Option<SegmentRecord> {
        let hash = decoded.as_ref().map_or(0, Self::flow_of);
        self.packet_in_flow(no, ts_us, decoded, hash, listing)
    }

    /// [`WireAnalyzer::packet`] with the frame's [`WireAnalyzer::flow_of`] already computed
    /// (by the thread that dealt it here), so that no frame is hashed twice.
    pub fn packet_in_flow(
        &mut self,
        no: u64,
        ts_us: i64,
        decoded: Result<TcpPacket<'_>, Skip>,
        flow: u64,
        listing: bool,
    ) -> Option<SegmentRecord> {
        self.last_frame = no;
        let c = &mut self.counts;
        c.packets += 1;
        c.first_ts.get_or_insert(ts_us);
        c.last_ts = Some(ts_us);
        let p = match decoded {
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
        if ts_us.saturating_sub(self.last_sweep_us) >= SWEEP_EVERY_US {
            self.sweep(ts_us, no);
        }
        let idx = self.connection_for(&p, flow, no, ts_us);
        let o = SegmentOptions {
            listing,
            log: self.segment_log,
            previews: self.cfg.previews,
            interleave_detail: self.interleave_detail,
        };
        let mut shared = Shared {
            names: &mut self.names,
            propagated: &mut self.propagated,
            interval: self.interval.as_mut(),
            by_command: self.by_command.as_mut(),
            replies: &mut self.replies,
        };
        let conn = self.conns.get_mut(idx)?;
        // Boxed by the connection: a listing is rare, and the record is too large to be
        // moved through every call unboxed when it is `None`.
        let rec = conn.segment(&p, no, ts_us, &mut shared, o);
        // What a connection holds changes with payload and as its state grows; an ACK adds
        // at most a window event, so those are charged every 32 packets.
        if !p.payload.is_empty() || conn.packets <= 2 || conn.packets % 32 == 0 {
            let f = conn.footprint();
            self.heap = (self.heap + f).saturating_sub(conn.charged);
            conn.charged = f;
        }
        if self.memory_used() > self.cfg.memory_budget {
            self.enforce_budget();
        }
        rec.map(|r| *r)
    }

    /// The index of the connection `p` belongs to, started if new.
    fn connection_for(&mut self, p: &TcpPacket<'_>, hash: u64, frame_no: u64, ts: i64) -> usize {
        let (x, y) = ((p.src, p.sport), (p.dst, p.dport));
        let conns = &self.conns;
        let found =
            self.table.find(hash, |&i| conns.get(i as usize).is_some_and(|c| is_between(c, x, y))).copied();
        if let Some(i) = found {
            let i = i as usize;
            let fresh_syn = p.has(tcpf::SYN) && !p.has(tcpf::ACK);
            if !(fresh_syn && self.conns.get(i).is_some_and(|c| c.is_new_syn(p))) {
                return i;
            }
            // Same ports, new SYN: a new connection (the old one ends here).
            let mut shared = Shared {
                names: &mut self.names,
                propagated: &mut self.propagated,
                interval: self.interval.as_mut(),
                by_command: self.by_command.as_mut(),
                replies: &mut self.replies,
            };
            if let Some(old) = self.conns.get_mut(i) {
                old.finish(&mut shared);
            }
            if let Ok(e) = self.table.find_entry(hash, |&j| j as usize == i) {
                e.remove();
            }
        }
        let (client, server) = self.orient(p);
        if self.conns.len() == self.conns.capacity() {
            // Grow by an eighth, not double: the budget counts what is allocated, and a
            // large reallocation is remapped, not copied.
            let extra = (self.conns.capacity() / 8).max(64);
            self.conns.reserve_exact(extra);
        }
        let idx = self.conns.len();
        let id = self.next_id;
        self.next_id += 1;
        self.conns.push(Connection::new(id, client, server, frame_no, ts, p.has(tcpf::SYN)));
        let conns = &self.conns;
        self.table.insert_unique(hash, idx as u32, |&i| conns.get(i as usize).map_or(0, conn_hash));
        idx
    }

    fn orient(&self, p: &TcpPacket<'_>) -> (Endpoint, Endpoint) {
        let src = (p.src, p.sport);
        let dst = (p.dst, p.dport);
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

    /// Rebuilds the index after `conns` moved: the newest connection on a pair of endpoints
    /// is the one packets match, as when it was added.
    fn reindex(&mut self) {
        self.table.clear();
        let conns = &self.conns;
        for (i, c) in conns.iter().enumerate() {
            let key = conn_key(c);
            let hash = conn_hash(c);
            match self.table.find_entry(hash, |&j| conns.get(j as usize).is_some_and(|o| conn_key(o) == key))
            {
                Ok(mut e) => *e.get_mut() = i as u32,
                Err(_) => {
                    self.table.insert_unique(hash, i as u32, |&j| conns.get(j as usize).map_or(0, conn_hash));
                }
            }
        }
    }

    /// Drops the connections marked in `gone` from `conns`, summing them into the totals.
    fn retire(&mut self, gone: &[bool]) {
        let mut k = 0;
        let (retired, heap, retired_interleave) =
            (&mut self.retired, &mut self.heap, &mut self.retired_interleave);
        self.conns.retain(|c| {
            let drop = gone.get(k).copied().unwrap_or(false);
            k += 1;
            if drop {
                retired.add(c);
                retired_interleave.add(&c.conv().interleave.abandon());
                *heap = heap.saturating_sub(c.charged);
            }
            !drop
        });
        self.conns.shrink_to(self.conns.len() + self.conns.len() / 8);
        self.reindex();
        let conns = &self.conns;
        self.table.shrink_to_fit(|&j| conns.get(j as usize).map_or(0, conn_hash));
    }

    /// Finishes connections closed for a while (their memory shrinks to their numbers) and,
    /// past the limit, retires the oldest finished ones.
    fn sweep(&mut self, now_us: i64, frame: u64) {
        self.last_sweep_us = now_us;
        if !self.part {
            // Every frame before this one has been seen: batches answered before it can be
            // resolved, and the index entries behind them dropped.
            self.resolve_interleave(frame);
        }
        let mut shared = Shared {
            names: &mut self.names,
            propagated: &mut self.propagated,
            interval: self.interval.as_mut(),
            by_command: self.by_command.as_mut(),
            replies: &mut self.replies,
        };
        for c in &mut self.conns {
            // Both sides finished (a half-closed connection may still stream replies).
            if c.ended == [true, true] && c.is_live() && now_us.saturating_sub(c.last_ts) > CLOSED_GRACE_US {
                c.finish(&mut shared);
                c.compact();
                let f = c.footprint();
                self.heap = (self.heap + f).saturating_sub(c.charged);
                c.charged = f;
            }
        }
        self.trim_batch_logs(now_us);
        if self.closed_limit.is_none() && self.closed_keep_us.is_none() {
            return;
        }
        // Finished connections closed longer ago than the retention, then the oldest beyond
        // the count.
        let keep_us = self.closed_keep_us.unwrap_or(i64::MAX);
        let expired = |c: &Connection| !c.is_live() && now_us.saturating_sub(c.last_ts) > keep_us;
        let finished = self.conns.iter().filter(|c| !c.is_live() && !expired(c)).count();
        let mut excess = finished.saturating_sub(self.closed_limit.unwrap_or(usize::MAX));
        let gone: Vec<bool> = self
            .conns
            .iter()
            .map(|c| {
                if expired(c) {
                    return true;
                }
                let drop = excess > 0 && !c.is_live();
                excess -= usize::from(drop);
                drop
            })
            .collect();
        if gone.contains(&true) {
            self.retire(&gone);
        }
    }

    /// Ages the Timeline's batch logs and keeps their sum within [`BATCH_LOG_MAX`]: past it,
    /// each connection keeps an equal share of the newest.
    fn trim_batch_logs(&mut self, now_us: i64) {
        let mut total = 0;
        let mut logs = 0;
        for c in &mut self.conns {
            c.trim_batches(now_us, batchlog::KEEP_BATCHES);
            let n = c.batch_log().map_or(0, batchlog::BatchLog::len);
            total += n;
            logs += usize::from(n > 0);
        }
        if total > BATCH_LOG_MAX {
            let share = (BATCH_LOG_MAX / logs.max(1)).max(batchlog::CHUNK);
            for c in &mut self.conns {
                c.trim_batches(now_us, share);
            }
        }
    }

    /// Past the memory budget: buffers first, then whole connections, until a quarter of the
    /// budget is free again (so this runs rarely, whatever the traffic). Connections that
    /// carried no data go first (a scan or flood's half-open flows), then finished ones,
    /// then open ones, the longest idle first; their numbers stay in the totals.
    fn enforce_budget(&mut self) {
        let target = self.cfg.memory_budget / 4 * 3;
        // Bytes held behind holes or in a resync beyond a fair share are given up as gaps.
        let share = self.cfg.memory_budget / 8;
        let mut shared = Shared {
            names: &mut self.names,
            propagated: &mut self.propagated,
            interval: self.interval.as_mut(),
            by_command: self.by_command.as_mut(),
            replies: &mut self.replies,
        };
        for c in &mut self.conns {
            if c.buffered() > share.min(1 << 20) {
                c.release_buffers(&mut shared);
                let f = c.footprint();
                self.heap = (self.heap + f).saturating_sub(c.charged);
                c.charged = f;
            }
        }
        let mut used = self.conns.capacity() * size_of::<Connection>()
            + self.table.capacity() * 6
            + self.heap
            + shared.replies.heap_bytes();
        if used <= target {
            return;
        }
        let class = |c: &Connection| -> u8 {
            if c.carried_no_data() {
                0
            } else if !c.is_live() {
                1
            } else {
                2
            }
        };
        let mut order: Vec<(u8, i64, u32)> =
            self.conns.iter().enumerate().map(|(i, c)| (class(c), c.last_ts, i as u32)).collect();
        order.sort_unstable();
        let mut gone = vec![false; self.conns.len()];
        let per_slot = size_of::<Connection>() + 8;
        for (_, _, i) in order {
            if used <= target {
                break;
            }
            let Some(c) = self.conns.get_mut(i as usize) else { continue };
            // Its numbers are final before they are summed.
            c.finish(&mut shared);
            used = used.saturating_sub(c.charged + per_slot);
            if let Some(g) = gone.get_mut(i as usize) {
                *g = true;
            }
            self.retired_for_memory += 1;
        }
        self.retire(&gone);
    }

    /// Ends the capture: holes left are gaps, unfinished messages are dropped.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mut shared = Shared {
            names: &mut self.names,
            propagated: &mut self.propagated,
            interval: self.interval.as_mut(),
            by_command: self.by_command.as_mut(),
            replies: &mut self.replies,
        };
        for c in &mut self.conns {
            c.finish(&mut shared);
        }
        if !self.part {
            self.resolve_interleave(u64::MAX);
        }
    }
}
