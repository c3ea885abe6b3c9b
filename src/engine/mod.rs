//! The engine: folds analysis results into the model the views read.
//!
//! For `analyze` the model is the whole-capture [`report::Report`]; [`analyze_file`] is the one
//! code path from a file to it.

pub mod report;

use std::path::Path;

use crate::analysis::wire::{SegmentRecord, WireAnalyzer, WireConfig};
use crate::sources::capture::{CaptureFile, CaptureFileError};

/// Sees each Redis segment as it is analysed (for listings).
pub type SegmentSink<'a> = dyn FnMut(&SegmentRecord, &WireAnalyzer) + 'a;

/// A finished analysis of one file.
pub struct FileAnalysis {
    /// The analyzer, finished.
    pub wire: WireAnalyzer,
    /// Problems with the input.
    pub warnings: Vec<String>,
}

impl FileAnalysis {
    /// The contract-v1 report.
    pub fn report(&self) -> report::Report {
        report::Report::build(&self.wire, self.warnings.clone())
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
    mut on_segment: Option<&mut SegmentSink<'_>>,
) -> Result<FileAnalysis, CaptureFileError> {
    let mut file = CaptureFile::open(path)?;
    let mut wire = WireAnalyzer::new(cfg, file.link());
    let listing = on_segment.is_some();
    let end = file.for_each(|frame| {
        let rec = wire.frame(&frame, listing);
        if let (Some(rec), Some(f)) = (rec, on_segment.as_mut()) {
            f(&rec, &wire);
        }
    });
    wire.finish();
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
    Ok(FileAnalysis { wire, warnings })
}
