//! A lab's result files as a person and a script get them: `write_all` into a fresh folder,
//! the JSON and CSV parsed back, and each SVG chart rendered to PNG by a real SVG renderer
//! (rsvg-convert, Debian's librsvg2-bin): a chart plotters writes but a viewer cannot draw
//! would pass every check on the SVG's text. No root needed; rsvg-convert is (a skip outside
//! CI, a failure with CI=true).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use respscope::engine::lab::{Chart, ChartKind, Column, LabResult, LabStatus, Series};
use respscope::views::lab::write_all;
use serde_json::{json, Value};

const COMMANDS: u64 = 10_000;
const BATCHES: [u64; 4] = [1, 10, 100, 1_000];
const RTTS_MS: [f64; 4] = [0.05, 1.0, 5.0, 20.0];

/// The pipelining lab as it ends: 10,000 commands in batches of 1 to 1,000 at four RTTs,
/// elapsed time modelled as round trips × RTT plus 10 µs a command.
fn pipelining() -> LabResult {
    let columns = vec![
        Column { key: "commands", header: "Commands" },
        Column { key: "batch", header: "Batch" },
        Column { key: "rtt_ms", header: "RTT (ms)" },
        Column { key: "elapsed_ms", header: "Elapsed (ms)" },
        Column { key: "round_trips", header: "Round trips" },
        Column { key: "commands_per_sec", header: "Commands/s" },
        Column { key: "speedup", header: "Speedup" },
    ];
    let mut series = Vec::new();
    let mut rows = Vec::new();
    for rtt in RTTS_MS {
        let elapsed = |batch: u64| (COMMANDS / batch) as f64 * rtt + COMMANDS as f64 * 0.01;
        let mut points = Vec::new();
        for batch in BATCHES {
            let ms = elapsed(batch);
            let per_sec = COMMANDS as f64 / (ms / 1_000.0);
            points.push((batch as f64, per_sec));
            let row = json!({
                "commands": COMMANDS, "batch": batch, "rtt_ms": rtt, "elapsed_ms": ms,
                "round_trips": COMMANDS / batch, "commands_per_sec": per_sec,
                "speedup": elapsed(1) / ms, "client": "respscope lab",
            });
            rows.push(row.as_object().cloned().expect("a row is an object"));
        }
        series.push(Series { name: format!("{rtt} ms RTT"), points });
    }
    let chart = Chart {
        title: "Commands per second by batch size".into(),
        x_label: "batch (commands per round trip)".into(),
        y_label: "commands per second".into(),
        kind: ChartKind::Lines { log_x: true },
        series,
    };
    let mut r = LabResult::new("pipelining", "Batching commands saves round trips.", columns, chart);
    r.setup = "redis-server 7 on 127.0.0.1, lab proxy adding the RTT".into();
    r.rows = rows;
    r.notes = vec!["the proxy delays each write by half the RTT each way".into()];
    r.status = LabStatus::Done;
    r
}

/// A bars lab: three ways to send 100 commands, at two RTTs.
fn transactions() -> LabResult {
    let ways = ["one by one", "pipelined", "MULTI/EXEC"];
    let columns = vec![
        Column { key: "way", header: "Way" },
        Column { key: "rtt_ms", header: "RTT (ms)" },
        Column { key: "elapsed_ms", header: "Elapsed (ms)" },
    ];
    let mut r = LabResult::new(
        "transactions",
        "A transaction costs what its round trips cost.",
        columns,
        Chart {
            title: "Elapsed time for 100 commands".into(),
            x_label: "how they are sent".into(),
            y_label: "elapsed (ms)".into(),
            kind: ChartKind::Bars { categories: ways.iter().map(|w| w.to_string()).collect() },
            series: Vec::new(),
        },
    );
    for rtt in [1.0, 5.0] {
        let elapsed = [100.0 * rtt + 1.0, rtt + 1.0, rtt + 1.2];
        for (way, ms) in ways.iter().zip(elapsed) {
            let row = json!({"way": way, "rtt_ms": rtt, "elapsed_ms": ms});
            r.rows.push(row.as_object().cloned().expect("a row is an object"));
        }
        let points = elapsed.iter().enumerate().map(|(i, ms)| (i as f64, *ms)).collect();
        r.chart.series.push(Series { name: format!("{rtt} ms RTT"), points });
    }
    r
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned())).collect()
}

#[test]
fn json_and_csv_read_back_as_written() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // A folder that does not exist yet: write_all makes it.
    let out = dir.path().join("results").join("today");
    let r = pipelining();
    let paths = write_all(&r, &out).expect("write the lab's files");
    assert_eq!(names(&paths), ["pipelining.json", "pipelining.md", "pipelining.csv", "pipelining.svg"]);
    assert!(paths.iter().all(|p| p.starts_with(&out) && p.is_file()), "{paths:?}");

    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&paths[0]).expect("read the JSON"))
        .expect("the JSON parses");
    assert_eq!(doc["lab"], "pipelining");
    assert_eq!(doc["status"], json!({"state": "done"}));
    assert_eq!(
        doc["columns"],
        json!(["commands", "batch", "rtt_ms", "elapsed_ms", "round_trips", "commands_per_sec", "speedup"])
    );
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 16);
    // A field no column shows is kept.
    assert_eq!(rows[0]["client"], "respscope lab");
    assert_eq!(rows[6]["round_trips"], 100);

    let csv = std::fs::read_to_string(&paths[2]).expect("read the CSV");
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines.len(), 1 + 16, "{csv}");
    assert!(lines.iter().all(|l| l.len() == 7), "{csv}");
    assert_eq!(
        lines[0],
        ["commands", "batch", "rtt_ms", "elapsed_ms", "round_trips", "commands_per_sec", "speedup"]
    );
    // 1 ms RTT, batches of 100: 100 round trips, 100 + 100 ms.
    assert_eq!(lines[7][..5], ["10000", "100", "1.0", "200.0", "100"]);
    assert_eq!(lines[7][5].parse::<f64>().ok(), Some(50_000.0));

    let md = std::fs::read_to_string(&paths[1]).expect("read the markdown");
    assert!(
        md.starts_with("## lab pipelining\n") && md.contains("| 10,000 | 100 | 1 | 200 | 100 | 50,000 |"),
        "{md}"
    );
}

#[test]
fn charts_render_to_png_with_a_real_svg_renderer() {
    if !common::have("rsvg-convert") {
        common::skip("the labs' charts rendered by rsvg-convert", "rsvg-convert (librsvg2-bin)");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    for r in [pipelining(), transactions()] {
        let paths = write_all(&r, dir.path()).expect("write the lab's files");
        let svg = paths.iter().find(|p| p.extension().is_some_and(|e| e == "svg")).expect("an SVG");
        let png = dir.path().join(format!("{}.png", r.lab));
        render(svg, &png);
        let bytes = std::fs::read(&png).expect("read the PNG");
        assert_eq!(bytes.get(..8), Some(&b"\x89PNG\r\n\x1a\n"[..]), "{} is no PNG", png.display());
        assert_eq!(ihdr(&bytes), Some((900, 540)), "{}", png.display());
        // A blank 900x540 PNG compresses to well under 1 KB; axes, text and lines do not.
        assert!(bytes.len() > 8_000, "{} is {} bytes: blank?", png.display(), bytes.len());
    }
}

/// Renders `svg` to `png`, failing the test with rsvg-convert's words if it cannot.
fn render(svg: &Path, png: &Path) {
    let out = Command::new("rsvg-convert").arg("-o").arg(png).arg(svg).output().expect("run rsvg-convert");
    assert!(
        out.status.success(),
        "rsvg-convert failed on {}: {}",
        svg.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PNG's width and height from its IHDR chunk, which always comes first after the signature.
fn ihdr(png: &[u8]) -> Option<(u32, u32)> {
    if png.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |at: usize| Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?));
    Some((be(16)?, be(20)?))
}
