//! One direction's TCP reassembly fed arbitrary segments.
//!
//! Input layout: 4 bytes of initial sequence number, then segments: a flags byte (bit 0 SYN,
//! bit 1 FIN, bit 2 an absolute 4-byte sequence number follows instead of a 2-byte signed
//! offset from the ISN, bit 3 a 2-byte length follows instead of a 1-byte one), the sequence
//! field, the length field, then that many payload bytes (fewer at the end of the input).
//!
//! Checked against a model of the documented invariants: deliveries (data and gaps) tile the
//! stream from offset 0 with no overlap and no hole, each delivered byte is the byte its
//! first carrier had at that offset and is owned by that carrier, no byte any segment carried
//! is declared a gap, and each segment's return value counts the bytes it carried first.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use respscope::analysis::tcp::reassembly::MAX_AHEAD_BYTES;
use respscope::analysis::tcp::{seq, Delivery, Reassembler};

struct Segment<'a> {
    seq: u32,
    syn: bool,
    fin: bool,
    payload: &'a [u8],
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (a, b) = data.split_at(n);
    *data = b;
    Some(a)
}

fn segments(mut data: &[u8]) -> Option<(u32, Vec<Segment<'_>>)> {
    let isn = u32::from_be_bytes(take(&mut data, 4)?.try_into().ok()?);
    let mut segs = Vec::new();
    while let Some(&[flags]) = take(&mut data, 1) {
        let seq = if flags & 4 != 0 {
            let Some(b) = take(&mut data, 4) else { break };
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            let Some(b) = take(&mut data, 2) else { break };
            isn.wrapping_add(i32::from(i16::from_be_bytes([b[0], b[1]])) as u32)
        };
        let len = if flags & 8 != 0 {
            let Some(b) = take(&mut data, 2) else { break };
            usize::from(u16::from_be_bytes([b[0], b[1]]))
        } else {
            let Some(b) = take(&mut data, 1) else { break };
            usize::from(b[0])
        };
        let len = len.min(data.len());
        let payload = take(&mut data, len).unwrap_or_default();
        segs.push(Segment { seq, syn: flags & 1 != 0, fin: flags & 2 != 0, payload });
    }
    Some((isn, segs))
}

/// What the reassembler handed on, checked as it arrives.
struct Sink {
    /// Offset the next delivery must start at.
    next: u64,
    data: u64,
    /// Offset -> (byte, owner) of the first segment that carried it while it was still ahead.
    model: BTreeMap<u64, (u8, u32)>,
}

impl Sink {
    fn take(&mut self, d: Delivery<'_, u32>) {
        match d {
            Delivery::Data { offset, bytes, owner } => {
                assert_eq!(offset, self.next, "data not contiguous");
                assert!(!bytes.is_empty(), "empty delivery at {offset}");
                for (i, &b) in bytes.iter().enumerate() {
                    let o = offset + i as u64;
                    let Some(&(mb, mo)) = self.model.get(&o) else {
                        panic!("byte at {o} delivered but never carried");
                    };
                    assert_eq!((b, owner), (mb, mo), "byte at {o}: delivered (byte, owner) vs first carrier");
                }
                self.next += bytes.len() as u64;
                self.data += bytes.len() as u64;
            }
            Delivery::Gap { offset, len } => {
                assert_eq!(offset, self.next, "gap not contiguous");
                assert!(len > 0, "empty gap at {offset}");
                let end = offset.checked_add(len).expect("gap end fits in u64");
                assert!(self.model.range(offset..end).next().is_none(), "gap [{offset}, {end}) over carried bytes");
                self.next = end;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((_, segs)) = segments(data) else { return };
    let mut r: Reassembler<u32> = Reassembler::default();
    let mut sink = Sink { next: 0, data: 0, model: BTreeMap::new() };
    let mut base: Option<u32> = None;
    let mut first_carried = 0u64;
    for (i, s) in segs.iter().enumerate() {
        let owner = i as u32;
        let data_seq = if s.syn { s.seq.wrapping_add(1) } else { s.seq };
        let next = r.next_offset();
        // The model mirrors the documented rule for where offset 0 is: the first segment with
        // a SYN, a FIN or data fixes it; a bare ACK does not.
        if base.is_none() && (s.syn || s.fin || !s.payload.is_empty()) {
            base = Some(data_seq);
        }
        let mut new = 0u64;
        if let Some(off) = base.and_then(|b| seq::offset_near(data_seq, b, next)) {
            for (k, &byte) in s.payload.iter().enumerate() {
                let o = off + k as u64;
                if o >= next && !sink.model.contains_key(&o) {
                    sink.model.insert(o, (byte, owner));
                    new += 1;
                }
            }
        }
        let got = r.segment(s.seq, s.syn, s.fin, s.payload, owner, &mut |d| sink.take(d));
        assert_eq!(got, new, "segment {i}: bytes carried first");
        first_carried += got;
        assert_eq!(r.next_offset(), sink.next, "next offset vs deliveries");
        assert!(r.held_bytes() <= MAX_AHEAD_BYTES);
        assert_eq!(r.started(), base.is_some());
    }
    r.finish(&mut |d| sink.take(d));
    assert_eq!(r.held_bytes(), 0, "bytes still held after finish");
    assert_eq!(r.next_offset(), sink.next);
    assert_eq!(sink.data, first_carried, "every byte carried first is delivered once");
});
