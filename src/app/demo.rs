//! `respscope demo`: a private redis-server on a free loopback port, built-in workloads that
//! write the way real client libraries do, and the console on top with every pane alive.
//!
//! Within a minute the workloads also make the trouble the alerts are for: an 80 ms stall
//! (`slow_command`) with a pipeline waiting behind it (`latency_spike`), a client that stops
//! reading 48 MiB of replies (`output_buffer`), a slow reader's closed window (`window_stall`);
//! the console's `R` kills the server and starts it again on the same port (`server_down`,
//! then `server_restarted`).
//!
//! Every workload is a bounded loop (a fixed number of commands per round, a pause between
//! rounds) that stops when the console closes; the server is started by us and stopped by its
//! pid. Where redis-server is missing or capture is not permitted, the bundled capture is
//! replayed instead and the console says so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sources::server::client::encode;

/// The capture replayed when a live demo is not possible.
pub const BUNDLED_CAPTURE: &[u8] = include_bytes!("../../assets/demo.pcap");

/// How long a restart (`R`) leaves the server down: long enough for the polls to see it gone.
pub const RESTART_DOWN_FOR: Duration = Duration::from_secs(3);

/// A redis-server we started, stopped by its pid when dropped, and restartable on the same
/// port through a [`ServerControl`].
pub struct PrivateServer {
    inner: Arc<ServerInner>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// The child of the moment (none while a restart has it down) and whether the demo is over.
struct ServerInner {
    child: Mutex<Option<Child>>,
    port: u16,
    /// Set when the demo ends: a restart under way starts nothing after it.
    stopped: AtomicBool,
    /// A restart is under way.
    restarting: AtomicBool,
}

impl ServerInner {
    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Kills the running child by its pid and reaps it.
    fn kill(&self) {
        if let Some(mut c) = self.child().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        // Under the lock a restart checks `stopped` before it starts a child, so none is
        // started after this.
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.kill();
    }
}

impl PrivateServer {
    /// A handle the console restarts the server with.
    pub fn control(&self) -> ServerControl {
        ServerControl { inner: Arc::clone(&self.inner) }
    }
}

/// Restarts the demo's server on its port: what the console's `R` does.
#[derive(Clone)]
pub struct ServerControl {
    inner: Arc<ServerInner>,
}

impl std::fmt::Debug for ServerControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerControl").field("port", &self.inner.port).finish_non_exhaustive()
    }
}

impl ServerControl {
    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// Kills the server now and starts it again on the same port after `down_for`, on a
    /// thread of its own; the receiver gets how that went (the port, or why it did not start).
    ///
    /// # Errors
    /// A restart is already under way, or the demo is over.
    pub fn restart(
        &self,
        down_for: Duration,
    ) -> Result<std::sync::mpsc::Receiver<Result<u16, String>>, String> {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Err("the demo is over".into());
        }
        if self.inner.restarting.swap(true, Ordering::SeqCst) {
            return Err("a restart is already under way".into());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new().name("demo-restart".into()).spawn(move || {
            inner.kill();
            let end = Instant::now() + down_for;
            while Instant::now() < end && !inner.stopped.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let outcome = {
                let mut child = inner.child();
                if inner.stopped.load(Ordering::SeqCst) {
                    Err("the demo is over".to_string())
                } else {
                    spawn_server(inner.port).map(|c| {
                        *child = Some(c);
                        inner.port
                    })
                }
            };
            let outcome = outcome.and_then(|port| wait_listening(port).map(|()| port));
            inner.restarting.store(false, Ordering::SeqCst);
            let _ = tx.send(outcome);
        });
        if let Err(e) = spawned {
            self.inner.restarting.store(false, Ordering::SeqCst);
            return Err(format!("cannot start a thread for the restart: {e}"));
        }
        Ok(rx)
    }
}

/// redis-server on `port` of 127.0.0.1, nothing persisted, DEBUG allowed from loopback, the
/// SLOWLOG keeping everything over 2 ms.
fn spawn_server(port: u16) -> Result<Child, String> {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--enable-debug-command", "local", "--slowlog-log-slower-than", "2000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server ({e}); install it with apt-get install redis-server"))
}

/// Waits up to 5 s for `port` to accept connections.
fn wait_listening(port: u16) -> Result<(), String> {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(5) {
            return Err("redis-server did not start listening within 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Starts redis-server on a free loopback port with nothing persisted.
///
/// # Errors
/// redis-server is not installed or did not start listening within 5 s.
pub fn start_server() -> Result<PrivateServer, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))?;
    let child = spawn_server(port)?;
    let inner = Arc::new(ServerInner {
        child: Mutex::new(Some(child)),
        port,
        stopped: AtomicBool::new(false),
        restarting: AtomicBool::new(false),
    });
    // Built before waiting, so a server that never listens is still stopped by its pid.
    let server = PrivateServer { inner, port };
    wait_listening(port)?;
    Ok(server)
}

/// The workloads, running until dropped.
pub struct Workloads {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Workloads {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

type Workload = fn(SocketAddr, &AtomicBool) -> std::io::Result<()>;

/// Starts every workload against `port`, each on its own thread, each restarting after an
/// error (a server restart, say) until stopped.
pub fn start_workloads(port: u16) -> Workloads {
    let stop = Arc::new(AtomicBool::new(false));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let all: [(&str, Workload); 9] = [
        ("sequential", sequential),
        ("pipelined", pipelined),
        ("jedis", jedis_like),
        ("lettuce", lettuce_like),
        ("slow-reader", slow_reader),
        ("many-a", interleaved),
        ("many-b", interleaved),
        ("stall", stall),
        ("never-reads", never_reads),
    ];
    let threads = all
        .into_iter()
        .filter_map(|(name, w)| {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("demo-{name}"))
                .spawn(move || {
                    // Let the console's capture start first, so every connection is seen from
                    // its handshake (RTT, window scale, all of its commands).
                    pause(&stop, Duration::from_millis(1500));
                    while !stop.load(Ordering::Relaxed) {
                        if w(addr, &stop).is_err() {
                            pause(&stop, Duration::from_millis(500));
                        }
                    }
                })
                .ok()
        })
        .collect();
    Workloads { stop, threads }
}

/// Sleeps up to `d`, waking early when stopped.
fn pause(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
    }
}

fn connect(addr: SocketAddr, name: &str) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(&encode(&[b"CLIENT", b"SETNAME", name.as_bytes()]))?;
    read_replies(&mut s, 1)?;
    Ok(s)
}

/// Reads `n` complete replies, using the wire scanner to find where each ends.
fn read_replies(s: &mut TcpStream, n: usize) -> std::io::Result<()> {
    use crate::protocol::resp::{Outcome, Role, Scanner};
    let mut scanner = Scanner::new(Role::Replies, false);
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < n {
        let k = s.read(&mut buf)?;
        if k == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let mut pos = 0;
        while pos < k {
            let (used, o) = scanner.advance(&buf[pos..k]);
            pos += used;
            match o {
                Outcome::Message(_) => got += 1,
                Outcome::Incomplete => break,
                Outcome::Error(_) => return Err(std::io::ErrorKind::InvalidData.into()),
            }
        }
    }
    Ok(())
}

/// One command at a time, waiting for each reply: the slow way.
fn sequential(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut s = connect(addr, "demo-sequential")?;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..50 {
            let k = format!("seq:{i}");
            s.write_all(&encode(&[b"SET", k.as_bytes(), b"v"]))?;
            read_replies(&mut s, 1)?;
            s.write_all(&encode(&[b"GET", k.as_bytes()]))?;
            read_replies(&mut s, 1)?;
        }
        pause(stop, Duration::from_millis(200));
    }
    Ok(())
}

/// 100 commands in one write, then every reply: the fast way.
fn pipelined(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut s = connect(addr, "demo-pipelined")?;
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        for i in 0..100 {
            batch.extend_from_slice(&encode(&[b"INCR", format!("pipe:{}", i % 10).as_bytes()]));
        }
        s.write_all(&batch)?;
        read_replies(&mut s, 100)?;
        round += 1;
        if round.is_multiple_of(20) {
            // Something for the SLOWLOG pane.
            s.write_all(&encode(&[b"DEBUG", b"SLEEP", b"0.005"]))?;
            read_replies(&mut s, 1)?;
        }
        pause(stop, Duration::from_millis(300));
    }
    Ok(())
}

/// 1000 GETs and SETs through an 8192-byte buffer as Jedis's `RedisOutputStream` fills it:
/// a piece (length digits, CRLF, bulk payload) that would fill the buffer flushes it first,
/// a single `*` or `$` only when it is full, so its writes fall a few bytes short of 8192 and
/// end inside a command.
fn jedis_like(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut s = connect(addr, "demo-jedis")?;
    let mut out = JedisBuffer { s: &mut s, buf: Vec::with_capacity(JedisBuffer::CAP) };
    // Values change length from round to round, so the cuts fall at new places and in time
    // a single `*` or `$` fills the buffer to its last byte.
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        for i in 0..1000usize {
            let value = vec![b'v'; 20 + (i * 37 + round * 11) % 180];
            if i % 2 == 0 {
                out.command(&[b"GET", b"jedis"])?;
            } else {
                out.command(&[b"SET", b"jedis", &value])?;
            }
        }
        out.flush()?;
        read_replies(out.s, 1000)?;
        pause(stop, Duration::from_secs(1));
    }
    Ok(())
}

/// Jedis's output buffer, by its rules.
struct JedisBuffer<'a> {
    s: &'a mut TcpStream,
    buf: Vec<u8>,
}

impl JedisBuffer<'_> {
    const CAP: usize = 8192;

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.s.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn byte(&mut self, b: u8) -> std::io::Result<()> {
        if self.buf.len() == Self::CAP {
            self.flush()?;
        }
        self.buf.push(b);
        Ok(())
    }

    fn piece(&mut self, p: &[u8]) -> std::io::Result<()> {
        if p.len() >= Self::CAP - self.buf.len() {
            self.flush()?;
        }
        if p.len() >= Self::CAP {
            return self.s.write_all(p);
        }
        self.buf.extend_from_slice(p);
        Ok(())
    }

    fn int_crlf(&mut self, n: usize) -> std::io::Result<()> {
        self.piece(n.to_string().as_bytes())?;
        self.piece(b"\r\n")
    }

    fn command(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        self.byte(b'*')?;
        self.int_crlf(args.len())?;
        for a in args {
            self.byte(b'$')?;
            self.int_crlf(a.len())?;
            self.piece(a)?;
            self.piece(b"\r\n")?;
        }
        Ok(())
    }
}

/// 16 commands per write, as Lettuce batches them.
fn lettuce_like(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut s = connect(addr, "demo-lettuce")?;
    let batch: Vec<u8> = (0..16).flat_map(|_| encode(&[b"INCR", b"lettuce"])).collect();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..10 {
            s.write_all(&batch)?;
            read_replies(&mut s, 16)?;
        }
        pause(stop, Duration::from_millis(500));
    }
    Ok(())
}

/// Four GETs of a 50 KB value, then three seconds without reading, round after round on one
/// connection: the server fills the client's small receive window, which closes and is probed
/// until the client reads. One connection is one `window_stall` alert that counts up; four
/// commands stay under 1% of an interval's, so its 3-second waits leave the wire p99 (and the
/// latency baseline) to the other clients.
fn slow_reader(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut w = connect(addr, "demo-writer")?;
    w.write_all(&encode(&[b"SET", b"big", &[b'v'; 50_000]]))?;
    read_replies(&mut w, 1)?;
    drop(w);
    let mut s = small_window(addr, 8192)?;
    s.write_all(&encode(&[b"CLIENT", b"SETNAME", b"demo-slow-reader"]))?;
    read_replies(&mut s, 1)?;
    let gets: Vec<u8> = (0..4).flat_map(|_| encode(&[b"GET", b"big"])).collect();
    while !stop.load(Ordering::Relaxed) {
        s.write_all(&gets)?;
        pause(stop, Duration::from_secs(3));
        read_replies(&mut s, 4)?;
        pause(stop, Duration::from_secs(5));
    }
    Ok(())
}

/// A connection whose receive buffer is `bytes`, set before connecting so the window offered
/// in the handshake is already small.
fn small_window(addr: SocketAddr, bytes: usize) -> std::io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.set_recv_buffer_size(bytes)?;
    sock.connect_timeout(&addr.into(), Duration::from_secs(2))?;
    let s: TcpStream = sock.into();
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// When the stall comes first: once the latency baseline has its intervals (10 of 20 or more
/// commands, a few seconds of the other workloads).
const STALL_FIRST: Duration = Duration::from_secs(10);
/// Then this often.
const STALL_EVERY: Duration = Duration::from_secs(20);
/// Commands that arrive during the stall and wait for it.
const STALL_BURST: usize = 200;

/// Every 20 s an 80 ms `DEBUG SLEEP`, with a pipeline of 200 GETs from another client arriving
/// 5 ms into it: the SLOWLOG gets an entry over 10 ms (`slow_command`) and the 200 GETs wait
/// about 75 ms each, over 1% of the interval's commands, so the interval's wire p99 jumps
/// far above its baseline (`latency_spike`). 80 ms is over 5 times even the few-ms baseline of
/// a busy 2-core machine, and under the 100 ms that makes a slow command critical.
fn stall(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut sleeper = connect(addr, "demo-stall")?;
    let mut burst = connect(addr, "demo-burst")?;
    let gets: Vec<u8> = (0..STALL_BURST).flat_map(|_| encode(&[b"GET", b"burst"])).collect();
    pause(stop, STALL_FIRST);
    while !stop.load(Ordering::Relaxed) {
        sleeper.write_all(&encode(&[b"DEBUG", b"SLEEP", b"0.08"]))?;
        std::thread::sleep(Duration::from_millis(5));
        burst.write_all(&gets)?;
        read_replies(&mut burst, STALL_BURST)?;
        read_replies(&mut sleeper, 1)?;
        pause(stop, STALL_EVERY);
    }
    Ok(())
}

/// When the client that never reads comes first, how long it holds its replies unread, and
/// how often it comes back.
const NEVER_READS_FIRST: Duration = Duration::from_secs(13);
const NEVER_READS_HOLD: Duration = Duration::from_secs(10);
const NEVER_READS_EVERY: Duration = Duration::from_secs(60);
/// The value it asks for, and how many times: 384 x 128 KiB = 48 MiB of replies, of which
/// the kernel's buffers take at most a few MiB (its own receive buffer is 64 KiB, the server's
/// send buffer up to 4 MiB), so over 40 MiB wait in its output buffer on the server: over the
/// 32 MiB of `output_buffer`, and bounded.
const NEVER_READS_VALUE: usize = 128 << 10;
const NEVER_READS_GETS: usize = 384;

/// A client named `demo-never-reads` pipelines GETs of a 128 KiB value and stops reading:
/// its replies pile up in its output buffer on the server (`output_buffer`, and its closed
/// window on the wire) until it closes ten seconds later, which frees them; once a minute.
fn never_reads(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    pause(stop, NEVER_READS_FIRST);
    let gets: Vec<u8> = (0..NEVER_READS_GETS).flat_map(|_| encode(&[b"GET", b"demo:large"])).collect();
    while !stop.load(Ordering::Relaxed) {
        let mut w = connect(addr, "demo-writer")?;
        w.write_all(&encode(&[b"SET", b"demo:large", &vec![b'x'; NEVER_READS_VALUE]]))?;
        read_replies(&mut w, 1)?;
        drop(w);
        let mut s = small_window(addr, 64 << 10)?;
        s.write_all(&encode(&[b"CLIENT", b"SETNAME", b"demo-never-reads"]))?;
        read_replies(&mut s, 1)?;
        s.write_all(&gets)?;
        pause(stop, NEVER_READS_HOLD);
        // Closed with replies unread: the server frees its output buffer.
        drop(s);
        pause(stop, NEVER_READS_EVERY - NEVER_READS_HOLD);
    }
    Ok(())
}

/// Several clients' batches of 8 interleaving on the server.
fn interleaved(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut s = connect(addr, "demo-many")?;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<u8> = (0..8)
            .flat_map(|i| encode(&[b"SET", format!("many:{}", (n + i) % 100).as_bytes(), b"x"]))
            .collect();
        s.write_all(&batch)?;
        read_replies(&mut s, 8)?;
        n += 8;
        pause(stop, Duration::from_millis(40 + n % 60));
    }
    Ok(())
}

/// Writes the bundled capture to a file for replay, in a private directory of its own (a
/// predictable name in a shared `/tmp` could be a link another user planted). Removed when
/// the returned value is dropped.
///
/// # Errors
/// The temporary directory is not writable.
pub fn bundled_capture_file() -> std::io::Result<tempfile::TempPath> {
    let mut f = tempfile::Builder::new().prefix("respscope-demo-").suffix(".pcap").tempfile()?;
    std::io::Write::write_all(&mut f, BUNDLED_CAPTURE)?;
    Ok(f.into_temp_path())
}
