//! A connection's write batches over the last minutes, for the console's Timeline: what each
//! client flush carried and when, kept long after the segments that made it are gone.
//!
//! Built from the segment lines a live analyzer logs (client segments with payload, cut after
//! PSH, as the contract cuts batches), so it costs nothing in `analyze`.
//!
//! Invariants:
//! - batches are in capture order; a batch is logged once its PSH arrives (a run without one
//!   is still open and not shown, as contract v1 does not count it);
//! - at most [`KEEP_BATCHES`] batches and [`KEEP_US`] of capture time are kept, give or take
//!   one chunk: old ones leave a whole chunk at a time;
//! - the log is chunks of [`CHUNK`] batches behind `Arc`s, so a snapshot clones a few
//!   pointers, never the batches; a chunk a snapshot shares is copied once when the next
//!   batch is added to it.

use std::collections::VecDeque;
use std::sync::Arc;

use super::records::SegmentLine;
use super::Dir;
use crate::protocol::tcp as tcpf;

/// Batches kept per connection.
pub const KEEP_BATCHES: usize = 10_000;
/// Capture time kept per connection (µs): ten minutes.
pub const KEEP_US: i64 = 600_000_000;
/// Batches per shared chunk.
pub const CHUNK: usize = 256;

/// One write batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoggedBatch {
    /// Frame of its first segment.
    pub first_frame: u64,
    /// Capture time of its first segment (µs since the Unix epoch).
    pub t_first_us: i64,
    /// Capture time of its last segment.
    pub t_last_us: i64,
    /// Payload bytes.
    pub bytes: u64,
    /// Segments.
    pub segments: u32,
    /// Commands completed in it.
    pub commands: u32,
    /// Commands that start in it and end in a later segment.
    pub splits: u32,
}

/// The batches of one connection, newest last.
#[derive(Clone, Debug, Default)]
pub struct BatchLog {
    chunks: VecDeque<Arc<Vec<LoggedBatch>>>,
    len: usize,
    open: Option<LoggedBatch>,
    /// The newest batch's end, kept beside the chunks: a view asking about a window the log
    /// does not reach answers without touching them.
    newest_us: Option<i64>,
}

impl BatchLog {
    /// Adds a logged segment of the connection whose first packet was at `first_ts` (µs).
    pub fn segment(&mut self, line: &SegmentLine, first_ts: i64, keep: usize) {
        if line.dir != Dir::ToServer || line.len == 0 {
            return;
        }
        let t = first_ts.saturating_add(line.t_us);
        let b = self.open.get_or_insert(LoggedBatch {
            first_frame: line.frame,
            t_first_us: t,
            t_last_us: t,
            ..LoggedBatch::default()
        });
        b.t_last_us = t;
        b.segments = b.segments.saturating_add(1);
        b.bytes = b.bytes.saturating_add(u64::from(line.len));
        b.commands = b.commands.saturating_add(line.commands);
        b.splits = b.splits.saturating_add(u32::from(line.split_starts));
        if line.tcp_flags & tcpf::PSH != 0 {
            if let Some(b) = self.open.take() {
                self.push(b, keep);
            }
        }
    }

    fn push(&mut self, b: LoggedBatch, keep: usize) {
        match self.chunks.back_mut() {
            // Copied once if a snapshot still holds it.
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(b),
            // Grown as it fills: most connections log a few batches, not a chunk's worth.
            _ => self.chunks.push_back(Arc::new(vec![b])),
        }
        self.len += 1;
        self.newest_us = Some(b.t_last_us);
        self.trim(b.t_last_us, keep);
    }

    /// Drops whole chunks older than [`KEEP_US`] before `now_us`, or beyond `keep` batches.
    pub fn trim(&mut self, now_us: i64, keep: usize) {
        while let Some(front) = self.chunks.front() {
            let old = front.last().is_none_or(|b| now_us.saturating_sub(b.t_last_us) > KEEP_US);
            let over = self.len - front.len() >= keep;
            if !(old || over) {
                break;
            }
            self.len -= front.len();
            self.chunks.pop_front();
        }
        if self.chunks.is_empty() {
            self.newest_us = None;
        }
    }

    /// Batches logged.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when none is logged.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (shared chunks counted whole).
    pub fn heap_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity() * size_of::<LoggedBatch>() + 2 * size_of::<usize>()).sum()
    }

    /// The batches, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &LoggedBatch> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The batches that ended at or after `t_us`, oldest first (found by chunk, then by
    /// binary search: a frame of a 10-minute log costs what the window shows).
    pub fn since(&self, t_us: i64) -> impl Iterator<Item = &LoggedBatch> + '_ {
        let skip = if self.newest_us.is_none_or(|n| n < t_us) {
            self.chunks.len()
        } else {
            self.chunks.partition_point(|c| c.last().is_some_and(|b| b.t_last_us < t_us))
        };
        let mut chunks = self.chunks.range(skip..);
        let first = chunks.next().map_or(&[][..], |c| {
            let at = c.partition_point(|b| b.t_last_us < t_us);
            &c[at..]
        });
        first.iter().chain(chunks.flat_map(|c| c.iter()))
    }

    /// The newest batch's end, if any.
    pub fn last_us(&self) -> Option<i64> {
        self.newest_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(frame: u64, t_us: i64, len: u32, psh: bool, commands: u32) -> SegmentLine {
        // A segment without PSH here carries the start of a command that goes on.
        SegmentLine {
            split_starts: !psh,
            ..SegmentLine::for_test(frame, t_us, Dir::ToServer, len, psh, commands)
        }
    }

    #[test]
    fn batches_are_cut_after_psh_and_an_open_run_is_not_shown() {
        let mut log = BatchLog::default();
        log.segment(&line(1, 0, 8192, false, 3), 1_000, KEEP_BATCHES);
        log.segment(&line(2, 10, 100, true, 2), 1_000, KEEP_BATCHES);
        log.segment(&SegmentLine { dir: Dir::ToClient, ..line(3, 20, 50, true, 0) }, 1_000, KEEP_BATCHES);
        log.segment(&line(4, 30, 0, false, 0), 1_000, KEEP_BATCHES);
        log.segment(&line(5, 40, 60, true, 1), 1_000, KEEP_BATCHES);
        log.segment(&line(6, 50, 60, false, 1), 1_000, KEEP_BATCHES);
        let b: Vec<_> = log.iter().copied().collect();
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].commands, b[0].segments, b[0].bytes, b[0].splits), (5, 2, 8292, 1));
        assert_eq!((b[0].t_first_us, b[0].t_last_us), (1_000, 1_010));
        assert_eq!((b[1].first_frame, b[1].commands), (5, 1));
    }

    #[test]
    fn kept_by_count_and_by_age_a_chunk_at_a_time() {
        let mut log = BatchLog::default();
        for i in 0..(3 * CHUNK as i64) {
            log.segment(&line(i as u64, i, 10, true, 1), 0, 2 * CHUNK);
        }
        assert_eq!(log.len(), 2 * CHUNK);
        assert_eq!(log.iter().next().map(|b| b.first_frame), Some(CHUNK as u64));
        // Ten minutes later, one batch: everything before it is too old.
        log.segment(&line(9_999, KEEP_US + 10_000, 10, true, 1), 0, 2 * CHUNK);
        assert_eq!(log.len(), 1);
        assert_eq!(log.last_us(), Some(KEEP_US + 10_000));
    }

    #[test]
    fn since_finds_the_window_and_a_snapshot_keeps_its_copy() {
        let mut log = BatchLog::default();
        for i in 0..1000i64 {
            log.segment(&line(i as u64, i * 10, 10, true, 1), 0, KEEP_BATCHES);
        }
        assert_eq!(log.since(5_000).next().map(|b| b.t_last_us), Some(5_000));
        assert_eq!(log.since(5_001).count(), 499);
        assert_eq!(log.since(i64::MAX).count(), 0);
        assert_eq!(log.since(i64::MIN).count(), 1000);
        let snapshot = log.clone();
        log.segment(&line(5_000, 20_000, 10, true, 7), 0, KEEP_BATCHES);
        assert_eq!(snapshot.len(), 1000);
        assert_eq!(snapshot.iter().last().map(|b| b.commands), Some(1));
        assert_eq!(log.iter().last().map(|b| b.commands), Some(7));
    }
}
