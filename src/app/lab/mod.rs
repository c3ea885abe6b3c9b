//! The workshop labs: live demonstrations of what round trips, pipelining and batching do,
//! with the wire as evidence. They start from a proxy that adds a round trip between clients
//! and a server, since a workshop machine rarely lets anyone shape its network (`netem`).

pub mod proxy;
mod pump;
pub mod units;

use std::io::Write;

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
