//! The workshop labs: live demonstrations of what round trips, pipelining and batching do,
//! with the wire as evidence. They start from a proxy that adds a round trip between clients
//! and a server, since a workshop machine rarely lets anyone shape its network (`netem`).

pub mod bench;
pub mod conn;
pub mod labs;
pub mod proxy;
mod pump;
pub mod units;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use bench::{Bench, LabError, Setup, Target};
pub use labs::{LabName, Plan};

use crate::engine::lab::{LabResult, LabStatus};

use proxy::{Proxy, ProxyConfig, ProxyError, Stats};

/// `respscope proxy`: starts the proxy, says on `out` where it listens and what it adds, runs
/// until Ctrl-C (or SIGTERM), then says what went through it. Complaints about single
/// connections (the server unreachable, too many clients) go to stderr as they happen.
///
/// # Errors
/// [`ProxyError`] when it cannot start; a failure to write to `out` is ignored (a closed pipe
/// must not keep the proxy from serving).
pub fn run_proxy(cfg: ProxyConfig, out: &mut dyn Write) -> Result<Stats, ProxyError> {
    let notify: proxy::Notify = std::sync::Arc::new(|msg: String| eprintln!("respscope proxy: {msg}"));
    let upstream = cfg.upstream.clone();
    let adds = cfg.describe();
    let p = Proxy::start(cfg, Some(notify))?;
    let _ = writeln!(
        out,
        "respscope proxy: listening on {} → {upstream}, adding {adds}; Ctrl-C stops",
        p.local_addr()
    );
    let _ = out.flush();
    // Said at once rather than at the first client: the trainer is still at the keyboard.
    if let Ok(Some(a)) = std::net::ToSocketAddrs::to_socket_addrs(upstream.as_str()).map(|mut a| a.next()) {
        if let Err(e) = std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(1)) {
            eprintln!("respscope proxy: nothing answers at {upstream} yet ({e}); start redis-server there, each client connection tries again");
        }
    }
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ProxyError::Thread)?;
    rt.block_on(async {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    let s = p.stats();
    let _ = writeln!(
        out,
        "respscope proxy: {} connection(s), {} refused at the cap, {} could not reach the server; {} bytes client→server in {} read(s), {} bytes server→client in {} read(s)",
        s.accepted, s.refused, s.unreachable, s.bytes_to_server, s.reads_from_clients, s.bytes_to_client, s.reads_from_server
    );
    let _ = out.flush();
    Ok(s)
}

/// How `--headless` prints a lab's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An aligned table and the notes.
    Table,
    /// `{"lab": NAME, "rows": [...], ...}`.
    Json,
    /// A markdown table, for a workshop's notes or a pull request.
    Markdown,
    /// CSV with the row fields as its header.
    Csv,
}

/// `respscope lab NAME …`.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// Which lab.
    pub lab: LabName,
    /// Its server, proxies and capture.
    pub setup: Setup,
    /// What it runs.
    pub plan: Plan,
    /// Where the result files go (JSON, markdown, CSV, SVG), if anywhere.
    pub out: Option<PathBuf>,
    /// How `--headless` prints.
    pub format: Format,
}

/// Runs a lab without the console: progress on `err`, the result on `out` in the format
/// asked, the files in `--out`. The result, failed or not (a failure is also said on `err`).
///
/// # Errors
/// The lab could not start (no server, no proxy), or the files could not be written.
pub fn headless(cfg: &LabConfig, out: &mut dyn Write, err: &mut dyn Write) -> Result<LabResult, LabError> {
    let cancel = Arc::new(AtomicBool::new(false));
    let bench = Bench::start(&cfg.setup, cancel)?;
    let _ = writeln!(err, "respscope lab {}: {}", cfg.lab.name(), bench.described);
    let mut last = String::new();
    let mut progress = |r: &LabResult| {
        if let LabStatus::Running { step, of, what } = &r.status {
            let line = format!("[{step}/{of}] {what}");
            if line != last {
                let _ = writeln!(err, "{line}");
                last = line;
            }
        }
    };
    let result = labs::run(cfg.lab, &bench, &cfg.plan, &mut progress);
    drop(bench);
    if let LabStatus::Failed { why } = &result.status {
        let _ = writeln!(err, "respscope lab {}: stopped: {why}", cfg.lab.name());
    }
    let printed = match cfg.format {
        Format::Table => crate::views::lab::text_table(&result, 120),
        Format::Json => {
            serde_json::to_string_pretty(&crate::views::lab::json(&result)).unwrap_or_default() + "\n"
        }
        Format::Markdown => crate::views::lab::markdown(&result),
        Format::Csv => crate::views::lab::csv(&result),
    };
    let _ = out.write_all(printed.as_bytes());
    let _ = out.flush();
    if let Some(dir) = &cfg.out {
        let files =
            crate::views::lab::write_all(&result, dir).map_err(|e| LabError::Server(e.to_string()))?;
        for f in files {
            let _ = writeln!(err, "wrote {}", f.display());
        }
    }
    Ok(result)
}
