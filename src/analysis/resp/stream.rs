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

use super::rdb::{Rdb, RdbStep};
use crate::protocol::resp::cut::CUT_SIDE;
use crate::protocol::resp::{
    CutBytes, Kind, Message, Outcome, ParseError, Position, Preview, Role, Scanner, Status,
};

/// Bytes kept while looking for a point to resume after a gap or error. A candidate still
/// incomplete after this many bytes is accepted: it has parsed cleanly through 64 KiB.
pub const RESYNC_WINDOW: usize = 64 * 1024;

/// Cuts of one split command recorded with their bytes; the rest are counted.
pub const MAX_CUTS: usize = 16;
/// Split commands per stream whose cuts are recorded (as many as a conversation lists).
pub const MAX_CUT_RECORDS: u32 = 1000;

/// Where a command that straddled segments was first cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split<O> {
    /// Owner of the first byte.
    pub first: O,
    /// Bytes of the message in the first owner's chunk.
    pub first_bytes: u64,
    /// Position of the first cut.
    pub cut: Position,
    /// Number of chunks the message spans.
    pub chunks: u32,
    /// Bytes of the message in the last chunk.
    pub last_bytes: u64,
}

/// One segment boundary inside a split command: the owners on each side, where in the command
/// it fell and the bytes around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut<O> {
    /// Owner of the bytes before the cut.
    pub before: O,
    /// Owner of the bytes after the cut.
    pub after: O,
    /// Bytes of the command before the cut.
    pub at: u64,
    /// Where in the command it fell.
    pub position: Position,
    /// Up to [`CUT_SIDE`] bytes of the command on each side, secrets marked.
    pub bytes: CutBytes,
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

/// What a stream parses after a message, as its consumer decides: a server's replies turn
/// into a replication stream after `+FULLRESYNC` (an RDB file, then commands) or `+CONTINUE`
/// (commands), which only the conversation can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Go on as before.
    Same,
    /// An RDB file comes next, then commands.
    Rdb,
    /// Commands come next.
    Commands,
    /// Bare newlines may come before the next reply: what a master sends a replica waiting
    /// for its `+FULLRESYNC` to keep the link alive.
    Keepalive,
}

/// What the stream tells its consumer.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a, O> {
    /// A complete message.
    Message {
        /// The message and its owners, borrowed from where the scanner wrote them: the hot
        /// path copies no message.
        found: &'a Found<O>,
        /// Its redacted preview (empty without previews), borrowed from the scanner so the
        /// hot path copies no display bytes.
        preview: &'a Preview,
        /// For a split command, its first [`MAX_CUTS`] cuts (empty for other messages, for
        /// replies, and past the first [`MAX_CUT_RECORDS`] split commands).
        cuts: &'a [Cut<O>],
        /// Its cuts beyond those.
        more_cuts: u32,
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
    /// Stream offset of the message's first byte: a pending record of a line the scanner
    /// dropped (an empty inline line, `*0`) must not be taken for the next message's.
    start: u64,
    first: O,
    first_bytes: u64,
    cut: Position,
    chunks: u32,
}

/// Resynchronisation after a gap or a parse error: looking for the first line start from which
/// one whole message parses.
///
/// Invariants: the bytes held are `held[head..]`; when there are any, they start at the
/// current candidate (stream offset `base`) and `probe` has consumed exactly them without
/// completing or failing, and they are fewer than [`RESYNC_WINDOW`]; `owners` is sorted by
/// position in `held` and its first entry is at or before `head`; with nothing held, `base`
/// is the offset of the next byte to arrive. Bytes are only copied into `held` when a
/// candidate is still incomplete at the end of a chunk: garbage inside one chunk is searched
/// where it lies.
#[derive(Debug)]
struct Resync<O> {
    role: Role,
    held: Vec<u8>,
    head: usize,
    owners: Vec<(usize, O)>,
    base: u64,
    /// True when the byte at `base` may itself start a message (after a gap, at a capture's
    /// start, or at the line start where an error was found).
    boundary: bool,
    /// Bytes dropped since resync began.
    skipped: u64,
    /// The scanner trying the current candidate.
    probe: Scanner,
    /// Bytes probed since the last cut (see [`PROBE_BUDGET`]).
    work: u64,
    /// Furthest stream offset any probe has read.
    frontier: u64,
    /// Bytes before this offset are skipped unread (set by the probe budget).
    skip_until: u64,
}

/// Bytes the probes may read in one resynchronisation before candidates behind the furthest
/// byte already read are given up. A rejected candidate's bytes are read again from the next
/// line start, so hostile input could otherwise cost quadratic time; with this budget every
/// byte is probed a bounded number of times.
const PROBE_BUDGET: u64 = 8 * RESYNC_WINDOW as u64;

/// What one resync step decided.
enum ResyncStep<O> {
    /// Still looking; the whole chunk was taken (held or skipped).
    Searching,
    /// A message starts this many bytes into the chunk (nothing held): parse from there.
    ResumeAt(usize),
    /// A message starts at the first held byte: parse the held bytes, then the chunk from
    /// its start (none of it was taken).
    ResumeHeld(Held<O>),
}

/// Bytes handed back to normal parsing after a resync, each piece with its owner.
#[derive(Debug)]
struct Held<O> {
    buf: Vec<u8>,
    owners: Vec<(usize, O)>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Next byte of `buf` to parse.
    pos: usize,
}

impl<O: Copy> Held<O> {
    /// The rest of the piece holding `pos`: its start, end and owner.
    fn piece(&self) -> Option<(usize, usize, O)> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let k = self.owners.partition_point(|&(s, _)| s <= self.pos).checked_sub(1)?;
        let end = self.owners.get(k + 1).map_or(self.buf.len(), |&(s, _)| s);
        Some((self.pos, end, self.owners[k].1))
    }

    /// Puts `h`'s unparsed bytes before this buffer's. Only a safety net: a resync inside
    /// these bytes always lands where [`Held::rewind`] can go back to.
    fn prepend(&mut self, h: Held<O>) {
        let mut owners: Vec<(usize, O)> = Vec::with_capacity(h.owners.len() + self.owners.len());
        let first = h.buf.len().saturating_sub(h.pos);
        for (k, &(s, o)) in h.owners.iter().enumerate() {
            let end = h.owners.get(k + 1).map_or(h.buf.len(), |&(e, _)| e);
            if end > h.pos {
                owners.push((s.saturating_sub(h.pos), o));
            }
        }
        let k = self.owners.partition_point(|&(s, _)| s <= self.pos).saturating_sub(1);
        for (i, &(s, o)) in self.owners.iter().enumerate().skip(k) {
            let at = if i == k { 0 } else { s - self.pos };
            owners.push((first + at, o));
        }
        let mut buf = h.buf[h.pos.min(h.buf.len())..].to_vec();
        buf.extend_from_slice(&self.buf[self.pos.min(self.buf.len())..]);
        self.base = h.base + h.pos as u64;
        self.buf = buf;
        self.owners = owners;
        self.pos = 0;
    }

    /// Goes back to stream offset `at`, already parsed once: a resync that began inside
    /// these bytes found its message here, and the bytes it held are these.
    fn rewind(&mut self, at: u64) -> bool {
        match at.checked_sub(self.base).and_then(|d| usize::try_from(d).ok()) {
            Some(d) if d <= self.pos => {
                self.pos = d;
                true
            }
            _ => false,
        }
    }
}

/// RESP messages of one direction, fed in stream order.
#[derive(Debug)]
pub struct RespStream<O> {
    scanner: Scanner,
    role: Role,
    previews: bool,
    pending: Option<Pending<O>>,
    resync: Option<Box<Resync<O>>>,
    /// An RDB transfer in progress (a replica link).
    rdb: Option<Box<Rdb<O>>>,
    /// Bare newlines between messages are skipped until the next message (see
    /// [`Next::Keepalive`]).
    keepalive: bool,
    /// Gaps seen (holes the capture never carried).
    pub gaps: u64,
    /// Parse errors seen.
    pub parse_errors: u64,
    /// Bytes skipped without being parsed (gap resyncs and errors).
    pub skipped_bytes: u64,
    /// The cuts of the pending message (requests only), allocated when one is cut.
    cuts: Vec<Cut<O>>,
    /// Its cuts beyond [`MAX_CUTS`].
    more_cuts: u32,
    /// The last cut waits for the bytes after it.
    after_due: bool,
    /// Split messages whose cuts were recorded.
    cut_records: u32,
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
            rdb: None,
            keepalive: false,
            gaps: 0,
            parse_errors: 0,
            skipped_bytes: 0,
            cuts: Vec::new(),
            more_cuts: 0,
            after_due: false,
            cut_records: 0,
        }
    }

    /// A stream joined mid-connection: the first bytes may be the tail of a message.
    pub fn joined(role: Role, previews: bool, offset: u64) -> Self {
        let mut s = Self::new(role, previews);
        s.scanner.reset(offset);
        s.resync = Some(Resync::new(role, offset, true));
        s
    }

    /// Stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        if let Some(r) = &self.rdb {
            return r.pos;
        }
        match &self.resync {
            Some(r) => r.base + r.held_len() as u64,
            None => self.scanner.offset(),
        }
    }

    /// The next bytes are an RDB file (`SYNC`'s answer), if the stream stands between
    /// messages. Returns whether it took it.
    pub fn expect_rdb(&mut self) -> bool {
        if self.rdb.is_some() || self.resync.is_some() || self.scanner.in_message() {
            return false;
        }
        self.rdb = Some(Box::new(Rdb::new(self.scanner.offset())));
        true
    }

    /// Applies what the consumer said comes next (outside a message).
    pub fn expect(&mut self, next: Next) {
        match next {
            Next::Rdb => {
                self.expect_rdb();
            }
            Next::Keepalive => self.keepalive = true,
            Next::Same | Next::Commands => {}
        }
    }

    /// Parses commands from here on: what a master propagates to its replica.
    fn switch_to_commands(&mut self, at: u64) {
        self.role = Role::Requests;
        self.scanner = Scanner::new(Role::Requests, self.previews);
        self.scanner.reset(at);
        self.drop_pending();
    }

    /// Forgets the message in progress's split record and cuts.
    fn drop_pending(&mut self) {
        self.pending = None;
        if self.cuts.capacity() > 0 {
            self.cuts = Vec::new();
        }
        self.more_cuts = 0;
        self.after_due = false;
    }

    /// True when a message has started and not completed (or bytes wait in resync).
    pub fn has_partial(&self) -> bool {
        self.scanner.in_message() || self.resync.as_ref().is_some_and(|r| r.held_len() > 0)
    }

    /// Bytes `[offset, offset + len)` are missing: drop any message in progress and resume at
    /// the next message after them.
    pub fn gap(&mut self, len: u64) {
        let at = self.offset() + len;
        if let Some(r) = self.rdb.as_mut() {
            self.gaps += 1;
            if r.gap(len) {
                return;
            }
            // The RDB's end is lost: what follows is commands, found by resynchronising.
            self.rdb = None;
            self.switch_to_commands(at);
            self.resync = Some(Resync::new(self.role, at, true));
            return;
        }
        if let Some(r) = &self.resync {
            self.skipped_bytes += r.skipped + r.held_len() as u64;
        }
        self.gaps += 1;
        self.drop_pending();
        self.scanner.reset(at);
        self.resync = Some(Resync::new(self.role, at, true));
    }

    /// Feeds the next contiguous chunk, owned by `owner`.
    ///
    /// A loop, never a recursion: bytes a resync held are parsed again from a local buffer
    /// before the rest of the chunk, and a resync that starts and ends inside those bytes
    /// only moves the position back to its message. Each return to a held byte is at a
    /// message start strictly after the previous one, so the loop ends.
    pub fn feed(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>)) {
        self.feed_with(data, owner, &mut |e| {
            out(e);
            Next::Same
        });
    }

    /// [`RespStream::feed`], the consumer saying after each message what comes next.
    pub fn feed_with(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>) -> Next) {
        let mut pos = 0;
        let mut held: Option<Held<O>> = None;
        loop {
            let piece = held.as_ref().and_then(Held::piece);
            let (chunk, chunk_owner) = match piece {
                Some((from, to, o)) => match held.as_ref() {
                    Some(h) => (&h.buf[from..to], o),
                    None => break,
                },
                None if pos < data.len() => (&data[pos..], owner),
                None => break,
            };
            let used = if self.rdb.is_some() {
                self.feed_rdb(chunk, chunk_owner, out)
            } else if self.resync.is_none() {
                self.feed_normal(chunk, chunk_owner, out)
            } else {
                match self.feed_resync(chunk, chunk_owner, out) {
                    ResyncStep::Searching => chunk.len(),
                    ResyncStep::ResumeAt(at) => at,
                    ResyncStep::ResumeHeld(h) => {
                        // Inside held bytes, the new resync held only bytes of theirs.
                        held = Some(match held.take() {
                            Some(mut cur) if piece.is_some() => {
                                if !cur.rewind(h.base + h.pos as u64) {
                                    cur.prepend(h);
                                }
                                cur
                            }
                            _ => h,
                        });
                        0
                    }
                }
            };
            match (piece, held.as_mut()) {
                (Some(_), Some(h)) => h.pos += used,
                _ => pos += used,
            }
        }
    }

    /// Normal parsing. Returns bytes consumed (all, unless an error switched to resync).
    fn feed_normal(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>) -> Next) -> usize {
        let chunk_start = self.scanner.offset();
        let continuing = self.scanner.in_message();
        if continuing {
            if let Some(p) = &mut self.pending {
                p.chunks += 1;
            }
        }
        // A cut whose bytes are recorded ended the last chunk: the scanner as it stood there
        // reads the bytes after it (and those before this chunk's own cut). Only for split
        // commands, and a copy of a few hundred bytes.
        let at_cut = (continuing && self.after_due && self.scanner.may_hide()).then(|| self.scanner.clone());
        if continuing && self.after_due {
            self.after_due = false;
            let n = data.len().min(CUT_SIDE);
            let secret = at_cut.as_ref().map_or(0, |sc| sc.clone().secret_bits(&data[..n]));
            if let Some(c) = self.cuts.last_mut() {
                c.after = owner;
                c.bytes.set_after(&data[..n], secret, data.len() > n);
            }
        }
        let mut pos = 0;
        // The scanner writes each message here, and the consumer borrows it from here.
        let mut found = Found { msg: Message::EMPTY, first: owner, last: owner, split: None };
        loop {
            if self.keepalive && !self.scanner.in_message() {
                let n = data[pos..].iter().take_while(|&&b| b == b'\n').count();
                if n > 0 {
                    pos += n;
                    self.scanner.reset(self.scanner.offset() + n as u64);
                }
            }
            let (n, status) = self.scanner.scan(&data[pos..], &mut found.msg);
            pos += n;
            match status {
                Status::Message => {
                    self.keepalive = false;
                    let (start, end) = (found.msg.start, found.msg.end);
                    (found.first, found.split) = match self.pending.take() {
                        Some(p) if start < chunk_start && p.start == start => (
                            p.first,
                            Some(Split {
                                first: p.first,
                                first_bytes: p.first_bytes,
                                cut: p.cut,
                                chunks: p.chunks,
                                last_bytes: end - chunk_start,
                            }),
                        ),
                        _ => (owner, None),
                    };
                    let recorded = found.split.is_some() && !self.cuts.is_empty();
                    if recorded {
                        // The bytes after the last cut end with the message.
                        let here = usize::try_from(end - chunk_start).unwrap_or(usize::MAX);
                        if let Some(c) = self.cuts.last_mut() {
                            c.bytes.clip_after(here, here < data.len());
                        }
                        self.cut_records += 1;
                    }
                    let (cuts, more_cuts) =
                        if recorded { (&self.cuts[..], self.more_cuts) } else { (&[][..], 0) };
                    let next = out(&Event::Message {
                        found: &found,
                        preview: self.scanner.preview(),
                        cuts,
                        more_cuts,
                    });
                    if self.cuts.capacity() > 0 {
                        self.drop_pending();
                    }
                    match next {
                        Next::Same => {}
                        Next::Keepalive => self.keepalive = true,
                        Next::Rdb => {
                            self.rdb = Some(Box::new(Rdb::new(end)));
                            return pos;
                        }
                        Next::Commands if self.role == Role::Replies => self.switch_to_commands(end),
                        Next::Commands => {}
                    }
                    if pos == data.len() {
                        // The chunk ended with the message (most do): nothing is pending, and
                        // the scanner need not be called to say so.
                        return pos;
                    }
                }
                Status::Incomplete => {
                    let start = self.scanner.message_start();
                    if !self.scanner.in_message() {
                        return pos;
                    }
                    let fresh = self.pending.is_none_or(|p| p.start != start);
                    if fresh {
                        if self.cuts.capacity() > 0 {
                            self.drop_pending();
                        }
                        self.pending = Some(Pending {
                            start,
                            first: owner,
                            first_bytes: self.scanner.offset() - start,
                            cut: self.scanner.position(),
                            chunks: 1,
                        });
                    }
                    // A command's cuts are recorded from its first, for the first split
                    // commands only: the stream's hot path never gets here for a message
                    // that ends in its chunk.
                    let recording = self.role == Role::Requests
                        && self.cut_records < MAX_CUT_RECORDS
                        && (fresh || !self.cuts.is_empty() || self.more_cuts > 0);
                    if recording {
                        self.record_cut(data, pos, chunk_start, owner, at_cut.as_ref());
                    }
                    return pos;
                }
                Status::Error(error) => {
                    let offset = self.scanner.offset();
                    self.parse_errors += 1;
                    let _ = out(&Event::ParseError { offset, error, owner });
                    self.drop_pending();
                    // A value that cannot start here stands at a line start and may itself
                    // begin the next message; any other error resumes after the next `\n`.
                    let at_line_start =
                        matches!(error, ParseError::UnexpectedType(_) | ParseError::ExpectedBulk(_));
                    self.resync = Some(Resync::new(self.role, offset, at_line_start));
                    return pos;
                }
            }
        }
    }

    /// Records the cut at the end of `data[..end]` (the scanner stands there, inside a
    /// message): where it fell and the message's bytes before it, secrets marked. `at_cut`
    /// is the scanner as it stood at the chunk's start, when the message began before it.
    fn record_cut(&mut self, data: &[u8], end: usize, chunk_start: u64, owner: O, at_cut: Option<&Scanner>) {
        if self.cuts.len() >= MAX_CUTS {
            self.more_cuts = self.more_cuts.saturating_add(1);
            return;
        }
        let start = self.scanner.message_start();
        let end = end.min(data.len());
        // The message's first byte in this chunk, and the first byte shown.
        let m0 = usize::try_from(start.saturating_sub(chunk_start)).unwrap_or(usize::MAX).min(end);
        let w0 = m0.max(end.saturating_sub(CUT_SIDE));
        // The bytes before the cut are walked again only when they may hold a secret.
        let secret = if self.scanner.may_hide() {
            let mut walker = match at_cut {
                Some(sc) if start < chunk_start => sc.clone(),
                _ => {
                    let mut w = Scanner::new(self.role, false);
                    w.reset(start);
                    w
                }
            };
            let _ = walker.advance(&data[m0..w0]);
            walker.secret_bits(&data[w0..end])
        } else {
            0
        };
        let mut bytes = CutBytes::default();
        bytes.set_before(&data[w0..end], secret, w0 > 0);
        if self.cuts.capacity() == 0 {
            self.cuts.reserve_exact(4);
        }
        self.cuts.push(Cut {
            before: owner,
            after: owner,
            at: self.scanner.offset() - start,
            position: self.scanner.position(),
            bytes,
        });
        self.after_due = true;
    }

    /// Resync mode: looks for a point where a whole message parses, in the chunk where it
    /// lies, holding bytes only across a chunk's end.
    fn feed_resync(
        &mut self,
        data: &[u8],
        owner: O,
        out: &mut impl FnMut(&Event<'_, O>) -> Next,
    ) -> ResyncStep<O> {
        let Some(r) = self.resync.as_mut() else { return ResyncStep::ResumeAt(0) };
        let step = r.step(data, owner);
        match &step {
            ResyncStep::Searching => return step,
            ResyncStep::ResumeAt(_) | ResyncStep::ResumeHeld(_) => {}
        }
        let Some(r) = self.resync.take() else { return step };
        self.skipped_bytes += r.skipped;
        let _ = out(&Event::Resumed { offset: r.base, skipped: r.skipped });
        self.scanner.reset(r.base);
        self.drop_pending();
        step
    }

    /// Bytes held while resynchronising.
    pub fn held_bytes(&self) -> usize {
        self.resync.as_ref().map_or(0, |r| r.held_len())
    }

    /// Heap held beyond the stream itself, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.cuts.capacity() * std::mem::size_of::<Cut<O>>()
            + self.resync.as_ref().map_or(0, |r| {
                std::mem::size_of::<Resync<O>>()
                    + r.held.capacity()
                    + r.owners.capacity() * std::mem::size_of::<(usize, O)>()
            })
    }

    /// Gives up the bytes a resync holds (they count as skipped); the search goes on from
    /// the next line start. For an analyzer short of memory.
    pub fn drop_held(&mut self) {
        if let Some(r) = self.resync.as_mut() {
            let n = r.held_len();
            r.drop_held_front(n);
            r.held = Vec::new();
            r.owners = Vec::new();
            r.boundary = false;
        }
    }

    /// An RDB transfer: its bytes are skipped (or searched for their end mark); once it ends
    /// it is reported as one message, and commands follow.
    fn feed_rdb(&mut self, data: &[u8], owner: O, out: &mut impl FnMut(&Event<'_, O>) -> Next) -> usize {
        let Some(r) = self.rdb.as_mut() else { return 0 };
        match r.step(data, owner) {
            RdbStep::More => data.len(),
            RdbStep::Done { used, diskless } => {
                let end = r.pos;
                let (start, first) = r.start.unwrap_or((end, owner));
                self.rdb = None;
                let msg = Message { start, end, kind: Kind::Rdb { diskless } };
                let preview = Preview::default();
                let found = Found { msg, first, last: owner, split: None };
                let _ = out(&Event::Message { found: &found, preview: &preview, cuts: &[], more_cuts: 0 });
                self.switch_to_commands(end);
                used
            }
            RdbStep::Bad(used) => {
                let at = r.pos;
                self.rdb = None;
                self.parse_errors += 1;
                let _ = out(&Event::ParseError { offset: at, error: ParseError::BadRdb, owner });
                self.switch_to_commands(at);
                self.resync = Some(Resync::new(self.role, at, true));
                used
            }
        }
    }

    /// Finishes the stream at the end of a capture: a message in progress is incomplete.
    pub fn finish(&mut self) {
        if let Some(r) = self.resync.take() {
            self.skipped_bytes += r.skipped + r.held_len() as u64;
        }
    }

    /// A message begun and cut at the end of the last chunk: owner of its first byte, its
    /// bytes so far in that owner's chunk, and the position of the cut.
    pub fn pending_split(&self) -> Option<(O, u64, Position)> {
        self.pending.map(|p| (p.first, p.first_bytes, p.cut))
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
    fn new(role: Role, base: u64, boundary: bool) -> Box<Self> {
        Box::new(Resync {
            role,
            held: Vec::new(),
            head: 0,
            owners: Vec::new(),
            base,
            boundary,
            skipped: 0,
            probe: Scanner::new(role, false),
            work: 0,
            frontier: base,
            skip_until: base,
        })
    }

    /// Bytes held from the current candidate on.
    fn held_len(&self) -> usize {
        self.held.len() - self.head
    }

    /// Counts `n` bytes as skipped.
    fn skip(&mut self, n: usize) {
        self.base += n as u64;
        self.skipped += n as u64;
    }

    /// Drops the first `n` held bytes.
    fn drop_held_front(&mut self, n: usize) {
        let n = n.min(self.held_len());
        self.head += n;
        self.skip(n);
        if self.head == self.held.len() {
            self.held.clear();
            self.owners.clear();
            self.head = 0;
        } else if self.head >= RESYNC_WINDOW / 2 {
            // Compact, keeping the owner of the piece that holds the new head.
            let head = self.head;
            let keep = self.owners.partition_point(|&(s, _)| s <= head).saturating_sub(1);
            self.owners.drain(..keep);
            for (s, _) in &mut self.owners {
                *s = s.saturating_sub(head);
            }
            self.held.drain(..head);
            self.head = 0;
        }
    }

    /// Reads `bytes` with the probe; notes the work and the furthest byte read.
    fn probe(&mut self, bytes: &[u8]) -> Outcome {
        let (n, outcome) = self.probe.advance(bytes);
        self.work += n as u64;
        self.frontier = self.frontier.max(self.probe.offset());
        outcome
    }

    /// A fresh probe for a candidate at `base`.
    fn new_probe(&mut self) {
        self.probe.reset(self.base);
    }

    /// Hands the held bytes over to normal parsing.
    fn take_held(&mut self) -> Held<O> {
        let head = self.head;
        let h = Held {
            buf: std::mem::take(&mut self.held),
            owners: std::mem::take(&mut self.owners),
            base: self.base - head as u64,
            pos: head,
        };
        self.head = 0;
        h
    }

    /// The held candidate was rejected: tries the later line starts among the held bytes.
    /// Returns the held bytes when one of them parses a whole message; otherwise the held
    /// bytes are a live candidate waiting for more, or none are held (and `boundary` says
    /// whether the next byte to arrive is a line start).
    fn reject_held(&mut self) -> Option<Held<O>> {
        self.drop_held_front(1);
        if self.check_budget() {
            return None;
        }
        loop {
            let Some(k) = memchr::memchr(b'\n', &self.held[self.head..]) else {
                let n = self.held_len();
                self.drop_held_front(n);
                self.boundary = false;
                return None;
            };
            self.drop_held_front(k + 1);
            self.boundary = true;
            let &first = self.held.get(self.head)?;
            if plausible_start(self.role, first) {
                self.new_probe();
                let held = std::mem::take(&mut self.held);
                let outcome = self.probe(&held[self.head..]);
                self.held = held;
                match outcome {
                    Outcome::Message(_) => return Some(self.take_held()),
                    Outcome::Incomplete => return None,
                    Outcome::Error(_) => {}
                }
            }
            self.drop_held_front(1);
            if self.check_budget() {
                return None;
            }
        }
    }

    /// After a rejected candidate: past the probe budget, gives up every candidate before the
    /// furthest byte read (held ones are all before it). Checked only at rejections, which
    /// fall at the same bytes however the stream is cut, so the result does not depend on
    /// segmentation. Returns true when it cut.
    fn check_budget(&mut self) -> bool {
        if self.work <= PROBE_BUDGET {
            return false;
        }
        self.work = 0;
        let n = self.held_len();
        self.drop_held_front(n);
        self.skip_until = self.frontier;
        self.boundary = false;
        true
    }

    /// One chunk in resync mode. See [`ResyncStep`].
    fn step(&mut self, data: &[u8], owner: O) -> ResyncStep<O> {
        let mut p = 0;
        loop {
            if self.base < self.skip_until {
                // Cut by the probe budget: bytes already read are not tried again.
                let behind = usize::try_from(self.skip_until - self.base).unwrap_or(usize::MAX);
                let n = behind.min(data.len() - p);
                self.skip(n);
                p += n;
                if p == data.len() {
                    return ResyncStep::Searching;
                }
            }
            if self.held_len() > 0 {
                // The candidate at the first held byte, its probe waiting for more.
                // The probe reads no further than the window, as when the candidate's bytes
                // come in one chunk: the verdict must not depend on segmentation.
                let room = (RESYNC_WINDOW - self.held_len()).min(data.len() - p);
                match self.probe(&data[p..p + room]) {
                    Outcome::Message(_) => return ResyncStep::ResumeHeld(self.take_held()),
                    // Parsed cleanly through the whole window: accepted.
                    Outcome::Incomplete if self.held_len() + room >= RESYNC_WINDOW => {
                        return ResyncStep::ResumeHeld(self.take_held());
                    }
                    Outcome::Incomplete => {
                        self.owners.push((self.held.len(), owner));
                        self.held.extend_from_slice(&data[p..]);
                        return ResyncStep::Searching;
                    }
                    Outcome::Error(_) => {
                        if let Some(h) = self.reject_held() {
                            return ResyncStep::ResumeHeld(h);
                        }
                        continue;
                    }
                }
            }
            if !self.boundary {
                let Some(k) = memchr::memchr(b'\n', &data[p..]) else {
                    self.skip(data.len() - p);
                    return ResyncStep::Searching;
                };
                self.skip(k + 1);
                p += k + 1;
                self.boundary = true;
            }
            let Some(&first) = data.get(p) else { return ResyncStep::Searching };
            if plausible_start(self.role, first) {
                self.new_probe();
                let room = RESYNC_WINDOW.min(data.len() - p);
                match self.probe(&data[p..p + room]) {
                    Outcome::Message(_) => return ResyncStep::ResumeAt(p),
                    // Parsed cleanly through the whole window: accepted.
                    Outcome::Incomplete if room >= RESYNC_WINDOW => return ResyncStep::ResumeAt(p),
                    Outcome::Incomplete => {
                        self.owners.push((0, owner));
                        self.held.extend_from_slice(&data[p..]);
                        return ResyncStep::Searching;
                    }
                    Outcome::Error(_) => {}
                }
            }
            // Rejected: the next candidate follows the next line feed.
            self.skip(1);
            p += 1;
            self.boundary = false;
            self.check_budget();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resp::cut::show;

    /// What a stream reported for one message: its cuts and how many more there were.
    fn cuts_of(chunks: &[&[u8]]) -> Vec<(Vec<Cut<u32>>, u32)> {
        let mut s: RespStream<u32> = RespStream::new(Role::Requests, true);
        let mut got = Vec::new();
        for (k, c) in chunks.iter().enumerate() {
            s.feed(c, k as u32 + 1, &mut |e| {
                if let Event::Message { found, cuts, more_cuts, .. } = e {
                    if found.split.is_some() {
                        got.push((cuts.to_vec(), *more_cuts));
                    }
                }
            });
        }
        got
    }

    /// The position of a cut after each byte of a multibulk command, from its arguments
    /// alone: the reference the scanner's answer is checked against.
    fn reference(args: &[&[u8]]) -> Vec<Position> {
        let mut at = Vec::new();
        let header = format!("*{}\r\n", args.len());
        at.extend(std::iter::repeat_n(Position::ArrayHeader, header.len() - 1));
        for (i, a) in args.iter().enumerate() {
            at.push(Position::BetweenElements);
            let h = format!("${}\r\n", a.len());
            at.extend(std::iter::repeat_n(Position::BulkHeader, h.len() - 1));
            let n = a.len() as u64;
            if n > 0 {
                at.push(Position::BeforeBulkPayload);
            }
            at.extend((1..n).map(|k| Position::BulkPayload { k, n }));
            at.push(Position::Crlf);
            at.push(Position::Crlf);
            if i + 1 == args.len() {
                // The last `\n` ends the command: no cut after it.
                break;
            }
        }
        at
    }

    fn multibulk(args: &[&[u8]]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    #[test]
    fn a_cut_at_every_byte_is_placed_exactly() {
        let value = [b'v'; 20];
        for args in [&[&b"GET"[..], b"jedis"][..], &[b"SET", b"key", &value[..]]] {
            let cmd = multibulk(args);
            let want = reference(args);
            assert_eq!(want.len(), cmd.len() - 1);
            for i in 1..cmd.len() {
                let got = cuts_of(&[&cmd[..i], &cmd[i..]]);
                assert_eq!(got.len(), 1, "cut at {i}");
                let (cuts, more) = &got[0];
                assert_eq!((cuts.len(), *more), (1, 0));
                let c = cuts[0];
                assert_eq!(c.position, want[i - 1], "cut at {i} of {}", show(&cmd));
                assert_eq!((c.at, c.before, c.after), (i as u64, 1, 2));
                let before = &cmd[i.saturating_sub(32)..i];
                let after = &cmd[i..(i + 32).min(cmd.len())];
                let dots = |more: bool| if more { "…" } else { "" };
                let text =
                    format!("{}{} ┃ {}{}", dots(i > 32), show(before), show(after), dots(cmd.len() - i > 32));
                assert_eq!(c.bytes.text(), text, "cut at {i}");
            }
        }
        // The example of the issue: the first segment ends with `*2\r\n$3\r\n`.
        let cmd = multibulk(&[b"GET", b"jedis"]);
        let got = cuts_of(&[&[b"PING\r\n", &cmd[..8]].concat(), &[&cmd[8..], b"PING\r\n"].concat()]);
        let c = got[0].0[0];
        assert_eq!(c.position, Position::BeforeBulkPayload);
        assert_eq!(c.bytes.text(), r"…*2\r\n$3\r\n ┃ GET\r\n$5\r\njedis\r\n…");
    }

    #[test]
    fn an_inline_command_is_cut_inline_at_every_byte() {
        let cmd = b"PING\r\n";
        for i in 1..cmd.len() {
            let got = cuts_of(&[&cmd[..i], &cmd[i..]]);
            let c = got[0].0[0];
            assert_eq!((c.position, c.at), (Position::Inline, i as u64));
            assert_eq!(c.bytes.text(), format!("{} ┃ {}", show(&cmd[..i]), show(&cmd[i..])));
        }
    }

    #[test]
    fn a_command_cut_many_times_keeps_sixteen_cuts_and_counts_the_rest() {
        let value = [b'v'; 20];
        let cmd = multibulk(&[b"SET", b"key", &value]);
        let bytes: Vec<&[u8]> = cmd.chunks(1).collect();
        let got = cuts_of(&bytes);
        let (cuts, more) = &got[0];
        assert_eq!(cuts.len(), MAX_CUTS);
        assert_eq!(*more as usize, cmd.len() - 1 - MAX_CUTS);
        for (k, c) in cuts.iter().enumerate() {
            assert_eq!((c.at, c.before, c.after), (k as u64 + 1, k as u32 + 1, k as u32 + 2));
            assert_eq!(c.bytes.lens(), (1, 1));
        }
        // Split commands beyond the first thousand are counted, their cuts not recorded.
        let mut s: RespStream<u32> = RespStream::new(Role::Requests, false);
        let mut recorded = 0;
        for k in 0..1005u32 {
            for (j, part) in [&cmd[..10], &cmd[10..]].iter().enumerate() {
                s.feed(part, 2 * k + j as u32, &mut |e| {
                    if let Event::Message { cuts, .. } = e {
                        recorded += usize::from(!cuts.is_empty());
                    }
                });
            }
        }
        assert_eq!(recorded, MAX_CUT_RECORDS as usize);
        assert_eq!(s.heap_bytes(), 0);
    }

    #[test]
    fn secrets_never_show_in_the_bytes_at_a_cut() {
        // Every three bytes of the secret (and the user name where it is hidden too).
        let pw = b"hunter2x";
        let grams: Vec<String> = pw.windows(3).map(|w| String::from_utf8_lossy(w).into_owned()).collect();
        let cases: [(&[u8], bool); 6] = [
            (&multibulk(&[b"AUTH", b"alice", pw]), true),
            (&multibulk(&[b"auth", pw]), false),
            (&multibulk(&[b"HELLO", b"3", b"AUTH", b"alice", pw]), true),
            (&multibulk(&[b"CONFIG", b"SET", b"requirepass", pw]), false),
            (&multibulk(&[b"ACL", b"SETUSER", b"bob", b"on", b">hunter2x"]), false),
            (b"AUTH alice hunter2x\r\n", true),
        ];
        for (cmd, user) in cases {
            let mut hidden = 0;
            for i in 1..cmd.len() {
                let got = cuts_of(&[&cmd[..i], &cmd[i..]]);
                let text = got[0].0[0].bytes.text();
                for g in &grams {
                    assert!(!text.contains(g.as_str()), "cut at {i} of {}: {text}", show(cmd));
                }
                assert!(!(user && text.contains("lic")), "cut at {i} of {}: {text}", show(cmd));
                hidden += usize::from(text.contains("***"));
            }
            assert!(hidden > 0, "{}", show(cmd));
        }
        // The password straddling the cut: neither half, nor its length, is shown.
        let cmd = multibulk(&[b"AUTH", b"user", pw]);
        let at = cmd.len() - 2 - 4;
        let got = cuts_of(&[&cmd[..at], &cmd[at..]]);
        let c = got[0].0[0];
        assert_eq!(c.position, Position::BulkPayload { k: 4, n: 8 });
        assert_eq!(c.bytes.text(), r"*3\r\n$4\r\nAUTH\r\n$***\r\n***\r\n$***\r\n*** ┃ ***\r\n");
        // A command without secrets shows its arguments.
        let cmd = multibulk(&[b"CONFIG", b"SET", b"maxmemory", b"100mb"]);
        let got = cuts_of(&[&cmd[..cmd.len() - 4], &cmd[cmd.len() - 4..]]);
        assert!(got[0].0[0].bytes.text().contains("100"));
    }
}
