//! The last seconds of the capture, kept so a key can save them: a queue of frames bounded by
//! age (default 60 s of capture time) and by bytes, whichever binds first. Nothing here
//! grows with the traffic beyond the byte bound.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::{EvidenceError, PcapngFile};

/// Default span kept (µs of capture time).
pub const DEFAULT_SPAN_US: i64 = 60_000_000;
/// Default byte bound (frame bytes, plus a small cost per frame).
pub const DEFAULT_BYTES: usize = 128 << 20;
/// What a frame costs besides its bytes (its place in the queue).
const FRAME_COST: usize = 48;

struct Kept {
    ts_us: i64,
    wire_len: u32,
    data: Box<[u8]>,
}

/// The ring.
pub struct Ring {
    span_us: i64,
    max_bytes: usize,
    bytes: usize,
    frames: VecDeque<Kept>,
    /// Frames pushed out by the byte bound before their time (the saved window is shorter).
    pub evicted_early: u64,
}

/// What a save wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    /// Frames written.
    pub frames: u64,
    /// Capture time of the first and last (µs), if any.
    pub span: Option<(i64, i64)>,
}

impl Ring {
    /// A ring keeping `span_us` of capture time within `max_bytes`.
    pub fn new(span_us: i64, max_bytes: usize) -> Ring {
        Ring { span_us, max_bytes, bytes: 0, frames: VecDeque::new(), evicted_early: 0 }
    }

    /// Keeps a frame; forgets those older than the span before it, and the oldest while over
    /// the byte bound.
    pub fn push(&mut self, ts_us: i64, data: &[u8], wire_len: u32) {
        let cost = data.len() + FRAME_COST;
        if cost > self.max_bytes {
            return;
        }
        while self.frames.front().is_some_and(|f| ts_us.saturating_sub(f.ts_us) > self.span_us) {
            self.pop();
        }
        while self.bytes + cost > self.max_bytes {
            self.pop();
            self.evicted_early += 1;
        }
        self.bytes += cost;
        self.frames.push_back(Kept { ts_us, wire_len, data: data.into() });
    }

    fn pop(&mut self) {
        if let Some(f) = self.frames.pop_front() {
            self.bytes -= f.data.len() + FRAME_COST;
        }
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Writes the frames of the last `seconds` (all kept, if `None`) to `path` as pcapng.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(
        &self,
        path: &Path,
        linktype: u32,
        snaplen: u32,
        last_us: Option<i64>,
    ) -> Result<Saved, EvidenceError> {
        let err = |reason: String| EvidenceError::Write { path: path.display().to_string(), reason };
        let f = File::create(path).map_err(|e| err(e.to_string()))?;
        let mut out = PcapngFile::start(BufWriter::new(f), linktype, snaplen).map_err(err)?;
        let end = self.frames.back().map_or(0, |f| f.ts_us);
        let from = last_us.map_or(i64::MIN, |l| end.saturating_sub(l));
        let mut saved = Saved { frames: 0, span: None };
        for f in self.frames.iter().filter(|f| f.ts_us >= from) {
            out.packet(f.ts_us, &f.data, f.wire_len).map_err(err)?;
            saved.frames += 1;
            saved.span = Some((saved.span.map_or(f.ts_us, |s| s.0), f.ts_us));
        }
        out.flush().map_err(err)?;
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_age_and_bytes() {
        let mut r = Ring::new(1_000_000, 10_000);
        for i in 0..100 {
            r.push(i * 100_000, &[7u8; 100], 100);
        }
        // 1 s of frames 0.1 s apart: 11 kept (ends included).
        assert_eq!(r.len(), 11);
        assert_eq!(r.evicted_early, 0);
        let mut r = Ring::new(DEFAULT_SPAN_US, 1_000);
        for i in 0..100 {
            r.push(i, &[7u8; 100], 100);
        }
        assert!(r.bytes() <= 1_000);
        assert_eq!(r.len(), 1_000 / (100 + FRAME_COST));
        assert!(r.evicted_early > 0);
        // A frame larger than the whole bound is not kept at all.
        r.push(1000, &vec![0u8; 2_000], 2_000);
        assert!(r.bytes() <= 1_000);
    }

    #[test]
    fn saves_the_last_seconds_as_pcapng() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Ring::new(DEFAULT_SPAN_US, DEFAULT_BYTES);
        for i in 0..30 {
            r.push(1_700_000_000_000_000 + i * 1_000_000, &[0u8; 60], 60);
        }
        let p = dir.path().join("w.pcapng");
        let s = r.save(&p, 1, 65535, Some(10_000_000)).expect("save");
        assert_eq!(s.frames, 11);
        assert_eq!(s.span, Some((1_700_000_019_000_000, 1_700_000_029_000_000)));
        let bytes = std::fs::read(&p).expect("read back");
        // Section header block, little or big endian.
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    }
}
