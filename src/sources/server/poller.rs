//! Polling the server: a timed PING, INFO, SLOWLOG (new entries only), CLIENT LIST, LATENCY
//! LATEST, with a reconnecting session. Read-only: the pollers never write.
//!
//! The session is a small state machine (connected, or down with a backoff that doubles from
//! 100 ms to 5 s), so a server that restarts is picked up again without anyone asking, and
//! the views can say "reconnecting in 1.6s: connection refused".

use std::time::Duration;

use super::client::{Client, ClientError, ConnectOptions};
use super::formats::client_list::{parse_client_list, ClientRow};
use super::formats::info::{command_stats, parse_info, CommandStat, Info};
use super::formats::latency::{parse_latency_latest, LatencyEvent};
use super::formats::slowlog::{parse_slowlog, SlowEntry};
use super::formats::Value;

/// First wait after a failure.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// SLOWLOG entries fetched per poll.
const SLOWLOG_FETCH: &[u8] = b"128";

/// What one poll of the server found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ServerPoll {
    /// Address polled.
    pub addr: String,
    /// True when this poll reached the server.
    pub up: bool,
    /// Why not, in words (what to do included).
    pub error: Option<String>,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// `redis_version`.
    pub version: Option<String>,
    /// Selected INFO numbers.
    pub ops_per_sec: Option<u64>,
    /// `used_memory`.
    pub used_memory: Option<u64>,
    /// `connected_clients`.
    pub connected_clients: Option<u64>,
    /// `rejected_connections`.
    pub rejected_connections: Option<u64>,
    /// `evicted_keys`.
    pub evicted_keys: Option<u64>,
    /// `total_commands_processed`.
    pub commands_processed: Option<u64>,
    /// `role` (`master` or `slave`, as INFO replication says).
    pub role: Option<String>,
    /// Commands by name as the server counts them (`INFO commandstats`), cumulative.
    pub commandstats: Vec<CommandStat>,
    /// SLOWLOG entries not seen in an earlier poll.
    pub slowlog_new: Vec<SlowEntry>,
    /// CLIENT LIST rows.
    pub clients: Vec<ClientRow>,
    /// LATENCY LATEST events.
    pub latency: Vec<LatencyEvent>,
    /// Round trip of a PING sent by the poller just before INFO (µs): the server's
    /// responsiveness as a client sees it, queueing included.
    pub ping_us: Option<u64>,
    /// The whole INFO, for views that need more.
    #[serde(skip)]
    pub info: Option<Info>,
}

/// A reconnecting poller.
pub struct Poller {
    opts: ConnectOptions,
    client: Option<Client>,
    failures: u32,
    last_slowlog_id: Option<u64>,
    next_attempt: Option<tokio::time::Instant>,
    last_error: Option<String>,
    /// PING and INFO only (a cluster's nodes): no SLOWLOG, CLIENT LIST or LATENCY.
    light: bool,
}

impl Poller {
    /// A poller for `opts`; it connects on the first poll.
    pub fn new(opts: ConnectOptions) -> Poller {
        Poller {
            opts,
            client: None,
            failures: 0,
            last_slowlog_id: None,
            next_attempt: None,
            last_error: None,
            light: false,
        }
    }

    /// A poller that asks only PING and INFO: one per node of a cluster, where the numbers
    /// of each node's row are all that is shown.
    pub fn light(opts: ConnectOptions) -> Poller {
        Poller { light: true, ..Poller::new(opts) }
    }

    fn backoff(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(10);
        (BACKOFF_MIN * 2u32.saturating_pow(exp)).min(BACKOFF_MAX)
    }

    /// Polls once. Never fails: a failure is reported in the result, and the next call
    /// reconnects once the backoff has passed.
    pub async fn poll(&mut self) -> ServerPoll {
        let addr = self.opts.addr();
        if self.client.is_none() {
            if let Some(t) = self.next_attempt {
                if tokio::time::Instant::now() < t {
                    let left = t - tokio::time::Instant::now();
                    return self.down(format!(
                        "{} (reconnecting in {:.1}s)",
                        self.last_error.clone().unwrap_or_default(),
                        left.as_secs_f64()
                    ));
                }
            }
            match Client::connect(&self.opts).await {
                Ok(mut c) => {
                    if let Err(e) = c.set_name("poller").await {
                        return self.fail(&e);
                    }
                    self.client = Some(c);
                }
                Err(e) => return self.fail(&e),
            }
        }
        match self.fetch().await {
            Ok(mut p) => {
                self.failures = 0;
                self.last_error = None;
                p.addr = addr;
                p.up = true;
                p
            }
            Err(e) => {
                self.client = None;
                self.fail(&e)
            }
        }
    }

    fn fail(&mut self, e: &ClientError) -> ServerPoll {
        self.failures = self.failures.saturating_add(1);
        self.last_error = Some(e.to_string());
        self.next_attempt = Some(tokio::time::Instant::now() + self.backoff());
        self.down(e.to_string())
    }

    fn down(&self, error: String) -> ServerPoll {
        ServerPoll {
            addr: self.opts.addr(),
            up: false,
            error: Some(error),
            failures: self.failures,
            ..ServerPoll::default()
        }
    }

    async fn fetch(&mut self) -> Result<ServerPoll, ClientError> {
        let Some(c) = self.client.as_mut() else {
            return Err(ClientError::Closed { addr: self.opts.addr() });
        };
        let sent = std::time::Instant::now();
        let pong = c.request(&[b"PING"]).await?;
        let ping_us =
            u64::try_from(sent.elapsed().as_micros()).ok().filter(|_| !matches!(pong, Value::Error(_)));
        let info = match c.request(&[b"INFO", b"everything"]).await? {
            Value::Bulk(b) => parse_info(&String::from_utf8_lossy(&b)),
            Value::Error(e) if e.starts_with("NOAUTH") => {
                return Err(ClientError::NoAuth { addr: c.addr().to_string() })
            }
            _ => parse_info(""),
        };
        let numbers = |info: &Info| ServerPoll {
            version: info.get("redis_version").map(str::to_string),
            ops_per_sec: info.get_u64("instantaneous_ops_per_sec"),
            used_memory: info.get_u64("used_memory"),
            connected_clients: info.get_u64("connected_clients"),
            rejected_connections: info.get_u64("rejected_connections"),
            evicted_keys: info.get_u64("evicted_keys"),
            commands_processed: info.get_u64("total_commands_processed"),
            role: info.get("role").map(str::to_string),
            commandstats: command_stats(info),
            ping_us,
            ..ServerPoll::default()
        };
        if self.light {
            return Ok(numbers(&info));
        }
        let slowlog = c.request(&[b"SLOWLOG", b"GET", SLOWLOG_FETCH]).await?;
        let mut slow = parse_slowlog(&slowlog);
        // New entries only, by id (ids only grow; a restart resets them, so a lower top id
        // means everything is new).
        let top = slow.iter().map(|e| e.id).max();
        if let (Some(last), Some(t)) = (self.last_slowlog_id, top) {
            if t >= last {
                slow.retain(|e| e.id > last);
            }
        }
        if top.is_some() {
            self.last_slowlog_id = top;
        }
        slow.sort_by_key(|e| e.id);
        let clients = match c.request(&[b"CLIENT", b"LIST"]).await? {
            Value::Bulk(b) => parse_client_list(&String::from_utf8_lossy(&b)),
            _ => Vec::new(),
        };
        let latency = parse_latency_latest(&c.request(&[b"LATENCY", b"LATEST"]).await?);
        let base = numbers(&info);
        Ok(ServerPoll { slowlog_new: slow, clients, latency, info: Some(info), ..base })
    }
}
