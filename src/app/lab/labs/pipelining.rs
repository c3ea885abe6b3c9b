//! `lab pipelining`: N commands sent one by one and pipelined in batches of 10, 100 and
//! 1,000, at each round trip asked. One by one, every command waits a round trip; pipelined,
//! a batch does. The wire counts the round trips (each connection's write batches), so the
//! speedup is shown with its cause beside it.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{ms, per_sec, sets, Plan, Progress};
use crate::app::lab::bench::{Bench, LabError};
use crate::app::lab::units::show_duration;
use crate::engine::lab::{Chart, ChartKind, Column, LabResult};

/// Batch sizes, one by one first: the speedups are against it.
pub const BATCHES: [u64; 4] = [1, 10, 100, 1_000];

/// The speedups the articles a workshop starts from state for a whole run pipelined:
/// on a local server 100 commands 10x, 1,000 33x, 10,000 100x; across a 2 ms round trip
/// 20x, 80x, 200x.
pub fn stated(commands: u64, rtt: Duration) -> Option<f64> {
    let local = rtt.is_zero();
    let two = rtt == Duration::from_millis(2);
    match (commands, local, two) {
        (100, true, _) => Some(10.0),
        (1_000, true, _) => Some(33.0),
        (10_000, true, _) => Some(100.0),
        (100, _, true) => Some(20.0),
        (1_000, _, true) => Some(80.0),
        (10_000, _, true) => Some(200.0),
        _ => None,
    }
}

/// The lab before its first run.
pub fn empty() -> LabResult {
    let c = |key, header| Column { key, header };
    LabResult::new(
        "pipelining",
        "N SETs one by one and pipelined in batches: one round trip per command against one per batch",
        vec![
            c("rtt_ms", "RTT ms"),
            c("commands", "commands"),
            c("batch", "batch"),
            c("elapsed_ms", "elapsed ms"),
            c("commands_per_sec", "cmd/s"),
            c("round_trips", "round trips (wire)"),
            c("speedup", "speedup"),
            c("stated_speedup", "stated"),
        ],
        Chart {
            title: "speedup against batch size, per round trip".into(),
            x_label: "commands per batch".into(),
            y_label: "speedup over one by one".into(),
            kind: ChartKind::Lines { log_x: true },
            series: Vec::new(),
        },
    )
}

/// Runs every (round trip, commands, batch) in turn.
///
/// # Errors
/// A connection failed, or stop was asked.
pub fn run(bench: &Bench, plan: &Plan, p: &mut Progress<'_>) -> Result<(), LabError> {
    let mut steps = Vec::new();
    for &rtt in &plan.rtts {
        for &n in &plan.commands {
            for &b in BATCHES.iter().filter(|&&b| b <= n.max(1)) {
                steps.push((rtt, n, b));
            }
        }
    }
    let charted = plan.commands.iter().copied().max().unwrap_or(0);
    p.note("round trips are the write batches the capture saw on the run's connection (the CLIENT SETNAME before it not counted); speedup is against the same commands one by one at the same RTT");
    p.note("stated: the speedup articles give for the whole run pipelined (local server: 100 → 10x, 1,000 → 33x, 10,000 → 100x; 2 ms RTT: 20x, 80x, 200x)");
    let mut encoded = None;
    let mut base: Option<Duration> = None;
    let total = steps.len();
    for (i, &(rtt, n, b)) in steps.iter().enumerate() {
        bench.check()?;
        p.running(i + 1, total, format!("{n} commands by {b} at {} RTT", show_duration(rtt)));
        let cmds = match &encoded {
            Some((m, e)) if *m == n => e,
            _ => &encoded.insert((n, sets("lab:p:", n))).1,
        };
        let (mut c, setup) = bench.client(rtt, true, &format!("lab:pipelining:{n}x{b}"))?;
        let count = cmds.len();
        let step = usize::try_from(b).unwrap_or(1).max(1);
        let t0 = Instant::now();
        let mut at = 0;
        while at < count {
            let end = (at + step).min(count);
            c.write(cmds.slice(at, end))?;
            c.read_replies(end - at, |_| {})?;
            at = end;
            if bench.cancelled() {
                return Err(LabError::Cancelled);
            }
        }
        let elapsed = t0.elapsed();
        let wire = bench.wire_conn(c.local_port, setup + n);
        c.close();
        if b == 1 {
            base = Some(elapsed);
        }
        let speedup = base.map(|s| (s.as_secs_f64() / elapsed.as_secs_f64().max(1e-9) * 10.0).round() / 10.0);
        let largest = b == BATCHES.iter().copied().filter(|&x| x <= n.max(1)).max().unwrap_or(1);
        if n == charted {
            if let Some(s) = speedup {
                p.point(&format!("{} RTT", show_duration(rtt)), b as f64, s);
            }
        }
        p.row(json!({
            "rtt_ms": ms(rtt),
            "commands": n,
            "batch": b,
            "elapsed_ms": ms(elapsed),
            "commands_per_sec": per_sec(n, elapsed),
            "round_trips": wire.as_ref().map(|w| w.batches.saturating_sub(setup)),
            "expected_round_trips": n.div_ceil(b),
            "speedup": speedup,
            "stated_speedup": if largest { stated(n, rtt) } else { None },
            "client_port": c.local_port,
        }));
    }
    Ok(())
}
