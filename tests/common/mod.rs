//! What the end-to-end tests share: real processes they start and stop by pid, free loopback
//! ports, crafted captures, and the rule that a missing tool skips outside CI (visibly: the
//! closing line of `scripts/test.sh` counts and names every skip) but fails with `CI=true`.

#![allow(dead_code)] // each test file uses its own part of this

pub mod pcap;
pub mod tcpdump;
pub mod tmux;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed and reaped when dropped, so a failing test leaves nothing behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True when `cmd` is on the PATH.
pub fn have(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).output().is_ok_and(|o| o.status.success())
}

/// True when every tool is there and we are root (capture rights). Otherwise skips with a
/// message, or fails when `CI=true`: CI must run every test.
pub fn preconditions(what: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|c| !have(c)).collect();
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if missing.is_empty() && root {
        return true;
    }
    let mut needs: Vec<String> = missing.iter().map(|m| m.to_string()).collect();
    if !root {
        needs.push("root (capture rights)".into());
    }
    skip(what, &needs.join(", "));
    false
}

/// Skips the running test because it needs `needs`: fails instead when `CI=true`, and
/// otherwise says so on stderr and appends a line to `$RESPSCOPE_SKIP_LOG`, which
/// `scripts/test.sh` counts in its closing line, so a skip is never mistaken for a pass.
pub fn skip(what: &str, needs: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} ({what}) cannot run in CI: it needs {needs}"
    );
    let line = format!("{test} ({what}) needs {needs}");
    eprintln!("SKIPPED {line} (scripts/setup.sh installs the tools; run as root)");
    if let Ok(path) = std::env::var("RESPSCOPE_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Runs `cmd` under GNU time and returns its output and its peak resident memory in KiB:
/// each child is measured on its own, whatever else the test process runs.
pub fn with_peak_rss(cmd: &mut Command) -> (std::process::Output, u64) {
    let report = std::env::temp_dir().join(format!(
        "respscope-rss-{}-{:?}.txt",
        std::process::id(),
        std::thread::current().id()
    ));
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run under /usr/bin/time (package time)");
    let kib =
        std::fs::read_to_string(&report).ok().and_then(|s| s.trim().lines().last()?.trim().parse().ok());
    let _ = std::fs::remove_file(&report);
    (out, kib.expect("GNU time reported the peak RSS"))
}

/// Peak and current resident memory of a running process, in KiB (`VmHWM`, `VmRSS`).
pub fn rss_of(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |k: &str| -> Option<u64> {
        s.lines().find(|l| l.starts_with(k))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Fails the test when a tool is missing, in CI or not: for tests whose point is a guarantee
/// (a secret never shown, a character never passed raw), which must never pass by not running.
pub fn require(what: &str, tools: &[&str]) {
    let missing: Vec<&str> = tools.iter().copied().filter(|c| !have(c)).collect();
    assert!(missing.is_empty(), "{what} needs {missing:?} (scripts/setup.sh installs them)");
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Starts redis-server on `port` (nothing persisted, `extra` options added) and waits until it
/// listens.
pub fn redis(port: u16, extra: &[&str]) -> Guard {
    let g = Guard(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    g
}

/// Runs redis-benchmark against `port`: 4 clients, pipelines of 16, `n` requests per test in
/// `tests`, bounded by a 60-second timeout. Panics if it fails.
pub fn bench_p16(port: u16, n: u32, tests: &str) {
    let ok = Command::new("timeout")
        .args(["60", "redis-benchmark", "-p", &port.to_string(), "-P", "16", "-c", "4"])
        .args(["-n", &n.to_string(), "-t", tests, "-q"])
        .stdout(Stdio::null())
        .status()
        .expect("run redis-benchmark");
    assert!(ok.success(), "redis-benchmark failed");
}
