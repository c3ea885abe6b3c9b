//! What the console shows of a connection beyond its exported numbers: its most recent
//! segments (the Packets pane and the Timeline), the deepest pipeline since the previous
//! snapshot, the capture times of its first and last packets, and its write batches of the
//! last minutes. Live feeds send it beside
//! the contract-v1 report, which stays free of view-only fields.

use crate::analysis::wire::batchlog::BatchLog;
use crate::analysis::wire::{Connection, SegmentLine};

/// One connection's recent activity, for a live view.
#[derive(Clone, Debug, Default)]
pub struct ConnActivity {
    /// The connection's number (its report's `id`).
    pub id: u64,
    /// Its most recent segments, oldest first.
    pub recent: Vec<SegmentLine>,
    /// Deepest pipeline since the previous snapshot.
    pub interval_max_depth: i64,
    /// Capture time of its first packet (µs since the Unix epoch).
    pub first_ts_us: i64,
    /// Capture time of its last packet (µs since the Unix epoch).
    pub last_ts_us: i64,
    /// It ended (FIN or RST seen).
    pub closed: bool,
    /// Its write batches over the last minutes (shared with the feed, chunk by chunk).
    pub batches: BatchLog,
}

impl ConnActivity {
    /// The activity of `c` now.
    pub fn of(c: &Connection) -> ConnActivity {
        ConnActivity {
            id: c.id,
            recent: c.recent().copied().collect(),
            interval_max_depth: c.conv().interval_max_depth,
            first_ts_us: c.first_ts,
            last_ts_us: c.last_ts,
            closed: c.closed,
            batches: c.batch_log().cloned().unwrap_or_default(),
        }
    }
}
