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
    let cfg = WireConfig { previews: true, ..WireConfig::ports(vec![6379]) };
    // The JSON lines are built by serde_json, so they parse by construction; what can go
    // wrong is building them (a panic on some segment), which calling them finds.
    let mut each = |rec: &SegmentRecord, w: &WireAnalyzer| {
        let _ = report::segments::line(rec, w);
        let _ = report::segments::json_line(rec, w);
    };
    let _ = report::segments::header();
    if let Ok(a) = engine::analyze_file(path, cfg, Some(&mut each)) {
        // As `analyze` writes them: the summary, then the connections one at a time.
        let (r, conns) = (a.summary(), a.connections());
        let mut sink = std::io::sink();
        report::text::write(&mut sink, &r, conns, &source).expect("text renders");
        report::markdown::write(&mut sink, &r, conns, &source).expect("markdown renders");
        report::json::write(&mut sink, &r, conns, false).expect("a report serialises");
    }

    // `--format json`: previews off, the parallel path without a sink, and a memory budget
    // small enough that connections are retired on the way.
    let cfg = WireConfig { memory_budget: 1 << 16, ..WireConfig::ports(vec![6379]) };
    if let Ok(a) = engine::analyze_file(path, cfg, None) {
        let mut out = Vec::new();
        report::json::write(&mut out, &a.summary(), a.connections(), true).expect("JSON renders");
        assert!(out.starts_with(b"{"), "the report is one object");
        let r = a.report();
        assert_eq!(r.totals.connections, r.connections.len() as u64 + r.capture.retired_connections);
    }
});
