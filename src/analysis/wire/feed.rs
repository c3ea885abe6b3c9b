//! From reassembled bytes to the conversation: each RESP event a stream reports is folded
//! into the connection's conversation, the capture-wide names and the interval's latencies.

use super::connection::{Detail, Shared, Streams, MAX_ERROR_RECORDS};
use super::records::{Dir, ParseErrorRecord, SegmentItem, SegmentRecord};
use crate::analysis::conversation::latency::MAX_LATENCY_US;
use crate::analysis::conversation::{library, Conversation, SegRef, Step};
use crate::analysis::resp::{Cut, Event, Found, Next, RespStream};
use crate::analysis::tcp::Delivery;
use crate::protocol::resp::{Kind, Preview};

/// A TLS record header (handshake or application data, TLS 1.0 to 1.3): no RESP message
/// starts with these bytes.
pub(super) fn looks_like_tls(b: &[u8]) -> bool {
    matches!(b, [0x16 | 0x17, 0x03, 0x00..=0x04, ..])
}

/// The bytes a stream was fed and where they start in it: a message that lies inside them is
/// read from here, for the few commands that need more than the scanner keeps.
#[derive(Clone, Copy)]
pub(super) struct Chunk<'a> {
    /// Stream offset of `bytes[0]`.
    pub(super) offset: u64,
    pub(super) bytes: &'a [u8],
}

impl Chunk<'_> {
    /// The message's bytes when all of them are in this chunk, else nothing (a message begun
    /// in an earlier chunk, or parsed again from bytes a resync held).
    fn message(&self, f: &Found<SegRef>) -> &[u8] {
        let (Some(from), Some(to)) =
            (f.msg.start.checked_sub(self.offset), f.msg.end.checked_sub(self.offset))
        else {
            return &[];
        };
        match (usize::try_from(from), usize::try_from(to)) {
            (Ok(from), Ok(to)) => self.bytes.get(from..to).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// Folds one stream event into the connection (and `rec`, the segment's listing); returns
/// what the stream should parse next. Inlined into each stream's consumer: called once per
/// message, its seven arguments cost more to pass than the common path costs to run.
#[inline(always)]
pub(super) fn apply_event(
    ev: &Event<'_, SegRef>,
    chunk: Chunk<'_>,
    dir: Dir,
    conv: &mut Conversation,
    shared: &mut Shared<'_>,
    errors: &mut Vec<ParseErrorRecord>,
    rec: Option<&mut SegmentRecord>,
) -> Next {
    match ev {
        Event::Message { found, preview, cuts, more_cuts } => {
            let (step, next) = message(found, preview, (cuts, *more_cuts), chunk, dir, conv, shared);
            if let Some(r) = rec {
                r.items.push(SegmentItem { found: **found, preview: **preview, step });
            }
            next
        }
        &Event::ParseError { offset, error, owner } => {
            if errors.len() < MAX_ERROR_RECORDS {
                errors.push(ParseErrorRecord { frame: owner.frame, dir, offset, error });
            }
            if let Some(r) = rec {
                r.errors.push(error);
            }
            Next::Same
        }
        Event::Resumed { .. } => Next::Same,
    }
}

/// One message: a client's command, a server's reply or push, or on a replica link what the
/// master sends after the handshake (its RDB file, then the commands it propagates).
#[inline(always)]
fn message(
    found: &Found<SegRef>,
    preview: &Preview,
    cuts: (&[Cut<SegRef>], u32),
    chunk: Chunk<'_>,
    dir: Dir,
    conv: &mut Conversation,
    shared: &mut Shared<'_>,
) -> (Step, Next) {
    match &found.msg.kind {
        Kind::Command { name, .. } if dir == Dir::ToClient => {
            shared.propagated.count(name);
            conv.propagated();
            (Step::Propagated, Next::Same)
        }
        Kind::Command { name, sub, arg2, argc, .. } => {
            if library::may_announce(name) {
                conv.announce(chunk.message(found));
            }
            let (id, class) = shared.names.command(name, sub, arg2, *argc);
            (conv.command(found, preview, cuts, id, class), Next::Same)
        }
        Kind::Rdb { .. } => {
            conv.rdb(found);
            (Step::Rdb, Next::Same)
        }
        Kind::Reply { .. } => {
            let (step, answered, next) = conv.reply(found);
            if let Step::Reply { .. } = step {
                // Every reply is a command the server ran: the interleaving estimate counts
                // them by the frame that completed them (pushes are not).
                shared.replies.record(found.last.frame);
            }
            if let Step::Reply { latency_us: Some(us), .. } = step {
                if let Some(h) = shared.interval.as_deref_mut() {
                    let _ = h.record(us.clamp(1, MAX_LATENCY_US));
                }
                if let (Some(t), Some((id, _))) = (shared.by_command.as_deref_mut(), answered) {
                    t.record(id, us);
                }
                // A PING alone in flight is a round trip plus the server's cheapest
                // command: the client's own RTT probe.
                if let Some((id, true)) = answered {
                    if shared.names.is_ping(id) {
                        conv.ping_rtt.record(us);
                    }
                }
            }
            (step, next)
        }
    }
}

/// Hands what reassembly holds to RESP, both directions: every hole it waits on becomes a
/// gap and the bytes behind it are parsed. At the `end` (of the capture or the connection) a
/// hole before a FIN is a gap too and a message in progress is dropped; otherwise only the
/// bytes a resync holds are given up. Returns the streams' gaps and parse errors.
pub(super) fn flush_streams(
    s: &mut Streams,
    detail: &mut Detail,
    tls: bool,
    shared: &mut Shared<'_>,
    end: bool,
) -> (u64, u64) {
    for (d, (r, stream)) in s.reasm.iter_mut().zip(s.resp.iter_mut()).enumerate() {
        let dir = if d == 0 { Dir::ToServer } else { Dir::ToClient };
        let conv = &mut detail.conv;
        let errors = &mut detail.error_records;
        let mut sink = |dl: Delivery<'_, SegRef>| deliver(dl, tls, dir, stream, conv, shared, errors);
        if end {
            r.finish(&mut sink);
        } else {
            r.give_up_holes(&mut sink);
        }
        if end {
            stream.finish();
        } else {
            stream.drop_held();
        }
    }
    (s.resp[0].gaps + s.resp[1].gaps, s.resp[0].parse_errors + s.resp[1].parse_errors)
}

/// Hands reassembled bytes (or a gap) to a direction's RESP stream outside a live segment:
/// at the end of a capture, or when held bytes are given up.
pub(super) fn deliver(
    dl: Delivery<'_, SegRef>,
    tls: bool,
    dir: Dir,
    stream: &mut RespStream<SegRef>,
    conv: &mut Conversation,
    shared: &mut Shared<'_>,
    errors: &mut Vec<ParseErrorRecord>,
) {
    if tls {
        return;
    }
    match dl {
        Delivery::Data { offset, bytes, owner } => {
            if dir == Dir::ToClient {
                stream.expect(conv.next_after_reply());
            }
            let chunk = Chunk { offset, bytes };
            stream.feed_with(bytes, owner, &mut |ev| apply_event(ev, chunk, dir, conv, shared, errors, None));
        }
        Delivery::Gap { len, .. } => stream.gap(len),
    }
}
