//! Which client library a connection says it is: what it announces on the wire.
//!
//! Redis 7.2 clients send `CLIENT SETINFO LIB-NAME <name>` and `LIB-VER <version>` on
//! connect; many set a connection name with `CLIENT SETNAME <name>` or `HELLO … SETNAME
//! <name>`. Read from the command's own bytes, so a capture taken without access to the
//! server still says which client is which. A command split across segments is not read
//! (its bytes are never whole in one chunk); handshakes are small and come first, so this
//! is rare, and the connection then stays unnamed rather than guessed.

use serde::Serialize;

use crate::protocol::resp::args::args;
use crate::protocol::resp::{InlineBytes, Name};

/// Bytes kept of an announced name or version.
pub const LABEL_CAP: usize = 64;
/// Text that a connection announced, at most [`LABEL_CAP`] bytes.
pub type Label = InlineBytes<LABEL_CAP>;

/// What a connection announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Library {
    /// `CLIENT SETINFO LIB-NAME`.
    #[serde(serialize_with = "ser_label")]
    pub name: Option<Label>,
    /// `CLIENT SETINFO LIB-VER`.
    #[serde(serialize_with = "ser_label")]
    pub version: Option<Label>,
    /// `CLIENT SETNAME`, `HELLO … SETNAME`.
    #[serde(serialize_with = "ser_label")]
    pub client_name: Option<Label>,
}

fn ser_label<S: serde::Serializer>(v: &Option<Label>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(l) => s.serialize_str(&l.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// True for the commands that may announce something: checked on every command, so by name
/// only (the scanner already upper-cased it).
#[inline]
pub fn may_announce(name: &Name) -> bool {
    matches!(name.as_bytes(), b"CLIENT" | b"HELLO")
}

impl Library {
    /// Takes what the command in `raw` (its whole bytes) announces, if anything.
    pub fn command(&mut self, raw: &[u8]) {
        let mut a = args(raw, 16);
        let name = a.next().unwrap_or_default();
        if name.eq_ignore_ascii_case(b"CLIENT") {
            let sub = a.next().unwrap_or_default();
            if sub.eq_ignore_ascii_case(b"SETNAME") {
                if let Some(v) = a.next() {
                    self.client_name = Some(label(v));
                }
            } else if sub.eq_ignore_ascii_case(b"SETINFO") {
                let (Some(attr), Some(v)) = (a.next(), a.next()) else { return };
                if attr.eq_ignore_ascii_case(b"LIB-NAME") {
                    self.name = Some(label(v));
                } else if attr.eq_ignore_ascii_case(b"LIB-VER") {
                    self.version = Some(label(v));
                }
            }
        } else if name.eq_ignore_ascii_case(b"HELLO") {
            // HELLO [protover [AUTH user pass] [SETNAME name]]: AUTH's two values are
            // skipped, never read as a name.
            let mut a = a.skip(1);
            while let Some(opt) = a.next() {
                if opt.eq_ignore_ascii_case(b"AUTH") {
                    let _ = (a.next(), a.next());
                } else if opt.eq_ignore_ascii_case(b"SETNAME") {
                    if let Some(v) = a.next() {
                        self.client_name = Some(label(v));
                    }
                }
            }
        }
    }

    /// True when nothing was announced.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.version.is_none() && self.client_name.is_none()
    }

    /// "redis-py 8.1.0 (web-1)": for people, escaped.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(n) = &self.name {
            s.push_str(&n.to_string_lossy());
        }
        if let Some(v) = &self.version {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&v.to_string_lossy());
        }
        if let Some(c) = &self.client_name {
            if s.is_empty() {
                s = format!("name {}", c.to_string_lossy());
            } else {
                s.push_str(&format!(" (name {})", c.to_string_lossy()));
            }
        }
        s
    }
}

fn label(v: &[u8]) -> Label {
    let mut l = Label::default();
    l.push(&v[..v.len().min(LABEL_CAP)]);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(args: &[&str]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend(format!("${}\r\n{a}\r\n", a.len()).bytes());
        }
        v
    }

    #[test]
    fn setinfo_setname_and_hello() {
        let mut l = Library::default();
        l.command(&resp(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]));
        l.command(&resp(&["client", "setinfo", "lib-ver", "8.1.0"]));
        l.command(&resp(&["HELLO", "3", "AUTH", "default", "SETNAME", "SETNAME", "web-1"]));
        assert_eq!(l.describe(), "redis-py 8.1.0 (name web-1)");
        let json = serde_json::to_string(&l).expect("serialises");
        assert_eq!(json, r#"{"name":"redis-py","version":"8.1.0","client_name":"web-1"}"#);
    }

    #[test]
    fn a_password_is_never_a_name_and_wire_text_is_escaped() {
        let mut l = Library::default();
        l.command(&resp(&["HELLO", "3", "AUTH", "u", "SETNAME"]));
        assert!(l.is_empty());
        l.command(b"CLIENT SETNAME \x1b[31mred\r\n");
        assert_eq!(l.describe(), "name \\x1b[31mred");
        let long = "x".repeat(500);
        l.command(&resp(&["CLIENT", "SETINFO", "LIB-NAME", &long]));
        assert_eq!(l.name.expect("a name").as_bytes().len(), LABEL_CAP);
    }
}
