//! Packet sources: capture files and live interfaces.
//!
//! Sources only read and decode; what the bytes mean is decided in [`crate::analysis`].
//! Every source hands out frames of one shape ([`Frame`]) through one trait
//! ([`FrameSource`]), and one loop ([`pump`]) drives any source into any consumer
//! ([`FrameSink`]): `analyze`, `replay` and the live capture differ only in their source and
//! their sink.

pub mod decode;
pub mod file;
pub mod live;
mod records;
pub mod synthetic;

use std::ops::ControlFlow;
use std::sync::Arc;

pub use decode::{decode, Link, Skip, TcpPacket};
pub use file::{CaptureFile, CaptureFileError};

/// A buffer of file bytes that frames are borrowed from, shareable with the threads that
/// analyse them so that no frame is copied on its way there.
pub type SharedBytes = Arc<Vec<u8>>;

/// One captured record, borrowed from the source's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Frame number in the capture, from 1 (as Wireshark counts).
    pub no: u64,
    /// Capture timestamp, microseconds since the Unix epoch.
    pub ts_us: i64,
    /// Captured bytes (may be shorter than the frame on the wire).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub wire_len: u32,
    /// The framing of the interface it was captured on (a pcapng file may hold several).
    pub link: Link,
    /// The shareable buffer `data` lies in and its offset there, when the source has one
    /// (file sources): another thread can keep the bytes alive instead of copying them.
    pub shared: Option<(&'a SharedBytes, usize)>,
}

/// What a live source knows about itself, handed out between frames.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pulse {
    /// Fresh loss counters, when the source has them.
    pub stats: Option<live::LiveStats>,
    /// Whether the interface is up, when it was just read.
    pub up: Option<bool>,
}

/// What a source has next.
#[derive(Debug)]
pub enum Next<'a> {
    /// A frame.
    Frame(Frame<'a>),
    /// No frame now: a live capture between packets, or its regular break in a busy stream
    /// (about every 50 ms), so the consumer can answer requests.
    Idle(Pulse),
    /// The end of the frames: with a warning when something was wrong (a damaged record, a
    /// capture that failed).
    End(Option<String>),
}

/// Anything frames can be read from: capture files (read with pcap-parser, or libpcap for
/// what pcap-parser does not read) and live interfaces.
pub trait FrameSource {
    /// The next frame, a pause, or the end.
    fn next_frame(&mut self) -> Next<'_>;
}

/// What consumes frames.
pub trait FrameSink {
    /// One frame; `Break` stops the loop.
    fn frame(&mut self, f: &Frame<'_>) -> ControlFlow<()>;
    /// A pause in the frames; `Break` stops the loop.
    fn idle(&mut self, _pulse: &Pulse) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// How [`pump`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// The source ended, with its warning if any.
    Ended(Option<String>),
    /// The sink asked to stop.
    Stopped,
}

/// The capture loop: every frame of `src` into `sink`, until the source ends or the sink
/// stops. The one loop over frames, whatever reads them and whatever consumes them.
pub fn pump<S: FrameSource + ?Sized, K: FrameSink + ?Sized>(src: &mut S, sink: &mut K) -> Pumped {
    loop {
        let flow = match src.next_frame() {
            Next::Frame(f) => sink.frame(&f),
            Next::Idle(p) => sink.idle(&p),
            Next::End(w) => return Pumped::Ended(w),
        };
        if flow.is_break() {
            return Pumped::Stopped;
        }
    }
}

/// Latest timestamp respscope represents: 2^62 µs, about the year 148,000. Every timestamp
/// lies in `[0, MAX_TS_US]`, so the difference of any two fits an `i64`.
pub const MAX_TS_US: i64 = 1 << 62;

/// A timestamp in microseconds since the Unix epoch, from seconds and a sub-second part in
/// microseconds, clamped to `[0, MAX_TS_US]`. Every capture, SLOWLOG and MONITOR time goes
/// through here: a hostile file or reply may carry any value, and the arithmetic on times
/// downstream must not overflow.
pub fn timestamp_us(secs: i64, micros: i64) -> i64 {
    secs.saturating_mul(1_000_000).saturating_add(micros).clamp(0, MAX_TS_US)
}
