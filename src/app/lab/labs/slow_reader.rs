//! `lab slow-reader`: a client asks for more than it reads. Its receive window fills and
//! closes (zero window; the sender probes it), the proxy's queue and the sockets fill, and
//! then the server's output buffer for the client (`omem` in CLIENT LIST) grows: memory the
//! server holds for a client that is not listening. Reading again opens the window (window
//! update). On the lab's own server a last phase sets `client-output-buffer-limit` and shows
//! the server closing the connection when the buffer passes it.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{ms, Plan, Progress};
use crate::app::lab::bench::{Bench, LabError};
use crate::app::lab::conn::{bulk_reply, ConnError, LabConn};
use crate::app::lab::units::show_duration;
use crate::engine::lab::{Chart, ChartKind, Column, LabResult};
use crate::engine::report::TcpSection;
use crate::sources::server::client::encode;
use crate::sources::server::formats::client_list::parse_client_list;

/// The value each GET asks for.
const VALUE: usize = 64 * 1024;
/// How long the client does not read.
const STALL: Duration = Duration::from_secs(3);
/// How often CLIENT LIST is read while it stalls.
const SAMPLE: Duration = Duration::from_millis(200);
/// The client's receive buffer: small, so its window closes after 64 KiB, not after the
/// megabytes Linux would grow it to.
const RCVBUF: usize = 64 * 1024;
/// The hard limit the last phase sets.
const HARD_LIMIT: &str = "normal 4mb 2mb 0";

/// The lab before its first run.
pub fn empty() -> LabResult {
    let c = |key, header| Column { key, header };
    LabResult::new(
        "slow-reader",
        "a client that stops reading: its window closes, the server's output buffer for it grows, and a limit closes it",
        vec![
            c("phase", "phase"),
            c("seconds", "s"),
            c("omem_max_mib", "omem max MiB"),
            c("zero_windows", "zero win"),
            c("window_full", "win full"),
            c("zero_window_probes", "probes"),
            c("window_updates", "win updates"),
            c("outcome", "outcome"),
        ],
        Chart {
            title: "the server's output buffer for the slow client (omem)".into(),
            x_label: "seconds".into(),
            y_label: "omem MiB".into(),
            kind: ChartKind::Lines { log_x: false },
            series: Vec::new(),
        },
    )
}

/// The client's row in CLIENT LIST: its omem, or `None` once it is gone.
fn omem(control: &mut LabConn, name: &str) -> Result<Option<u64>, LabError> {
    let reply = control.request(&[b"CLIENT", b"LIST"])?;
    let text = String::from_utf8_lossy(bulk_reply(&reply)).into_owned();
    Ok(parse_client_list(&text).into_iter().find(|r| r.name == name).map(|r| r.omem))
}

/// The connection's window counters now (after the capture has had a moment to catch up).
fn window(bench: &Bench, port: u16) -> Option<TcpSection> {
    std::thread::sleep(Duration::from_millis(300));
    bench.wire_conn(port, 0).map(|c| c.tcp)
}

/// Counter differences, `None` without a capture.
fn delta(a: Option<&TcpSection>, b: Option<&TcpSection>) -> [Option<u64>; 4] {
    match (a, b) {
        (Some(a), Some(b)) => [
            Some(b.zero_windows.saturating_sub(a.zero_windows)),
            Some(b.window_full.saturating_sub(a.window_full)),
            Some(b.zero_window_probes.saturating_sub(a.zero_window_probes)),
            Some(b.window_updates.saturating_sub(a.window_updates)),
        ],
        _ => [None; 4],
    }
}

fn mib(b: u64) -> f64 {
    (b as f64 / f64::from(1u32 << 20) * 100.0).round() / 100.0
}

/// Samples omem every [`SAMPLE`] for [`STALL`] (or until the client is gone), charting it
/// from `t0`; the largest seen, and whether the client disappeared.
fn stall(
    bench: &Bench,
    control: &mut LabConn,
    name: &str,
    t0: Instant,
    p: &mut Progress<'_>,
) -> Result<(u64, bool), LabError> {
    let end = Instant::now() + STALL;
    let mut max = 0;
    while Instant::now() < end {
        bench.check()?;
        match omem(control, name)? {
            Some(o) => {
                max = max.max(o);
                p.point("omem", (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0, mib(o));
                p.publish();
            }
            None => return Ok((max, true)),
        }
        std::thread::sleep(SAMPLE);
    }
    Ok((max, false))
}

/// Runs the phases at the first round trip asked.
///
/// # Errors
/// A connection failed, or stop was asked.
pub fn run(bench: &Bench, plan: &Plan, p: &mut Progress<'_>) -> Result<(), LabError> {
    let n = plan.commands.first().copied().unwrap_or(400).max(1);
    let rtt = plan.rtts.first().copied().unwrap_or_default();
    let mut control = bench.control()?;
    control.request(&[b"SET", b"lab:big", &vec![b'x'; VALUE]])?;
    if bench.private() {
        control.request(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 0 0 0"])?;
    } else {
        p.note("the client-output-buffer-limit phase runs only on the lab's private server: a given server's configuration is left alone");
    }
    p.note(format!("the client asks for {n} GETs of a 64 KiB value ({} MiB) with a 64 KiB receive buffer, through a proxy holding at most 256 KiB each way", n * 64 / 1024));
    p.note("window events are counted on the client's side of the proxy (the client's zero windows and the probes sent to it); omem is CLIENT LIST's, sampled every 200 ms");
    let name = "lab:slow-reader";
    let of = if bench.private() { 3 } else { 2 };
    let t0 = Instant::now();

    p.running(1, of, format!("the client stops reading ({} RTT)", show_duration(rtt)));
    let (mut c, setup) = bench.client(rtt, true, name)?;
    let _ = socket2::SockRef::from(c.socket()).set_recv_buffer_size(RCVBUF);
    let gets = encode(&[b"GET", b"lab:big"]).repeat(usize::try_from(n).unwrap_or(0));
    let w0 = window(bench, c.local_port);
    c.write(&gets)?;
    let started = Instant::now();
    let (max, _) = stall(bench, &mut control, name, t0, p)?;
    let w1 = window(bench, c.local_port);
    let [zw, full, probes, updates] = delta(w0.as_ref(), w1.as_ref());
    p.row(json!({
        "phase": "stops reading",
        "seconds": ms(started.elapsed()) / 1000.0,
        "omem_max_mib": mib(max),
        "zero_windows": zw, "window_full": full, "zero_window_probes": probes, "window_updates": updates,
        "outcome": format!("the server holds {} MiB for it", mib(max)),
    }));

    p.running(2, of, "the client reads again".into());
    let started = Instant::now();
    c.read_replies(usize::try_from(n).unwrap_or(0), |_| {})?;
    let took = started.elapsed();
    let after = omem(&mut control, name)?.unwrap_or(0);
    p.point("omem", (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0, mib(after));
    let w2 = window(bench, c.local_port);
    let [zw, full, probes, updates] = delta(w1.as_ref(), w2.as_ref());
    p.row(json!({
        "phase": "reads again",
        "seconds": ms(took) / 1000.0,
        "omem_max_mib": mib(after),
        "zero_windows": zw, "window_full": full, "zero_window_probes": probes, "window_updates": updates,
        "outcome": format!("{n} replies read in {} ms", ms(took)),
    }));
    let _ = setup;
    c.close();
    if !bench.private() {
        return Ok(());
    }

    p.running(3, of, format!("stops reading under client-output-buffer-limit {HARD_LIMIT}"));
    control.request(&[b"CONFIG", b"SET", b"client-output-buffer-limit", HARD_LIMIT.as_bytes()])?;
    let name = "lab:slow-reader:limited";
    let (mut c, _) = bench.client(rtt, true, name)?;
    let _ = socket2::SockRef::from(c.socket()).set_recv_buffer_size(RCVBUF);
    let w0 = window(bench, c.local_port);
    let before = disconnections(&mut control)?;
    c.write(&gets)?;
    let started = Instant::now();
    let (max, gone) = stall(bench, &mut control, name, t0, p)?;
    let seconds = ms(started.elapsed()) / 1000.0;
    let mut read = 0;
    let end = match c.read_replies(usize::try_from(n).unwrap_or(0), |_| read += 1) {
        Ok(()) => "read every reply".to_string(),
        Err(ConnError::Closed { replies, .. }) => format!("connection closed after {replies} replies"),
        Err(e) => e.to_string(),
    };
    let after = disconnections(&mut control)?;
    let w1 = window(bench, c.local_port);
    let [zw, full, probes, updates] = delta(w0.as_ref(), w1.as_ref());
    control.request(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 0 0 0"])?;
    let outcome = match (gone, before, after) {
        (true, Some(b), Some(a)) => {
            format!(
                "closed by the server ({} output-buffer disconnection); the client: {end}",
                a.saturating_sub(b)
            )
        }
        (true, _, _) => format!("closed by the server; the client: {end}"),
        (false, _, _) => format!("not closed within {} s; the client: {end}", STALL.as_secs()),
    };
    p.row(json!({
        "phase": format!("limit {HARD_LIMIT}"),
        "seconds": seconds,
        // Closed before the first sample: the buffer passed the limit at once.
        "omem_max_mib": (max > 0).then(|| mib(max)),
        "zero_windows": zw, "window_full": full, "zero_window_probes": probes, "window_updates": updates,
        "outcome": outcome,
        "closed_by_server": gone,
    }));
    c.close();
    Ok(())
}

/// INFO stats' `client_output_buffer_limit_disconnections` (Redis 7.0 and later).
fn disconnections(control: &mut LabConn) -> Result<Option<u64>, LabError> {
    let reply = control.request(&[b"INFO", b"stats"])?;
    let text = String::from_utf8_lossy(bulk_reply(&reply)).into_owned();
    Ok(text
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("client_output_buffer_limit_disconnections:")?.parse().ok()))
}
