//! Crafted captures: a classic pcap of raw IPv4 TCP segments (link type 101), written by
//! hand so a test can build exactly the hostile input it needs.

use std::io::Write;
use std::net::Ipv4Addr;

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A capture being written, one record per segment.
pub struct Pcap<W: Write> {
    out: W,
    ts_us: u64,
}

impl<W: Write> Pcap<W> {
    /// A classic pcap (microsecond timestamps, snap length 262144, raw IP).
    pub fn new(mut out: W) -> Self {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&101u32.to_le_bytes());
        out.write_all(&h).expect("write the pcap header");
        Pcap { out, ts_us: 1_700_000_000_000_000 }
    }

    /// Moves the clock on by `us` microseconds.
    pub fn wait(&mut self, us: u64) {
        self.ts_us += us;
    }

    /// One TCP segment (window 65535, no options).
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        src: (Ipv4Addr, u16),
        dst: (Ipv4Addr, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let total = 40 + payload.len();
        let mut p = Vec::with_capacity(total);
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        p.extend_from_slice(&src.0.octets());
        p.extend_from_slice(&dst.0.octets());
        p.extend_from_slice(&src.1.to_be_bytes());
        p.extend_from_slice(&dst.1.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        let len = u32::try_from(p.len()).unwrap_or(u32::MAX);
        let mut rec = Vec::with_capacity(16);
        rec.extend_from_slice(&u32::try_from(self.ts_us / 1_000_000).unwrap_or(u32::MAX).to_le_bytes());
        rec.extend_from_slice(&u32::try_from(self.ts_us % 1_000_000).unwrap_or(0).to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec).expect("write a record header");
        self.out.write_all(&p).expect("write a record");
        self.ts_us += 10;
    }

    /// A whole handshake; returns the sequence numbers that follow it (client, server).
    pub fn handshake(&mut self, client: (Ipv4Addr, u16), server: (Ipv4Addr, u16)) -> (u32, u32) {
        let (c, s) = (1000, 5000);
        self.tcp(client, server, c, 0, SYN, &[]);
        self.tcp(server, client, s, c + 1, SYN | ACK, &[]);
        self.tcp(client, server, c + 1, s + 1, ACK, &[]);
        (c + 1, s + 1)
    }

    /// The writer back (flushed).
    pub fn finish(mut self) -> W {
        self.out.flush().expect("flush the capture");
        self.out
    }
}
