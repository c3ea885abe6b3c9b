//! The bytes on both sides of a cut through a message: what a person needs to see where a TCP
//! segment boundary fell, as Wireshark's packet bytes show it (`…*2\r\n$3\r\n ┃ GET\r\n…`).
//!
//! At most [`CUT_SIDE`] bytes on each side, kept inline (no heap, `Copy`), with one bit per
//! byte saying whether it belongs to a secret argument ([`super::Scanner::secret_bits`]):
//! those bytes are never shown, a run of them reads `***`.

use super::escape::escape_with;

/// Bytes kept on each side of a cut.
pub const CUT_SIDE: usize = 32;

/// The separator drawn at a cut.
pub const CUT_MARK: &str = " ┃ ";

/// Bytes before and after one cut, secrets marked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CutBytes {
    before: [u8; CUT_SIDE],
    after: [u8; CUT_SIDE],
    before_len: u8,
    after_len: u8,
    /// Bit `i`: `before[i]` is a secret's.
    before_secret: u32,
    /// Bit `i`: `after[i]` is a secret's.
    after_secret: u32,
    /// The segment before the cut has bytes before those kept.
    more_before: bool,
    /// The segment after the cut has bytes after those kept.
    more_after: bool,
}

impl CutBytes {
    /// Sets the bytes before the cut: the last [`CUT_SIDE`] of `bytes`, `secret`'s bit `i`
    /// marking the i-th byte kept. `more` says the segment goes on before them.
    pub fn set_before(&mut self, bytes: &[u8], secret: u32, more: bool) {
        let skip = bytes.len().saturating_sub(CUT_SIDE);
        let kept = &bytes[skip..];
        self.before[..kept.len()].copy_from_slice(kept);
        self.before_len = kept.len() as u8;
        self.before_secret = secret;
        self.more_before = more || skip > 0;
    }

    /// Sets the bytes after the cut: the first [`CUT_SIDE`] of `bytes`, `secret`'s bit `i`
    /// marking `bytes[i]`. `more` says the segment goes on after them.
    pub fn set_after(&mut self, bytes: &[u8], secret: u32, more: bool) {
        let n = bytes.len().min(CUT_SIDE);
        self.after[..n].copy_from_slice(&bytes[..n]);
        self.after_len = n as u8;
        self.after_secret = secret;
        self.more_after = more || bytes.len() > n;
    }

    /// Keeps at most `n` bytes after the cut (the message ended there); the segment goes on
    /// when `more`.
    pub fn clip_after(&mut self, n: usize, more: bool) {
        if n < usize::from(self.after_len) {
            self.after_len = n as u8;
            self.more_after = more;
        }
    }

    /// Number of bytes kept before and after the cut.
    pub fn lens(&self) -> (usize, usize) {
        (usize::from(self.before_len), usize::from(self.after_len))
    }

    /// The bytes before the cut as text: `…` first when the segment goes on before them.
    pub fn before_text(&self) -> String {
        let mut s = String::new();
        if self.more_before {
            s.push('…');
        }
        s.push_str(&masked(&self.before[..usize::from(self.before_len)], self.before_secret));
        s
    }

    /// The bytes after the cut as text: `…` last when the segment goes on after them.
    pub fn after_text(&self) -> String {
        let mut s = masked(&self.after[..usize::from(self.after_len)], self.after_secret);
        if self.more_after {
            s.push('…');
        }
        s
    }

    /// Both sides joined by [`CUT_MARK`].
    pub fn text(&self) -> String {
        format!("{}{CUT_MARK}{}", self.before_text(), self.after_text())
    }
}

/// Wire bytes as a terminal may show them: [`escape_with`], with CR, LF and tab written `\r`,
/// `\n` and `\t` as protocol text.
pub fn show(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    show_into(&mut out, bytes);
    out
}

/// [`show`] appended to `out`; printable ASCII, the common case, without a detour.
fn show_into(out: &mut String, bytes: &[u8]) {
    if bytes.iter().all(|&b| (0x20..0x7f).contains(&b) || matches!(b, b'\r' | b'\n' | b'\t')) {
        for &b in bytes {
            match b {
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                _ => out.push(char::from(b)),
            }
        }
        return;
    }
    out.push_str(&escape_with(bytes, |c| match c {
        '\r' => Some("\\r"),
        '\n' => Some("\\n"),
        '\t' => Some("\\t"),
        _ => None,
    }));
}

/// [`show`], each run of secret bytes replaced by `***`.
fn masked(bytes: &[u8], secret: u32) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    if secret == 0 {
        show_into(&mut out, bytes);
        return out;
    }
    let mut i = 0;
    while i < bytes.len() {
        let hidden = secret & (1 << i) != 0;
        let mut j = i + 1;
        while j < bytes.len() && (secret & (1 << j) != 0) == hidden {
            j += 1;
        }
        if hidden {
            out.push_str("***");
        } else {
            show_into(&mut out, &bytes[i..j]);
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_are_bounded_escaped_and_marked() {
        let mut c = CutBytes::default();
        c.set_before(b"*2\r\n$3\r\n", 0, true);
        c.set_after(b"GET\r\n$5\r\njedis\r\n*2\r\n", 0, false);
        c.clip_after(16, true);
        assert_eq!(c.text(), r"…*2\r\n$3\r\n ┃ GET\r\n$5\r\njedis\r\n…");
        let long = [b'a'; 100];
        c.set_before(&long, 0, false);
        c.set_after(&long, 0, false);
        assert_eq!(c.lens(), (32, 32));
        assert_eq!(c.before_text(), format!("…{}", "a".repeat(32)));
        assert_eq!(c.after_text(), format!("{}…", "a".repeat(32)));
        c.set_before(b"\x1b[31m\xff", 0, false);
        assert_eq!(c.before_text(), r"\x1b[31m\xff");
    }

    #[test]
    fn secret_runs_read_as_stars() {
        let mut c = CutBytes::default();
        // `$8\r\npassword\r\n`: the length digit and the payload are the secret's.
        c.set_after(b"$8\r\npassword\r\n", 0b1111_1111_0010, false);
        assert_eq!(c.after_text(), r"$***\r\n***\r\n");
    }
}
