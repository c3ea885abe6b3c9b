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
