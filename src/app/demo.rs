//! `respscope demo`: a private redis-server on a free loopback port, built-in workloads that
//! write the way real client libraries do, and the console on top with every pane alive.
//!
//! Every workload is a bounded loop (a fixed number of commands per round, a pause between
//! rounds) that stops when the console closes; the server is started by us and stopped by its
//! pid. Where redis-server is missing or capture is not permitted, the bundled capture is
//! replayed instead and the console says so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sources::server::client::encode;

/// The capture replayed when a live demo is not possible.
pub const BUNDLED_CAPTURE: &[u8] = include_bytes!("../../assets/demo.pcap");

/// A redis-server we started, stopped by its pid when dropped.
pub struct PrivateServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--enable-debug-command", "local", "--slowlog-log-slower-than", "2000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot start redis-server ({e}); install it with apt-get install redis-server")
        })?;
    let server = PrivateServer { child, port };
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(5) {
            return Err("redis-server did not start listening within 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let all: [(&str, Workload); 7] = [
        ("sequential", sequential),
        ("pipelined", pipelined),
        ("jedis", jedis_like),
        ("lettuce", lettuce_like),
        ("slow-reader", slow_reader),
        ("many-a", interleaved),
        ("many-b", interleaved),
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

/// 1000 GETs through an 8192-byte buffer flushed when full, as Jedis does: command 342
/// straddles the first flush.
fn jedis_like(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut s = connect(addr, "demo-jedis")?;
    let cmd = encode(&[b"GET", b"jedis"]);
    let all: Vec<u8> = cmd.iter().copied().cycle().take(cmd.len() * 1000).collect();
    while !stop.load(Ordering::Relaxed) {
        for chunk in all.chunks(8192) {
            s.write_all(chunk)?;
        }
        read_replies(&mut s, 1000)?;
        pause(stop, Duration::from_secs(1));
    }
    Ok(())
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

/// Forty GETs of a 20 KB value, then three seconds without reading: the server fills the
/// client's small receive window, which closes and is probed until the client reads.
fn slow_reader(addr: SocketAddr, stop: &AtomicBool) -> std::io::Result<()> {
    let mut w = connect(addr, "demo-writer")?;
    w.write_all(&encode(&[b"SET", b"big", &[b'v'; 20_000]]))?;
    read_replies(&mut w, 1)?;
    drop(w);
    while !stop.load(Ordering::Relaxed) {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        // Set before connecting, so the window offered in the handshake is already small.
        sock.set_recv_buffer_size(8192)?;
        sock.connect_timeout(&addr.into(), Duration::from_secs(2))?;
        let mut s: TcpStream = sock.into();
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(&encode(&[b"CLIENT", b"SETNAME", b"demo-slow-reader"]))?;
        read_replies(&mut s, 1)?;
        let gets: Vec<u8> = (0..40).flat_map(|_| encode(&[b"GET", b"big"])).collect();
        s.write_all(&gets)?;
        pause(stop, Duration::from_secs(3));
        read_replies(&mut s, 40)?;
        drop(s);
        pause(stop, Duration::from_secs(5));
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
