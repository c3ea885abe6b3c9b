//! Link, IP and TCP decoding of one captured frame into a borrowed [`TcpPacket`].
//!
//! Pure and allocation-free. Decoding is lax (etherparse `Lax*`): a frame cut short by the
//! snap length still yields its TCP header and the payload bytes that were captured, plus how
//! many the segment really carried, so sequence analysis stays right while reassembly sees a
//! hole.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// Link-layer framings we decode (libpcap DLT / LINKTYPE values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, with any 802.1Q / QinQ tags (DLT_EN10MB = 1).
    Ethernet,
    /// BSD loopback: 4-byte address family in host byte order (DLT_NULL = 0).
    Null,
    /// OpenBSD loopback: 4-byte address family in network byte order (DLT_LOOP = 108).
    Loop,
    /// Bare IPv4 or IPv6 (DLT_RAW = 12/14, LINKTYPE_RAW = 101, IPV4 = 228, IPV6 = 229).
    Raw,
    /// Linux cooked capture v1, 16-byte header (LINUX_SLL = 113).
    LinuxSll,
    /// Linux cooked capture v2, 20-byte header (LINUX_SLL2 = 276).
    LinuxSll2,
    /// Any other link type (its number): an interface of a pcapng file that also has
    /// interfaces respscope decodes. Its frames are counted, never decoded.
    Other(u32),
}

impl Link {
    /// Maps a libpcap link type; `None` for framings we do not decode.
    pub fn from_linktype(linktype: i32) -> Option<Link> {
        Some(match linktype {
            1 => Link::Ethernet,
            0 => Link::Null,
            108 => Link::Loop,
            12 | 14 | 101 | 228 | 229 => Link::Raw,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            _ => return None,
        })
    }
}

use crate::protocol::tcp as flags;
use crate::protocol::tcp::SynOptions;

/// One decoded TCP segment, borrowing the frame.
#[derive(Clone, Copy, Debug)]
pub struct TcpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits (see [`crate::protocol::tcp`]).
    pub flags: u8,
    /// Raw (unscaled) window.
    pub window: u16,
    /// A SYN's window scale and MSS options (empty on other segments).
    pub syn: SynOptions,
    /// Payload bytes captured.
    pub payload: &'a [u8],
    /// Payload length the segment carried by its IP header (>= `payload.len()`).
    pub seglen: u32,
}

impl TcpPacket<'_> {
    /// True when the flag is set.
    #[inline]
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// Why a frame yielded no TCP segment. Not an error: most are simply other traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Not IP, or not TCP.
    NotTcp,
    /// An IP fragment (not reassembled).
    Fragment,
    /// Too short to hold the headers.
    Truncated,
}

/// Decodes one frame.
///
/// # Errors
/// Returns why the frame carries no usable TCP segment.
pub fn decode(link: Link, frame: &[u8]) -> Result<TcpPacket<'_>, Skip> {
    // Fast path for the plain case (no VLAN tag, no IP options beyond the header length, no
    // fragment, no IPv6 extension header): read the few fields directly. Everything else goes
    // through etherparse's lax slicing below, which handles every framing and truncation.
    let ip = match link {
        Link::Ethernet
            if frame.get(12..14) == Some(&[0x08, 0x00]) || frame.get(12..14) == Some(&[0x86, 0xdd]) =>
        {
            frame.get(14..)
        }
        Link::Raw => Some(frame),
        Link::Null | Link::Loop => frame.get(4..),
        _ => None,
    };
    if let Some(p) = ip.and_then(plain_ip_tcp) {
        return Ok(p);
    }
    let sliced = match link {
        Link::Ethernet => LaxSlicedPacket::from_ethernet(frame).map_err(|_| Skip::Truncated)?,
        Link::Raw => LaxSlicedPacket::from_ip(frame).map_err(|_| Skip::Truncated)?,
        Link::Null | Link::Loop => {
            let rest = frame.get(4..).ok_or(Skip::Truncated)?;
            LaxSlicedPacket::from_ip(rest).map_err(|_| Skip::Truncated)?
        }
        Link::LinuxSll => {
            let proto = frame.get(14..16).ok_or(Skip::Truncated)?;
            let rest = frame.get(16..).ok_or(Skip::Truncated)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([proto[0], proto[1]])), rest)
        }
        Link::LinuxSll2 => {
            let proto = frame.get(0..2).ok_or(Skip::Truncated)?;
            let rest = frame.get(20..).ok_or(Skip::Truncated)?;
            LaxSlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([proto[0], proto[1]])), rest)
        }
        Link::Other(_) => return Err(Skip::NotTcp),
    };
    let (src, dst, declared, captured, fragmented) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let p = v4.payload();
            let declared = usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4);
            (
                IpAddr::V4(Ipv4Addr::from(h.source())),
                IpAddr::V4(Ipv4Addr::from(h.destination())),
                declared,
                p.payload.len(),
                p.fragmented,
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let p = v6.payload();
            let exts = v6.extensions().slice().len();
            let declared = usize::from(h.payload_length()).saturating_sub(exts);
            (
                IpAddr::V6(Ipv6Addr::from(h.source())),
                IpAddr::V6(Ipv6Addr::from(h.destination())),
                declared,
                p.payload.len(),
                p.fragmented,
            )
        }
        _ => return Err(Skip::NotTcp),
    };
    if fragmented {
        return Err(Skip::Fragment);
    }
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => t,
        _ => {
            return Err(if sliced.stop_err.is_some() { Skip::Truncated } else { Skip::NotTcp });
        }
    };
    let header_len = tcp.header_slice().len();
    let payload = tcp.payload();
    // A jumbo or TSO frame can claim 0 length in its IP header; trust what was captured then.
    let declared_payload = declared.saturating_sub(header_len).max(payload.len());
    let _ = captured;
    let syn = if tcp.syn() { syn_options(tcp.options()) } else { SynOptions::default() };
    let mut flag_bits = 0u8;
    for (on, bit) in [
        (tcp.fin(), flags::FIN),
        (tcp.syn(), flags::SYN),
        (tcp.rst(), flags::RST),
        (tcp.psh(), flags::PSH),
        (tcp.ack(), flags::ACK),
    ] {
        if on {
            flag_bits |= bit;
        }
    }
    Ok(TcpPacket {
        src,
        dst,
        sport: tcp.source_port(),
        dport: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: flag_bits,
        window: tcp.window_size(),
        syn,
        payload,
        seglen: u32::try_from(declared_payload).unwrap_or(u32::MAX),
    })
}

/// Decodes an IPv4 or IPv6 packet carrying TCP with no options or extensions that need
/// etherparse; `None` sends the frame down the general path.
#[inline]
fn plain_ip_tcp(ip: &[u8]) -> Option<TcpPacket<'_>> {
    let (src, dst, tcp, declared) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            // More-fragments flag or a fragment offset: not a whole segment.
            if ihl < 20 || ip.get(9)? != &6 || frag & 0x3fff != 0 || total < ihl {
                return None;
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            let end = total.min(ip.len());
            (IpAddr::V4(Ipv4Addr::from(src)), IpAddr::V4(Ipv4Addr::from(dst)), ip.get(ihl..end)?, total - ihl)
        }
        6 => {
            if ip.get(6)? != &6 {
                return None;
            }
            let plen = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let end = (40 + plen).min(ip.len());
            (IpAddr::V6(Ipv6Addr::from(src)), IpAddr::V6(Ipv6Addr::from(dst)), ip.get(40..end)?, plen)
        }
        _ => return None,
    };
    let doff = usize::from(tcp.get(12)? >> 4) * 4;
    if doff < 20 || tcp.len() < doff || declared < doff {
        return None;
    }
    let be16 = |i: usize| u16::from_be_bytes([tcp[i], tcp[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([tcp[i], tcp[i + 1], tcp[i + 2], tcp[i + 3]]);
    let flag_bits = tcp[13] & (flags::FIN | flags::SYN | flags::RST | flags::PSH | flags::ACK);
    let payload = &tcp[doff..];
    let syn = if flag_bits & flags::SYN != 0 { syn_options(&tcp[20..doff]) } else { SynOptions::default() };
    Some(TcpPacket {
        src,
        dst,
        sport: be16(0),
        dport: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: flag_bits,
        window: be16(14),
        syn,
        payload,
        seglen: u32::try_from((declared - doff).max(payload.len())).unwrap_or(u32::MAX),
    })
}

/// A SYN's window scale (kind 3, length 3) and MSS (kind 2, length 4, less 12 when a
/// timestamp option, kind 8, rides along) in raw TCP options; what follows a malformed
/// option is not read.
fn syn_options(opts: &[u8]) -> SynOptions {
    let (mut wscale, mut mss, mut timestamps) = (None, None, false);
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(len) = opts.get(i + 1).map(|&l| usize::from(l)).filter(|&l| l >= 2) else { break };
                match (kind, len) {
                    (3, 3) => wscale = opts.get(i + 2).copied(),
                    (2, 4) => mss = opts.get(i + 2..i + 4).map(|b| u16::from_be_bytes([b[0], b[1]])),
                    (8, 10) => timestamps = true,
                    _ => {}
                }
                i += len;
            }
        }
    }
    let mss = mss.map(|m| if timestamps { m.saturating_sub(12) } else { m });
    SynOptions::new(wscale, mss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_scale_option_is_found_among_others() {
        // MSS, SACK permitted, timestamps, NOP, window scale 7.
        let opts = [2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        // 0xffd7 = 65495 (loopback's MSS), less the timestamps' 12 bytes.
        assert_eq!(syn_options(&opts), SynOptions::new(Some(7), Some(65483)));
        assert_eq!(syn_options(&[2, 4, 5, 0xb4, 1, 3, 3, 9]), SynOptions::new(Some(9), Some(1460)));
        assert_eq!(syn_options(&[1, 1, 0]), SynOptions::default());
        // A zero length must not loop forever; a cut MSS is none.
        assert_eq!(syn_options(&[5, 0, 3, 3, 1]), SynOptions::default());
        assert_eq!(syn_options(&[2, 4, 5]), SynOptions::default());
    }

    #[test]
    fn the_fast_path_agrees_with_etherparse() {
        use etherparse::PacketBuilder;
        let mut frames = Vec::new();
        let b4 = PacketBuilder::ethernet2([0; 6], [0; 6]).ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64).tcp(
            50000,
            6379,
            4_000_000_000,
            512,
        );
        let mut f = Vec::new();
        b4.write(&mut f, b"*1\r\n$4\r\nPING\r\n").expect("build");
        frames.push(f);
        let b6 =
            PacketBuilder::ethernet2([0; 6], [0; 6]).ipv6([1; 16], [2; 16], 64).tcp(6379, 50000, 7, 9).syn();
        let mut f = Vec::new();
        b6.write(&mut f, b"").expect("build");
        frames.push(f);
        for f in &frames {
            let fast = decode(Link::Ethernet, f).expect("fast");
            // Force the general path by hiding the frame behind a VLAN-less Linux SLL2 header.
            let mut sll2 = vec![f[12], f[13], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            sll2.extend_from_slice(&f[14..]);
            let slow = decode(Link::LinuxSll2, &sll2).expect("slow");
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        }
    }

    #[test]
    fn garbage_frames_are_skipped_not_fatal() {
        for link in [Link::Ethernet, Link::Raw, Link::Null, Link::LinuxSll, Link::LinuxSll2] {
            for len in 0..80 {
                let frame: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
                let _ = decode(link, &frame);
            }
        }
    }
}
