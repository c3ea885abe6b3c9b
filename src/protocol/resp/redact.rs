//! Which command arguments are secrets.
//!
//! AUTH travels in clear text. Every preview, log and export goes through this policy so a
//! password never reaches a screen or a file: `AUTH`, `HELLO … AUTH user pass`, `MIGRATE …
//! AUTH pass` / `AUTH2 user pass`, `CONFIG SET` of a secret parameter (`requirepass`,
//! `masterauth`, `tls-key-file-pass`, `tls-client-key-file-pass`), `ACL SETUSER` rules that
//! set passwords (`>pass`, `#hash`), and `ACL DRYRUN user <command> …`, whose nested command
//! is judged by these same rules.

/// `CONFIG` parameters whose values are secrets (lower case).
const SECRET_PARAMETERS: [&[u8]; 4] =
    [b"requirepass", b"masterauth", b"tls-key-file-pass", b"tls-client-key-file-pass"];

/// True when the `CONFIG` parameter `name` holds a secret: its value is hidden in `CONFIG SET`
/// and in `CONFIG GET` replies. `name` may be only the leading bytes of the argument (the
/// scanner keeps a prefix); a name that merely starts like a secret one is hidden too, which
/// errs on the safe side.
pub fn secret_config_parameter(name: &[u8]) -> bool {
    !name.is_empty()
        && SECRET_PARAMETERS.iter().any(|p| name.len() >= p.len() && name[..p.len()].eq_ignore_ascii_case(p))
}

/// Redaction state for the arguments of one command, fed in order.
///
/// A small state machine over argument indexes, not a parser: `ACL DRYRUN user CMD …` moves
/// [`Redactor::base`] to `CMD` and starts over there, so any depth of nesting costs nothing
/// and wire data never drives a recursion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redactor {
    mode: Mode,
    /// Index of the command being judged: 0, or the nested command of `ACL DRYRUN`.
    base: u32,
    /// Index of the first argument hidden by a keyword, and how many follow it.
    from: u32,
    count: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    None,
    /// Every argument after the name is secret (`AUTH`).
    All,
    /// Secrets follow keywords (`HELLO`, `MIGRATE`).
    Keywords,
    /// `CONFIG SET`: a value after a password parameter.
    Config,
    /// `ACL SETUSER`: rules starting with `>` or `#`, hidden whole.
    Acl,
    /// `ACL DRYRUN user`: the argument after the user is a nested command's name.
    Dryrun,
}

/// The policy for a command name, in any case.
fn mode_for(name: &[u8]) -> Mode {
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if is(b"AUTH") {
        Mode::All
    } else if is(b"HELLO") || is(b"MIGRATE") {
        Mode::Keywords
    } else if is(b"CONFIG") {
        Mode::Config
    } else if is(b"ACL") {
        Mode::Acl
    } else {
        Mode::None
    }
}

impl Redactor {
    /// Sets the policy from the command name (the scanner upper-cases it; any case works).
    pub fn command(&mut self, name: &[u8]) {
        *self = Redactor { mode: mode_for(name), ..Redactor::default() };
    }

    /// Argument `idx` names a nested command: judge what follows as that command.
    fn nest(&mut self, idx: u32, name: &[u8]) {
        *self = Redactor { mode: mode_for(name), base: idx, ..Redactor::default() };
    }

    /// True when the command may carry a secret anywhere (used for inline commands, whose
    /// arguments are not followed keyword by keyword).
    pub fn hides_any(&self) -> bool {
        self.mode != Mode::None
    }

    /// Sees argument `idx` (1-based after the name) whose leading bytes are `prefix`, after it
    /// was shown or hidden; arms keyword rules for the arguments that follow.
    pub fn argument(&mut self, idx: u32, prefix: &[u8]) {
        let rel = idx.saturating_sub(self.base);
        match self.mode {
            Mode::Keywords => {
                // HELLO AUTH user pass / MIGRATE AUTH pass / MIGRATE AUTH2 user pass: hide the
                // next two to be safe.
                if prefix.eq_ignore_ascii_case(b"AUTH") || prefix.eq_ignore_ascii_case(b"AUTH2") {
                    self.from = idx.saturating_add(1);
                    self.count = 2;
                }
            }
            Mode::Config => {
                if rel == 1 && !prefix.eq_ignore_ascii_case(b"SET") {
                    self.mode = Mode::None;
                } else if rel >= 2 && rel.is_multiple_of(2) && secret_config_parameter(prefix) {
                    self.from = idx.saturating_add(1);
                    self.count = 1;
                }
            }
            Mode::Acl if rel == 1 => {
                self.mode = if prefix.eq_ignore_ascii_case(b"SETUSER") {
                    Mode::Acl
                } else if prefix.eq_ignore_ascii_case(b"DRYRUN") {
                    Mode::Dryrun
                } else {
                    Mode::None
                };
            }
            Mode::Dryrun if rel == 3 => self.nest(idx, prefix),
            Mode::Acl | Mode::Dryrun | Mode::None | Mode::All => {}
        }
    }

    /// True when argument `idx` must not be shown.
    pub fn redacting(&self, idx: u32) -> bool {
        if idx <= self.base {
            return false;
        }
        match self.mode {
            Mode::All => true,
            // ACL rules cannot be judged before their first byte is seen; hide every rule.
            Mode::Acl => idx - self.base >= 3,
            Mode::None | Mode::Dryrun => false,
            Mode::Keywords | Mode::Config => idx >= self.from && idx < self.from.saturating_add(self.count),
        }
    }
}

/// Which arguments of a whole command are secrets, one flag per argument.
pub fn secret_mask<S: AsRef<[u8]>>(args: &[S]) -> Vec<bool> {
    let mut r = Redactor::default();
    let mut out = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref();
        let idx = u32::try_from(i).unwrap_or(u32::MAX);
        if idx == 0 {
            r.command(a);
            out.push(false);
            continue;
        }
        out.push(r.redacting(idx));
        r.argument(idx, a);
    }
    out
}

/// Redacts a whole command given as separate arguments (MONITOR lines, SLOWLOG entries,
/// console echoes). Returns the arguments with secrets replaced by `***`, the others escaped
/// for display.
pub fn redact_args<S: AsRef<[u8]>>(args: &[S]) -> Vec<String> {
    args.iter()
        .zip(secret_mask(args))
        .map(|(a, secret)| if secret { "***".to_string() } else { super::escape::escape(a.as_ref()) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_hides_everything_after_the_name() {
        assert_eq!(redact_args(&["auth", "s3cret"]), ["auth", "***"]);
        assert_eq!(redact_args(&["AUTH", "user", "s3cret"]), ["AUTH", "***", "***"]);
    }

    #[test]
    fn hello_auth_hides_user_and_password_only() {
        assert_eq!(
            redact_args(&["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x"]),
            ["HELLO", "3", "AUTH", "***", "***", "SETNAME", "x"]
        );
    }

    #[test]
    fn config_set_requirepass_is_hidden_but_other_parameters_are_not() {
        assert_eq!(
            redact_args(&["CONFIG", "SET", "maxmemory", "1mb", "requirepass", "pw"]),
            ["CONFIG", "SET", "maxmemory", "1mb", "requirepass", "***"]
        );
        assert_eq!(redact_args(&["CONFIG", "GET", "requirepass"]), ["CONFIG", "GET", "requirepass"]);
    }

    #[test]
    fn acl_setuser_rules_are_hidden() {
        assert_eq!(
            redact_args(&["ACL", "SETUSER", "bob", ">pw", "on"]),
            ["ACL", "SETUSER", "bob", "***", "***"]
        );
        assert_eq!(redact_args(&["ACL", "LIST"]), ["ACL", "LIST"]);
    }

    #[test]
    fn config_set_tls_passphrases_are_hidden() {
        assert_eq!(
            redact_args(&["CONFIG", "SET", "tls-key-file-pass", "a", "tls-key-file", "k.pem"]),
            ["CONFIG", "SET", "tls-key-file-pass", "***", "tls-key-file", "k.pem"]
        );
        assert_eq!(
            redact_args(&["config", "set", "TLS-CLIENT-KEY-FILE-PASS", "b", "masterauth", "c"]),
            ["config", "set", "TLS-CLIENT-KEY-FILE-PASS", "***", "masterauth", "***"]
        );
    }

    #[test]
    fn acl_dryrun_redacts_its_nested_command_like_a_top_level_one() {
        assert_eq!(
            redact_args(&["ACL", "DRYRUN", "bob", "AUTH", "pw"]),
            ["ACL", "DRYRUN", "bob", "AUTH", "***"]
        );
        assert_eq!(
            redact_args(&["acl", "dryrun", "bob", "hello", "3", "auth", "default", "pw", "setname", "x"]),
            ["acl", "dryrun", "bob", "hello", "3", "auth", "***", "***", "setname", "x"]
        );
        assert_eq!(
            redact_args(&["ACL", "DRYRUN", "bob", "CONFIG", "SET", "requirepass", "pw", "maxmemory", "1"]),
            ["ACL", "DRYRUN", "bob", "CONFIG", "SET", "requirepass", "***", "maxmemory", "1"]
        );
        assert_eq!(
            redact_args(&["ACL", "DRYRUN", "bob", "ACL", "SETUSER", "al", ">pw"]),
            ["ACL", "DRYRUN", "bob", "ACL", "SETUSER", "al", "***"]
        );
        assert_eq!(
            redact_args(&["ACL", "DRYRUN", "bob", "MIGRATE", "h", "1", "k", "0", "5", "AUTH", "pw"]),
            ["ACL", "DRYRUN", "bob", "MIGRATE", "h", "1", "k", "0", "5", "AUTH", "***"]
        );
        // Nested again: still a state machine, no recursion.
        assert_eq!(
            redact_args(&["ACL", "DRYRUN", "a", "ACL", "DRYRUN", "b", "AUTH", "pw"]),
            ["ACL", "DRYRUN", "a", "ACL", "DRYRUN", "b", "AUTH", "***"]
        );
        let deep: Vec<&str> =
            std::iter::repeat_n(["ACL", "DRYRUN", "u"], 500).flatten().chain(["AUTH", "pw"]).collect();
        let out = redact_args(&deep);
        assert_eq!(out.last().map(String::as_str), Some("***"));
        assert_eq!(out.iter().filter(|a| *a == "***").count(), 1);
        // A nested command without secrets is shown whole.
        assert_eq!(redact_args(&["ACL", "DRYRUN", "bob", "GET", "k"]), ["ACL", "DRYRUN", "bob", "GET", "k"]);
    }

    #[test]
    fn secret_config_parameters() {
        for p in ["requirepass", "MASTERAUTH", "tls-key-file-pass", "tls-client-key-file-pass"] {
            assert!(secret_config_parameter(p.as_bytes()), "{p}");
        }
        for p in ["masteruser", "tls-key-file", "tls-client-key-file", "maxmemory", ""] {
            assert!(!secret_config_parameter(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn migrate_auth2() {
        assert_eq!(
            redact_args(&["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u", "p", "KEYS", "a"]),
            ["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "***", "***", "KEYS", "a"]
        );
    }
}
