//! Evidence an on-call engineer can save and share: what the console captures written as
//! pcapng, continuously with tcpdump's rotation ([`recorder`]) or on a key from a bounded ring
//! of the last seconds ([`ring`]).
//!
//! Files are written with the pcap-file crate. Timestamps are nanoseconds (the interface
//! block says so with `if_tsresol` 9), so what respscope, tcpdump, tshark and Wireshark read
//! back is the capture's own time.

pub mod recorder;
pub mod ring;

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

/// Why evidence could not be written, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file could not be created or written.
    #[error("cannot write {path}: {reason} (is the directory writable, is the disk full?)")]
    Write {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
}

/// A pcapng file being written: a section, one interface, its packets.
pub(crate) struct PcapngFile<W: Write> {
    out: PcapNgWriter<W>,
    /// Bytes written so far (blocks, headers included).
    pub written: u64,
}

impl<W: Write> PcapngFile<W> {
    /// Starts a file: the section header and one interface of `linktype` (libpcap's number).
    pub fn start(w: W, linktype: u32, snaplen: u32) -> Result<Self, String> {
        let mut out = PcapNgWriter::new(w).map_err(|e| e.to_string())?;
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::from(linktype),
            snaplen,
            options: vec![InterfaceDescriptionOption::IfTsResol(9)],
        };
        let n = out.write_pcapng_block(idb).map_err(|e| e.to_string())?;
        Ok(PcapngFile { out, written: 28 + n as u64 })
    }

    /// One packet, captured at `ts_us` (µs since the Unix epoch).
    pub fn packet(&mut self, ts_us: i64, data: &[u8], wire_len: u32) -> Result<(), String> {
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_micros(u64::try_from(ts_us).unwrap_or(0)),
            original_len: wire_len.max(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            data: Cow::Borrowed(data),
            options: vec![],
        };
        let n = self.out.write_pcapng_block(epb).map_err(|e| e.to_string())?;
        self.written += n as u64;
        Ok(())
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> Result<(), String> {
        self.out.get_mut().flush().map_err(|e| e.to_string())
    }
}
