//! One direction's byte stream as RESP messages: owners, splits, gaps and resynchronisation.
//!
//! [`RespStream`] sits between the reassembler and the conversation. The reassembler hands it
//! contiguous chunks, each tagged with an opaque *owner* (the segment that first carried those
//! bytes). The stream reports each complete message with the owners of its first and last byte,
//! and for a message that straddled chunks, where the first cut fell.
//!
//! After a gap (bytes the capture never saw) or a parse error, nothing is guessed: the stream
//! buffers at most [`RESYNC_WINDOW`] bytes and resumes at the first line start where a whole
//! message parses. A capture that starts mid-connection begins in the same mode, without
//! counting a gap.

use super::scan::{Message, Outcome, ParseError, Preview, Role, Scanner, Token};

/// Bytes kept while looking for a point to resume after a gap or error. A candidate still
/// incomplete after this many bytes is accepted: it has parsed cleanly through 64 KiB.
pub const RESYNC_WINDOW: usize = 64 * 1024;

/// Where a command that straddled segments was first cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split<O> {
    /// Owner of the first byte.
    pub first: O,
    /// Bytes of the message in the first owner's chunk.
    pub first_bytes: u64,
    /// Token at the first cut.
    pub token: Token,
    /// Number of chunks the message spans.
    pub chunks: u32,
    /// Bytes of the message in the last chunk.
    pub last_bytes: u64,
}

/// A complete message with the owners of its first and last bytes.
#[derive(Clone, Copy, Debug)]
pub struct Found<O> {
    /// The message.
    pub msg: Message,
    /// Owner of the first byte.
    pub first: O,
    /// Owner of the last byte.
    pub last: O,
    /// Present when the first and last byte came in different chunks.
    pub split: Option<Split<O>>,
}

/// What the stream tells its consumer.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a, O> {
    /// A complete message.
    Message {
        /// The message and its owners.
        found: Found<O>,
        /// Its redacted preview (empty without previews), borrowed from the scanner so the
        /// hot path copies no display bytes.
        preview: &'a Preview,
    },
    /// The bytes at `offset` are not RESP; parsing will resume at the next message.
    ParseError {
        /// Stream offset of the offending byte.
        offset: u64,
        /// What was wrong.
        error: ParseError,
        /// Owner of the chunk in which the error was found.
        owner: O,
    },
    /// Parsing resumed at `offset` after `skipped` unparsed bytes.
    Resumed {
        /// Stream offset of the first byte of the message parsing resumed at.
        offset: u64,
        /// Bytes discarded since the gap or error.
        skipped: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Pending<O> {
    first: O,
    first_bytes: u64,
    token: Token,
    chunks: u32,
}

/// Bytes held while resynchronising, with the owner of each piece.
///
/// Invariants: `head <= buf.len() <= RESYNC_WINDOW + head`; `owners` is sorted by position and
/// its first entry is at or before `head` whenever `buf[head..]` is not empty; `base` is the
/// stream offset of `buf[head]`.
#[derive(Debug)]
struct Resync<O> {
    buf: Vec<u8>,
    head: usize,
    owners: Vec<(usize, O)>,
    base: u64,
    /// True when `buf[head]` may itself start a message (after a gap, at a capture's start,
    /// or at the line start where an error was found).
    boundary: bool,
    /// Bytes dropped since resync began.
    skipped: u64,
}

/// RESP messages of one direction, fed in stream order.
#[derive(Debug)]
pub struct RespStream<O> {
    scanner: Scanner,
    role: Role,
    previews: bool,
    pending: Option<Pending<O>>,
    resync: Option<Resync<O>>,
    /// Gaps seen (holes the capture never carried).
    pub gaps: u64,
    /// Parse errors seen.
    pub parse_errors: u64,
    /// Bytes skipped without being parsed (gap resyncs and errors).
    pub skipped_bytes: u64,
}

impl<O: Copy> RespStream<O> {
    /// A stream that starts at a message boundary (the connection's handshake was seen).
    pub fn new(role: Role, previews: bool) -> Self {
        RespStream {
            scanner: Scanner::new(role, previews),
            role,
            previews,
            pending: None,
            resync: None,
            gaps: 0,
            parse_errors: 0,
            skipped_bytes: 0,
        }
    }

    /// A stream joined mid-connection: the first bytes may be the tail of a message.
    pub fn joined(role: Role, previews: bool, offset: u64) -> Self {
        let mut s = Self::new(role, previews);
        s.scanner.reset(offset);
        s.resync = Some(Resync::new(offset, true));
        s
    }

    /// Stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        match &self.resync {
            Some(r) => r.base + r.held() as u64,
            None => self.scanner.offset(),
        }
    }

    /// True when a message has started and not completed (or bytes wait in resync).
    pub fn has_partial(&self) -> bool {
        self.scanner.in_message() || self.resync.as_ref().is_some_and(|r| r.held() > 0)
    }

    /// Bytes `[offset, offset + len)` are missing: drop any message in progress and resume at
    /// the next message after them.
    pub fn gap(&mut self, len: u64) {
        let at = self.offset() + len;
        if let Some(r) = &self.resync {
            self.skipped_bytes += r.skipped + r.held() as u64;
        }
        self.gaps += 1;
        self.pending = None;
        self.scanner.reset(at);
        self.resync = Some(Resync::new(at, true));
    }

    /// Feeds the next contiguous chunk, owned by `owner`.
    pub fn feed(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>)) {
        let mut data = data;
        while !data.is_empty() {
            if self.resync.is_some() {
                let used = self.feed_resync(data, owner, out);
                data = &data[used..];
            } else {
                let used = self.feed_normal(data, owner, out);
                data = &data[used..];
            }
        }
    }

    /// Normal parsing. Returns bytes consumed (all, unless an error switched to resync).
    fn feed_normal(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>)) -> usize {
        let chunk_start = self.scanner.offset();
        let continuing = self.scanner.in_message();
        if continuing {
            if let Some(p) = &mut self.pending {
                p.chunks += 1;
            }
        }
        let mut pos = 0;
        loop {
            let (n, outcome) = self.scanner.advance(&data[pos..]);
            pos += n;
            match outcome {
                Outcome::Message(msg) => {
                    let (first, split) = match self.pending.take() {
                        Some(p) if msg.start < chunk_start => (
                            p.first,
                            Some(Split {
                                first: p.first,
                                first_bytes: p.first_bytes,
                                token: p.token,
                                chunks: p.chunks,
                                last_bytes: msg.end - chunk_start,
                            }),
                        ),
                        _ => (owner, None),
                    };
                    out(&Event::Message {
                        found: Found { msg, first, last: owner, split },
                        preview: self.scanner.preview(),
                    });
                }
                Outcome::Incomplete => {
                    if self.scanner.in_message() && self.pending.is_none() {
                        let start = self.scanner.message_start();
                        self.pending = Some(Pending {
                            first: owner,
                            first_bytes: self.scanner.offset() - start,
                            token: self.scanner.token(),
                            chunks: 1,
                        });
                    }
                    return pos;
                }
                Outcome::Error(error) => {
                    let offset = self.scanner.offset();
                    self.parse_errors += 1;
                    out(&Event::ParseError { offset, error, owner });
                    self.pending = None;
                    // A value that cannot start here stands at a line start and may itself
                    // begin the next message; any other error resumes after the next `\n`.
                    let at_line_start =
                        matches!(error, ParseError::UnexpectedType(_) | ParseError::ExpectedBulk(_));
                    self.resync = Some(Resync::new(offset, at_line_start));
                    return pos;
                }
            }
        }
    }

    /// Resync mode: buffer bytes and look for a point where a whole message parses.
    fn feed_resync(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>)) -> usize {
        let Some(r) = self.resync.as_mut() else { return 0 };
        let take = RESYNC_WINDOW.saturating_sub(r.held()).min(data.len());
        if take > 0 {
            r.owners.push((r.buf.len(), owner));
            r.buf.extend_from_slice(&data[..take]);
        }
        if !r.search(self.role) {
            if take == 0 {
                // Cannot happen while `search` keeps its promise (a full window is accepted),
                // but never spin: drop a byte and look further.
                r.drop_front(1);
                r.boundary = false;
            }
            return take;
        }
        let Some(r) = self.resync.take() else { return take };
        self.skipped_bytes += r.skipped;
        out(&Event::Resumed { offset: r.base, skipped: r.skipped });
        self.scanner.reset(r.base);
        self.pending = None;
        // Replay the held bytes through normal parsing, piece by piece so each keeps its owner.
        for (k, &(piece_start, piece_owner)) in r.owners.iter().enumerate() {
            let piece_end = r.owners.get(k + 1).map_or(r.buf.len(), |&(s, _)| s);
            if piece_end <= r.head {
                continue;
            }
            let from = piece_start.max(r.head);
            self.feed(&r.buf[from..piece_end], piece_owner, out);
        }
        take
    }

    /// Finishes the stream at the end of a capture: a message in progress is incomplete.
    pub fn finish(&mut self) {
        if let Some(r) = self.resync.take() {
            self.skipped_bytes += r.skipped + r.held() as u64;
        }
    }

    /// A message begun and cut at the end of the last chunk: owner of its first byte, its
    /// bytes so far in that owner's chunk, and the token at the cut.
    pub fn pending_split(&self) -> Option<(O, u64, Token)> {
        self.pending.map(|p| (p.first, p.first_bytes, p.token))
    }

    /// True when the message in progress has its top-level header (`*N\r\n`) complete.
    pub fn partial_header_done(&self) -> bool {
        self.scanner.in_aggregate()
    }

    /// Stream offset where the message in progress started.
    pub fn partial_start(&self) -> u64 {
        self.scanner.message_start()
    }

    /// The role this stream parses.
    pub fn role(&self) -> Role {
        self.role
    }

    /// True when previews are produced.
    pub fn previews(&self) -> bool {
        self.previews
    }
}

impl<O: Copy> Resync<O> {
    fn new(base: u64, boundary: bool) -> Self {
        Resync { buf: Vec::new(), head: 0, owners: Vec::new(), base, boundary, skipped: 0 }
    }

    /// Bytes held from the current candidate on.
    fn held(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Looks for the first candidate from which one whole message parses. A candidate is the
    /// held start when `boundary` is set, else the byte after the next `\n`. Returns true
    /// with the candidate at `head`; false to wait for more bytes.
    fn search(&mut self, role: Role) -> bool {
        loop {
            if !self.boundary {
                match memchr::memchr(b'\n', &self.buf[self.head..]) {
                    Some(p) => self.drop_front(p + 1),
                    None => {
                        self.drop_front(self.held());
                        return false;
                    }
                }
                self.boundary = true;
            }
            if self.held() == 0 {
                return false;
            }
            let cand = &self.buf[self.head..];
            if plausible_start(role, cand[0]) {
                let mut probe = Scanner::new(role, false);
                match probe.advance(cand).1 {
                    Outcome::Message(_) => return true,
                    // One unfinished candidate that parsed cleanly through the whole window
                    // is accepted; otherwise wait for it to finish.
                    Outcome::Incomplete => return self.held() >= RESYNC_WINDOW,
                    Outcome::Error(_) => {}
                }
            }
            // Rejected: the next candidate is after the next line feed.
            self.drop_front(1);
            self.boundary = false;
        }
    }

    /// Discards the first `n` held bytes.
    fn drop_front(&mut self, n: usize) {
        let n = n.min(self.held());
        self.head += n;
        self.base += n as u64;
        self.skipped += n as u64;
        if self.head >= RESYNC_WINDOW / 2 || self.head == self.buf.len() {
            // Compact: keep the owner of the piece that holds the new head.
            let head = self.head;
            let keep_from = self.owners.iter().rposition(|&(s, _)| s <= head).unwrap_or(0);
            self.owners.drain(..keep_from);
            for (s, _) in &mut self.owners {
                *s = s.saturating_sub(head);
            }
            self.buf.drain(..head);
            self.head = 0;
            if self.buf.is_empty() {
                self.owners.clear();
            }
        }
    }
}

/// A byte that can start a message when resynchronising. Requests resume only at multibulk
/// headers: after a gap any text line would pass as an inline command.
fn plausible_start(role: Role, b: u8) -> bool {
    match role {
        Role::Requests => b == b'*',
        Role::Replies => matches!(
            b,
            b'+' | b'-'
                | b':'
                | b'$'
                | b'*'
                | b'_'
                | b'#'
                | b','
                | b'('
                | b'!'
                | b'='
                | b'%'
                | b'~'
                | b'>'
                | b'|'
        ),
    }
}
