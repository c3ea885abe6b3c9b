//! Capture files: pcap and pcapng read with pcap-parser in large reads (see `records.rs`),
//! libpcap for the variants pcap-parser is not given.
//!
//! A damaged file is read as far as it goes: a record cut short at the end of a file ends the
//! read with a warning and everything before it is kept.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::decode::Link;
use super::records::{self, Declined, Records};
use super::{pump, Frame, FrameSink, FrameSource, Next, Pumped};

/// Why a capture file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureFileError {
    /// The path does not exist.
    #[error("{path}: no such file. Give the path of a .pcap or .pcapng capture")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The path exists but is not a capture (libpcap's verdict).
    #[error("{path}: not a pcap or pcapng capture ({reason}). Record one with `tcpdump -i lo -w FILE 'tcp port 6379'`")]
    NotACapture {
        /// The path given.
        path: PathBuf,
        /// libpcap's words.
        reason: String,
    },
    /// A stream (stdin) holding a capture variant that only libpcap reads, which it does
    /// from a file only.
    #[error("{path}: {what} is read from a file only; save the capture (tcpdump -w FILE) and give its path")]
    FileOnly {
        /// What the stream was named.
        path: PathBuf,
        /// The variant.
        what: String,
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
    reader: Reader,
    link: Link,
    path: PathBuf,
}

enum Reader {
    /// pcap-parser over large reads: frames borrowed from shareable buffers.
    Parsed(Records),
    /// libpcap, for what `Records` leaves to it.
    Libpcap { cap: pcap::Capture<pcap::Offline>, no: u64 },
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
        if let Some((r, link)) = std::fs::File::open(path).ok().and_then(Records::open) {
            return Ok(CaptureFile { reader: Reader::Parsed(r), link, path: path.to_path_buf() });
        }
        let cap = pcap::Capture::from_file(path)
            .map_err(|e| CaptureFileError::NotACapture { path: path.to_path_buf(), reason: e.to_string() })?;
        let linktype = cap.get_datalink().0;
        let link = Link::from_linktype(linktype)
            .ok_or(CaptureFileError::UnsupportedLink { path: path.to_path_buf(), linktype })?;
        Ok(CaptureFile { reader: Reader::Libpcap { cap, no: 0 }, link, path: path.to_path_buf() })
    }

    /// Reads a capture from a stream, as it comes: stdin (`tcpdump -w - | respscope analyze -`)
    /// or any reader. Frames are borrowed from buffers of bounded size, never from the whole
    /// stream, so a capture of any length is read in constant memory. `name` stands for the
    /// stream in messages. Only the variants read without libpcap are taken (every pcap 2.4
    /// and pcapng capture of a decoded link type); libpcap reads the others from a file only.
    ///
    /// # Errors
    /// A stream that is not a capture, of an unsupported link type, or of a variant only a
    /// file can hold.
    pub fn from_reader(reader: Box<dyn Read + Send>, name: &str) -> Result<CaptureFile, CaptureFileError> {
        let path = PathBuf::from(name);
        match Records::from_reader(reader) {
            Ok((r, link)) => Ok(CaptureFile { reader: Reader::Parsed(r), link, path }),
            Err(Declined::NotACapture(reason)) => Err(CaptureFileError::NotACapture { path, reason }),
            Err(Declined::Link(linktype)) => Err(CaptureFileError::UnsupportedLink { path, linktype }),
            Err(Declined::FileOnly(what)) => Err(CaptureFileError::FileOnly { path, what }),
        }
    }

    /// The link type of the file (of its first interface, for pcapng).
    pub fn link(&self) -> Link {
        self.link
    }

    /// Whether frames come in buffers that can be shared with other threads
    /// ([`Frame::shared`]); libpcap's cannot.
    pub fn shares_buffers(&self) -> bool {
        matches!(self.reader, Reader::Parsed(_))
    }

    /// Calls `f` for every record in file order.
    pub fn for_each(&mut self, f: impl FnMut(Frame<'_>)) -> ReadEnd {
        struct Each<F>(F);
        impl<F: FnMut(Frame<'_>)> FrameSink for Each<F> {
            fn frame(&mut self, f: &Frame<'_>) -> ControlFlow<()> {
                (self.0)(*f);
                ControlFlow::Continue(())
            }
        }
        match pump(self, &mut Each(f)) {
            Pumped::Ended(warning) => ReadEnd { warning },
            Pumped::Stopped => ReadEnd::default(),
        }
    }
}

impl FrameSource for CaptureFile {
    /// The next record; the end carries a warning when the file ends with a damaged record
    /// (everything before it was read).
    fn next_frame(&mut self) -> Next<'_> {
        let next = match &mut self.reader {
            Reader::Parsed(r) => records::as_next(r.next_frame()),
            Reader::Libpcap { cap, no } => match cap.next_packet() {
                Ok(p) => {
                    *no += 1;
                    let ts = p.header.ts;
                    // time_t and suseconds_t are narrower than i64 on some platforms.
                    #[allow(clippy::useless_conversion)]
                    let ts_us = super::timestamp_us(i64::from(ts.tv_sec), i64::from(ts.tv_usec));
                    let (data, wire_len) = (p.data, p.header.len);
                    Next::Frame(Frame { no: *no, ts_us, data, wire_len, link: self.link, shared: None })
                }
                Err(pcap::Error::NoMorePackets) => Next::End(None),
                Err(e) => Next::End(Some(e.to_string())),
            },
        };
        match next {
            Next::End(Some(why)) => Next::End(Some(format!(
                "{}: the capture ends with a damaged record ({why}); the report covers the packets before it",
                self.path.display()
            ))),
            n => n,
        }
    }
}
