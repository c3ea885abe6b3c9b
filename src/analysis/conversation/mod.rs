//! One connection's Redis conversation: commands, replies and what lies between them.
//!
//! Fed by the two [`RespStream`](crate::analysis::resp::RespStream)s of a connection in
//! capture order. Pairing is FIFO (the i-th reply answers the i-th command; RESP3 pushes are
//! out of band), latency runs from the command's last byte to the reply's last byte on packet
//! timestamps, and pipeline depth is commands completed minus replies completed, as contract v1
//! defines them.

pub mod batches;
pub mod latency;

use std::collections::VecDeque;

use crate::analysis::resp::{Found, Split};
use crate::protocol::resp::{Kind, Name, Preview, Token};

pub use batches::Batches;
pub use latency::{Latency, LatencySummary};

/// Commands waiting for a reply, per connection. Beyond this the oldest is given up (and
/// counted) rather than growing without bound; a real pipeline is limited by socket buffers
/// long before.
pub const MAX_PENDING: usize = 1 << 20;
/// Split commands kept in detail per connection (all are counted).
pub const MAX_SPLIT_RECORDS: usize = 1000;

/// The segment that first carried some bytes: what every byte of a stream is tagged with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegRef {
    /// Frame number in the capture (1-based, as Wireshark counts).
    pub frame: u64,
    /// Capture timestamp (µs).
    pub ts: i64,
    /// Write batch this segment belongs to (client to server only).
    pub batch: u64,
}

/// A command that straddled segments, for the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SplitCommand {
    /// 1-based position of the command in its connection.
    pub index: u64,
    /// Command name.
    #[serde(serialize_with = "ser_bytes")]
    pub name: Name,
    /// Redacted preview.
    #[serde(serialize_with = "ser_bytes")]
    pub preview: Preview,
    /// Stream offset of its first byte (client to server bytes).
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Frame holding its first byte.
    pub first_frame: u64,
    /// Bytes of it in that frame.
    pub first_bytes: u64,
    /// Frame holding its last byte.
    pub last_frame: u64,
    /// Bytes of it in that frame.
    pub last_bytes: u64,
    /// Segments it spans.
    pub segments: u32,
    /// Where the first cut fell.
    #[serde(serialize_with = "ser_token")]
    pub cut: Token,
}

fn ser_bytes<S: serde::Serializer, const N: usize>(
    v: &crate::protocol::resp::InlineBytes<N>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string_lossy())
}

fn ser_token<S: serde::Serializer>(t: &Token, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.describe())
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    ts: i64,
    name: u32,
    /// No other command was waiting when this one completed.
    alone: bool,
}

/// Per-connection conversation state.
#[derive(Debug, Default)]
pub struct Conversation {
    /// Complete commands.
    pub commands: u64,
    /// Complete replies (pushes excluded).
    pub replies: u64,
    /// Replies of type `-` or `!`.
    pub errors: u64,
    /// RESP3 pushes.
    pub pushes: u64,
    /// Commands that straddled segments.
    pub split_commands: u64,
    /// Replies that straddled segments.
    pub split_replies: u64,
    /// The first [`MAX_SPLIT_RECORDS`] split commands.
    pub splits: Vec<SplitCommand>,
    /// Latency of paired commands.
    pub latency: Latency,
    /// Commands completed minus replies completed, now.
    pub depth: i64,
    /// Deepest the pipeline got.
    pub max_depth: i64,
    /// Deepest since [`Conversation::start_interval`] (the console's depth over time).
    pub interval_max_depth: i64,
    /// Write batches.
    pub batches: Batches,
    /// Replies that found no command waiting (capture joined mid-conversation, or loss).
    pub unmatched_replies: u64,
    /// Commands given up because the pending queue was full.
    pub pending_overflow: u64,
    /// Name id of the last command completed.
    pub last_command: u32,
    /// Latency of PINGs sent with nothing else in flight: the client's own round trips.
    pub ping_rtt: crate::analysis::tcp::rtt::RttStats,
    pending: VecDeque<Pending>,
}

/// What the conversation made of one message (for the per-segment listing).
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// A command, with its index.
    Command(u64),
    /// A reply, with the command it answered and that command's latency.
    Reply {
        /// Index of the answered command, when one was waiting.
        answers: Option<u64>,
        /// Latency in µs, when paired.
        latency_us: Option<u64>,
    },
    /// A push.
    Push,
}

impl Conversation {
    /// A command completed. `name_id` identifies its name in the analyzer's name table.
    pub fn command(&mut self, f: &Found<SegRef>, preview: &Preview, name_id: u32) -> Step {
        self.commands += 1;
        self.last_command = name_id;
        self.depth += 1;
        self.max_depth = self.max_depth.max(self.depth);
        self.interval_max_depth = self.interval_max_depth.max(self.depth);
        self.batches.command(f.last.batch);
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.pending_overflow += 1;
        }
        let alone = self.pending.is_empty();
        self.pending.push_back(Pending { ts: f.last.ts, name: name_id, alone });
        if let Some(split) = &f.split {
            self.split_commands += 1;
            if self.splits.len() < MAX_SPLIT_RECORDS {
                self.splits.push(split_record(self.commands, f, preview, split));
            }
        }
        Step::Command(self.commands)
    }

    /// A reply or push completed. Returns the step and, when paired, the name id of the
    /// command it answered and whether that command was alone in flight.
    pub fn reply(&mut self, f: &Found<SegRef>) -> (Step, Option<(u32, bool)>) {
        let Kind::Reply { error, push, .. } = f.msg.kind else {
            return (Step::Push, None);
        };
        if push {
            self.pushes += 1;
            return (Step::Push, None);
        }
        self.replies += 1;
        self.depth -= 1;
        if error {
            self.errors += 1;
        }
        if f.split.is_some() {
            self.split_replies += 1;
        }
        match self.pending.pop_front() {
            Some(p) => {
                let us = u64::try_from(f.last.ts - p.ts).unwrap_or(0);
                self.latency.record(us);
                let answered = self.replies + self.pending_overflow;
                (Step::Reply { answers: Some(answered), latency_us: Some(us) }, Some((p.name, p.alone)))
            }
            None => {
                self.unmatched_replies += 1;
                (Step::Reply { answers: None, latency_us: None }, None)
            }
        }
    }

    /// Gives up what a finished connection no longer needs: latency samples (their summary
    /// stays) and the queue of commands waiting for replies.
    pub fn compact(&mut self) {
        self.latency.freeze();
        self.pending = VecDeque::new();
    }

    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.splits.capacity() * std::mem::size_of::<SplitCommand>()
            + self.latency.heap_bytes()
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.batches.heap_bytes()
    }

    /// Starts a new interval for [`Conversation::interval_max_depth`].
    pub fn start_interval(&mut self) {
        self.interval_max_depth = self.depth.max(0);
    }

    /// Commands still waiting for a reply.
    pub fn unanswered(&self) -> u64 {
        self.commands.saturating_sub(self.replies)
    }
}

fn split_record(index: u64, f: &Found<SegRef>, preview: &Preview, s: &Split<SegRef>) -> SplitCommand {
    let name = match f.msg.kind {
        Kind::Command { name, .. } => name,
        Kind::Reply { .. } => Name::default(),
    };
    SplitCommand {
        index,
        name,
        preview: *preview,
        offset: f.msg.start,
        len: f.msg.end - f.msg.start,
        first_frame: s.first.frame,
        first_bytes: s.first_bytes,
        last_frame: f.last.frame,
        last_bytes: s.last_bytes,
        segments: s.chunks,
        cut: s.token,
    }
}
