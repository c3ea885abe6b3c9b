//! `respscope exporter`: what only the wire sees, for the Prometheus a team already runs.
//!
//! Three sources fold into one [`Exported`] model behind a mutex: the capture thread's
//! snapshot once a second (its own thread asks for it), the server's poll once a second (a
//! task on a small runtime), and nothing else. A scrape only encodes the model: it never
//! waits for the capture or the server, so its time does not grow with their trouble.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::analysis::wire::WireConfig;
use crate::engine::exporter::Exported;
use crate::engine::live::{Evidence, LiveWire};
use crate::engine::report::SnapshotLimits;
use crate::sources::capture::live::LiveConfig;
use crate::sources::server::client::ConnectOptions;
use crate::sources::server::poller::Poller;
use crate::views::metrics;

/// How often the wire is snapshotted and the server polled.
const EVERY: Duration = Duration::from_secs(1);
/// Connections followed one by one: the console's bound.
const LISTED: usize = 12_000;
/// How long a closed connection stays listed: long enough for its last numbers to be folded.
const KEEP_CLOSED_US: i64 = 10_000_000;

/// What `respscope exporter` serves.
#[derive(Clone, Debug)]
pub struct ExporterConfig {
    /// The server to poll.
    pub server: ConnectOptions,
    /// The capture, if any.
    pub live: Option<LiveConfig>,
    /// Redis ports for the wire analysis.
    pub ports: Vec<u16>,
    /// Where `/metrics` is served.
    pub listen: SocketAddr,
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The listening address is taken or not ours.
    #[error("cannot serve on {addr}: {why}; pick another with --listen")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        why: String,
    },
    /// A thread or runtime could not start.
    #[error("cannot start: {0}")]
    Start(String),
}

/// Runs until Ctrl-C or SIGTERM: serves `/metrics` on `cfg.listen`, says where on `out`.
///
/// # Errors
/// The address cannot be listened on, or a thread cannot start. A capture that cannot start
/// is not an error: it is said on `out` and `respscope_wire_up` stays 0.
pub fn run(cfg: ExporterConfig, out: &mut dyn Write) -> Result<(), ExporterError> {
    let server = tiny_http::Server::http(cfg.listen)
        .map_err(|e| ExporterError::Listen { addr: cfg.listen, why: e.to_string() })?;
    let addr = server.server_addr().to_ip().unwrap_or(cfg.listen);
    let model = Arc::new(Mutex::new(Exported::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let wire = match &cfg.live {
        None => {
            let _ = writeln!(out, "respscope exporter: capture off: serving the server's numbers only");
            None
        }
        Some(l) => {
            let limits = SnapshotLimits { connections: Some(LISTED), details: 0 };
            let evidence = Evidence { keep_closed_us: KEEP_CLOSED_US, ..Evidence::default() };
            match LiveWire::start_tracking_commands(
                l,
                WireConfig::ports(cfg.ports.clone()),
                limits,
                &evidence,
            ) {
                Ok(w) => Some(w),
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "respscope exporter: {e}; serving the server's numbers only (respscope_wire_up 0)"
                    );
                    None
                }
            }
        }
    };
    let snapshots = wire.map(|w| {
        let (model, stop) = (Arc::clone(&model), Arc::clone(&stop));
        std::thread::Builder::new().name("exporter-wire".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(s) = w.snapshot(Duration::from_secs(5)) {
                    model.lock().unwrap_or_else(std::sync::PoisonError::into_inner).apply_wire(&s);
                }
                sleep_unless(&stop, EVERY);
            }
        })
    });
    let snapshots = snapshots.transpose().map_err(|e| ExporterError::Start(e.to_string()))?;
    let polls = {
        let (model, stop, opts) = (Arc::clone(&model), Arc::clone(&stop), cfg.server.clone());
        std::thread::Builder::new()
            .name("exporter-poll".into())
            .spawn(move || poll_and_wait_for_signal(opts, &model, &stop))
            .map_err(|e| ExporterError::Start(e.to_string()))?
    };
    let capture = match &cfg.live {
        Some(l) => format!("capturing `{}` on {}", l.filter, l.interface),
        None => "not capturing".into(),
    };
    let _ = writeln!(
        out,
        "respscope exporter: serving http://{addr}/metrics; {capture}; polling {} every {} s; Ctrl-C stops",
        cfg.server.addr(),
        EVERY.as_secs()
    );
    let _ = out.flush();
    let registry = metrics::registry(Arc::clone(&model));
    while !stop.load(Ordering::Relaxed) {
        let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(200)) else { continue };
        let (status, body, ty) = match (req.method(), req.url()) {
            (tiny_http::Method::Get, "/metrics") => match metrics::encode(&registry) {
                Ok(text) => (200, text, metrics::CONTENT_TYPE),
                Err(_) => (500, "encoding failed\n".into(), "text/plain; charset=utf-8"),
            },
            (tiny_http::Method::Get, "/") => {
                (200, "respscope exporter: the metrics are at /metrics\n".into(), "text/plain; charset=utf-8")
            }
            _ => (404, "not found: the metrics are at /metrics\n".into(), "text/plain; charset=utf-8"),
        };
        let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", ty) {
            resp = resp.with_header(h);
        }
        // A scraper that hung up is its own problem, not the exporter's.
        let _ = req.respond(resp);
    }
    let _ = polls.join();
    if let Some(t) = snapshots {
        let _ = t.join();
    }
    let _ = writeln!(out, "respscope exporter: stopped");
    Ok(())
}

/// Sleeps `d`, waking early once `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left = left.saturating_sub(s);
    }
}

/// Polls the server once a second on a small runtime until Ctrl-C or SIGTERM, which set
/// `stop` for everyone.
fn poll_and_wait_for_signal(opts: ConnectOptions, model: &Mutex<Exported>, stop: &AtomicBool) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        stop.store(true, Ordering::Relaxed);
        return;
    };
    rt.block_on(async {
        let mut poller = Poller::new(opts);
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let p = poller.poll().await;
                    model.lock().unwrap_or_else(std::sync::PoisonError::into_inner).apply_server(p);
                }
                _ = tokio::signal::ctrl_c() => break,
                Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => break,
            }
        }
    });
    stop.store(true, Ordering::Relaxed);
}
