//! The wire feeds of the console: a live capture or a replayed file, each on a thread that
//! owns the analyzer and answers snapshot requests.
//!
//! pcap reads block, so capture and analysis run on their own OS thread. Nothing is shared:
//! the engine asks for a snapshot over a channel and the capture thread answers between
//! packets (at least every 100 ms, even under load), so the analyzer is never locked and the
//! views only ever see owned, finished numbers.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::analysis::conversation::latency::IntervalLatency;
use crate::analysis::wire::{WireAnalyzer, WireConfig};
use crate::engine::activity::ConnActivity;
use crate::engine::evidence::recorder::{RecordConfig, Recorder};
use crate::engine::evidence::ring::{Ring, Saved};
use crate::engine::report::{Report, SnapshotLimits};
pub use crate::engine::snapshot::Snapshotter;
use crate::sources::capture::live::{LiveCapture, LiveCaptureError, LiveConfig, LiveStats};
use crate::sources::capture::{decode, pump, CaptureFile, CaptureFileError, Frame, FrameSink, Pulse, Pumped};

/// Whether the wire is being seen, as every view says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum CaptureStatus {
    /// Packets are captured.
    #[serde(rename = "capturing")]
    Capturing,
    /// The interface is down: the capture is open but nothing can arrive.
    #[serde(rename = "interface down")]
    InterfaceDown,
    /// The capture failed (the interface went away, say); it is reopened with backoff.
    #[serde(rename = "stopped")]
    Stopped,
    /// A replay reached the end of its file.
    #[serde(rename = "ended")]
    Ended,
}

/// What the wire looked like at one moment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WireSnapshot {
    /// Capturing or not; `stopped` says why when not.
    pub status: CaptureStatus,
    /// The interface captured on.
    pub interface: String,
    /// Contract-v1 numbers since the capture started (open connections included).
    pub report: Report,
    /// Kernel and interface drops.
    pub loss: LiveStats,
    /// Why the wire is not being seen, when it is not (interface down or gone, a capture
    /// error, the end of a replay), with what respscope is doing about it.
    pub stopped: Option<String>,
    /// Seconds the current status has lasted.
    pub status_for_s: f64,
    /// Times the capture was opened again after it stopped.
    pub reopened: u32,
    /// Seconds of wire time: since the capture started (live) or the replay position in
    /// capture time.
    pub clock_s: f64,
    /// Latency of the commands answered since the previous snapshot, over all connections.
    pub latency: IntervalLatency,
    /// `--write`'s file and what it holds, when recording.
    pub recording: Option<Recording>,
}

/// What a feed thread answers: the snapshot `watch` prints, and for the console the recent
/// activity of each listed connection (kept out of the exported snapshot).
#[derive(Clone, Debug)]
pub struct FeedSnapshot {
    /// The exported snapshot.
    pub wire: WireSnapshot,
    /// Each listed connection's recent segments and clock, in the report's order.
    pub activity: Vec<std::sync::Arc<ConnActivity>>,
    /// Latency buckets by lower-case command name since the capture started, when the feed
    /// was started to track them ([`LiveWire::start_tracking_commands`]).
    pub command_latency: Option<Vec<(String, crate::analysis::wire::bycommand::Buckets)>>,
}

/// Requests to a feed thread.
enum Req {
    Snapshot(Sender<FeedSnapshot>),
    Replay(ReplayCtl),
    /// Write the ring's last µs (all of it: `None`) to a file.
    Save(std::path::PathBuf, Option<i64>, Sender<Result<Saved, String>>),
}

/// What a live feed records: continuously to files (`--write`), the last seconds in a ring a
/// key saves, and how long it keeps closed connections.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// `--write FILE` with tcpdump's rotation, if asked.
    pub record: Option<RecordConfig>,
    /// Capture time the ring keeps (µs; 0: no ring).
    pub ring_us: i64,
    /// Bytes the ring may hold.
    pub ring_bytes: usize,
    /// How long closed connections stay listed (µs; 0: [`KEEP_CLOSED_US`]).
    pub keep_closed_us: i64,
}

/// The recording's state, as every view says it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Recording {
    /// The file being written.
    pub file: String,
    /// Frames written over all files.
    pub frames: u64,
    /// Files started (rotation).
    pub files: u64,
    /// Why it stopped, if it did (a full disk): the capture goes on.
    pub error: Option<String>,
}

/// Replay controls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReplayCtl {
    /// Speed factor over capture time; 0 means as fast as possible.
    Speed(f64),
    /// Pause or resume.
    Pause(bool),
    /// One packet while paused.
    Step,
    /// From the first packet, with a fresh analysis.
    Restart,
}

/// The snapshot length the capture asks for (libpcap's default), written into evidence files.
const SNAPLEN: u32 = 262_144;

/// How long a live feed keeps a finished connection one by one after its last packet (the
/// console's history; `--keep-closed`): then it is summed into the totals.
pub const KEEP_CLOSED_US: i64 = 300_000_000;

/// Most finished connections a live feed keeps one by one, whatever their age: a flood of
/// short connections is summed into the totals beyond it, so memory stays flat however long
/// the console runs.
pub const LIVE_CLOSED_KEEP: usize = 10_000;

/// Segments kept per connection for the console's packet list.
pub const SEGMENTS_KEEP: usize = 100;

/// What the console's snapshots carry: every connection kept in ordinary use (1,000 open and
/// the [`LIVE_CLOSED_KEEP`] closed ones, with room), the busiest first past that, so a flood
/// of payload-less connections (some 230 bytes each in the table) cannot make a snapshot of
/// hundreds of thousands of reports (about 1 KiB each); and the detail lists its connection
/// view shows.
pub const CONSOLE_LIMITS: SnapshotLimits = SnapshotLimits { connections: Some(12_000), details: 50 };

/// Memory a live feed's connection table may hold: finished connections and the rest are
/// summed into the totals beyond it, so a flood of short connections cannot grow the
/// console. Room for 1,000 busy connections (about 32 KiB each while their latency samples
/// are exact) beside [`LIVE_CLOSED_KEEP`] finished ones (about 1.2 KiB each); the Timeline's
/// batch logs are bounded on their own
/// ([`BATCH_LOG_MAX`](crate::analysis::wire::BATCH_LOG_MAX)).
pub const LIVE_MEMORY_BUDGET: usize = 48 << 20;

/// An analyzer set up as every live feed runs it: finished connections kept for
/// [`KEEP_CLOSED_US`] and at most [`LIVE_CLOSED_KEEP`] of them, the last [`SEGMENTS_KEEP`]
/// segments and the write batches of each connection kept, latencies collected per interval.
pub fn live_analyzer(cfg: WireConfig, link: crate::sources::capture::Link) -> WireAnalyzer {
    let cfg = WireConfig { memory_budget: cfg.memory_budget.min(LIVE_MEMORY_BUDGET), ..cfg };
    let mut w = WireAnalyzer::new(cfg, link);
    w.set_closed_limit(Some(LIVE_CLOSED_KEEP));
    w.set_closed_keep(Some(KEEP_CLOSED_US));
    w.set_segment_log(SEGMENTS_KEEP);
    w.track_interval_latency();
    w
}

/// A running wire feed (live capture or replay).
pub struct LiveWire {
    requests: Sender<Req>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// The interface captured on.
    pub interface: String,
}

struct Handler {
    wire: WireAnalyzer,
    snap: Snapshotter,
    requests: Receiver<Req>,
    /// Loss counters of the open capture, and of the ones before it (a reopened capture
    /// counts from zero again).
    loss: LiveStats,
    loss_before: LiveStats,
    interface: String,
    started: std::time::Instant,
    status: CaptureStatus,
    why: Option<String>,
    status_since: std::time::Instant,
    reopened: u32,
    /// `--write`: the recorder, or why it stopped.
    recorder: Option<Recorder>,
    recording: Option<Recording>,
    /// The last seconds, for a key to save.
    ring: Option<Ring>,
    /// libpcap's link type number of the capture, for the files written.
    linktype: u32,
}

impl Handler {
    fn new(
        wire: WireAnalyzer,
        limits: SnapshotLimits,
        requests: Receiver<Req>,
        interface: String,
    ) -> Handler {
        let now = std::time::Instant::now();
        Handler {
            wire,
            snap: Snapshotter::new(limits),
            requests,
            loss: LiveStats::default(),
            loss_before: LiveStats::default(),
            interface,
            started: now,
            status: CaptureStatus::Capturing,
            why: None,
            status_since: now,
            reopened: 0,
            recorder: None,
            recording: None,
            ring: None,
            linktype: 1,
        }
    }

    fn set_status(&mut self, status: CaptureStatus, why: Option<String>) {
        if status != self.status {
            self.status_since = std::time::Instant::now();
        }
        self.status = status;
        self.why = why;
    }

    fn snapshot(&mut self, clock_s: f64) -> FeedSnapshot {
        // The report first: it carries the interval's deepest pipelines, which the next line
        // starts afresh.
        let crate::engine::snapshot::Snap { report, activity, latency } = self.snap.take(&mut self.wire);
        let b = self.loss_before;
        let wire = WireSnapshot {
            status: self.status,
            latency,
            interface: self.interface.clone(),
            report,
            loss: LiveStats {
                received: b.received + self.loss.received,
                kernel_dropped: b.kernel_dropped + self.loss.kernel_dropped,
                if_dropped: b.if_dropped + self.loss.if_dropped,
            },
            stopped: self.why.clone(),
            status_for_s: self.status_since.elapsed().as_secs_f64(),
            reopened: self.reopened,
            clock_s,
            recording: self.recording_now(),
        };
        let command_latency = self.wire.command_latency().map(|t| {
            let names = &self.wire.names.names;
            t.by_id()
                .iter()
                .zip(names)
                .filter(|(b, _)| b.count() > 0)
                .map(|(b, n)| (n.to_string_lossy().to_ascii_lowercase(), *b))
                .collect()
        });
        FeedSnapshot { wire, activity, command_latency }
    }

    fn answer(&mut self, req: Req) {
        match req {
            Req::Snapshot(reply) => {
                let clock = self.started.elapsed().as_secs_f64();
                let _ = reply.send(self.snapshot(clock));
            }
            Req::Save(path, last_us, reply) => {
                let saved = match &self.ring {
                    Some(r) => r.save(&path, self.linktype, SNAPLEN, last_us).map_err(|e| e.to_string()),
                    None => {
                        Err("this feed keeps no ring of recent packets (a replay, or --ring-seconds 0)"
                            .into())
                    }
                };
                let _ = reply.send(saved);
            }
            Req::Replay(_) => {}
        }
    }

    /// The recording's state now (its file flushed, so what it says is on disk).
    fn recording_now(&mut self) -> Option<Recording> {
        if let Some(r) = &mut self.recorder {
            if let Err(e) = r.flush() {
                self.recorder = None;
                if let Some(rec) = &mut self.recording {
                    rec.error = Some(format!("recording stopped: {e}"));
                }
            }
        }
        let r = self.recorder.as_ref();
        let rec = self.recording.as_mut()?;
        if let Some(r) = r {
            rec.file = r.current().display().to_string();
            rec.frames = r.frames;
            rec.files = r.files_started;
        }
        Some(rec.clone())
    }

    /// Starts what `ev` asks for on a capture of `linktype`.
    fn set_evidence(&mut self, ev: &Evidence, linktype: u32) -> Result<(), LiveCaptureError> {
        self.linktype = linktype;
        if ev.ring_us > 0 && ev.ring_bytes > 0 {
            self.ring = Some(Ring::new(ev.ring_us, ev.ring_bytes));
        }
        if let Some(cfg) = &ev.record {
            let r = Recorder::open(cfg.clone(), linktype, SNAPLEN).map_err(|e| LiveCaptureError::Other {
                iface: self.interface.clone(),
                reason: e.to_string(),
            })?;
            self.recording =
                Some(Recording { file: r.current().display().to_string(), files: 1, ..Recording::default() });
            self.recorder = Some(r);
        }
        Ok(())
    }

    /// The capture failed: its loss counters are kept, and the views say why.
    fn capture_failed(&mut self, why: String) {
        let b = &mut self.loss_before;
        b.received += self.loss.received;
        b.kernel_dropped += self.loss.kernel_dropped;
        b.if_dropped += self.loss.if_dropped;
        self.loss = LiveStats::default();
        self.set_status(CaptureStatus::Stopped, Some(format!("{why}; reopening it")));
    }
}

impl Handler {
    /// Analyses one frame, decoded with its own interface's framing.
    fn analyse(&mut self, f: &Frame<'_>) {
        if let Some(r) = &mut self.ring {
            r.push(f.ts_us, f.data, f.wire_len);
        }
        if let Some(r) = &mut self.recorder {
            if let Err(e) = r.frame(f.ts_us, f.data, f.wire_len) {
                // The disk is full, say: the capture goes on, the views say why the file ends.
                self.recorder = None;
                if let Some(rec) = &mut self.recording {
                    rec.error = Some(format!("recording stopped: {e}"));
                }
            }
        }
        self.wire.packet(f.no, f.ts_us, decode(f.link, f.data), false);
    }
}

/// The live capture's consumer: the handler, stopped by the flag.
struct Live<'h> {
    h: &'h mut Handler,
    stop: &'h AtomicBool,
}

impl FrameSink for Live<'_> {
    fn frame(&mut self, f: &Frame<'_>) -> ControlFlow<()> {
        self.h.analyse(f);
        ControlFlow::Continue(())
    }

    fn idle(&mut self, pulse: &Pulse) -> ControlFlow<()> {
        if self.stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        let h = &mut *self.h;
        if let Some(stats) = pulse.stats {
            h.loss = stats;
            // Once a second or so: a quiet capture lets the ring's last burst age out (live
            // timestamps are the wall clock).
            if let Some(r) = &mut h.ring {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
                r.expire(now);
            }
        }
        while let Ok(req) = h.requests.try_recv() {
            h.answer(req);
        }
        match (pulse.up, h.status) {
            (Some(false), CaptureStatus::Capturing) => {
                let why = format!(
                    "interface {} is down: nothing can be captured until it is up again",
                    h.interface
                );
                h.set_status(CaptureStatus::InterfaceDown, Some(why));
            }
            (Some(true), CaptureStatus::InterfaceDown) => h.set_status(CaptureStatus::Capturing, None),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// First wait before reopening a capture that failed, and the longest.
const REOPEN_MIN: Duration = Duration::from_millis(250);
const REOPEN_MAX: Duration = Duration::from_secs(5);

/// The capture thread: captures until asked to stop; a capture that fails (its interface
/// deleted, say) is reopened with backoff, answering snapshot requests meanwhile so the views
/// say what happened and when it is back.
fn capture_loop(mut cap: LiveCapture, cfg: &LiveConfig, h: &mut Handler, stop: &Arc<AtomicBool>) {
    loop {
        h.wire.set_link(cap.link());
        let why = match pump(&mut cap, &mut Live { h, stop }) {
            Pumped::Stopped => return,
            Pumped::Ended(why) => why.unwrap_or_else(|| format!("capture on {} ended", cap.interface)),
        };
        h.capture_failed(why);
        drop(cap);
        let mut wait = REOPEN_MIN;
        cap = loop {
            let deadline = std::time::Instant::now() + wait;
            while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                match h.requests.recv_timeout(left.min(Duration::from_millis(100))) {
                    Ok(req) => h.answer(req),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            match LiveCapture::open(cfg) {
                Ok(c) => break c,
                Err(e) => {
                    let first = h.why.clone().unwrap_or_default();
                    let first = first.split("; reopening").next().unwrap_or_default().to_string();
                    h.why = Some(format!("{first}; reopening it every {}s ({e})", REOPEN_MAX.as_secs()));
                    wait = (wait * 2).min(REOPEN_MAX);
                }
            }
        };
        h.reopened += 1;
        h.set_status(CaptureStatus::Capturing, None);
    }
}

impl LiveWire {
    /// Opens the capture and starts analysing on a thread named `capture-{iface}`.
    ///
    /// # Errors
    /// The capture could not be opened (rights, interface, filter).
    pub fn start(
        cfg: &LiveConfig,
        wire: WireConfig,
        limits: SnapshotLimits,
        evidence: &Evidence,
    ) -> Result<LiveWire, LiveCaptureError> {
        Self::start_with(cfg, wire, limits, evidence, false)
    }

    /// [`LiveWire::start`], also counting every paired command's latency by command name
    /// (each snapshot's `command_latency`): what the exporter's histograms are made of.
    ///
    /// # Errors
    /// As [`LiveWire::start`].
    pub fn start_tracking_commands(
        cfg: &LiveConfig,
        wire: WireConfig,
        limits: SnapshotLimits,
        evidence: &Evidence,
    ) -> Result<LiveWire, LiveCaptureError> {
        Self::start_with(cfg, wire, limits, evidence, true)
    }

    fn start_with(
        cfg: &LiveConfig,
        wire: WireConfig,
        limits: SnapshotLimits,
        evidence: &Evidence,
        by_command: bool,
    ) -> Result<LiveWire, LiveCaptureError> {
        let cap = LiveCapture::open(cfg)?;
        let (requests, rx) = channel::<Req>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let interface = cap.interface.clone();
        let mut w = live_analyzer(wire, cap.link());
        if by_command {
            w.track_command_latency();
        }
        if evidence.keep_closed_us > 0 {
            w.set_closed_keep(Some(evidence.keep_closed_us));
        }
        let mut h = Handler::new(w, limits, rx, interface.clone());
        h.set_evidence(evidence, cap.linktype())?;
        let cfg = cfg.clone();
        let handle = std::thread::Builder::new()
            .name(format!("capture-{interface}"))
            .spawn(move || capture_loop(cap, &cfg, &mut h, &stop2))
            .map_err(|e| LiveCaptureError::Other { iface: interface.clone(), reason: e.to_string() })?;
        Ok(LiveWire { requests, stop, handle: Some(handle), interface })
    }

    /// Asks the feed thread to write the last `last_us` of capture time it keeps (all of it:
    /// `None`) to `path` as pcapng; `None` if the thread is gone.
    pub fn save_window(
        &self,
        path: std::path::PathBuf,
        last_us: Option<i64>,
    ) -> Option<Receiver<Result<Saved, String>>> {
        let (tx, rx) = channel();
        self.requests.send(Req::Save(path, last_us, tx)).ok()?;
        Some(rx)
    }

    /// Asks the feed thread for a snapshot; `None` if it does not answer within `wait`.
    pub fn snapshot(&self, wait: Duration) -> Option<FeedSnapshot> {
        self.request_snapshot()?.recv_timeout(wait).ok()
    }

    /// Asks for a snapshot without waiting: the answer arrives on the returned receiver.
    pub fn request_snapshot(&self) -> Option<Receiver<FeedSnapshot>> {
        let (tx, rx) = channel();
        self.requests.send(Req::Snapshot(tx)).ok()?;
        Some(rx)
    }

    /// Sends a replay control (ignored by a live capture).
    pub fn control(&self, c: ReplayCtl) {
        let _ = self.requests.send(Req::Replay(c));
    }

    /// Replays `path` on its own timestamps at `speed` (0: as fast as possible), on a thread
    /// named `replay`, through the same analysis as live capture.
    ///
    /// # Errors
    /// The file is missing or not a capture.
    pub fn replay(
        path: &std::path::Path,
        wire: WireConfig,
        speed: f64,
        limits: SnapshotLimits,
    ) -> Result<LiveWire, CaptureFileError> {
        // Open once here so a bad file is reported before the console starts.
        let first = CaptureFile::open(path)?;
        let (requests, rx) = channel::<Req>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let name = path.display().to_string();
        let path = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("replay".into())
            .spawn(move || replay_loop(first, &path, wire, speed, limits, &rx, &stop2))
            .map_err(|e| CaptureFileError::Thread(e.to_string()))?;
        Ok(LiveWire { requests, stop, handle: Some(handle), interface: name })
    }
}

/// How often a replay looks at its requests while it reads, and the longest it sleeps at
/// once while pacing or paused.
const REPLAY_LOOK: Duration = Duration::from_millis(20);

/// The replay's consumer: paces frames on their timestamps at the asked speed, answering
/// requests between them.
struct Replay<'r> {
    h: Handler,
    rx: &'r Receiver<Req>,
    stop: &'r AtomicBool,
    speed: &'r mut f64,
    paused: &'r mut bool,
    step: bool,
    restart: bool,
    /// Capture time (µs since the first frame) that lines up with `base_wall`.
    base_pos: f64,
    base_wall: Instant,
    first_ts: Option<i64>,
    pos_us: f64,
    last_look: Instant,
}

impl Replay<'_> {
    /// Answers what is waiting; `Break` to restart or stop.
    fn look(&mut self) -> ControlFlow<()> {
        self.last_look = Instant::now();
        while let Ok(req) = self.rx.try_recv() {
            match req {
                Req::Snapshot(reply) => {
                    let _ = reply.send(self.h.snapshot(self.pos_us / 1e6));
                }
                Req::Replay(ReplayCtl::Restart) => {
                    self.restart = true;
                    return ControlFlow::Break(());
                }
                Req::Replay(ReplayCtl::Speed(s)) => {
                    self.rebase();
                    *self.speed = s.max(0.0);
                }
                Req::Replay(ReplayCtl::Pause(p)) => {
                    *self.paused = p;
                    self.rebase();
                }
                Req::Replay(ReplayCtl::Step) => self.step = true,
                // A replay keeps no ring: the handler says so.
                req @ Req::Save(..) => self.h.answer(req),
            }
        }
        if self.stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn rebase(&mut self) {
        self.base_pos = self.pos_us;
        self.base_wall = Instant::now();
    }
}

impl FrameSink for Replay<'_> {
    fn frame(&mut self, f: &Frame<'_>) -> ControlFlow<()> {
        if self.last_look.elapsed() >= REPLAY_LOOK {
            self.look()?;
        }
        while *self.paused && !self.step {
            std::thread::sleep(Duration::from_millis(10));
            self.look()?;
        }
        let t0 = *self.first_ts.get_or_insert(f.ts_us);
        let target = (f.ts_us - t0) as f64;
        // Wait for the frame's time, in slices, so that requests are answered meanwhile.
        while *self.speed > 0.0 && !self.step {
            let now_pos = self.base_pos + self.base_wall.elapsed().as_secs_f64() * 1e6 * *self.speed;
            if target <= now_pos {
                break;
            }
            let wait = ((target - now_pos) / *self.speed / 1e6).min(REPLAY_LOOK.as_secs_f64());
            std::thread::sleep(Duration::from_secs_f64(wait));
            self.look()?;
        }
        self.pos_us = self.pos_us.max(target);
        self.h.analyse(f);
        if self.step {
            self.step = false;
            self.rebase();
        }
        ControlFlow::Continue(())
    }
}

/// The replay thread: pumps the file through [`Replay`]; at its end (or first damaged
/// record) keeps answering requests until asked to restart or stop.
fn replay_loop(
    first: CaptureFile,
    path: &std::path::Path,
    cfg: WireConfig,
    mut speed: f64,
    limits: SnapshotLimits,
    rx: &Receiver<Req>,
    stop: &Arc<AtomicBool>,
) {
    let mut file = Some(first);
    let mut paused = false;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut f) = file.take().or_else(|| CaptureFile::open(path).ok()) else { return };
        let h = Handler::new(
            live_analyzer(cfg.clone(), f.link()),
            limits,
            channel().1,
            path.display().to_string(),
        );
        let now = Instant::now();
        let mut r = Replay {
            h,
            rx,
            stop,
            speed: &mut speed,
            paused: &mut paused,
            step: false,
            restart: false,
            base_pos: 0.0,
            base_wall: now,
            first_ts: None,
            pos_us: 0.0,
            last_look: now,
        };
        let ended = match pump(&mut f, &mut r) {
            Pumped::Stopped if r.restart => continue,
            Pumped::Stopped => return,
            Pumped::Ended(w) => w.unwrap_or_else(|| "end of the capture (r to replay again)".into()),
        };
        r.h.wire.finish();
        r.h.set_status(CaptureStatus::Ended, Some(ended));
        loop {
            if r.look().is_break() {
                if r.restart {
                    break;
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for LiveWire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
