//! `w` in the console: the last seconds of capture saved as `respscope-YYYYmmdd-HHMMSS.pcapng`
//! with a markdown incident summary beside it. The capture thread writes the file from its
//! ring; the file is then analysed off the event loop, as `respscope analyze` would, and the
//! summary is written from that analysis and the console's model.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};

use crate::analysis::wire::WireConfig;
use crate::engine::evidence::ring::Saved;
use crate::engine::live::LiveWire;
use crate::engine::model::Model;
use crate::engine::report::Report;
use crate::views::report::incident::{render, Window};

/// A save in progress.
pub enum Saving {
    /// The capture thread is writing the file.
    Writing { path: PathBuf, at_ms: i64, rx: Receiver<Result<Saved, String>> },
    /// The file is written and being analysed.
    Analysing {
        path: PathBuf,
        at_ms: i64,
        saved: Saved,
        job: tokio::task::JoinHandle<Result<Report, String>>,
    },
}

/// The files of a save at `at_ms` (wall clock), in the working directory.
pub fn file_for(at_ms: i64) -> PathBuf {
    let name = match jiff::Timestamp::from_millisecond(at_ms) {
        Ok(t) => t.strftime("respscope-%Y%m%d-%H%M%S.pcapng").to_string(),
        Err(_) => format!("respscope-{at_ms}.pcapng"),
    };
    PathBuf::from(name)
}

/// Starts a save of everything the ring keeps; `None` (with why, in the model) when there is
/// no live feed.
pub fn start(feed: Option<&LiveWire>, model: &mut Model, at_ms: i64) -> Option<Saving> {
    let Some(f) = feed else {
        model.note("w saves the last seconds of a live capture: there is none here".into());
        return None;
    };
    let path = file_for(at_ms);
    match f.save_window(path.clone(), None) {
        Some(rx) => Some(Saving::Writing { path, at_ms, rx }),
        None => {
            model.note("w: the capture thread is gone, nothing to save".into());
            None
        }
    }
}

/// Moves a save on (on each frame tick); `None` once it is done, said in the model.
pub fn poll(s: Saving, model: &mut Model, ports: &[u16]) -> Option<Saving> {
    match s {
        Saving::Writing { path, at_ms, rx } => match rx.try_recv() {
            Err(TryRecvError::Empty) => Some(Saving::Writing { path, at_ms, rx }),
            Err(TryRecvError::Disconnected) => {
                model.note(format!("w: {} was not written: the capture thread is gone", path.display()));
                None
            }
            Ok(Err(why)) => {
                model.note(format!("w: nothing saved: {why}"));
                None
            }
            Ok(Ok(saved)) => {
                let (file, ports) = (path.clone(), ports.to_vec());
                let job = tokio::task::spawn_blocking(move || {
                    crate::engine::analyze_file(&file, WireConfig::ports(ports), None)
                        .map(|a| a.report())
                        .map_err(|e| e.to_string())
                });
                Some(Saving::Analysing { path, at_ms, saved, job })
            }
        },
        Saving::Analysing { path, at_ms, saved, mut job } => {
            if !job.is_finished() {
                return Some(Saving::Analysing { path, at_ms, saved, job });
            }
            let done = futures_util::FutureExt::now_or_never(&mut job);
            match done {
                Some(Ok(Ok(report))) => match write_summary(model, &path, at_ms, &saved, &report) {
                    Ok(md) => model.note(format!(
                        "saved {} frames: {} and {} (the alerts, the busiest clients, the analysis)",
                        saved.frames,
                        path.display(),
                        md.display()
                    )),
                    Err(e) => {
                        model.note(format!("w: {} saved, but its summary was not: {e}", path.display()))
                    }
                },
                Some(Ok(Err(e))) => {
                    model.note(format!("w: {} saved, but it could not be analysed: {e}", path.display()))
                }
                Some(Err(e)) => model.note(format!("w: {} saved, its analysis failed: {e}", path.display())),
                None => return Some(Saving::Analysing { path, at_ms, saved, job }),
            }
            None
        }
    }
}

fn write_summary(
    m: &Model,
    path: &Path,
    at_ms: i64,
    saved: &Saved,
    report: &Report,
) -> std::io::Result<PathBuf> {
    let file = path.display().to_string();
    let w = Window { file: &file, saved_at_ms: at_ms, span_us: saved.span, frames: saved.frames };
    let md = path.with_extension("md");
    std::fs::write(&md, render(m, &w, report))?;
    Ok(md)
}
