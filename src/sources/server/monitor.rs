//! MONITOR, only when asked: a dedicated connection streaming every command the server runs.
//!
//! MONITOR costs a busy server about half its pipelined throughput and its output buffer is
//! unlimited by default, so it is guarded: the stream stops by itself when the console cannot
//! keep up (the hand-over channel fills) or when its own output buffer on the server grows past
//! [`OMEM_LIMIT`] (seen in CLIENT LIST by its name), and says why.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::{error::TrySendError, Sender};

use super::client::{Client, ConnectOptions};
use super::formats::monitor::{parse_monitor_line, MonitorLine};
use super::formats::Value;

/// The monitor connection's name in CLIENT LIST, so the guard can find its buffer.
pub const CLIENT_NAME: &str = "respscope:monitor";
/// Output buffer on the server beyond which MONITOR is stopped.
pub const OMEM_LIMIT: u64 = 32 * 1024 * 1024;
/// Lines dropped because the console fell behind before MONITOR is stopped.
pub const DROP_LIMIT: u64 = 10_000;

/// What the monitor task says.
#[derive(Clone, Debug)]
pub enum MonitorEvent {
    /// A command the server ran.
    Line(MonitorLine),
    /// The stream ended, and why.
    Stopped(String),
}

/// Handle to a running MONITOR stream.
pub struct MonitorHandle {
    stop: Arc<AtomicBool>,
    /// Lines dropped because the console fell behind.
    pub dropped: Arc<AtomicU64>,
}

impl MonitorHandle {
    /// Asks the stream to stop (the connection is closed, which ends MONITOR).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts streaming MONITOR to `out` on its own connection.
pub fn start(opts: ConnectOptions, out: Sender<MonitorEvent>) -> MonitorHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let (stop2, dropped2) = (Arc::clone(&stop), Arc::clone(&dropped));
    tokio::spawn(async move {
        let why = run(&opts, &out, &stop2, &dropped2).await;
        let _ = out.send(MonitorEvent::Stopped(why)).await;
    });
    MonitorHandle { stop, dropped }
}

async fn run(
    opts: &ConnectOptions,
    out: &Sender<MonitorEvent>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) -> String {
    let mut c = match Client::connect(opts).await {
        Ok(c) => c,
        Err(e) => return format!("MONITOR could not start: {e}"),
    };
    if let Err(e) = c.set_name("monitor").await {
        return format!("MONITOR could not start: {e}");
    }
    if let Err(e) = c.send(&[b"MONITOR"]).await {
        return format!("MONITOR could not start: {e}");
    }
    loop {
        if stop.load(Ordering::Relaxed) {
            return "MONITOR stopped".into();
        }
        // Wake up regularly to notice a stop request on a quiet server.
        let v = match tokio::time::timeout(std::time::Duration::from_millis(200), c.read_stream()).await {
            Err(_) => continue,
            Ok(Err(e)) => return format!("MONITOR ended: {e}"),
            Ok(Ok(v)) => v,
        };
        let line = match v {
            Value::Simple(s) => s,
            Value::Error(e) => {
                return format!("MONITOR refused: {}", crate::protocol::resp::escape::escape(e.as_bytes()))
            }
            _ => continue,
        };
        let Ok(parsed) = parse_monitor_line(&line) else { continue };
        match out.try_send(MonitorEvent::Line(parsed)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if dropped.fetch_add(1, Ordering::Relaxed) + 1 >= DROP_LIMIT {
                    return format!("MONITOR stopped: the console fell {DROP_LIMIT} lines behind the server");
                }
            }
            Err(TrySendError::Closed(_)) => return "MONITOR stopped".into(),
        }
    }
}
