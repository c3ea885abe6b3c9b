//! What the scanner finds: which side a stream carries, the messages it completes, what they
//! are, and why it stops.

use super::bytes::{Arg, Head, Name};

/// Which side of the conversation a byte stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Client to server: commands.
    Requests,
    /// Server to client: replies and pushes.
    Replies,
}

/// Why a stream stopped parsing. Small and `Copy`: this is hit on garbage input in the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A byte that cannot start a value here.
    UnexpectedType(u8),
    /// A request item that does not start with `$` (Redis: "expected '$'").
    ExpectedBulk(u8),
    /// A length or integer line with a non-digit, no digits, or too many digits.
    BadNumber,
    /// A length outside what Redis accepts (negative other than -1, or over the limits).
    LengthOutOfRange,
    /// A line longer than 64 KiB.
    LineTooLong,
    /// A bulk payload or a header not followed by CRLF.
    MissingCrlf,
    /// Aggregates nested deeper than [`super::scan::MAX_DEPTH`].
    TooDeep,
    /// What should have been an RDB file's header (`$<len>` or `$EOF:<mark>`) was not.
    BadRdb,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::UnexpectedType(b) => write!(f, "unexpected byte 0x{b:02x} where a value starts"),
            ParseError::ExpectedBulk(b) => write!(f, "expected '$' in a multibulk request, got 0x{b:02x}"),
            ParseError::BadNumber => f.write_str("malformed length or integer"),
            ParseError::LengthOutOfRange => f.write_str("length out of range"),
            ParseError::LineTooLong => f.write_str("line longer than 64 KiB"),
            ParseError::MissingCrlf => f.write_str("missing CRLF"),
            ParseError::TooDeep => f.write_str("aggregates nested too deep"),
            ParseError::BadRdb => f.write_str("not an RDB header where a replica's RDB file was due"),
        }
    }
}

/// Where inside a message a cut falls: what the scanner has read of the message when its bytes
/// stop at a TCP segment's end. Every byte offset inside a message has exactly one position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Inside the top-level header `*N\r\n` (after the `*`, up to and including its `\r`);
    /// for replies, any aggregate's header (`* % ~ > |`).
    ArrayHeader,
    /// Inside an element's header `$N\r\n` (after the `$`, up to and including its `\r`).
    BulkHeader,
    /// Right after a complete `$N\r\n` (N > 0), before the first payload byte.
    BeforeBulkPayload,
    /// Inside a bulk payload, after `k` of its `n` bytes (0 < k < n).
    BulkPayload {
        /// Payload bytes before the cut.
        k: u64,
        /// Payload length.
        n: u64,
    },
    /// In the CRLF after a bulk payload: after the payload's last byte (before `\r`), or
    /// between its `\r` and `\n`.
    Crlf,
    /// After the array header's or an element's final `\n`, before the next element's type
    /// byte (`$`).
    BetweenElements,
    /// Inside an inline command (before its final `\n`).
    Inline,
    /// Replies only: inside a one-line value (simple string, error, integer, double…).
    Line,
}

impl Position {
    /// The name used in JSON (`snake_case`).
    pub fn name(self) -> &'static str {
        match self {
            Position::ArrayHeader => "array_header",
            Position::BulkHeader => "bulk_header",
            Position::BeforeBulkPayload => "before_bulk_payload",
            Position::BulkPayload { .. } => "bulk_payload",
            Position::Crlf => "crlf",
            Position::BetweenElements => "between_elements",
            Position::Inline => "inline",
            Position::Line => "line",
        }
    }

    /// Short human description of a cut here (the `cut` of a split command).
    pub fn describe(self) -> &'static str {
        match self {
            Position::ArrayHeader => "inside the array header",
            Position::BulkHeader => "inside a bulk header",
            Position::BeforeBulkPayload => "before a bulk payload",
            Position::BulkPayload { .. } => "inside a bulk payload",
            Position::Crlf => "in a bulk payload's trailing CRLF",
            Position::BetweenElements => "between elements",
            Position::Inline => "inside an inline command",
            Position::Line => "inside a line",
        }
    }

    /// The description with the payload's numbers: "inside a bulk payload, after 3 of 10
    /// bytes".
    pub fn describe_exact(self) -> String {
        match self {
            Position::BulkPayload { k, n } => format!("inside a bulk payload, after {k} of {n} bytes"),
            p => p.describe().to_string(),
        }
    }
}

/// What a completed message was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A command (request).
    Command {
        /// First argument, upper-cased.
        name: Name,
        /// Number of arguments including the name.
        argc: u32,
        /// True for an inline (telnet-style) command.
        inline: bool,
        /// Leading bytes of the second argument (a subcommand: `CLIENT REPLY`, `CONFIG GET`),
        /// as sent.
        sub: Arg,
        /// Leading bytes of the third argument (`CLIENT REPLY OFF`), as sent.
        arg2: Arg,
    },
    /// A reply or push (server to client).
    Reply {
        /// Type byte of the value (after any attribute).
        ty: u8,
        /// True for `-` and `!`.
        error: bool,
        /// True for a RESP3 push (`>`): out of band, not a reply.
        push: bool,
        /// What tells replies apart where one command is not one reply ([`Shape`]).
        shape: Shape,
    },
    /// An RDB file a replication stream carries after `+FULLRESYNC` (or as `SYNC`'s answer):
    /// `$<len>` and that many bytes with no CRLF, or `$EOF:<mark>` up to the mark again.
    Rdb {
        /// Sent without a length, ended by a 40-byte mark (diskless replication).
        diskless: bool,
    },
}

/// The few bytes of a reply that say what it is when replies are not one per command: a
/// pub/sub confirmation or message, a MONITOR feed line, `+FULLRESYNC`. Kept for every reply
/// at the cost of a few copies, whatever path the scanner took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// A simple string's or error's first bytes, or the first element of a top-level array or
    /// push when that element is a bulk, simple string or error.
    pub head: Head,
    /// Elements of a top-level array or push (0 otherwise).
    pub len: u32,
    /// The last element of a top-level array or push of at most four elements, when it is an
    /// integer (a subscription confirmation's count).
    pub last_int: Option<i64>,
}

/// Aggregates longer than this do not record their last integer (no confirmation is).
pub const SHAPE_MAX_LEN: u32 = 4;

/// A complete top-level message found by the scanner.
#[derive(Clone, Copy, Debug)]
pub struct Message {
    /// Stream offset of its first byte.
    pub start: u64,
    /// Stream offset one past its last byte.
    pub end: u64,
    /// What it was.
    pub kind: Kind,
}

impl Message {
    /// A placeholder for [`super::Scanner::scan`] to write a message over.
    pub const EMPTY: Message = Message { start: 0, end: 0, kind: Kind::Rdb { diskless: false } };
}

/// The result of one [`super::Scanner::advance`] call.
#[derive(Clone, Copy, Debug)]
pub enum Outcome {
    /// All input was consumed and no message completed.
    Incomplete,
    /// A message completed; the bytes after it were not consumed yet.
    Message(Message),
    /// The input is not RESP at this point; the scanner must be reset or resynchronised.
    Error(ParseError),
}

/// The result of one [`super::Scanner::scan`] call: an [`Outcome`] whose message was written
/// where the caller keeps it. A message is some hundred bytes, and the hot path would
/// otherwise copy it at every layer it is handed through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// All input was consumed and no message completed.
    Incomplete,
    /// A message completed and was written; the bytes after it were not consumed yet.
    Message,
    /// The input is not RESP at this point; the scanner must be reset or resynchronised.
    Error(ParseError),
}
