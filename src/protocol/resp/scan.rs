//! The incremental RESP scanner: a push parser over bytes of one direction.
//!
//! Bytes arrive in arbitrary chunks (TCP segments). The scanner keeps all of its state in a
//! small fixed-size struct, so cutting the stream at any point gives the same messages as
//! feeding it whole: re-segmentation cannot change a result by construction. "Need more bytes"
//! is the normal outcome ([`Outcome::Incomplete`]), not an error.
//!
//! Values are never stored: a bulk payload is skipped by its length, so `$999999999999` costs
//! an integer and nothing else. Only a short prefix of the command name and, on request, a
//! display preview are copied into fixed-size inline buffers.
//!
//! Requests follow Redis's own reader (`processMultibulkBuffer` / `processInlineBuffer`): a
//! multibulk of `$` items with at most `INT_MAX` items and 512 MB per bulk, or an inline line
//! ending in `\n`. `*0`, `*-1` and empty inline lines are not commands. Replies accept every
//! RESP2 and RESP3 type; a top-level attribute (`|`) and the value after it form one reply.

use super::bytes::{Arg, Head, InlineBytes, Name, Preview};
use super::fast::{fast_number, itoa_buf, whole_message, write_elided};
use super::message::{Kind, Message, Outcome, ParseError, Position, Role, Shape, Status, SHAPE_MAX_LEN};
use super::redact::Redactor;

/// Deepest aggregate nesting accepted; deeper input is a parse error, not a stack overflow.
pub const MAX_DEPTH: usize = 32;
/// Redis's `proto-max-bulk-len` default: a request bulk longer than this is invalid.
pub const MAX_REQUEST_BULK: i64 = 512 * 1024 * 1024;
/// Redis's `PROTO_INLINE_MAX_SIZE`: the longest inline request or header line.
pub const MAX_LINE: u32 = 64 * 1024;
/// Bytes of one argument shown in a preview before it is elided.
const ARG_PREVIEW: usize = 24;
/// Leading bytes of an argument kept for the redaction policy: the longest keyword it looks
/// for, `tls-client-key-file-pass`, is 24 bytes.
const ARG_HEAD: usize = 32;
/// Decimal digits accepted in a length or integer (i64 has 19).
const MAX_DIGITS: u8 = 19;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    /// Aggregate header with its type byte.
    Aggregate(u8),
    /// Bulk-like header (`$ ! =`) with its type byte.
    Bulk(u8),
    /// `:` integer.
    Integer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting the first byte of a top-level value.
    Start,
    /// Expecting the type byte of an element inside an aggregate.
    Type,
    /// Reading the digits of a length or integer.
    Number(Num),
    /// Saw `\r` after a number; expecting `\n`.
    NumberLf(Num),
    /// Reading a simple line (`+ - _ # , (`) up to `\r`.
    Line,
    /// Saw `\r` of a simple line; expecting `\n`.
    LineLf,
    /// Reading an inline request up to `\n`.
    Inline,
    /// Skipping a bulk payload.
    Bulk(u64),
    /// Expecting the `\r` after a bulk payload.
    BulkCr,
    /// Expecting the `\n` after a bulk payload.
    BulkLf,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    left: u64,
    attribute: bool,
}

/// Incremental RESP scanner for one direction of one connection.
///
/// Invariants: `depth <= MAX_DEPTH`; `in_msg` is false exactly when the next byte starts a new
/// top-level message; `offset` counts every byte consumed since creation or [`Scanner::reset`].
#[derive(Clone, Debug)]
pub struct Scanner {
    role: Role,
    previews: bool,
    state: State,
    offset: u64,
    // Number being read.
    num: i64,
    neg: bool,
    digits: u8,
    line_len: u32,
    // Aggregate nesting.
    stack: [Level; MAX_DEPTH],
    depth: usize,
    // The message in progress.
    in_msg: bool,
    msg_start: u64,
    ty: u8,
    argc: u32,
    arg_idx: u32,
    arg_len: u64,
    arg_shown: usize,
    name: Name,
    /// A command's second and third arguments' leading bytes.
    sub: Arg,
    arg2: Arg,
    /// A reply's shape, built as its bytes go by.
    head: Head,
    top_len: u32,
    last_int: Option<i64>,
    /// Elements of the top-level aggregate completed so far.
    elem: u32,
    /// Type byte of the value being read (a line's `+` or `-`).
    value_ty: u8,
    preview: Preview,
    redactor: Redactor,
    /// Leading bytes of the current argument, kept only for commands that may carry secrets
    /// (their keywords decide what to hide).
    arg_head: InlineBytes<ARG_HEAD>,
    // Inline tokenizer state.
    in_token: bool,
}

impl Scanner {
    /// A scanner at the start of a stream. `previews` turns on display previews (a few copies
    /// per message); counting needs none.
    pub fn new(role: Role, previews: bool) -> Scanner {
        Scanner {
            role,
            previews,
            state: State::Start,
            offset: 0,
            num: 0,
            neg: false,
            digits: 0,
            line_len: 0,
            stack: [Level { left: 0, attribute: false }; MAX_DEPTH],
            depth: 0,
            in_msg: false,
            msg_start: 0,
            ty: 0,
            argc: 0,
            arg_idx: 0,
            arg_len: 0,
            arg_shown: 0,
            name: Name::default(),
            sub: Arg::default(),
            arg2: Arg::default(),
            head: Head::default(),
            top_len: 0,
            last_int: None,
            elem: 0,
            value_ty: 0,
            preview: Preview::default(),
            redactor: Redactor::default(),
            arg_head: InlineBytes::default(),
            in_token: false,
        }
    }

    /// Forgets any message in progress; the next byte (at `offset`) starts a new message.
    pub fn reset(&mut self, offset: u64) {
        let (role, previews) = (self.role, self.previews);
        *self = Scanner::new(role, previews);
        self.offset = offset;
    }

    /// Stream offset of the next byte to consume.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True while a message has started but not completed.
    pub fn in_message(&self) -> bool {
        self.in_msg
    }

    /// Redacted display preview of the message just completed (empty without previews);
    /// valid until the next call to [`Scanner::advance`].
    pub fn preview(&self) -> &Preview {
        &self.preview
    }

    /// True inside an aggregate: the top-level header line is complete.
    pub fn in_aggregate(&self) -> bool {
        self.depth > 0
    }

    /// Stream offset where the message in progress started.
    pub fn message_start(&self) -> u64 {
        self.msg_start
    }

    /// Where in the message in progress the scanner stands: the position of a cut after the
    /// bytes read so far (meaningful while [`Scanner::in_message`]).
    pub fn position(&self) -> Position {
        match self.state {
            State::Start | State::Type => Position::BetweenElements,
            State::Number(Num::Aggregate(_)) | State::NumberLf(Num::Aggregate(_)) => Position::ArrayHeader,
            State::Number(Num::Bulk(_)) | State::NumberLf(Num::Bulk(_)) => Position::BulkHeader,
            State::Number(Num::Integer) | State::NumberLf(Num::Integer) | State::Line | State::LineLf => {
                Position::Line
            }
            State::Inline => Position::Inline,
            State::Bulk(left) if left >= self.arg_len => Position::BeforeBulkPayload,
            State::Bulk(left) => Position::BulkPayload { k: self.arg_len - left, n: self.arg_len },
            State::BulkCr | State::BulkLf => Position::Crlf,
        }
    }

    /// Reads `bytes` one at a time, the message in progress continuing from where this
    /// scanner stands, and says which of them belong to an argument the redaction policy
    /// hides: bit `i` for `bytes[i]` (the first 32 only). A hidden argument's payload and the
    /// digits of its length are marked, so neither the secret nor its size is shown. Stops
    /// where the message ends or fails. For the few bytes shown around a cut (on a copy of
    /// the scanner), never on the hot path.
    pub fn secret_bits(&mut self, bytes: &[u8]) -> u32 {
        let mut bits = 0u32;
        let mut msg = Message::EMPTY;
        for (i, b) in bytes.iter().enumerate().take(32) {
            if self.hides(*b) {
                bits |= 1 << i;
            }
            if self.scan(std::slice::from_ref(b), &mut msg).1 != Status::Incomplete {
                break;
            }
        }
        bits
    }

    /// False when no byte of the message in progress, before or after this point, can belong
    /// to a hidden argument: its name is read and carries no secret (the policy of a command
    /// that hides nothing never changes afterwards). Spares the walk of
    /// [`Scanner::secret_bits`] for almost every split command.
    pub fn may_hide(&self) -> bool {
        let named = if self.ty == b'i' {
            self.argc >= 2 || (self.argc == 1 && !self.in_token)
        } else {
            self.arg_idx >= 1
        };
        self.role == Role::Requests && (!named || self.redactor.hides_any())
    }

    /// True when the next byte, `b`, belongs to a hidden argument (see
    /// [`Scanner::secret_bits`]).
    fn hides(&self, b: u8) -> bool {
        if self.role != Role::Requests || !self.redactor.hides_any() {
            return false;
        }
        match self.state {
            State::Bulk(_) => self.depth == 1 && self.redactor.redacting(self.arg_idx),
            State::Number(Num::Bulk(_)) => {
                self.depth == 1 && b != b'\r' && self.redactor.redacting(self.arg_idx)
            }
            // Inline arguments are hidden whole once the name says the command carries a
            // secret, as in previews.
            State::Inline => {
                !matches!(b, b' ' | b'\t' | b'\r' | b'\n')
                    && (self.argc >= 2 || (self.argc == 1 && !self.in_token))
            }
            _ => false,
        }
    }

    /// Consumes bytes from `data` until a message completes, the data runs out or an error is
    /// found. Returns how many bytes were consumed and what happened.
    ///
    /// After [`Outcome::Error`] the scanner's state is undefined until [`Scanner::reset`].
    pub fn advance(&mut self, data: &[u8]) -> (usize, Outcome) {
        let mut msg = Message::EMPTY;
        let (n, status) = self.scan(data, &mut msg);
        let outcome = match status {
            Status::Incomplete => Outcome::Incomplete,
            Status::Message => Outcome::Message(msg),
            Status::Error(e) => Outcome::Error(e),
        };
        (n, outcome)
    }

    /// [`Scanner::advance`] writing a completed message into `msg` (left as it was
    /// otherwise): the hot path's form, which copies no message on the way out.
    pub fn scan(&mut self, data: &[u8], msg: &mut Message) -> (usize, Status) {
        let mut i = 0;
        let len = data.len();
        macro_rules! fail {
            ($e:expr) => {{
                self.offset += i as u64;
                return (i, Status::Error($e));
            }};
        }
        // Fast path, taken right after a type byte: when the rest of the element (its number
        // line, and for a bulk its payload and CRLF) is already in `data`, do in one step what
        // the state machine below does one state at a time. The same methods run in the same
        // order, so results are identical; anything unusual falls through to the slow path.
        macro_rules! fast_value {
            () => {
                if let State::Number(kind) = self.state {
                    if let Some((v, j)) = fast_number(data, i) {
                        i = j;
                        match self.finish_number(kind, v) {
                            Err(e) => fail!(e),
                            Ok(true) => return self.complete(i, msg),
                            Ok(false) => {}
                        }
                        if let State::Bulk(left) = self.state {
                            let end = usize::try_from(left).ok().and_then(|l| i.checked_add(l));
                            if let Some(end) = end.filter(|&e| e + 2 <= len) {
                                if data[end] == b'\r' && data[end + 1] == b'\n' {
                                    self.capture_arg(&data[i..end]);
                                    i = end + 2;
                                    self.end_arg();
                                    if self.value_done() {
                                        return self.complete(i, msg);
                                    }
                                }
                            }
                        }
                    }
                } else if self.state == State::Line {
                    if let Some(p) = memchr::memchr(b'\r', &data[i..]) {
                        if p < MAX_LINE as usize && data.get(i + p + 1) == Some(&b'\n') {
                            if self.previews && self.depth == 0 {
                                self.preview.push(&data[i..i + p]);
                            }
                            self.capture_line(&data[i..i + p]);
                            i += p + 2;
                            if self.value_done() {
                                return self.complete(i, msg);
                            }
                        }
                    }
                }
            };
        }
        while i < len {
            // Whole-message fast path: most segments hold many complete messages. Without
            // previews nothing but the name, the argument count and the type is needed, and a
            // message that is entirely in `data` can be walked in one tight loop. Anything
            // incomplete or unusual returns `None` and the state machine below handles it.
            if self.state == State::Start && !self.in_msg && !self.previews {
                if let Some(end) = whole_message(self.role, &data[i..], &mut msg.kind) {
                    msg.start = self.offset + i as u64;
                    i += end;
                    self.offset += i as u64;
                    msg.end = self.offset;
                    self.preview.len = 0;
                    return (i, Status::Message);
                }
            }
            match self.state {
                State::Start => {
                    let b = data[i];
                    if !self.in_msg {
                        self.begin_message(self.offset + i as u64);
                    }
                    match self.role {
                        Role::Requests => {
                            if b == b'*' {
                                self.ty = b'*';
                                self.begin_number(Num::Aggregate(b'*'));
                                i += 1;
                                fast_value!();
                            } else {
                                self.ty = b'i';
                                self.state = State::Inline;
                                self.line_len = 0;
                                self.in_token = false;
                            }
                        }
                        Role::Replies => {
                            if let Err(e) = self.start_value(b) {
                                fail!(e);
                            }
                            i += 1;
                            fast_value!();
                        }
                    }
                }
                State::Type => {
                    let b = data[i];
                    match self.role {
                        Role::Requests => {
                            if b != b'$' {
                                fail!(ParseError::ExpectedBulk(b));
                            }
                            self.begin_number(Num::Bulk(b'$'));
                        }
                        Role::Replies => {
                            if let Err(e) = self.start_value(b) {
                                fail!(e);
                            }
                        }
                    }
                    i += 1;
                    fast_value!();
                }
                State::Number(kind) => {
                    while i < len {
                        let b = data[i];
                        if b.is_ascii_digit() {
                            let next =
                                self.num.checked_mul(10).and_then(|n| n.checked_add(i64::from(b - b'0')));
                            match next {
                                Some(n) if self.digits < MAX_DIGITS => self.num = n,
                                _ => fail!(ParseError::BadNumber),
                            }
                            self.digits += 1;
                        } else if b == b'-' && self.digits == 0 && !self.neg {
                            self.neg = true;
                        } else if b == b'\r' {
                            i += 1;
                            self.state = State::NumberLf(kind);
                            break;
                        } else {
                            fail!(ParseError::BadNumber);
                        }
                        i += 1;
                    }
                }
                State::NumberLf(kind) => {
                    if data[i] != b'\n' {
                        fail!(ParseError::MissingCrlf);
                    }
                    i += 1;
                    if self.digits == 0 {
                        fail!(ParseError::BadNumber);
                    }
                    let v = if self.neg { -self.num } else { self.num };
                    match self.finish_number(kind, v) {
                        Err(e) => fail!(e),
                        Ok(true) => return self.complete(i, msg),
                        Ok(false) => {}
                    }
                }
                State::Line => {
                    let rest = &data[i..];
                    let (n, found) = match memchr::memchr(b'\r', rest) {
                        Some(p) => (p, true),
                        None => (rest.len(), false),
                    };
                    self.line_len = self.line_len.saturating_add(n as u32);
                    if self.line_len > MAX_LINE {
                        fail!(ParseError::LineTooLong);
                    }
                    if self.previews && self.depth == 0 {
                        self.preview.push(&rest[..n]);
                    }
                    self.capture_line(&rest[..n]);
                    i += n;
                    if found {
                        i += 1;
                        self.state = State::LineLf;
                    }
                }
                State::LineLf => {
                    if data[i] != b'\n' {
                        fail!(ParseError::MissingCrlf);
                    }
                    i += 1;
                    if self.value_done() {
                        return self.complete(i, msg);
                    }
                }
                State::Inline => {
                    let rest = &data[i..];
                    let (n, found) = match memchr::memchr(b'\n', rest) {
                        Some(p) => (p, true),
                        None => (rest.len(), false),
                    };
                    self.line_len = self.line_len.saturating_add(n as u32);
                    if self.line_len > MAX_LINE {
                        fail!(ParseError::LineTooLong);
                    }
                    self.scan_inline(&rest[..n]);
                    i += n;
                    if found {
                        i += 1;
                        if self.argc == 0 {
                            // An empty line: Redis skips it, so do we.
                            self.in_msg = false;
                            self.state = State::Start;
                            continue;
                        }
                        return self.complete(i, msg);
                    }
                }
                State::Bulk(left) => {
                    let take = (len - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    self.capture_arg(&data[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 { State::BulkCr } else { State::Bulk(left) };
                }
                State::BulkCr => {
                    if data[i] != b'\r' {
                        fail!(ParseError::MissingCrlf);
                    }
                    i += 1;
                    self.state = State::BulkLf;
                }
                State::BulkLf => {
                    if data[i] != b'\n' {
                        fail!(ParseError::MissingCrlf);
                    }
                    i += 1;
                    self.end_arg();
                    if self.value_done() {
                        return self.complete(i, msg);
                    }
                }
            }
        }
        self.offset += i as u64;
        (i, Status::Incomplete)
    }

    #[inline]
    fn begin_message(&mut self, at: u64) {
        self.in_msg = true;
        self.msg_start = at;
        self.argc = 0;
        self.arg_idx = 0;
        self.arg_len = 0;
        self.arg_shown = 0;
        // Only lengths are reset: the bytes behind them are never read past `len`.
        self.name.len = 0;
        self.sub.len = 0;
        self.arg2.len = 0;
        self.head.len = 0;
        self.top_len = 0;
        self.last_int = None;
        self.elem = 0;
        self.preview.len = 0;
        self.redactor = Redactor::default();
        self.depth = 0;
    }

    #[inline]
    fn begin_number(&mut self, kind: Num) {
        self.num = 0;
        self.neg = false;
        self.digits = 0;
        self.state = State::Number(kind);
    }

    /// Dispatches on a reply type byte.
    #[inline]
    fn start_value(&mut self, b: u8) -> Result<(), ParseError> {
        self.value_ty = b;
        if self.depth == 1 {
            self.last_int = None;
        }
        if self.depth == 0 {
            self.ty = b;
            if self.previews {
                self.preview.push(&[b]);
            }
        }
        match b {
            b'*' | b'%' | b'~' | b'>' | b'|' => self.begin_number(Num::Aggregate(b)),
            b'$' | b'!' | b'=' => self.begin_number(Num::Bulk(b)),
            b':' => self.begin_number(Num::Integer),
            b'+' | b'-' | b'_' | b'#' | b',' | b'(' => {
                self.line_len = 0;
                self.state = State::Line;
            }
            _ => return Err(ParseError::UnexpectedType(b)),
        }
        Ok(())
    }

    /// Acts on a complete number line. Returns `Ok(true)` when the message is complete.
    #[inline]
    fn finish_number(&mut self, kind: Num, v: i64) -> Result<bool, ParseError> {
        if self.previews && self.role == Role::Replies && self.depth == 0 {
            let mut buf = itoa_buf(v);
            self.preview.push(buf.as_bytes_mut());
        }
        match kind {
            Num::Integer => {
                if self.depth == 1 && self.shaped() {
                    self.last_int = Some(v);
                }
                Ok(self.value_done())
            }
            Num::Aggregate(t) => {
                if v < -1 {
                    return Err(ParseError::LengthOutOfRange);
                }
                if self.depth == 0 && (t == b'*' || t == b'>') && self.role == Role::Replies {
                    self.top_len = u32::try_from(v.max(0)).unwrap_or(u32::MAX);
                }
                if self.role == Role::Requests {
                    if v > i64::from(i32::MAX) {
                        return Err(ParseError::LengthOutOfRange);
                    }
                    if v <= 0 {
                        // `*0` and `*-1` are not commands: Redis resets and reads on.
                        self.in_msg = false;
                        self.state = State::Start;
                        return Ok(false);
                    }
                    self.argc = v as u32;
                }
                if v <= 0 {
                    // Null or empty aggregate: a complete value.
                    return Ok(self.value_done());
                }
                if self.depth == MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                let n = v as u64;
                let left = if t == b'%' || t == b'|' { n.saturating_mul(2) } else { n };
                self.stack[self.depth] = Level { left, attribute: t == b'|' };
                self.depth += 1;
                self.state = State::Type;
                Ok(false)
            }
            Num::Bulk(_) => {
                if v == -1 && self.role == Role::Replies {
                    return Ok(self.value_done());
                }
                if v < 0 || (self.role == Role::Requests && v > MAX_REQUEST_BULK) {
                    return Err(ParseError::LengthOutOfRange);
                }
                self.arg_len = v as u64;
                self.arg_shown = 0;
                self.state = if v == 0 { State::BulkCr } else { State::Bulk(v as u64) };
                if self.previews && self.role == Role::Replies && self.depth == 0 {
                    self.preview.push(b" ");
                }
                Ok(false)
            }
        }
    }

    /// Records the end of one value; pops finished aggregates. Returns true when the top-level
    /// message is complete.
    #[inline]
    fn value_done(&mut self) -> bool {
        loop {
            if self.depth == 0 {
                self.state = State::Start;
                return true;
            }
            if self.depth == 1 {
                self.elem = self.elem.saturating_add(1);
            }
            let top = &mut self.stack[self.depth - 1];
            top.left -= 1;
            if top.left > 0 {
                self.state = State::Type;
                return false;
            }
            let attribute = top.attribute;
            self.depth -= 1;
            if attribute {
                // An attribute annotates the value after it: that value takes the attribute's
                // place, so the parent's count is not decremented.
                self.state = if self.depth == 0 { State::Start } else { State::Type };
                if self.depth == 0 && self.previews {
                    self.preview = Preview::default();
                }
                return false;
            }
        }
    }

    #[inline]
    fn capture_arg(&mut self, bytes: &[u8]) {
        if self.role == Role::Requests && self.depth == 1 {
            match self.arg_idx {
                0 => {
                    self.name.push(bytes);
                }
                1 => {
                    self.sub.push(bytes);
                }
                2 => {
                    self.arg2.push(bytes);
                }
                _ => {}
            }
            if self.arg_idx > 0 && self.redactor.hides_any() && !self.arg_head.is_full() {
                self.arg_head.push(bytes);
            }
        } else if self.role == Role::Replies && self.depth == 1 && self.elem == 0 && self.shaped() {
            self.head.push(bytes);
        }
        if self.previews && self.arg_shown < ARG_PREVIEW {
            let n = (ARG_PREVIEW - self.arg_shown).min(bytes.len());
            let part = &bytes[..n];
            if self.role == Role::Replies {
                if self.depth == 0 {
                    self.preview.push(part);
                }
            } else if !self.redactor.redacting(self.arg_idx) {
                if self.arg_shown == 0 && self.arg_idx > 0 {
                    self.preview.push(b" ");
                }
                if self.arg_idx == 0 {
                    let mut up = [0u8; ARG_PREVIEW];
                    up[..n].copy_from_slice(part);
                    up[..n].make_ascii_uppercase();
                    self.preview.push(&up[..n]);
                } else {
                    self.preview.push(part);
                }
            }
            self.arg_shown += n;
        }
    }

    /// A simple string's or error's bytes: the head of a reply when the line is the reply, or
    /// the first element of a top-level aggregate.
    #[inline]
    fn capture_line(&mut self, bytes: &[u8]) {
        if (self.value_ty == b'+' || self.value_ty == b'-')
            && (self.depth == 0 || (self.depth == 1 && self.elem == 0 && self.shaped()))
        {
            self.head.push(bytes);
        }
    }

    /// A reply whose elements make its [`Shape`]: a top-level array or push (a map's or a
    /// set's do not).
    #[inline]
    fn shaped(&self) -> bool {
        self.ty == b'*' || self.ty == b'>'
    }

    #[inline]
    fn end_arg(&mut self) {
        if self.role != Role::Requests {
            return;
        }
        if self.arg_idx == 0 {
            let n = self.name.len as usize;
            self.name.buf[..n].make_ascii_uppercase();
            self.redactor.command(self.name.as_bytes());
        } else if self.redactor.hides_any() {
            let head = self.arg_head;
            self.redactor.argument(self.arg_idx, head.as_bytes());
            self.arg_head.len = 0;
        }
        if self.previews {
            if self.redactor.redacting(self.arg_idx) {
                self.preview.push(b" ***");
            } else if self.arg_len as usize > self.arg_shown {
                let mut note = [0u8; 32];
                let n = write_elided(&mut note, self.arg_len);
                self.preview.push(&note[..n]);
            }
        }
        self.arg_idx += 1;
        self.arg_shown = 0;
    }

    fn scan_inline(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b' ' || b == b'\t' || b == b'\r' {
                if self.in_token && self.argc == 1 {
                    self.redactor.command(self.name.as_bytes());
                }
                self.in_token = false;
                continue;
            }
            if !self.in_token {
                self.in_token = true;
                self.argc += 1;
                if self.previews && self.argc > 1 {
                    // Inline arguments are not tokenised by keyword: a command that carries a
                    // secret anywhere has all of its inline arguments hidden.
                    let hidden = self.redactor.hides_any();
                    if !(hidden && self.argc > 2) {
                        self.preview.push(if hidden { b" ***" } else { b" " });
                    }
                }
            }
            let b_up = if self.argc == 1 { b.to_ascii_uppercase() } else { b };
            match self.argc {
                1 => {
                    self.name.push(&[b_up]);
                }
                2 => {
                    self.sub.push(&[b]);
                }
                3 => {
                    self.arg2.push(&[b]);
                }
                _ => {}
            }
            if self.previews && (self.argc == 1 || !self.redactor.hides_any()) {
                self.preview.push(&[b_up]);
            }
        }
    }

    /// Finishes a message whose last byte was `data[i - 1]`, writing it into `msg`.
    #[inline]
    fn complete(&mut self, i: usize, msg: &mut Message) -> (usize, Status) {
        self.offset += i as u64;
        self.in_msg = false;
        self.state = State::Start;
        msg.start = self.msg_start;
        msg.end = self.offset;
        msg.kind = match self.role {
            Role::Requests => {
                if self.ty == b'i' {
                    self.name.buf[..self.name.len as usize].make_ascii_uppercase();
                }
                Kind::Command {
                    name: self.name,
                    argc: self.argc,
                    inline: self.ty == b'i',
                    sub: self.sub,
                    arg2: self.arg2,
                }
            }
            Role::Replies => {
                let last_int = if self.top_len <= SHAPE_MAX_LEN { self.last_int } else { None };
                let shape = Shape { head: self.head, len: self.top_len, last_int };
                Kind::Reply {
                    ty: self.ty,
                    error: self.ty == b'-' || self.ty == b'!',
                    push: self.ty == b'>',
                    shape,
                }
            }
        };
        (i, Status::Message)
    }
}
