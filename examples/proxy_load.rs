//! What the lab proxy adds under a steady load: PINGs at a fixed pace (10,000 a second by
//! default), each connection sequential (a PING, its reply, then its next turn), sent in
//! turn over enough connections that none is still waiting for its reply when its turn comes
//! back, directly to a redis-server and through a proxy in front of it. The two alternate in
//! half-second blocks so both see the machine in the same state. Prints p50, p99, p99.9 and
//! max of each, and what the proxy added beyond the asked round trip at each percentile.
//! Bounded: at most RATE × SECONDS PINGs each way, and it gives up after twice the time.
//! `proxy_load wake` measures instead what the machine takes to wake a thread, the floor
//! under the proxy's cost. Run by scripts/bench_proxy.sh.
//! Usage: proxy_load DIRECT_PORT PROXY_PORT RTT_US [RATE] [SECONDS] | proxy_load wake

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
const PONG: &[u8] = b"+PONG\r\n";
/// Direct and proxied runs alternate by blocks this long: short, so that a stall of the
/// machine's (another build's burst) falls on both about equally.
const BLOCK: Duration = Duration::from_millis(100);

struct Conn {
    s: TcpStream,
    /// When its PING left, while it waits for the reply.
    sent: Option<Instant>,
    got: usize,
}

fn open(port: u16, n: usize) -> Vec<Conn> {
    (0..n)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
            let mut c = Conn { s, sent: None, got: 0 };
            // One round trip each before measuring: the proxy's connection to the server is
            // made on the client's arrival.
            c.s.write_all(PING).expect("write");
            let mut b = [0u8; 7];
            c.s.read_exact(&mut b).expect("warm-up reply");
            assert_eq!(b, PONG);
            c
        })
        .collect()
}

/// Reads what `c` has; on a whole reply, records its round trip.
fn receive(c: &mut Conn, out: &mut Vec<u32>) {
    let mut b = [0u8; 64];
    let n = c.s.read(&mut b).expect("read");
    assert!(n > 0, "the server closed");
    let now = Instant::now();
    c.got += n;
    if c.got >= PONG.len() {
        assert_eq!(c.got, PONG.len(), "one reply per PING");
        let sent = c.sent.take().expect("a reply to a PING sent");
        out.push(u32::try_from(now.duration_since(sent).as_nanos()).unwrap_or(u32::MAX));
        c.got = 0;
    }
}

/// Sends `count` PINGs over `conns` at one every `every`, then waits for the last replies;
/// round trips in ns go to `out`.
fn block(conns: &mut [Conn], count: usize, every: Duration, deadline: Instant, out: &mut Vec<u32>) {
    let start = Instant::now();
    let mut next = 0usize;
    loop {
        let now = Instant::now();
        assert!(now < deadline, "the load ran past its deadline");
        if next < count {
            let due = start + every * u32::try_from(next).unwrap_or(u32::MAX);
            let c = &mut conns[next % conns.len()];
            if due <= now && c.sent.is_none() {
                c.sent = Some(Instant::now());
                c.s.write_all(PING).expect("write");
                next += 1;
                continue;
            }
        } else if conns.iter().all(|c| c.sent.is_none()) {
            return;
        }
        // Wait for a reply, or for the next turn (if its connection is free: otherwise
        // its reply is what is waited for).
        let wait = if next < count && conns[next % conns.len()].sent.is_none() {
            let due = start + every * u32::try_from(next).unwrap_or(u32::MAX);
            Some(due.saturating_duration_since(Instant::now()))
        } else {
            None
        };
        let mut fds: Vec<PollFd> = conns
            .iter()
            .filter(|c| c.sent.is_some())
            .map(|c| PollFd::new(c.s.as_fd(), PollFlags::POLLIN))
            .collect();
        let timeout = wait.map(nix::sys::time::TimeSpec::from_duration);
        let ready = nix::poll::ppoll(&mut fds, timeout, None).expect("ppoll");
        if ready == 0 {
            continue;
        }
        let readable: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let waiting = conns.iter_mut().filter(|c| c.sent.is_some());
        for (c, r) in waiting.zip(readable) {
            if r {
                receive(c, out);
            }
        }
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    f64::from(sorted[((sorted.len() - 1) as f64 * p).round() as usize]) / 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "wake") {
        wake();
        return;
    }
    if args.len() < 4 {
        eprintln!("usage: proxy_load DIRECT_PORT PROXY_PORT RTT_US [RATE] [SECONDS]");
        std::process::exit(2);
    }
    let arg = |i: usize, d: u64| args.get(i).map_or(d, |a| a.parse().expect("a number"));
    let (direct_port, proxy_port) = (arg(1, 0) as u16, arg(2, 0) as u16);
    let rtt_us = arg(3, 0);
    let rate = arg(4, 10_000).clamp(1, 100_000);
    let secs = arg(5, 5).clamp(1, 60);
    // The same precision the proxy asks for: the client's own wake-ups are measured too.
    let _ = nix::sys::prctl::set_timerslack(1);
    let every = Duration::from_nanos(1_000_000_000 / rate);
    // Enough connections that each has its reply long before its next turn.
    // One at --rtt 0 (a single sequential client), more past it.
    let n = 1 + usize::try_from(2 * rtt_us * 1000 / every.as_nanos() as u64).unwrap_or(1);
    let mut direct = open(direct_port, n);
    let mut proxied = open(proxy_port, n);
    let per_block = usize::try_from(rate * BLOCK.as_millis() as u64 / 1000).unwrap_or(1).max(1);
    let blocks = usize::try_from(secs * 1000 / BLOCK.as_millis() as u64).unwrap_or(1);
    let deadline = Instant::now() + Duration::from_secs(secs * 2 + 5) + Duration::from_micros(rtt_us) * 100;
    let (mut d, mut p) = (Vec::new(), Vec::new());
    for _ in 0..blocks {
        block(&mut direct, per_block, every, deadline, &mut d);
        block(&mut proxied, per_block, every, deadline, &mut p);
    }
    d.sort_unstable();
    p.sort_unstable();
    let rtt = rtt_us as f64;
    println!("  {rate} PING/s over {n} connection(s), {} each way, --rtt {rtt_us}us", d.len());
    println!("  {:<10} {:>9} {:>9} {:>9} {:>9}", "", "p50", "p99", "p99.9", "max");
    let row = |name: &str, v: &[f64; 4]| {
        println!("  {name:<10} {:>6.0} us {:>6.0} us {:>6.0} us {:>6.0} us", v[0], v[1], v[2], v[3]);
    };
    let at = |s: &[u32]| [pct(s, 0.5), pct(s, 0.99), pct(s, 0.999), pct(s, 1.0)];
    let (dv, pv) = (at(&d), at(&p));
    row("direct", &dv);
    row("proxy", &pv);
    let added = [pv[0] - dv[0] - rtt, pv[1] - dv[1] - rtt, pv[2] - dv[2] - rtt, pv[3] - dv[3] - rtt];
    row("added", &added);
    // One line a script can read: rtt, then the added p50, p99, p99.9.
    println!("ADDED {rtt_us} {:.0} {:.0} {:.0}", added[0], added[1], added[2]);
}

/// `proxy_load wake`: what this machine takes to wake a thread, the floor under what the
/// proxy adds: (1) a timed `ppoll` of 100 µs and of 1 ms, how late it returns; (2) a thread
/// asleep in `ppoll` on a socket, how long after another thread's write it runs again
/// (the proxy pays this once per direction a read takes). 10,000 of each, 100 µs apart.
fn wake() {
    let _ = nix::sys::prctl::set_timerslack(1);
    let n = 10_000usize;
    for asked in [Duration::from_micros(100), Duration::from_millis(1)] {
        let count = if asked > Duration::from_micros(100) { n / 5 } else { n };
        let mut late: Vec<u32> = (0..count)
            .map(|_| {
                let t = Instant::now();
                let _ = nix::poll::ppoll(&mut [], Some(nix::sys::time::TimeSpec::from_duration(asked)), None);
                u32::try_from(t.elapsed().saturating_sub(asked).as_nanos()).unwrap_or(u32::MAX)
            })
            .collect();
        late.sort_unstable();
        wake_row(&format!("timed {}us", asked.as_micros()), &late);
    }
    let (a, b) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    let base = Instant::now();
    let reader = std::thread::spawn(move || {
        let _ = nix::sys::prctl::set_timerslack(1);
        let mut v = Vec::with_capacity(n);
        let mut buf = [0u8; 8];
        for _ in 0..n {
            let mut fds = [PollFd::new(b.as_fd(), PollFlags::POLLIN)];
            nix::poll::ppoll(&mut fds, None, None).expect("ppoll");
            let now = base.elapsed().as_nanos() as u64;
            (&b).read_exact(&mut buf).expect("read");
            v.push(u32::try_from(now.saturating_sub(u64::from_le_bytes(buf))).unwrap_or(u32::MAX));
        }
        v
    });
    for _ in 0..n {
        std::thread::sleep(Duration::from_micros(100));
        let sent = base.elapsed().as_nanos() as u64;
        (&a).write_all(&sent.to_le_bytes()).expect("write");
    }
    let mut v = reader.join().expect("reader");
    v.sort_unstable();
    wake_row("socket hop", &v);
}

fn wake_row(name: &str, sorted: &[u32]) {
    println!(
        "  {name:<12} p50 {:>5.0} us  p99 {:>5.0} us  p99.9 {:>6.0} us  max {:>6.0} us",
        pct(sorted, 0.5),
        pct(sorted, 0.99),
        pct(sorted, 0.999),
        pct(sorted, 1.0)
    );
}
