//! A lab's client connection: blocking, writing exactly the bytes a workload asks for in
//! exactly the writes it asks for, and counting replies with the same scanner the wire
//! analysis uses. A library client would batch and flush on its own terms; a lab must control
//! every write, since the writes are what it shows.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::protocol::resp::message::{Outcome, Role};
use crate::protocol::resp::scan::Scanner;

/// How long a lab waits for a reply before it calls the run failed: far above any RTT a lab
/// asks for, short enough that a stuck server does not hang a workshop.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// Bytes of replies held unparsed at most: a reply longer than this is not one a lab sends.
const MAX_HELD: usize = 64 << 20;

/// Why a lab connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Connect, read or write failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The server closed the connection.
    #[error("the server closed the connection after {replies} of {wanted} replies")]
    Closed {
        /// Replies read before.
        replies: usize,
        /// Replies waited for.
        wanted: usize,
    },
    /// The server said something that is not RESP, or too much of it.
    #[error("not a RESP reply: {0}")]
    Protocol(String),
    /// The server answered with an error reply where a lab needs success.
    #[error("the server refused: {0}")]
    Refused(String),
}

/// One connection to the server (or to the proxy in front of it).
pub struct LabConn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Scanned up to here.
    pos: usize,
    /// The message being scanned started here.
    from: usize,
    scanner: Scanner,
    /// This side's port: how the wire analysis names the connection.
    pub local_port: u16,
    /// Writes made.
    pub writes: u64,
}

impl LabConn {
    /// Connects with Nagle's algorithm off (`nodelay`) or on.
    ///
    /// # Errors
    /// The connection could not be made.
    pub fn connect(addr: SocketAddr, nodelay: bool) -> Result<Self, ConnError> {
        let io = |what: &str| {
            let what = format!("{what} {addr}");
            move |source| ConnError::Io { what, source }
        };
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(io("connect to"))?;
        stream.set_nodelay(nodelay).map_err(io("set TCP_NODELAY on"))?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io("set a read timeout on"))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT)).map_err(io("set a write timeout on"))?;
        let local_port = stream.local_addr().map_err(io("read the local address of"))?.port();
        Ok(Self::on(stream, local_port))
    }

    /// A connection over `stream`, nothing read or written yet.
    fn on(stream: TcpStream, local_port: u16) -> Self {
        Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            pos: 0,
            from: 0,
            scanner: Scanner::new(Role::Replies, false),
            local_port,
            writes: 0,
        }
    }

    /// A second handle on the same socket (a reader thread beside a writer).
    ///
    /// # Errors
    /// The socket could not be duplicated.
    pub fn try_clone(&self) -> Result<Self, ConnError> {
        let stream = self
            .stream
            .try_clone()
            .map_err(|source| ConnError::Io { what: "duplicate a socket".into(), source })?;
        Ok(Self::on(stream, self.local_port))
    }

    /// The socket, for options a lab sets (a small receive buffer for the slow reader).
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes `bytes` in one `write_all`: one write unless the kernel takes less.
    ///
    /// # Errors
    /// The write failed.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.writes += 1;
        self.stream
            .write_all(bytes)
            .map_err(|source| ConnError::Io { what: "write to the server".into(), source })
    }

    /// Reads until `n` more replies are complete, handing each one's bytes to `each`.
    ///
    /// # Errors
    /// Timeout, a closed connection, or bytes that are not RESP.
    pub fn read_replies(&mut self, n: usize, mut each: impl FnMut(&[u8])) -> Result<(), ConnError> {
        let mut got = 0;
        let mut chunk = vec![0u8; 64 * 1024];
        while got < n {
            while got < n && self.pos < self.buf.len() {
                let (used, outcome) = self.scanner.advance(&self.buf[self.pos..]);
                self.pos += used;
                match outcome {
                    Outcome::Incomplete => {}
                    Outcome::Message(_) => {
                        each(&self.buf[self.from..self.pos]);
                        self.from = self.pos;
                        got += 1;
                    }
                    Outcome::Error(e) => return Err(ConnError::Protocol(e.to_string())),
                }
            }
            if self.from == self.buf.len() {
                self.buf.clear();
                self.pos = 0;
                self.from = 0;
            } else if self.from > (1 << 20) {
                self.buf.drain(..self.from);
                self.pos -= self.from;
                self.from = 0;
            }
            if got == n {
                break;
            }
            if self.buf.len() - self.from > MAX_HELD {
                return Err(ConnError::Protocol(format!("a reply longer than {} MiB", MAX_HELD >> 20)));
            }
            let k = self
                .stream
                .read(&mut chunk)
                .map_err(|source| ConnError::Io { what: "read from the server".into(), source })?;
            if k == 0 {
                return Err(ConnError::Closed { replies: got, wanted: n });
            }
            self.buf.extend_from_slice(&chunk[..k]);
        }
        Ok(())
    }

    /// Sends one command and returns its reply's bytes; an error reply is [`ConnError::Refused`].
    ///
    /// # Errors
    /// As [`LabConn::read_replies`], or an error reply.
    pub fn request(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, ConnError> {
        self.write(&crate::sources::server::client::encode(args))?;
        let mut reply = Vec::new();
        self.read_replies(1, |r| reply = r.to_vec())?;
        if reply.first() == Some(&b'-') {
            let text = String::from_utf8_lossy(&reply[1..]).trim_end().to_string();
            return Err(ConnError::Refused(crate::protocol::resp::escape::escape(text.as_bytes())));
        }
        Ok(reply)
    }

    /// Shuts the connection down in both directions.
    pub fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// The integer of a `:N` reply.
pub fn int_reply(r: &[u8]) -> Option<i64> {
    let body = r.strip_prefix(b":")?;
    let end = memchr::memchr(b'\r', body)?;
    std::str::from_utf8(&body[..end]).ok()?.parse().ok()
}

/// The payload of a `$N` bulk reply (INFO's text), empty for anything else.
pub fn bulk_reply(r: &[u8]) -> &[u8] {
    let Some(body) = r.strip_prefix(b"$").or_else(|| r.strip_prefix(b"=")) else { return &[] };
    let Some(end) = memchr::memchr(b'\n', body) else { return &[] };
    let data = &body[end + 1..];
    data.strip_suffix(b"\r\n").unwrap_or(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_bulk_replies_are_read_and_anything_else_is_not() {
        assert_eq!(int_reply(b":1234\r\n"), Some(1234));
        assert_eq!(int_reply(b":-5\r\n"), Some(-5));
        assert_eq!(int_reply(b"+OK\r\n"), None);
        assert_eq!(int_reply(b":12"), None);
        assert_eq!(bulk_reply(b"$5\r\nhello\r\n"), b"hello");
        assert_eq!(bulk_reply(b"+OK\r\n"), b"");
        assert_eq!(bulk_reply(b"$-1\r\n"), b"");
    }
}
