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

/// Where inside a message the scanner stands: used to say at which token a command was split
/// across TCP segments ("after `$5`, before CRLF").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    /// Between two values: the cut fell on a clean token boundary.
    Boundary,
    /// Inside a length or integer (`$5` with more digits possibly to come).
    Length,
    /// Between the `\r` and the `\n` of a header line.
    HeaderCrlf,
    /// Inside a bulk payload.
    Payload,
    /// In the CRLF that ends a bulk payload.
    PayloadCrlf,
    /// Inside a simple or inline line.
    Line,
}

impl Token {
    /// Short human description of a cut at this token.
    pub fn describe(self) -> &'static str {
        match self {
            Token::Boundary => "between tokens",
            Token::Length => "inside a length, before its CRLF",
            Token::HeaderCrlf => "inside a header CRLF",
            Token::Payload => "inside a bulk payload",
            Token::PayloadCrlf => "before a bulk's trailing CRLF",
            Token::Line => "inside a line",
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
