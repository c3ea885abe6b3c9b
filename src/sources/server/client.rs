//! A small RESP client for talking to the server: the pollers' and the console's connection.
//!
//! Replies are framed by the same incremental scanner the wire analysis uses (so a reply is
//! only decoded once it is complete, and a length prefix never decides an allocation: the bytes
//! are already there), then turned into a [`Value`] tree. The read buffer is capped.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::TlsOptions;

use super::formats::{Shape, Value};
use crate::protocol::resp::{Outcome, Role, Scanner};

/// What respscope's own connections are named in CLIENT LIST: this, then their role.
pub const OWN_NAME_PREFIX: &str = "respscope:";
/// Largest reply accepted (CLIENT LIST of 100,000 clients is about 30 MB).
pub const MAX_REPLY: usize = 64 * 1024 * 1024;

/// Where and how to connect, as redis-cli takes it.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// ACL user (with a password: `AUTH user pass`).
    pub user: Option<String>,
    /// Password. Never printed.
    pub password: Option<String>,
    /// Database to SELECT.
    pub db: u32,
    /// Speak RESP3 (`HELLO 3`).
    pub resp3: bool,
    /// Connect and per-request timeout.
    pub timeout: Duration,
    /// Speak TLS.
    pub tls: Option<TlsOptions>,
    /// A Unix socket to connect to instead of `host:port` (redis-cli's `-s`).
    pub unix: Option<std::path::PathBuf>,
}

impl ConnectOptions {
    /// `host:port` for messages (IPv6 in brackets), or the Unix socket's path.
    pub fn addr(&self) -> String {
        if let Some(p) = &self.unix {
            return format!("unix:{}", p.display());
        }
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why a request failed. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {reason} (is redis-server running there? check -h/-p)")]
    Connect {
        /// Address.
        addr: String,
        /// OS words.
        reason: String,
    },
    /// No answer in time.
    #[error("{addr} did not answer within {secs:.1}s")]
    Timeout {
        /// Address.
        addr: String,
        /// Seconds waited.
        secs: f64,
    },
    /// Authentication was refused.
    #[error("{addr} refused the password: {said} (check -a, --user or REDISCLI_AUTH)")]
    Auth {
        /// Address.
        addr: String,
        /// The server's error, which never contains the password, escaped ([`said`]).
        said: String,
    },
    /// The server wants a password and none was given.
    #[error("{addr} requires a password: give it with -a, --user or REDISCLI_AUTH")]
    NoAuth {
        /// Address.
        addr: String,
    },
    /// The server closed the connection.
    #[error("{addr} closed the connection")]
    Closed {
        /// Address.
        addr: String,
    },
    /// The server sent something that is not RESP.
    #[error("{addr} sent something that is not RESP ({what})")]
    Protocol {
        /// Address.
        addr: String,
        /// What was wrong.
        what: String,
    },
    /// TLS could not be set up, or the handshake failed.
    #[error("TLS with {addr} failed: {reason} (check --cacert, --cert/--key and --sni; --insecure accepts a self-signed test server)")]
    Tls {
        /// Address.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// An I/O error.
    #[error("{addr}: {reason}")]
    Io {
        /// Address.
        addr: String,
        /// OS words.
        reason: String,
    },
}

/// Text the server wrote (an error reply, its certificate's names), escaped before it joins an
/// error message: these messages reach the console's alerts and `watch`'s JSON.
fn said(text: &str) -> String {
    crate::protocol::resp::escape::escape(text.as_bytes())
}

/// A byte stream to the server: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One connection to the server.
pub struct Client {
    stream: Box<dyn Io>,
    buf: Vec<u8>,
    scanned: usize,
    scanner: Scanner,
    addr: String,
    timeout: Duration,
    /// The server's version from HELLO or INFO, when known.
    pub version: Option<String>,
    /// The RESP3 shape of the last reply read, when asked for ([`Client::request_shaped`]).
    last_shape: Option<Shape>,
    shapes: bool,
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    /// Connects, authenticates, switches protocol and database as asked.
    ///
    /// # Errors
    /// Connection refused or timed out, wrong or missing password, a server that does not speak
    /// RESP.
    pub async fn connect(opts: &ConnectOptions) -> Result<Client, ClientError> {
        let addr = opts.addr();
        let timeout = if opts.timeout.is_zero() { Duration::from_secs(5) } else { opts.timeout };
        if let Some(path) = &opts.unix {
            if opts.tls.is_some() {
                return Err(ClientError::Connect {
                    addr,
                    reason: "TLS over a Unix socket is not supported; leave out --tls or -s".into(),
                });
            }
            let stream = tokio::time::timeout(timeout, tokio::net::UnixStream::connect(path))
                .await
                .map_err(|_| ClientError::Timeout { addr: addr.clone(), secs: timeout.as_secs_f64() })?
                .map_err(|e| ClientError::Connect { addr: addr.clone(), reason: e.to_string() })?;
            return Client::start(Box::new(stream), addr, timeout, opts).await;
        }
        let stream = tokio::time::timeout(timeout, TcpStream::connect((opts.host.as_str(), opts.port)))
            .await
            .map_err(|_| ClientError::Timeout { addr: addr.clone(), secs: timeout.as_secs_f64() })?
            .map_err(|e| ClientError::Connect { addr: addr.clone(), reason: e.to_string() })?;
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn Io> = match &opts.tls {
            None => Box::new(stream),
            Some(t) => {
                let tls_err = |reason: String| ClientError::Tls { addr: addr.clone(), reason };
                let (connector, name) =
                    super::tls::connector(t, &opts.host).map_err(|e| tls_err(e.to_string()))?;
                let s = tokio::time::timeout(timeout, connector.connect(name, stream))
                    .await
                    .map_err(|_| ClientError::Timeout { addr: addr.clone(), secs: timeout.as_secs_f64() })?
                    // The handshake's error can quote the server's certificate (its names).
                    .map_err(|e| tls_err(said(&e.to_string())))?;
                Box::new(s)
            }
        };
        Client::start(stream, addr, timeout, opts).await
    }

    /// Sets up a connected stream: AUTH, HELLO, SELECT and a PING, as asked.
    async fn start(
        stream: Box<dyn Io>,
        addr: String,
        timeout: Duration,
        opts: &ConnectOptions,
    ) -> Result<Client, ClientError> {
        let mut c = Client {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            scanned: 0,
            scanner: Scanner::new(Role::Replies, false),
            addr,
            timeout,
            version: None,
            last_shape: None,
            shapes: false,
        };
        match c.setup(opts).await {
            Ok(()) => Ok(c),
            // A connection dropped before the first reply is the TLS mismatch a user meets
            // most: say which side to fix.
            Err(ClientError::Io { reason, .. }) if opts.tls.is_some() => Err(ClientError::Tls {
                addr: c.addr.clone(),
                reason: format!("{reason} (does the server want a client certificate? give --cert/--key)"),
            }),
            Err(ClientError::Closed { .. }) if opts.tls.is_some() => Err(ClientError::Tls {
                addr: c.addr.clone(),
                reason: "the server closed the connection after the handshake (does it want a client certificate? give --cert/--key)".into(),
            }),
            Err(ClientError::Io { reason, .. } | ClientError::Closed { addr: reason }) if opts.tls.is_none() => {
                Err(ClientError::Protocol {
                    addr: c.addr.clone(),
                    what: format!("the connection was dropped before any reply ({reason}); if this is a TLS port, add --tls"),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// AUTH, HELLO 3, SELECT and a PING, as asked.
    async fn setup(&mut self, opts: &ConnectOptions) -> Result<(), ClientError> {
        let c = self;
        if let Some(pw) = &opts.password {
            let reply = match &opts.user {
                Some(u) => c.request(&[b"AUTH", u.as_bytes(), pw.as_bytes()]).await?,
                None => c.request(&[b"AUTH", pw.as_bytes()]).await?,
            };
            if let Value::Error(e) = reply {
                return Err(ClientError::Auth { addr: c.addr.clone(), said: said(&e) });
            }
        }
        if opts.resp3 {
            if let Value::Error(e) = c.request(&[b"HELLO", b"3"]).await? {
                return Err(ClientError::Protocol {
                    addr: c.addr.clone(),
                    what: format!("HELLO 3 refused: {}", said(&e)),
                });
            }
        }
        if opts.db != 0 {
            let db = opts.db.to_string();
            if let Value::Error(e) = c.request(&[b"SELECT", db.as_bytes()]).await? {
                return Err(ClientError::Protocol {
                    addr: c.addr.clone(),
                    what: format!("SELECT {db}: {}", said(&e)),
                });
            }
        }
        // A cheap request that tells whether a password is needed.
        if let Value::Error(e) = c.request(&[b"PING"]).await? {
            if e.starts_with("NOAUTH") {
                return Err(ClientError::NoAuth { addr: c.addr.clone() });
            }
        }
        Ok(())
    }

    /// Names this connection in CLIENT LIST (`respscope:poller`, …), so the views can tell
    /// respscope's own connections from the clients it watches. A server that refuses
    /// (before 2.6.9, or an ACL) leaves it unnamed: not worth failing for.
    pub async fn set_name(&mut self, role: &str) -> Result<(), ClientError> {
        let name = format!("{OWN_NAME_PREFIX}{role}");
        self.request(&[b"CLIENT", b"SETNAME", name.as_bytes()]).await.map(|_| ())
    }

    /// The address connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one command and waits for its reply (an error reply is a `Value::Error`, not a
    /// `ClientError`).
    ///
    /// # Errors
    /// I/O, timeout, or a reply that is not RESP.
    pub async fn request(&mut self, args: &[&[u8]]) -> Result<Value, ClientError> {
        self.send(args).await?;
        self.read().await
    }

    /// [`Client::request`], with the RESP3 types of the reply (maps, sets, doubles, booleans,
    /// big numbers, verbatim strings, pushes) that the [`Value`] folds away: the console shows
    /// them as `redis-cli -3` does.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn request_shaped(&mut self, args: &[&[u8]]) -> Result<(Value, Shape), ClientError> {
        self.shapes = true;
        let v = self.request(args).await;
        self.shapes = false;
        Ok((v?, self.last_shape.take().unwrap_or(Shape::Plain)))
    }

    /// Sends a command without waiting (MONITOR, pipelines).
    ///
    /// # Errors
    /// I/O or timeout.
    pub async fn send(&mut self, args: &[&[u8]]) -> Result<(), ClientError> {
        let bytes = encode(args);
        let addr = self.addr.clone();
        tokio::time::timeout(self.timeout, self.stream.write_all(&bytes))
            .await
            .map_err(|_| ClientError::Timeout { addr: addr.clone(), secs: self.timeout.as_secs_f64() })?
            .map_err(|e| ClientError::Io { addr, reason: e.to_string() })
    }

    /// Reads the next reply (or push), waiting at most the timeout for bytes.
    ///
    /// # Errors
    /// I/O, timeout, a closed connection, a reply that is not RESP or is too large.
    pub async fn read(&mut self) -> Result<Value, ClientError> {
        self.read_with(Some(self.timeout)).await
    }

    /// Reads the next reply, waiting as long as it takes (MONITOR between commands).
    ///
    /// # Errors
    /// As [`Client::read`], without the timeout.
    pub async fn read_stream(&mut self) -> Result<Value, ClientError> {
        self.read_with(None).await
    }

    async fn read_with(&mut self, timeout: Option<Duration>) -> Result<Value, ClientError> {
        loop {
            if let Some(v) = self.take_complete()? {
                return Ok(v);
            }
            if self.buf.len() >= MAX_REPLY {
                return Err(ClientError::Protocol {
                    addr: self.addr.clone(),
                    what: format!("a reply larger than {} MiB", MAX_REPLY >> 20),
                });
            }
            let mut chunk = [0u8; 64 * 1024];
            let read = self.stream.read(&mut chunk);
            let n = match timeout {
                Some(t) => tokio::time::timeout(t, read)
                    .await
                    .map_err(|_| ClientError::Timeout { addr: self.addr.clone(), secs: t.as_secs_f64() })?,
                None => read.await,
            }
            .map_err(|e| ClientError::Io { addr: self.addr.clone(), reason: e.to_string() })?;
            if n == 0 {
                return Err(ClientError::Closed { addr: self.addr.clone() });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A complete reply at the front of the buffer, if there is one.
    fn take_complete(&mut self) -> Result<Option<Value>, ClientError> {
        let (used, outcome) = self.scanner.advance(&self.buf[self.scanned..]);
        self.scanned += used;
        match outcome {
            Outcome::Incomplete => Ok(None),
            Outcome::Error(e) => Err(ClientError::Protocol { addr: self.addr.clone(), what: e.to_string() }),
            Outcome::Message(_) => {
                let end = self.scanned;
                let v = parse_value(&self.buf[..end]).map(|(v, _)| v).unwrap_or(Value::Nil);
                if self.shapes {
                    self.last_shape = shape_of(&self.buf[..end]).map(|(s, _)| s);
                }
                self.buf.drain(..end);
                self.scanned = 0;
                self.scanner.reset(0);
                Ok(Some(v))
            }
        }
    }
}

/// Decodes one complete, already validated message into a [`Value`], folding RESP3 types as
/// the parsers expect (maps and sets as flat arrays, doubles as text, booleans as 0/1). An
/// attribute is skipped and the value after it returned.
pub fn parse_value(b: &[u8]) -> Option<(Value, usize)> {
    let line_end = memchr::memchr(b'\r', b)?;
    let line = std::str::from_utf8(b.get(1..line_end)?).ok()?;
    let after = line_end + 2;
    let text = || line.to_string();
    let int = || line.parse::<i64>().ok();
    match *b.first()? {
        b'+' | b',' | b'(' => Some((Value::Simple(text()), after)),
        b'-' => Some((Value::Error(text()), after)),
        b':' => Some((Value::Int(int()?), after)),
        b'#' => Some((Value::Int(i64::from(line == "t")), after)),
        b'_' => Some((Value::Nil, after)),
        b'$' | b'=' | b'!' => {
            let n = int()?;
            if n < 0 {
                return Some((Value::Nil, after));
            }
            let end = after.checked_add(usize::try_from(n).ok()?)?;
            let data = b.get(after..end)?.to_vec();
            let v = if b[0] == b'!' {
                Value::Error(String::from_utf8_lossy(&data).into_owned())
            } else {
                Value::Bulk(data)
            };
            Some((v, end + 2))
        }
        t @ (b'*' | b'%' | b'~' | b'>' | b'|') => {
            let n = int()?;
            if n < 0 {
                return Some((Value::Nil, after));
            }
            let count = if t == b'%' || t == b'|' { n.checked_mul(2)? } else { n };
            let mut items = Vec::new();
            let mut pos = after;
            for _ in 0..count {
                let (v, used) = parse_value(b.get(pos..)?)?;
                items.push(v);
                pos += used;
            }
            if t == b'|' {
                let (v, used) = parse_value(b.get(pos..)?)?;
                return Some((v, pos + used));
            }
            Some((Value::Array(items), pos))
        }
        _ => None,
    }
}

/// The RESP3 types of one complete message, in the same tree as [`parse_value`] folds it
/// (maps as flat key, value lists; an attribute skipped). Depth is bounded by the scanner
/// that validated the message.
fn shape_of(b: &[u8]) -> Option<(Shape, usize)> {
    let line_end = memchr::memchr(b'\r', b)?;
    let line = std::str::from_utf8(b.get(1..line_end)?).ok()?;
    let after = line_end + 2;
    let n = || line.parse::<i64>().ok();
    Some(match *b.first()? {
        b',' => (Shape::Double, after),
        b'(' => (Shape::BigNumber, after),
        b'#' => (Shape::Bool, after),
        b'=' => {
            let len = usize::try_from(n()?).ok()?;
            (Shape::Verbatim, after.checked_add(len)? + 2)
        }
        b'$' | b'!' => {
            let len = n()?;
            (Shape::Plain, if len < 0 { after } else { after.checked_add(usize::try_from(len).ok()?)? + 2 })
        }
        t @ (b'*' | b'%' | b'~' | b'>' | b'|') => {
            let len = n()?;
            if len < 0 {
                return Some((Shape::Plain, after));
            }
            let count = if t == b'%' || t == b'|' { len.checked_mul(2)? } else { len };
            let mut items = Vec::new();
            let mut pos = after;
            for _ in 0..count {
                let (s, used) = shape_of(b.get(pos..)?)?;
                items.push(s);
                pos += used;
            }
            if t == b'|' {
                let (s, used) = shape_of(b.get(pos..)?)?;
                return Some((s, pos + used));
            }
            let shape = match t {
                b'%' => Shape::Map(items),
                b'~' => Shape::Set(items),
                b'>' => Shape::Push(items),
                _ => Shape::Array(items),
            };
            (shape, pos)
        }
        _ => (Shape::Plain, after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_every_type() {
        let cases: &[(&[u8], Value)] = &[
            (b"+OK\r\n", Value::Simple("OK".into())),
            (b"-ERR x\r\n", Value::Error("ERR x".into())),
            (b":-3\r\n", Value::Int(-3)),
            (b"$3\r\nabc\r\n", Value::Bulk(b"abc".to_vec())),
            (b"$-1\r\n", Value::Nil),
            (b"%1\r\n+a\r\n:1\r\n", Value::Array(vec![Value::Simple("a".into()), Value::Int(1)])),
            (b"#t\r\n", Value::Int(1)),
            (b"|1\r\n+k\r\n+v\r\n:7\r\n", Value::Int(7)),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                parse_value(bytes).map(|(v, _)| v).as_ref(),
                Some(want),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn commands_are_multibulks() {
        assert_eq!(encode(&[b"GET", b"k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
