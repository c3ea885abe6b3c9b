//! The real binary in tmux: keys sent with `send-keys`, the screen read with `capture-pane`.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session, killed when dropped.
pub struct Tmux(pub String);

impl Tmux {
    /// Starts `cmd` in a detached session of `w` x `h`; the name gets this process's id.
    pub fn start(name: &str, cmd: &str, w: u16, h: u16) -> Tmux {
        let name = format!("{name}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", &w.to_string(), "-y", &h.to_string(), cmd])
            .status()
            .expect("tmux");
        assert!(ok.success(), "tmux new-session failed");
        Tmux(name)
    }

    /// Sends key names (`Enter`, `Up`, `Escape`) or text tmux does not take for a key name.
    pub fn keys(&self, k: &str) {
        let ok = Command::new("tmux").args(["send-keys", "-t", &self.0, k]).status();
        assert!(ok.is_ok_and(|s| s.success()), "tmux send-keys {k:?}");
    }

    /// Types `text` literally (backslashes, quotes and all), then Enter.
    pub fn line(&self, text: &str) {
        let ok = Command::new("tmux").args(["send-keys", "-t", &self.0, "-l", text]).status();
        assert!(ok.is_ok_and(|s| s.success()), "tmux send-keys -l {text:?}");
        self.keys("Enter");
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Waits until the screen shows `what` (or fails with the last screen).
    pub fn wait_for(&self, what: &str, secs: u64) -> String {
        self.wait_until(&format!("{what:?}"), secs, |s| s.contains(what))
    }

    /// Waits until `ok(screen)` holds (or fails with the last screen).
    pub fn wait_until(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(secs), "waited for {what}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Tmux {
    /// True while the session (the program in it) runs.
    pub fn alive(&self) -> bool {
        Command::new("tmux").args(["has-session", "-t", &self.0]).status().is_ok_and(|s| s.success())
    }

    /// The pid of the program the session runs (started with `exec`, the program itself).
    pub fn pid(&self) -> Option<u32> {
        let out =
            Command::new("tmux").args(["list-panes", "-t", &self.0, "-F", "#{pane_pid}"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}
