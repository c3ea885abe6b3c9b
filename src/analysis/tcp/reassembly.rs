//! Per-direction TCP reassembly: segments in capture order in, contiguous bytes out.
//!
//! In-order data, the common case, is handed on straight from the packet with no copy. Only
//! segments that arrive ahead of a hole are copied, into a bounded out-of-order store.
//!
//! Invariants:
//! - `next` is the stream offset of the first byte not yet delivered; every byte before it
//!   was delivered exactly once or declared lost in a [`Delivery::Gap`].
//! - Entries of `ahead` start after `next`, never overlap, and hold bytes not yet delivered;
//!   each keeps the owner of the segment that carried it first (retransmitted bytes count
//!   once, owned by their first carrier).
//! - `ahead_bytes <= MAX_AHEAD_BYTES` and `ahead.len() <= MAX_AHEAD_SEGMENTS` after every
//!   call: beyond either, the oldest hole is declared a gap rather than growing.

use std::collections::BTreeMap;

use super::seq;

/// Bytes held ahead of a hole per direction before the hole is given up as a gap.
pub const MAX_AHEAD_BYTES: usize = 4 * 1024 * 1024;
/// Segments held ahead of a hole per direction before the hole is given up as a gap.
pub const MAX_AHEAD_SEGMENTS: usize = 1024;

/// What reassembly hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a, O> {
    /// Contiguous bytes starting at `offset`.
    Data {
        /// Stream offset of `bytes[0]`.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
        /// The segment that first carried them.
        owner: O,
    },
    /// Bytes `[offset, offset + len)` were never captured.
    Gap {
        /// Stream offset of the first missing byte.
        offset: u64,
        /// Number of missing bytes.
        len: u64,
    },
}

/// Reassembler for one direction of one connection.
#[derive(Debug)]
pub struct Reassembler<O> {
    /// Sequence number of stream offset 0; `None` until the direction's start is known.
    base: Option<u32>,
    next: u64,
    ahead: BTreeMap<u64, (Vec<u8>, O)>,
    ahead_bytes: usize,
    fin: Option<u64>,
    /// True when the stream was joined without its SYN (the capture started mid-connection).
    pub joined: bool,
    /// Payload bytes carried again after they were first seen.
    pub duplicate_bytes: u64,
}

impl<O: Copy> Default for Reassembler<O> {
    fn default() -> Self {
        Reassembler {
            base: None,
            next: 0,
            ahead: BTreeMap::new(),
            ahead_bytes: 0,
            fin: None,
            joined: false,
            duplicate_bytes: 0,
        }
    }
}

impl<O: Copy> Reassembler<O> {
    /// Stream offset of the next byte to deliver.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// True once the stream's start is known.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// Takes one segment. `payload` holds the captured bytes; a truncated capture may hold
    /// fewer than the segment carried, and the missing tail is simply never delivered.
    /// Returns the number of bytes this segment carried first (not seen before).
    pub fn segment(
        &mut self,
        seq_no: u32,
        syn: bool,
        fin: bool,
        payload: &[u8],
        owner: O,
        out: &mut impl FnMut(Delivery<'_, O>),
    ) -> u64 {
        let data_seq = if syn { seq_no.wrapping_add(1) } else { seq_no };
        let base = match self.base {
            Some(b) => b,
            None => {
                if !syn && payload.is_empty() && !fin {
                    // A bare ACK says nothing about where this side's data starts.
                    return 0;
                }
                self.joined = !syn;
                self.base = Some(data_seq);
                data_seq
            }
        };
        let Some(off) = seq::offset_near(data_seq, base, self.next) else {
            // Before the stream's start: an old retransmission from before we joined.
            self.duplicate_bytes += payload.len() as u64;
            return 0;
        };
        let end = off + payload.len() as u64;
        if fin {
            self.fin = Some(self.fin.map_or(end, |f| f.max(end)));
        }
        if payload.is_empty() || end <= self.next {
            self.duplicate_bytes += payload.len() as u64;
            return 0;
        }
        if off <= self.next && self.ahead.is_empty() {
            // In order with nothing held (nearly every segment): what the loop below does,
            // without looking for held entries.
            self.duplicate_bytes += self.next - off;
            let from = (self.next - off) as usize;
            out(Delivery::Data { offset: self.next, bytes: &payload[from..], owner });
            let new = end - self.next;
            self.next = end;
            return new;
        }
        if off <= self.next {
            // Deliver this segment's bytes up to each held entry, then the entry itself with
            // its own (earlier) owner, and so on: a byte is always owned by its first carrier.
            let mut new = 0;
            self.duplicate_bytes += self.next - off;
            while self.next < end {
                let limit = self.ahead.first_key_value().map_or(end, |(&k, _)| k.min(end));
                if limit > self.next {
                    let from = (self.next - off) as usize;
                    let to = (limit - off) as usize;
                    out(Delivery::Data { offset: self.next, bytes: &payload[from..to], owner });
                    new += limit - self.next;
                    self.next = limit;
                }
                let before = self.next;
                self.drain(out);
                self.duplicate_bytes += self.next.min(end) - before.min(end);
                if self.next == before && limit == end {
                    break;
                }
            }
            self.drain(out);
            return new;
        }
        let new = self.store_ahead(off, payload, owner);
        if self.ahead_bytes > MAX_AHEAD_BYTES || self.ahead.len() > MAX_AHEAD_SEGMENTS {
            self.skip_hole(out);
        }
        new
    }

    /// Stores the parts of `[off, off + len)` not already held; returns how many bytes that was.
    fn store_ahead(&mut self, off: u64, payload: &[u8], owner: O) -> u64 {
        let end = off + payload.len() as u64;
        // Walk existing entries that overlap [off, end) and insert the uncovered pieces.
        let mut cursor = off;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let start_key = self.ahead.range(..=off).next_back().map_or(off, |(&k, _)| k);
        for (&k, (d, _)) in self.ahead.range(start_key..end) {
            let e = k + d.len() as u64;
            if e <= cursor {
                continue;
            }
            if k > cursor {
                pieces.push((cursor, k));
            }
            cursor = cursor.max(e);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        let mut new = 0;
        for (a, b) in pieces {
            let bytes = payload[(a - off) as usize..(b - off) as usize].to_vec();
            new += b - a;
            self.ahead_bytes += bytes.len();
            self.ahead.insert(a, (bytes, owner));
        }
        self.duplicate_bytes += payload.len() as u64 - new;
        new
    }

    /// Delivers held entries that have become contiguous.
    fn drain(&mut self, out: &mut impl FnMut(Delivery<'_, O>)) {
        while let Some(entry) = self.ahead.first_entry() {
            let k = *entry.key();
            if k > self.next {
                break;
            }
            let (bytes, owner) = entry.remove();
            self.ahead_bytes -= bytes.len();
            let e = k + bytes.len() as u64;
            if e <= self.next {
                continue;
            }
            let skip = (self.next - k) as usize;
            out(Delivery::Data { offset: self.next, bytes: &bytes[skip..], owner });
            self.next = e;
        }
    }

    /// Gives up the hole before the first held entry.
    fn skip_hole(&mut self, out: &mut impl FnMut(Delivery<'_, O>)) {
        if let Some((&k, _)) = self.ahead.first_key_value() {
            if k > self.next {
                out(Delivery::Gap { offset: self.next, len: k - self.next });
                self.next = k;
            }
            self.drain(out);
        }
    }

    /// End of the capture: every hole left, including one before a FIN, is a gap.
    pub fn finish(&mut self, out: &mut impl FnMut(Delivery<'_, O>)) {
        self.give_up_holes(out);
        if let Some(f) = self.fin {
            if f > self.next && self.base.is_some() {
                out(Delivery::Gap { offset: self.next, len: f - self.next });
                self.next = f;
            }
        }
    }

    /// Bytes currently held ahead of a hole.
    pub fn held_bytes(&self) -> usize {
        self.ahead_bytes
    }

    /// Heap held, for memory budgets: the bytes and a map entry per held segment.
    pub fn heap_bytes(&self) -> usize {
        self.ahead_bytes + self.ahead.len() * (std::mem::size_of::<(u64, (Vec<u8>, O))>() + 32)
    }

    /// Gives up every hole still waited on: each is a gap, and the bytes held behind it are
    /// delivered. Used when the analyzer runs short of memory; later bytes of those holes,
    /// should they come, are duplicates.
    pub fn give_up_holes(&mut self, out: &mut impl FnMut(Delivery<'_, O>)) {
        while !self.ahead.is_empty() {
            self.skip_hole(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segs: &[(u32, &[u8])], syn_seq: Option<u32>) -> (Vec<u8>, Vec<(u64, u64)>, Vec<u32>) {
        let mut r: Reassembler<u32> = Reassembler::default();
        let mut data = Vec::new();
        let mut gaps = Vec::new();
        let mut owners = Vec::new();
        let mut sink = |d: Delivery<'_, u32>| match d {
            Delivery::Data { bytes, owner, .. } => {
                data.extend_from_slice(bytes);
                owners.extend(std::iter::repeat_n(owner, bytes.len()));
            }
            Delivery::Gap { offset, len } => gaps.push((offset, len)),
        };
        if let Some(s) = syn_seq {
            r.segment(s, true, false, &[], 0, &mut sink);
        }
        for (i, (s, p)) in segs.iter().enumerate() {
            r.segment(*s, false, false, p, i as u32 + 1, &mut sink);
        }
        r.finish(&mut sink);
        (data, gaps, owners)
    }

    #[test]
    fn in_order_out_of_order_and_duplicates_give_each_byte_once() {
        let (d, g, o) = run(&[(1, b"abc"), (7, b"ghi"), (4, b"def"), (4, b"defg")], Some(0));
        assert_eq!(d, b"abcdefghi");
        assert!(g.is_empty());
        // First carrier owns each byte: 'g' came first with segment 2.
        assert_eq!(o, [1, 1, 1, 3, 3, 3, 2, 2, 2]);
    }

    #[test]
    fn a_hole_that_never_fills_is_a_gap_at_the_end() {
        let (d, g, _) = run(&[(1, b"ab"), (10, b"xy")], Some(0));
        assert_eq!(d, b"abxy");
        assert_eq!(g, [(2, 7)]);
    }

    #[test]
    fn data_after_the_syn_that_was_not_captured_is_a_gap() {
        let (_, g, _) = run(&[(5, b"zz")], Some(0));
        assert_eq!(g, [(0, 4)]);
    }

    #[test]
    fn sequence_wrap_is_transparent() {
        let isn = u32::MAX - 2;
        let s1 = isn.wrapping_add(1);
        let s2 = s1.wrapping_add(3);
        let (d, g, _) = run(&[(s2, b"def"), (s1, b"abc")], Some(isn));
        assert_eq!(d, b"abcdef");
        assert!(g.is_empty());
    }
}
