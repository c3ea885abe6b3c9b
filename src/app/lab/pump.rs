//! One direction of one proxied connection: read from one socket, write the same reads to the
//! other once they are due.
//!
//! A pump is a thread with blocking sockets, not a tokio task, because the delay must be kept
//! to tens of microseconds: tokio's timer ticks in whole milliseconds (a 0.25 ms half-RTT would
//! become 1 ms or 2 ms), while `ppoll` takes a nanosecond timeout and, with the thread's timer
//! slack at 1 ns, wakes within a few microseconds of it. One thread per direction also keeps
//! the directions independent: a client that stops reading blocks only the server→client
//! pump, and the client's own writes keep flowing, as they would without the proxy.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};

/// The most one read takes. A client's write larger than a socket buffer reaches the proxy in
/// several reads whatever this is; 64 KiB keeps 2,048 pumps' buffers within 128 MiB, and
/// they are only touched as far as reads fill them.
const READ_BUF: usize = 64 * 1024;

/// How early a pump wakes before a due time, in ns, by how long it sleeps: an estimate of
/// the median lateness of this machine's timed wake-ups, shared by every pump since it is the
/// machine's, not a connection's (a new connection starts with it learnt). By the sleep's
/// length because lateness grows with it: a virtual CPU idle for 10 ms is woken later than
/// one idle for 200 µs. Buckets: under 128 µs, 512 µs, 2 ms, 8 ms, 32 ms, longer.
static EARLY_NS: [AtomicU64; 6] = [const { AtomicU64::new(20_000) }; 6];
/// The estimate moves by this much per wake-up: up when a wake-up was later than it, down
/// when earlier, which settles on the median whatever the outliers (a mean would be pulled up
/// by the occasional millisecond-late wake-up of a loaded machine).
const EARLY_STEP_NS: u64 = 4_000;
/// Never more: the pump spins at most this long per due time.
const EARLY_MAX_NS: u64 = 1_000_000;

fn bucket(sleep: Duration) -> &'static AtomicU64 {
    let i = match sleep.as_micros() {
        0..128 => 0,
        128..512 => 1,
        512..2_048 => 2,
        2_048..8_192 => 3,
        8_192..32_768 => 4,
        _ => 5,
    };
    &EARLY_NS[i]
}

/// How early to wake for a due time `wait` away.
fn early_for(wait: Duration) -> Duration {
    Duration::from_nanos(bucket(wait).load(Ordering::Relaxed))
}

/// Folds one timed wake-up of `wait` (the whole wait, early part included), asked for
/// `asked`, into its estimate.
fn learn_lateness(wait: Duration, asked: Instant) {
    let late = Instant::now().saturating_duration_since(asked).as_nanos();
    let b = bucket(wait);
    let e = b.load(Ordering::Relaxed);
    let next = if late > u128::from(e) {
        (e + EARLY_STEP_NS).min(EARLY_MAX_NS)
    } else {
        e.saturating_sub(EARLY_STEP_NS)
    };
    // Lost updates between pumps only slow the estimate down a little.
    b.store(next, Ordering::Relaxed);
}

/// What shapes one direction's traffic.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Added to every read before it is written (half the round trip).
    pub delay: Duration,
    /// Each read's delay is moved by a uniform amount in ± this.
    pub jitter: Duration,
    /// Bytes per second the direction carries at most.
    pub bandwidth: Option<u64>,
    /// Bytes read and not yet written, at most; past it the pump stops reading (the sender's
    /// TCP window then fills, as on a slow link).
    pub queue_limit: usize,
}

/// Counters of one direction, shared by every connection (totals of the proxy).
#[derive(Debug, Default)]
pub struct DirCounters {
    /// Bytes written to the receiving side.
    pub bytes: AtomicU64,
    /// Reads that returned data: the sender's write batches as the proxy received them.
    pub reads: AtomicU64,
    /// Writes made: one per read, more only where the bandwidth cap cut a read in pieces.
    pub writes: AtomicU64,
}

/// A read waiting for its time.
struct Chunk {
    due: Instant,
    data: Vec<u8>,
    /// Bytes of it already written (a bandwidth cap writes a chunk in pieces).
    sent: usize,
}

/// How a pump ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The sender closed its side and everything it sent was written; the receiver was told
    /// (its write side shut down), the other direction goes on.
    Closed,
    /// A socket failed (a reset, a receiver gone); both sockets were shut down so the other
    /// direction ends too.
    Failed,
}

/// A small generator for jitter (splitmix64): jitter needs spread, not secrecy, and a crate
/// for it would be a dependency for one line.
pub struct Jitter(u64);

impl Jitter {
    /// Seeded per connection and direction, so two pumps do not move in step.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// Uniform in [-1, 1].
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Asks the kernel to wake this thread exactly when asked: its default 50 µs of timer slack
/// would on its own exceed the precision the lab promises. Failing to is not fatal.
pub fn precise_timers() {
    let _ = nix::sys::prctl::set_timerslack(1);
}

/// Carries `src`'s bytes to `dst` until `src` closes or a socket fails.
pub fn run(
    src: &TcpStream,
    dst: &TcpStream,
    shape: Shape,
    mut jitter: Jitter,
    counters: &DirCounters,
) -> End {
    let mut queue: VecDeque<Chunk> = VecDeque::new();
    let mut queued = 0usize;
    let mut buf = vec![0u8; READ_BUF];
    let mut open = true;
    // Chunks never leave out of order, and their due times never go back: jitter moves a
    // chunk later than the one before it at most to that one's time.
    let mut last_due: Option<Instant> = None;
    // Where the link is busy until, with a bandwidth cap: the next piece starts after it.
    let mut link_free: Option<Instant> = None;
    loop {
        // Write what is due. Bytes due now go before any new read: the writes keep their time.
        let mut now = Instant::now();
        while let Some(front) = queue.front_mut() {
            let (at, len) = next_piece(front, shape.bandwidth, link_free);
            if at > now {
                break;
            }
            let piece = &front.data[front.sent..front.sent + len];
            if dst.write_all_on(piece).is_err() {
                return fail(src, dst);
            }
            counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
            counters.writes.fetch_add(1, Ordering::Relaxed);
            front.sent += len;
            if shape.bandwidth.is_some() {
                link_free = Some(at);
            }
            if front.sent == front.data.len() {
                queued -= front.data.len();
                queue.pop_front();
            }
            now = Instant::now();
        }
        if !open && queue.is_empty() {
            // Half-close: the receiver learns that the sender is done, after all its bytes.
            let _ = dst.shutdown(Shutdown::Write);
            return End::Closed;
        }
        let wait =
            queue.front().map(|c| next_piece(c, shape.bandwidth, link_free).0.saturating_duration_since(now));
        // Asleep until `early` before the due time (the machine's usual lateness in waking a
        // thread), the last stretch spent polling without sleeping: a loaded machine wakes
        // threads 20 to 100 µs late, which would otherwise add to every delay.
        let sleep = wait.map(|w| w.saturating_sub(early_for(w)));
        let reading = open && queued < shape.queue_limit;
        if !reading {
            // Full (or the sender is done): only the clock can make progress.
            match (wait, sleep) {
                (Some(w), Some(s)) if !s.is_zero() => {
                    std::thread::sleep(s);
                    learn_lateness(w, now + s);
                }
                _ => std::thread::yield_now(),
            }
            continue;
        }
        let mut fds = [PollFd::new(src.as_fd(), PollFlags::POLLIN)];
        match nix::poll::ppoll(&mut fds, sleep.map(nix::sys::time::TimeSpec::from_duration), None) {
            Ok(0) => {
                match (wait, sleep) {
                    (Some(w), Some(s)) if !s.is_zero() => learn_lateness(w, now + s),
                    // The last stretch: other pumps (and the clients) may need the CPU more
                    // than this one needs to spin, on a machine with fewer cores than pumps.
                    // Measured: spinning here (and spinning for a reply) instead of yielding
                    // raised the p99 on a loaded 2-core VM, since a thread that keeps its CPU
                    // delays the server (or another pump) woken on it, sometimes by a whole
                    // time slice.
                    _ => std::thread::yield_now(),
                }
                continue;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return fail(src, dst),
        }
        // Readable, closed or failed: the read tells which.
        let room = (shape.queue_limit - queued).min(READ_BUF);
        match (&*src).read(&mut buf[..room]) {
            Ok(0) => open = false,
            Ok(n) => {
                let read_at = Instant::now();
                counters.reads.fetch_add(1, Ordering::Relaxed);
                let mut due = read_at + jittered(shape, &mut jitter);
                if let Some(last) = last_due {
                    due = due.max(last);
                }
                last_due = Some(due);
                if queue.is_empty() && due <= read_at && shape.bandwidth.is_none() {
                    // Due already (no delay asked) and nothing ahead of it: written from the
                    // read buffer at once, without a copy into the queue and a second pass.
                    if dst.write_all_on(&buf[..n]).is_err() {
                        return fail(src, dst);
                    }
                    counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    counters.writes.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                queue.push_back(Chunk { due, data: buf[..n].to_vec(), sent: 0 });
                queued += n;
            }
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {}
            Err(_) => return fail(src, dst),
        }
    }
}

/// The delay of one read: the half RTT moved by jitter, never below zero.
fn jittered(shape: Shape, jitter: &mut Jitter) -> Duration {
    if shape.jitter.is_zero() {
        return shape.delay;
    }
    let d = shape.delay.as_secs_f64() + shape.jitter.as_secs_f64() * jitter.unit();
    Duration::from_secs_f64(d.max(0.0))
}

/// When the next piece of `c` may be written and how long it is. Without a cap: all of it,
/// at its due time. With one: at most a millisecond's worth of bytes, written when the link
/// would have carried its last byte, so a large read is spread over the time it takes.
fn next_piece(c: &Chunk, bandwidth: Option<u64>, link_free: Option<Instant>) -> (Instant, usize) {
    let left = c.data.len() - c.sent;
    let Some(rate) = bandwidth else { return (c.due, left) };
    let quantum = usize::try_from(rate / 1000).unwrap_or(usize::MAX).max(1);
    let len = left.min(quantum);
    let start = link_free.map_or(c.due, |f| f.max(c.due));
    (start + Duration::from_secs_f64(len as f64 / rate as f64), len)
}

/// Ends both directions: the other pump's read or write then fails at once, so nothing waits
/// on a connection that is gone.
fn fail(src: &TcpStream, dst: &TcpStream) -> End {
    let _ = src.shutdown(Shutdown::Both);
    let _ = dst.shutdown(Shutdown::Both);
    End::Failed
}

/// `write_all` through a shared reference (a `TcpStream` is written through `&`).
trait WriteAllOn {
    fn write_all_on(&self, data: &[u8]) -> std::io::Result<()>;
}

impl WriteAllOn for TcpStream {
    fn write_all_on(&self, data: &[u8]) -> std::io::Result<()> {
        let mut s = self;
        s.write_all(data)
    }
}
