//! The last seconds of the capture, kept so a key can save them: frames bounded by age
//! (default 60 s of capture time) and by bytes (default 32 MiB), whichever binds first.
//!
//! Frames are packed into 1 MiB chunks, each with a small index, and whole chunks are
//! dropped when their newest frame is older than the span or when the bytes run over. A
//! chunk is one large allocation, so memory given back is given back to the system: a flood
//! of small frames costs no per-frame allocation and leaves nothing behind once it ages out.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::{EvidenceError, PcapngFile};

/// Default span kept (µs of capture time).
pub const DEFAULT_SPAN_US: i64 = 60_000_000;
/// Default byte bound.
pub const DEFAULT_BYTES: usize = 32 << 20;
/// Bytes of frame data per chunk.
const CHUNK: usize = 1 << 20;
/// What a frame's index entry costs.
const ENTRY: usize = std::mem::size_of::<Entry>();

#[derive(Clone, Copy)]
struct Entry {
    ts_us: i64,
    wire_len: u32,
    start: u32,
    len: u32,
}

struct Chunk {
    data: Vec<u8>,
    index: Vec<Entry>,
    last_ts: i64,
}

impl Chunk {
    fn cost(&self) -> usize {
        self.data.capacity() + self.index.capacity() * ENTRY
    }
}

/// The ring.
pub struct Ring {
    span_us: i64,
    max_bytes: usize,
    bytes: usize,
    chunks: VecDeque<Chunk>,
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
        Ring { span_us, max_bytes, bytes: 0, chunks: VecDeque::new(), evicted_early: 0 }
    }

    /// Keeps a frame; forgets chunks older than the span before it, and the oldest while over
    /// the byte bound. A frame larger than the bound is not kept.
    pub fn push(&mut self, ts_us: i64, data: &[u8], wire_len: u32) {
        let Ok(len) = u32::try_from(data.len()) else { return };
        if data.len() + ENTRY > self.max_bytes {
            return;
        }
        self.expire(ts_us);
        let fits = self.chunks.back().is_some_and(|c| c.data.len() + data.len() <= c.data.capacity());
        if !fits {
            let cap = CHUNK.max(data.len()).min(self.max_bytes);
            while self.bytes + cap + 64 * ENTRY > self.max_bytes && !self.chunks.is_empty() {
                self.drop_oldest(true);
            }
            self.chunks.push_back(Chunk {
                data: Vec::with_capacity(cap),
                index: Vec::with_capacity(64),
                last_ts: ts_us,
            });
            self.bytes += cap + 64 * ENTRY;
        }
        let Some(c) = self.chunks.back_mut() else { return };
        let before = c.cost();
        let start = u32::try_from(c.data.len()).unwrap_or(u32::MAX);
        c.data.extend_from_slice(data);
        c.index.push(Entry { ts_us, wire_len, start, len });
        c.last_ts = c.last_ts.max(ts_us);
        self.bytes = self.bytes + c.cost() - before;
        while self.bytes > self.max_bytes && self.chunks.len() > 1 {
            self.drop_oldest(true);
        }
    }

    /// Forgets chunks whose newest frame is older than the span before `now_us` (also called
    /// while the capture is idle, so a quiet server does not hold the last burst for ever).
    pub fn expire(&mut self, now_us: i64) {
        while self.chunks.front().is_some_and(|c| now_us.saturating_sub(c.last_ts) > self.span_us) {
            self.drop_oldest(false);
        }
    }

    fn drop_oldest(&mut self, early: bool) {
        if let Some(c) = self.chunks.pop_front() {
            self.bytes -= c.cost();
            if early {
                self.evicted_early += c.index.len() as u64;
            }
        }
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.index.len()).sum()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(|c| c.index.is_empty())
    }

    /// Bytes held (frame data and index, as allocated).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Writes the frames of the last `last_us` (all kept, if `None`) to `path` as pcapng.
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
        let end = self.chunks.back().map_or(0, |c| c.last_ts);
        let from = last_us.map_or(i64::MIN, |l| end.saturating_sub(l));
        let mut saved = Saved { frames: 0, span: None };
        for c in &self.chunks {
            for e in c.index.iter().filter(|e| e.ts_us >= from) {
                let (s, n) = (e.start as usize, e.len as usize);
                let Some(data) = c.data.get(s..s + n) else { continue };
                out.packet(e.ts_us, data, e.wire_len).map_err(err)?;
                saved.frames += 1;
                saved.span = Some((saved.span.map_or(e.ts_us, |s| s.0), e.ts_us));
            }
        }
        out.flush().map_err(err)?;
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_age() {
        let mut r = Ring::new(1_000_000, DEFAULT_BYTES);
        for i in 0..100 {
            r.push(i * 100_000, &[7u8; 100], 100);
        }
        // One chunk holds them all: nothing is older than a second at the chunk's newest.
        assert_eq!(r.len(), 100);
        // Idle: two seconds after the last frame the chunk has aged out.
        r.expire(99 * 100_000 + 2_000_000);
        assert!(r.is_empty());
        assert_eq!((r.bytes(), r.evicted_early), (0, 0));
    }

    #[test]
    fn bounded_by_bytes() {
        let max = 3 * CHUNK + 4096;
        let mut r = Ring::new(DEFAULT_SPAN_US, max);
        for i in 0..100_000 {
            r.push(i, &[7u8; 100], 100);
            assert!(r.bytes() <= max, "{} > {max} after {i}", r.bytes());
        }
        assert!(r.evicted_early > 0);
        assert!(r.len() > 10_000, "{}", r.len());
        // A frame larger than the whole bound is not kept at all.
        r.push(100_001, &vec![0u8; max], 2_000);
        assert!(r.bytes() <= max);
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
        // Section header block.
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    }
}
