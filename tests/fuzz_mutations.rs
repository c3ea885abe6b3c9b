//! Mutational fuzzing of `respscope analyze` through the real binary, on stable Rust.
//!
//! Every capture in `tests/fixtures` is parsed (pcap records, pcapng blocks, link, IP and TCP
//! headers) and mutated in ways a damaged or hostile capture can be: bit flips, inserted and
//! deleted bytes, truncation, record and block lengths that lie, IP and TCP header lengths
//! that lie, overlapping retransmissions carrying different bytes, and hostile RESP spliced
//! into the TCP stream. Each input runs through the binary as a child process, the output
//! formats taking turns, and must end with exit code 0 or 2, within a few seconds, within a
//! memory budget, with well-formed output.
//!
//! Deterministic: input `i` is made from a PRNG seeded with (seed, i) and its place in a fixed
//! schedule that crosses every fixture with every mutation kind and every format, so a failure
//! names the one input to run again. Failing inputs are saved under `target/fuzz-failures/`.
//!
//! Knobs (environment): `RESPSCOPE_FUZZ_INPUTS` (default 20000), `RESPSCOPE_FUZZ_SEED`,
//! `RESPSCOPE_FUZZ_ONLY` (comma-separated input numbers), `RESPSCOPE_FUZZ_JOBS` (children at
//! once, default one more than cores), `RESPSCOPE_FUZZ_TIMEOUT` (seconds per input, default 5),
//! `RESPSCOPE_FUZZ_BIN` (another build of the binary), `RESPSCOPE_FUZZ_KEEP=1` (save every
//! input, not only failing ones).
//!
//! This file is its own test binary with a single test on purpose: the memory budget is read
//! from `getrusage(RUSAGE_CHILDREN)` in the small helper processes that start the children
//! (see "The spawner" below), and no other test's children may count.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

const DEFAULT_INPUTS: u64 = 20_000;
const DEFAULT_SEED: u64 = 0x7265_7370_7363_6f70; // "respscop"
const DEFAULT_TIMEOUT_SECS: u64 = 5;
/// Peak resident memory any one child may reach. `analyze` streams: a capture's size must not
/// show in its memory, and the reassembly and resync stores are capped well below this.
const RSS_BUDGET_KB: i64 = 150 * 1024;
/// Fixtures holding more packet bytes than this are mutated in windows of a few hundred
/// packets (whole only now and then), so that the run spends its time on many inputs.
const WINDOW_ABOVE_BYTES: usize = 64 * 1024;
/// Failing inputs saved per (failure, mutation kind): enough to reproduce, not a flood.
const SAVE_PER_GROUP: usize = 3;
/// After this many timeouts the run stops starting inputs: each one costs the full timeout.
const MAX_TIMEOUTS: u64 = 8;
/// After this many failures of one mutation kind, its later inputs are skipped: a crash can
/// cost a second per input (a deep stack, hundreds of MB), and its reproducers are saved.
const QUARANTINE_AFTER: usize = 25;
const SERVER_PORT: u16 = 6379;

/// The output formats, in the order inputs take turns.
const FORMATS: [(&str, &[&str]); 5] = [
    ("text", &[]),
    ("json", &["--format", "json"]),
    ("markdown", &["--format", "markdown"]),
    ("segments", &["--segments"]),
    ("segments-json", &["--segments", "--format", "json"]),
];

// ---------------------------------------------------------------------------------------------
// A fixed-seed PRNG (SplitMix64): a few lines, and the sequence never changes under us.

struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next();
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// In `lo..=hi`, each power of two as likely as the next: mostly small, sometimes huge.
    fn log_between(&mut self, lo: usize, hi: usize) -> usize {
        let (a, b) = (lo.max(1).ilog2() as usize, hi.max(1).ilog2() as usize);
        let p = self.between(a, b);
        self.between(1 << p, (2 << p) - 1).clamp(lo, hi)
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Captures as records, so that mutations can lie about one field at a time.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Pcap,
    Pcapng,
    /// Not a capture we can parse (`not_a_capture.pcap`): only byte-level mutations apply.
    Opaque,
}

#[derive(Clone, Debug)]
struct Packet {
    ts: [u32; 2],
    orig_len: u32,
    data: Vec<u8>,
    /// pcapng only: interface id and the EPB's options.
    iface: u32,
    options: Vec<u8>,
}

#[derive(Clone, Debug)]
enum Item {
    Packet(Packet),
    /// A pcapng block other than an EPB, kept as it was.
    Block {
        ty: u32,
        body: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
struct Capture {
    container: Container,
    little_endian: bool,
    /// pcap: the 24-byte file header; opaque: the whole file.
    header: Vec<u8>,
    link: u32,
    items: Vec<Item>,
    /// Bytes after the last whole record (a capture cut mid-record keeps its cut).
    trailer: Vec<u8>,
}

/// Where the length fields of one serialised record or block are.
#[derive(Clone, Copy, Debug)]
struct Rec {
    start: usize,
    end: usize,
    /// Offset of the captured-length field (pcap record, pcapng EPB).
    caplen: Option<usize>,
    /// Offset of the original-length field.
    orig: Option<usize>,
    /// pcapng: offsets of the leading and trailing block-total-length fields.
    block_len: Option<(usize, usize)>,
    data: usize,
}

fn rd32(le: bool, b: &[u8], at: usize) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le { u32::from_le_bytes(w) } else { u32::from_be_bytes(w) })
}

fn put32(le: bool, out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
}

fn set32(le: bool, b: &mut [u8], at: usize, v: u32) {
    if let Some(w) = b.get_mut(at..at + 4) {
        w.copy_from_slice(&if le { v.to_le_bytes() } else { v.to_be_bytes() });
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn set_be16(b: &mut [u8], at: usize, v: u16) {
    if let Some(w) = b.get_mut(at..at + 2) {
        w.copy_from_slice(&v.to_be_bytes());
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn set_be32(b: &mut [u8], at: usize, v: u32) {
    if let Some(w) = b.get_mut(at..at + 4) {
        w.copy_from_slice(&v.to_be_bytes());
    }
}

impl Capture {
    fn parse(raw: &[u8]) -> Capture {
        Capture::parse_pcap(raw).or_else(|| Capture::parse_pcapng(raw)).unwrap_or_else(|| Capture {
            container: Container::Opaque,
            little_endian: true,
            header: raw.to_vec(),
            link: 0,
            items: Vec::new(),
            trailer: Vec::new(),
        })
    }

    fn parse_pcap(raw: &[u8]) -> Option<Capture> {
        let le = match raw.get(..4)? {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
            _ => return None,
        };
        let link = rd32(le, raw, 20)? & 0xffff;
        let mut items = Vec::new();
        let mut at = 24;
        while at + 16 <= raw.len() {
            let caplen = rd32(le, raw, at + 8)? as usize;
            let Some(data) = raw.get(at + 16..at + 16 + caplen) else { break };
            items.push(Item::Packet(Packet {
                ts: [rd32(le, raw, at)?, rd32(le, raw, at + 4)?],
                orig_len: rd32(le, raw, at + 12)?,
                data: data.to_vec(),
                iface: 0,
                options: Vec::new(),
            }));
            at += 16 + caplen;
        }
        Some(Capture {
            container: Container::Pcap,
            little_endian: le,
            header: raw.get(..24)?.to_vec(),
            link,
            items,
            trailer: raw.get(at..).unwrap_or_default().to_vec(),
        })
    }

    fn parse_pcapng(raw: &[u8]) -> Option<Capture> {
        if raw.get(..4)? != [0x0a, 0x0d, 0x0d, 0x0a] {
            return None;
        }
        let le = raw.get(8..12)? == [0x4d, 0x3c, 0x2b, 0x1a];
        let mut items = Vec::new();
        let mut link = None;
        let mut at = 0;
        while at + 12 <= raw.len() {
            let ty = rd32(le, raw, at)?;
            let total = rd32(le, raw, at + 4)? as usize;
            if total < 12 || !total.is_multiple_of(4) || at + total > raw.len() {
                break;
            }
            let body = &raw[at + 8..at + total - 4];
            if ty == 6 && body.len() >= 20 {
                let caplen = rd32(le, body, 12)? as usize;
                let padded = caplen.div_ceil(4) * 4;
                let data = body.get(20..20 + caplen)?.to_vec();
                items.push(Item::Packet(Packet {
                    ts: [rd32(le, body, 4)?, rd32(le, body, 8)?],
                    orig_len: rd32(le, body, 16)?,
                    data,
                    iface: rd32(le, body, 0)?,
                    options: body.get(20 + padded..).unwrap_or_default().to_vec(),
                }));
            } else {
                if ty == 1 && link.is_none() {
                    link = Some(u32::from(be16(body, 0).map(|v| if le { v.swap_bytes() } else { v })?));
                }
                items.push(Item::Block { ty, body: body.to_vec() });
            }
            at += total;
        }
        Some(Capture {
            container: Container::Pcapng,
            little_endian: le,
            header: Vec::new(),
            link: link?,
            items,
            trailer: raw.get(at..).unwrap_or_default().to_vec(),
        })
    }

    fn packet_bytes(&self) -> usize {
        self.items.iter().map(|i| if let Item::Packet(p) = i { p.data.len() } else { 0 }).sum()
    }

    /// The capture with only packets `from..from + n` (every non-packet block kept).
    fn window(&self, from: usize, n: usize) -> Capture {
        let mut k = 0;
        let items = self
            .items
            .iter()
            .filter(|i| match i {
                Item::Packet(_) => {
                    k += 1;
                    (from..from + n).contains(&(k - 1))
                }
                Item::Block { .. } => true,
            })
            .cloned()
            .collect();
        Capture { items, trailer: Vec::new(), header: self.header.clone(), ..*self }
    }

    fn packet_count(&self) -> usize {
        self.items.iter().filter(|i| matches!(i, Item::Packet(_))).count()
    }

    fn serialise(&self) -> (Vec<u8>, Vec<Rec>) {
        let le = self.little_endian;
        let mut out = self.header.clone();
        let mut recs = Vec::new();
        for item in &self.items {
            let start = out.len();
            match (self.container, item) {
                (Container::Pcap, Item::Packet(p)) => {
                    put32(le, &mut out, p.ts[0]);
                    put32(le, &mut out, p.ts[1]);
                    put32(le, &mut out, p.data.len() as u32);
                    put32(le, &mut out, p.orig_len);
                    out.extend_from_slice(&p.data);
                    recs.push(Rec {
                        start,
                        end: out.len(),
                        caplen: Some(start + 8),
                        orig: Some(start + 12),
                        block_len: None,
                        data: start + 16,
                    });
                }
                (Container::Pcapng, Item::Packet(p)) => {
                    let padded = p.data.len().div_ceil(4) * 4;
                    let total = 12 + 20 + padded + p.options.len();
                    put32(le, &mut out, 6);
                    put32(le, &mut out, total as u32);
                    put32(le, &mut out, p.iface);
                    put32(le, &mut out, p.ts[0]);
                    put32(le, &mut out, p.ts[1]);
                    put32(le, &mut out, p.data.len() as u32);
                    put32(le, &mut out, p.orig_len);
                    out.extend_from_slice(&p.data);
                    out.resize(out.len() + padded - p.data.len(), 0);
                    out.extend_from_slice(&p.options);
                    put32(le, &mut out, total as u32);
                    recs.push(Rec {
                        start,
                        end: out.len(),
                        caplen: Some(start + 20),
                        orig: Some(start + 24),
                        block_len: Some((start + 4, out.len() - 4)),
                        data: start + 28,
                    });
                }
                (Container::Pcapng, Item::Block { ty, body }) => {
                    let total = 12 + body.len();
                    put32(le, &mut out, *ty);
                    put32(le, &mut out, total as u32);
                    out.extend_from_slice(body);
                    put32(le, &mut out, total as u32);
                    recs.push(Rec {
                        start,
                        end: out.len(),
                        caplen: None,
                        orig: None,
                        block_len: Some((start + 4, out.len() - 4)),
                        data: start + 8,
                    });
                }
                _ => {}
            }
        }
        out.extend_from_slice(&self.trailer);
        (out, recs)
    }
}

// ---------------------------------------------------------------------------------------------
// Link, IP and TCP headers of one packet, found the way a decoder finds them.

#[derive(Clone, Copy, Debug)]
struct Dissected {
    ip: usize,
    v6: bool,
    tcp: usize,
    payload: usize,
    /// One past the last payload byte the IP header claims (and the packet holds).
    end: usize,
    sport: u16,
    seq: u32,
}

fn l3_offset(link: u32, d: &[u8]) -> Option<usize> {
    match link {
        1 => {
            let mut at = 12;
            loop {
                match be16(d, at)? {
                    0x8100 | 0x88a8 => at += 4,
                    0x0800 | 0x86dd => return Some(at + 2),
                    _ => return None,
                }
            }
        }
        0 | 108 => Some(4),
        12 | 14 | 101 | 228 | 229 => Some(0),
        113 => Some(16),
        276 => Some(20),
        _ => None,
    }
}

fn dissect(link: u32, d: &[u8]) -> Option<Dissected> {
    let ip = l3_offset(link, d)?;
    let (v6, tcp, end) = match d.get(ip)? >> 4 {
        4 => {
            let ihl = usize::from(d[ip] & 0x0f) * 4;
            if ihl < 20 || *d.get(ip + 9)? != 6 {
                return None;
            }
            let total = usize::from(be16(d, ip + 2)?);
            (false, ip + ihl, if total == 0 { d.len() } else { (ip + total).min(d.len()) })
        }
        6 => {
            if *d.get(ip + 6)? != 6 {
                return None;
            }
            (true, ip + 40, (ip + 40 + usize::from(be16(d, ip + 4)?)).min(d.len()))
        }
        _ => return None,
    };
    let doff = usize::from(d.get(tcp + 12)? >> 4) * 4;
    if doff < 20 || tcp + doff > end {
        return None;
    }
    Some(Dissected { ip, v6, tcp, payload: tcp + doff, end, sport: be16(d, tcp)?, seq: be32(d, tcp + 4)? })
}

/// Replaces a packet's TCP payload, keeping the IP length fields and the record consistent
/// (a length over 65535 is written as 0, as TSO captures show it).
fn set_payload(p: &mut Packet, dis: &Dissected, payload: &[u8]) {
    p.data.truncate(dis.payload);
    p.data.extend_from_slice(payload);
    if dis.v6 {
        let len = p.data.len() - dis.ip - 40;
        set_be16(&mut p.data, dis.ip + 4, u16::try_from(len).unwrap_or(0));
    } else {
        let len = p.data.len() - dis.ip;
        set_be16(&mut p.data, dis.ip + 2, u16::try_from(len).unwrap_or(0));
    }
    p.orig_len = p.data.len() as u32;
}

/// Packets carrying TCP data: (item index, headers).
fn data_packets(cap: &Capture) -> Vec<(usize, Dissected)> {
    cap.items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| match it {
            Item::Packet(p) => dissect(cap.link, &p.data).filter(|d| d.end > d.payload).map(|d| (i, d)),
            Item::Block { .. } => None,
        })
        .collect()
}

fn tcp_packets(cap: &Capture) -> Vec<(usize, Dissected)> {
    cap.items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| match it {
            Item::Packet(p) => dissect(cap.link, &p.data).map(|d| (i, d)),
            Item::Block { .. } => None,
        })
        .collect()
}

fn packet_mut(cap: &mut Capture, i: usize) -> Option<&mut Packet> {
    match cap.items.get_mut(i) {
        Some(Item::Packet(p)) => Some(p),
        _ => None,
    }
}

/// Inserts `payload` as new segments right after packet `after`, continuing its direction's
/// sequence space, `chunk` bytes per segment: the hostile bytes are the next thing that
/// direction's stream carries.
fn continue_stream(cap: &mut Capture, after: usize, dis: &Dissected, payload: &[u8], chunk: usize) {
    let Some(Item::Packet(template)) = cap.items.get(after).cloned() else { return };
    let mut seq = dis.seq.wrapping_add((dis.end - dis.payload) as u32);
    for (at, piece) in (after + 1..).zip(payload.chunks(chunk.max(1))) {
        let mut p = template.clone();
        set_payload(&mut p, dis, piece);
        set_be32(&mut p.data, dis.tcp + 4, seq);
        // PSH|ACK: an ordinary data segment whatever the template carried (not a FIN or RST).
        if let Some(f) = p.data.get_mut(dis.tcp + 13) {
            *f = 0x18;
        }
        seq = seq.wrapping_add(piece.len() as u32);
        cap.items.insert(at, Item::Packet(p));
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    BitFlips,
    HeaderBitFlips,
    InsertBytes,
    DeleteBytes,
    Truncate,
    CaplenLie,
    LengthLie,
    FileHeaderLie,
    IpLengthLie,
    IhlLie,
    TcpOffsetLie,
    OverlapRetransmit,
    Reorder,
    HostileLengths,
    DeepNesting,
    HugeInline,
    ResyncKiller,
}

const KINDS: [Kind; 17] = [
    Kind::BitFlips,
    Kind::HeaderBitFlips,
    Kind::InsertBytes,
    Kind::DeleteBytes,
    Kind::Truncate,
    Kind::CaplenLie,
    Kind::LengthLie,
    Kind::FileHeaderLie,
    Kind::IpLengthLie,
    Kind::IhlLie,
    Kind::TcpOffsetLie,
    Kind::OverlapRetransmit,
    Kind::Reorder,
    Kind::HostileLengths,
    Kind::DeepNesting,
    Kind::HugeInline,
    Kind::ResyncKiller,
];

/// Kinds cheap enough to stack on top of another.
const STACKABLE: [Kind; 12] = [
    Kind::BitFlips,
    Kind::HeaderBitFlips,
    Kind::InsertBytes,
    Kind::DeleteBytes,
    Kind::Truncate,
    Kind::CaplenLie,
    Kind::IpLengthLie,
    Kind::IhlLie,
    Kind::TcpOffsetLie,
    Kind::OverlapRetransmit,
    Kind::Reorder,
    Kind::HostileLengths,
];

impl Kind {
    /// Applied to the serialised bytes rather than to records.
    fn is_raw(self) -> bool {
        matches!(
            self,
            Kind::BitFlips
                | Kind::InsertBytes
                | Kind::DeleteBytes
                | Kind::Truncate
                | Kind::CaplenLie
                | Kind::LengthLie
                | Kind::FileHeaderLie
        )
    }
}

/// Hostile RESP from a client: lengths Redis rejects or that would cost memory if trusted.
const HOSTILE_REQUESTS: &[&[u8]] = &[
    b"*1\r\n$999999999999\r\n",
    b"$999999999999\r\n",
    b"*2147483647\r\n",
    b"*2147483648\r\n",
    b"*9223372036854775807\r\n",
    b"*99999999999999999999\r\n",
    b"*-1\r\n",
    b"*-2\r\n",
    b"*-9223372036854775808\r\n",
    b"*2\r\n$-1\r\n",
    b"*1\r\n$-5\r\n",
    b"*+1\r\n$+4\r\nPING\r\n",
    b"*1\r\n$+3\r\nGET\r\n",
    b"*1\r\n$4\r\nPINGXX",
    b"*\r\n",
    b"*1\r\n$\r\n",
    b"*3\r\n$4\r\nAUTH\r\n$999999999999\r\n",
    b"\r\n\r\n\n\n",
];

/// Hostile RESP from a server.
const HOSTILE_REPLIES: &[&[u8]] = &[
    b"$999999999999\r\n",
    b"*2147483647\r\n",
    b">2147483647\r\n",
    b"%2147483647\r\n",
    b"~9223372036854775807\r\n",
    b"|2147483647\r\n",
    b"=999999999999\r\n",
    b"$-2\r\n",
    b"*-5\r\n",
    b"!-3\r\n",
    b"$-9223372036854775808\r\n",
    b":+12\r\n",
    b":-\r\n",
    b"$+5\r\nhello\r\n",
    b"*+2\r\n",
    b"|1\r\n+a\r\n+b\r\n",
    b"(99999999999999999999999999999\r\n",
    b"#x\r\n",
    b",\r\n",
];

/// One-element aggregate headers a server may nest: array, push, set, attribute.
const NESTING_HEADS: [&[u8]; 4] = [b"*1\r\n", b">1\r\n", b"~1\r\n", b"|1\r\n"];

/// Interesting 32-bit values for a length field.
fn lie32(rng: &mut Rng, real: u32, snaplen: u32, remaining: u32) -> u32 {
    let r = rng.next() as u32;
    *rng.pick(&[
        0,
        1,
        real.wrapping_sub(1),
        real.wrapping_add(1),
        real.wrapping_add(4),
        snaplen.wrapping_add(1),
        snaplen.wrapping_add(1 + r % 100_000),
        remaining.wrapping_add(1),
        remaining.wrapping_add(1 + r % 4096),
        262_145,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffc,
        u32::MAX,
        r,
    ])
}

struct Input {
    fixture: usize,
    kind: Kind,
    format: usize,
    bytes: Vec<u8>,
    what: String,
}

struct Fixture {
    name: String,
    capture: Capture,
}

/// Which fixture, mutation and format input `i` gets: every (format, fixture, kind) once per
/// cycle, so a run of one cycle or more covers them all.
fn schedule(i: u64, fixtures: usize) -> (usize, Kind, usize, bool) {
    let format = (i % FORMATS.len() as u64) as usize;
    let fixture = ((i / FORMATS.len() as u64) % fixtures as u64) as usize;
    let cycle = (FORMATS.len() * fixtures) as u64;
    let kind = KINDS[((i / cycle) % KINDS.len() as u64) as usize];
    let first_cycle = i < cycle * KINDS.len() as u64;
    (fixture, kind, format, first_cycle)
}

fn make_input(fixtures: &[Fixture], seed: u64, i: u64) -> Input {
    let (fixture, kind, format, first_cycle) = schedule(i, fixtures.len());
    let mut rng = Rng::new(seed, i);
    let fx = &fixtures[fixture];
    let mut what = String::new();
    let mut cap = if fx.capture.packet_bytes() > WINDOW_ABOVE_BYTES && !rng.one_in(40) {
        let n = fx.capture.packet_count();
        let from = if rng.one_in(2) { 0 } else { rng.below(n) };
        let len = rng.between(1, 300);
        let _ = write!(what, "packets {from}..{} of {n}; ", from + len);
        fx.capture.window(from, len)
    } else {
        fx.capture.clone()
    };
    let mut kinds = vec![kind];
    if rng.one_in(4) {
        kinds.push(*rng.pick(&STACKABLE));
    }
    // Record-level mutations first, then the ones on bytes (which need the final layout).
    kinds.sort_by_key(|k| k.is_raw());
    let mut raw = Vec::new();
    for k in kinds {
        if k.is_raw() {
            raw.push(k);
        } else if let Err(why) = mutate_records(&mut cap, k, first_cycle, &mut rng, &mut what) {
            // Nothing to mutate this way (no packets, no TCP): flip bits instead.
            let _ = write!(what, "{k:?} impossible ({why}), so: ");
            raw.push(Kind::BitFlips);
        }
    }
    let (mut bytes, mut recs) = cap.serialise();
    for k in raw {
        mutate_bytes(&mut bytes, &recs, &cap, k, &mut rng, &mut what);
        // The layout is stale once bytes moved.
        recs.clear();
    }
    Input { fixture, kind, format, bytes, what }
}

fn mutate_records(
    cap: &mut Capture,
    kind: Kind,
    first_cycle: bool,
    rng: &mut Rng,
    what: &mut String,
) -> Result<(), &'static str> {
    match kind {
        Kind::HeaderBitFlips => {
            let n = cap.items.len();
            let idx = (0..n).map(|_| rng.below(n)).find(|&i| matches!(cap.items[i], Item::Packet(_)));
            let p = idx.and_then(|i| packet_mut(cap, i)).ok_or("no packets")?;
            let span = p.data.len().min(80);
            if span == 0 {
                return Err("empty packet");
            }
            let _ = write!(what, "header bit flips in item {}:", idx.unwrap_or_default());
            for _ in 0..rng.between(1, 4) {
                let (at, bit) = (rng.below(span), rng.below(8));
                p.data[at] ^= 1 << bit;
                let _ = write!(what, " {at}.{bit}");
            }
        }
        Kind::IpLengthLie => {
            let pk = tcp_packets(cap);
            let &(i, d) = pk.get(rng.below(pk.len())).ok_or("no TCP packets")?;
            let p = packet_mut(cap, i).ok_or("no packet")?;
            let field = if d.v6 { d.ip + 4 } else { d.ip + 2 };
            let real = u32::from(be16(&p.data, field).unwrap_or(0));
            let header = (d.payload - d.ip) as u32;
            let (r1, r2, r3) = (rng.below(1000) as u32, rng.below(64) as u32, rng.next() as u32);
            let v = *rng.pick(&[
                0,
                1,
                19,
                20,
                header - 1,
                real + 1,
                real + 1 + r1,
                real.saturating_sub(1 + r2),
                65535,
                r3 & 0xffff,
            ]) as u16;
            set_be16(&mut p.data, field, v);
            let _ = write!(
                what,
                "IP{} length of item {i}: {real} -> {v}",
                if d.v6 { "v6 payload" } else { "v4 total" }
            );
        }
        Kind::IhlLie => {
            let pk = tcp_packets(cap);
            let &(i, d) = pk.get(rng.below(pk.len())).ok_or("no TCP packets")?;
            let p = packet_mut(cap, i).ok_or("no packet")?;
            let old = p.data[d.ip];
            let any = rng.below(16) as u8;
            p.data[d.ip] = match (d.v6, rng.below(3)) {
                // IHL below 5, above the real one, up to 15.
                (false, 0 | 1) => (old & 0xf0) | rng.pick(&[0u8, 1, 4, 6, 7, 15, any]),
                // An IPv4 header that says it is version 6, 0 or 15.
                (false, _) => (old & 0x0f) | rng.pick(&[0x60u8, 0x00, 0xf0]),
                // An IPv6 header that says version 4 (its low nibble then reads as an IHL).
                (true, 0) => (old & 0x0f) | 0x40,
                (true, _) => {
                    // Or a next header that is not TCP: hop-by-hop, fragment, UDP, no next header.
                    let nh = *rng.pick(&[0u8, 44, 17, 59, 60]);
                    p.data[d.ip + 6] = nh;
                    old
                }
            };
            let _ = write!(what, "IP version/IHL byte of item {i}: {old:#04x} -> {:#04x}", p.data[d.ip]);
        }
        Kind::TcpOffsetLie => {
            let pk = tcp_packets(cap);
            let &(i, d) = pk.get(rng.below(pk.len())).ok_or("no TCP packets")?;
            let p = packet_mut(cap, i).ok_or("no packet")?;
            let old = p.data[d.tcp + 12];
            let any = rng.below(16) as u8;
            let doff = *rng.pick(&[0u8, 1, 4, 15, any, (old >> 4) + 1]) & 0x0f;
            p.data[d.tcp + 12] = (old & 0x0f) | (doff << 4);
            let _ = write!(what, "TCP data offset of item {i}: {} -> {doff}", old >> 4);
        }
        Kind::OverlapRetransmit => {
            let dp = data_packets(cap);
            let &(i, d) = dp.get(rng.below(dp.len())).ok_or("no data packets")?;
            let Some(Item::Packet(orig)) = cap.items.get(i).cloned() else { return Err("no packet") };
            let old = &orig.data[d.payload..d.end];
            let len = old.len();
            for _ in 0..rng.between(1, 3) {
                // A copy starting up to len-1 bytes before or after, long enough to overlap.
                let shift = rng.between(0, 2 * (len - 1)) as i64 - (len as i64 - 1);
                let min_len = if shift < 0 { (-shift) as usize + 1 } else { 1 };
                let new_len = rng.between(min_len, min_len.max(len + len / 2).min(60_000));
                let mut payload: Vec<u8> = (0..new_len)
                    .map(|k| {
                        let o = shift + k as i64;
                        usize::try_from(o).ok().and_then(|o| old.get(o).copied()).unwrap_or(b'~')
                    })
                    .collect();
                // Different bytes where they overlap: the first carrier's must win.
                for _ in 0..rng.between(1, 8) {
                    let k = rng.below(payload.len());
                    payload[k] = payload[k].wrapping_add(1 + rng.below(255) as u8);
                }
                let mut q = orig.clone();
                set_payload(&mut q, &d, &payload);
                set_be32(&mut q.data, d.tcp + 4, d.seq.wrapping_add(shift as u32));
                let at = match rng.below(5) {
                    0 => i,
                    1 => rng.between(i + 1, cap.items.len()),
                    _ => i + 1,
                };
                let _ =
                    write!(what, "overlapping copy of item {i} (seq {shift:+}, {new_len} bytes) at {at}; ");
                cap.items.insert(at, Item::Packet(q));
            }
        }
        Kind::Reorder => {
            let n = cap.items.len();
            if n < 2 {
                return Err("fewer than two records");
            }
            let (a, b) = (rng.below(n), rng.below(n));
            match rng.below(3) {
                0 => {
                    cap.items.swap(a, b);
                    let _ = write!(what, "swap items {a} and {b}");
                }
                1 => {
                    let it = cap.items[a].clone();
                    cap.items.insert(b, it);
                    let _ = write!(what, "duplicate item {a} at {b}");
                }
                _ => {
                    let k = rng.between(1, 8).min(n - a);
                    cap.items.drain(a..a + k);
                    let _ = write!(what, "drop items {a}..{}", a + k);
                }
            }
        }
        Kind::HostileLengths => {
            let dp = data_packets(cap);
            let &(i, d) = dp.get(rng.below(dp.len())).ok_or("no data packets")?;
            let p = packet_mut(cap, i).ok_or("no packet")?;
            let server = d.sport == SERVER_PORT;
            let token = *rng.pick(if server { HOSTILE_REPLIES } else { HOSTILE_REQUESTS });
            let mut payload = p.data[d.payload..d.end].to_vec();
            let at = if rng.one_in(2) { 0 } else { rng.below(payload.len() + 1) };
            if rng.one_in(2) {
                payload.splice(at..at, token.iter().copied());
            } else {
                let end = (at + token.len()).min(payload.len());
                payload.splice(at..end, token.iter().copied());
            }
            set_payload(p, &d, &payload);
            let _ =
                write!(what, "{:?} spliced at payload byte {at} of item {i}", String::from_utf8_lossy(token));
        }
        Kind::DeepNesting => {
            let dp = data_packets(cap);
            let &(i, d) = dp.get(rng.below(dp.len())).ok_or("no data packets")?;
            let server = d.sport == SERVER_PORT;
            let depth = if first_cycle { 100_000 } else { rng.log_between(33, 100_000) };
            let head = if server { NESTING_HEADS[rng.below(NESTING_HEADS.len())] } else { NESTING_HEADS[0] };
            let mut payload = head.repeat(depth);
            payload.extend_from_slice(if server { b":1\r\n" } else { b"$4\r\nPING\r\n" });
            continue_stream(cap, i, &d, &payload, 60_000);
            let _ = write!(what, "{depth} x {:?} after item {i}", String::from_utf8_lossy(head));
        }
        Kind::HugeInline => {
            let dp = data_packets(cap);
            let &(i, d) = dp.get(rng.below(dp.len())).ok_or("no data packets")?;
            let server = d.sport == SERVER_PORT;
            let len = if first_cycle { 10 << 20 } else { rng.log_between(64 << 10, 1 << 20) };
            let mut payload = Vec::with_capacity(len + 3);
            if server {
                payload.push(b'+');
            }
            payload.resize(len, b'A');
            payload.extend_from_slice(b"\r\n");
            continue_stream(cap, i, &d, &payload, 65_000);
            let _ = write!(
                what,
                "a {len}-byte line from the {} after item {i}",
                if server { "server" } else { "client" }
            );
        }
        Kind::ResyncKiller => {
            let dp = data_packets(cap);
            let server: Vec<_> = dp.iter().filter(|(_, d)| d.sport == SERVER_PORT).collect();
            let &&(i, d) = server.get(rng.below(server.len())).ok_or("no server data packets")?;
            let len = if first_cycle || rng.one_in(2) { 60_000 } else { rng.log_between(5, 64_000) };
            let payload = b"+\r\nx\n".repeat(len / 5);
            continue_stream(cap, i, &d, &payload, 60_000);
            let _ = write!(what, "{} x \"+\\r\\nx\\n\" from the server after item {i}", len / 5);
        }
        _ => unreachable!("{kind:?} works on bytes"),
    }
    let _ = what.write_str("; ");
    Ok(())
}

fn mutate_bytes(b: &mut Vec<u8>, recs: &[Rec], cap: &Capture, kind: Kind, rng: &mut Rng, what: &mut String) {
    let le = cap.little_endian;
    // Half of the byte-level damage lands near a record header, where it matters most.
    let near_header = |rng: &mut Rng, len: usize| -> usize {
        match recs.get(rng.below(recs.len())) {
            Some(r) if rng.one_in(2) => (r.start + rng.below(48)).min(len),
            _ => rng.below(len + 1),
        }
    };
    match kind {
        Kind::BitFlips => {
            if b.is_empty() {
                b.push(0);
            }
            let _ = what.write_str("bit flips:");
            for _ in 0..rng.between(1, 8) {
                let at = near_header(rng, b.len() - 1).min(b.len() - 1);
                let bit = rng.below(8);
                b[at] ^= 1 << bit;
                let _ = write!(what, " {at}.{bit}");
            }
        }
        Kind::InsertBytes => {
            let at = near_header(rng, b.len());
            let ins = match rng.below(4) {
                0 => {
                    let n = rng.between(1, 64);
                    rng.bytes(n)
                }
                1 => b"\r\n".repeat(rng.between(1, 8)),
                2 => vec![0xff; 4 * rng.between(1, 4)],
                _ => vec![0; rng.between(1, 16)],
            };
            let _ = write!(what, "{} bytes inserted at {at}", ins.len());
            b.splice(at..at, ins);
        }
        Kind::DeleteBytes => {
            let at = near_header(rng, b.len()).min(b.len().saturating_sub(1));
            let n = rng.between(1, 256).min(b.len() - at);
            b.drain(at..at + n);
            let _ = write!(what, "{n} bytes deleted at {at}");
        }
        Kind::Truncate => {
            let at = near_header(rng, b.len());
            b.truncate(at);
            let _ = write!(what, "truncated to {at} bytes");
        }
        Kind::CaplenLie => {
            let with_caplen: Vec<&Rec> = recs.iter().filter(|r| r.caplen.is_some()).collect();
            let Some(r) = with_caplen.get(rng.below(with_caplen.len())) else {
                return mutate_bytes(b, recs, cap, Kind::BitFlips, rng, what);
            };
            let at = r.caplen.unwrap_or_default();
            let real = rd32(le, b, at).unwrap_or(0);
            let snaplen =
                if cap.container == Container::Pcap { rd32(le, b, 16).unwrap_or(0) } else { 262_144 };
            let remaining = (b.len() - r.data) as u32;
            let v = lie32(rng, real, snaplen, remaining);
            set32(le, b, at, v);
            let _ = write!(what, "captured length of the record at {}: {real} -> {v}", r.start);
        }
        Kind::LengthLie => {
            let Some(r) = recs.get(rng.below(recs.len())) else {
                return mutate_bytes(b, recs, cap, Kind::BitFlips, rng, what);
            };
            let remaining = (b.len() - r.start) as u32;
            match (r.block_len, r.orig) {
                (Some((lead, trail)), _) if !rng.one_in(4) => {
                    let real = (r.end - r.start) as u32;
                    let other = lie32(rng, real, 262_144, remaining);
                    let v = *rng.pick(&[
                        0,
                        4,
                        8,
                        11,
                        12,
                        13,
                        real - 4,
                        real + 1,
                        real + 4,
                        remaining + 4,
                        0x7fff_fffc,
                        u32::MAX,
                        other,
                    ]);
                    let field = if rng.one_in(3) { trail } else { lead };
                    set32(le, b, field, v);
                    let _ = write!(
                        what,
                        "{} block length of the block at {}: {real} -> {v}",
                        if field == lead { "leading" } else { "trailing" },
                        r.start
                    );
                }
                (_, Some(at)) => {
                    let real = rd32(le, b, at).unwrap_or(0);
                    let v = lie32(rng, real, 262_144, remaining);
                    set32(le, b, at, v);
                    let _ = write!(what, "original length of the record at {}: {real} -> {v}", r.start);
                }
                _ => {
                    // An SHB or IDB: its body's own lengths (section length, option lengths).
                    let at = r.data + rng.below(r.end.saturating_sub(r.data + 4).max(1));
                    let v = lie32(rng, 0, 262_144, remaining);
                    set32(le, b, at, v);
                    let _ = write!(what, "32 bits at {at} in the block at {} := {v}", r.start);
                }
            }
        }
        Kind::FileHeaderLie => match cap.container {
            Container::Pcap => {
                let (field, name, v) = match rng.below(4) {
                    0 => (16, "snaplen", *rng.pick(&[0, 1, 64, 65_535, 262_145, 0x7fff_ffff, u32::MAX])),
                    1 => (
                        20,
                        "linktype",
                        *rng.pick(&[
                            0,
                            1,
                            12,
                            101,
                            108,
                            113,
                            228,
                            229,
                            276,
                            147,
                            0xffff,
                            0x1000_0001,
                            0xfc00_0001,
                        ]),
                    ),
                    2 => (4, "version", *rng.pick(&[0, 0x0004_0002, 0x0003_0002, 0xffff_ffff])),
                    _ => (0, "magic", *rng.pick(&[0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1, 0])),
                };
                set32(le, b, field, v);
                let _ = write!(what, "pcap header {name} := {v:#x}");
            }
            Container::Pcapng => {
                // SHB byte-order magic or version, IDB link type or snap length, an EPB's
                // interface id that names no interface.
                let blocks: Vec<&Rec> = recs.iter().filter(|r| r.caplen.is_none()).collect();
                let epbs: Vec<&Rec> = recs.iter().filter(|r| r.caplen.is_some()).collect();
                match (rng.below(3), blocks.first(), epbs.first()) {
                    (0, Some(shb), _) => {
                        let at = shb.data + if rng.one_in(2) { 0 } else { 4 };
                        let v = *rng.pick(&[0u32, 0x1a2b_3c4d, 0x4d3c_2b1a, 0x0002_0001, u32::MAX]);
                        set32(le, b, at, v);
                        let _ = write!(what, "SHB word at {at} := {v:#x}");
                    }
                    (1, _, _) if blocks.len() > 1 => {
                        let idb = blocks[1];
                        let at = idb.data + if rng.one_in(2) { 0 } else { 4 };
                        let v = *rng.pick(&[0u32, 147, 0xffff, 276, 101, 1 << 16, u32::MAX]);
                        set32(le, b, at, v);
                        let _ = write!(what, "IDB word at {at} := {v:#x}");
                    }
                    (_, _, Some(&epb)) => {
                        let r = epbs.get(rng.below(epbs.len())).copied().unwrap_or(epb);
                        let v = *rng.pick(&[1u32, 7, u32::MAX]);
                        set32(le, b, r.start + 8, v);
                        let _ = write!(what, "EPB at {} interface := {v}", r.start);
                    }
                    _ => mutate_bytes(b, recs, cap, Kind::BitFlips, rng, what),
                }
            }
            Container::Opaque => mutate_bytes(b, recs, cap, Kind::BitFlips, rng, what),
        },
        _ => unreachable!("{kind:?} works on records"),
    }
    let _ = what.write_str("; ");
}

// ---------------------------------------------------------------------------------------------
// Running the binary.

struct Failure {
    index: u64,
    fixture: String,
    format: &'static str,
    kind: Kind,
    what: String,
    why: String,
    stderr: String,
    saved: Option<PathBuf>,
}

/// What every worker shares.
struct Shared {
    bin: PathBuf,
    seed: u64,
    timeout: Duration,
    fixtures: Vec<Fixture>,
    failures_dir: PathBuf,
    /// `RESPSCOPE_FUZZ_KEEP=1`: save every input run, not only failing ones.
    keep_all: bool,
    /// Highest child peak RSS (KB) and the input that reached it; the spawners' own peak.
    peak: Mutex<(i64, Option<u64>)>,
    spawner_rss: AtomicU64,
    per_format: [AtomicU64; FORMATS.len()],
    exits: Mutex<BTreeMap<String, u64>>,
    failures: Mutex<Vec<Failure>>,
    saved: Mutex<BTreeMap<(String, Kind), usize>>,
    timeouts: AtomicU64,
    stop: AtomicBool,
    slowest: Mutex<(Duration, u64)>,
    /// Per mutation kind (by `Kind as usize`): failures, and inputs skipped in quarantine.
    kind_failures: [AtomicU64; KINDS.len()],
    skipped: [AtomicU64; KINDS.len()],
    /// Per mutation kind: inputs run and the microseconds their children took.
    kind_runs: [AtomicU64; KINDS.len()],
    kind_micros: [AtomicU64; KINDS.len()],
}

/// How a child ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ending {
    Code(i32),
    Signal(i32),
    Timeout,
    /// It could not be started, or its spawner is gone.
    NotRun(String),
}

impl Ending {
    fn encode(&self) -> String {
        match self {
            Ending::Code(c) => format!("exit {c}"),
            Ending::Signal(s) => format!("signal {s}"),
            Ending::Timeout => "timeout".into(),
            Ending::NotRun(why) => format!("not-run {}", why.replace(['\t', '\n'], " ")),
        }
    }

    fn decode(s: &str) -> Ending {
        let (word, rest) = s.split_once(' ').unwrap_or((s, ""));
        match (word, rest.parse()) {
            ("exit", Ok(c)) => Ending::Code(c),
            ("signal", Ok(n)) => Ending::Signal(n),
            ("timeout", _) => Ending::Timeout,
            _ => Ending::NotRun(rest.to_string()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Ending::Code(c) => format!("exit {c}"),
            Ending::Signal(s) => format!("signal {s}{}", signal_name(*s)),
            Ending::Timeout => "timeout".into(),
            Ending::NotRun(why) => format!("not run ({why})"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The spawner: children are started by a small helper process, not by this one.
//
// A child's peak RSS as `getrusage` reports it is never below the high-water mark of the
// process that started it: Linux carries the old address space's peak over an exec (and with
// vfork or posix_spawn, the old address space is the parent's). This process holds every
// fixture and builds 10 MB inputs, so its peak would be counted against every child. The
// spawner is this test binary run again, started before anything is loaded; it stays a few MB,
// runs one child at a time, and reads `RUSAGE_CHILDREN` after each: a rise is that child's peak.

/// Set in a spawner's environment.
const SPAWNER_ENV: &str = "RESPSCOPE_FUZZ_SPAWNER";
/// This file's test, which a spawner runs in serving mode.
const TEST_NAME: &str = "mutated_captures_never_crash_hang_or_bloat_analyze";
/// Starts a spawner's reply (the test harness writes its own text on the same stdout).
const REPLY: &str = "respscope-fuzz-spawner";

/// A spawner's loop. Requests on stdin, one per line, tab-separated: timeout in ms, stdout
/// file, stderr file, program, arguments. Replies on stdout: `REPLY`, the ending, the child's
/// peak RSS in KB when it was the highest so far (else -1), the spawner's own peak RSS in KB.
fn serve() {
    let mut out = std::io::stdout();
    let mut peak = 0;
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        let mut f = line.split('\t');
        let timeout = Duration::from_millis(f.next().and_then(|v| v.parse().ok()).unwrap_or(5000));
        let (Some(stdout), Some(stderr), Some(program)) = (f.next(), f.next(), f.next()) else { break };
        let args: Vec<&str> = f.collect();
        let ending = run_one(program, &args, Path::new(stdout), Path::new(stderr), timeout)
            .unwrap_or_else(|e| Ending::NotRun(e.to_string()));
        let rss = getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0, |u| u.max_rss());
        let rose = if rss > peak {
            peak = rss;
            rss
        } else {
            -1
        };
        let own = getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.max_rss());
        let reply = format!("{REPLY}\t{}\t{rose}\t{own}\n", ending.encode());
        if out.write_all(reply.as_bytes()).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
}

/// Runs one child to its end, or kills it at the timeout.
fn run_one(
    program: &str,
    args: &[&str],
    out: &Path,
    err: &Path,
    timeout: Duration,
) -> std::io::Result<Ending> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out)?)
        .stderr(std::fs::File::create(err)?)
        .spawn()?;
    let start = Instant::now();
    // Most children live a few ms: poll often at first, then every half millisecond.
    let mut nap = Duration::from_micros(50);
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(match (st.code(), st.signal()) {
                (Some(c), _) => Ending::Code(c),
                (None, Some(s)) => Ending::Signal(s),
                (None, None) => Ending::NotRun(format!("{st:?}")),
            });
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            child.wait()?;
            return Ok(Ending::Timeout);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_micros(500));
    }
}

/// The test's end of one spawner.
struct Spawner {
    child: Child,
    to: Option<ChildStdin>,
    from: BufReader<ChildStdout>,
}

/// What a spawner reports for one child.
struct Ran {
    ending: Ending,
    /// The child's peak RSS (KB) when no earlier child of this spawner went as high.
    rss_rose: Option<i64>,
    /// The spawner's own peak RSS (KB): the floor under every child's figure.
    spawner_rss: i64,
}

impl Spawner {
    fn start() -> std::io::Result<Spawner> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--exact", TEST_NAME, "--test-threads=1"])
            .env(SPAWNER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let to = child.stdin.take();
        let from = BufReader::new(child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?);
        Ok(Spawner { child, to, from })
    }

    fn run(&mut self, timeout: Duration, program: &Path, args: &[&str], out: &Path, err: &Path) -> Ran {
        let gone = |why: String| Ran { ending: Ending::NotRun(why), rss_rose: None, spawner_rss: 0 };
        let mut req =
            format!("{}\t{}\t{}\t{}", timeout.as_millis(), out.display(), err.display(), program.display());
        for a in args {
            req.push('\t');
            req.push_str(a);
        }
        req.push('\n');
        let Some(to) = self.to.as_mut() else { return gone("spawner closed".into()) };
        if let Err(e) = to.write_all(req.as_bytes()).and_then(|()| to.flush()) {
            return gone(format!("spawner: {e}"));
        }
        let mut line = String::new();
        loop {
            line.clear();
            match self.from.read_line(&mut line) {
                Ok(0) => return gone("spawner exited".into()),
                Err(e) => return gone(format!("spawner: {e}")),
                Ok(_) => {}
            }
            // The harness writes its own lines, and "test NAME ... " right before the first reply.
            let Some(at) = line.find(REPLY) else { continue };
            let mut f = line[at + REPLY.len()..].trim_end().split('\t').skip(1);
            let ending = Ending::decode(f.next().unwrap_or(""));
            let rose: i64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(-1);
            let own: i64 = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            return Ran { ending, rss_rose: (rose >= 0).then_some(rose), spawner_rss: own };
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // End of requests; read what the harness still writes so it never meets a closed pipe.
        self.to.take();
        let _ = std::io::copy(&mut self.from, &mut std::io::sink());
        let _ = self.child.wait();
    }
}

/// Control bytes other than newline and tab: wire bytes must reach a terminal escaped.
fn first_control_byte(b: &[u8]) -> Option<(usize, u8)> {
    b.iter().position(|&c| (c < 0x20 && c != b'\n' && c != b'\t') || c == 0x7f).map(|i| (i, b[i]))
}

fn check_output(format: usize, ending: &Ending, stdout: &[u8], stderr: &[u8]) -> Option<String> {
    let code = match ending {
        Ending::Code(c) => *c,
        Ending::Timeout => return Some("timed out".into()),
        Ending::Signal(s) => return Some(format!("killed by signal {s}{}", signal_name(*s))),
        Ending::NotRun(why) => return Some(format!("not run: {why}")),
    };
    if code != 0 && code != 2 {
        return Some(format!("exit code {code}"));
    }
    if let Some((at, c)) = first_control_byte(stdout) {
        return Some(format!("control byte {c:#04x} at stdout byte {at}"));
    }
    if let Some((at, c)) = first_control_byte(stderr) {
        return Some(format!("control byte {c:#04x} at stderr byte {at}"));
    }
    if std::str::from_utf8(stdout).is_err() {
        return Some("stdout is not UTF-8".into());
    }
    if code == 2 {
        return (stderr.is_empty()).then(|| "exit code 2 with nothing on stderr".into());
    }
    if stdout.is_empty() {
        return Some("exit code 0 with no report".into());
    }
    match FORMATS[format].0 {
        "json" => match serde_json::from_slice::<serde_json::Value>(stdout) {
            Ok(v) if v.is_object() => None,
            Ok(_) => Some("stdout is JSON but not an object".into()),
            Err(e) => Some(format!("stdout is not one JSON object: {e}")),
        },
        "segments-json" => {
            stdout.split(|&c| c == b'\n').filter(|l| !l.is_empty()).enumerate().find_map(|(n, l)| {
                match serde_json::from_slice::<serde_json::Value>(l) {
                    Ok(v) if v.is_object() => None,
                    Ok(_) => Some(format!("JSON line {} is not an object", n + 1)),
                    Err(e) => Some(format!("JSON line {} does not parse: {e}", n + 1)),
                }
            })
        }
        _ => None,
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        7 => " (SIGBUS)",
        4 => " (SIGILL)",
        8 => " (SIGFPE)",
        _ => "",
    }
}

fn worker(sh: &Shared, id: usize, mut spawner: Spawner, indices: &[u64], next: &AtomicU64) {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz_mutations-{}-{id}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    loop {
        if sh.stop.load(Ordering::Relaxed) {
            break;
        }
        let k = next.fetch_add(1, Ordering::Relaxed) as usize;
        let Some(&i) = indices.get(k) else { break };
        let (_, kind, _, _) = schedule(i, sh.fixtures.len());
        if sh.kind_failures[kind as usize].load(Ordering::Relaxed) >= QUARANTINE_AFTER as u64 {
            sh.skipped[kind as usize].fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let input = make_input(&sh.fixtures, sh.seed, i);
        let ext = if sh.fixtures[input.fixture].name.ends_with(".pcapng") { "pcapng" } else { "pcap" };
        let path = dir.join(format!("input.{ext}"));
        std::fs::write(&path, &input.bytes).expect("write the input");
        let (fmt_name, args) = FORMATS[input.format];
        let t = Instant::now();
        let input_arg = path.to_string_lossy();
        let argv: Vec<&str> = ["analyze", &input_arg].into_iter().chain(args.iter().copied()).collect();
        let ran = spawner.run(sh.timeout, &sh.bin, &argv, &out, &err);
        let took = t.elapsed();
        sh.spawner_rss.fetch_max(ran.spawner_rss.max(0) as u64, Ordering::Relaxed);
        sh.kind_runs[kind as usize].fetch_add(1, Ordering::Relaxed);
        sh.kind_micros[kind as usize].fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        {
            let mut s = sh.slowest.lock().unwrap_or_else(|e| e.into_inner());
            if took > s.0 {
                *s = (took, i);
            }
        }
        sh.per_format[input.format].fetch_add(1, Ordering::Relaxed);
        *sh.exits.lock().unwrap_or_else(|e| e.into_inner()).entry(ran.ending.describe()).or_default() += 1;
        let stdout = std::fs::read(&out).unwrap_or_default();
        let stderr = std::fs::read(&err).unwrap_or_default();
        let mut why = check_output(input.format, &ran.ending, &stdout, &stderr);
        if let Some(kb) = ran.rss_rose {
            if kb > RSS_BUDGET_KB {
                let over = format!("peak RSS {} MB over the {} MB budget", kb / 1024, RSS_BUDGET_KB / 1024);
                why = Some(why.map_or(over.clone(), |w| format!("{w}; {over}")));
            }
            let mut peak = sh.peak.lock().unwrap_or_else(|e| e.into_inner());
            if kb > peak.0 {
                *peak = (kb, Some(i));
            }
        }
        if ran.ending == Ending::Timeout && sh.timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_TIMEOUTS {
            sh.stop.store(true, Ordering::Relaxed);
        }
        let fixture = &sh.fixtures[input.fixture].name;
        let Some(why) = why else {
            if sh.keep_all {
                save_input(sh, i, &input, &stderr, "none");
            }
            continue;
        };
        sh.kind_failures[kind as usize].fetch_add(1, Ordering::Relaxed);
        // Group failures by what went wrong (without numbers) and by mutation kind.
        let class: String = why.chars().filter(|c| !c.is_ascii_digit()).collect();
        let save = {
            let mut saved = sh.saved.lock().unwrap_or_else(|e| e.into_inner());
            let n = saved.entry((class, input.kind)).or_default();
            *n += 1;
            *n <= SAVE_PER_GROUP || sh.keep_all
        };
        let saved = if save { save_input(sh, i, &input, &stderr, &why) } else { None };
        sh.failures.lock().unwrap_or_else(|e| e.into_inner()).push(Failure {
            index: i,
            fixture: fixture.clone(),
            format: fmt_name,
            kind: input.kind,
            what: input.what,
            why,
            stderr: tail(&stderr, 300),
            saved,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes an input and a note on how it was made under `target/fuzz-failures/`.
fn save_input(sh: &Shared, i: u64, input: &Input, stderr: &[u8], why: &str) -> Option<PathBuf> {
    let fixture = &sh.fixtures[input.fixture].name;
    let (fmt_name, args) = FORMATS[input.format];
    let (stem, ext) = fixture.rsplit_once('.').unwrap_or((fixture, "pcap"));
    std::fs::create_dir_all(&sh.failures_dir).ok()?;
    let p = sh.failures_dir.join(format!("{i:06}-{stem}-{:?}-{fmt_name}.{ext}", input.kind));
    std::fs::write(&p, &input.bytes).ok()?;
    let note = format!(
        "input {i} (seed {seed:#x}) from {fixture}, format {fmt_name} {args:?}\nmutation: {}\nfailure: {why}\n\
         again: RESPSCOPE_FUZZ_SEED={seed:#x} RESPSCOPE_FUZZ_ONLY={i} cargo test --release --test fuzz_mutations\n\
         or: respscope analyze {} {}\nstderr (end):\n{}\n",
        input.what,
        p.display(),
        args.join(" "),
        tail(stderr, 2000),
        seed = sh.seed,
    );
    std::fs::write(p.with_extension("txt"), note).ok()?;
    Some(p)
}

fn tail(b: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(&b[b.len().saturating_sub(n)..]).into_owned();
    s.trim().to_string()
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

fn load_fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read tests/fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let raw = std::fs::read(dir.join(&name)).expect("read a fixture");
            Fixture { capture: Capture::parse(&raw), name }
        })
        .collect()
}

#[test]
fn mutated_captures_never_crash_hang_or_bloat_analyze() {
    if std::env::var_os(SPAWNER_ENV).is_some() {
        return serve();
    }
    // One child more than cores: a child spends part of its short life being started and
    // reaped, and the extra one fills that time (measured: 142 inputs/s with 2, 166 with 3).
    let jobs = env_u64("RESPSCOPE_FUZZ_JOBS")
        .map(|j| j.max(1) as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()) + 1);
    // Spawners first, while this process is still small (see `serve`).
    let spawners: Vec<Spawner> = (0..jobs).map(|_| Spawner::start().expect("start a spawner")).collect();
    let fixtures = load_fixtures();
    assert!(fixtures.len() >= 20, "expected the fixtures in tests/fixtures, found {}", fixtures.len());
    // The mutations that need headers must find them: a parser here that lost its way would
    // quietly turn every structured mutation into bit flips.
    for f in &fixtures {
        if f.capture.container != Container::Opaque {
            assert!(!data_packets(&f.capture).is_empty(), "{}: no TCP data found", f.name);
            let (bytes, _) = f.capture.serialise();
            let orig =
                std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(&f.name))
                    .expect("read a fixture");
            assert!(bytes == orig, "{}: parsing and writing back changed the file", f.name);
        }
    }

    let seed = env_u64("RESPSCOPE_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let indices: Vec<u64> = match std::env::var("RESPSCOPE_FUZZ_ONLY") {
        Ok(list) => list.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => (0..env_u64("RESPSCOPE_FUZZ_INPUTS").unwrap_or(DEFAULT_INPUTS)).collect(),
    };
    // Another build of the binary (a fix in another work tree, say) may be put to the same test.
    let bin = std::env::var_os("RESPSCOPE_FUZZ_BIN")
        .map_or(PathBuf::from(env!("CARGO_BIN_EXE_respscope")), PathBuf::from);
    let timeout = Duration::from_secs(env_u64("RESPSCOPE_FUZZ_TIMEOUT").unwrap_or(DEFAULT_TIMEOUT_SECS));
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap_or(Path::new("target"));
    let sh = Shared {
        bin,
        seed,
        timeout,
        fixtures,
        failures_dir: target.join("fuzz-failures"),
        keep_all: std::env::var("RESPSCOPE_FUZZ_KEEP").is_ok_and(|v| v == "1"),
        peak: Mutex::new((0, None)),
        spawner_rss: AtomicU64::new(0),
        per_format: Default::default(),
        exits: Mutex::new(BTreeMap::new()),
        failures: Mutex::new(Vec::new()),
        saved: Mutex::new(BTreeMap::new()),
        timeouts: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        slowest: Mutex::new((Duration::ZERO, 0)),
        kind_failures: Default::default(),
        skipped: Default::default(),
        kind_runs: Default::default(),
        kind_micros: Default::default(),
    };

    let start = Instant::now();
    let next = AtomicU64::new(0);
    std::thread::scope(|s| {
        for (id, sp) in spawners.into_iter().enumerate() {
            let (sh, indices, next) = (&sh, &indices, &next);
            s.spawn(move || worker(sh, id, sp, indices, next));
        }
    });
    let elapsed = start.elapsed();

    let run: u64 = sh.per_format.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let (peak_kb, peak_input) = *sh.peak.lock().unwrap_or_else(|e| e.into_inner());
    let slowest = *sh.slowest.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = sh.failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|f| f.index);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "\nfuzz_mutations: seed {seed:#x}, {} fixtures, {jobs} children at a time",
        sh.fixtures.len()
    );
    let _ = writeln!(
        report,
        "  inputs run: {run} of {} in {:.1} s ({:.0}/s); slowest {:.0} ms (input {})",
        indices.len(),
        elapsed.as_secs_f64(),
        run as f64 / elapsed.as_secs_f64().max(1e-9),
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1
    );
    let per: Vec<String> = FORMATS
        .iter()
        .zip(&sh.per_format)
        .map(|((n, _), c)| format!("{n} {}", c.load(Ordering::Relaxed)))
        .collect();
    let _ = writeln!(report, "  per format: {}", per.join(", "));
    let exits = sh.exits.into_inner().unwrap_or_else(|e| e.into_inner());
    let ex: Vec<String> = exits.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(report, "  endings: {}", ex.join(", "));
    let _ = writeln!(
        report,
        "  max child RSS: {:.1} MB (input {}), budget {} MB; spawners' own peak {:.1} MB",
        peak_kb as f64 / 1024.0,
        peak_input.map_or("-".into(), |i| i.to_string()),
        RSS_BUDGET_KB / 1024,
        sh.spawner_rss.load(Ordering::Relaxed) as f64 / 1024.0
    );
    if sh.stop.load(Ordering::Relaxed) {
        let _ = writeln!(report, "  stopped early after {MAX_TIMEOUTS} timeouts");
    }
    let per_kind: Vec<String> = KINDS
        .iter()
        .map(|&k| {
            let n = sh.kind_runs[k as usize].load(Ordering::Relaxed);
            let ms = sh.kind_micros[k as usize].load(Ordering::Relaxed) as f64 / 1000.0;
            format!("{k:?} {n} ({:.1} ms)", ms / n.max(1) as f64)
        })
        .collect();
    let _ = writeln!(report, "  per mutation (inputs, mean child time): {}", per_kind.join(", "));
    for k in KINDS {
        let n = sh.skipped[k as usize].load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(
                report,
                "  skipped {n} inputs of {k:?} after {QUARANTINE_AFTER} failures of that kind"
            );
        }
    }
    if !failures.is_empty() {
        let mut groups: BTreeMap<(String, Kind), Vec<&Failure>> = BTreeMap::new();
        for f in &failures {
            groups
                .entry((f.why.chars().filter(|c| !c.is_ascii_digit()).collect(), f.kind))
                .or_default()
                .push(f);
        }
        let _ = writeln!(
            report,
            "  FAILURES: {} inputs, {} kinds of failure x mutation:",
            failures.len(),
            groups.len()
        );
        for ((_, kind), fs) in &groups {
            let f = fs[0];
            let _ = writeln!(
                report,
                "  - {} x {kind:?}: first input {} ({}, {}): {}",
                fs.len(),
                f.index,
                f.fixture,
                f.format,
                f.why
            );
            let _ = writeln!(report, "      mutation: {}", f.what);
            if !f.stderr.is_empty() {
                let _ = writeln!(report, "      stderr: {}", f.stderr.replace('\n', "\n              "));
            }
            if let Some(p) = &f.saved {
                let _ = writeln!(report, "      saved: {}", p.display());
            }
            let _ = writeln!(
                report,
                "      again: RESPSCOPE_FUZZ_SEED={seed:#x} RESPSCOPE_FUZZ_ONLY={} cargo test --release --test fuzz_mutations",
                f.index
            );
        }
    }
    // Straight to the process's stderr: the harness captures print macros, and these numbers
    // belong in the log of a passing run too.
    let _ = std::io::stderr().write_all(report.as_bytes());
    assert!(failures.is_empty(), "{} mutated inputs failed (see above)", failures.len());
    assert!(!sh.stop.load(Ordering::Relaxed), "stopped after {MAX_TIMEOUTS} timeouts");
}
