//! How a client puts its commands on the wire: the flush verdict of one connection.
//!
//! Every closed write batch is tallied by its size in bytes and in commands, and by whether it
//! ended a burst: whether the client's next write started with nothing waiting for a reply
//! (the client let the pipeline drain before writing again). The verdict is read from those
//! tallies when a report asks, never on the hot path: one small table update per batch.
//!
//! The rules (docs/METRICS.md, "Flush verdict"), each kind tried in this order, the first that
//! at least [`FIT_SHARE`] of the batches fit:
//! - `per_command`: one command per write;
//! - `fixed_bytes`: every write is B bytes, or shorter at the end of a burst (the flush that
//!   empties the buffer before the client waits); B is the size that fits the most batches
//!   among sizes seen at least twice and it must hold at least a fifth of them. When a
//!   command-count rule fits as well and no command was split, the command rule wins: a buffer
//!   that never cuts a command is a count, not a byte quota;
//! - `fixed_commands`: the same with commands per write;
//! - `whole_pipeline`: the client waits for replies after (nearly) every write, whatever its
//!   size: one write per pipeline call;
//! - `irregular`: none of these.
//!
//! Invariants:
//! - a batch is tallied once, when the next batch's first byte arrives (that is when it is
//!   known whether it ended a burst); the newest batch is held aside and counted as a burst's
//!   end when a verdict is read;
//! - each table holds at most [`MAX_SIZES`] distinct sizes; batches of other sizes are counted
//!   in an overflow bucket that keeps its count, its burst ends and its largest burst end, so
//!   memory never depends on what the client sends.

use serde::Serialize;

/// Distinct sizes tallied one by one per table.
pub const MAX_SIZES: usize = 32;
/// Share of batches a kind must fit.
pub const FIT_SHARE: f64 = 0.9;
/// Batches with commands needed before any verdict.
pub const MIN_BATCHES: u64 = 3;

/// One size's batches.
#[derive(Clone, Copy, Debug, Default)]
struct SizeCount {
    size: u64,
    /// Batches of this size.
    count: u64,
    /// Those that ended a burst.
    ends: u64,
    /// Commands they carried.
    commands: u64,
}

/// Batches by one size measure, bounded.
#[derive(Clone, Debug, Default)]
struct SizeTable {
    sizes: Vec<SizeCount>,
    /// Batches whose size found no room.
    other: u64,
    other_ends: u64,
    /// Largest burst end among them.
    other_end_max: u64,
    /// The slot used last: a client's writes mostly repeat a size.
    last: usize,
}

impl SizeTable {
    #[inline]
    fn add(&mut self, size: u64, end: bool, commands: u64) {
        let hit = self.sizes.get(self.last).is_some_and(|s| s.size == size);
        let slot = match if hit { Some(self.last) } else { self.sizes.iter().position(|s| s.size == size) } {
            Some(i) => {
                self.last = i;
                Some(i)
            }
            None if self.sizes.len() < MAX_SIZES => {
                self.sizes.push(SizeCount { size, ..SizeCount::default() });
                self.last = self.sizes.len() - 1;
                Some(self.last)
            }
            None => None,
        };
        match slot {
            Some(i) => {
                let s = &mut self.sizes[i];
                s.count += 1;
                s.ends += u64::from(end);
                s.commands += commands;
            }
            None => {
                self.other += 1;
                if end {
                    self.other_ends += 1;
                    self.other_end_max = self.other_end_max.max(size);
                }
            }
        }
    }

    /// The full size that fits the most batches, with `extra` (the held newest batch: its
    /// size and whether it ended a burst) counted as if tallied. A full write is any of size
    /// `b..=b + band` (a buffer flushed once it passes a threshold overshoots by less than a
    /// command); a fitting one is full, or shorter and ending a burst.
    ///
    /// One-command writes are not in the table (they are never full): `singles` gives those
    /// that ended a burst and the largest of them, which fit when smaller than the full size.
    fn best_fixed(&self, extra: Option<(u64, bool)>, band: u64, singles: (u64, u64)) -> Option<Fixed> {
        let (xs, xe) = extra.unwrap_or((u64::MAX, false));
        let mut best: Option<Fixed> = None;
        for c in &self.sizes {
            let top = c.size.saturating_add(band);
            let mut f = Fixed { min: c.size, max: c.size, fit: 0, full: 0, commands: 0 };
            for s in &self.sizes {
                if (c.size..=top).contains(&s.size) {
                    f.full += s.count;
                    f.commands += s.commands;
                    f.max = f.max.max(s.size);
                } else if s.size < c.size {
                    f.fit += s.ends;
                }
            }
            if (c.size..=top).contains(&xs) {
                f.full += 1;
                f.max = f.max.max(xs);
            } else if xs < c.size && xe {
                f.fit += 1;
            }
            if f.full < 2 {
                continue;
            }
            if self.other_ends > 0 && self.other_end_max < c.size {
                f.fit += self.other_ends;
            }
            if singles.0 > 0 && singles.1 < c.size {
                f.fit += singles.0;
            }
            f.fit += f.full;
            if best.is_none_or(|b| (f.fit, f.full, u64::MAX - f.min) > (b.fit, b.full, u64::MAX - b.min)) {
                best = Some(f);
            }
        }
        best
    }

    fn heap_bytes(&self) -> usize {
        self.sizes.capacity() * size_of::<SizeCount>()
    }
}

/// A fixed size and the batches it explains.
#[derive(Clone, Copy, Debug)]
struct Fixed {
    /// Smallest full write.
    min: u64,
    /// Largest full write.
    max: u64,
    /// Batches that fit: full ones and shorter burst ends.
    fit: u64,
    /// Full ones.
    full: u64,
    /// Commands in the full ones (the held batch's not included).
    commands: u64,
}

/// The batch closed last, tallied when the next one starts.
#[derive(Clone, Copy, Debug)]
struct Held {
    bytes: u64,
    commands: u64,
}

/// The evidence of one connection's writes.
#[derive(Clone, Debug, Default)]
pub struct FlushTally {
    by_bytes: SizeTable,
    by_commands: SizeTable,
    held: Option<Held>,
    /// Batches tallied (with at least one command).
    batches: u64,
    /// Batches with exactly one command (kept out of the tables: the common case of a client
    /// that does not pipeline costs two additions per write).
    single: u64,
    /// Those that ended a burst, and the largest of them in bytes.
    single_ends: u64,
    single_end_max: u64,
    /// Batches that ended inside a command: writes cut on a byte count.
    cut_writes: u64,
    /// Batches after the first that started with nothing waiting for a reply.
    drained_starts: u64,
    /// Batches that started (all but the first are "later" starts).
    started: u64,
}

/// What a connection's writes look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushKind {
    /// Every full write is the same number of bytes.
    FixedBytes,
    /// Every full write carries the same number of commands.
    FixedCommands,
    /// One command per write.
    PerCommand,
    /// One write per pipeline call, sizes following the caller.
    WholePipeline,
    /// None of these.
    Irregular,
}

/// The verdict, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FlushVerdict {
    /// What the writes look like.
    pub kind: FlushKind,
    /// The full write's size (`fixed_bytes`): the smallest full write when they vary
    /// within less than a command (a buffer flushed once it passes a threshold).
    pub bytes: Option<u64>,
    /// The largest full write (`fixed_bytes`): equal to `bytes` for an exact quota.
    pub bytes_max: Option<u64>,
    /// Commands per full write (`fixed_commands`, `per_command`; for `fixed_bytes` the mean
    /// of its full writes, rounded).
    pub commands: Option<u64>,
    /// The client lets the pipeline drain before at least [`FIT_SHARE`] of its writes.
    pub waits_for_replies: bool,
    /// Batches that fit the kind, discounted by one batch: `fitting / (batches + 1)`, so a
    /// handful of batches never reads as certain.
    pub confidence: f64,
    /// Batches with commands the verdict rests on.
    pub batches: u64,
    /// Those that fit it.
    pub fitting: u64,
}

impl FlushVerdict {
    /// "flushes every 8192 bytes (341 commands), does not wait for replies".
    pub fn describe(&self) -> String {
        let wait = if self.waits_for_replies { "waits for replies" } else { "does not wait for replies" };
        format!(
            "{}, {wait} ({} of {} batches fit, confidence {:.2})",
            self.what(),
            self.fitting,
            self.batches,
            self.confidence
        )
    }

    /// What the writes look like, alone: "flushes every 8192 bytes (341 commands)".
    pub fn what(&self) -> String {
        match self.kind {
            FlushKind::FixedBytes => {
                let size = match (self.bytes, self.bytes_max) {
                    (Some(b), Some(m)) if m > b => format!("once {b}-{m} bytes are buffered"),
                    (Some(b), _) => format!("every {b} bytes"),
                    _ => "at a fixed size".to_string(),
                };
                match self.commands {
                    Some(c) => format!("flushes {size} ({c} commands)"),
                    None => format!("flushes {size}"),
                }
            }
            FlushKind::FixedCommands => match self.commands {
                Some(c) => format!("flushes every {c} commands"),
                None => "flushes at a fixed command count".to_string(),
            },
            FlushKind::PerCommand => "writes each command on its own".to_string(),
            FlushKind::WholePipeline => "writes each pipeline whole, sizes following the caller".to_string(),
            FlushKind::Irregular => "writes irregularly".to_string(),
        }
    }
}

impl FlushTally {
    /// A batch's first byte arrived; `drained` says nothing was waiting for a reply.
    #[inline]
    pub fn start(&mut self, drained: bool) {
        if let Some(h) = self.held.take() {
            self.tally(h, drained);
        }
        if self.started > 0 {
            self.drained_starts += u64::from(drained);
        }
        self.started += 1;
    }

    /// A batch closed with these sizes (tallied when the next starts); `cut` says it ended
    /// inside a command.
    #[inline]
    pub fn closed(&mut self, bytes: u64, commands: u64, cut: bool) {
        self.cut_writes += u64::from(cut);
        if let Some(h) = self.held.replace(Held { bytes, commands }) {
            // Two closes with no start between: only when a batch had no new bytes, which
            // `Batches` never closes; tallied as an end to stay counted.
            self.tally(h, true);
        }
    }

    fn tally(&mut self, h: Held, end: bool) {
        if h.commands == 0 {
            return;
        }
        self.batches += 1;
        if h.commands == 1 {
            self.single += 1;
            if end {
                self.single_ends += 1;
                self.single_end_max = self.single_end_max.max(h.bytes);
            }
            return;
        }
        self.by_bytes.add(h.bytes, end, h.commands);
        self.by_commands.add(h.commands, end, h.commands);
    }

    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.by_bytes.heap_bytes() + self.by_commands.heap_bytes()
    }

    /// The verdict on what was seen so far (`None` under [`MIN_BATCHES`]), `command_bytes`
    /// being the connection's mean command size.
    pub fn verdict(&self, command_bytes: u64) -> Option<FlushVerdict> {
        // Writes that ended inside a command (not commands split by segmentation inside one
        // write): the mark of a byte quota.
        let splits = self.cut_writes;
        // The newest batch counts as a burst's end: nothing was written after it.
        let held = self.held.filter(|h| h.commands > 0);
        let n = self.batches + u64::from(held.is_some());
        if n < MIN_BATCHES {
            return None;
        }
        // Past a handful of batches one write out of place is forgiven (a marker command
        // written after the last data, a write the kernel merged).
        let misfits = if n >= 5 { (n / 10).max(1) } else { 0 };
        let fits = |fit: u64| fit + misfits >= n;
        let later = self.started.saturating_sub(1);
        let waits = later > 0 && fits_share(self.drained_starts, later);
        let verdict = |kind, bytes: Option<(u64, u64)>, commands, fitting: u64| FlushVerdict {
            kind,
            bytes: bytes.map(|b| b.0),
            bytes_max: bytes.map(|b| b.1),
            commands,
            waits_for_replies: waits,
            confidence: (fitting as f64 / (n + 1) as f64 * 100.0).round() / 100.0,
            batches: n,
            fitting,
        };
        let single = self.single + u64::from(held.is_some_and(|h| h.commands == 1));
        // Writes of one command each, unless the client waits after every write and some
        // carried more: then the single ones are calls of one, the library writes each call.
        if fits(single) && !(waits && single < n) {
            return Some(verdict(FlushKind::PerCommand, None, Some(1), single));
        }
        // Full writes are a fifth of the batches at least and carry more than one command
        // (one command per write is `per_command`, however sized).
        let enough = |f: &Fixed| f.full * 5 >= n && fits(f.fit) && f.commands >= 2 * f.full;
        // A threshold overshoots by less than the command that crossed it: twice the mean
        // command leaves room for a larger one; an exact quota has no spread.
        let band = if splits > 0 { 0 } else { command_bytes.saturating_mul(2) };
        // The held batch ends a burst: a single one joins the single burst ends.
        let held_multi = held.filter(|h| h.commands > 1);
        let held_single = held.filter(|h| h.commands == 1);
        let single_ends = self.single_ends + u64::from(held_single.is_some());
        let single_end_max = held_single.map_or(self.single_end_max, |h| self.single_end_max.max(h.bytes));
        let by_bytes = self
            .by_bytes
            .best_fixed(held_multi.map(|h| (h.bytes, true)), band, (single_ends, single_end_max))
            .filter(enough);
        let by_commands = self
            .by_commands
            .best_fixed(held_multi.map(|h| (h.commands, true)), 0, (single_ends, 1))
            .filter(enough);
        match (by_bytes, by_commands) {
            // A count that never cut a command explains the writes as well: it wins.
            (Some(b), c) if splits > 0 || c.is_none_or(|c| c.min < 2) => {
                let held_commands =
                    held_multi.filter(|h| (b.min..=b.max).contains(&h.bytes)).map_or(0, |h| h.commands);
                let per = (b.commands + held_commands) as f64 / b.full as f64;
                return Some(verdict(
                    FlushKind::FixedBytes,
                    Some((b.min, b.max)),
                    Some(per.round() as u64),
                    b.fit,
                ));
            }
            (_, Some(c)) if c.min > 1 => {
                return Some(verdict(FlushKind::FixedCommands, None, Some(c.min), c.fit));
            }
            _ => {}
        }
        if waits {
            // Every write but the first follows a drained pipeline: each one is a call.
            return Some(verdict(FlushKind::WholePipeline, None, None, self.drained_starts + 1));
        }
        let best =
            [single, by_bytes.map_or(0, |b| b.fit), by_commands.map_or(0, |c| c.fit)].into_iter().max();
        Some(verdict(FlushKind::Irregular, None, None, best.unwrap_or(0)))
    }
}

fn fits_share(part: u64, of: u64) -> bool {
    part as f64 >= FIT_SHARE * of as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write: bytes, commands, whether the next write starts drained, whether it ended
    /// inside a command.
    type W = (u64, u64, bool, bool);

    fn run(writes: &[W]) -> FlushTally {
        let mut t = FlushTally::default();
        let mut drained = true;
        for &(b, c, next_drained, cut) in writes {
            t.start(drained);
            t.closed(b, c, cut);
            drained = next_drained;
        }
        t
    }

    fn jedis_like(bursts: usize) -> Vec<W> {
        let mut w = Vec::new();
        for i in 0..bursts {
            for _ in 0..4 {
                w.push((8192, 341, false, true));
            }
            w.push((1000 + i as u64 * 7, 40, true, false));
        }
        w
    }

    #[test]
    fn fixed_bytes_allows_a_shorter_write_at_each_bursts_end() {
        let v = run(&jedis_like(10)).verdict(24).expect("a verdict");
        assert_eq!(v.kind, FlushKind::FixedBytes);
        assert_eq!(
            (v.bytes, v.bytes_max, v.commands, v.waits_for_replies),
            (Some(8192), Some(8192), Some(341), false)
        );
        assert_eq!((v.batches, v.fitting), (50, 50));
        assert_eq!(v.confidence, 0.98);
        assert_eq!(
            v.describe(),
            "flushes every 8192 bytes (341 commands), does not wait for replies (50 of 50 batches fit, confidence 0.98)"
        );
    }

    #[test]
    fn short_writes_inside_bursts_do_not_fit() {
        let mut w = jedis_like(2);
        for _ in 0..3 {
            w.insert(1, (500, 20, false, true));
        }
        assert_ne!(run(&w).verdict(24).expect("a verdict").kind, FlushKind::FixedBytes);
    }

    #[test]
    fn a_threshold_flush_at_command_boundaries_is_a_byte_range() {
        // redis-py: a pipeline goes out in writes once 6,000 bytes are buffered, mixed
        // commands, the rest at the end; three pipelines, waiting after each.
        let mut w = Vec::new();
        for _ in 0..3 {
            w.extend([(6023, 181, false, false), (6013, 176, false, false), (4704, 143, true, false)]);
        }
        let v = run(&w).verdict(33).expect("a verdict");
        assert_eq!((v.kind, v.bytes, v.bytes_max), (FlushKind::FixedBytes, Some(6013), Some(6023)));
        assert!(
            v.describe().starts_with("flushes once 6013-6023 bytes are buffered (179 commands)"),
            "{}",
            v.describe()
        );
    }

    #[test]
    fn a_trailing_marker_after_the_last_short_write_is_forgiven() {
        // redis-cli --pipe: 16 KiB writes, the rest, then its ECHO marker.
        let mut w: Vec<W> = (0..6).map(|_| (16384, 500, false, true)).collect();
        w.extend([(3586, 100, false, false), (43, 1, true, false)]);
        let v = run(&w).verdict(33).expect("a verdict");
        assert_eq!((v.kind, v.bytes, v.fitting, v.batches), (FlushKind::FixedBytes, Some(16384), 7, 8));
    }

    #[test]
    fn same_count_without_cuts_is_fixed_commands() {
        // Lettuce-like: 16 commands per write, all the same bytes, nothing cut.
        let w: Vec<W> = (0..100).map(|i| (16 * 40, 16, i % 10 == 9, false)).collect();
        let v = run(&w).verdict(40).expect("a verdict");
        assert_eq!((v.kind, v.commands), (FlushKind::FixedCommands, Some(16)));
        // The same sizes ending inside commands are a byte quota.
        let w: Vec<W> = w.iter().map(|&(b, c, d, _)| (b, c, d, true)).collect();
        assert_eq!(run(&w).verdict(40).expect("a verdict").kind, FlushKind::FixedBytes);
    }

    #[test]
    fn redis_benchmark_p16_waits_and_is_still_fixed_commands() {
        let w: Vec<W> = (0..200).map(|_| (16 * 45, 16, true, false)).collect();
        let v = run(&w).verdict(45).expect("a verdict");
        assert_eq!((v.kind, v.commands, v.waits_for_replies), (FlushKind::FixedCommands, Some(16), true));
    }

    #[test]
    fn per_command_with_and_without_waiting() {
        let w: Vec<W> = (0..50).map(|i| (30 + i % 7, 1, true, false)).collect();
        let v = run(&w).verdict(33).expect("a verdict");
        assert_eq!((v.kind, v.waits_for_replies), (FlushKind::PerCommand, true));
        let w: Vec<W> = (0..50).map(|i| (30 + i % 7, 1, false, false)).collect();
        let v = run(&w).verdict(33).expect("a verdict");
        assert_eq!((v.kind, v.waits_for_replies), (FlushKind::PerCommand, false));
    }

    #[test]
    fn varying_pipelines_each_followed_by_a_wait_are_whole() {
        let sizes = [5u64, 40, 17, 90, 3, 61, 28, 77, 12, 49, 8, 33];
        let w: Vec<W> = sizes.iter().map(|&c| (c * 30, c, true, false)).collect();
        let v = run(&w).verdict(30).expect("a verdict");
        assert_eq!((v.kind, v.waits_for_replies, v.commands), (FlushKind::WholePipeline, true, None));
        // Single calls between pipelines are calls of one, not a per-command library.
        let mut w: Vec<W> = (0..8).map(|_| (30, 1, true, false)).collect();
        w.push((15_000, 500, true, false));
        assert_eq!(run(&w).verdict(30).expect("a verdict").kind, FlushKind::WholePipeline);
    }

    #[test]
    fn unlike_writes_without_waiting_are_irregular_and_few_give_no_verdict() {
        let w: Vec<W> = (0..40u64).map(|i| (100 + i * 13, 2 + i % 9, false, i % 3 == 0)).collect();
        assert_eq!(run(&w).verdict(30).expect("a verdict").kind, FlushKind::Irregular);
        assert_eq!(run(&w[..2]).verdict(30), None);
        assert_eq!(FlushTally::default().verdict(30), None);
    }

    #[test]
    fn the_tables_stay_bounded_and_overflow_still_counts() {
        let mut w = Vec::new();
        for i in 0..2000u64 {
            w.push((8192, 300, false, true));
            w.push((10 + i, 1 + i % 50, true, false));
        }
        let t = run(&w);
        assert!(t.by_bytes.sizes.len() <= MAX_SIZES && t.by_commands.sizes.len() <= MAX_SIZES);
        assert!(t.heap_bytes() <= 2 * MAX_SIZES * size_of::<SizeCount>());
        let v = t.verdict(30).expect("a verdict");
        assert_eq!((v.kind, v.bytes, v.fitting), (FlushKind::FixedBytes, Some(8192), 4000));
    }
}
