//! Interleaving without MONITOR: how many other clients' commands ran inside a write batch,
//! estimated from the order in which replies completed across connections.
//!
//! Redis runs one command at a time, so the order in which replies complete on the wire is
//! the order in which commands ran, up to the server's write batching. For each write batch
//! ([`Batches`](super::Batches)) answered by at least two replies, a connection notes the
//! frame that completed its first reply (f1), the one that completed its last (f2) and how
//! many of its replies completed in between; the analyzer counts, capture-wide, how many
//! replies each frame completed ([`ReplyIndex`]). A frame belongs to one connection, so the
//! replies completed in frames strictly between f1 and f2, minus the batch's own, are other
//! clients' commands that ran inside the batch. `docs/METRICS.md` gives the rule and its
//! known errors.
//!
//! Bounded: the index is capped by bytes (a share of the analyzer's memory budget) and a
//! connection keeps at most [`MAX_SPANS`] batches waiting to be resolved; a batch that cannot
//! be resolved (past either cap) is counted as `unresolved`, never guessed. The hot path is a
//! few compares per reply and, per frame that completes a reply, one push.

/// Batches a connection keeps waiting to be resolved (16 bytes each: 512 KiB). Beyond this
/// they are counted as unresolved. A whole analyzer resolves them every second of packet
/// time, so only analyzers running in parallel (resolved when merged) come near it.
pub const MAX_SPANS: usize = 32_768;
/// Batches a connection keeps one by one when asked ([`Interleave::keep_detail`]): tests
/// compare them with MONITOR.
pub const MAX_DETAIL: usize = 100_000;
/// Heap bytes of one entry of the index (a frame number and a running count).
pub const INDEX_ENTRY_BYTES: usize = 12;
/// The index may take this fraction (1/n) of an analyzer's memory budget: 16 MiB (1.4
/// million frames that completed replies) of `analyze`'s 96 MiB.
pub const INDEX_BUDGET_SHARE: usize = 6;

/// No batch is being answered.
const NONE: u64 = u64::MAX;

/// The batch whose replies are arriving (`batch` [`NONE`]: none).
#[derive(Clone, Copy, Debug)]
struct Open {
    batch: u64,
    /// Index of the command its first reply answered.
    first: u64,
    f1: u64,
    f2: u64,
    replies: u32,
    /// Its replies completed in frame f1 (set when a later frame comes), and in frame f2.
    in_first: u32,
    in_last: u32,
}

impl Default for Open {
    fn default() -> Self {
        Open { batch: NONE, first: 0, f1: 0, f2: 0, replies: 0, in_first: 0, in_last: 0 }
    }
}

/// A closed batch waiting for the index to cover it: frames f1 and f1 + gap, and its own
/// replies completed in frames strictly between them.
#[derive(Clone, Copy, Debug)]
struct Span {
    f1: u64,
    gap: u32,
    own: u32,
}

/// One batch's estimate, kept when asked ([`Interleave::keep_detail`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchEstimate {
    /// 1-based index (in its connection) of the command its first reply answered.
    pub first_command: u64,
    /// Replies it got.
    pub replies: u32,
    /// Frame that completed its first reply.
    pub first_frame: u64,
    /// Frame that completed its last reply.
    pub last_frame: u64,
    /// Other clients' commands estimated inside it; `None` when it could not be resolved.
    pub others: Option<u64>,
}

/// Running sums over resolved batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterleaveStats {
    /// Batches with at least two replies that were resolved.
    pub batches: u64,
    /// Of them, batches with at least one other client's command inside.
    pub interleaved: u64,
    /// Other clients' commands inside them, summed.
    pub others_sum: u64,
    /// Most other clients' commands inside one batch.
    pub others_max: u64,
    /// Batches with at least two replies that could not be resolved (a cap was reached).
    pub unresolved: u64,
}

impl InterleaveStats {
    fn record(&mut self, others: u64) {
        self.batches += 1;
        self.interleaved += u64::from(others > 0);
        self.others_sum = self.others_sum.saturating_add(others);
        self.others_max = self.others_max.max(others);
    }

    /// Adds another connection's sums.
    pub fn add(&mut self, o: &InterleaveStats) {
        self.batches += o.batches;
        self.interleaved += o.interleaved;
        self.others_sum = self.others_sum.saturating_add(o.others_sum);
        self.others_max = self.others_max.max(o.others_max);
        self.unresolved += o.unresolved;
    }

    /// The contract's per-connection object, `None` when no batch was resolved.
    pub fn report(&self) -> Option<InterleaveReport> {
        (self.batches > 0).then(|| InterleaveReport {
            batches: self.batches,
            interleaved: self.interleaved,
            others_mean: (self.others_sum as f64 / self.batches as f64 * 100.0).round() / 100.0,
            others_max: self.others_max,
        })
    }
}

/// A connection's interleaving in the report (contract: `interleave`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct InterleaveReport {
    /// Batches with at least two replies, resolved.
    pub batches: u64,
    /// Of them, batches with at least one other client's command inside.
    pub interleaved: u64,
    /// Other clients' commands inside a batch, on average (two decimals).
    pub others_mean: f64,
    /// Most other clients' commands inside one batch.
    pub others_max: u64,
}

#[derive(Debug, Default)]
struct Detail {
    entries: Vec<BatchEstimate>,
    /// The entry the next resolved span fills.
    next: usize,
}

/// One connection's side: the batch being answered, closed batches waiting for the index,
/// and the sums over resolved ones.
#[derive(Debug, Default)]
pub struct Interleave {
    open: Open,
    spans: Vec<Span>,
    /// Sums over resolved batches.
    pub stats: InterleaveStats,
    detail: Option<Box<Detail>>,
}

impl Interleave {
    /// A reply completed in `frame`, answering command `command` of write batch `batch`
    /// (FIFO pairing: a batch's replies come one after another).
    #[inline]
    pub fn reply(&mut self, batch: u64, command: u64, frame: u64) {
        let o = &mut self.open;
        // Most replies: the same batch, the same frame as the one before.
        if batch == o.batch && frame == o.f2 {
            o.replies = o.replies.wrapping_add(1);
            o.in_last = o.in_last.wrapping_add(1);
            return;
        }
        self.next(batch, command, frame);
    }

    /// A reply in another frame than the one before, or of another batch: out of line, so
    /// that the per-reply path stays two compares.
    #[inline(never)]
    fn next(&mut self, batch: u64, command: u64, frame: u64) {
        let o = &mut self.open;
        if batch == o.batch {
            o.replies = o.replies.wrapping_add(1);
            if frame > o.f2 {
                if o.f2 == o.f1 {
                    o.in_first = o.in_last;
                }
                (o.f2, o.in_last) = (frame, 1);
            }
            // An older frame (completed behind a hole) lies between: its own.
            return;
        }
        self.close();
        self.open = Open { batch, first: command, f1: frame, f2: frame, replies: 1, in_first: 0, in_last: 1 };
    }

    /// Closes the batch being answered (its connection finished, or another batch's reply
    /// came): a batch of two replies or more waits to be resolved.
    pub fn close(&mut self) {
        let o = std::mem::take(&mut self.open);
        if o.batch == NONE || o.replies < 2 {
            return;
        }
        // All its replies in one frame: nothing can lie between them.
        if o.f1 == o.f2 && self.detail.is_none() {
            self.stats.record(0);
            return;
        }
        let Ok(gap) = u32::try_from(o.f2 - o.f1) else {
            self.stats.unresolved += 1;
            return;
        };
        if self.spans.len() >= MAX_SPANS {
            self.stats.unresolved += 1;
            return;
        }
        let own = if gap == 0 { 0 } else { o.replies.saturating_sub(o.in_first).saturating_sub(o.in_last) };
        self.spans.push(Span { f1: o.f1, gap, own });
        if let Some(d) = self.detail.as_deref_mut() {
            if d.entries.len() < MAX_DETAIL {
                d.entries.push(BatchEstimate {
                    first_command: o.first,
                    replies: o.replies,
                    first_frame: o.f1,
                    last_frame: o.f2,
                    others: None,
                });
            }
        }
    }

    /// Resolves the waiting batches whose last frame is before `before` (the index covers
    /// every frame before it), `between(a, b)` counting the replies completed in frames
    /// strictly between a and b (`None` where the index no longer covers them).
    pub fn resolve(&mut self, before: u64, between: &mut impl FnMut(u64, u64) -> Option<u64>) {
        let Interleave { spans, stats, detail, .. } = self;
        let mut done = 0;
        for s in spans.iter() {
            let f2 = s.f1 + u64::from(s.gap);
            if f2 >= before {
                break;
            }
            done += 1;
            let others = if s.gap == 0 {
                Some(0)
            } else {
                between(s.f1, f2).map(|n| n.saturating_sub(u64::from(s.own)))
            };
            match others {
                Some(n) => stats.record(n),
                None => stats.unresolved += 1,
            }
            if let Some(d) = detail.as_deref_mut() {
                if let Some(e) = d.entries.get_mut(d.next) {
                    e.others = others;
                }
                d.next += 1;
            }
        }
        spans.drain(..done);
        if spans.is_empty() && spans.capacity() > 64 {
            *spans = Vec::new();
        }
    }

    /// The oldest frame a waiting batch (or the one being answered) still needs the index
    /// from.
    pub fn oldest_frame(&self) -> Option<u64> {
        let open = (self.open.batch != NONE).then_some(self.open.f1);
        self.spans.first().map(|s| s.f1).or(open)
    }

    /// Batches waiting, given up: their connection leaves the table.
    pub fn abandon(&self) -> InterleaveStats {
        let mut s = self.stats;
        s.unresolved += self.spans.len() as u64;
        s
    }

    /// Keeps each batch's estimate (the first [`MAX_DETAIL`]), for tests that compare them
    /// one by one.
    pub fn keep_detail(&mut self) {
        self.detail.get_or_insert_with(Box::default);
    }

    /// The batches kept one by one, in order ([`Interleave::keep_detail`]).
    pub fn detail(&self) -> &[BatchEstimate] {
        self.detail.as_ref().map_or(&[], |d| &d.entries)
    }

    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.spans.capacity() * std::mem::size_of::<Span>()
            + self.detail.as_ref().map_or(0, |d| {
                std::mem::size_of::<Detail>() + d.entries.capacity() * std::mem::size_of::<BatchEstimate>()
            })
    }
}

/// Capture-wide (or, analysed in parallel, one analyzer's share): how many replies each
/// frame completed, in frame order, as running counts so that any range is two lookups.
///
/// Frames come in order to one analyzer, so a reply's frame is the last entry's or a new
/// one at the end; only bytes completed behind a hole can bring an older frame, which marks
/// the index unsorted until it is next read.
#[derive(Debug)]
pub struct ReplyIndex {
    frames: Vec<u64>,
    /// Replies completed through each entry, wrapping: a range is a wrapping difference, right
    /// while a batch spans fewer than 2^32 replies.
    cum: Vec<u32>,
    /// The count before the first entry (entries dropped from the front).
    base: u32,
    /// Frames up to this one were dropped (0: none).
    trimmed_to: u64,
    /// Frames from this one on were not recorded: the index was full.
    full_from: Option<u64>,
    unsorted: bool,
    /// Most entries.
    cap: usize,
    /// When full, drop the older half rather than stop (an analyzer that sees every frame
    /// and resolves as it goes; a parallel share must keep all until merged).
    rolling: bool,
    /// The latest frame and its replies so far, kept here rather than in the vectors: a
    /// pipelined reply segment completes many replies, each counted with one compare.
    tail_frame: u64,
    tail_n: u32,
}

impl ReplyIndex {
    /// An index of at most `bytes` bytes.
    pub fn new(bytes: usize, rolling: bool) -> Self {
        ReplyIndex {
            frames: Vec::new(),
            cum: Vec::new(),
            base: 0,
            trimmed_to: 0,
            full_from: None,
            unsorted: false,
            cap: (bytes / INDEX_ENTRY_BYTES).max(2),
            rolling,
            tail_frame: 0,
            tail_n: 0,
        }
    }

    /// Stop dropping old entries when full: this index is one share of a parallel analysis,
    /// read only once every share is in.
    pub fn set_rolling(&mut self, rolling: bool) {
        self.rolling = rolling;
    }

    /// A reply completed in `frame`.
    #[inline]
    pub fn record(&mut self, frame: u64) {
        if frame == self.tail_frame {
            self.tail_n = self.tail_n.wrapping_add(1);
            return;
        }
        self.settle();
        (self.tail_frame, self.tail_n) = (frame, 1);
    }

    /// Writes the latest frame's count into the vectors.
    fn settle(&mut self) {
        let n = std::mem::take(&mut self.tail_n);
        if n > 0 {
            self.push(self.tail_frame, n);
        }
    }

    fn push(&mut self, frame: u64, n: u32) {
        if frame <= self.trimmed_to {
            // Late (completed behind a hole) in a part already given up.
            return;
        }
        if let Some(f) = &mut self.full_from {
            *f = (*f).min(frame);
            return;
        }
        if self.frames.len() >= self.cap {
            if !self.rolling {
                self.full_from = Some(frame);
                return;
            }
            self.prepare();
            let half = self.frames.get(self.frames.len() / 2).copied().unwrap_or(0);
            self.trim(half);
        }
        if self.frames.len() == self.frames.capacity() {
            // Grown by half, never past the cap: the budget counts what is allocated.
            let extra = (self.frames.len() / 2).max(1024).min(self.cap - self.frames.len());
            self.frames.reserve_exact(extra);
            self.cum.reserve_exact(extra);
        }
        let prev = self.cum.last().copied().unwrap_or(self.base);
        match self.frames.last() {
            Some(&l) if l == frame => {
                // The same frame again after a late one (completed behind a hole).
                if let Some(c) = self.cum.last_mut() {
                    *c = c.wrapping_add(n);
                }
                return;
            }
            Some(&l) if frame < l => self.unsorted = true,
            _ => {}
        }
        self.frames.push(frame);
        self.cum.push(prev.wrapping_add(n));
    }

    /// Makes the index ready to be read: the latest frame's count written and late entries
    /// (replies completed behind a hole, rare) put in frame order.
    pub fn prepare(&mut self) {
        self.settle();
        if !self.unsorted {
            return;
        }
        self.unsorted = false;
        let mut prev = self.base;
        let mut v: Vec<(u64, u32)> = self
            .frames
            .iter()
            .zip(&self.cum)
            .map(|(&f, &c)| {
                let n = c.wrapping_sub(prev);
                prev = c;
                (f, n)
            })
            .collect();
        v.sort_by_key(|e| e.0);
        self.frames.clear();
        self.cum.clear();
        let mut run = self.base;
        for (f, n) in v {
            run = run.wrapping_add(n);
            if self.frames.last() == Some(&f) {
                if let Some(c) = self.cum.last_mut() {
                    *c = run;
                }
            } else {
                self.frames.push(f);
                self.cum.push(run);
            }
        }
    }

    /// One index of the indices of several analyzers, each holding its own connections'
    /// frames: merged in frame order, linearly, so that a range is two lookups however many
    /// analyzers there were.
    pub fn combine(parts: Vec<ReplyIndex>) -> ReplyIndex {
        let mut out: Option<ReplyIndex> = None;
        for mut p in parts {
            p.prepare();
            out = Some(match out {
                None => p,
                Some(o) => o.merged_with(&p),
            });
        }
        out.unwrap_or_else(|| ReplyIndex::new(0, false))
    }

    /// Both prepared.
    fn merged_with(self, b: &ReplyIndex) -> ReplyIndex {
        let a = &self;
        let n = a.frames.len() + b.frames.len();
        let (mut frames, mut cum) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut i, mut j, mut run) = (0, 0, 0u32);
        let (mut prev_a, mut prev_b) = (a.base, b.base);
        loop {
            let next = match (a.frames.get(i), b.frames.get(j)) {
                (Some(&fa), Some(&fb)) if fa <= fb => Some((fa, true)),
                (Some(&fa), None) => Some((fa, true)),
                (_, Some(&fb)) => Some((fb, false)),
                (None, None) => None,
            };
            let Some((f, from_a)) = next else { break };
            // Each entry's own count is the difference of running counts.
            let count = if from_a {
                let c = a.cum.get(i).copied().unwrap_or(prev_a);
                i += 1;
                c.wrapping_sub(std::mem::replace(&mut prev_a, c))
            } else {
                let c = b.cum.get(j).copied().unwrap_or(prev_b);
                j += 1;
                c.wrapping_sub(std::mem::replace(&mut prev_b, c))
            };
            run = run.wrapping_add(count);
            if frames.last() == Some(&f) {
                if let Some(c) = cum.last_mut() {
                    *c = run;
                }
            } else {
                frames.push(f);
                cum.push(run);
            }
        }
        let full_from = match (a.full_from, b.full_from) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        ReplyIndex {
            frames,
            cum,
            base: 0,
            trimmed_to: a.trimmed_to.max(b.trimmed_to),
            full_from,
            unsorted: false,
            cap: a.cap.saturating_add(b.cap),
            rolling: false,
            tail_frame: 0,
            tail_n: 0,
        }
    }

    /// Drops the entries of frames up to `frame` (sorted).
    pub fn trim(&mut self, frame: u64) {
        let k = self.frames.partition_point(|&f| f <= frame);
        if k == 0 {
            return;
        }
        self.base = self.cum.get(k - 1).copied().unwrap_or(self.base);
        self.frames.drain(..k);
        self.cum.drain(..k);
        self.trimmed_to = self.trimmed_to.max(frame);
    }

    /// Replies completed in frames strictly between `a` and `b`; `None` when the index does
    /// not cover them all (read after [`ReplyIndex::prepare`]).
    pub fn between(&self, a: u64, b: u64) -> Option<u64> {
        if a < self.trimmed_to || self.full_from.is_some_and(|f| b > f) {
            return None;
        }
        let i = self.frames.partition_point(|&f| f <= a);
        let j = self.frames.partition_point(|&f| f < b);
        if j <= i {
            return Some(0);
        }
        let before = if i == 0 { self.base } else { self.cum[i - 1] };
        Some(u64::from(self.cum[j - 1].wrapping_sub(before)))
    }

    /// The first frame not recorded because the index was full, if it filled.
    pub fn full_from(&self) -> Option<u64> {
        self.full_from
    }

    /// Frames held (after [`ReplyIndex::prepare`]).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frame held (after [`ReplyIndex::prepare`]).
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.frames.capacity() * 8 + self.cum.capacity() * 4
    }
}

/// Replies completed in frames strictly between `a` and `b` over several analyzers' indices
/// (each holding its own connections' frames); `None` if any does not cover the range.
pub fn between_all(indices: &[&ReplyIndex], a: u64, b: u64) -> Option<u64> {
    indices.iter().try_fold(0u64, |n, ix| Some(n + ix.between(a, b)?))
}

/// The capture-wide summary (`interleave` in the report).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct InterleaveSummary {
    /// Batches with at least two replies, resolved, over all connections.
    pub batches: u64,
    /// Of them, batches with at least one other client's command inside.
    pub interleaved: u64,
    /// Other clients' commands inside a batch, on average (two decimals).
    pub others_mean: f64,
    /// Most other clients' commands inside one batch.
    pub others_max: u64,
    /// Batches with at least two replies that could not be estimated (a cap was reached).
    pub unresolved: u64,
    /// The first frame the reply index stopped covering, when it filled (null: the whole
    /// capture is covered).
    pub covered_before_frame: Option<u64>,
}

impl InterleaveSummary {
    /// From the sums over every connection.
    pub fn of(s: &InterleaveStats, covered_before_frame: Option<u64>) -> Self {
        let mean = s.report().map_or(0.0, |r| r.others_mean);
        InterleaveSummary {
            batches: s.batches,
            interleaved: s.interleaved,
            others_mean: mean,
            others_max: s.others_max,
            unresolved: s.unresolved,
            covered_before_frame,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_with(il: &mut Interleave, ix: &mut [&mut ReplyIndex]) {
        for i in ix.iter_mut() {
            i.prepare();
        }
        let ix: Vec<&ReplyIndex> = ix.iter().map(|i| &**i).collect();
        let ix = ix.as_slice();
        il.close();
        il.resolve(u64::MAX, &mut |a, b| between_all(ix, a, b));
    }

    #[test]
    fn others_are_the_replies_strictly_between_first_and_last_frame() {
        // Connection A's batch 0: replies in frames 10 (2), 12 (1), 20 (1); B's replies in
        // frames 11 (3) and 15 (2), C's in 21 (after A's last).
        let mut ix = ReplyIndex::new(1 << 20, false);
        let mut a = Interleave::default();
        for (f, batch) in
            [(10, 0), (10, 0), (11, 9), (11, 9), (11, 9), (12, 0), (15, 9), (15, 9), (20, 0), (21, 7)]
        {
            ix.record(f);
            if batch == 0 {
                a.reply(0, 1, f);
            }
        }
        resolve_with(&mut a, &mut [&mut ix]);
        assert_eq!(
            a.stats,
            InterleaveStats { batches: 1, interleaved: 1, others_sum: 5, others_max: 5, unresolved: 0 }
        );
    }

    #[test]
    fn a_batch_answered_in_one_frame_is_alone_and_a_single_reply_is_no_batch() {
        let mut a = Interleave::default();
        a.reply(0, 1, 5);
        a.reply(0, 2, 5);
        a.reply(1, 3, 7);
        a.reply(2, 4, 9);
        a.reply(2, 5, 9);
        a.close();
        assert_eq!(a.stats.batches, 2);
        assert_eq!(a.stats.interleaved, 0);
    }

    #[test]
    fn the_next_batch_sharing_the_last_frame_is_not_counted_as_another_client() {
        // Batch 0's replies end in frame 4, where batch 1's begin; batch 1 ends in frame 6.
        let mut ix = ReplyIndex::new(1 << 20, false);
        let mut a = Interleave::default();
        for (f, b) in [(2, 0), (3, 0), (4, 0), (4, 1), (4, 1), (6, 1)] {
            ix.record(f);
            a.reply(b, 0, f);
        }
        resolve_with(&mut a, &mut [&mut ix]);
        assert_eq!(a.stats.batches, 2);
        assert_eq!(a.stats.others_sum, 0);
    }

    #[test]
    fn indices_of_several_analyzers_add_up_as_one() {
        // Frames 1..=300: each frame's replies land in one of three analyzers by frame % 3.
        let mut whole = ReplyIndex::new(1 << 20, false);
        let mut parts = [
            ReplyIndex::new(1 << 20, false),
            ReplyIndex::new(1 << 20, false),
            ReplyIndex::new(1 << 20, false),
        ];
        for f in 1..=300u64 {
            for _ in 0..(f % 5) {
                whole.record(f);
                parts[(f % 3) as usize].record(f);
            }
        }
        whole.prepare();
        for p in &mut parts {
            p.prepare();
        }
        let refs: Vec<&ReplyIndex> = parts.iter().collect();
        for (a, b) in [(1, 300), (5, 6), (5, 7), (0, 301), (100, 250), (299, 300)] {
            assert_eq!(between_all(&refs, a, b), whole.between(a, b), "({a}, {b})");
        }
        let one = ReplyIndex::combine(parts.into_iter().collect());
        assert_eq!(one.len(), whole.len());
        for (a, b) in [(1, 300), (5, 6), (5, 7), (0, 301), (100, 250), (299, 300), (17, 18)] {
            assert_eq!(one.between(a, b), whole.between(a, b), "({a}, {b})");
        }
        assert_eq!(whole.between(0, 4), Some(1 + 2 + 3));
    }

    #[test]
    fn late_frames_are_put_in_order() {
        let mut ix = ReplyIndex::new(1 << 20, false);
        for f in [1, 2, 2, 5, 3, 3, 6, 2] {
            ix.record(f);
        }
        ix.prepare();
        assert_eq!(ix.between(0, 7), Some(8));
        assert_eq!(ix.between(1, 5), Some(3 + 2));
        assert_eq!(ix.between(2, 6), Some(2 + 1));
    }

    #[test]
    fn a_full_index_says_where_it_stopped_and_a_rolling_one_drops_its_older_half() {
        let cap = 10 * INDEX_ENTRY_BYTES;
        let mut stop = ReplyIndex::new(cap, false);
        let mut roll = ReplyIndex::new(cap, true);
        for f in 1..=30u64 {
            stop.record(f);
            roll.record(f);
        }
        stop.prepare();
        roll.prepare();
        assert_eq!(stop.full_from(), Some(11));
        assert_eq!(stop.between(2, 10), Some(7));
        assert_eq!(stop.between(2, 12), None, "frame 11 was not recorded");
        assert!(roll.len() <= 10);
        assert_eq!(roll.between(25, 30), Some(4));
        assert_eq!(roll.between(2, 30), None, "its older entries were dropped");
        assert!(stop.heap_bytes() <= cap);
    }

    #[test]
    fn batches_past_the_cap_are_unresolved_not_guessed() {
        let mut a = Interleave::default();
        for b in 0..(MAX_SPANS as u64 + 5) {
            a.reply(b, 0, 2 * b + 1);
            a.reply(b, 0, 2 * b + 2);
        }
        a.close();
        assert_eq!(a.stats.unresolved, 5);
        a.resolve(u64::MAX, &mut |_, _| Some(0));
        assert_eq!(a.stats.batches, MAX_SPANS as u64);
    }
}
