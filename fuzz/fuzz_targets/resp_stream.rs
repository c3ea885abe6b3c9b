//! One direction's RESP stream fed in arbitrary chunks with gaps, in both roles.
//!
//! Input layout: byte 0 holds options (bit 0: start joined mid-connection), byte 1 the number
//! of cuts (mod 32), then 3 bytes per cut (bit 7 of the first: a gap follows the cut, its low
//! bits the gap's length; the next two: where the cut falls), then the stream itself. The same
//! stream also runs with previews off and uncut (gaps at the same stream offsets): the
//! scanner's state survives any chunk boundary and previews only copy display bytes, so all
//! three must see the same messages, errors and resumptions.

#![no_main]

use libfuzzer_sys::fuzz_target;
use respscope::analysis::resp::{Event, RespStream};
use respscope::protocol::resp::{Kind, ParseError, Role};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Message { start: u64, end: u64, kind: Kind },
    Error { offset: u64, error: ParseError },
    Resumed { offset: u64, skipped: u64 },
}

enum Step<'a> {
    Feed(&'a [u8]),
    Gap(u64),
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    seen: Vec<Seen>,
    gaps: u64,
    parse_errors: u64,
    skipped_bytes: u64,
    offset: u64,
}

/// Feeds the steps, checking every invariant that holds whatever the input.
fn run(role: Role, previews: bool, joined: bool, steps: &[Step<'_>]) -> Outcome {
    let mut s: RespStream<u32> = if joined { RespStream::joined(role, previews, 0) } else { RespStream::new(role, previews) };
    let mut seen = Vec::new();
    // Offset one past the last byte of the last message (messages never overlap or go back).
    let mut last_end = 0u64;
    let mut pos = 0u64;
    let mut fed = 0u64;
    let mut msg_bytes = 0u64;
    let mut gap_calls = 0u64;
    let mut errors = 0u64;
    for (owner, step) in steps.iter().enumerate() {
        let owner = owner as u32;
        match step {
            Step::Gap(len) => {
                s.gap(*len);
                gap_calls += 1;
                pos += len;
                // Nothing before a gap can complete after it.
                last_end = last_end.max(pos);
            }
            Step::Feed(data) => {
                let chunk_end = pos + data.len() as u64;
                s.feed(data, owner, &mut |e: &Event<'_, u32>| match e {
                    Event::Message { found, preview, .. } => {
                        let m = found.msg;
                        assert!(m.start < m.end, "empty message {m:?}");
                        assert!(m.start >= last_end, "message {m:?} starts before the previous end {last_end}");
                        assert!(m.end <= chunk_end, "message {m:?} ends after the bytes fed ({chunk_end})");
                        match (role, m.kind) {
                            (Role::Requests, Kind::Command { argc, .. }) => assert!(argc >= 1),
                            (Role::Replies, Kind::Reply { .. }) => {}
                            (r, k) => panic!("{r:?} stream produced {k:?}"),
                        }
                        assert!(found.first <= found.last && found.last <= owner, "owners {found:?} at {owner}");
                        if let Some(sp) = found.split {
                            assert_eq!(sp.first, found.first);
                            assert!(sp.chunks >= 2, "{sp:?}");
                            assert!(sp.first_bytes + sp.last_bytes <= m.end - m.start, "{sp:?} of {m:?}");
                        }
                        if !previews {
                            assert!(preview.is_empty());
                        }
                        last_end = m.end;
                        msg_bytes += m.end - m.start;
                        seen.push(Seen::Message { start: m.start, end: m.end, kind: m.kind });
                    }
                    Event::ParseError { offset, error, owner: o } => {
                        assert!(*offset >= last_end && *offset <= chunk_end, "error at {offset}, last end {last_end}");
                        assert!(*o <= owner);
                        errors += 1;
                        seen.push(Seen::Error { offset: *offset, error: *error });
                    }
                    Event::Resumed { offset, skipped } => {
                        assert!(*offset >= last_end && *offset <= chunk_end, "resumed at {offset}, last end {last_end}");
                        assert!(*skipped <= fed + data.len() as u64);
                        last_end = *offset;
                        seen.push(Seen::Resumed { offset: *offset, skipped: *skipped });
                    }
                });
                pos = chunk_end;
                fed += data.len() as u64;
            }
        }
        assert_eq!(s.offset(), pos, "stream offset after step {owner}");
    }
    s.finish();
    assert_eq!(s.gaps, gap_calls);
    assert_eq!(s.parse_errors, errors);
    assert!(msg_bytes + s.skipped_bytes <= fed, "messages {msg_bytes} + skipped {} > fed {fed}", s.skipped_bytes);
    Outcome { seen, gaps: s.gaps, parse_errors: s.parse_errors, skipped_bytes: s.skipped_bytes, offset: pos }
}

fuzz_target!(|data: &[u8]| {
    let [opts, ncuts, rest @ ..] = data else { return };
    let ncuts = usize::from(*ncuts % 32);
    let header = (ncuts * 3).min(rest.len());
    let (cuts, stream) = rest.split_at(header);
    // (position, gap after it)
    let mut plan: Vec<(usize, Option<u64>)> = cuts
        .chunks_exact(3)
        .map(|c| {
            let at = usize::from(u16::from_be_bytes([c[1], c[2]])) % (stream.len() + 1);
            let gap = (c[0] & 0x80 != 0).then(|| match c[0] & 0x7f {
                0x7f => 1 << 40,
                n => u64::from(n) + 1,
            });
            (at, gap)
        })
        .collect();
    plan.sort_by_key(|&(at, _)| at);

    let mut cut_steps = Vec::new();
    let mut whole = Vec::new();
    let mut from = 0;
    let mut whole_from = 0;
    for &(at, gap) in &plan {
        if at > from {
            cut_steps.push(Step::Feed(&stream[from..at]));
            from = at;
        }
        if let Some(len) = gap {
            cut_steps.push(Step::Gap(len));
            if at > whole_from {
                whole.push(Step::Feed(&stream[whole_from..at]));
                whole_from = at;
            }
            whole.push(Step::Gap(len));
        }
    }
    if from < stream.len() {
        cut_steps.push(Step::Feed(&stream[from..]));
    }
    if whole_from < stream.len() {
        whole.push(Step::Feed(&stream[whole_from..]));
    }

    let joined = opts & 1 != 0;
    for role in [Role::Requests, Role::Replies] {
        let a = run(role, true, joined, &cut_steps);
        let b = run(role, false, joined, &cut_steps);
        assert_eq!(a, b, "{role:?}: previews changed what was parsed");
        let c = run(role, false, joined, &whole);
        assert_eq!(a, c, "{role:?}: cutting the stream changed what was parsed");
    }
});
