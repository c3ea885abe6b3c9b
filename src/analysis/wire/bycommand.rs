//! Latency by command name in fixed buckets, for a metrics exporter: every paired command is
//! counted, pipelined ones included (the wire pairs each reply with its command, where a
//! client-side timer sees only the pipeline as a whole).
//!
//! Fixed bucket bounds rather than a histogram per name with its own precision: a scrape
//! needs cumulative counts at stable bounds, and a name costs 17 counters (136 bytes), so
//! the [`super::names::MAX_NAMES`] bound keeps the table under 600 KiB.

/// Upper bounds of the buckets, µs: 50 µs to 10 s, roughly 1-2.5-5 per decade (the bounds
/// Prometheus users expect for request latency, stretched down to what loopback achieves).
pub const BOUNDS_US: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// One name's counts: per bucket (the last is +Inf), and the sum of the latencies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buckets {
    /// Commands per bucket, not cumulative; index [`BOUNDS_US`]`.len()` is above the last.
    pub counts: [u64; BOUNDS_US.len() + 1],
    /// Sum of the latencies, µs.
    pub sum_us: u64,
}

impl Buckets {
    /// Commands counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Latency buckets by command-name id (the analyzer's [`super::NameTable`] ids).
#[derive(Clone, Debug, Default)]
pub struct CommandLatency {
    by_id: Vec<Buckets>,
}

impl CommandLatency {
    /// Counts one paired command of name `id` that took `us`.
    #[inline]
    pub fn record(&mut self, id: u32, us: u64) {
        let i = id as usize;
        if i > super::names::MAX_NAMES {
            return;
        }
        if i >= self.by_id.len() {
            self.by_id.resize(i + 1, Buckets::default());
        }
        let b = BOUNDS_US.partition_point(|&bound| bound < us);
        let e = &mut self.by_id[i];
        e.counts[b] += 1;
        e.sum_us = e.sum_us.saturating_add(us);
    }

    /// The buckets of every name id seen, by id.
    pub fn by_id(&self) -> &[Buckets] {
        &self.by_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_lands_in_the_first_bucket_whose_bound_holds_it() {
        let mut c = CommandLatency::default();
        for us in [0, 50, 51, 999, 1_000, 10_000_000, 10_000_001, u64::MAX] {
            c.record(3, us);
        }
        let b = c.by_id()[3];
        assert_eq!(b.counts[0], 2, "0 and 50 µs are ≤ 50");
        assert_eq!(b.counts[1], 1, "51 µs");
        assert_eq!(b.counts[4], 2, "999 and 1,000 µs");
        assert_eq!(b.counts[15], 1, "10 s");
        assert_eq!(b.counts[16], 2, "above 10 s");
        assert_eq!(b.count(), 8);
        assert_eq!(b.sum_us, u64::MAX, "the sum saturates");
        assert_eq!(c.by_id()[0].count(), 0);
        // An id past the name table's bound is not counted (nor does it grow the table).
        c.record(u32::MAX, 5);
        assert_eq!(c.by_id().len(), 4);
    }
}
