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
//!   among sizes seen at least twice and it must hold at least a fifth of them. Full writes
//!   may spread over less than two commands: a buffer flushed once it passes a threshold
//!   overshoots (redis-py), one flushed when the next piece does not fit falls short of its
//!   size (Jedis flushes its 8192-byte buffer before a bulk payload or CRLF that would fill
//!   it). When a command-count rule fits as well and no command was split, the command rule
//!   wins: a buffer that never cuts a command is a count, not a byte quota;
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

/// Sizes below this are counted one by one; above, in buckets of 1/128 of their power of
/// two (under 0.8 %): a buffer that falls short of its size by up to a piece spreads its writes
/// over a few buckets instead of hundreds of sizes.
const EXACT_BELOW: u64 = 128;

/// The bucket a size is counted in.
#[inline]
fn bucket(size: u64) -> u64 {
    if size < EXACT_BELOW {
        return size;
    }
    let shift = 63 - size.leading_zeros() - 7;
    (size >> shift) << shift
}

/// One bucket's batches.
#[derive(Clone, Copy, Debug, Default)]
struct SizeCount {
    /// [`bucket`] of its sizes.
    key: u64,
    /// Smallest and largest size seen in it.
    min: u64,
    max: u64,
    /// Batches of this size.
    count: u64,
    /// Those that ended a burst.
    ends: u64,
    /// Commands they carried.
    commands: u64,
    /// Those that ended inside a command.
    cut: u64,
}

/// Batches by one size measure, bounded; "size" below is a bucket, with the smallest and
/// largest size it saw.
#[derive(Clone, Debug, Default)]
struct SizeTable {
    sizes: Vec<SizeCount>,
    /// Batches whose size found no room.
    other: u64,
    other_ends: u64,
    /// Largest burst end among them.
    other_end_max: u64,
    /// The slot used last: a client's writes mostly repeat a bucket.
    last: usize,
}

impl SizeTable {
    #[inline]
    fn add(&mut self, size: u64, end: bool, commands: u64, cut: bool) {
        let key = bucket(size);
        let hit = self.sizes.get(self.last).is_some_and(|s| s.key == key);
        let slot = match if hit { Some(self.last) } else { self.sizes.iter().position(|s| s.key == key) } {
            Some(i) => {
                self.last = i;
                Some(i)
            }
            None if self.sizes.len() < MAX_SIZES => {
                self.sizes.push(SizeCount { key, min: size, max: size, ..SizeCount::default() });
                self.last = self.sizes.len() - 1;
                Some(self.last)
            }
            None => None,
        };
        match slot {
            Some(i) => {
                let s = &mut self.sizes[i];
                s.min = s.min.min(size);
                s.max = s.max.max(size);
                s.count += 1;
                s.ends += u64::from(end);
                s.commands += commands;
                s.cut += u64::from(cut);
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

    /// The full size that fits the most batches among those `accept` takes, with `extra` (the
    /// held newest batch: its size, whether it ended a burst and whether it ended inside a
    /// command) counted as if tallied. A full write is any of size `b..=b + band` (a buffer flushed once it passes a
    /// threshold overshoots by less than a command, one flushed before a piece that does not
    /// fit falls short by less); a fitting one is full, or shorter and ending a burst.
    ///
    /// One-command writes are not in the table (they are never full): `singles` gives those
    /// that ended a burst and the largest of them, which fit when smaller than the full size.
    fn best_fixed(
        &self,
        extra: Option<(u64, bool, bool)>,
        band: u64,
        singles: (u64, u64),
        accept: impl Fn(&Fixed) -> bool,
    ) -> Option<Fixed> {
        let (xs, xe, xc) = extra.unwrap_or((u64::MAX, false, false));
        let mut best: Option<Fixed> = None;
        for c in &self.sizes {
            // Full writes carry several commands: a band past a quarter of the size would be
            // one command's worth of writes of any size.
            let (low, top) = (c.min, c.min.saturating_add(band.min(c.min / 4)));
            let mut f = Fixed { min: low, max: low, cut_min: u64::MAX, fit: 0, full: 0, cut: 0, commands: 0 };
            for s in &self.sizes {
                // A bucket reaching past the band's top counts neither way: a misfit.
                if s.min >= low && s.max <= top {
                    f.add_full(s, s.count, s.cut);
                    f.commands += s.commands;
                } else if s.max < low {
                    f.fit += s.ends;
                }
            }
            if (low..=top).contains(&xs) {
                f.add_full(&SizeCount { min: xs, max: xs, ..SizeCount::default() }, 1, u64::from(xc));
            } else if xs < low && xe {
                f.fit += 1;
            }
            if f.full < 2 {
                continue;
            }
            if self.other_ends > 0 && self.other_end_max < low {
                f.fit += self.other_ends;
            }
            if singles.0 > 0 && singles.1 < low {
                f.fit += singles.0;
            }
            f.fit += f.full;
            // Judged before they compete: the best fit of too few full writes must not hide
            // one that qualifies.
            if !accept(&f) {
                continue;
            }
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
    /// Smallest full write that ended inside a command (`u64::MAX` without one).
    cut_min: u64,
    /// Batches that fit: full ones and shorter burst ends.
    fit: u64,
    /// Full ones.
    full: u64,
    /// Full ones that ended inside a command.
    cut: u64,
    /// Commands in the full ones (the held batch's not included).
    commands: u64,
}

impl Fixed {
    /// `count` full writes of `s`'s sizes, `cut` of them ending inside a command.
    fn add_full(&mut self, s: &SizeCount, count: u64, cut: u64) {
        self.full += count;
        self.cut += cut;
        self.max = self.max.max(s.max);
        if cut > 0 {
            self.cut_min = self.cut_min.min(s.min);
        }
    }
}

/// The batch closed last, tallied when the next one starts.
#[derive(Clone, Copy, Debug)]
struct Held {
    bytes: u64,
    commands: u64,
    cut: bool,
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
    /// The largest command, in bytes: how far a buffer can fall short of its size or pass
    /// its threshold.
    largest_command: u64,
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
    /// The client's flush size (`fixed_bytes`): for writes that end inside commands, a
    /// buffer's size, the largest full write (Jedis's 8192: the others stopped short of a
    /// piece that did not fit); for writes at command boundaries, a threshold, the smallest
    /// full write (redis-py's 6,000 is passed by part of a command).
    pub bytes: Option<u64>,
    /// The smallest full write (`fixed_bytes`); for a buffer, the smallest that ended inside
    /// a command.
    pub bytes_min: Option<u64>,
    /// The largest full write (`fixed_bytes`): all three equal for an exact quota.
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
                let commands = self.commands.map_or_else(String::new, |c| format!("{c} commands"));
                let paren = |s: &str| match (s.is_empty(), commands.is_empty()) {
                    (true, true) => String::new(),
                    (false, false) => format!(" ({s}, {commands})"),
                    _ => format!(" ({s}{commands})"),
                };
                match (self.bytes, self.bytes_min, self.bytes_max) {
                    (Some(b), Some(lo), Some(hi)) if hi > lo && b == hi => format!(
                        "flushes when its {b}-byte buffer is full{}",
                        paren(&format!("{lo}-{hi} bytes per write"))
                    ),
                    (Some(b), _, Some(hi)) if hi > b => {
                        format!("flushes once {b}-{hi} bytes are buffered{}", paren(""))
                    }
                    (Some(b), _, _) => format!("flushes every {b} bytes{}", paren("")),
                    _ => format!("flushes at a fixed size{}", paren("")),
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
    /// A command of `bytes` completed.
    #[inline]
    pub fn command(&mut self, bytes: u64) {
        self.largest_command = self.largest_command.max(bytes);
    }

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
        if let Some(h) = self.held.replace(Held { bytes, commands, cut }) {
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
        self.by_bytes.add(h.bytes, end, h.commands, h.cut);
        self.by_commands.add(h.commands, end, h.commands, h.cut);
    }

    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.by_bytes.heap_bytes() + self.by_commands.heap_bytes()
    }

    /// The verdict on what was seen so far (`None` under [`MIN_BATCHES`]).
    pub fn verdict(&self) -> Option<FlushVerdict> {
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
        let verdict = |kind, bytes: Option<(u64, u64, u64)>, commands, fitting: u64| FlushVerdict {
            kind,
            bytes: bytes.map(|b| b.0),
            bytes_min: bytes.map(|b| b.1),
            bytes_max: bytes.map(|b| b.2),
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
        // A threshold overshoots by less than the command that crossed it, a full buffer
        // falls short by less than the piece that did not fit.
        let band = self.largest_command;
        // The held batch ends a burst: a single one joins the single burst ends.
        let held_multi = held.filter(|h| h.commands > 1);
        let held_single = held.filter(|h| h.commands == 1);
        let single_ends = self.single_ends + u64::from(held_single.is_some());
        let single_end_max = held_single.map_or(self.single_end_max, |h| self.single_end_max.max(h.bytes));
        let by_bytes = self.by_bytes.best_fixed(
            held_multi.map(|h| (h.bytes, true, h.cut)),
            band,
            (single_ends, single_end_max),
            enough,
        );
        let by_commands = self.by_commands.best_fixed(
            held_multi.map(|h| (h.commands, true, h.cut)),
            0,
            (single_ends, 1),
            enough,
        );
        match (by_bytes, by_commands) {
            // A count that never cut a command explains the writes as well: it wins.
            (Some(b), c) if splits > 0 || c.is_none_or(|c| c.min < 2) => {
                let held_commands =
                    held_multi.filter(|h| (b.min..=b.max).contains(&h.bytes)).map_or(0, |h| h.commands);
                let per = (b.commands + held_commands) as f64 / b.full as f64;
                // Writes that mostly end inside a command fill a buffer: its size is the
                // largest, the others stopped short of a piece that did not fit. Writes at
                // command boundaries passed a threshold: the smallest is nearest to it.
                let sizes = if b.cut * 2 > b.full {
                    (b.max, b.cut_min.min(b.max), b.max)
                } else {
                    (b.min, b.min, b.max)
                };
                return Some(verdict(FlushKind::FixedBytes, Some(sizes), Some(per.round() as u64), b.fit));
            }
            (_, Some(c)) if c.min > 1 => {
                return Some(verdict(FlushKind::FixedCommands, None, Some(c.min), c.fit));
            }
            _ => {}
        }
        // A write per call ends with the call's last command: writes cut inside commands are
        // a buffer's, whatever the client waits for.
        if waits && splits <= misfits {
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

    /// The tally of `writes` by a client whose largest command is `largest` bytes.
    fn run(writes: &[W], largest: u64) -> FlushTally {
        let mut t = FlushTally::default();
        t.command(largest);
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
        let v = run(&jedis_like(10), 2 * 24).verdict().expect("a verdict");
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

    /// The writes of Jedis's `RedisOutputStream` (8192 bytes) for pipelines of commands, each
    /// pipeline flushed by `sync()` and its replies read before the next: a piece (length
    /// digits, CRLF, bulk payload) that would fill the buffer flushes it first, a single byte
    /// only when it is full, so full writes fall a few bytes short of 8192, cut inside a
    /// command.
    fn jedis_buffer(pipelines: &[Vec<Vec<Vec<u8>>>]) -> Vec<W> {
        const CAP: usize = 8192;
        struct Out {
            count: usize,
            commands: u64,
            in_command: bool,
            writes: Vec<W>,
        }
        impl Out {
            fn flush(&mut self, end: bool) {
                if self.count > 0 {
                    self.writes.push((self.count as u64, self.commands, end, self.in_command));
                    self.count = 0;
                    self.commands = 0;
                }
            }
            fn byte(&mut self) {
                if self.count == CAP {
                    self.flush(false);
                }
                self.count += 1;
            }
            fn piece(&mut self, len: usize) {
                if len >= CAP - self.count {
                    self.flush(false);
                }
                self.count += len;
            }
            fn int_crlf(&mut self, v: usize) {
                self.piece(v.to_string().len());
                self.piece(2);
            }
        }
        let mut o = Out { count: 0, commands: 0, in_command: false, writes: Vec::new() };
        for p in pipelines {
            for args in p {
                o.in_command = true;
                o.byte();
                o.int_crlf(args.len());
                for a in args {
                    o.byte();
                    o.int_crlf(a.len());
                    o.piece(a.len());
                    o.piece(2);
                }
                o.in_command = false;
                o.commands += 1;
            }
            o.flush(true);
        }
        o.writes
    }

    #[test]
    fn a_full_buffer_that_stops_short_of_a_piece_is_its_size() {
        // Pipelines of 3000 mixed SET/GET/INCR with 20-200 byte values, a few single calls.
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut pipelines = Vec::new();
        let mut largest = 0usize;
        for size in [1usize, 3000, 1, 2000, 1, 3000] {
            let p: Vec<Vec<Vec<u8>>> = (0..size)
                .map(|i| {
                    let key = format!("key:{}", next(10_000)).into_bytes();
                    match i % 3 {
                        0 => vec![b"SET".to_vec(), key, vec![b'v'; 20 + next(181) as usize]],
                        1 => vec![b"GET".to_vec(), key],
                        _ => vec![b"INCR".to_vec(), key],
                    }
                })
                .collect();
            let size = |c: &Vec<Vec<u8>>| {
                3 + c.len().to_string().len()
                    + c.iter().map(|a| a.len() + 5 + a.len().to_string().len()).sum::<usize>()
            };
            largest = largest.max(p.iter().map(size).max().unwrap_or(0));
            pipelines.push(p);
        }
        let w = jedis_buffer(&pipelines);
        let sizes: Vec<u64> = w.iter().map(|x| x.0).filter(|&b| b > 7000).collect();
        assert!(sizes.iter().any(|&b| b < 8190) && sizes.iter().all(|&b| b <= 8192), "{sizes:?}");
        let v = run(&w, largest as u64).verdict().expect("a verdict");
        assert_eq!((v.kind, v.bytes, v.bytes_max), (FlushKind::FixedBytes, Some(8192), Some(8192)), "{v:?}");
        assert!(v.bytes_min.is_some_and(|m| m < 8190 && m > 7800), "{v:?}");
        assert!(v.fitting * 10 >= v.batches * 9, "{v:?}");
        assert!(
            v.what().starts_with(&format!(
                "flushes when its 8192-byte buffer is full ({}-8192 bytes per write, ",
                v.bytes_min.unwrap_or(0)
            )),
            "{}",
            v.what()
        );
    }

    #[test]
    fn short_writes_inside_bursts_do_not_fit() {
        let mut w = jedis_like(2);
        for _ in 0..3 {
            w.insert(1, (500, 20, false, true));
        }
        assert_ne!(run(&w, 2 * 24).verdict().expect("a verdict").kind, FlushKind::FixedBytes);
    }

    #[test]
    fn a_threshold_flush_at_command_boundaries_is_a_byte_range() {
        // redis-py: a pipeline goes out in writes once 6,000 bytes are buffered, mixed
        // commands, the rest at the end; three pipelines, waiting after each.
        let mut w = Vec::new();
        for _ in 0..3 {
            w.extend([(6023, 181, false, false), (6013, 176, false, false), (4704, 143, true, false)]);
        }
        let v = run(&w, 2 * 33).verdict().expect("a verdict");
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
        let v = run(&w, 2 * 33).verdict().expect("a verdict");
        assert_eq!((v.kind, v.bytes, v.fitting, v.batches), (FlushKind::FixedBytes, Some(16384), 7, 8));
    }

    #[test]
    fn same_count_without_cuts_is_fixed_commands() {
        // Lettuce-like: 16 commands per write, all the same bytes, nothing cut.
        let w: Vec<W> = (0..100).map(|i| (16 * 40, 16, i % 10 == 9, false)).collect();
        let v = run(&w, 2 * 40).verdict().expect("a verdict");
        assert_eq!((v.kind, v.commands), (FlushKind::FixedCommands, Some(16)));
        // The same sizes ending inside commands are a byte quota.
        let w: Vec<W> = w.iter().map(|&(b, c, d, _)| (b, c, d, true)).collect();
        assert_eq!(run(&w, 2 * 40).verdict().expect("a verdict").kind, FlushKind::FixedBytes);
    }

    #[test]
    fn redis_benchmark_p16_waits_and_is_still_fixed_commands() {
        let w: Vec<W> = (0..200).map(|_| (16 * 45, 16, true, false)).collect();
        let v = run(&w, 2 * 45).verdict().expect("a verdict");
        assert_eq!((v.kind, v.commands, v.waits_for_replies), (FlushKind::FixedCommands, Some(16), true));
    }

    #[test]
    fn per_command_with_and_without_waiting() {
        let w: Vec<W> = (0..50).map(|i| (30 + i % 7, 1, true, false)).collect();
        let v = run(&w, 2 * 33).verdict().expect("a verdict");
        assert_eq!((v.kind, v.waits_for_replies), (FlushKind::PerCommand, true));
        let w: Vec<W> = (0..50).map(|i| (30 + i % 7, 1, false, false)).collect();
        let v = run(&w, 2 * 33).verdict().expect("a verdict");
        assert_eq!((v.kind, v.waits_for_replies), (FlushKind::PerCommand, false));
    }

    #[test]
    fn varying_pipelines_each_followed_by_a_wait_are_whole() {
        let sizes = [5u64, 40, 17, 90, 3, 61, 28, 77, 12, 49, 8, 33];
        let w: Vec<W> = sizes.iter().map(|&c| (c * 30, c, true, false)).collect();
        let v = run(&w, 2 * 30).verdict().expect("a verdict");
        assert_eq!((v.kind, v.waits_for_replies, v.commands), (FlushKind::WholePipeline, true, None));
        // Single calls between pipelines are calls of one, not a per-command library.
        let mut w: Vec<W> = (0..8).map(|_| (30, 1, true, false)).collect();
        w.push((15_000, 500, true, false));
        assert_eq!(run(&w, 2 * 30).verdict().expect("a verdict").kind, FlushKind::WholePipeline);
    }

    #[test]
    fn unlike_writes_without_waiting_are_irregular_and_few_give_no_verdict() {
        let w: Vec<W> = (0..40u64).map(|i| (100 + i * 13, 2 + i % 9, false, i % 3 == 0)).collect();
        assert_eq!(run(&w, 2 * 30).verdict().expect("a verdict").kind, FlushKind::Irregular);
        assert_eq!(run(&w[..2], 2 * 30).verdict(), None);
        assert_eq!(FlushTally::default().verdict(), None);
    }

    #[test]
    fn the_tables_stay_bounded_and_overflow_still_counts() {
        let mut w = Vec::new();
        for i in 0..2000u64 {
            w.push((8192, 300, false, true));
            w.push((10 + i, 1 + i % 50, true, false));
        }
        let t = run(&w, 60);
        assert!(t.by_bytes.sizes.len() <= MAX_SIZES && t.by_commands.sizes.len() <= MAX_SIZES);
        assert!(t.heap_bytes() <= 2 * MAX_SIZES * size_of::<SizeCount>());
        let v = t.verdict().expect("a verdict");
        assert_eq!((v.kind, v.bytes, v.fitting), (FlushKind::FixedBytes, Some(8192), 4000));
    }
}
