//! The whole `analyze` path: bytes as a capture file, then the report in every format.
//!
//! libpcap reads files only, so the input goes through a temporary file. The calls are the
//! ones `src/main.rs` `analyze` makes: one analysis with previews and the segment listing
//! sink (text and JSON lines), one without previews (the JSON report), every renderer.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use respscope::analysis::wire::{SegmentRecord, WireAnalyzer, WireConfig};
use respscope::engine;
use respscope::views::report;

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if f.write_all(data).and_then(|()| f.flush()).is_err() {
        return;
    }
    let path = f.path();
    let source = path.display().to_string();

    // `--segments` (text and JSON lines): previews on, one analyzer, the listing sink.
    let cfg = WireConfig { ports: vec![6379], previews: true };
    // The JSON lines are built by serde_json, so they parse by construction; what can go
    // wrong is building them (a panic on some segment), which calling them finds.
    let mut each = |rec: &SegmentRecord, w: &WireAnalyzer| {
        let _ = report::segments::line(rec, w);
        let _ = report::segments::json_line(rec, w);
    };
    let _ = report::segments::header();
    if let Ok(a) = engine::analyze_file(path, cfg, Some(&mut each)) {
        let r = a.report();
        let _ = report::text::render(&r, &source);
        let _ = report::markdown::render(&r, &source);
        let _ = serde_json::to_string(&r).expect("a report serialises");
    }

    // `--format json`: previews off, the parallel path without a sink.
    let cfg = WireConfig { ports: vec![6379], previews: false };
    if let Ok(a) = engine::analyze_file(path, cfg, None) {
        let r = a.report();
        let json = report::json::render(&r).expect("a report renders as JSON");
        assert!(json.starts_with('{'), "the report is one object");
        let _ = report::text::render(&r, &source);
    }
});
