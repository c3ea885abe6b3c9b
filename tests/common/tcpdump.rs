//! A real libpcap capture of one loopback port into a file, with tcpdump, stopped by pid once
//! the file has settled, and checked for kernel drops.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use super::Guard;

/// A running capture.
pub struct Capture {
    tcpdump: Guard,
    err: ChildStderr,
    path: PathBuf,
}

impl Capture {
    /// Starts capturing `tcp port PORT` on `lo` into `path` and waits until tcpdump listens.
    pub fn start(port: u16, path: &Path) -> Capture {
        let mut tcpdump = Guard(
            Command::new("tcpdump")
                // Not --immediate-mode: libpcap then sizes every ring slot for a 64 KiB loopback
                // frame and a burst overflows the buffer. The file is left to settle instead.
                .args(["-i", "lo", "-U", "-B", "65536", "-s", "0", "-w"])
                .arg(path)
                .arg(format!("tcp port {port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tcpdump"),
        );
        let mut err = tcpdump.0.stderr.take().expect("stderr");
        let mut seen = Vec::new();
        let t = Instant::now();
        while !String::from_utf8_lossy(&seen).contains("listening on") {
            let mut b = [0u8; 256];
            let n = err.read(&mut b).unwrap_or(0);
            assert!(
                n > 0 && t.elapsed() < Duration::from_secs(10),
                "tcpdump did not start: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&b[..n]);
        }
        Capture { tcpdump, err, path: path.to_path_buf() }
    }

    /// Waits until the file stops growing (libpcap hands packets over in blocks), stops
    /// tcpdump with SIGINT so it flushes, and asserts the kernel dropped nothing.
    pub fn stop(mut self) -> PathBuf {
        let size = || std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let (mut last, mut stable_since, t) = (size(), Instant::now(), Instant::now());
        while stable_since.elapsed() < Duration::from_millis(1500) && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
            let now = size();
            if now != last {
                (last, stable_since) = (now, Instant::now());
            }
        }
        let pid = self.tcpdump.0.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = self.tcpdump.0.wait();
        let mut tail = String::new();
        let _ = self.err.read_to_string(&mut tail);
        assert!(
            tail.lines().any(|l| l.trim() == "0 packets dropped by kernel"),
            "the capture itself lost packets, so nothing can be compared: {tail}"
        );
        self.path.clone()
    }
}
