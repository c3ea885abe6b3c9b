//! TCP sequence analysis flags, by the rules of tshark 4.0's `tcp_analyze_sequence_number()`.
//!
//! Each segment is judged once, in capture order, against what each direction has shown so
//! far; the checks and their order are tshark's, so our counts match its `tcp.analysis.*`
//! flags frame by frame. One deliberate difference: Linux probes a closed window with an
//! *empty* segment at `snd_una - 1`, which tshark's rule (one byte at `nextseq`) cannot see and
//! labels Keep-Alive. A segment of that shape sent while the peer's last window was 0 also gets
//! [`LINUX_ZERO_WINDOW_PROBE`], and counts as a zero-window probe in our reports.

use super::seq;
use crate::protocol::tcp as tcpf;
use crate::protocol::tcp::SynOptions;

/// tshark `tcp.analysis.zero_window_probe`.
pub const ZERO_WINDOW_PROBE: u32 = 1 << 0;
/// tshark `tcp.analysis.zero_window`.
pub const ZERO_WINDOW: u32 = 1 << 1;
/// tshark `tcp.analysis.lost_segment` ("previous segment not captured").
pub const LOST_SEGMENT: u32 = 1 << 2;
/// tshark `tcp.analysis.keep_alive`.
pub const KEEP_ALIVE: u32 = 1 << 3;
/// tshark `tcp.analysis.window_update`.
pub const WINDOW_UPDATE: u32 = 1 << 4;
/// tshark `tcp.analysis.window_full`.
pub const WINDOW_FULL: u32 = 1 << 5;
/// tshark `tcp.analysis.keep_alive_ack`.
pub const KEEP_ALIVE_ACK: u32 = 1 << 6;
/// tshark `tcp.analysis.zero_window_probe_ack`.
pub const ZERO_WINDOW_PROBE_ACK: u32 = 1 << 7;
/// tshark `tcp.analysis.duplicate_ack`.
pub const DUPLICATE_ACK: u32 = 1 << 8;
/// tshark `tcp.analysis.retransmission`.
pub const RETRANSMISSION: u32 = 1 << 9;
/// tshark `tcp.analysis.fast_retransmission`.
pub const FAST_RETRANSMISSION: u32 = 1 << 10;
/// tshark `tcp.analysis.spurious_retransmission`.
pub const SPURIOUS_RETRANSMISSION: u32 = 1 << 11;
/// tshark `tcp.analysis.out_of_order`.
pub const OUT_OF_ORDER: u32 = 1 << 12;
/// Ours: an empty Linux window probe at `snd_una - 1` while the peer's window is 0.
pub const LINUX_ZERO_WINDOW_PROBE: u32 = 1 << 13;

/// Any kind of retransmission (tshark's plain, fast and spurious).
pub const ANY_RETRANSMISSION: u32 = RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION;
/// Any zero-window probe, tshark's or Linux's.
pub const ANY_ZERO_WINDOW_PROBE: u32 = ZERO_WINDOW_PROBE | LINUX_ZERO_WINDOW_PROBE;

/// Names of set flags in the order tshark prints them, for listings.
pub fn names(f: u32) -> impl Iterator<Item = &'static str> {
    const ALL: [(u32, &str); 14] = [
        (RETRANSMISSION, "Retransmission"),
        (FAST_RETRANSMISSION, "Fast Retransmission"),
        (SPURIOUS_RETRANSMISSION, "Spurious Retransmission"),
        (OUT_OF_ORDER, "Out-Of-Order"),
        (LOST_SEGMENT, "Previous segment not captured"),
        (WINDOW_FULL, "Window Full"),
        (ZERO_WINDOW, "ZeroWindow"),
        (ZERO_WINDOW_PROBE, "ZeroWindowProbe"),
        (LINUX_ZERO_WINDOW_PROBE, "ZeroWindowProbe (Linux, empty at snd_una-1)"),
        (ZERO_WINDOW_PROBE_ACK, "ZeroWindowProbeAck"),
        (KEEP_ALIVE, "Keep-Alive"),
        (KEEP_ALIVE_ACK, "Keep-Alive ACK"),
        (WINDOW_UPDATE, "Window Update"),
        (DUPLICATE_ACK, "Dup ACK"),
    ];
    ALL.into_iter().filter(move |(b, _)| f & b != 0).map(|(_, n)| {
        // A Linux probe is also tshark's Keep-Alive; say what it is, once.
        n
    })
}

/// The `tcp.analysis.*` field names tshark would set on a segment with these flags
/// (a fast or spurious retransmission also sets `retransmission`, as tshark prints it; a
/// Linux probe is only `keep_alive` there).
pub fn tshark_fields(f: u32) -> Vec<&'static str> {
    const ALL: [(u32, &str); 13] = [
        (ZERO_WINDOW_PROBE, "zero_window_probe"),
        (ZERO_WINDOW, "zero_window"),
        (LOST_SEGMENT, "lost_segment"),
        (KEEP_ALIVE, "keep_alive"),
        (WINDOW_UPDATE, "window_update"),
        (WINDOW_FULL, "window_full"),
        (KEEP_ALIVE_ACK, "keep_alive_ack"),
        (ZERO_WINDOW_PROBE_ACK, "zero_window_probe_ack"),
        (DUPLICATE_ACK, "duplicate_ack"),
        (ANY_RETRANSMISSION, "retransmission"),
        (FAST_RETRANSMISSION, "fast_retransmission"),
        (SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
        (OUT_OF_ORDER, "out_of_order"),
    ];
    ALL.into_iter().filter(|(b, _)| f & b != 0).map(|(_, n)| n).collect()
}

/// Window scale of a direction, as tshark keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Handshake not seen: unknown (tshark -1). Window Full is never reported.
    Unknown,
    /// Scaling not in use (tshark -2).
    None,
    /// Shift count.
    Shift(u8),
}

/// What one direction has shown so far. Field for field tshark's per-flow state: absolute
/// sequence numbers, raw windows, and 0 meaning "not seen" exactly where tshark's tests do.
#[derive(Clone, Copy, Debug)]
struct Dir {
    nextseq: u32,
    nextseq_time: i64,
    maxseqtobeacked: u32,
    /// Raw window of the last segment; tshark starts it at 0xFFFFFFFF.
    window: u32,
    scale: Scale,
    /// The direction's last window came from its SYN and must not be scaled.
    is_first_ack: bool,
    lastack: u32,
    lastack_time: i64,
    dupacks: u32,
    last_flags: u32,
    /// Base sequence number (SYN: its seq; otherwise the first seq - 1, or the peer's ack - 1).
    base: Option<u32>,
}

impl Default for Dir {
    fn default() -> Self {
        Dir {
            nextseq: 0,
            nextseq_time: 0,
            maxseqtobeacked: 0,
            window: u32::MAX,
            scale: Scale::Unknown,
            is_first_ack: false,
            lastack: 0,
            lastack_time: 0,
            dupacks: 0,
            last_flags: 0,
            base: None,
        }
    }
}

/// One segment as the analysis needs it.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number field.
    pub ack: u32,
    /// TCP flag bits.
    pub flags: u8,
    /// Raw window.
    pub window: u16,
    /// Payload length the segment carried.
    pub len: u32,
    /// A SYN's window scale and MSS.
    pub syn: SynOptions,
    /// Timestamp (µs).
    pub ts: i64,
}

/// TCP analysis state of one connection.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    dirs: [Dir; 2],
    mru_syn: Option<i64>,
    /// Initial RTT (µs): the first bare ACK after the most recent SYN (tshark's
    /// `tcp.analysis.initial_rtt`, its out-of-order threshold).
    pub irtt_us: Option<i64>,
}

/// Out-of-order threshold when no initial RTT is known (tshark: 3 ms).
const DEFAULT_OOO_THRESHOLD_US: i64 = 3_000;
/// Window for a fast retransmission after the duplicate ACKs (tshark: 20 ms).
const FAST_RETRANSMISSION_US: i64 = 20_000;

/// A time difference that is "less than" only when non-negative, as tshark's unsigned deltas.
fn within(now: i64, then: i64, limit: i64) -> bool {
    let t = now - then;
    (0..limit).contains(&t)
}

impl Analysis {
    /// The window a segment from direction `d` advertises, in bytes: its raw value shifted by
    /// the window scale that direction's SYN announced (Wireshark's `tcp.window_size`). A
    /// SYN's own window is never scaled, nor one whose scale is unknown (no handshake seen) or
    /// not in use.
    pub fn window_size(&self, d: usize, flags: u8, raw: u16) -> u32 {
        match self.dirs[d & 1].scale {
            Scale::Shift(k) if flags & tcpf::SYN == 0 => u32::from(raw) << k,
            _ => u32::from(raw),
        }
    }

    /// True when a bare SYN from direction `d` starts a new connection on the same ports (a new
    /// initial sequence number). A retransmitted SYN is not new.
    pub fn is_new_syn(&self, d: usize, seq_no: u32) -> bool {
        self.dirs[d & 1].base.is_some_and(|b| b != seq_no)
    }

    /// Judges one segment sent in direction `d` (0 or 1) and returns its flags.
    pub fn segment(&mut self, d: usize, s: &Seg) -> u32 {
        let d = d & 1;
        let (lo, hi) = self.dirs.split_at_mut(1);
        let (fwd, rev) = if d == 0 { (&mut lo[0], &mut hi[0]) } else { (&mut hi[0], &mut lo[0]) };
        let syn = s.flags & tcpf::SYN != 0;
        let fin = s.flags & tcpf::FIN != 0;
        let rst = s.flags & tcpf::RST != 0;
        let ackf = s.flags & tcpf::ACK != 0;
        let sfr = syn || fin || rst;
        let (seq_no, ack, len, win) = (s.seq, s.ack, s.len, u32::from(s.window));
        let mut f = 0u32;

        // Base sequence numbers (tshark: own SYN seq, else seq - 1; the peer's from ack - 1).
        if fwd.base.is_none() {
            fwd.base = Some(if syn { seq_no } else { seq_no.wrapping_sub(1) });
        } else if syn && !ackf && fwd.base == Some(seq_no) {
            // A retransmitted SYN: tshark rewinds nextseq.
            fwd.nextseq = fwd.maxseqtobeacked;
        }
        if rev.base.is_none() && ackf {
            rev.base = Some(ack.wrapping_sub(1));
        }

        'checks: {
            // 1. Zero window probe: one byte at nextseq into a closed window.
            if len == 1 && seq_no == fwd.nextseq && rev.window == 0 {
                f |= ZERO_WINDOW_PROBE;
                break 'checks;
            }
            // 2. Zero window.
            if win == 0 && !sfr {
                f |= ZERO_WINDOW;
            }
            // 3. Previous segment not captured.
            if fwd.nextseq != 0 && seq::gt(seq_no, fwd.nextseq) && !rst {
                f |= LOST_SEGMENT;
            }
            // 4. Keep-alive: zero or one byte at nextseq - 1.
            if len <= 1 && seq_no == fwd.nextseq.wrapping_sub(1) && !sfr {
                f |= KEEP_ALIVE;
                if len == 0 && rev.window == 0 {
                    f |= LINUX_ZERO_WINDOW_PROBE;
                }
            }
            let same_pos = seq_no == fwd.nextseq && ack == fwd.lastack && !sfr;
            // 5. Window update: same position, a different non-zero window.
            if len == 0 && win != 0 && win != fwd.window && same_pos {
                f |= WINDOW_UPDATE;
            }
            // 6. Window full: the segment ends exactly at the receiver's right edge.
            if len > 0 && !sfr && rev.scale != Scale::Unknown {
                let shift = match rev.scale {
                    Scale::Shift(k) if !rev.is_first_ack => u32::from(k),
                    _ => 0,
                };
                let edge = rev.lastack.wrapping_add(rev.window.wrapping_shl(shift));
                if seq_no.wrapping_add(len) == edge {
                    f |= WINDOW_FULL;
                }
            }
            // 7. Keep-alive ACK.
            if len == 0 && win != 0 && win == fwd.window && same_pos && rev.last_flags & KEEP_ALIVE != 0 {
                f |= KEEP_ALIVE_ACK;
                break 'checks;
            }
            // 8. Zero window probe ACK.
            if len == 0 && win == 0 && fwd.window == 0 && same_pos && rev.last_flags & ZERO_WINDOW_PROBE != 0
            {
                f |= ZERO_WINDOW_PROBE_ACK;
                break 'checks;
            }
            // 9. Duplicate ACK.
            if len == 0 && win != 0 && win == fwd.window && same_pos {
                fwd.dupacks = if fwd.dupacks == u32::MAX { 1 } else { fwd.dupacks + 1 };
                f |= DUPLICATE_ACK;
            }
        }
        if ack != fwd.lastack {
            fwd.dupacks = 0;
        }
        // 10. ACKed unseen segment: only its side effects matter here.
        if rev.maxseqtobeacked != 0 && seq::gt(ack, rev.maxseqtobeacked) && ackf {
            if seq::lt(rev.maxseqtobeacked, rev.nextseq) {
                rev.maxseqtobeacked = rev.nextseq;
            } else {
                rev.dupacks = u32::MAX;
            }
        }

        // 11. Retransmission family (a keep-alive is never one).
        if (len > 0 || syn || fin) && f & KEEP_ALIVE == 0 {
            let mut not_advanced = fwd.nextseq != 0 && seq::lt(seq_no, fwd.nextseq);
            if len > 1 && fwd.nextseq.wrapping_sub(1) == seq_no {
                // Data right after a dropped one-byte probe.
                not_advanced = false;
            }
            let end = seq_no.wrapping_add(len);
            if len > 0 && rev.lastack != 0 && seq::le(end, rev.lastack) {
                f |= SPURIOUS_RETRANSMISSION;
            } else if not_advanced
                && rev.dupacks >= 2
                && rev.lastack == seq_no
                && within(s.ts, rev.lastack_time, FAST_RETRANSMISSION_US)
            {
                f |= FAST_RETRANSMISSION;
            } else if not_advanced
                && within(s.ts, fwd.nextseq_time, self.irtt_us.unwrap_or(DEFAULT_OOO_THRESHOLD_US))
                && fwd.nextseq != end.wrapping_add(u32::from(syn || fin))
            {
                f |= OUT_OF_ORDER;
            } else if not_advanced {
                f |= RETRANSMISSION;
            }
        }

        // 12. Bookkeeping.
        let mut next = seq_no.wrapping_add(len);
        if syn || fin {
            next = next.wrapping_add(1);
        }
        if f & ZERO_WINDOW_PROBE == 0 {
            if seq::gt(next, fwd.nextseq) || fwd.nextseq == 0 {
                fwd.nextseq = next;
                fwd.nextseq_time = s.ts;
            }
            if seq_no == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0 {
                fwd.maxseqtobeacked = fwd.nextseq;
            }
        }
        fwd.window = win;
        fwd.lastack = ack;
        fwd.lastack_time = s.ts;
        fwd.last_flags = f;

        // After the analysis, as tshark: SYN bookkeeping, initial RTT, window scaling.
        if syn && !ackf {
            self.mru_syn = Some(s.ts);
        }
        if syn {
            fwd.is_first_ack = true;
        }
        if self.irtt_us.is_none() && ackf && !syn {
            if let Some(t) = self.mru_syn {
                if s.ts != t {
                    self.irtt_us = Some(s.ts - t);
                }
            }
        }
        if ackf && !syn {
            fwd.is_first_ack = false;
        }
        if syn {
            if let Some(k) = s.syn.wscale() {
                fwd.scale = Scale::Shift(k.min(14));
            }
            if fwd.scale == Scale::Unknown {
                fwd.scale = Scale::None;
                rev.scale = Scale::None;
            } else if ackf && rev.scale == Scale::None {
                fwd.scale = Scale::None;
            }
        }
        f
    }
}
