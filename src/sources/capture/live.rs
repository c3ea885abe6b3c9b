//! Live capture on a network interface through libpcap.
//!
//! Capture needs rights most processes do not have; when it is refused the error says exactly
//! how to grant them, and the console carries on with its server panes.

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::time::Instant;

use super::decode::Link;
use super::{Frame, FrameSource, Next, Pulse};

/// How to capture.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface name (`lo`, `eth0`, `any`).
    pub interface: String,
    /// BPF filter, e.g. `tcp port 6379`.
    pub filter: String,
    /// Kernel buffer in MiB: below 2 MiB a pipelined load on loopback drops packets.
    pub buffer_mib: i32,
}

/// Why live capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveCaptureError {
    /// The process may not capture.
    #[error(
        "cannot capture on {iface}: permission denied. Run as root, or grant capture rights once: \
         sudo setcap cap_net_raw,cap_net_admin=eip {exe}"
    )]
    Permission {
        /// Interface.
        iface: String,
        /// This executable's path, for the setcap command.
        exe: String,
    },
    /// No such interface.
    #[error("no capture interface named {0:?}: list them with `ip link` and pass one with -i")]
    NoInterface(String),
    /// The BPF filter did not compile.
    #[error("bad capture filter {filter:?}: {reason}")]
    Filter {
        /// The filter.
        filter: String,
        /// libpcap's words.
        reason: String,
    },
    /// The interface's link type is not decoded.
    #[error("interface {iface} has link type {linktype}, which respscope does not decode")]
    UnsupportedLink {
        /// Interface.
        iface: String,
        /// DLT number.
        linktype: i32,
    },
    /// Anything else libpcap refused.
    #[error("cannot capture on {iface}: {reason}")]
    Other {
        /// Interface.
        iface: String,
        /// libpcap's words.
        reason: String,
    },
}

/// Kernel and application-side loss, shown in the console's header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LiveStats {
    /// Packets the filter passed.
    pub received: u64,
    /// Dropped by the kernel because the buffer was full.
    pub kernel_dropped: u64,
    /// Dropped by the interface.
    pub if_dropped: u64,
}

/// Sleep after an empty non-blocking read.
const IDLE_SLEEP: std::time::Duration = std::time::Duration::from_millis(5);
/// How often the handler gets a chance to answer requests, busy or not.
const IDLE_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// How often the interface's state is read.
const LINK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `iface` is up, as libpcap's device list says (the interface flags of this
/// process's network namespace). `None` where that cannot be told: `any`, an interface that
/// is gone (the capture itself then fails).
///
/// libpcap keeps a capture open on an interface brought down and simply delivers nothing,
/// so without this a stopped wire would look like a quiet one.
pub fn interface_up(iface: &str) -> Option<bool> {
    if iface == "any" {
        return None;
    }
    let devices = pcap::Device::list().ok()?;
    let d = devices.into_iter().find(|d| d.name == iface)?;
    Some(d.flags.is_up())
}

/// An open live capture.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    link: Link,
    linktype: i32,
    /// The interface captured on.
    pub interface: String,
    no: u64,
    last_pulse: Instant,
    last_link: Option<Instant>,
}

/// Ports one capture filter lists one by one; past them, `tcp portrange LOW-HIGH` (a filter
/// of a thousand `or`s compiles past the kernel's limit of 4,096 BPF instructions). The wire
/// analysis keeps to the exact ports either way.
pub const FILTER_PORTS: usize = 32;

/// The capture filter for Redis servers on `ports`: `tcp port A or tcp port B …`.
pub fn port_filter(ports: &[u16]) -> String {
    match (ports.iter().min(), ports.iter().max()) {
        (Some(lo), Some(hi)) if ports.len() > FILTER_PORTS => format!("tcp portrange {lo}-{hi}"),
        _ if ports.is_empty() => "tcp".into(),
        _ => ports.iter().map(|p| format!("tcp port {p}")).collect::<Vec<_>>().join(" or "),
    }
}

/// The interface that reaches `host`: loopback for a local server, otherwise the one holding
/// the local address the kernel would use to reach it.
pub fn interface_for(host: &str, port: u16) -> String {
    let Ok(mut addrs) = (host, port).to_socket_addrs() else { return "any".into() };
    let Some(addr) = addrs.next() else { return "any".into() };
    if addr.ip().is_loopback() {
        return "lo".into();
    }
    let local = match addr.ip() {
        IpAddr::V4(_) => UdpSocket::bind("0.0.0.0:0"),
        IpAddr::V6(_) => UdpSocket::bind("[::]:0"),
    }
    .and_then(|s| s.connect(addr).and_then(|()| s.local_addr()));
    let Ok(local) = local else { return "any".into() };
    pcap::Device::list()
        .ok()
        .and_then(|devs| {
            devs.into_iter().find(|d| d.addresses.iter().any(|a| a.addr == local.ip())).map(|d| d.name)
        })
        .unwrap_or_else(|| "any".into())
}

impl LiveCapture {
    /// Opens `cfg.interface` with `cfg.filter`, in immediate mode with a read timeout so the
    /// capture thread can notice a stop request.
    ///
    /// # Errors
    /// Missing rights (with how to grant them), an unknown interface, a bad filter.
    pub fn open(cfg: &LiveConfig) -> Result<LiveCapture, LiveCaptureError> {
        let iface = cfg.interface.clone();
        let classify = |e: pcap::Error| {
            let reason = e.to_string();
            let lower = reason.to_ascii_lowercase();
            if lower.contains("permission") || lower.contains("not permitted") {
                LiveCaptureError::Permission {
                    iface: iface.clone(),
                    exe: std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| "respscope".into()),
                }
            } else if lower.contains("no such device") || lower.contains("doesn't exist") {
                LiveCaptureError::NoInterface(iface.clone())
            } else {
                LiveCaptureError::Other { iface: iface.clone(), reason }
            }
        };
        let inactive = pcap::Capture::from_device(cfg.interface.as_str()).map_err(classify)?;
        let mut cap = inactive
            .snaplen(262_144)
            .promisc(false)
            .timeout(100)
            .buffer_size(cfg.buffer_mib.max(2).saturating_mul(1024 * 1024))
            .open()
            .map_err(classify)?;
        cap.filter(&cfg.filter, true)
            .map_err(|e| LiveCaptureError::Filter { filter: cfg.filter.clone(), reason: e.to_string() })?;
        // Non-blocking: on Linux (TPACKET_V3) the read timeout only starts once a packet has
        // arrived, so a blocking read on a quiet interface would never return to answer
        // requests. An empty read sleeps a few milliseconds instead.
        let cap = cap.setnonblock().map_err(classify)?;
        let linktype = cap.get_datalink().0;
        let link = Link::from_linktype(linktype)
            .ok_or(LiveCaptureError::UnsupportedLink { iface: cfg.interface.clone(), linktype })?;
        Ok(LiveCapture {
            cap,
            link,
            linktype,
            interface: cfg.interface.clone(),
            no: 0,
            last_pulse: Instant::now(),
            last_link: None,
        })
    }

    /// The link type of the interface.
    pub fn link(&self) -> Link {
        self.link
    }

    /// libpcap's number for it (DLT), for files that record what was captured.
    pub fn linktype(&self) -> u32 {
        u32::try_from(self.linktype).unwrap_or(0)
    }

    /// Current loss counters.
    pub fn stats(&mut self) -> LiveStats {
        self.cap
            .stats()
            .map(|s| LiveStats {
                received: u64::from(s.received),
                kernel_dropped: u64::from(s.dropped),
                if_dropped: u64::from(s.if_dropped),
            })
            .unwrap_or_default()
    }
}

impl FrameSource for LiveCapture {
    /// The next packet; every 50 ms, busy or quiet, a pulse with fresh loss counters (and
    /// once a second the interface's state) so the consumer can answer requests; after an
    /// empty read a pause of a few milliseconds; the end, with why, when the capture fails.
    fn next_frame(&mut self) -> Next<'_> {
        if self.last_pulse.elapsed() >= IDLE_EVERY {
            self.last_pulse = Instant::now();
            let mut pulse = Pulse { stats: Some(self.stats()), up: None };
            if self.last_link.is_none_or(|t| t.elapsed() >= LINK_EVERY) {
                self.last_link = Some(Instant::now());
                pulse.up = interface_up(&self.interface);
            }
            return Next::Idle(pulse);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                self.no += 1;
                let ts = p.header.ts;
                // time_t and suseconds_t are narrower than i64 on some platforms.
                #[allow(clippy::useless_conversion)]
                let ts_us = super::timestamp_us(i64::from(ts.tv_sec), i64::from(ts.tv_usec));
                Next::Frame(Frame {
                    no: self.no,
                    ts_us,
                    data: p.data,
                    wire_len: p.header.len,
                    link: self.link,
                    shared: None,
                })
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => {
                std::thread::sleep(IDLE_SLEEP);
                Next::Idle(Pulse::default())
            }
            Err(e) => Next::End(Some(format!("capture on {} stopped: {e}", self.interface))),
        }
    }
}
