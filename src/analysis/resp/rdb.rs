//! The RDB file a master sends a replica after `+FULLRESYNC` (or as `SYNC`'s answer): not a
//! RESP value, though it starts like one. `$<len>\r\n` and exactly that many bytes with no
//! CRLF after them, or, with diskless replication, `$EOF:<40-byte mark>\r\n` and bytes up to
//! the same mark. Before it the master may send bare newlines to keep the link alive while it
//! prepares the file. Skipped by length or searched for its mark; never stored.

use crate::protocol::resp::InlineBytes;

/// Length of the end mark of a diskless transfer.
pub const MARK_LEN: usize = 40;

/// Longest header line accepted (`$EOF:` and the mark, or a length, and CRLF).
const HEADER_CAP: usize = 64;

/// Where the transfer stands.
#[derive(Debug)]
enum Phase {
    /// Reading the header line.
    Header(InlineBytes<HEADER_CAP>),
    /// Skipping the body by its length.
    Body { left: u64 },
    /// Looking for the end mark; `tail` holds the last bytes seen, fewer than the mark.
    Eof { mark: [u8; MARK_LEN], tail: InlineBytes<MARK_LEN> },
}

/// An RDB transfer in progress, with the owner of its first byte.
///
/// Invariant: `start` is set exactly when the header's first byte has been seen; `pos` is the
/// stream offset of the next byte.
#[derive(Debug)]
pub struct Rdb<O> {
    phase: Phase,
    /// Stream offset of the `$`, and the owner of that byte.
    pub start: Option<(u64, O)>,
    /// Stream offset of the next byte.
    pub pos: u64,
}

/// What one chunk did to the transfer.
pub enum RdbStep {
    /// The transfer goes on; the whole chunk was taken.
    More,
    /// The transfer ended after this many bytes of the chunk.
    Done {
        /// Bytes of the chunk it took.
        used: usize,
        /// It was ended by a mark (diskless).
        diskless: bool,
    },
    /// The header is not an RDB's: parsing resumes after this many bytes.
    Bad(usize),
}

impl<O: Copy> Rdb<O> {
    /// A transfer whose first byte is at stream offset `pos`.
    pub fn new(pos: u64) -> Self {
        Rdb { phase: Phase::Header(InlineBytes::default()), start: None, pos }
    }

    /// Takes the next contiguous chunk.
    pub fn step(&mut self, data: &[u8], owner: O) -> RdbStep {
        let mut i = 0;
        loop {
            match &mut self.phase {
                Phase::Header(line) => {
                    // Keep-alive newlines before the file are part of the answer, not of it.
                    while line.is_empty() && data.get(i) == Some(&b'\n') {
                        i += 1;
                    }
                    if i == data.len() {
                        self.pos += i as u64;
                        return RdbStep::More;
                    }
                    if line.is_empty() {
                        self.start = Some((self.pos + i as u64, owner));
                    }
                    let rest = &data[i..];
                    let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
                    if line.push(&rest[..end]) < end {
                        self.pos += i as u64;
                        return RdbStep::Bad(i);
                    }
                    i += end;
                    if line.as_bytes().last() != Some(&b'\n') {
                        self.pos += i as u64;
                        return RdbStep::More;
                    }
                    self.phase = match parse_header(line.as_bytes()) {
                        Some(Header::Length(left)) => Phase::Body { left },
                        Some(Header::Mark(mark)) => Phase::Eof { mark, tail: InlineBytes::default() },
                        None => {
                            self.pos += i as u64;
                            return RdbStep::Bad(i);
                        }
                    };
                }
                Phase::Body { left } => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len() - i);
                    i += take;
                    *left -= take as u64;
                    self.pos += i as u64;
                    if *left == 0 {
                        return RdbStep::Done { used: i, diskless: false };
                    }
                    return RdbStep::More;
                }
                Phase::Eof { mark, tail } => {
                    let rest = &data[i..];
                    // The mark may straddle the previous chunk and this one.
                    let mut joined = [0u8; 2 * MARK_LEN];
                    let t = tail.len();
                    joined[..t].copy_from_slice(tail.as_bytes());
                    let k = rest.len().min(MARK_LEN - 1);
                    joined[t..t + k].copy_from_slice(&rest[..k]);
                    let found = memchr::memmem::find(&joined[..t + k], mark.as_slice())
                        .map(|p| p + MARK_LEN - t)
                        .or_else(|| memchr::memmem::find(rest, mark.as_slice()).map(|p| p + MARK_LEN));
                    if let Some(end) = found {
                        i += end;
                        self.pos += i as u64;
                        return RdbStep::Done { used: i, diskless: true };
                    }
                    let mut last = [0u8; 2 * MARK_LEN];
                    let keep = MARK_LEN - 1;
                    let all = t + rest.len();
                    let n = all.min(keep);
                    // The last `n` bytes of tail followed by rest.
                    for (j, slot) in last.iter_mut().take(n).enumerate() {
                        let idx = all - n + j;
                        *slot = if idx < t { tail.as_bytes()[idx] } else { rest[idx - t] };
                    }
                    let mut nt = InlineBytes::default();
                    nt.push(&last[..n]);
                    *tail = nt;
                    self.pos += data.len() as u64;
                    return RdbStep::More;
                }
            }
        }
    }

    /// Bytes `[pos, pos + len)` were never captured. Returns false when the transfer can no
    /// longer be followed (its header or its end is lost).
    pub fn gap(&mut self, len: u64) -> bool {
        self.pos += len;
        match &mut self.phase {
            Phase::Body { left } if len < *left => {
                *left -= len;
                true
            }
            Phase::Eof { tail, .. } => {
                *tail = InlineBytes::default();
                true
            }
            _ => false,
        }
    }
}

enum Header {
    Length(u64),
    Mark([u8; MARK_LEN]),
}

/// `$<digits>\r\n` or `$EOF:<40 bytes>\r\n`.
fn parse_header(line: &[u8]) -> Option<Header> {
    let body = line.strip_prefix(b"$")?.strip_suffix(b"\r\n")?;
    if let Some(mark) = body.strip_prefix(b"EOF:") {
        return mark.try_into().ok().map(Header::Mark);
    }
    if body.is_empty() || body.len() > 19 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(body).ok()?.parse().ok().map(Header::Length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<(usize, usize, bool)> {
        let mut r: Rdb<usize> = Rdb::new(0);
        let mut out = Vec::new();
        for (k, c) in chunks.iter().enumerate() {
            match r.step(c, k) {
                RdbStep::More => {}
                RdbStep::Done { used, diskless } => out.push((k, used, diskless)),
                RdbStep::Bad(used) => out.push((k, used, false)),
            }
        }
        out
    }

    #[test]
    fn a_length_is_skipped_without_a_crlf_after_it() {
        assert_eq!(run(&[b"\n\n$5\r\nREDIS*1\r\n"]), [(0, 11, false)]);
        assert_eq!(run(&[b"$5\r", b"\nRE", b"DIS+"]), [(2, 3, false)]);
    }

    #[test]
    fn a_diskless_transfer_ends_at_its_mark_even_across_chunks() {
        let mark = [b'm'; MARK_LEN];
        let mut all = b"$EOF:".to_vec();
        all.extend_from_slice(&mark);
        all.extend_from_slice(b"\r\nREDIS0009 data");
        all.extend_from_slice(&mark);
        all.extend_from_slice(b"*1\r\n");
        let whole = run(&[&all]);
        assert_eq!(whole, [(0, all.len() - 4, true)]);
        for cut in 1..all.len() {
            let got = run(&[&all[..cut], &all[cut..]]);
            assert_eq!(got.len(), 1, "cut at {cut}");
            let (k, used, diskless) = got[0];
            let end = if k == 0 { used } else { cut + used };
            assert_eq!((end, diskless), (all.len() - 4, true), "cut at {cut}");
        }
    }

    #[test]
    fn anything_else_is_not_an_rdb() {
        assert_eq!(run(&[b"+OK\r\n"]), [(0, 5, false)]);
        assert_eq!(run(&[b"$-1\r\n"]), [(0, 5, false)]);
    }
}
