//! One connection's Redis conversation: commands, replies and what lies between them.
//!
//! Fed by the two [`RespStream`](crate::analysis::resp::RespStream)s of a connection in
//! capture order. Pairing is FIFO (the i-th reply answers the i-th command waiting), latency
//! runs from the command's last byte to the reply's last byte on packet timestamps, and
//! pipeline depth is the number of commands waiting for a reply (contract v1.1). What is a
//! reply and what is a push where commands are not answered one for one (pub/sub, MONITOR,
//! `CLIENT REPLY`, replication) is [`pairing`]'s to say.

pub mod batches;
pub mod flush;
pub mod interleave;
pub mod latency;
pub mod library;
pub mod pairing;

use std::collections::VecDeque;

use crate::analysis::resp::{Cut, Found, Next, Split};
use crate::protocol::resp::{CutBytes, Kind, Name, Position, Preview};

pub use batches::Batches;
pub use latency::{Latency, LatencySummary};
pub use library::Library;
pub use pairing::CmdClass;
use pairing::Modes;

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
    #[serde(serialize_with = "ser_position")]
    pub cut: Position,
    /// Every segment boundary inside it, in order (the first
    /// [`MAX_CUTS`](crate::analysis::resp::MAX_CUTS)).
    pub cuts: Vec<SplitCut>,
    /// Its cuts beyond those.
    pub more_cuts: u32,
}

/// One segment boundary inside a split command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitCut {
    /// Frame holding the bytes just before the cut.
    pub before_frame: u64,
    /// Frame holding the bytes just after it.
    pub after_frame: u64,
    /// Bytes of the command before the cut.
    pub at: u64,
    /// Where in the command it fell.
    pub position: Position,
    /// The bytes on each side (secrets hidden when shown).
    pub bytes: CutBytes,
}

impl SplitCut {
    /// "before a bulk payload (byte 8 of 24)": where it fell, for people.
    pub fn describe(&self, len: u64) -> String {
        format!("{} (byte {} of {len})", self.position.describe_exact(), self.at)
    }
}

impl serde::Serialize for SplitCut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("before_frame", &self.before_frame)?;
        m.serialize_entry("after_frame", &self.after_frame)?;
        m.serialize_entry("at", &self.at)?;
        m.serialize_entry("position", self.position.name())?;
        if let Position::BulkPayload { k, n } = self.position {
            m.serialize_entry("k", &k)?;
            m.serialize_entry("n", &n)?;
        }
        m.serialize_entry("before", &self.bytes.before_text())?;
        m.serialize_entry("after", &self.bytes.after_text())?;
        m.end()
    }
}

fn ser_bytes<S: serde::Serializer, const N: usize>(
    v: &crate::protocol::resp::InlineBytes<N>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string_lossy())
}

fn ser_position<S: serde::Serializer>(p: &Position, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.describe())
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    ts: i64,
    name: u32,
    /// Its 1-based position among the connection's commands.
    index: u64,
    /// No other command was waiting when this one completed.
    alone: bool,
    class: CmdClass,
    /// The write batch owning its last byte: which batch its reply answers.
    batch: u64,
}

/// What a connection is, from what it did (contract v1.1's `kind`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnKind {
    /// Commands and their replies.
    #[default]
    Client,
    /// It held a pub/sub subscription.
    Subscriber,
    /// It ran MONITOR.
    Monitor,
    /// It synchronised as a replica (SYNC or PSYNC answered).
    Replica,
}

impl ConnKind {
    /// In words, for people.
    pub fn describe(self) -> &'static str {
        match self {
            ConnKind::Client => "client",
            ConnKind::Subscriber => "subscriber",
            ConnKind::Monitor => "MONITOR",
            ConnKind::Replica => "replica link",
        }
    }
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
    /// Error replies `-MOVED <slot> <host:port>`: a cluster node sent the client to the
    /// slot's owner.
    pub moved: u64,
    /// Error replies `-ASK <slot> <host:port>`: the slot is migrating and the key is asked
    /// of the node it is moving to, for this command only.
    pub ask: u64,
    /// Out-of-band messages: RESP3 pushes, pub/sub messages and further confirmations,
    /// MONITOR feed lines.
    pub pushes: u64,
    /// Commands that expected no reply (`CLIENT REPLY OFF`/`SKIP`, `REPLCONF ACK`).
    pub silenced: u64,
    /// Replies that came with no command waiting (a refusal on accept, or a capture joined
    /// mid-conversation): never paired.
    pub unsolicited: u64,
    /// Commands the server propagated to this replica link.
    pub propagated: u64,
    /// RDB payload bytes a replica link received.
    pub rdb_bytes: u64,
    /// What the connection is.
    pub kind: ConnKind,
    /// Commands that straddled segments.
    pub split_commands: u64,
    /// Replies that straddled segments.
    pub split_replies: u64,
    /// The first [`MAX_SPLIT_RECORDS`] split commands.
    pub splits: Vec<SplitCommand>,
    /// Latency of paired commands.
    pub latency: Latency,
    /// Commands that expect a reply minus replies, now: the commands still waiting.
    pub depth: i64,
    /// Deepest the pipeline got.
    pub max_depth: i64,
    /// Deepest since [`Conversation::start_interval`] (the console's depth over time).
    pub interval_max_depth: i64,
    /// Write batches.
    pub batches: Batches,
    /// Commands given up because the pending queue was full.
    pub pending_overflow: u64,
    /// Name id of the last command completed.
    pub last_command: u32,
    /// Latency of PINGs sent with nothing else in flight: the client's own round trips.
    pub ping_rtt: crate::analysis::tcp::rtt::RttStats,
    /// Other clients' commands inside each write batch, from the order of replies.
    pub interleave: interleave::Interleave,
    /// What the client announced about itself (boxed: most connections announce nothing).
    pub library: Option<Box<Library>>,
    pending: VecDeque<Pending>,
    modes: Modes,
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
    /// A command a master propagated (on a replica link).
    Propagated,
    /// An RDB file (on a replica link).
    Rdb,
}

impl Conversation {
    /// A command completed. `name_id` identifies its name in the analyzer's name table,
    /// `class` what it does to the conversation.
    pub fn command(
        &mut self,
        f: &Found<SegRef>,
        preview: &Preview,
        cuts: (&[Cut<SegRef>], u32),
        name_id: u32,
        class: CmdClass,
    ) -> Step {
        self.commands += 1;
        self.last_command = name_id;
        self.batches.command(f.last.batch);
        self.batches.flush.command(f.msg.end.saturating_sub(f.msg.start));
        if let Some(split) = &f.split {
            self.split_commands += 1;
            if self.splits.len() < MAX_SPLIT_RECORDS {
                self.splits.push(split_record(self.commands, f, preview, split, cuts));
            }
        }
        // MONITOR on a connection already monitoring (or about to) is ignored by Redis: no reply.
        let again = class == CmdClass::Monitor
            && (self.modes.monitoring || self.pending.iter().any(|p| p.class == CmdClass::Monitor));
        if !self.modes.command(class) || again {
            // No reply will come: not waiting, not in the pipeline's depth, no latency.
            self.silenced += 1;
            return Step::Command(self.commands);
        }
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.pending_overflow += 1;
        }
        let alone = self.pending.is_empty();
        self.pending.push_back(Pending {
            ts: f.last.ts,
            name: name_id,
            index: self.commands,
            alone,
            class,
            batch: f.last.batch,
        });
        self.add_depth(1);
        Step::Command(self.commands)
    }

    /// A command that may announce the client ([`library::may_announce`]), with its whole
    /// bytes (empty when it was split: then it is not read).
    pub fn announce(&mut self, raw: &[u8]) {
        if raw.is_empty() {
            return;
        }
        let mut l = self.library.take().unwrap_or_default();
        l.command(raw);
        self.library = (!l.is_empty()).then_some(l);
    }

    /// A command the server sent: on a replica link, what it propagates.
    pub fn propagated(&mut self) {
        self.propagated += 1;
    }

    /// A reply or push completed. Returns the step, when paired the name id of the command it
    /// answered and whether that command was alone in flight, and what the stream should
    /// parse next.
    pub fn reply(&mut self, f: &Found<SegRef>) -> (Step, Option<(u32, bool)>, Next) {
        let Kind::Reply { ty, error, push, ref shape } = f.msg.kind else {
            return (Step::Push, None, Next::Same);
        };
        let front = self.pending.front().map(|p| p.class);
        if let Some((kind, unsubscribe)) = pairing::confirmation(shape) {
            if self.kind == ConnKind::Client {
                self.kind = ConnKind::Subscriber;
            }
            self.modes.confirmed(kind, unsubscribe, shape.last_int.unwrap_or(0));
            let answers =
                matches!(front, Some(CmdClass::Subscribe { .. })) && self.modes.extra_confirmations == 0;
            if !answers {
                self.modes.extra_confirmations = self.modes.extra_confirmations.saturating_sub(1);
                return self.push();
            }
            if let Some(CmdClass::Subscribe { kind, args, .. }) = front {
                self.modes.extra_confirmations = self.modes.confirmations(kind, args).saturating_sub(1);
            }
        } else if push
            || (ty == b'*' && self.modes.subscribed() && pairing::published(shape))
            || (ty == b'+' && self.modes.monitoring && pairing::feed_line(shape.head.as_bytes()))
        {
            return self.push();
        }
        self.replies += 1;
        if error {
            self.errors += 1;
            // Errors only, and their first bytes: a cluster's redirections.
            let head = shape.head.as_bytes();
            if head.starts_with(b"MOVED ") {
                self.moved += 1;
            } else if head.starts_with(b"ASK ") {
                self.ask += 1;
            }
        }
        if f.split.is_some() {
            self.split_replies += 1;
        }
        self.add_depth(-1);
        // A refusal at accept answers nothing, even when a command was already on its way.
        let refused = error && pairing::refusal(shape);
        let Some(p) = (if refused { None } else { self.pending.pop_front() }) else {
            self.unsolicited += 1;
            return (Step::Reply { answers: None, latency_us: None }, None, Next::Same);
        };
        let us = u64::try_from(f.last.ts - p.ts).unwrap_or(0);
        self.latency.record(us);
        self.interleave.reply(p.batch, p.index, f.last.frame);
        let head = shape.head.as_bytes();
        let next = match p.class {
            CmdClass::Monitor if !error => {
                self.modes.monitoring = true;
                self.kind = ConnKind::Monitor;
                Next::Same
            }
            CmdClass::Reset if !error => {
                self.modes.reset();
                Next::Same
            }
            CmdClass::Sync { .. } if head.starts_with(b"FULLRESYNC") => {
                self.kind = ConnKind::Replica;
                Next::Rdb
            }
            CmdClass::Sync { .. } if head.starts_with(b"CONTINUE") => {
                self.kind = ConnKind::Replica;
                Next::Commands
            }
            _ => self.next_after_reply(),
        };
        let step = Step::Reply { answers: Some(p.index), latency_us: Some(us) };
        (step, Some((p.name, p.alone)), next)
    }

    /// An RDB file completed: `SYNC`'s answer, or what followed `+FULLRESYNC`.
    pub fn rdb(&mut self, f: &Found<SegRef>) {
        self.rdb_bytes += f.msg.end - f.msg.start;
        self.kind = ConnKind::Replica;
        if matches!(self.pending.front(), Some(Pending { class: CmdClass::Sync { psync: false }, .. })) {
            if let Some(p) = self.pending.pop_front() {
                self.replies += 1;
                self.latency.record(u64::try_from(f.last.ts - p.ts).unwrap_or(0));
                self.add_depth(-1);
            }
        }
    }

    /// What the reply stream must know before the next reply's first byte: `SYNC` is
    /// answered by an RDB file with no reply line before it, and a master keeps a replica
    /// waiting for `+FULLRESYNC` alive with bare newlines.
    pub fn next_after_reply(&self) -> Next {
        match self.pending.front() {
            Some(Pending { class: CmdClass::Sync { psync: false }, .. }) => Next::Rdb,
            Some(Pending { class: CmdClass::Sync { psync: true }, .. }) => Next::Keepalive,
            _ => Next::Same,
        }
    }

    fn push(&mut self) -> (Step, Option<(u32, bool)>, Next) {
        self.pushes += 1;
        (Step::Push, None, Next::Same)
    }

    /// Depth moves by one per command that expects a reply and per reply, as contract v1
    /// walks it (a reply with no command waiting, after a gap, still counts).
    fn add_depth(&mut self, by: i64) {
        self.depth += by;
        self.max_depth = self.max_depth.max(self.depth);
        self.interval_max_depth = self.interval_max_depth.max(self.depth);
    }

    /// Gives up what a finished connection no longer needs: latency samples (their summary
    /// stays) and the queue of commands waiting for replies.
    pub fn compact(&mut self) {
        self.latency.freeze();
        self.pending = VecDeque::new();
        self.batches.compact();
    }

    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.splits.capacity() * std::mem::size_of::<SplitCommand>()
            + self.splits.iter().map(|s| s.cuts.capacity() * std::mem::size_of::<SplitCut>()).sum::<usize>()
            + self.latency.heap_bytes()
            + self.pending.capacity() * std::mem::size_of::<Pending>()
            + self.batches.heap_bytes()
            + self.interleave.heap_bytes()
            + self.library.as_ref().map_or(0, |_| std::mem::size_of::<Library>())
    }

    /// Starts a new interval for [`Conversation::interval_max_depth`].
    pub fn start_interval(&mut self) {
        self.interval_max_depth = self.depth.max(0);
    }

    /// max(0, commands − silenced − (replies − unsolicited)): silenced commands never wait
    /// for a reply, and an unsolicited reply answers none (a PING refused at accept by
    /// maxclients is still unanswered).
    pub fn unanswered(&self) -> u64 {
        let paired = self.replies.saturating_sub(self.unsolicited);
        self.commands.saturating_sub(self.silenced).saturating_sub(paired)
    }
}

fn split_record(
    index: u64,
    f: &Found<SegRef>,
    preview: &Preview,
    s: &Split<SegRef>,
    (cuts, more_cuts): (&[Cut<SegRef>], u32),
) -> SplitCommand {
    let name = match f.msg.kind {
        Kind::Command { name, .. } => name,
        Kind::Reply { .. } | Kind::Rdb { .. } => Name::default(),
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
        cut: s.cut,
        cuts: cuts
            .iter()
            .map(|c| SplitCut {
                before_frame: c.before.frame,
                after_frame: c.after.frame,
                at: c.at,
                position: c.position,
                bytes: c.bytes,
            })
            .collect(),
        more_cuts,
    }
}
