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

    /// Calls `f` for every record in file order.
    pub fn for_each(&mut self, mut f: impl FnMut(Frame<'_>)) -> ReadEnd {
        loop {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = p.header.ts;
                    // time_t and suseconds_t are narrower than i64 on some platforms.
                    #[allow(clippy::useless_conversion)]
                    let ts_us = i64::from(ts.tv_sec) * 1_000_000 + i64::from(ts.tv_usec);
                    f(Frame { ts_us, data: p.data, wire_len: p.header.len });
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
