//! Reading pcap and pcapng files through libpcap.
//!
//! A damaged file is read as far as it goes: a record cut short at the end of a file ends the
//! read with a warning and everything before it is kept.

use std::path::{Path, PathBuf};

use super::decode::Link;
use super::Frame;

/// Why a capture file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureFileError {
    /// The path does not exist.
    #[error("{path}: no such file. Give the path of a .pcap or .pcapng capture")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The path exists but is not a capture libpcap can read.
    #[error("{path}: not a pcap or pcapng capture ({reason}). Record one with `tcpdump -i lo -w FILE 'tcp port 6379'`")]
    NotACapture {
        /// The path given.
        path: PathBuf,
        /// libpcap's words.
        reason: String,
    },
    /// No thread could be started to read the file.
    #[error("cannot start the capture reading thread: {0}")]
    Thread(String),
    /// The file uses a link type respscope does not decode.
    #[error("{path}: link type {linktype} is not supported (Ethernet, Linux cooked v1/v2, BSD loopback and raw IP are)")]
    UnsupportedLink {
        /// The path given.
        path: PathBuf,
        /// The DLT number.
        linktype: i32,
    },
}

/// An open capture file.
pub struct CaptureFile {
    cap: pcap::Capture<pcap::Offline>,
    link: Link,
    path: PathBuf,
}

/// How a file read ended.
#[derive(Debug, Default, Clone)]
pub struct ReadEnd {
    /// A warning when the file ended early (truncated or corrupt record).
    pub warning: Option<String>,
}

impl CaptureFile {
    /// Opens a pcap or pcapng file.
    ///
    /// # Errors
    /// A missing file, a file that is not a capture, or an unsupported link type.
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureFileError> {
        if !path.exists() {
            return Err(CaptureFileError::NotFound { path: path.to_path_buf() });
        }
        let cap = pcap::Capture::from_file(path)
            .map_err(|e| CaptureFileError::NotACapture { path: path.to_path_buf(), reason: e.to_string() })?;
        let linktype = cap.get_datalink().0;
        let link = Link::from_linktype(linktype)
            .ok_or(CaptureFileError::UnsupportedLink { path: path.to_path_buf(), linktype })?;
        Ok(CaptureFile { cap, link, path: path.to_path_buf() })
    }

    /// The file's link type.
    pub fn link(&self) -> Link {
        self.link
    }

    /// The next record, `Ok(None)` at the end, `Err` with a warning for a damaged record.
    ///
    /// # Errors
    /// A damaged record, in words (everything before it was read).
    pub fn next_frame(&mut self, no: u64) -> Result<Option<Frame<'_>>, String> {
        match self.cap.next_packet() {
            Ok(p) => {
                let ts = p.header.ts;
                // time_t and suseconds_t are narrower than i64 on some platforms.
                #[allow(clippy::useless_conversion)]
                let ts_us = super::timestamp_us(i64::from(ts.tv_sec), i64::from(ts.tv_usec));
                Ok(Some(Frame { no, ts_us, data: p.data, wire_len: p.header.len }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(format!("{}: the capture ends with a damaged record ({e})", self.path.display())),
        }
    }

    /// Calls `f` for every record in file order.
    pub fn for_each(&mut self, mut f: impl FnMut(Frame<'_>)) -> ReadEnd {
        let mut no = 0u64;
        loop {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = p.header.ts;
                    // time_t and suseconds_t are narrower than i64 on some platforms.
                    #[allow(clippy::useless_conversion)]
                    let ts_us = super::timestamp_us(i64::from(ts.tv_sec), i64::from(ts.tv_usec));
                    no += 1;
                    f(Frame { no, ts_us, data: p.data, wire_len: p.header.len });
                }
                Err(pcap::Error::NoMorePackets) => return ReadEnd::default(),
                Err(e) => {
                    return ReadEnd {
                        warning: Some(format!(
                            "{}: the capture ends with a damaged record ({e}); the report covers the packets before it",
                            self.path.display()
                        )),
                    };
                }
            }
        }
    }
}

/// Frames copied out of libpcap's buffer so another thread can analyse them.
#[derive(Default)]
pub struct FrameBatch {
    data: Vec<u8>,
    recs: Vec<(u64, i64, usize, usize, u32)>,
}

/// Bytes gathered before a batch is handed over. Small on purpose: the analysing core then
/// reads bytes the reading core wrote a moment ago, still in a shared cache. Measured on the
/// 500 MB -P 16 capture, 64 KiB batches beat 1 MiB ones by about a fifth (1 MiB batches had
/// the analysis waiting on memory at every skipped bulk payload).
const BATCH_BYTES: usize = 1 << 16;
/// Batches in flight per consumer between the reading thread and the analysis.
const BATCHES_IN_FLIGHT: usize = 4;

impl FrameBatch {
    /// The frames, in file order.
    pub fn frames(&self) -> impl Iterator<Item = Frame<'_>> {
        self.recs.iter().map(|&(no, ts_us, start, len, wire_len)| Frame {
            no,
            ts_us,
            data: &self.data[start..start + len],
            wire_len,
        })
    }

    fn push(&mut self, f: &Frame<'_>) {
        let start = self.data.len();
        self.data.extend_from_slice(f.data);
        self.recs.push((f.no, f.ts_us, start, f.data.len(), f.wire_len));
    }

    fn clear(&mut self) {
        self.data.clear();
        self.recs.clear();
    }
}

/// One consumer's side of a [`BatchReader`].
pub struct Shard {
    /// Full batches, in file order.
    pub batches: std::sync::mpsc::Receiver<FrameBatch>,
    /// Give emptied batches back here to be reused.
    pub recycle: std::sync::mpsc::Sender<FrameBatch>,
}

/// Reads a capture on its own thread and deals its frames out to `n` consumers by
/// `shard_of(frame)`; each consumer sees its frames in file order. libpcap reads block and
/// cost about as much as analysing small packets, so reading and analysis overlap on separate
/// cores, and analysis itself can be split by connection. Memory stays at a few batches per
/// consumer whatever the file's size.
pub struct BatchReader {
    /// The consumers' ends, one per shard.
    pub shards: Vec<Shard>,
    handle: std::thread::JoinHandle<ReadEnd>,
}

impl BatchReader {
    /// Starts reading `file` on a thread named `capture-file`.
    ///
    /// # Errors
    /// Only if the thread cannot be started.
    pub fn spawn(
        mut file: CaptureFile,
        n: usize,
        shard_of: impl Fn(&Frame<'_>) -> usize + Send + 'static,
    ) -> std::io::Result<BatchReader> {
        let n = n.max(1);
        let mut txs = Vec::with_capacity(n);
        let mut spares = Vec::with_capacity(n);
        let mut shards = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, batches) = std::sync::mpsc::sync_channel::<FrameBatch>(BATCHES_IN_FLIGHT);
            let (recycle, spare) = std::sync::mpsc::channel::<FrameBatch>();
            txs.push(tx);
            spares.push(spare);
            shards.push(Shard { batches, recycle });
        }
        let handle = std::thread::Builder::new().name("capture-file".into()).spawn(move || {
            let mut open: Vec<FrameBatch> = (0..n).map(|_| FrameBatch::default()).collect();
            let mut gone = false;
            let end = file.for_each(|f| {
                if gone {
                    return;
                }
                let k = shard_of(&f).min(n - 1);
                open[k].push(&f);
                if open[k].data.len() >= BATCH_BYTES {
                    let mut next = spares[k].try_recv().unwrap_or_default();
                    next.clear();
                    let full = std::mem::replace(&mut open[k], next);
                    gone = txs[k].send(full).is_err();
                }
            });
            for (k, b) in open.into_iter().enumerate() {
                if !b.recs.is_empty() && !gone {
                    let _ = txs[k].send(b);
                }
            }
            end
        })?;
        Ok(BatchReader { shards, handle })
    }

    /// Waits for the reading thread and returns how the read ended.
    pub fn finish(self) -> ReadEnd {
        drop(self.shards);
        self.handle.join().unwrap_or_else(|_| ReadEnd {
            warning: Some("the capture reading thread failed; the report covers what was read".into()),
        })
    }
}
