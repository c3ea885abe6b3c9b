//! Which command arguments are secrets.
//!
//! AUTH travels in clear text. Every preview, log and export goes through this policy so a
//! password never reaches a screen or a file: `AUTH`, `HELLO … AUTH user pass`, `MIGRATE …
//! AUTH pass` / `AUTH2 user pass`, `CONFIG SET requirepass|masterauth …` and `ACL SETUSER`
//! rules that set passwords (`>pass`, `#hash`).

/// Redaction state for the arguments of one command, fed in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Redactor {
    mode: Mode,
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
}

impl Redactor {
    /// Sets the policy from the (upper-cased) command name.
    pub fn command(&mut self, name: &[u8]) {
        self.mode = match name {
            b"AUTH" => Mode::All,
            b"HELLO" | b"MIGRATE" => Mode::Keywords,
            b"CONFIG" => Mode::Config,
            b"ACL" => Mode::Acl,
            _ => Mode::None,
        };
    }

    /// True when the command may carry a secret anywhere (used for inline commands, whose
    /// arguments are not followed keyword by keyword).
    pub fn hides_any(&self) -> bool {
        self.mode != Mode::None
    }

    /// Sees argument `idx` (1-based after the name) whose leading bytes are `prefix`, after it
    /// was shown or hidden; arms keyword rules for the arguments that follow.
    pub fn argument(&mut self, idx: u32, prefix: &[u8]) {
        match self.mode {
            Mode::Keywords => {
                if prefix.eq_ignore_ascii_case(b"AUTH") {
                    // HELLO AUTH user pass / MIGRATE AUTH pass: hide the next two to be safe.
                    self.from = idx + 1;
                    self.count = 2;
                } else if prefix.eq_ignore_ascii_case(b"AUTH2") {
                    self.from = idx + 1;
                    self.count = 2;
                }
            }
            Mode::Config => {
                if idx == 1 && !prefix.eq_ignore_ascii_case(b"SET") {
                    self.mode = Mode::None;
                } else if idx >= 2 && idx.is_multiple_of(2) {
                    let p = prefix.to_ascii_lowercase();
                    if p.starts_with(b"requirepass") || p.starts_with(b"masterauth") {
                        self.from = idx + 1;
                        self.count = 1;
                    }
                }
            }
            Mode::Acl => {
                if idx == 1 && !prefix.eq_ignore_ascii_case(b"SETUSER") {
                    self.mode = Mode::None;
                }
            }
            Mode::None | Mode::All => {}
        }
    }

    /// True when argument `idx` must not be shown.
    pub fn redacting(&self, idx: u32) -> bool {
        if idx == 0 {
            return false;
        }
        match self.mode {
            Mode::All => true,
            // ACL rules cannot be judged before their first byte is seen; hide every rule.
            Mode::Acl => idx >= 3,
            Mode::None => false,
            Mode::Keywords | Mode::Config => idx >= self.from && idx < self.from + self.count,
        }
    }
}

/// Redacts a whole command given as separate arguments (MONITOR lines, SLOWLOG entries,
/// console history). Returns the arguments with secrets replaced by `***`.
pub fn redact_args<S: AsRef<[u8]>>(args: &[S]) -> Vec<String> {
    let mut r = Redactor::default();
    let mut out = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref();
        let idx = u32::try_from(i).unwrap_or(u32::MAX);
        if idx == 0 {
            r.command(&a.to_ascii_uppercase());
            out.push(crate::analysis::resp::scan::escape(a));
            continue;
        }
        if r.redacting(idx) {
            out.push("***".to_string());
        } else {
            out.push(crate::analysis::resp::scan::escape(a));
        }
        r.argument(idx, a);
    }
    out
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
    fn migrate_auth2() {
        assert_eq!(
            redact_args(&["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u", "p", "KEYS", "a"]),
            ["MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "***", "***", "KEYS", "a"]
        );
    }
}
