//! What the wire analyzer reports besides connections: capture counts, TCP analysis counts,
//! per-segment records for listings, and sums over connections.

use crate::analysis::conversation::{SegRef, Step};
use crate::analysis::resp::Found;
use crate::analysis::tcp::flags;
use crate::protocol::resp::{Name, ParseError};

use super::Connection;

/// Whole-capture counters.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CaptureCounts {
    /// Every record read.
    pub packets: u64,
    /// TCP packets on a Redis port.
    pub tcp_packets: u64,
    /// First timestamp (µs).
    pub first_ts: Option<i64>,
    /// Last timestamp (µs).
    pub last_ts: Option<i64>,
    /// Records that were not IP/TCP.
    pub not_tcp: u64,
    /// Records too short to decode.
    pub truncated: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// TCP segments whose payload was cut by the snap length.
    pub snapped: u64,
}

/// Per-connection TCP analysis counts. `u32`, saturating: a connection is kept in a few
/// hundred bytes, and no connection sees four billion of any of these.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct TcpCounts {
    /// Segments advertising a zero window.
    pub zero_windows: u32,
    /// Window updates.
    pub window_updates: u32,
    /// Segments that filled the receiver's window exactly.
    pub window_full: u32,
    /// Zero-window probes (tshark's and Linux's).
    pub zero_window_probes: u32,
    /// Retransmissions (plain, fast and spurious).
    pub retransmissions: u32,
    /// Out-of-order segments.
    pub out_of_order: u32,
    /// Previous segment not captured.
    pub lost_segments: u32,
    /// Segments tshark calls Keep-Alive (Linux window probes among them).
    #[serde(skip)]
    pub keep_alives: u32,
    /// Duplicate ACKs.
    #[serde(skip)]
    pub duplicate_acks: u32,
}

impl TcpCounts {
    pub(super) fn add(&mut self, f: u32) {
        const COUNTED: u32 = flags::ZERO_WINDOW
            | flags::WINDOW_UPDATE
            | flags::WINDOW_FULL
            | flags::ANY_ZERO_WINDOW_PROBE
            | flags::ANY_RETRANSMISSION
            | flags::OUT_OF_ORDER
            | flags::LOST_SEGMENT
            | flags::KEEP_ALIVE
            | flags::DUPLICATE_ACK;
        // Most segments raise none of them: one test instead of nine.
        if f & COUNTED == 0 {
            return;
        }
        let bump = |bit: u32, c: &mut u32| {
            if f & bit != 0 {
                *c = c.saturating_add(1);
            }
        };
        bump(flags::ZERO_WINDOW, &mut self.zero_windows);
        bump(flags::WINDOW_UPDATE, &mut self.window_updates);
        bump(flags::WINDOW_FULL, &mut self.window_full);
        bump(flags::ANY_ZERO_WINDOW_PROBE, &mut self.zero_window_probes);
        bump(flags::ANY_RETRANSMISSION, &mut self.retransmissions);
        bump(flags::OUT_OF_ORDER, &mut self.out_of_order);
        bump(flags::LOST_SEGMENT, &mut self.lost_segments);
        bump(flags::KEEP_ALIVE, &mut self.keep_alives);
        bump(flags::DUPLICATE_ACK, &mut self.duplicate_acks);
    }
}

/// Direction of a segment within its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Dir {
    /// Client to server.
    #[serde(rename = "to_server")]
    ToServer,
    /// Server to client.
    #[serde(rename = "to_client")]
    ToClient,
}

impl Dir {
    /// 0 for client to server, 1 for server to client.
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
    /// Arrow for listings.
    pub fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "C→S",
            Dir::ToClient => "S→C",
        }
    }
}

/// A flow-control or loss event for a connection's timeline.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct WindowEvent {
    /// Frame number.
    pub frame: u64,
    /// Timestamp (µs).
    pub ts: i64,
    /// Direction of the segment.
    pub dir: Dir,
    /// Analysis flags ([`flags`]).
    pub flags: u32,
    /// Raw window advertised.
    pub window: u16,
    /// The window in bytes (raw shifted by the window scale).
    pub window_size: u32,
}

/// A parse error, where it happened.
#[derive(Clone, Copy, Debug)]
pub struct ParseErrorRecord {
    /// Frame in which it was found.
    pub frame: u64,
    /// Direction.
    pub dir: Dir,
    /// Stream offset.
    pub offset: u64,
    /// What was wrong.
    pub error: ParseError,
}

/// One message completed in a segment (for the per-segment listing).
#[derive(Clone, Debug)]
pub struct SegmentItem {
    /// The message.
    pub found: Found<SegRef>,
    /// Its redacted preview.
    pub preview: crate::protocol::resp::Preview,
    /// What the conversation made of it.
    pub step: Step,
}

/// One segment in a few numbers, for the console's packet list: cheap enough to keep for
/// every segment of a live capture (a bounded ring per connection).
#[derive(Clone, Copy, Debug)]
pub struct SegmentLine {
    /// Frame number.
    pub frame: u64,
    /// Microseconds since the connection's first packet.
    pub t_us: i64,
    /// Direction.
    pub dir: Dir,
    /// Payload length.
    pub len: u32,
    /// TCP flag bits.
    pub tcp_flags: u8,
    /// Raw window.
    pub window: u16,
    /// The window in bytes (raw shifted by the window scale).
    pub window_size: u32,
    /// Analysis flags.
    pub analysis: u32,
    /// Commands completed here.
    pub commands: u32,
    /// Replies completed here (error replies included).
    pub replies: u32,
    /// Error replies among them.
    pub errors: u32,
    /// Pushes completed here.
    pub pushes: u32,
    /// Name of the last command completed here.
    pub last_command: Option<Name>,
    /// Messages completed here that began in an earlier segment.
    pub split_ends: u32,
    /// A message begins here and continues in a later segment.
    pub split_starts: bool,
    /// Gaps declared here.
    pub gaps: u32,
    /// Parse errors found here.
    pub parse_errors: u32,
}

#[cfg(test)]
impl SegmentLine {
    /// A segment line for tests: `len` bytes `dir`, PSH or not, completing `commands`.
    pub(crate) fn for_test(
        frame: u64,
        t_us: i64,
        dir: Dir,
        len: u32,
        psh: bool,
        commands: u32,
    ) -> SegmentLine {
        use crate::protocol::tcp as tcpf;
        SegmentLine {
            frame,
            t_us,
            dir,
            len,
            tcp_flags: if psh { tcpf::PSH | tcpf::ACK } else { tcpf::ACK },
            window: 100,
            window_size: 100,
            analysis: 0,
            commands,
            replies: 0,
            errors: 0,
            pushes: 0,
            last_command: None,
            split_ends: 0,
            split_starts: false,
            gaps: 0,
            parse_errors: 0,
        }
    }
}

/// A message that starts in a segment and continues in a later one.
#[derive(Clone, Copy, Debug)]
pub struct SplitStart {
    /// Stream offset of its first byte.
    pub offset: u64,
    /// Its bytes in this segment.
    pub bytes: u64,
    /// Position of the cut.
    pub cut: crate::protocol::resp::Position,
    /// Its top-level header line (`*N\r\n`) is complete in this segment.
    pub header_done: bool,
}

/// One analysed segment (only built when a listing asks for it).
#[derive(Clone, Debug)]
pub struct SegmentRecord {
    /// Frame number.
    pub frame: u64,
    /// Timestamp (µs).
    pub ts: i64,
    /// Connection number ([`Connection::id`]).
    pub conn: u64,
    /// Direction.
    pub dir: Dir,
    /// Payload length.
    pub len: u32,
    /// TCP flag bits.
    pub tcp_flags: u8,
    /// Raw window.
    pub window: u16,
    /// The window in bytes (raw shifted by the window scale).
    pub window_size: u32,
    /// Analysis flags.
    pub analysis: u32,
    /// Messages completed here.
    pub items: Vec<SegmentItem>,
    /// A message that starts here and continues in a later segment: its start offset, the
    /// bytes it has here and the position of the cut.
    pub split_start: Option<SplitStart>,
    /// Gaps declared while processing this segment (stream offset, length).
    pub gaps: Vec<(u64, u64)>,
    /// Parse errors found here.
    pub errors: Vec<ParseError>,
}

/// Sums over connections: the report's totals, and the numbers of connections no longer kept
/// one by one (a long live capture keeps the most recent finished connections only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Connections.
    pub connections: u64,
    /// Commands.
    pub commands: u64,
    /// Replies.
    pub replies: u64,
    /// Error replies.
    pub errors: u64,
    /// `-MOVED` redirections (error replies).
    pub moved: u64,
    /// `-ASK` redirections (error replies).
    pub ask: u64,
    /// Pushes.
    pub pushes: u64,
    /// Split commands.
    pub split_commands: u64,
    /// Batches.
    pub batches: u64,
    /// Zero windows.
    pub zero_windows: u64,
    /// Window updates.
    pub window_updates: u64,
    /// Window full.
    pub window_full: u64,
    /// Zero-window probes.
    pub zero_window_probes: u64,
    /// Retransmissions.
    pub retransmissions: u64,
    /// Parse errors.
    pub parse_errors: u64,
    /// Gaps.
    pub gaps: u64,
}

impl Tally {
    /// Adds one connection.
    pub fn add(&mut self, c: &Connection) {
        let v = c.conv();
        self.connections += 1;
        self.commands += v.commands;
        self.replies += v.replies;
        self.errors += v.errors;
        self.moved += v.moved;
        self.ask += v.ask;
        self.pushes += v.pushes;
        self.split_commands += v.split_commands;
        self.batches += v.batches.count;
        self.zero_windows += u64::from(c.tcp.zero_windows);
        self.window_updates += u64::from(c.tcp.window_updates);
        self.window_full += u64::from(c.tcp.window_full);
        self.zero_window_probes += u64::from(c.tcp.zero_window_probes);
        self.retransmissions += u64::from(c.tcp.retransmissions);
        self.parse_errors += c.parse_errors;
        self.gaps += c.gaps;
    }

    /// Adds another tally.
    pub fn merge(&mut self, o: &Tally) {
        self.connections += o.connections;
        self.commands += o.commands;
        self.replies += o.replies;
        self.errors += o.errors;
        self.moved += o.moved;
        self.ask += o.ask;
        self.pushes += o.pushes;
        self.split_commands += o.split_commands;
        self.batches += o.batches;
        self.zero_windows += o.zero_windows;
        self.window_updates += o.window_updates;
        self.window_full += o.window_full;
        self.zero_window_probes += o.zero_window_probes;
        self.retransmissions += o.retransmissions;
        self.parse_errors += o.parse_errors;
        self.gaps += o.gaps;
    }
}
