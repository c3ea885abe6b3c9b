//! Packet sources: capture files now, live interfaces with the console.
//!
//! Sources only read and decode; what the bytes mean is decided in [`crate::analysis`].

pub mod decode;
pub mod file;
pub mod live;

pub use decode::{decode, Link, Skip, TcpPacket};
pub use file::{CaptureFile, CaptureFileError};

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
