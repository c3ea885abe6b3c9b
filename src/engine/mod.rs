//! The engine: folds analysis results into the model the views read.
//!
//! For `analyze` the model is the whole-capture [`report::Report`]; [`analyze_file`] is the one
//! code path from a file to it.

pub mod activity;
pub mod alerts;
pub mod evidence;
pub mod live;
pub mod model;
pub mod report;
pub mod timeline;

use std::path::Path;

use crate::analysis::wire::{SegmentRecord, WireAnalyzer, WireConfig};
use crate::sources::capture::file::BatchReader;
use crate::sources::capture::{CaptureFile, CaptureFileError};

/// Sees each Redis segment as it is analysed (for listings).
pub type SegmentSink<'a> = dyn FnMut(&SegmentRecord, &WireAnalyzer) + 'a;

/// Analysers to run in parallel: one per core left after the reading thread, at most 4
/// (beyond that reading is the limit). On two cores that is one: measured, a second analyzer
/// only makes the three threads fight for the two cores.
/// `RESPSCOPE_ANALYZERS` overrides the choice (for benchmarks).
fn workers() -> usize {
    if let Some(n) = std::env::var("RESPSCOPE_ANALYZERS").ok().and_then(|v| v.parse::<usize>().ok()) {
        return n.clamp(1, 16);
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).clamp(1, 4))
}

/// The single-analyzer path, feeding each segment to `sink` in frame order.
fn one_analyzer(
    mut file: CaptureFile,
    cfg: WireConfig,
    sink: &mut SegmentSink<'_>,
) -> Result<(WireAnalyzer, crate::sources::capture::file::ReadEnd), CaptureFileError> {
    let mut wire = WireAnalyzer::new(cfg, file.link());
    let end = file.for_each(|frame| {
        if let Some(rec) = wire.frame(&frame, true) {
            sink(&rec, &wire);
        }
    });
    wire.finish();
    Ok((wire, end))
}

/// Waits for every thread: the results of those that finished, and how many panicked (a
/// bug whose cost is their share of the report, which the caller must say).
fn join_all<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> (Vec<T>, usize) {
    let mut done = Vec::with_capacity(handles.len());
    let mut failed = 0;
    for h in handles {
        match h.join() {
            Ok(v) => done.push(v),
            Err(_) => failed += 1,
        }
    }
    (done, failed)
}

/// A finished analysis of one file.
pub struct FileAnalysis {
    /// The analyzer, finished.
    pub wire: WireAnalyzer,
    /// Problems with the input.
    pub warnings: Vec<String>,
    /// Analyzer threads that failed: their connections are missing from the report. A bug,
    /// never a property of the input.
    pub failed_analyzers: usize,
}

impl FileAnalysis {
    /// The contract-v1 report with every connection listed (small captures and tests).
    pub fn report(&self) -> report::Report {
        report::Report::build(&self.wire, self.warnings.clone())
    }

    /// The report without its connections, which [`FileAnalysis::connections`] lists one at
    /// a time.
    pub fn summary(&self) -> report::Report {
        report::Report::summary(&self.wire, self.warnings.clone())
    }

    /// The connections, built as they are listed.
    pub fn connections(&self) -> report::Connections<'_> {
        report::Connections::Analyzer(&self.wire)
    }
}

/// Reads a capture file to the end (or to its first damaged record) and analyses it.
/// `on_segment`, when given, sees every Redis segment as it is analysed.
///
/// # Errors
/// The file is missing, not a capture, or of an unsupported link type.
pub fn analyze_file(
    path: &Path,
    cfg: WireConfig,
    on_segment: Option<&mut SegmentSink<'_>>,
) -> Result<FileAnalysis, CaptureFileError> {
    let file = CaptureFile::open(path)?;
    let link = file.link();
    // A listing must come out in frame order, so it stays on one analyzer; otherwise
    // connections are dealt out to one analyzer per core.
    let n = if on_segment.is_some() { 1 } else { workers() };
    let (wire, end, failed_analyzers) = match on_segment {
        Some(sink) => {
            let (wire, end) = one_analyzer(file, cfg, sink)?;
            (wire, end, 0)
        }
        None => {
            let mut reader = BatchReader::spawn(file, n, move |f| WireAnalyzer::shard_of(link, f, n))
                .map_err(|e| CaptureFileError::Thread(e.to_string()))?;
            let mut parts = Vec::new();
            let mut failed = 0usize;
            let shards = std::mem::take(&mut reader.shards);
            std::thread::scope(|s| {
                let handles: Vec<_> = shards
                    .into_iter()
                    .map(|shard| {
                        // Each analyzer holds its share of the memory budget.
                        let cfg = WireConfig { memory_budget: cfg.memory_budget / n, ..cfg.clone() };
                        s.spawn(move || {
                            let mut wire = WireAnalyzer::new(cfg, link);
                            for batch in &shard.batches {
                                batch.frames().for_each(|f| {
                                    wire.frame(&f, false);
                                });
                                let _ = shard.recycle.send(batch);
                            }
                            wire.finish();
                            wire
                        })
                    })
                    .collect();
                (parts, failed) = join_all(handles);
            });
            let end = reader.finish();
            let wire = WireAnalyzer::merge(parts).unwrap_or_else(|| WireAnalyzer::new(cfg, link));
            (wire, end, failed)
        }
    };
    let mut warnings = Vec::new();
    if let Some(w) = end.warning {
        warnings.push(w);
    }
    if wire.counts.tcp_packets == 0 && wire.counts.packets > 0 {
        warnings.push(format!(
            "no TCP packets on port(s) {:?}: is the server on another port? Use --port",
            wire.config().ports
        ));
    }
    if failed_analyzers > 0 {
        warnings.push(format!(
            "{failed_analyzers} analyzer thread(s) failed, so the connections they held are missing from this report; this is a bug in respscope, please report it with the capture"
        ));
    }
    Ok(FileAnalysis { wire, warnings, failed_analyzers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_panics_is_counted_not_dropped_silently() {
        let (done, failed) = std::thread::scope(|s| {
            let handles = vec![
                s.spawn(|| 1),
                s.spawn(|| -> i32 { std::panic::panic_any("an analyzer bug") }),
                s.spawn(|| 3),
            ];
            join_all(handles)
        });
        assert_eq!(done, [1, 3]);
        assert_eq!(failed, 1);
    }
}
