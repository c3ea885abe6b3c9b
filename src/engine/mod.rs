//! The engine: folds analysis results into the model the views read.
//!
//! For `analyze` the model is the whole-capture [`report::Report`]; [`analyze_capture`] is the
//! one code path from a capture (a file, or stdin) to it.

pub mod activity;
pub mod alerts;
pub mod cluster;
pub mod compare;
pub mod evidence;
pub mod exporter;
pub mod lab;
pub mod live;
pub mod model;
pub mod report;
pub mod snapshot;
pub mod timeline;

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Arc;

use crate::analysis::wire::{SegmentRecord, WireAnalyzer, WireConfig};
use crate::protocol::tcp::SynOptions;
use crate::sources::capture::file::ReadEnd;
use crate::sources::capture::{
    decode, pump, CaptureFile, CaptureFileError, Frame, FrameSink, Pumped, SharedBytes, Skip, TcpPacket,
};

/// Sees each Redis segment as it is analysed (for listings).
pub type SegmentSink<'a> = dyn FnMut(&SegmentRecord, &WireAnalyzer) + 'a;

/// How many analyzers `analyze` runs, each holding a share of the connections: 1 analyses on
/// the thread that reads the file; N > 1 adds N - 1 analyzer threads fed by the reading
/// thread. `RESPSCOPE_ANALYZERS` overrides the choice (for benchmarks).
fn analyzers() -> usize {
    if let Some(n) = std::env::var("RESPSCOPE_ANALYZERS").ok().and_then(|v| v.parse::<usize>().ok()) {
        return n.clamp(1, 16);
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// Analysis on the reading thread: each frame decoded and analysed where it lies in the
/// read buffer, its segment handed to the listing when there is one.
struct Inline<'s, 'a> {
    wire: WireAnalyzer,
    listing: Option<&'s mut SegmentSink<'a>>,
}

impl FrameSink for Inline<'_, '_> {
    #[inline]
    fn frame(&mut self, f: &Frame<'_>) -> ControlFlow<()> {
        let rec = self.wire.packet(f.no, f.ts_us, decode(f.link, f.data), self.listing.is_some());
        if let (Some(rec), Some(sink)) = (rec, self.listing.as_mut()) {
            sink(&rec, &self.wire);
        }
        ControlFlow::Continue(())
    }
}

/// The single-analyzer path, feeding each segment to `sink` (if any) in frame order.
fn one_analyzer(
    file: &mut CaptureFile,
    cfg: WireConfig,
    listing: Option<&mut SegmentSink<'_>>,
) -> (WireAnalyzer, ReadEnd) {
    let mut run = Inline { wire: WireAnalyzer::new(cfg, file.link()), listing };
    let warning = match pump(file, &mut run) {
        Pumped::Ended(w) => w,
        Pumped::Stopped => None,
    };
    run.wire.finish();
    (run.wire, ReadEnd { warning })
}

/// A TCP segment decoded by the reading thread, its payload left where it lies in the
/// shared read buffer.
#[derive(Clone, Copy)]
struct Segment {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    syn: SynOptions,
    payload_at: usize,
    payload_len: usize,
    seglen: u32,
}

impl Segment {
    fn of(p: &TcpPacket<'_>, buf: &[u8]) -> Segment {
        let payload_at = (p.payload.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize);
        Segment {
            src: p.src,
            dst: p.dst,
            sport: p.sport,
            dport: p.dport,
            seq: p.seq,
            ack: p.ack,
            flags: p.flags,
            window: p.window,
            syn: p.syn,
            payload_at,
            payload_len: p.payload.len(),
            seglen: p.seglen,
        }
    }

    fn packet(self, buf: &[u8]) -> TcpPacket<'_> {
        TcpPacket {
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            syn: self.syn,
            payload: buf.get(self.payload_at..self.payload_at + self.payload_len).unwrap_or_default(),
            seglen: self.seglen,
        }
    }
}

/// A frame as the reading thread hands it to an analyzer: decoded once, never copied.
struct Decoded {
    no: u64,
    ts_us: i64,
    /// Its connection's hash, computed to deal it: the analyzer does not hash it again.
    flow: u64,
    tcp: Result<Segment, Skip>,
}

/// One analyzer's frames from one read buffer, in file order.
struct Batch {
    bytes: SharedBytes,
    frames: Vec<Decoded>,
}

/// Batches in flight per analyzer: enough to ride out a scheduling hiccup, few enough that
/// the read buffers they hold stay in cache.
const BATCHES_IN_FLIGHT: usize = 4;

/// The reading thread's side of parallel analysis: decodes each frame and deals it by
/// connection, either to its own analyzer, at once, or to an analyzer thread, which gets its
/// frames of each read buffer in one batch together with the buffer itself.
struct Dispatch {
    /// The reading thread's own analyzer.
    local: WireAnalyzer,
    /// Connections are dealt by their hash modulo this: bucket 0 to `local`, buckets 2k + 1
    /// and 2k + 2 to analyzer thread k.
    buckets: usize,
    open: Vec<Vec<Decoded>>,
    bytes: Option<SharedBytes>,
    txs: Vec<SyncSender<Batch>>,
    recycled: Receiver<Vec<Decoded>>,
    gone: bool,
}

impl Dispatch {
    fn flush(&mut self) {
        let Some(bytes) = &self.bytes else { return };
        for (open, tx) in self.open.iter_mut().zip(&self.txs) {
            if open.is_empty() {
                continue;
            }
            let next = self.recycled.try_recv().unwrap_or_default();
            let frames = std::mem::replace(open, next);
            self.gone |= tx.send(Batch { bytes: Arc::clone(bytes), frames }).is_err();
        }
    }
}

impl FrameSink for Dispatch {
    #[inline]
    fn frame(&mut self, f: &Frame<'_>) -> ControlFlow<()> {
        let decoded = decode(f.link, f.data);
        let flow = decoded.as_ref().ok().map(WireAnalyzer::flow_of);
        let bucket = WireAnalyzer::shard(flow, self.buckets);
        let flow = flow.unwrap_or(0);
        if bucket == 0 {
            self.local.packet_in_flow(f.no, f.ts_us, decoded, flow, false);
            return ControlFlow::Continue(());
        }
        let k = (bucket - 1) / 2;
        let Some((buf, _)) = f.shared else { return ControlFlow::Break(()) };
        if !self.bytes.as_ref().is_some_and(|b| Arc::ptr_eq(b, buf)) {
            self.flush();
            self.bytes = Some(Arc::clone(buf));
        }
        let tcp = decoded.map(|p| Segment::of(&p, buf));
        if let Some(open) = self.open.get_mut(k) {
            open.push(Decoded { no: f.no, ts_us: f.ts_us, flow, tcp });
        }
        if self.gone {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Parallel analysis with `n` analyzers: this thread reads and decodes every frame and runs
/// one analyzer itself, `n - 1` threads run the others, and their tables are merged as if one
/// had seen every frame. Reading costs this thread about half of what analysing costs, so it
/// takes one share of the connections where each analyzer thread takes two: on 2 cores that
/// is 5-8% faster than a thread that only reads beside two analyzer threads, and no slower
/// than shares of 1:1 or 1:3.
fn parallel(file: &mut CaptureFile, cfg: &WireConfig, n: usize) -> (Option<WireAnalyzer>, ReadEnd, usize) {
    let link = file.link();
    // Each analyzer holds its share of the memory budget.
    let cfg = WireConfig { memory_budget: cfg.memory_budget / n, ..cfg.clone() };
    let threads = n - 1;
    let (back, recycled) = std::sync::mpsc::channel::<Vec<Decoded>>();
    let mut txs = Vec::with_capacity(threads);
    let mut rxs = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        txs.push(tx);
        rxs.push(rx);
    }
    let mut local = WireAnalyzer::new(cfg.clone(), link);
    local.set_part();
    let mut dispatch = Dispatch {
        local,
        buckets: 2 * n - 1,
        open: (0..threads).map(|_| Vec::new()).collect(),
        bytes: None,
        txs,
        recycled,
        gone: false,
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = rxs
            .into_iter()
            .map(|rx| {
                let cfg = cfg.clone();
                let back: Sender<Vec<Decoded>> = back.clone();
                s.spawn(move || {
                    let mut wire = WireAnalyzer::new(cfg, link);
                    wire.set_part();
                    for batch in rx {
                        let buf = batch.bytes.as_slice();
                        for d in &batch.frames {
                            wire.packet_in_flow(d.no, d.ts_us, d.tcp.map(|t| t.packet(buf)), d.flow, false);
                        }
                        let mut frames = batch.frames;
                        frames.clear();
                        let _ = back.send(frames);
                    }
                    wire.finish();
                    wire
                })
            })
            .collect();
        drop(back);
        let warning = match pump(file, &mut dispatch) {
            Pumped::Ended(w) => w,
            Pumped::Stopped => None,
        };
        dispatch.flush();
        // The analyzer threads end once their last batches are in.
        let Dispatch { mut local, txs, .. } = dispatch;
        drop(txs);
        local.finish();
        let (mut parts, failed) = join_all(handles);
        parts.push(local);
        (WireAnalyzer::merge(parts), ReadEnd { warning }, failed)
    })
}

/// Waits for every thread: the results of those that finished, and how many panicked (a
/// bug whose cost is their share of the report, which the caller must say).
fn join_all<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> (Vec<T>, usize) {
    let mut done = Vec::with_capacity(handles.len());
    let mut failed = 0;
    for h in handles {
        match h.join() {
            Ok(v) => done.push(v),
            Err(_) => failed += 1,
        }
    }
    (done, failed)
}

/// A finished analysis of one file.
pub struct FileAnalysis {
    /// The analyzer, finished.
    pub wire: WireAnalyzer,
    /// Problems with the input.
    pub warnings: Vec<String>,
    /// Analyzer threads that failed: their connections are missing from the report. A bug,
    /// never a property of the input.
    pub failed_analyzers: usize,
}

impl FileAnalysis {
    /// The contract-v1 report with every connection listed (small captures and tests).
    pub fn report(&self) -> report::Report {
        report::Report::build(&self.wire, self.warnings.clone())
    }

    /// The report without its connections, which [`FileAnalysis::connections`] lists one at
    /// a time.
    pub fn summary(&self) -> report::Report {
        report::Report::summary(&self.wire, self.warnings.clone())
    }

    /// The connections, built as they are listed.
    pub fn connections(&self) -> report::Connections<'_> {
        report::Connections::Analyzer(&self.wire)
    }
}

/// Reads a capture file to the end (or to its first damaged record) and analyses it.
/// `on_segment`, when given, sees every Redis segment as it is analysed.
///
/// # Errors
/// The file is missing, not a capture, or of an unsupported link type.
pub fn analyze_file(
    path: &Path,
    cfg: WireConfig,
    on_segment: Option<&mut SegmentSink<'_>>,
) -> Result<FileAnalysis, CaptureFileError> {
    Ok(analyze_capture(CaptureFile::open(path)?, cfg, on_segment))
}

/// Analyses an open capture, a file or a stream ([`CaptureFile::from_reader`]): the path
/// from any capture to its report, so stdin and a file of the same bytes report alike.
pub fn analyze_capture(
    mut file: CaptureFile,
    cfg: WireConfig,
    on_segment: Option<&mut SegmentSink<'_>>,
) -> FileAnalysis {
    let link = file.link();
    // A listing must come out in frame order, so it stays on one analyzer, as does a file
    // libpcap reads (its frames cannot be shared without a copy).
    let n = if on_segment.is_some() || !file.shares_buffers() { 1 } else { analyzers() };
    let (wire, end, failed_analyzers) = if n == 1 {
        let (wire, end) = one_analyzer(&mut file, cfg, on_segment);
        (wire, end, 0)
    } else {
        let (wire, end, failed) = parallel(&mut file, &cfg, n.max(1));
        (wire.unwrap_or_else(|| WireAnalyzer::new(cfg, link)), end, failed)
    };
    let mut warnings = Vec::new();
    if let Some(w) = end.warning {
        warnings.push(w);
    }
    if wire.counts.tcp_packets == 0 && wire.counts.packets > 0 {
        warnings.push(format!(
            "no TCP packets on port(s) {:?}: is the server on another port? Use --port",
            wire.config().ports
        ));
    }
    if failed_analyzers > 0 {
        warnings.push(format!(
            "{failed_analyzers} analyzer thread(s) failed, so the connections they held are missing from this report; this is a bug in respscope, please report it with the capture"
        ));
    }
    FileAnalysis { wire, warnings, failed_analyzers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_panics_is_counted_not_dropped_silently() {
        let (done, failed) = std::thread::scope(|s| {
            let handles = vec![
                s.spawn(|| 1),
                s.spawn(|| -> i32 { std::panic::panic_any("an analyzer bug") }),
                s.spawn(|| 3),
            ];
            join_all(handles)
        });
        assert_eq!(done, [1, 3]);
        assert_eq!(failed, 1);
    }
}
