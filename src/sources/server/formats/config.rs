//! `CONFIG GET` replies with the values of secret parameters hidden.
//!
//! `CONFIG GET requirepass` (or `masterauth`, the TLS key passphrases, or a glob such as `*`
//! or `*pass*` that matches them) answers with the password in clear: `[name, value, …]` in
//! RESP2, a map folded to the same flat list in RESP3. A reply shown to a person keeps the
//! names and hides each secret value as `***`, by the crate-wide policy
//! ([`secret_config_parameter`]). An empty value stays: it says no password is set, which is
//! no secret.
//!
//! Inside `MULTI` the reply comes later, as one element of `EXEC`'s array, so
//! [`ReplyRedactor`] follows the transaction: which queued commands were `CONFIG GET`.

use super::Value;
use crate::protocol::resp::redact::secret_config_parameter;

/// What a hidden value shows instead.
const HIDDEN: &str = "***";

/// True for `CONFIG GET …`, in any case.
fn is_config_get<S: AsRef<[u8]>>(args: &[S]) -> bool {
    let word = |i: usize, w: &[u8]| args.get(i).is_some_and(|a| a.as_ref().eq_ignore_ascii_case(w));
    word(0, b"CONFIG") && word(1, b"GET")
}

/// A `CONFIG GET` reply with every non-empty value of a secret parameter replaced.
pub fn redact_config_get(reply: Value) -> Value {
    let Value::Array(mut items) = reply else { return reply };
    for pair in items.chunks_exact_mut(2) {
        let [name, value] = pair else { continue };
        let secret = name.as_bytes().is_some_and(secret_config_parameter);
        if secret && value.as_bytes().is_some_and(|v| !v.is_empty()) {
            *value = Value::Simple(HIDDEN.to_string());
        }
    }
    Value::Array(items)
}

/// Follows one connection's commands so every `CONFIG GET` reply is redacted, the ones
/// queued in a transaction included. Reset it with the connection.
#[derive(Debug, Default)]
pub struct ReplyRedactor {
    /// Inside `MULTI`: for each command queued so far, whether it was `CONFIG GET`.
    queued: Option<Vec<bool>>,
}

impl ReplyRedactor {
    /// The reply to `args`, safe to show.
    pub fn reply<S: AsRef<[u8]>>(&mut self, args: &[S], reply: Value) -> Value {
        let name = args.first().map(|a| a.as_ref().to_ascii_uppercase()).unwrap_or_default();
        let failed = matches!(reply, Value::Error(_));
        match name.as_slice() {
            b"MULTI" if !failed && self.queued.is_none() => self.queued = Some(Vec::new()),
            b"EXEC" => return self.exec(reply),
            b"DISCARD" | b"RESET" => self.queued = None,
            _ => {
                if let Some(q) = self.queued.as_mut() {
                    if reply == Value::Simple("QUEUED".into()) {
                        q.push(is_config_get(args));
                    }
                } else if is_config_get(args) {
                    return redact_config_get(reply);
                }
            }
        }
        reply
    }

    /// `EXEC`'s array: each queued `CONFIG GET`'s reply redacted in its place.
    fn exec(&mut self, reply: Value) -> Value {
        let Some(queued) = self.queued.take() else { return reply };
        let Value::Array(items) = reply else { return reply };
        let redacted = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| if queued.get(i) == Some(&true) { redact_config_get(v) } else { v })
            .collect();
        Value::Array(redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    fn pairs(kv: &[(&str, &str)]) -> Value {
        Value::Array(kv.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect())
    }

    fn hidden() -> Value {
        Value::Simple(HIDDEN.into())
    }

    #[test]
    fn secret_values_are_hidden_and_everything_else_kept() {
        let reply = pairs(&[
            ("requirepass", "pw"),
            ("masterauth", ""),
            ("tls-key-file-pass", "k"),
            ("tls-client-key-file-pass", "c"),
            ("maxmemory", "0"),
        ]);
        let mut r = ReplyRedactor::default();
        assert_eq!(
            r.reply(&["config", "get", "*"], reply.clone()),
            Value::Array(vec![
                bulk("requirepass"),
                hidden(),
                bulk("masterauth"),
                bulk(""),
                bulk("tls-key-file-pass"),
                hidden(),
                bulk("tls-client-key-file-pass"),
                hidden(),
                bulk("maxmemory"),
                bulk("0"),
            ])
        );
        // Another command's reply is not touched, even when it looks the same.
        assert_eq!(r.reply(&["LRANGE", "l", "0", "-1"], reply.clone()), reply);
        // Odd shapes are left as they are, never a panic.
        for odd in [Value::Nil, Value::Error("ERR".into()), Value::Array(vec![bulk("requirepass")])] {
            assert_eq!(r.reply(&["CONFIG", "GET", "requirepass"], odd.clone()), odd);
        }
    }

    #[test]
    fn a_transaction_is_followed_to_its_exec() {
        let mut r = ReplyRedactor::default();
        let queued = Value::Simple("QUEUED".into());
        r.reply(&["MULTI"], Value::Simple("OK".into()));
        r.reply(&["GET", "k"], queued.clone());
        r.reply(&["CONFIG", "GET", "requirepass"], queued.clone());
        let exec = Value::Array(vec![pairs(&[("requirepass", "x")]), pairs(&[("requirepass", "pw")])]);
        assert_eq!(
            r.reply(&["EXEC"], exec),
            Value::Array(vec![
                pairs(&[("requirepass", "x")]),
                Value::Array(vec![bulk("requirepass"), hidden()])
            ])
        );
        // After EXEC, replies are judged one by one again.
        assert_eq!(
            r.reply(&["CONFIG", "GET", "requirepass"], pairs(&[("requirepass", "pw")])),
            Value::Array(vec![bulk("requirepass"), hidden()])
        );
        // DISCARD ends the transaction.
        r.reply(&["MULTI"], Value::Simple("OK".into()));
        r.reply(&["DISCARD"], Value::Simple("OK".into()));
        assert_eq!(
            r.reply(&["CONFIG", "GET", "masterauth"], pairs(&[("masterauth", "pw")])),
            Value::Array(vec![bulk("masterauth"), hidden()])
        );
    }
}
