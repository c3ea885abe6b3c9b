//! What a live feed hands the views: a snapshot of the analyzer, taken on the capture thread
//! between packets, so it must cost little however many connections are kept.
//!
//! Each connection's report and activity are built once and shared (`Arc`) until the
//! connection changes: a snapshot rebuilds only the connections that saw packets since the
//! previous one (or whose interval ended with a pipeline still deep), and hands every other
//! one over as a pointer. A finished connection is built once, when it finishes. The
//! Timeline's batch log is shared the same way, a chunk at a time (see
//! [`BatchLog`](crate::analysis::wire::batchlog::BatchLog)).

use std::sync::Arc;

use crate::analysis::conversation::latency::IntervalLatency;
use crate::analysis::wire::{Connection, WireAnalyzer};
use crate::engine::activity::ConnActivity;
use crate::engine::report::{conn_report_latest, ConnReport, Report, SnapshotLimits};

/// A snapshot's numbers.
pub struct Snap {
    /// The report, its connections listed as the limits say.
    pub report: Report,
    /// Each listed connection's recent activity, in the report's order.
    pub activity: Vec<Arc<ConnActivity>>,
    /// Latency since the previous snapshot.
    pub latency: IntervalLatency,
}

/// What a connection looked like when its report was built.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Version {
    packets: u64,
    live: bool,
    depth: i64,
    /// Batches whose interleaving was estimated: resolved after their last packet.
    interleave: u64,
}

impl Version {
    fn of(c: &Connection) -> Version {
        // A finished connection's interval depth is never shown (its history takes no more
        // points), and its reset after the last interval must not build it again.
        let live = c.is_live();
        let il = &c.conv().interleave.stats;
        Version {
            packets: c.packets,
            live,
            depth: if live { c.conv().interval_max_depth } else { 0 },
            interleave: il.batches + il.unresolved,
        }
    }
}

struct Cached {
    id: u64,
    version: Version,
    report: Arc<ConnReport>,
    activity: Arc<ConnActivity>,
}

impl Cached {
    fn build(c: &Connection, version: Version, details: usize) -> Cached {
        let report = conn_report_latest(c, details);
        Cached { id: c.id, version, report: Arc::new(report), activity: Arc::new(ConnActivity::of(c)) }
    }
}

/// Takes snapshots of one analyzer, reusing what did not change.
pub struct Snapshotter {
    limits: SnapshotLimits,
    /// The connections the previous snapshot listed, by id (ascending: connections are
    /// numbered in order of first appearance and listed in that order).
    cache: Vec<Cached>,
    /// Connections built afresh by the latest snapshot (for benchmarks and tests).
    pub rebuilt: usize,
}

impl Snapshotter {
    /// Snapshots listing what `limits` says.
    pub fn new(limits: SnapshotLimits) -> Snapshotter {
        Snapshotter { limits, cache: Vec::new(), rebuilt: 0 }
    }

    /// Forgets every connection built: the next snapshot builds them all, as one without a
    /// cache would (for benchmarks).
    pub fn forget(&mut self) {
        self.cache.clear();
    }

    /// The analyzer now; starts the next interval.
    pub fn take(&mut self, w: &mut WireAnalyzer) -> Snap {
        self.rebuilt = 0;
        w.resolve_seen();
        let mut report = Report::summary(w, Vec::new());
        let listed = Report::listed(w, self.limits);
        let mut activity = Vec::with_capacity(listed.len());
        let mut conns = Vec::with_capacity(listed.len());
        let mut cache = Vec::with_capacity(listed.len());
        // Both in ascending id order: one walk, no lookups.
        let mut old = std::mem::take(&mut self.cache).into_iter().peekable();
        for c in listed {
            while old.next_if(|e| e.id < c.id).is_some() {}
            let version = Version::of(c);
            let e = old.next_if(|e| e.id == c.id && e.version == version).unwrap_or_else(|| {
                self.rebuilt += 1;
                Cached::build(c, version, self.limits.details)
            });
            conns.push(Arc::clone(&e.report));
            activity.push(Arc::clone(&e.activity));
            cache.push(e);
        }
        self.cache = cache;
        report.capture.unlisted_connections = (w.conns.len() - conns.len()) as u64;
        report.connections = conns;
        let latency = w.end_interval();
        Snap { report, activity, latency }
    }
}
