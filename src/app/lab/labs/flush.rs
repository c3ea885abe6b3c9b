//! `lab flush`: how a client's flush policy and Nagle's algorithm shape what goes on the
//! wire. The same N SETs written as a buffered client with an 8192-byte buffer writes them
//! (every full buffer, commands cut where the buffer ends), as one that flushes every 16
//! commands, and one write per command; each with Nagle on and off. The client does not wait
//! for replies while it writes (a thread reads them), as pipelining clients do.

use std::time::Instant;

use serde_json::json;

use super::{ms, Encoded, Plan, Progress};
use crate::app::lab::bench::{Bench, LabError};
use crate::app::lab::conn::LabConn;
use crate::app::lab::units::show_duration;
use crate::engine::lab::{Chart, ChartKind, Column, LabResult};

/// The flush policies, in the order they run.
const MODES: [&str; 3] = ["8192-byte buffer", "16 commands", "per command"];
/// The buffered client's buffer.
const BUFFER: usize = 8192;
/// The batching client's commands per flush.
const EVERY: usize = 16;

/// The lab before its first run.
pub fn empty() -> LabResult {
    let c = |key, header| Column { key, header };
    LabResult::new(
        "flush",
        "the same SETs flushed every 8192 bytes, every 16 commands and per command, Nagle on and off: what reaches the wire",
        vec![
            c("mode", "flush"),
            c("nagle", "Nagle"),
            c("writes", "writes"),
            c("batches", "batches (wire)"),
            c("mean_batch_commands", "cmd/batch"),
            c("max_batch_commands", "max batch"),
            c("split_commands", "split cmds"),
            c("elapsed_ms", "elapsed ms"),
        ],
        Chart {
            title: "write batches on the wire per flush policy".into(),
            x_label: "flush policy".into(),
            y_label: "batches on the wire".into(),
            kind: ChartKind::Bars { categories: MODES.iter().map(|m| (*m).to_string()).collect() },
            series: Vec::new(),
        },
    )
}

/// The writes a policy makes of `cmds`.
fn writes<'a>(mode: &str, cmds: &'a Encoded) -> Vec<&'a [u8]> {
    match mode {
        "8192-byte buffer" => cmds.bytes.chunks(BUFFER).collect(),
        "16 commands" => (0..cmds.len()).step_by(EVERY).map(|i| cmds.slice(i, i + EVERY)).collect(),
        _ => (0..cmds.len()).map(|i| cmds.slice(i, i + 1)).collect(),
    }
}

/// Writes `parts` back to back while a thread reads the `n` replies.
fn send(c: &mut LabConn, parts: &[&[u8]], n: usize) -> Result<(), LabError> {
    let mut reader = c.try_clone()?;
    let t = std::thread::spawn(move || reader.read_replies(n, |_| {}));
    let mut wrote = Ok(());
    for part in parts {
        if let Err(e) = c.write(part) {
            wrote = Err(e);
            c.close();
            break;
        }
    }
    let read = t
        .join()
        .unwrap_or(Err(crate::app::lab::conn::ConnError::Protocol("the reply reader thread failed".into())));
    wrote?;
    read?;
    Ok(())
}

/// Runs every policy with Nagle on and off, at each round trip.
///
/// # Errors
/// A connection failed, or stop was asked.
pub fn run(bench: &Bench, plan: &Plan, p: &mut Progress<'_>) -> Result<(), LabError> {
    let n = plan.commands.first().copied().unwrap_or(2_000).max(1);
    // 49-byte commands: 8192 is no multiple of them, so full buffers cut commands.
    let cmds = Encoded::new(n, |i| {
        vec![b"SET".to_vec(), format!("lab:f:{i:06}").into_bytes(), b"0123456789".to_vec()]
    });
    p.note("writes: the client's write calls; batches: the write batches the capture saw (segments cut after PSH); split: commands that straddled two segments");
    p.note("Nagle on: the socket as a client opens it by default; off: TCP_NODELAY, as most Redis clients set it");
    let total = plan.rtts.len() * MODES.len() * 2;
    let mut step = 0;
    for &rtt in &plan.rtts {
        for mode in MODES {
            for nagle in [true, false] {
                bench.check()?;
                step += 1;
                let on = if nagle { "on" } else { "off" };
                p.running(step, total, format!("{mode}, Nagle {on}, {n} SETs at {} RTT", show_duration(rtt)));
                let name = format!("lab:flush:{}:nagle-{on}", mode.replace(' ', "-"));
                let (mut c, setup) = bench.client(rtt, !nagle, &name)?;
                let parts = writes(mode, &cmds);
                let t0 = Instant::now();
                send(&mut c, &parts, cmds.len())?;
                let elapsed = t0.elapsed();
                let wire = bench.wire_conn(c.local_port, setup + n);
                c.close();
                let batches = wire.as_ref().map(|w| w.batches.saturating_sub(setup));
                let mean = batches.filter(|&b| b > 0).map(|b| ((n as f64 / b as f64) * 10.0).round() / 10.0);
                if let Some(b) = batches {
                    let x = MODES.iter().position(|m| *m == mode).unwrap_or(0) as f64;
                    p.point(&format!("Nagle {on}, {} RTT", show_duration(rtt)), x, b as f64);
                }
                p.row(json!({
                    "rtt_ms": ms(rtt),
                    "mode": mode,
                    "nagle": on,
                    "commands": n,
                    "bytes": cmds.bytes.len(),
                    "writes": parts.len(),
                    "batches": batches,
                    "mean_batch_commands": mean,
                    "max_batch_commands": wire.as_ref().map(|w| w.max_batch_commands),
                    "split_commands": wire.as_ref().map(|w| w.split_commands),
                    "elapsed_ms": ms(elapsed),
                    "client_port": c.local_port,
                }));
            }
        }
    }
    Ok(())
}
