//! A TCP proxy that adds a round trip between clients and a Redis server, for the labs: this
//! kernel has no netem, and a trainer must show what 2 ms does to a sequential client and to
//! a pipelined one.
//!
//! It listens on 127.0.0.1 and opens one connection to the server per client. Each direction
//! is a [`pump`](super::pump): a read made at `t` is written, as one write, at `t + rtt/2`
//! (± jitter), so separate client writes stay separate and the batches on the client side of
//! the proxy are the ones the client made; pipelined reads are scheduled by their own time
//! and never wait behind each other's delay. Everything is bounded: a queue per direction
//! (past it the proxy stops reading, and TCP pushes back), and a number of connections.

use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pump::{self, DirCounters, Jitter, Shape};
use super::units::{show_duration, show_rate};

/// Connections at once by default: far more than a workshop opens, few enough that a runaway
/// client cannot take the machine's threads (each connection is two).
pub const MAX_CONNECTIONS: usize = 1024;
/// Bytes queued per direction and connection by default, before the proxy stops reading.
pub const QUEUE_LIMIT: usize = 4 << 20;
/// How long a connection to the server may take before the client is told it failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The same complaint (server unreachable, too many connections) is said once a second at
/// most: a client retrying in a loop must not flood the trainer's terminal.
const NOTICE_EVERY: Duration = Duration::from_secs(1);

/// What the proxy adds and where it sends.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// The server, `HOST:PORT`.
    pub upstream: String,
    /// The port to listen on (127.0.0.1); 0 for a free one.
    pub listen_port: u16,
    /// The round trip added: half of it in each direction.
    pub rtt: Duration,
    /// Each read's one-way delay moves by a uniform amount in ± this.
    pub jitter: Duration,
    /// Bytes per second per direction, at most.
    pub bandwidth: Option<u64>,
    /// Connections at once, at most; more are closed as they arrive, and said.
    pub max_connections: usize,
    /// Bytes waiting per direction and connection, at most.
    pub queue_limit: usize,
}

impl ProxyConfig {
    /// A proxy to `upstream` adding `rtt`, with the default bounds.
    pub fn new(upstream: impl Into<String>, rtt: Duration) -> Self {
        Self {
            upstream: upstream.into(),
            listen_port: 0,
            rtt,
            jitter: Duration::ZERO,
            bandwidth: None,
            max_connections: MAX_CONNECTIONS,
            queue_limit: QUEUE_LIMIT,
        }
    }

    /// What it adds, in one phrase: `2ms round trip (1ms each way), jitter ±100us`.
    pub fn describe(&self) -> String {
        let mut s =
            format!("{} round trip ({} each way)", show_duration(self.rtt), show_duration(self.rtt / 2));
        if !self.jitter.is_zero() {
            s.push_str(&format!(", jitter ±{} each way", show_duration(self.jitter)));
        }
        if let Some(b) = self.bandwidth {
            s.push_str(&format!(", at most {} each way", show_rate(b)));
        }
        s
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// `--to` names no address.
    #[error("--to {0}: cannot resolve it ({1}); write HOST:PORT, such as 127.0.0.1:6379")]
    Upstream(String, String),
    /// The port to listen on is taken (or not ours to take).
    #[error("cannot listen on 127.0.0.1:{0} ({1}): choose another --listen port, or leave --listen out for a free one")]
    Listen(u16, std::io::Error),
    /// No thread for the proxy (the machine is out of them).
    #[error("cannot start the proxy's thread: {0}")]
    Thread(std::io::Error),
}

/// The proxy's counts since it started, shared with its threads.
#[derive(Debug, Default)]
pub struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    unreachable: AtomicU64,
    open: AtomicU64,
    /// Client → server.
    pub to_server: DirCounters,
    /// Server → client.
    pub to_client: DirCounters,
    /// Each open connection's two addresses: `(the proxy's side towards the server, the
    /// client)`. At most `max_connections` (one per open connection).
    links: Mutex<Vec<(SocketAddr, SocketAddr)>>,
}

/// A copy of the counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client connections accepted and forwarded (or tried).
    pub accepted: u64,
    /// Connections closed on arrival because the cap was reached.
    pub refused: u64,
    /// Connections closed because the server could not be reached.
    pub unreachable: u64,
    /// Connections open now.
    pub open: u64,
    /// Bytes client → server.
    pub bytes_to_server: u64,
    /// Bytes server → client.
    pub bytes_to_client: u64,
    /// Reads from clients (their write batches as they arrived).
    pub reads_from_clients: u64,
    /// Writes to the server.
    pub writes_to_server: u64,
    /// Reads from the server.
    pub reads_from_server: u64,
    /// Writes to clients.
    pub writes_to_clients: u64,
}

impl Counters {
    fn stats(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            accepted: l(&self.accepted),
            refused: l(&self.refused),
            unreachable: l(&self.unreachable),
            open: l(&self.open),
            bytes_to_server: l(&self.to_server.bytes),
            bytes_to_client: l(&self.to_client.bytes),
            reads_from_clients: l(&self.to_server.reads),
            writes_to_server: l(&self.to_server.writes),
            reads_from_server: l(&self.to_client.reads),
            writes_to_clients: l(&self.to_client.writes),
        }
    }
}

/// Where the proxy's complaints go (the command line prints them on stderr).
pub type Notify = Arc<dyn Fn(String) + Send + Sync>;

/// A running proxy; dropping it stops accepting (open connections run to their end).
pub struct Proxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listens and starts accepting. The server is not contacted until a client comes: it may
    /// start after the proxy.
    ///
    /// # Errors
    /// [`ProxyError`]: an upstream that does not resolve, a port that is taken.
    pub fn start(cfg: ProxyConfig, notify: Option<Notify>) -> Result<Self, ProxyError> {
        let upstream = cfg
            .upstream
            .to_socket_addrs()
            .map_err(|e| ProxyError::Upstream(cfg.upstream.clone(), e.to_string()))?
            .next()
            .ok_or_else(|| ProxyError::Upstream(cfg.upstream.clone(), "no address".into()))?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, cfg.listen_port))
            .map_err(|e| ProxyError::Listen(cfg.listen_port, e))?;
        let addr = listener.local_addr().map_err(|e| ProxyError::Listen(cfg.listen_port, e))?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let notify = notify.unwrap_or_else(|| Arc::new(|_| {}));
        let (c, s) = (counters.clone(), stop.clone());
        let accept = std::thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(&listener, upstream, &cfg, &c, &s, &notify))
            .map_err(ProxyError::Thread)?;
        Ok(Self { addr, counters, stop, accept: Some(accept) })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        self.counters.stats()
    }

    /// The open connections as `(address the server sees, client address)`: the server's
    /// CLIENT LIST names the first, a capture of the client side the second.
    pub fn links(&self) -> Vec<(SocketAddr, SocketAddr)> {
        self.counters.links.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // The accept thread sleeps in accept(): a connection of our own wakes it to see `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Says a complaint at most once per [`NOTICE_EVERY`], with how many were held back.
struct Throttle {
    last: Option<Instant>,
    held: u64,
}

impl Throttle {
    fn say(&mut self, notify: &Notify, what: impl FnOnce(u64) -> String) {
        if self.last.is_some_and(|l| l.elapsed() < NOTICE_EVERY) {
            self.held += 1;
            return;
        }
        notify(what(std::mem::take(&mut self.held)));
        self.last = Some(Instant::now());
    }
}

fn accept_loop(
    listener: &TcpListener,
    upstream: SocketAddr,
    cfg: &ProxyConfig,
    counters: &Arc<Counters>,
    stop: &AtomicBool,
    notify: &Notify,
) {
    let unreachable = Arc::new(Mutex::new(Throttle { last: None, held: 0 }));
    let mut full = Throttle { last: None, held: 0 };
    let mut seed = 0u64;
    for client in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = client else {
            // Out of descriptors, say: wait a little rather than spin on the error.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let open = counters.open.load(Ordering::Relaxed);
        if open >= cfg.max_connections as u64 {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            let _ = client.shutdown(Shutdown::Both);
            let max = cfg.max_connections;
            full.say(notify, |held| {
                format!("{max} connections are open, the most the proxy takes: a new client was closed{}; close some clients", more(held))
            });
            continue;
        }
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        counters.open.fetch_add(1, Ordering::Relaxed);
        seed = seed.wrapping_add(0x632B_E59B_D9B4_E019);
        let (cfg, counters2, notify2, unreachable2) =
            (cfg.clone(), counters.clone(), notify.clone(), unreachable.clone());
        let spawned =
            std::thread::Builder::new().name("proxy-conn".into()).stack_size(256 * 1024).spawn(move || {
                connection(client, upstream, &cfg, &counters2, seed, &notify2, &unreachable2);
                counters2.open.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            // The client was moved into the closure, which is dropped (and the socket closed).
            counters.open.fetch_sub(1, Ordering::Relaxed);
            notify("no thread left for a new connection: it was closed".into());
        }
    }
}

fn more(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more in the last second)")
    }
}

/// One client: a connection to the server, then a pump each way until both have ended.
fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    cfg: &ProxyConfig,
    counters: &Counters,
    seed: u64,
    notify: &Notify,
    unreachable: &Mutex<Throttle>,
) {
    pump::precise_timers();
    let server = match TcpStream::connect_timeout(&upstream, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => {
            counters.unreachable.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut t) = unreachable.lock() {
                t.say(notify, |held| format!(
                    "cannot reach the server at {upstream} ({e}): the client's connection was closed{}; is redis-server running there?",
                    more(held)
                ));
            }
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    // Nagle would hold a small write until the previous one is acknowledged, merging the
    // client's separate writes into one: the proxy must write each read as it comes.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let link = server.local_addr().ok().zip(client.peer_addr().ok());
    if let (Some(l), Ok(mut links)) = (link, counters.links.lock()) {
        links.push(l);
    }
    let shape = Shape {
        delay: cfg.rtt / 2,
        jitter: cfg.jitter,
        bandwidth: cfg.bandwidth,
        queue_limit: cfg.queue_limit.max(1),
    };
    // The server→client pump on a thread of its own, client→server on this one; the scope
    // ends when both have, and the sockets close as they drop.
    std::thread::scope(|scope| {
        let back = std::thread::Builder::new().name("proxy-pump".into()).stack_size(256 * 1024).spawn_scoped(
            scope,
            || {
                pump::precise_timers();
                pump::run(&server, &client, shape, Jitter::new(!seed), &counters.to_client)
            },
        );
        if back.is_err() {
            notify("no thread left for a connection's replies: it was closed".into());
            return;
        }
        pump::run(&client, &server, shape, Jitter::new(seed), &counters.to_server);
    });
    if let (Some(l), Ok(mut links)) = (link, counters.links.lock()) {
        links.retain(|x| *x != l);
    }
}
