//! What every lab stands on: a server (a private redis-server, or the one given), one proxy
//! per round trip asked, a capture of the proxies' client side, and a direct connection for
//! the server's own numbers (INFO, SLOWLOG, CLIENT LIST).
//!
//! The capture is the lab's evidence: round trips are counted from the wire (contract-v1
//! batches of the run's connection), not from what the lab believes it wrote. Without the
//! right to capture, a lab still runs and says which numbers it could not measure.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analysis::wire::WireConfig;
use crate::engine::live::{Evidence, LiveWire};
use crate::engine::report::{ConnReport, SnapshotLimits};
use crate::sources::capture::live::LiveConfig;
use crate::sources::server::client::parse_value;
use crate::sources::server::formats::Value;

use super::conn::{bulk_reply, ConnError, LabConn};
use super::proxy::{Proxy, ProxyConfig, ProxyError};
use super::units::show_duration;
use crate::app::demo::{start_server, PrivateServer};

/// Bytes a lab's proxy holds per direction and connection before it stops reading: small,
/// so a client that stops reading (the slow-reader lab) pushes back on the server after
/// 256 KiB rather than after the proxy's default 4 MiB.
const LAB_QUEUE: usize = 256 << 10;
/// How long a lab waits for the capture to have seen a run's last reply.
const WIRE_CATCH_UP: Duration = Duration::from_secs(3);

/// The server a lab runs against.
#[derive(Clone, Debug)]
pub enum Target {
    /// A redis-server the lab starts on a free loopback port and stops at the end; the labs
    /// may change its configuration (the SLOWLOG threshold, output buffer limits).
    Private,
    /// A server given with -h/-p: its configuration is left alone.
    Given {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// ACL user.
        user: Option<String>,
        /// Password.
        password: Option<String>,
    },
}

/// How a lab is set up.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The server.
    pub target: Target,
    /// The round trips the proxies add (one proxy each); a 0 ms one is always there too.
    pub rtts: Vec<Duration>,
    /// Jitter each proxy adds each way.
    pub jitter: Duration,
    /// Bandwidth cap each way, bytes per second.
    pub bandwidth: Option<u64>,
    /// Capture the proxies' client side (off: no round trips or window events measured).
    pub capture: bool,
}

/// Why a lab could not run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// No server to run against.
    #[error("{0}")]
    Server(String),
    /// A proxy did not start.
    #[error("the lab's proxy did not start: {0}")]
    Proxy(#[from] ProxyError),
    /// A connection failed mid-run.
    #[error("{0}")]
    Conn(#[from] ConnError),
    /// Stopped by the user.
    #[error("stopped before the end")]
    Cancelled,
}

/// A lab's server, proxies and capture, stopped when dropped.
pub struct Bench {
    /// Dropped last: the proxies and capture go first.
    _server: Option<PrivateServer>,
    server: SocketAddr,
    user: Option<String>,
    password: Option<String>,
    proxies: Vec<(Duration, Proxy)>,
    wire: Option<LiveWire>,
    /// Why the wire is not captured, when it is not.
    pub wire_missing: Option<String>,
    cancel: Arc<AtomicBool>,
    /// The connections opened through the proxies: the wire's client address and the name.
    opened: std::sync::Mutex<Vec<(String, String)>>,
    /// One line: where the lab runs.
    pub described: String,
}

impl Bench {
    /// Starts the server (or finds the given one), the proxies and the capture.
    ///
    /// # Errors
    /// No redis-server to start, the given one does not answer, a proxy cannot listen.
    pub fn start(setup: &Setup, cancel: Arc<AtomicBool>) -> Result<Bench, LabError> {
        let (server, addr, user, password) = match &setup.target {
            Target::Private => {
                let s = start_server().map_err(LabError::Server)?;
                let addr = SocketAddr::from(([127, 0, 0, 1], s.port));
                (Some(s), addr, None, None)
            }
            Target::Given { host, port, user, password } => {
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| LabError::Server(format!("cannot resolve {host}:{port}")))?;
                (None, addr, user.clone(), password.clone())
            }
        };
        let mut rtts = setup.rtts.clone();
        rtts.push(Duration::ZERO);
        rtts.sort();
        rtts.dedup();
        let mut proxies = Vec::with_capacity(rtts.len());
        for rtt in rtts {
            let cfg = ProxyConfig {
                jitter: setup.jitter,
                bandwidth: setup.bandwidth,
                queue_limit: LAB_QUEUE,
                ..ProxyConfig::new(addr.to_string(), rtt)
            };
            proxies.push((rtt, Proxy::start(cfg, None)?));
        }
        let mut bench = Bench {
            _server: server,
            server: addr,
            user,
            password,
            proxies,
            wire: None,
            wire_missing: None,
            cancel,
            opened: std::sync::Mutex::new(Vec::new()),
            described: String::new(),
        };
        // The server must answer before anything is measured against it.
        let answer = bench.control().and_then(|mut c| Ok(c.request(&[b"PING"])?));
        if let Err(e) = answer {
            return Err(LabError::Server(if bench._server.is_some() {
                format!("the lab's redis-server does not answer: {e}")
            } else {
                format!("no Redis answers at {addr} ({e}); start one there, or leave out -h/-p and the lab starts its own")
            }));
        }
        if setup.capture {
            let ports = bench.ports();
            let filter = ports.iter().map(|p| format!("tcp port {p}")).collect::<Vec<_>>().join(" or ");
            let live = LiveConfig { interface: "lo".into(), filter, buffer_mib: 32 };
            let limits = SnapshotLimits { connections: None, details: 0 };
            match LiveWire::start(&live, WireConfig::ports(ports), limits, &Evidence::default()) {
                Ok(w) => bench.wire = Some(w),
                Err(e) => bench.wire_missing = Some(e.to_string()),
            }
        } else {
            bench.wire_missing = Some("capture off (--no-capture)".into());
        }
        let kind = if bench._server.is_some() { "a private redis-server" } else { "redis-server" };
        let proxies = bench
            .proxies
            .iter()
            .map(|(rtt, p)| format!("{} on :{}", show_duration(*rtt), p.local_addr().port()))
            .collect::<Vec<_>>()
            .join(", ");
        let wire = match &bench.wire_missing {
            None => "wire captured on lo".to_string(),
            Some(why) => format!("wire NOT captured ({why})"),
        };
        bench.described = format!("{kind} at {addr}; proxies adding {proxies}; {wire}");
        Ok(bench)
    }

    /// The lab started the server and may change its configuration.
    pub fn private(&self) -> bool {
        self._server.is_some()
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The proxies' ports, the capture's filter.
    pub fn ports(&self) -> Vec<u16> {
        self.proxies.iter().map(|(_, p)| p.local_addr().port()).collect()
    }

    /// Stop asked.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// [`LabError::Cancelled`] once stop is asked.
    ///
    /// # Errors
    /// Stop was asked.
    pub fn check(&self) -> Result<(), LabError> {
        if self.cancelled() {
            Err(LabError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// A client connection through the proxy adding `rtt`, authenticated and named `name`
    /// (CLIENT SETNAME, so the console's Connections pane and CLIENT LIST say which run it
    /// is). Returns it with the requests the setup made: each is one batch on the wire.
    ///
    /// # Errors
    /// The proxy or the server refused.
    pub fn client(&self, rtt: Duration, nodelay: bool, name: &str) -> Result<(LabConn, u64), LabError> {
        let proxy = self
            .proxies
            .iter()
            .find(|(r, _)| *r == rtt)
            .map(|(_, p)| p.local_addr())
            .ok_or_else(|| LabError::Server(format!("no proxy adds {}", show_duration(rtt))))?;
        let mut c = LabConn::connect(proxy, nodelay)?;
        {
            let mut opened = self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Bounded as the console's table of closed connections is.
            if opened.len() >= crate::engine::live::LIVE_CLOSED_KEEP {
                opened.remove(0);
            }
            opened.push((format!("127.0.0.1:{}", c.local_port), name.to_string()));
        }
        let setup = self.authenticate(&mut c)?;
        c.request(&[b"CLIENT", b"SETNAME", name.as_bytes()])?;
        Ok((c, setup + 1))
    }

    /// The open connections through the proxies as `(address the server sees, address the
    /// wire sees)`, for joining CLIENT LIST rows to captured connections.
    pub fn aliases(&self) -> Vec<(String, String)> {
        self.proxies
            .iter()
            .flat_map(|(_, p)| p.links())
            .map(|(server_side, client)| (server_side.to_string(), client.to_string()))
            .collect()
    }

    /// The connections opened through the proxies so far: `(127.0.0.1:PORT, name)`.
    pub fn opened(&self) -> Vec<(String, String)> {
        self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// A direct connection to the server, for its own numbers; never captured.
    ///
    /// # Errors
    /// The server does not answer or refuses the password.
    pub fn control(&self) -> Result<LabConn, LabError> {
        let mut c = LabConn::connect(self.server, true)?;
        self.authenticate(&mut c)?;
        Ok(c)
    }

    fn authenticate(&self, c: &mut LabConn) -> Result<u64, LabError> {
        let Some(pw) = &self.password else { return Ok(0) };
        match &self.user {
            Some(u) => c.request(&[b"AUTH", u.as_bytes(), pw.as_bytes()])?,
            None => c.request(&[b"AUTH", pw.as_bytes()])?,
        };
        Ok(1)
    }

    /// The wire's report of the connection whose client port is `port`, once the capture has
    /// seen at least `replies` replies on it (or has caught up as far as it will within 3 s);
    /// `None` without a capture.
    pub fn wire_conn(&self, port: u16, replies: u64) -> Option<Arc<ConnReport>> {
        let wire = self.wire.as_ref()?;
        let suffix = format!(":{port}");
        let end = Instant::now() + WIRE_CATCH_UP;
        let mut best = None;
        loop {
            if let Some(s) = wire.snapshot(Duration::from_secs(1)) {
                let found = s.wire.report.connections.iter().find(|c| c.client.ends_with(&suffix)).cloned();
                if let Some(c) = found {
                    if c.replies >= replies {
                        return Some(c);
                    }
                    best = Some(c);
                }
            }
            if Instant::now() >= end {
                return best;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `INFO commandstats` as `(command, calls, usec)`.
    ///
    /// # Errors
    /// The server did not answer.
    pub fn commandstats(&self, control: &mut LabConn) -> Result<Vec<(String, u64, u64)>, LabError> {
        let reply = control.request(&[b"INFO", b"commandstats"])?;
        let text = String::from_utf8_lossy(bulk_reply(&reply)).into_owned();
        let mut out = Vec::new();
        for line in text.lines() {
            let Some((name, fields)) =
                line.trim_end().strip_prefix("cmdstat_").and_then(|l| l.split_once(':'))
            else {
                continue;
            };
            let field = |k: &str| {
                fields.split(',').find_map(|f| f.strip_prefix(k)?.strip_prefix('=')?.parse::<u64>().ok())
            };
            out.push((name.to_string(), field("calls").unwrap_or(0), field("usec").unwrap_or(0)));
        }
        Ok(out)
    }

    /// A command's reply as a [`Value`] (SLOWLOG GET), `Nil` if it does not parse.
    ///
    /// # Errors
    /// The server did not answer or refused.
    pub fn value(&self, control: &mut LabConn, args: &[&[u8]]) -> Result<Value, LabError> {
        let reply = control.request(args)?;
        Ok(parse_value(&reply).map_or(Value::Nil, |(v, _)| v))
    }
}

/// Calls and usec of `names` between two commandstats readings.
pub fn stats_delta(
    before: &[(String, u64, u64)],
    after: &[(String, u64, u64)],
    names: &[&str],
) -> (u64, u64) {
    let get = |t: &[(String, u64, u64)], n: &str| {
        t.iter().find(|(c, _, _)| c == n).map_or((0, 0), |(_, c, u)| (*c, *u))
    };
    names.iter().fold((0, 0), |(calls, usec), n| {
        let (c0, u0) = get(before, n);
        let (c1, u1) = get(after, n);
        (calls + c1.saturating_sub(c0), usec + u1.saturating_sub(u0))
    })
}
