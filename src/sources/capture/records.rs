//! pcap and pcapng records parsed with pcap-parser where they lie in a large read buffer, and
//! handed on borrowed: a frame is never copied, and its buffer can be shared with the threads
//! that analyse it ([`SharedBytes`]).
//!
//! The rules are libpcap's (1.10), so that a file reads as it did through libpcap: the
//! snapshot length and its limits, the timestamps (nanoseconds, and pcapng's `if_tsresol` and
//! `if_tsoffset`, converted to microseconds with libpcap's integer arithmetic and
//! truncation), libpcap's words for a file cut short. One difference: a pcapng file may mix
//! interfaces of different link types (libpcap stops at the second), and each frame carries
//! its interface's. What this reader does not take (pcap versions before 2.4, the "modified"
//! pcap format, link types respscope does not decode, anything damaged before the first
//! frame) is left to libpcap by [`Records::open`], so those files read, or fail, as before.
//! A stream (stdin) has no libpcap to fall back on: [`Records::from_reader`] says why it
//! declines one instead.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

use pcap_parser::nom;
use pcap_parser::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header,
    parse_sectionheaderblock, parse_simplepacketblock_be, parse_simplepacketblock_le,
    InterfaceDescriptionBlock, LegacyPcapBlock, OptionCode, PcapError, BOM_MAGIC, EPB_MAGIC, IDB_MAGIC,
    SHB_MAGIC, SPB_MAGIC,
};

use super::decode::Link;
use super::{timestamp_us, Frame, Next, SharedBytes};

/// Bytes asked of the file per read, and the size of a buffer frames are borrowed from:
/// large enough that reads cost nothing per frame, small enough to stay in a core's cache
/// while its frames are analysed.
pub(crate) const CHUNK_BYTES: usize = 256 << 10;
/// The largest block read: libpcap's limit for a pcapng block. A longer length in a file is
/// damage, never an allocation.
const MAX_BLOCK: usize = 16 << 20;
/// libpcap's largest packet for the link types respscope decodes (`MAXIMUM_SNAPLEN`); a
/// pcap record claiming more is damage.
const MAX_SNAPLEN: u32 = 262_144;
/// Buffers kept for reuse while threads analysing their frames still hold the ones before.
const SPARES: usize = 16;
/// pcapng's obsolete Packet Block, which libpcap still reads.
const PB_MAGIC: u32 = 2;

type PcapParse = fn(&[u8]) -> nom::IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

/// libpcap's snapshot length for a file's (or interface's) declared one.
fn adjust_snapshot(snaplen: u32) -> u32 {
    if snaplen == 0 || snaplen > i32::MAX as u32 {
        MAX_SNAPLEN
    } else {
        snaplen
    }
}

/// Where `inner` starts in `outer`, which holds it.
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// The file's bytes, read in large pieces into buffers that frames borrow from.
struct Input {
    file: Box<dyn Read + Send>,
    chunk: SharedBytes,
    pos: usize,
    end: usize,
    eof: bool,
    /// Buffers handed out before: reused once no other thread holds them.
    spares: Vec<SharedBytes>,
}

impl Input {
    fn new(file: Box<dyn Read + Send>) -> Input {
        Input { file, chunk: Arc::new(vec![0; CHUNK_BYTES]), pos: 0, end: 0, eof: false, spares: Vec::new() }
    }

    /// The bytes read and not consumed.
    fn bytes(&self) -> &[u8] {
        self.chunk.get(self.pos..self.end).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }

    /// Makes at least `need` bytes available (fewer only at the end of the file) and returns
    /// how many are. `need` is at most [`MAX_BLOCK`]: callers check a length before asking
    /// for it.
    fn fill(&mut self, need: usize) -> io::Result<usize> {
        let have = self.end - self.pos;
        if have >= need || self.eof {
            return Ok(have);
        }
        let size = need.max(CHUNK_BYTES);
        // The unread tail (a record cut by the end of the last read) moves to the front of a
        // buffer of our own: this one if no other thread holds it, else a free spare.
        let (pos, end) = (self.pos, self.end);
        match Arc::get_mut(&mut self.chunk).filter(|b| b.len() >= size) {
            Some(b) => b.copy_within(pos..end, 0),
            None => {
                let mut next = self.spare(size);
                if let (Some(dst), Some(src)) = (Arc::get_mut(&mut next), self.chunk.get(pos..end)) {
                    dst[..have].copy_from_slice(src);
                }
                let old = std::mem::replace(&mut self.chunk, next);
                if old.len() == CHUNK_BYTES && self.spares.len() < SPARES {
                    self.spares.push(old);
                }
            }
        }
        self.pos = 0;
        self.end = have;
        let Some(buf) = Arc::get_mut(&mut self.chunk) else { return Ok(have) };
        while self.end < need {
            match self.file.read(&mut buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end)
    }

    /// A buffer of at least `size` bytes that no one else holds.
    fn spare(&mut self, size: usize) -> SharedBytes {
        if size <= CHUNK_BYTES {
            if let Some(i) =
                self.spares.iter().position(|s| Arc::strong_count(s) == 1 && Arc::weak_count(s) == 0)
            {
                return self.spares.swap_remove(i);
            }
        }
        Arc::new(vec![0; size])
    }
}

/// A pcapng interface, as its Interface Description Block describes it.
#[derive(Clone, Copy, Debug)]
struct Iface {
    link: Link,
    snapshot: u32,
    /// Timestamp units per second, and whether that is a power of 2 (else of 10).
    tsresol: u64,
    binary: bool,
    /// Seconds added to every timestamp.
    tsoffset: u64,
}

impl Iface {
    fn new(idb: &InterfaceDescriptionBlock<'_>, big_endian: bool) -> Result<Iface, String> {
        let linktype = idb.linktype.0 & 0xffff;
        let link = Link::from_linktype(linktype).unwrap_or(Link::Other(linktype as u32));
        let raw = idb.if_tsresol;
        let (tsresol, binary) = if raw & 0x80 != 0 {
            let shift = raw & 0x7f;
            if shift > 63 {
                return Err(format!(
                    "Interface Description Block if_tsresol option resolution 2^-{shift} is too high"
                ));
            }
            (1u64 << shift, true)
        } else {
            if raw > 19 {
                return Err(format!(
                    "Interface Description Block if_tsresol option resolution 10^-{raw} is too high"
                ));
            }
            (10u64.pow(u32::from(raw)), false)
        };
        // pcap-parser reads if_tsoffset little-endian whatever the section's byte order, so
        // the option is read here.
        let tsoffset = idb
            .options
            .iter()
            .filter(|o| o.code == OptionCode::IfTsoffset)
            .find_map(|o| <[u8; 8]>::try_from(o.as_bytes().ok()?).ok())
            .map_or(0, |b| if big_endian { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) });
        Ok(Iface { link, snapshot: adjust_snapshot(idb.snaplen), tsresol, binary, tsoffset })
    }

    /// libpcap's conversion of a pcapng timestamp to seconds and microseconds, wrapping
    /// arithmetic and casts included, then clamped as every timestamp is.
    fn ts_us(&self, t: u64) -> i64 {
        const MICRO: u64 = 1_000_000;
        let sec = (t / self.tsresol).wrapping_add(self.tsoffset);
        let frac = t % self.tsresol;
        let frac = if self.tsresol == MICRO {
            frac
        } else if self.binary {
            frac.wrapping_mul(MICRO) / self.tsresol
        } else if self.tsresol > MICRO {
            frac / (self.tsresol / MICRO)
        } else {
            frac.wrapping_mul(MICRO / self.tsresol)
        };
        timestamp_us(sec as i64, i64::from(frac as u32 as i32))
    }
}

/// Interfaces one pcapng section may declare (capture tools write one per interface).
const MAX_IFACES: usize = 4096;

enum Format {
    Pcap { parse: PcapParse, big_endian: bool, nanos: bool, snapshot: u32, link: Link },
    PcapNg { big_endian: bool, ifaces: Vec<Iface> },
}

/// What a packet record yields, before its bytes are borrowed.
struct Rec {
    ts_us: i64,
    at: usize,
    len: usize,
    wire_len: u32,
    link: Link,
    /// Where the record ends in the buffer.
    end: usize,
}

/// Why [`Records::from_reader`] does not read a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Declined {
    /// Not a pcap or pcapng capture at all (or nothing could be read): why, in libpcap's
    /// words where it has them.
    NotACapture(String),
    /// A capture of a link type respscope does not decode.
    Link(i32),
    /// A capture variant only libpcap reads, which it can only do from a file.
    FileOnly(String),
}

/// A pcap or pcapng file read with pcap-parser.
pub(crate) struct Records {
    input: Input,
    format: Format,
    no: u64,
}

impl Records {
    /// Opens `file` when this reader takes its format; `None` leaves the file to libpcap (see
    /// the module's notes). Returns the first link type too.
    pub(crate) fn open(file: File) -> Option<(Records, Link)> {
        Records::from_reader(Box::new(file)).ok()
    }

    /// Opens a stream of capture bytes (a file, or stdin), read as it comes in buffers of
    /// bounded size. Returns the first link type too, or why the stream is not read here.
    pub(crate) fn from_reader(reader: Box<dyn Read + Send>) -> Result<(Records, Link), Declined> {
        use Declined::{FileOnly, NotACapture};
        let mut input = Input::new(reader);
        let avail = input.fill(24).map_err(|e| NotACapture(format!("cannot read it: {e}")))?;
        if avail == 0 {
            return Err(NotACapture("it is empty".into()));
        }
        if avail < 12 {
            return Err(NotACapture(format!("only {avail} bytes")));
        }
        if let Ok((_, h)) = parse_pcap_header(input.bytes()) {
            if h.is_modified_format() {
                return Err(FileOnly("the \"modified\" pcap format".into()));
            }
            if h.version_major != 2 || h.version_minor != 4 {
                return Err(FileOnly(format!("pcap version {}.{}", h.version_major, h.version_minor)));
            }
            let linktype = h.network.0 & 0x03ff_ffff;
            let link = Link::from_linktype(linktype).ok_or(Declined::Link(linktype))?;
            let parse: PcapParse = if h.is_bigendian() { parse_pcap_frame_be } else { parse_pcap_frame };
            let format = Format::Pcap {
                parse,
                big_endian: h.is_bigendian(),
                nanos: h.is_nanosecond_precision(),
                snapshot: adjust_snapshot(h.snaplen),
                link,
            };
            input.consume(h.size());
            return Ok((Records { input, format, no: 0 }, link));
        }
        let b = input.bytes();
        if b.get(..4).is_none_or(|m| m != SHB_MAGIC.to_le_bytes()) {
            // libpcap's words for a file of neither format.
            return Err(NotACapture("unknown file format".into()));
        }
        let mut r =
            Records { input, format: Format::PcapNg { big_endian: false, ifaces: Vec::new() }, no: 0 };
        // A section header, then blocks up to the first interface; a packet before it, or
        // anything damaged, is for libpcap to judge.
        let damaged = |why: String| NotACapture(format!("a damaged pcapng file: {why}"));
        let Some((t, total, big_endian)) = r.block().map_err(damaged)? else {
            return Err(NotACapture("unknown file format".into()));
        };
        if t != SHB_MAGIC {
            return Err(NotACapture("unknown file format".into()));
        }
        let bytes = r.input.bytes().get(..total).unwrap_or_default();
        let (_, shb) =
            parse_sectionheaderblock(bytes).map_err(|_| damaged("a damaged section header block".into()))?;
        if shb.major_version != 1 || !matches!(shb.minor_version, 0 | 2) {
            return Err(FileOnly(format!("pcapng version {}.{}", shb.major_version, shb.minor_version)));
        }
        r.format = Format::PcapNg { big_endian, ifaces: Vec::new() };
        r.input.consume(total);
        loop {
            let Some((t, total, big_endian)) = r.block().map_err(damaged)? else {
                return Err(NotACapture("a pcapng file without any interface".into()));
            };
            match t {
                IDB_MAGIC => {
                    let bytes = r.input.bytes().get(..total).unwrap_or_default();
                    let parsed = if big_endian {
                        parse_interfacedescriptionblock_be(bytes)
                    } else {
                        parse_interfacedescriptionblock_le(bytes)
                    };
                    let (_, idb) =
                        parsed.map_err(|_| damaged("a damaged interface description block".into()))?;
                    let iface = Iface::new(&idb, big_endian).map_err(damaged)?;
                    if let Link::Other(linktype) = iface.link {
                        return Err(Declined::Link(linktype as i32));
                    }
                    r.input.consume(total);
                    r.format = Format::PcapNg { big_endian, ifaces: vec![iface] };
                    return Ok((r, iface.link));
                }
                SHB_MAGIC | EPB_MAGIC | SPB_MAGIC | PB_MAGIC => {
                    return Err(FileOnly(
                        "a pcapng section with a packet or section before its first interface".into(),
                    ))
                }
                _ => r.input.consume(total),
            }
        }
    }

    /// The next pcapng block, whole in the buffer: its type, total length and byte order.
    /// `Ok(None)` at the end of the file; `Err` says what is damaged.
    fn block(&mut self) -> Result<Option<(u32, usize, bool)>, String> {
        let Format::PcapNg { big_endian, .. } = self.format else { return Ok(None) };
        let avail = self.input.fill(12).map_err(|e| format!("error reading dump file: {e}"))?;
        if avail == 0 {
            return Ok(None);
        }
        if avail < 8 {
            return Err(format!("truncated pcapng dump file; tried to read 8 bytes, only got {avail}"));
        }
        let b = self.input.bytes();
        let word = |i: usize, be: bool| {
            let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            if be {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        // A section header carries its own byte order (its type reads the same both ways).
        let mut be = big_endian;
        if word(0, false) == SHB_MAGIC && avail >= 12 {
            match word(8, false) {
                BOM_MAGIC => be = false,
                m if m == BOM_MAGIC.swap_bytes() => be = true,
                _ => return Err("the file has a section with a bad byte order magic field".into()),
            }
        }
        let t = word(0, be);
        let total = word(4, be) as usize;
        if total < 12 {
            return Err(format!("block in pcapng dump file has a length of {total} < 12"));
        }
        if !total.is_multiple_of(4) {
            return Err(format!(
                "block in pcapng dump file has a length of {total} that is not a multiple of 4"
            ));
        }
        if total > MAX_BLOCK {
            return Err(format!("pcapng block size {total} > maximum {MAX_BLOCK}"));
        }
        let avail = self.input.fill(total).map_err(|e| format!("error reading dump file: {e}"))?;
        if avail < total {
            return Err(format!(
                "truncated pcapng dump file; tried to read {} bytes, only got {}",
                total - 8,
                avail.saturating_sub(8)
            ));
        }
        let b = self.input.bytes();
        let trailer = [b[total - 4], b[total - 3], b[total - 2], b[total - 1]];
        let trailer = if be { u32::from_be_bytes(trailer) } else { u32::from_le_bytes(trailer) };
        if trailer as usize != total {
            return Err("block total length in header and trailer don't match".into());
        }
        Ok(Some((t, total, be)))
    }

    /// The next pcap record.
    fn next_pcap(
        &mut self,
        parse: PcapParse,
        nanos: bool,
        snapshot: u32,
        link: Link,
    ) -> Result<Option<Rec>, String> {
        let io = |e: io::Error| format!("error reading dump file: {e}");
        let avail = self.input.fill(16).map_err(io)?;
        if avail == 0 {
            return Ok(None);
        }
        if avail < 16 {
            return Err(format!("truncated dump file; tried to read 16 header bytes, only got {avail}"));
        }
        let caplen = match parse(self.input.bytes()) {
            // The common case: the whole record is in the buffer.
            Ok((rest, b)) if b.caplen <= MAX_SNAPLEN => {
                let rec = self.pcap_rec(&b, rest.len(), nanos, snapshot, link);
                return Ok(Some(rec));
            }
            Ok((_, b)) => b.caplen,
            Err(nom::Err::Incomplete(nom::Needed::Size(n))) => {
                u32::try_from((avail - 16).saturating_add(n.get())).unwrap_or(u32::MAX)
            }
            Err(_) => return Err("a damaged record".into()),
        };
        if caplen > MAX_SNAPLEN {
            return Err(if caplen > snapshot {
                format!("invalid packet capture length {caplen}, bigger than snaplen of {snapshot}")
            } else {
                format!("invalid packet capture length {caplen}, bigger than maximum of {MAX_SNAPLEN}")
            });
        }
        let total = 16 + caplen as usize;
        let avail = self.input.fill(total).map_err(io)?;
        if avail < total {
            let got = avail - 16;
            let tried =
                if caplen > snapshot && (got as u64) < u64::from(snapshot) { snapshot } else { caplen };
            return Err(format!("truncated dump file; tried to read {tried} captured bytes, only got {got}"));
        }
        match parse(self.input.bytes()) {
            Ok((rest, b)) => Ok(Some(self.pcap_rec(&b, rest.len(), nanos, snapshot, link))),
            Err(_) => Err("a damaged record".into()),
        }
    }

    /// The next pcap record when all of it is in the buffer and its length is plausible: the
    /// common case, read here without going through pcap-parser (its rules: a 16-byte header,
    /// then `caplen` bytes). Anything else is left to [`Records::next_pcap`], which reads more
    /// or says what is wrong. A frame's header costs a few loads instead of a parser's layers,
    /// on the thread every frame passes through.
    #[inline]
    fn whole_pcap_record(&self, big_endian: bool, nanos: bool, snapshot: u32, link: Link) -> Option<Rec> {
        let bytes = self.input.bytes();
        let header: &[u8; 16] = bytes.get(..16)?.try_into().ok()?;
        let word = |i: usize| {
            let w = [header[i], header[i + 1], header[i + 2], header[i + 3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        let caplen = word(8);
        if caplen > MAX_SNAPLEN || bytes.len() - 16 < caplen as usize {
            return None;
        }
        let (secs, frac) = (word(0) as i32, word(4) as i32);
        let micros = if nanos { frac / 1000 } else { frac };
        let at = self.input.pos + 16;
        Some(Rec {
            ts_us: timestamp_us(i64::from(secs), i64::from(micros)),
            at,
            len: (caplen as usize).min(snapshot as usize),
            wire_len: word(12),
            link,
            end: at + caplen as usize,
        })
    }

    /// A parsed pcap record as a frame, consumed from the buffer (`rest` bytes follow it).
    fn pcap_rec(&self, b: &LegacyPcapBlock<'_>, rest: usize, nanos: bool, snapshot: u32, link: Link) -> Rec {
        let (secs, frac) = (b.ts_sec as i32, b.ts_usec as i32);
        let micros = if nanos { frac / 1000 } else { frac };
        Rec {
            ts_us: timestamp_us(i64::from(secs), i64::from(micros)),
            at: self.input.pos + offset_in(self.input.bytes(), b.data),
            len: b.data.len().min(snapshot as usize),
            wire_len: b.origlen,
            link,
            end: self.input.end - rest,
        }
    }

    /// The next pcapng packet, past the blocks that describe interfaces or carry no packet.
    fn next_pcapng(&mut self) -> Result<Option<Rec>, String> {
        loop {
            let Some((t, total, be)) = self.block()? else { return Ok(None) };
            let Format::PcapNg { big_endian, ifaces } = &mut self.format else { return Ok(None) };
            let base = self.input.bytes();
            let bytes = base.get(..total).unwrap_or_default();
            let damaged = || format!("a damaged pcapng block of type {t}");
            let iface = |ifaces: &[Iface], id: u32| {
                ifaces.get(id as usize).copied().ok_or_else(|| {
                    format!(
                        "a packet arrived on interface {id}, but there's no Interface Description Block for that interface"
                    )
                })
            };
            // (interface, captured length, length on the wire, data, timestamp)
            let (ifc, caplen, wire_len, data, ts): (Iface, u32, u32, &[u8], u64) = match t {
                SHB_MAGIC => {
                    let (_, shb) = parse_sectionheaderblock(bytes).map_err(|_| damaged())?;
                    if shb.major_version != 1 {
                        return Err(format!(
                            "unknown pcapng savefile major version number {}",
                            shb.major_version
                        ));
                    }
                    *big_endian = be;
                    ifaces.clear();
                    self.input.consume(total);
                    continue;
                }
                IDB_MAGIC => {
                    let parsed = if be {
                        parse_interfacedescriptionblock_be(bytes)
                    } else {
                        parse_interfacedescriptionblock_le(bytes)
                    };
                    let (_, idb) = parsed.map_err(|_| damaged())?;
                    // The file decides how many interfaces a section declares: bounded, so a
                    // file of interface blocks cannot grow the table without end.
                    if ifaces.len() >= MAX_IFACES {
                        return Err(format!(
                            "more than {MAX_IFACES} interfaces in one pcapng section: the file is damaged"
                        ));
                    }
                    ifaces.push(Iface::new(&idb, be)?);
                    self.input.consume(total);
                    continue;
                }
                EPB_MAGIC => {
                    let parsed = if be {
                        parse_enhancedpacketblock_be(bytes)
                    } else {
                        parse_enhancedpacketblock_le(bytes)
                    };
                    let (_, epb) = parsed.map_err(|_| damaged())?;
                    let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    (iface(ifaces, epb.if_id)?, epb.caplen, epb.origlen, epb.data, ts)
                }
                SPB_MAGIC => {
                    let parsed = if be {
                        parse_simplepacketblock_be(bytes)
                    } else {
                        parse_simplepacketblock_le(bytes)
                    };
                    let (_, spb) = parsed.map_err(|_| damaged())?;
                    // No captured length and no timestamp: the first interface's snapshot
                    // length bounds it, and its time is the interface's offset.
                    let ifc = iface(ifaces, 0)?;
                    (ifc, spb.origlen.min(ifc.snapshot), spb.origlen, spb.data, 0)
                }
                PB_MAGIC => {
                    // The obsolete Packet Block, which pcap-parser does not parse: interface
                    // (16 bits), drops (16), timestamp (2 x 32), captured and wire lengths.
                    let body = bytes.get(8..total - 4).ok_or_else(damaged)?;
                    let word = |i: usize| -> Result<u32, String> {
                        let w: [u8; 4] =
                            body.get(i..i + 4).and_then(|s| s.try_into().ok()).ok_or_else(damaged)?;
                        Ok(if be { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
                    };
                    let id = word(0)?;
                    let id = if be { id >> 16 } else { id & 0xffff };
                    let ts = (u64::from(word(4)?) << 32) | u64::from(word(8)?);
                    let data = body.get(20..).unwrap_or_default();
                    (iface(ifaces, id)?, word(12)?, word(16)?, data, ts)
                }
                _ => {
                    self.input.consume(total);
                    continue;
                }
            };
            if caplen > ifc.snapshot {
                return Err(format!(
                    "invalid packet capture length {caplen}, bigger than snaplen of {}",
                    ifc.snapshot
                ));
            }
            let Some(data) = data.get(..caplen as usize) else {
                return Err(format!("block of type {t} in pcapng dump file is too short"));
            };
            let at = self.input.pos + offset_in(base, data);
            let end = self.input.pos + total;
            return Ok(Some(Rec {
                ts_us: ifc.ts_us(ts),
                at,
                len: data.len(),
                wire_len,
                link: ifc.link,
                end,
            }));
        }
    }

    /// The next frame, or the end with what was damaged (libpcap's words where it has them).
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        let rec = match self.format {
            Format::Pcap { parse, big_endian, nanos, snapshot, link } => {
                match self.whole_pcap_record(big_endian, nanos, snapshot, link) {
                    Some(rec) => Some(rec),
                    None => self.next_pcap(parse, nanos, snapshot, link)?,
                }
            }
            Format::PcapNg { .. } => self.next_pcapng()?,
        };
        let Some(r) = rec else { return Ok(None) };
        self.input.pos = r.end;
        self.no += 1;
        let chunk = &self.input.chunk;
        Ok(Some(Frame {
            no: self.no,
            ts_us: r.ts_us,
            data: chunk.get(r.at..r.at + r.len).unwrap_or_default(),
            wire_len: r.wire_len,
            link: r.link,
            shared: Some((chunk, r.at)),
        }))
    }
}

/// The result of [`Records::next_frame`] as a source gives it.
pub(crate) fn as_next(r: Result<Option<Frame<'_>>, String>) -> Next<'_> {
    match r {
        Ok(Some(f)) => Next::Frame(f),
        Ok(None) => Next::End(None),
        Err(w) => Next::End(Some(w)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::path::{Path, PathBuf};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    /// A frame as a test compares it.
    type Seen = (u64, i64, Vec<u8>, u32, Link);

    /// Every frame of `path` as this reader gives it, and whether it ended damaged.
    fn ours(path: &Path) -> Option<(Vec<Seen>, Option<String>)> {
        let (mut r, _) = Records::open(File::open(path).ok()?)?;
        let mut seen = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Some(f)) => seen.push((f.no, f.ts_us, f.data.to_vec(), f.wire_len, f.link)),
                Ok(None) => return Some((seen, None)),
                Err(w) => return Some((seen, Some(w))),
            }
        }
    }

    /// The same through libpcap.
    fn libpcap(path: &Path) -> Option<(Vec<Seen>, Option<String>)> {
        let mut cap = pcap::Capture::from_file(path).ok()?;
        let link = Link::from_linktype(cap.get_datalink().0)?;
        let mut seen = Vec::new();
        loop {
            match cap.next_packet() {
                Ok(p) => {
                    let ts = timestamp_us(p.header.ts.tv_sec, p.header.ts.tv_usec);
                    seen.push((seen.len() as u64 + 1, ts, p.data.to_vec(), p.header.len, link));
                }
                Err(pcap::Error::NoMorePackets) => return Some((seen, None)),
                Err(e) => return Some((seen, Some(e.to_string()))),
            }
        }
    }

    fn same_as_libpcap(path: &Path) {
        let (a, a_end) = ours(path).unwrap_or_else(|| panic!("{}: not read", path.display()));
        let (b, b_end) =
            libpcap(path).unwrap_or_else(|| panic!("{}: libpcap did not read it", path.display()));
        assert_eq!(a.len(), b.len(), "{}", path.display());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{}: frame {}", path.display(), x.0);
        }
        // libpcap's words, without its prefix.
        assert_eq!(a_end.map(|w| format!("libpcap error: {w}")), b_end, "{}", path.display());
    }

    #[test]
    fn every_fixture_reads_as_through_libpcap() {
        let mut n = 0;
        for e in std::fs::read_dir(fixtures()).expect("fixtures") {
            let path = e.expect("entry").path();
            if !matches!(path.extension().and_then(|x| x.to_str()), Some("pcap" | "pcapng")) {
                continue;
            }
            if libpcap(&path).is_none() {
                assert!(ours(&path).is_none(), "{}: libpcap cannot read it", path.display());
                continue;
            }
            same_as_libpcap(&path);
            n += 1;
        }
        assert!(n >= 30, "only {n} fixtures");
    }

    /// The frames of a fixture: (seconds, microseconds, captured bytes, wire length).
    fn frames_of(name: &str) -> Vec<(u32, u32, Vec<u8>, u32)> {
        let mut cap = pcap::Capture::from_file(fixtures().join(name)).expect("fixture");
        let mut out = Vec::new();
        while let Ok(p) = cap.next_packet() {
            out.push((p.header.ts.tv_sec as u32, p.header.ts.tv_usec as u32, p.data.to_vec(), p.header.len));
        }
        out
    }

    fn put32(b: &mut Vec<u8>, v: u32, be: bool) {
        b.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn put16(b: &mut Vec<u8>, v: u16, be: bool) {
        b.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    /// A classic pcap file: `nanos` stores the sub-second part in nanoseconds.
    fn pcap_file(
        frames: &[(u32, u32, Vec<u8>, u32)],
        be: bool,
        nanos: bool,
        snaplen: u32,
        link: u32,
    ) -> Vec<u8> {
        let mut b = Vec::new();
        put32(&mut b, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be);
        put16(&mut b, 2, be);
        put16(&mut b, 4, be);
        put32(&mut b, 0, be);
        put32(&mut b, 0, be);
        put32(&mut b, snaplen, be);
        put32(&mut b, link, be);
        for (s, us, data, len) in frames {
            put32(&mut b, *s, be);
            put32(&mut b, if nanos { us * 1000 + 999 } else { *us }, be);
            put32(&mut b, data.len() as u32, be);
            put32(&mut b, *len, be);
            b.extend_from_slice(data);
        }
        b
    }

    fn block(b: &mut Vec<u8>, t: u32, body: &[u8], be: bool) {
        let total = 12 + body.len().next_multiple_of(4);
        put32(b, t, be);
        put32(b, total as u32, be);
        b.extend_from_slice(body);
        b.resize(b.len() + body.len().next_multiple_of(4) - body.len(), 0);
        put32(b, total as u32, be);
    }

    /// An interface: link type, snap length, and the raw if_tsresol and if_tsoffset options.
    struct Idb {
        link: u16,
        tsresol: Option<u8>,
        tsoffset: Option<u64>,
    }

    /// A pcapng file: one section, the interfaces, then the frames as EPBs on the interface
    /// `iface(i)` picks, their timestamps in that interface's units.
    fn pcapng_file(
        frames: &[(u32, u32, Vec<u8>, u32)],
        be: bool,
        idbs: &[Idb],
        iface: impl Fn(usize) -> usize,
        strip: impl Fn(usize, &[u8]) -> Vec<u8>,
    ) -> Vec<u8> {
        let mut b = Vec::new();
        let mut shb = Vec::new();
        put32(&mut shb, BOM_MAGIC, be);
        put16(&mut shb, 1, be);
        put16(&mut shb, 0, be);
        shb.extend_from_slice(&[0xff; 8]);
        block(&mut b, SHB_MAGIC, &shb, be);
        for i in idbs {
            let mut idb = Vec::new();
            put16(&mut idb, i.link, be);
            put16(&mut idb, 0, be);
            put32(&mut idb, 0, be);
            if let Some(r) = i.tsresol {
                put16(&mut idb, 9, be);
                put16(&mut idb, 1, be);
                idb.extend_from_slice(&[r, 0, 0, 0]);
            }
            if let Some(o) = i.tsoffset {
                put16(&mut idb, 14, be);
                put16(&mut idb, 8, be);
                idb.extend_from_slice(&if be { o.to_be_bytes() } else { o.to_le_bytes() });
            }
            put32(&mut idb, 0, be);
            block(&mut b, IDB_MAGIC, &idb, be);
        }
        for (k, (s, us, data, len)) in frames.iter().enumerate() {
            let i = iface(k);
            let idb = &idbs[i];
            let offset = idb.tsoffset.unwrap_or(0);
            let secs = u64::from(*s) - offset;
            let t: u128 = match idb.tsresol.unwrap_or(6) {
                r if r & 0x80 != 0 => {
                    (u128::from(secs) << (r & 0x7f)) + (u128::from(*us) << (r & 0x7f)).div_ceil(1_000_000)
                }
                r => {
                    let per = 10u128.pow(u32::from(r));
                    u128::from(secs) * per + u128::from(*us) * per / 1_000_000
                }
            };
            let t = t as u64;
            let kept = strip(i, data);
            let wire = len - (data.len() - kept.len()) as u32;
            let data = kept;
            let mut epb = Vec::new();
            put32(&mut epb, i as u32, be);
            put32(&mut epb, (t >> 32) as u32, be);
            put32(&mut epb, t as u32, be);
            put32(&mut epb, data.len() as u32, be);
            put32(&mut epb, wire, be);
            epb.extend_from_slice(&data);
            block(&mut b, EPB_MAGIC, &epb, be);
        }
        b
    }

    fn temp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        f
    }

    #[test]
    fn byte_order_nanoseconds_and_snap_lengths_read_as_through_libpcap() {
        let frames = frames_of("lettuce_16.pcap");
        for be in [false, true] {
            for nanos in [false, true] {
                for snaplen in [0, 65535, 100] {
                    let f = temp(&pcap_file(&frames, be, nanos, snaplen, 1));
                    same_as_libpcap(f.path());
                }
            }
        }
    }

    #[test]
    fn pcapng_resolutions_and_offsets_read_as_through_libpcap() {
        let frames = frames_of("lettuce_16.pcap");
        for be in [false, true] {
            for tsresol in [None, Some(9), Some(3), Some(0x80 | 20), Some(0x80 | 10), Some(19)] {
                for tsoffset in [None, Some(1_000)] {
                    let idbs = [Idb { link: 1, tsresol, tsoffset }];
                    let f = temp(&pcapng_file(&frames, be, &idbs, |_| 0, |_, d| d.to_vec()));
                    same_as_libpcap(f.path());
                }
            }
        }
    }

    #[test]
    fn a_pcapng_file_may_mix_link_types_and_each_frame_keeps_its_own() {
        let frames = frames_of("lettuce_16.pcap");
        let idbs = [
            Idb { link: 1, tsresol: None, tsoffset: None },
            Idb { link: 101, tsresol: Some(9), tsoffset: None },
            Idb { link: 147, tsresol: None, tsoffset: None },
        ];
        // Even frames on Ethernet, odd ones as raw IP; none on the undecoded interface.
        let bytes = pcapng_file(
            &frames,
            false,
            &idbs,
            |k| k % 2,
            |i, d| if i == 1 { d[14..].to_vec() } else { d.to_vec() },
        );
        let f = temp(&bytes);
        let (seen, end) = ours(f.path()).expect("read");
        assert_eq!(end, None);
        assert_eq!(seen.len(), frames.len());
        for (k, ((_, ts, data, _, link), (s, us, orig, _))) in seen.iter().zip(&frames).enumerate() {
            assert_eq!(*ts, timestamp_us(i64::from(*s), i64::from(*us)), "frame {k}");
            let (want_link, want_data) =
                if k % 2 == 1 { (Link::Raw, &orig[14..]) } else { (Link::Ethernet, &orig[..]) };
            assert_eq!((*link, &data[..]), (want_link, want_data), "frame {k}");
            let a = super::super::decode(*link, data).expect("tcp");
            let b = super::super::decode(Link::Ethernet, orig).expect("tcp");
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        // The same conversation as the pcap file, whatever interface each frame came in on.
        let cfg = crate::analysis::wire::WireConfig::default();
        let mixed = crate::engine::analyze_file(f.path(), cfg.clone(), None).expect("mixed").report();
        let plain = crate::engine::analyze_file(&fixtures().join("lettuce_16.pcap"), cfg, None)
            .expect("plain")
            .report();
        assert_eq!(
            serde_json::to_string(&mixed.totals).expect("json"),
            serde_json::to_string(&plain.totals).expect("json")
        );
        assert_eq!(mixed.capture.packets, plain.capture.packets);

        // A frame on an interface of a link type respscope does not decode is counted, not
        // decoded.
        let bytes = pcapng_file(&frames, false, &idbs, |k| if k == 3 { 2 } else { 0 }, |_, d| d.to_vec());
        let (seen, end) = ours(temp(&bytes).path()).expect("read");
        assert_eq!((seen.len(), end), (frames.len(), None));
        assert_eq!(seen[3].4, Link::Other(147));
    }

    #[test]
    fn a_file_cut_mid_record_ends_with_libpcap_words_and_keeps_what_came_before() {
        let whole = std::fs::read(fixtures().join("lettuce_16.pcap")).expect("fixture");
        for cut in [whole.len() - 1, whole.len() - 40, 24 + 8] {
            let f = temp(&whole[..cut]);
            same_as_libpcap(f.path());
        }
        let frames = frames_of("lettuce_16.pcap");
        let ng = pcapng_file(
            &frames,
            false,
            &[Idb { link: 1, tsresol: None, tsoffset: None }],
            |_| 0,
            |_, d| d.to_vec(),
        );
        for cut in [ng.len() - 1, ng.len() - 30, ng.len() - 150] {
            let f = temp(&ng[..cut]);
            let (seen, end) = ours(f.path()).expect("read");
            assert!(seen.len() < frames.len());
            assert!(
                end.as_deref().is_some_and(|w| w.starts_with("truncated pcapng dump file")),
                "{cut} {} {}: {end:?}",
                seen.len(),
                frames.len()
            );
            same_as_libpcap(f.path());
        }
    }

    #[test]
    fn lengths_that_lie_end_the_read_and_never_size_an_allocation() {
        let frames = frames_of("lettuce_16.pcap");
        // A pcap record claiming 4 GB, then more bytes: damage at that record.
        let mut b = pcap_file(&frames[..3], false, false, 0, 1);
        let at = b.len();
        b.extend_from_slice(&pcap_file(&frames[3..4], false, false, 0, 1)[24..]);
        b[at + 8..at + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let f = temp(&b);
        let (seen, end) = ours(f.path()).expect("read");
        assert_eq!(seen.len(), 3);
        assert!(
            end.as_deref().is_some_and(|w| w.starts_with("invalid packet capture length 4294967280")),
            "{end:?}"
        );
        same_as_libpcap(f.path());
        // A pcapng block claiming 4 GB, and one claiming more than the 16 MiB cap.
        for total in [0xffff_fff0u32, (MAX_BLOCK + 4) as u32] {
            let mut ng = pcapng_file(
                &frames[..3],
                false,
                &[Idb { link: 1, tsresol: None, tsoffset: None }],
                |_| 0,
                |_, d| d.to_vec(),
            );
            let at = ng.len();
            ng.extend_from_slice(&[6, 0, 0, 0]);
            ng.extend_from_slice(&total.to_le_bytes());
            ng.extend_from_slice(&[0; 64]);
            let (seen, end) = ours(temp(&ng).path()).expect("read");
            assert_eq!(seen.len(), 3);
            assert_eq!(end, Some(format!("pcapng block size {total} > maximum {MAX_BLOCK}")), "{at}");
        }
    }

    #[test]
    fn what_this_reader_does_not_take_is_left_to_libpcap() {
        let frames = frames_of("lettuce_16.pcap");
        // pcap 2.3, the "modified" format, a link type respscope does not decode.
        let mut old = pcap_file(&frames, false, false, 0, 1);
        old[6] = 3;
        assert!(ours(temp(&old).path()).is_none());
        let mut modified = pcap_file(&frames[..0], false, false, 0, 1);
        modified[..4].copy_from_slice(&0xa1b2_cd34u32.to_le_bytes());
        assert!(ours(temp(&modified).path()).is_none());
        assert!(ours(temp(&pcap_file(&frames, false, false, 0, 147)).path()).is_none());
        assert!(ours(&fixtures().join("not_a_capture.pcap")).is_none());
        assert!(ours(temp(b"").path()).is_none());
    }
}
