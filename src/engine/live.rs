//! The live wire: a capture thread that owns the analyzer and answers snapshot requests.
//!
//! pcap reads block, so capture and analysis run on their own OS thread. Nothing is shared:
//! the engine asks for a snapshot over a channel and the capture thread answers between
//! packets (at least every 100 ms, even under load), so the analyzer is never locked and the
//! views only ever see owned, finished numbers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::analysis::wire::{WireAnalyzer, WireConfig};
use crate::engine::report::Report;
use crate::sources::capture::live::{LiveCapture, LiveCaptureError, LiveConfig, LiveHandler, LiveStats};
use crate::sources::capture::Frame;

/// What the wire looked like at one moment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WireSnapshot {
    /// The interface captured on.
    pub interface: String,
    /// Contract-v1 numbers since the capture started (open connections included).
    pub report: Report,
    /// Kernel and interface drops.
    pub loss: LiveStats,
    /// Set when the capture stopped by itself (interface gone, error).
    pub stopped: Option<String>,
}

/// A running live capture.
pub struct LiveWire {
    requests: Sender<Sender<WireSnapshot>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// The interface captured on.
    pub interface: String,
}

struct Handler {
    wire: WireAnalyzer,
    requests: Receiver<Sender<WireSnapshot>>,
    loss: LiveStats,
    interface: String,
}

impl Handler {
    fn snapshot(&self, stopped: Option<String>) -> WireSnapshot {
        WireSnapshot {
            interface: self.interface.clone(),
            report: Report::build(&self.wire, Vec::new()),
            loss: self.loss,
            stopped,
        }
    }
}

impl LiveHandler for Handler {
    fn frame(&mut self, f: Frame<'_>) {
        self.wire.frame(&f, false);
    }

    fn idle(&mut self, stats: LiveStats) {
        self.loss = stats;
        while let Ok(reply) = self.requests.try_recv() {
            let _ = reply.send(self.snapshot(None));
        }
    }
}

impl LiveWire {
    /// Opens the capture and starts analysing on a thread named `capture-{iface}`.
    ///
    /// # Errors
    /// The capture could not be opened (rights, interface, filter).
    pub fn start(cfg: &LiveConfig, wire: WireConfig) -> Result<LiveWire, LiveCaptureError> {
        let mut cap = LiveCapture::open(cfg)?;
        let (requests, rx) = channel::<Sender<WireSnapshot>>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let interface = cap.interface.clone();
        let mut h = Handler {
            wire: WireAnalyzer::new(wire, cap.link()),
            requests: rx,
            loss: LiveStats::default(),
            interface: interface.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("capture-{interface}"))
            .spawn(move || {
                let ended = cap.run(&stop2, &mut h);
                // Keep answering after a failure, so the views can say why the wire went quiet.
                while !stop2.load(Ordering::Relaxed) {
                    match h.requests.recv_timeout(Duration::from_millis(100)) {
                        Ok(reply) => {
                            let _ = reply.send(h.snapshot(ended.clone()));
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|e| LiveCaptureError::Other { iface: interface.clone(), reason: e.to_string() })?;
        Ok(LiveWire { requests, stop, handle: Some(handle), interface })
    }

    /// Asks the capture thread for a snapshot; `None` if it does not answer within `wait`.
    pub fn snapshot(&self, wait: Duration) -> Option<WireSnapshot> {
        let (tx, rx) = channel();
        self.requests.send(tx).ok()?;
        rx.recv_timeout(wait).ok()
    }
}

impl Drop for LiveWire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
