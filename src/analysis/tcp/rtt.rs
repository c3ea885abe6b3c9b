//! Round-trip time from ACKs, sampled the way TCP stacks sample it (RFC 6298 §3 with Karn's
//! rule): one timed data segment per direction at a time, from its capture time to the first
//! ACK from the peer that covers its last byte. A segment that is retransmitted while timed is
//! dropped from timing, since its ACK could answer either copy.
//!
//! Where the capture is taken decides what a direction measures: data sent by the capturing
//! host is timed over the whole path, data arriving at it only over the local stack's ACK
//! delay. The console therefore takes the larger of the two directions' minimum samples as
//! the path RTT (see `docs/METRICS.md`).

use super::seq;

/// Samples of one kind of round trip (µs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RttStats {
    /// Samples taken.
    pub count: u64,
    /// Smallest sample: the path's floor, free of queueing and delayed ACKs.
    pub min: Option<u64>,
    /// Smoothed RTT, RFC 6298's `SRTT` (gain 1/8).
    pub srtt: Option<u64>,
    /// Most recent sample.
    pub last: Option<u64>,
}

impl RttStats {
    /// Records one sample.
    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.min = Some(self.min.map_or(us, |m| m.min(us)));
        self.srtt = Some(match self.srtt {
            None => us,
            // Integer form of srtt = 7/8 srtt + 1/8 sample, in i128 so no sample can overflow.
            Some(s) => u64::try_from((i128::from(s) * 7 + i128::from(us)) / 8).unwrap_or(u64::MAX),
        });
        self.last = Some(us);
    }
}

/// ACK round-trip sampling of one connection, both directions (0: data to the server, 1:
/// data to the client).
#[derive(Clone, Copy, Debug, Default)]
pub struct AckRtt {
    /// Per direction: the sequence number just past the timed segment, and its capture time.
    timed: [Option<(u32, i64)>; 2],
    /// Samples per direction of the timed data.
    pub stats: [RttStats; 2],
}

impl AckRtt {
    /// No samples yet.
    pub const fn new() -> Self {
        const NONE: RttStats = RttStats { count: 0, min: None, srtt: None, last: None };
        AckRtt { timed: [None, None], stats: [NONE, NONE] }
    }

    /// One segment in direction `d`: its sequence number, payload length, acknowledgment
    /// number when it carries ACK, whether it is a retransmission, and its capture time.
    pub fn segment(&mut self, d: usize, seq: u32, len: u32, ack: Option<u32>, retransmission: bool, ts: i64) {
        let other = 1 - (d & 1);
        let d = d & 1;
        if let (Some(a), Some((end, t0))) = (ack, self.timed[other]) {
            if seq::le(end, a) {
                self.stats[other].record(u64::try_from(ts - t0).unwrap_or(0));
                self.timed[other] = None;
            }
        }
        if len == 0 {
            return;
        }
        if retransmission {
            if self.timed[d].is_some_and(|(end, _)| seq::lt(seq, end)) {
                self.timed[d] = None;
            }
        } else if self.timed[d].is_none() {
            self.timed[d] = Some((seq.wrapping_add(len), ts));
        }
    }

    /// The path RTT estimate: the larger of the two directions' minimum samples (one of them
    /// only measures the capturing host's own ACK delay).
    pub fn path_min(&self) -> Option<u64> {
        self.stats[0].min.max(self.stats[1].min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_one_segment_to_the_ack_that_covers_it() {
        let mut r = AckRtt::default();
        r.segment(0, 100, 10, Some(1), false, 1_000);
        // A second segment while one is timed is not timed.
        r.segment(0, 110, 10, Some(1), false, 1_100);
        // An ACK short of the timed segment's end does not sample.
        r.segment(1, 1, 0, Some(105), false, 1_200);
        assert_eq!(r.stats[0].count, 0);
        r.segment(1, 1, 0, Some(120), false, 1_500);
        assert_eq!(r.stats[0].count, 1);
        assert_eq!(r.stats[0].min, Some(500));
        assert_eq!(r.path_min(), Some(500));
    }

    #[test]
    fn karn_a_retransmitted_segment_is_not_timed() {
        let mut r = AckRtt::default();
        r.segment(0, 100, 10, None, false, 1_000);
        r.segment(0, 100, 10, None, true, 9_000);
        r.segment(1, 1, 0, Some(110), false, 9_100);
        assert_eq!(r.stats[0].count, 0);
    }

    #[test]
    fn wraps_around_two_to_the_32() {
        let mut r = AckRtt::default();
        r.segment(0, u32::MAX - 4, 10, None, false, 0);
        r.segment(1, 1, 0, Some(5), false, 42);
        assert_eq!(r.stats[0].last, Some(42));
        assert_eq!(r.stats[0].srtt, Some(42));
        r.segment(0, 5, 10, None, false, 100);
        r.segment(1, 1, 0, Some(15), false, 108);
        // 7/8 of 42 plus 1/8 of 8.
        assert_eq!(r.stats[0].srtt, Some((42 * 7 + 8) / 8));
        assert_eq!(r.stats[0].min, Some(8));
    }

    #[test]
    fn a_negative_interval_from_reordered_timestamps_counts_as_zero() {
        let mut r = AckRtt::default();
        r.segment(1, 7, 3, Some(1), false, 500);
        r.segment(0, 1, 0, Some(10), false, 400);
        assert_eq!(r.stats[1].min, Some(0));
    }
}
