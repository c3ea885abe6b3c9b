//! Synthetic TCP conversations with a Redis server, packet by packet, for benchmarks and tests
//! that need thousands of connections no capture file holds (examples/console_cost.rs,
//! tests/history.rs). Real captures remain the reference for what the analysis must get
//! right; this only drives it at scale.

use std::net::{IpAddr, Ipv4Addr};

use crate::protocol::tcp::{SynOptions, ACK, FIN, PSH, SYN};
use crate::sources::capture::TcpPacket;

/// The server's address.
pub const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 9, 0, 1));
/// The server's port.
pub const PORT: u16 = 6379;

/// One synthetic connection: the client's endpoint and each side's next sequence number.
#[derive(Clone, Debug)]
pub struct Flow {
    /// Client address.
    pub client: IpAddr,
    /// Client port.
    pub port: u16,
    seq: [u32; 2],
}

impl Flow {
    /// Connection number `i` (distinct endpoints for any `i` below 2^24).
    pub fn new(i: u32) -> Flow {
        let [_, a, b, c] = i.to_be_bytes();
        Flow { client: IpAddr::V4(Ipv4Addr::new(10, 10, a, b)), port: 1024 + u16::from(c), seq: [1000, 9000] }
    }

    /// `host:port` of the client, as reports print it.
    pub fn client_addr(&self) -> String {
        format!("{}:{}", self.client, self.port)
    }
}

/// Numbers and times packets: `no` counts frames, `ts` is the capture clock (µs), advanced
/// by `step_us` per packet.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Frames so far.
    pub no: u64,
    /// Capture time of the last packet (µs since the Unix epoch).
    pub ts: i64,
    /// Time between two packets (µs).
    pub step_us: i64,
}

impl Clock {
    /// Starting at `ts` µs.
    pub fn at(ts: i64) -> Clock {
        Clock { no: 0, ts, step_us: 3 }
    }

    /// The next packet of `f`, `to_server` or back, with these flags and payload: handed to
    /// `sink` with its frame number and time.
    pub fn send(
        &mut self,
        f: &mut Flow,
        to_server: bool,
        flags: u8,
        payload: &[u8],
        sink: &mut dyn FnMut(u64, i64, TcpPacket<'_>),
    ) {
        self.no += 1;
        self.ts += self.step_us;
        let (d, o) = if to_server { (0, 1) } else { (1, 0) };
        let (src, dst, sport, dport) =
            if to_server { (f.client, SERVER, f.port, PORT) } else { (SERVER, f.client, PORT, f.port) };
        let seglen = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let p = TcpPacket {
            src,
            dst,
            sport,
            dport,
            seq: f.seq[d],
            ack: f.seq[o],
            flags,
            window: 512,
            syn: SynOptions::new((flags & SYN != 0).then_some(7), None),
            payload,
            seglen,
        };
        sink(self.no, self.ts, p);
        f.seq[d] = f.seq[d].wrapping_add(seglen + u32::from(flags & (SYN | FIN) != 0));
    }

    /// The three-way handshake.
    pub fn open(&mut self, f: &mut Flow, sink: &mut dyn FnMut(u64, i64, TcpPacket<'_>)) {
        self.send(f, true, SYN, b"", sink);
        self.send(f, false, SYN | ACK, b"", sink);
        self.send(f, true, ACK, b"", sink);
    }

    /// One pipelined round trip: `n` GETs in one write, their `n` replies in one.
    pub fn round(&mut self, f: &mut Flow, n: usize, sink: &mut dyn FnMut(u64, i64, TcpPacket<'_>)) {
        let cmds = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n".repeat(n);
        let replies = b"$5\r\nvalue\r\n".repeat(n);
        self.send(f, true, PSH | ACK, &cmds, sink);
        self.send(f, false, PSH | ACK, &replies, sink);
    }

    /// Both sides close.
    pub fn close(&mut self, f: &mut Flow, sink: &mut dyn FnMut(u64, i64, TcpPacket<'_>)) {
        self.send(f, true, FIN | ACK, b"", sink);
        self.send(f, false, FIN | ACK, b"", sink);
        self.send(f, true, ACK, b"", sink);
    }
}
