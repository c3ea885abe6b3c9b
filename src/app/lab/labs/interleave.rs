//! `lab interleave`: several clients pipelining at once. Redis runs one command at a time,
//! so a batch is not an island: other clients' commands run between its commands whenever
//! the server reads the batch in more than one piece. Every command here is `INCR` of one
//! shared counter, so each reply *is* the command's place in the server's execution order:
//! a batch whose replies are 501..600 ran alone, one whose replies span 501..700 had 100
//! other commands inside it. No MONITOR needed, and exact. A probe client, one command at a
//! time, measures what the batch size does to everyone else's latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{ms, per_sec, Plan, Progress};
use crate::app::lab::bench::{Bench, LabError};
use crate::app::lab::conn::int_reply;
use crate::app::lab::units::show_duration;
use crate::engine::lab::{Chart, ChartKind, Column, LabResult};
use crate::sources::server::client::encode;

/// The pipelining clients' batch sizes.
const BATCHES: [u64; 4] = [1, 10, 100, 1_000];
/// Pipelining clients at once.
const CLIENTS: usize = 3;
/// Most latency samples the probe keeps (it stops measuring, not the run, past it).
const PROBE_MAX: usize = 200_000;

/// The lab before its first run.
pub fn empty() -> LabResult {
    let c = |key, header| Column { key, header };
    LabResult::new(
        "interleave",
        "three clients pipelining INCRs of one counter: other clients' commands inside each batch, and a probe client's latency",
        vec![
            c("batch", "batch"),
            c("elapsed_ms", "elapsed ms"),
            c("commands_per_sec", "cmd/s"),
            c("others_inside_mean", "others inside (mean)"),
            c("others_inside_max", "max"),
            c("interleaved_pct", "batches interleaved %"),
            c("probe_p50_us", "probe p50 µs"),
            c("probe_p99_us", "probe p99 µs"),
        ],
        Chart {
            title: "a one-by-one client's latency beside pipelining clients".into(),
            x_label: "the pipelining clients' batch size".into(),
            y_label: "probe latency µs".into(),
            kind: ChartKind::Lines { log_x: true },
            series: Vec::new(),
        },
    )
}

/// One pipelining client's batches: for each, the other commands that ran inside it.
fn pipeliner(bench: &Bench, rtt: Duration, name: &str, n: u64, b: u64) -> Result<Vec<u64>, LabError> {
    let (mut c, _) = bench.client(rtt, true, name)?;
    let step = usize::try_from(b).unwrap_or(1).max(1);
    let count = usize::try_from(n).unwrap_or(0);
    let one = encode(&[b"INCR", b"lab:interleave"]);
    let mut inside = Vec::with_capacity(count / step + 1);
    let mut at = 0;
    while at < count {
        let k = step.min(count - at);
        c.write(&one.repeat(k))?;
        let (mut first, mut last) = (None, 0);
        c.read_replies(k, |r| {
            if let Some(v) = int_reply(r) {
                first.get_or_insert(v);
                last = v;
            }
        })?;
        if let Some(f) = first {
            let span = u64::try_from(last - f + 1).unwrap_or(0);
            inside.push(span.saturating_sub(k as u64));
        }
        at += k;
        if bench.cancelled() {
            break;
        }
    }
    c.close();
    Ok(inside)
}

/// The probe: INCRs one at a time until `done`, each one's latency (µs).
fn probe(bench: &Bench, rtt: Duration, done: &AtomicBool) -> Result<Vec<u64>, LabError> {
    let (mut c, _) = bench.client(rtt, true, "lab:interleave:probe")?;
    // The same counter: the probe's commands that run inside a batch count as others too.
    let one = encode(&[b"INCR", b"lab:interleave"]);
    let mut lat = Vec::new();
    while !done.load(Ordering::Relaxed) && lat.len() < PROBE_MAX {
        let t = Instant::now();
        c.write(&one)?;
        c.read_replies(1, |_| {})?;
        lat.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    c.close();
    Ok(lat)
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i])
}

/// Runs every batch size at each round trip.
///
/// # Errors
/// A connection failed, or stop was asked.
pub fn run(bench: &Bench, plan: &Plan, p: &mut Progress<'_>) -> Result<(), LabError> {
    let n = plan.commands.first().copied().unwrap_or(1_000).max(1);
    p.note(format!("{CLIENTS} clients (and the probe) each send {n} INCRs of one counter in batches; the counter's value in each reply is the command's place in the server's execution order, so the commands of others inside a batch are exact (no MONITOR)"));
    p.note("the probe sends one INCR at a time through the 0 ms proxy for as long as the pipelining clients run: its latency is the server's queue plus loopback, not the pipelining clients' RTT");
    let total = plan.rtts.len() * BATCHES.len();
    let mut step = 0;
    for &rtt in &plan.rtts {
        for b in BATCHES {
            bench.check()?;
            step += 1;
            p.running(
                step,
                total,
                format!("{CLIENTS} clients × {n} INCRs by {b} at {} RTT", show_duration(rtt)),
            );
            let done = Arc::new(AtomicBool::new(false));
            let t0 = Instant::now();
            let (inside, lat) = std::thread::scope(|s| {
                let probe = {
                    let done = Arc::clone(&done);
                    s.spawn(move || probe(bench, Duration::ZERO, &done))
                };
                let clients: Vec<_> = (0..CLIENTS)
                    .map(|k| {
                        s.spawn(move || pipeliner(bench, rtt, &format!("lab:interleave:{k}:by-{b}"), n, b))
                    })
                    .collect();
                let mut inside = Vec::new();
                let mut failed = None;
                for c in clients {
                    match c.join() {
                        Ok(Ok(v)) => inside.extend(v),
                        Ok(Err(e)) => failed = Some(e),
                        Err(_) => failed = Some(LabError::Server("a lab client thread failed".into())),
                    }
                }
                done.store(true, Ordering::Relaxed);
                let lat =
                    probe.join().unwrap_or_else(|_| Err(LabError::Server("the probe thread failed".into())));
                match failed {
                    Some(e) => Err(e),
                    None => Ok((inside, lat?)),
                }
            })?;
            let elapsed = t0.elapsed();
            let mut lat = lat;
            lat.sort_unstable();
            let batches = inside.len().max(1) as f64;
            let mean = inside.iter().sum::<u64>() as f64 / batches;
            let interleaved = inside.iter().filter(|&&k| k > 0).count() as f64 / batches * 100.0;
            let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
            let x = b as f64;
            if let Some(v) = p50 {
                p.point(&format!("probe p50, {} RTT", show_duration(rtt)), x, v as f64);
            }
            if let Some(v) = p99 {
                p.point(&format!("probe p99, {} RTT", show_duration(rtt)), x, v as f64);
            }
            p.row(json!({
                "rtt_ms": ms(rtt),
                "clients": CLIENTS,
                "commands": n,
                "batch": b,
                "elapsed_ms": ms(elapsed),
                "commands_per_sec": per_sec(n * CLIENTS as u64, elapsed),
                "others_inside_mean": (mean * 10.0).round() / 10.0,
                "others_inside_max": inside.iter().copied().max(),
                "interleaved_pct": (interleaved * 10.0).round() / 10.0,
                "probe_commands": lat.len(),
                "probe_p50_us": p50,
                "probe_p99_us": p99,
                "probe_max_us": lat.last(),
            }));
        }
    }
    Ok(())
}
