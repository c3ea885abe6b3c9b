//! The lab proxy against a real redis-server on a free loopback port: the round trip it adds
//! (measured with PINGs, beside the same PINGs sent directly), the write boundaries it keeps,
//! what pipelining gains through it, and how it ends connections whose client or server goes
//! away. No root needed; redis-server is (a skip outside CI, a failure with CI=true).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use respscope::app::lab::proxy::{Proxy, ProxyConfig};

/// The tests run one at a time: the round-trip one measures time, and the others' load on
/// a 2-core machine would be measured with it.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn needs_redis(what: &str) -> bool {
    if common::have("redis-server") {
        return true;
    }
    common::skip(what, "redis-server");
    false
}

fn proxy(port: u16, rtt: Duration) -> Proxy {
    Proxy::start(ProxyConfig::new(format!("127.0.0.1:{port}"), rtt), None).expect("start the proxy")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    // Every read in these tests is bounded: a proxy that hangs fails the test, never stalls it.
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Reads exactly `want` bytes.
fn read_n(s: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut buf = vec![0u8; want];
    s.read_exact(&mut buf).expect("the whole reply in time");
    buf
}

/// One PING's round trip.
fn ping(s: &mut TcpStream) -> Duration {
    let t = Instant::now();
    s.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
    assert_eq!(read_n(s, 7), b"+PONG\r\n");
    t.elapsed()
}

/// Round trips of `n` PINGs after a few to warm up, sorted, with `idle` between them.
fn pings(addr: SocketAddr, n: usize, idle: Duration) -> Vec<Duration> {
    let mut s = connect(addr);
    for _ in 0..5 {
        ping(&mut s);
    }
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            std::thread::sleep(idle);
            ping(&mut s)
        })
        .collect();
    v.sort();
    v
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[test]
fn added_round_trip_is_the_asked_one() {
    let _serial = serial();
    if !needs_redis("the proxy's round trip") {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    println!("asked     direct p50  paced p50  proxied p50  added p50  added p99");
    // 0 is shown (what the proxy costs by itself), not asserted: 10% of 0 is nothing.
    for rtt_us in [0u64, 500, 2_000, 5_000, 20_000] {
        let asked = Duration::from_micros(rtt_us);
        let p = proxy(port, asked);
        // The baseline idles as long between PINGs as the proxied run waits for each reply:
        // this machine wakes a process that idled 5 ms some 100 µs later than one that idled
        // 20 µs (a virtual CPU's idle exit), a cost any real round trip brings too and which
        // is not the proxy's. Direct and proxied run one after the other, so both see the
        // machine in the same state.
        // 10% of the asked value. At 0.5 ms that is 50 µs, about what the proxy's own two
        // wake-ups on reading cost (one per direction) on a loaded 2-core CI machine where
        // other builds run beside the test: 150 µs more there, and only there.
        let allowance = if rtt_us < 1_000 { 150.0 } else { 0.0 };
        // A measurement on a shared VM can catch a stall of someone else's (a build beside
        // the test starves the proxy's timer thread for milliseconds): it is taken up to five
        // times, a second apart, and a proxy that adds the wrong delay fails all five.
        let mut last = String::new();
        let mut ok = false;
        for attempt in 0..5 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            let direct = pings(local(port), 50, Duration::ZERO);
            let paced = pings(local(port), 50, asked);
            let proxied = pings(p.local_addr(), 50, Duration::ZERO);
            let base = pct(&paced, 0.5);
            let added = pct(&proxied, 0.5).saturating_sub(base);
            let added99 = pct(&proxied, 0.99).saturating_sub(base);
            last = format!(
                "{:>6} us  {:>6.0} us  {:>6.0} us  {:>8.0} us  {:>6.0} us  {:>6.0} us",
                rtt_us,
                us(pct(&direct, 0.5)),
                us(base),
                us(pct(&proxied, 0.5)),
                us(added),
                us(added99)
            );
            println!("{last}");
            // 0 is shown (what the proxy costs by itself), not asserted: 10% of 0 is nothing.
            ok = rtt_us == 0 || (us(added) - rtt_us as f64).abs() <= rtt_us as f64 * 0.10 + allowance;
            if ok {
                break;
            }
        }
        assert!(ok, "asked {rtt_us} us, five measurements off by more than 10%; the last:\n{last}");
    }
}

#[test]
fn each_client_write_stays_one_write() {
    let _serial = serial();
    // A plain listener as the server: it records every read it makes, which is what the
    // proxy's writes look like from the server side.
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream = server.local_addr().expect("addr").port();
    let reads = std::thread::spawn(move || {
        let (mut s, _) = server.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut sizes = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => sizes.push(n),
                Err(e) => panic!("server side read: {e}"),
            }
        }
        // The client only closed its sending side: a reply still reaches it.
        s.write_all(b"+after-eof\r\n").expect("reply after the client's FIN");
        sizes
    });
    // 200 ms of RTT (100 ms each way) and 30 ms between writes: all three are in the proxy's
    // queue together, and must still leave it as three writes, 30 ms apart, which leaves the
    // server's reader time to see each alone even on a loaded machine (the kernel merges
    // writes its reader has not yet read).
    let p = proxy(upstream, Duration::from_millis(200));
    let mut c = connect(p.local_addr());
    for w in [&b"a"[..], b"bb", b"ccc"] {
        c.write_all(w).expect("write");
        std::thread::sleep(Duration::from_millis(30));
    }
    c.shutdown(Shutdown::Write).expect("half-close");
    let sizes = reads.join().expect("server thread");
    assert_eq!(sizes, vec![1, 2, 3], "the server's reads: one per client write");
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).expect("the reply, then EOF");
    assert_eq!(reply, b"+after-eof\r\n");
    let s = p.stats();
    assert_eq!((s.reads_from_clients, s.writes_to_server), (3, 3), "{s:?}");
    assert_eq!((s.bytes_to_server, s.bytes_to_client), (6, 12), "{s:?}");
}

/// Sends `n` INCRs in batches of `batch` (one write each, then all replies read) and returns
/// the elapsed time.
fn incrs(addr: SocketAddr, n: usize, batch: usize) -> Duration {
    let cmd = b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n";
    let mut s = connect(addr);
    let t = Instant::now();
    let mut left = n;
    let mut reply = Vec::new();
    while left > 0 {
        let b = batch.min(left);
        s.write_all(&cmd.repeat(b)).expect("write a batch");
        // Every reply is `:N\r\n`: count line ends until the batch is answered.
        let mut lines = 0;
        while lines < b {
            let mut buf = [0u8; 4096];
            let got = s.read(&mut buf).expect("replies in time");
            assert!(got > 0, "the server closed");
            reply.extend_from_slice(&buf[..got]);
            lines += buf[..got].iter().filter(|&&x| x == b'\n').count();
        }
        left -= b;
    }
    t.elapsed()
}

#[test]
fn pipelining_beats_the_round_trip() {
    let _serial = serial();
    if !needs_redis("pipelining through the proxy") {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    let rtt = Duration::from_millis(2);
    let seq_proxy = proxy(port, rtt);
    let sequential = incrs(seq_proxy.local_addr(), 1_000, 1);
    let pipe_proxy = proxy(port, rtt);
    let pipelined = incrs(pipe_proxy.local_addr(), 1_000, 100);
    println!("1,000 INCRs through {rtt:?} of RTT: one by one {sequential:?}, pipelined by 100 {pipelined:?}");
    // By construction: each of the 1,000 round trips waits for the added delay.
    assert!(sequential >= rtt * 1_000, "sequential took {sequential:?}, less than 1,000 round trips");
    assert!(
        sequential >= pipelined * 10,
        "pipelining by 100 should be at least 10x faster: {sequential:?} vs {pipelined:?}"
    );
    // The round trips, as the proxy saw the clients' writes: one per batch.
    assert_eq!(seq_proxy.stats().reads_from_clients, 1_000);
    assert_eq!(pipe_proxy.stats().reads_from_clients, 10);
}

/// Waits until the proxy has no connection open; panics after `within`.
fn wait_all_closed(p: &Proxy, within: Duration) {
    let t = Instant::now();
    while p.stats().open > 0 {
        assert!(t.elapsed() < within, "connections still open after {within:?}: {:?}", p.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_goes_away_mid_stream() {
    let _serial = serial();
    if !needs_redis("clients closing mid-stream") {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    let p = proxy(port, Duration::from_millis(20));
    // A big pipeline and half a command, then a close without reading a reply.
    let mut c = connect(p.local_addr());
    let mut data = b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n".repeat(20_000);
    data.extend_from_slice(b"*2\r\n$4\r\nIN");
    c.write_all(&data).expect("write");
    drop(c);
    // The same with a reset (SO_LINGER 0) while the proxy still holds queued bytes.
    let c = connect(p.local_addr());
    (&c).write_all(&data).expect("write");
    socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO)).expect("linger");
    drop(c);
    wait_all_closed(&p, Duration::from_secs(10));
    // And the proxy still serves.
    let mut c = connect(p.local_addr());
    assert!(ping(&mut c) >= Duration::from_millis(20));
}

#[test]
fn a_server_that_goes_away() {
    let _serial = serial();
    if !needs_redis("a server going away") {
        return;
    }
    let port = common::free_port();
    let redis = common::redis(port, &[]);
    let p = proxy(port, Duration::from_millis(2));
    let mut c = connect(p.local_addr());
    ping(&mut c);
    drop(redis); // killed and reaped
    let t = Instant::now();
    let mut buf = [0u8; 16];
    match c.read(&mut buf) {
        Ok(0) | Err(_) if t.elapsed() < Duration::from_secs(5) => {}
        other => panic!("the client should see the server go within 5 s: {other:?} after {:?}", t.elapsed()),
    }
    drop(c);
    // A new client while nothing listens: accepted, then closed at once, and counted.
    let mut c = connect(p.local_addr());
    let t = Instant::now();
    let r = c.read(&mut buf);
    assert!(matches!(r, Ok(0) | Err(_)) && t.elapsed() < Duration::from_secs(5), "{r:?}");
    assert_eq!(p.stats().unreachable, 1);
    wait_all_closed(&p, Duration::from_secs(5));
}

#[test]
fn connections_past_the_cap_are_closed() {
    let _serial = serial();
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream = server.local_addr().expect("addr").port();
    let cfg = ProxyConfig {
        max_connections: 2,
        ..ProxyConfig::new(format!("127.0.0.1:{upstream}"), Duration::ZERO)
    };
    let p = Proxy::start(cfg, None).expect("start");
    let held: Vec<TcpStream> = (0..2).map(|_| connect(p.local_addr())).collect();
    let _accepted: Vec<TcpStream> = (0..2).map(|_| server.accept().expect("accept").0).collect();
    let mut third = connect(p.local_addr());
    let mut buf = [0u8; 4];
    assert!(matches!(third.read(&mut buf), Ok(0) | Err(_)), "a third connection is closed");
    let s = p.stats();
    assert_eq!((s.accepted, s.refused, s.open), (2, 1, 2), "{s:?}");
    drop(held);
}

#[test]
fn the_command_line() {
    let _serial = serial();
    if !needs_redis("respscope proxy") {
        return;
    }
    let port = common::free_port();
    let _redis = common::redis(port, &[]);
    let mut child = common::Guard(
        Command::new(env!("CARGO_BIN_EXE_respscope"))
            .args(["proxy", "--to", &format!("127.0.0.1:{port}"), "--rtt", "1.5ms", "--jitter", "100us"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run respscope proxy"),
    );
    let mut out = std::io::BufReader::new(child.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).expect("the first line");
    assert!(line.contains("1.5ms round trip (750us each way), jitter ±100us"), "{line}");
    let listen: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("the port in the first line");
    let mut c = connect(local(listen));
    assert!(ping(&mut c) >= Duration::from_micros(1_400));
    drop(c);
    let _ = Command::new("kill").args(["-INT", &child.0.id().to_string()]).status();
    let status = child.0.wait().expect("exit");
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).expect("the closing line");
    assert!(rest.contains("1 connection(s)") && rest.contains("14 bytes client→server"), "{rest}");

    // A port in use: one clear line and exit code 2.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["proxy", "--to", &format!("127.0.0.1:{port}"), "--listen", &taken_port, "--rtt", "2ms"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("choose another --listen port"), "{err}");
    // A duration without a unit says which forms it takes.
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["proxy", "--to", "127.0.0.1:1", "--rtt", "2"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("2ms, 500us"), "{err}");
}
