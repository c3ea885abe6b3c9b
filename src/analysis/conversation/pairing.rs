//! What a reply is when a conversation is not one reply per command (contract v1.1): pub/sub
//! confirmations and messages, MONITOR's feed, `CLIENT REPLY`, replication. Pure functions
//! of a command's first words and a reply's [`Shape`], and the small state a connection's
//! modes need; the conversation applies them in wire order.

use crate::protocol::resp::Shape;

/// What a command does to the conversation, from its name and first arguments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CmdClass {
    /// Answered by one reply.
    #[default]
    Normal,
    /// A subscribe-family command: answered by its first confirmation; `args` channels or
    /// patterns get one confirmation each (0: an argument-less UNSUBSCRIBE, one per current
    /// subscription of its kind, or one when there is none).
    Subscribe {
        /// Channels, patterns or shard channels.
        kind: SubKind,
        /// An UN- form.
        unsubscribe: bool,
        /// Channel or pattern arguments.
        args: u32,
    },
    /// `MONITOR`: after its `+OK` the connection streams feed lines.
    Monitor,
    /// `RESET`: ends MONITOR, subscriptions and `CLIENT REPLY OFF`; answered `+RESET`.
    Reset,
    /// `CLIENT REPLY OFF`: no reply, and none until `ON`.
    ReplyOff,
    /// `CLIENT REPLY ON`: always answered `+OK`.
    ReplyOn,
    /// `CLIENT REPLY SKIP`: no reply, nor for the next command.
    ReplySkip,
    /// `SYNC` or `PSYNC`: the connection becomes a replica link.
    Sync {
        /// `PSYNC` (answered `+FULLRESYNC` then an RDB, or `+CONTINUE`); `SYNC` is answered
        /// by the RDB itself.
        psync: bool,
    },
    /// `REPLCONF ACK`, which a replica sends and nobody answers.
    ReplconfAck,
}

/// The three kinds of subscription, counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    /// SUBSCRIBE.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE.
    Shard,
}

/// The class of a command named `name` (upper-cased), whose second and third arguments
/// begin with `sub` and `arg2`, of `argc` arguments in all.
pub fn classify(name: &[u8], sub: &[u8], arg2: &[u8], argc: u32) -> CmdClass {
    let args = argc.saturating_sub(1);
    let subscribe = |kind: SubKind, unsubscribe: bool| {
        // A subscribe without channels is an arity error, answered by one error reply.
        if !unsubscribe && args == 0 {
            CmdClass::Normal
        } else {
            CmdClass::Subscribe { kind, unsubscribe, args }
        }
    };
    match name {
        b"SUBSCRIBE" => subscribe(SubKind::Channel, false),
        b"PSUBSCRIBE" => subscribe(SubKind::Pattern, false),
        b"SSUBSCRIBE" => subscribe(SubKind::Shard, false),
        b"UNSUBSCRIBE" => subscribe(SubKind::Channel, true),
        b"PUNSUBSCRIBE" => subscribe(SubKind::Pattern, true),
        b"SUNSUBSCRIBE" => subscribe(SubKind::Shard, true),
        b"MONITOR" if argc == 1 => CmdClass::Monitor,
        b"RESET" if argc == 1 => CmdClass::Reset,
        b"SYNC" if argc == 1 => CmdClass::Sync { psync: false },
        b"PSYNC" if argc == 3 => CmdClass::Sync { psync: true },
        b"REPLCONF" if sub.eq_ignore_ascii_case(b"ACK") => CmdClass::ReplconfAck,
        b"CLIENT" if argc == 3 && sub.eq_ignore_ascii_case(b"REPLY") => {
            if arg2.eq_ignore_ascii_case(b"OFF") {
                CmdClass::ReplyOff
            } else if arg2.eq_ignore_ascii_case(b"ON") {
                CmdClass::ReplyOn
            } else if arg2.eq_ignore_ascii_case(b"SKIP") {
                CmdClass::ReplySkip
            } else {
                CmdClass::Normal
            }
        }
        _ => CmdClass::Normal,
    }
}

/// A subscription confirmation: a three-element array or push whose first element names a
/// subscribe-family command and whose last is the subscription count.
pub fn confirmation(shape: &Shape) -> Option<(SubKind, bool)> {
    if shape.len != 3 || shape.last_int.is_none() {
        return None;
    }
    let h = shape.head.as_bytes();
    let word = |w: &[u8]| h.eq_ignore_ascii_case(w);
    Some(if word(b"subscribe") {
        (SubKind::Channel, false)
    } else if word(b"unsubscribe") {
        (SubKind::Channel, true)
    } else if word(b"psubscribe") {
        (SubKind::Pattern, false)
    } else if word(b"punsubscribe") {
        (SubKind::Pattern, true)
    } else if word(b"ssubscribe") {
        (SubKind::Shard, false)
    } else if word(b"sunsubscribe") {
        (SubKind::Shard, true)
    } else {
        return None;
    })
}

/// A published message as a RESP2 subscriber receives it: `message` or `smessage` with
/// channel and payload, `pmessage` with pattern, channel and payload.
pub fn published(shape: &Shape) -> bool {
    let h = shape.head.as_bytes();
    (shape.len == 3 && (h.eq_ignore_ascii_case(b"message") || h.eq_ignore_ascii_case(b"smessage")))
        || (shape.len == 4 && h.eq_ignore_ascii_case(b"pmessage"))
}

/// The error Redis writes on a connection it refuses at accept (`maxclients`), before it
/// reads anything: never an answer, whatever the client had already sent.
pub fn refusal(shape: &Shape) -> bool {
    shape.head.as_bytes().starts_with(b"ERR max number of client")
}

/// A MONITOR feed line's head: `<seconds>.<microseconds> [`, which no reply to a command
/// sent on a monitoring connection starts with.
pub fn feed_line(head: &[u8]) -> bool {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let Some(dot) = head.iter().position(|&b| b == b'.') else { return false };
    let Some(space) = head.iter().position(|&b| b == b' ') else { return false };
    dot < space && digits(&head[..dot]) && digits(&head[dot + 1..space]) && head.get(space + 1) == Some(&b'[')
}

/// Subscriptions and modes of one connection, as the confirmations and replies tell them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Modes {
    /// `CLIENT REPLY OFF` is in force.
    pub reply_off: bool,
    /// The next command's reply is skipped (`CLIENT REPLY SKIP`).
    pub skip_next: bool,
    /// Confirmations still to come for subscribe commands already answered: pushes.
    pub extra_confirmations: u64,
    /// Channels and patterns subscribed (the count confirmations carry), and of them the
    /// channels and the patterns; shard channels apart.
    pub total: u64,
    /// Channels subscribed.
    pub channels: u64,
    /// Patterns subscribed.
    pub patterns: u64,
    /// Shard channels subscribed.
    pub shards: u64,
    /// MONITOR answered `+OK` and not ended by `RESET`.
    pub monitoring: bool,
}

impl Modes {
    /// Whether a command of `class` is answered, given the modes before it; then applies
    /// what it does to them (Redis's `CLIENT REPLY` flags, in the order Redis checks them).
    pub fn command(&mut self, class: CmdClass) -> bool {
        let answered = if self.reply_off {
            matches!(class, CmdClass::ReplyOn | CmdClass::Reset)
        } else if self.skip_next {
            self.skip_next = false;
            class == CmdClass::ReplyOn
        } else {
            !matches!(class, CmdClass::ReplyOff | CmdClass::ReplySkip | CmdClass::ReplconfAck)
        };
        match class {
            CmdClass::ReplyOff => {
                self.reply_off = true;
                self.skip_next = false;
            }
            CmdClass::ReplyOn | CmdClass::Reset => {
                self.reply_off = false;
                self.skip_next = false;
            }
            // SKIP is ignored while OFF.
            CmdClass::ReplySkip if !self.reply_off => self.skip_next = true,
            _ => {}
        }
        answered
    }

    /// A confirmation of `kind` carrying the new `count`: updates the subscriptions.
    pub fn confirmed(&mut self, kind: SubKind, unsubscribe: bool, count: i64) {
        let count = u64::try_from(count).unwrap_or(0);
        match kind {
            SubKind::Shard => self.shards = count,
            SubKind::Channel | SubKind::Pattern => {
                let n = if kind == SubKind::Channel { &mut self.channels } else { &mut self.patterns };
                if unsubscribe && count < self.total {
                    *n = n.saturating_sub(1);
                } else if !unsubscribe && count > self.total {
                    *n += 1;
                }
                self.total = count;
            }
        }
    }

    /// Confirmations a subscribe command of `kind` with `args` arguments gets in all.
    pub fn confirmations(&self, kind: SubKind, args: u32) -> u64 {
        if args > 0 {
            return u64::from(args);
        }
        let current = match kind {
            SubKind::Channel => self.channels,
            SubKind::Pattern => self.patterns,
            SubKind::Shard => self.shards,
        };
        current.max(1)
    }

    /// A RESP2 connection holding any subscription is in subscribed state.
    pub fn subscribed(&self) -> bool {
        self.total > 0 || self.shards > 0
    }

    /// `RESET` was answered: no subscriptions, no MONITOR.
    pub fn reset(&mut self) {
        *self = Modes::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resp::Head;

    fn shape(head: &str, len: u32, last_int: Option<i64>) -> Shape {
        let mut h = Head::default();
        h.push(head.as_bytes());
        Shape { head: h, len, last_int }
    }

    #[test]
    fn commands_are_classified_by_their_first_words() {
        assert_eq!(
            classify(b"SUBSCRIBE", b"a", b"b", 3),
            CmdClass::Subscribe { kind: SubKind::Channel, unsubscribe: false, args: 2 }
        );
        assert_eq!(classify(b"SUBSCRIBE", b"", b"", 1), CmdClass::Normal, "an arity error is one reply");
        assert_eq!(
            classify(b"UNSUBSCRIBE", b"", b"", 1),
            CmdClass::Subscribe { kind: SubKind::Channel, unsubscribe: true, args: 0 }
        );
        assert_eq!(classify(b"CLIENT", b"reply", b"off", 3), CmdClass::ReplyOff);
        assert_eq!(classify(b"CLIENT", b"REPLY", b"Skip", 3), CmdClass::ReplySkip);
        assert_eq!(classify(b"CLIENT", b"LIST", b"", 2), CmdClass::Normal);
        assert_eq!(classify(b"PSYNC", b"?", b"-1", 3), CmdClass::Sync { psync: true });
        assert_eq!(classify(b"REPLCONF", b"ack", b"123", 3), CmdClass::ReplconfAck);
        assert_eq!(classify(b"REPLCONF", b"listening-port", b"6380", 3), CmdClass::Normal);
    }

    #[test]
    fn reply_shapes_say_what_they_are() {
        assert_eq!(confirmation(&shape("subscribe", 3, Some(1))), Some((SubKind::Channel, false)));
        assert_eq!(confirmation(&shape("PUNSUBSCRIBE", 3, Some(0))), Some((SubKind::Pattern, true)));
        assert_eq!(confirmation(&shape("subscribe", 3, None)), None, "a list of three strings is not one");
        assert!(published(&shape("message", 3, None)));
        assert!(published(&shape("pmessage", 4, None)));
        assert!(!published(&shape("pmessage", 3, None)));
        assert!(refusal(&shape("ERR max number of clients reached", 0, None)));
        assert!(!refusal(&shape("ERR unknown command", 0, None)));
        assert!(feed_line(b"1700000000.123456 [0 127"));
        assert!(!feed_line(b"OK"));
        assert!(!feed_line(b"1.5"));
        assert!(!feed_line(b"1.5 x"));
    }

    #[test]
    fn client_reply_follows_redis_flags() {
        let mut m = Modes::default();
        assert!(!m.command(CmdClass::ReplyOff));
        assert!(!m.command(CmdClass::Normal), "OFF silences what follows");
        assert!(!m.command(CmdClass::ReplySkip), "SKIP is silenced and ignored while OFF");
        assert!(m.command(CmdClass::ReplyOn), "ON is always answered");
        assert!(m.command(CmdClass::Normal));
        assert!(!m.command(CmdClass::ReplySkip));
        assert!(!m.command(CmdClass::Normal), "the command after SKIP is silenced");
        assert!(m.command(CmdClass::Normal), "and only that one");
        assert!(!m.command(CmdClass::ReplySkip));
        assert!(m.command(CmdClass::ReplyOn), "ON right after SKIP is answered");
        assert!(!m.command(CmdClass::ReplyOff));
        assert!(m.command(CmdClass::Reset), "RESET ends OFF and is answered");
        assert!(m.command(CmdClass::Normal));
    }

    #[test]
    fn counts_follow_confirmations() {
        let mut m = Modes::default();
        m.confirmed(SubKind::Channel, false, 1);
        m.confirmed(SubKind::Channel, false, 2);
        m.confirmed(SubKind::Channel, false, 2); // already subscribed
        m.confirmed(SubKind::Pattern, false, 3);
        assert_eq!((m.channels, m.patterns, m.total), (2, 1, 3));
        assert_eq!(m.confirmations(SubKind::Channel, 0), 2);
        assert_eq!(m.confirmations(SubKind::Shard, 0), 1, "one confirmation when there is none");
        m.confirmed(SubKind::Channel, true, 2);
        m.confirmed(SubKind::Channel, true, 1);
        assert_eq!((m.channels, m.patterns), (0, 1));
        assert!(m.subscribed());
    }
}
