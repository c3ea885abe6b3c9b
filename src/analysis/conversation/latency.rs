//! Latency samples with exact nearest-rank percentiles for small counts and hdrhistogram
//! beyond.
//!
//! A connection's first [`EXACT_SAMPLES`] latencies are kept as they are, so the percentiles
//! of a test-sized capture are exact nearest-rank values. Past that the samples move into an
//! hdrhistogram (3 significant figures, relative error below 0.1%), so memory stays bounded
//! whatever the capture's length. Values beyond the histogram's range are clamped to it and
//! counted as outliers, never dropped.

use hdrhistogram::Histogram;

/// Samples kept exactly before switching to the histogram (an auto-sizing one: it only
/// grows as far as the largest latency seen).
pub const EXACT_SAMPLES: usize = 4096;
/// Largest latency the histogram holds: one hour in microseconds.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
// The exact samples are stored as u32.
const _: () = assert!(MAX_LATENCY_US <= u32::MAX as u64);

/// Latency statistics in microseconds.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// As u32: every value is at most [`MAX_LATENCY_US`] (< 2^32), and half the bytes let a
    /// live console keep 1,000 busy connections' samples in 16 MiB.
    exact: Vec<u32>,
    hist: Option<Histogram<u32>>,
    count: u64,
    min: u64,
    max: u64,
    /// Samples above [`MAX_LATENCY_US`], recorded as that maximum.
    pub outliers: u64,
    /// Set once the samples were given up for their summary (a finished connection).
    frozen: Option<LatencySummary>,
}

/// Percentile summary, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Smallest sample.
    pub min: Option<u64>,
    /// Median (nearest rank).
    pub p50: Option<u64>,
    /// 90th percentile (nearest rank).
    pub p90: Option<u64>,
    /// 99th percentile (nearest rank).
    pub p99: Option<u64>,
    /// Largest sample.
    pub max: Option<u64>,
}

/// Latency percentiles of the commands answered in one interval (the console's series).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IntervalLatency {
    /// Commands answered in the interval.
    pub count: u64,
    /// Median (µs, hdrhistogram: within 0.1%).
    pub p50: Option<u64>,
    /// 99th percentile (µs).
    pub p99: Option<u64>,
    /// 99.9th percentile (µs).
    pub p999: Option<u64>,
    /// Largest (µs).
    pub max: Option<u64>,
}

impl IntervalLatency {
    /// Percentiles of `h` (all `None` when it is empty).
    pub fn of(h: &Histogram<u32>) -> IntervalLatency {
        if h.is_empty() {
            return IntervalLatency::default();
        }
        let q = |x: f64| Some(h.value_at_quantile(x));
        IntervalLatency { count: h.len(), p50: q(0.5), p99: q(0.99), p999: q(0.999), max: Some(h.max()) }
    }
}

impl Latency {
    /// Records one latency (µs).
    pub fn record(&mut self, us: u64) {
        let v = if us > MAX_LATENCY_US {
            self.outliers += 1;
            MAX_LATENCY_US
        } else {
            us
        };
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        if let Some(h) = &mut self.hist {
            record_into(h, v);
            return;
        }
        self.exact.push(u32::try_from(v).unwrap_or(u32::MAX));
        if self.exact.len() > EXACT_SAMPLES {
            if let Ok(mut h) = Histogram::<u32>::new(3) {
                for &s in &self.exact {
                    record_into(&mut h, u64::from(s));
                }
                self.hist = Some(h);
                self.exact = Vec::new();
            }
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Nearest-rank percentile `p` in (0, 100].
    pub fn percentile(&self, p: f64) -> Option<u64> {
        self.percentiles(&[p]).first().copied().flatten()
    }

    /// Several nearest-rank percentiles at once.
    pub fn percentiles(&self, ps: &[f64]) -> Vec<Option<u64>> {
        if self.count == 0 {
            return vec![None; ps.len()];
        }
        if let Some(h) = &self.hist {
            // hdrhistogram reports the highest value equivalent to the bucket; clamp it into
            // the observed range so p100 equals the true maximum.
            return ps
                .iter()
                .map(|p| Some(h.value_at_quantile(p / 100.0).clamp(self.min, self.max)))
                .collect();
        }
        // Each rank is selected, not the samples sorted: the ranks in ascending order, each
        // selection confined to the samples above the previous one (already partitioned).
        let mut v = self.exact.clone();
        let ranks: Vec<usize> = ps
            .iter()
            .map(|p| {
                let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
                rank.clamp(1, v.len()) - 1
            })
            .collect();
        let mut order: Vec<usize> = (0..ranks.len()).collect();
        order.sort_unstable_by_key(|&k| ranks[k]);
        let mut out = vec![None; ranks.len()];
        let mut from = 0;
        for k in order {
            let r = ranks[k];
            if let Some(rest) = v.get_mut(from..) {
                if r >= from && r - from < rest.len() {
                    let (_, nth, _) = rest.select_nth_unstable(r - from);
                    out[k] = Some(u64::from(*nth));
                    from = r;
                }
            }
        }
        out
    }

    /// Heap held, for memory budgets: the exact samples or the histogram's counts.
    pub fn heap_bytes(&self) -> usize {
        self.exact.capacity() * std::mem::size_of::<u32>()
            + self.hist.as_ref().map_or(0, |h| h.distinct_values() * std::mem::size_of::<u32>() + 128)
    }

    /// Keeps only the summary: a finished connection's samples are no longer needed.
    pub fn freeze(&mut self) {
        self.frozen = Some(self.summary());
        self.exact = Vec::new();
        self.hist = None;
    }

    /// The reported summary (all `None` without samples).
    pub fn summary(&self) -> LatencySummary {
        if let Some(f) = self.frozen {
            return f;
        }
        if self.count == 0 {
            return LatencySummary { count: 0, min: None, p50: None, p90: None, p99: None, max: None };
        }
        let p = self.percentiles(&[50.0, 90.0, 99.0]);
        LatencySummary {
            count: self.count,
            min: Some(self.min),
            p50: p[0],
            p90: p[1],
            p99: p[2],
            max: Some(self.max),
        }
    }

    /// Adds another set of samples into this one.
    pub fn merge(&mut self, other: &Latency) {
        if let Some(h) = &other.hist {
            for v in h.iter_recorded() {
                for _ in 0..v.count_at_value().min(1_000_000) {
                    self.record(v.value_iterated_to());
                }
            }
        } else {
            for &v in &other.exact {
                self.record(u64::from(v));
            }
        }
    }
}

/// Records into an auto-sizing histogram: `record` grows it; only a failure to grow (a count
/// overflow) falls back to clamping.
fn record_into(h: &mut Histogram<u32>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_is_exact_for_small_counts() {
        let mut l = Latency::default();
        for v in [15, 20, 35, 40, 50] {
            l.record(v);
        }
        // Nearest rank: p50 -> rank ceil(2.5) = 3 -> 35; p90 -> rank 5 -> 50.
        assert_eq!(l.percentile(50.0), Some(35));
        assert_eq!(l.percentile(90.0), Some(50));
        assert_eq!(l.summary().min, Some(15));
    }

    #[test]
    fn large_counts_stay_within_a_tenth_of_a_percent() {
        let mut l = Latency::default();
        for v in 1..=100_000u64 {
            l.record(v);
        }
        let p99 = l.percentile(99.0).unwrap_or(0) as f64;
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.001, "{p99}");
        assert_eq!(l.summary().max, Some(100_000));
    }

    #[test]
    fn no_samples_means_no_numbers() {
        let s = Latency::default().summary();
        assert_eq!(s.p50, None);
        assert_eq!(s.count, 0);
    }
}
