//! The RESP scanner and streams: golden vectors, every prefix is incomplete, any
//! re-segmentation (one byte per segment, reordered, duplicated) gives the same messages.

use proptest::prelude::*;
use respscope::analysis::resp::{Event, RespStream};
use respscope::analysis::tcp::{Delivery, Reassembler};
use respscope::protocol::resp::{Kind, Outcome, ParseError, Role, Scanner};

/// Scans a whole buffer: the messages and, if any, the error that stopped it.
fn scan_all(role: Role, data: &[u8]) -> (Vec<(u64, u64, Kind)>, Option<ParseError>) {
    let mut s = Scanner::new(role, true);
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        let (n, o) = s.advance(&data[pos..]);
        pos += n;
        match o {
            Outcome::Message(m) => out.push((m.start, m.end, m.kind)),
            Outcome::Incomplete => return (out, None),
            Outcome::Error(e) => return (out, Some(e)),
        }
    }
}

fn one_command(data: &[u8]) -> (String, u32, bool) {
    let (msgs, err) = scan_all(Role::Requests, data);
    assert_eq!(err, None, "{:?}", String::from_utf8_lossy(data));
    assert_eq!(msgs.len(), 1, "{:?}", String::from_utf8_lossy(data));
    match msgs[0].2 {
        Kind::Command { name, argc, inline, .. } => (name.to_string_lossy(), argc, inline),
        other => panic!("{other:?} from a request stream"),
    }
}

fn one_reply(data: &[u8]) -> (u8, bool, bool) {
    let (msgs, err) = scan_all(Role::Replies, data);
    assert_eq!(err, None, "{:?}", String::from_utf8_lossy(data));
    assert_eq!(msgs.len(), 1, "{:?}", String::from_utf8_lossy(data));
    assert_eq!(msgs[0].1, data.len() as u64);
    match msgs[0].2 {
        Kind::Reply { ty, error, push, .. } => (ty, error, push),
        other => panic!("{other:?} from a reply stream"),
    }
}

const VALID_REQUESTS: &[&[u8]] = &[
    b"*2\r\n$3\r\nGET\r\n$5\r\njedis\r\n",
    b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$0\r\n\r\n",
    b"*1\r\n$4\r\nPING\r\n",
    b"PING\r\n",
    b"set a b\n",
];

const VALID_REPLIES: &[&[u8]] = &[
    b"+OK\r\n",
    b"-ERR unknown command\r\n",
    b":-42\r\n",
    b"$5\r\njedis\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
    b"_\r\n",
    b"#t\r\n",
    b",1.5\r\n",
    b"(3492890328409238509324850943850943825024385\r\n",
    b"!21\r\nSYNTAX invalid syntax\r\n",
    b"=15\r\ntxt:Some string\r\n",
    b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
    b"~3\r\n+a\r\n+b\r\n+c\r\n",
    b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n",
    b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039123\r\n:9543892\r\n",
    b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    b">3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n",
    b"*2\r\n$4\r\npong\r\n$0\r\n\r\n",
    b"*2\r\n+OK\r\n:7\r\n",
    b"+1700000000.123456 [0 127.0.0.1:5000] \"GET\" \"k\"\r\n",
    b"+FULLRESYNC 8371445ee6bd6ea6a1b1f9f4f6c1b1a2b3c4d5e6 0\r\n",
];

/// The shape of the one reply in `data`, whichever way the scanner took.
fn shape(data: &[u8]) -> respscope::protocol::resp::Shape {
    for previews in [false, true] {
        let mut s = Scanner::new(Role::Replies, previews);
        if let (_, Outcome::Message(m)) = s.advance(data) {
            if let Kind::Reply { shape, .. } = m.kind {
                if !previews {
                    return shape;
                }
            }
        }
    }
    panic!("no reply in {:?}", String::from_utf8_lossy(data))
}

#[test]
fn replies_carry_the_shape_that_tells_them_apart() {
    let s = shape(b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    assert_eq!((s.head.as_bytes(), s.len, s.last_int), (&b"subscribe"[..], 3, Some(1)));
    let s = shape(b">3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!((s.head.as_bytes(), s.len, s.last_int), (&b"unsubscribe"[..], 3, Some(0)));
    let s = shape(b"+1700000000.123456 [0 127.0.0.1:5000] \"GET\"\r\n");
    assert_eq!(s.head.as_bytes(), b"1700000000.123456 [0 127");
    let s = shape(b"%1\r\n+subscribe\r\n:1\r\n");
    assert_eq!((s.head.as_bytes(), s.len, s.last_int), (&b""[..], 0, None), "a map has no shape");
    let s = shape(b"*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n");
    assert_eq!((s.len, s.last_int), (5, None), "long arrays keep no last integer");
    // Commands keep their second and third arguments' first bytes.
    let mut sc = Scanner::new(Role::Requests, false);
    if let (_, Outcome::Message(m)) = sc.advance(b"*3\r\n$6\r\nCLIENT\r\n$5\r\nreply\r\n$3\r\nOFF\r\n") {
        let Kind::Command { sub, arg2, .. } = m.kind else { panic!("a command") };
        assert_eq!((sub.as_bytes(), arg2.as_bytes()), (&b"reply"[..], &b"OFF"[..]));
    } else {
        panic!("a command");
    }
}

#[test]
fn golden_requests() {
    assert_eq!(one_command(VALID_REQUESTS[0]), ("GET".into(), 2, false));
    assert_eq!(one_command(VALID_REQUESTS[1]), ("SET".into(), 3, false));
    assert_eq!(one_command(b"PING\r\n"), ("PING".into(), 1, true));
    assert_eq!(one_command(b"set a b\n"), ("SET".into(), 3, true));
}

#[test]
fn not_commands_by_redis_rules() {
    for data in [&b"\r\n"[..], b"\n", b"   \r\n", b"*0\r\n", b"*-1\r\n"] {
        let (msgs, err) = scan_all(Role::Requests, data);
        assert!(msgs.is_empty() && err.is_none(), "{:?}", String::from_utf8_lossy(data));
    }
    // ... and they do not disturb what follows.
    let (msgs, err) = scan_all(Role::Requests, b"*0\r\n\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!((msgs.len(), err), (1, None));
}

#[test]
fn golden_replies() {
    assert_eq!(one_reply(b"+OK\r\n"), (b'+', false, false));
    assert_eq!(one_reply(b"-ERR x\r\n"), (b'-', true, false));
    assert_eq!(one_reply(b"!21\r\nSYNTAX invalid syntax\r\n"), (b'!', true, false));
    assert_eq!(one_reply(VALID_REPLIES[16]), (b'>', false, true));
    // An attribute and the value after it are one reply, typed by that value.
    assert_eq!(one_reply(VALID_REPLIES[17]), (b'*', false, false));
    for r in VALID_REPLIES {
        one_reply(r);
    }
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let cases: &[(Role, &[u8], ParseError)] = &[
        (Role::Replies, b"$-2\r\n", ParseError::LengthOutOfRange),
        (Role::Replies, b"?\r\n", ParseError::UnexpectedType(b'?')),
        (Role::Replies, b":12a\r\n", ParseError::BadNumber),
        (Role::Replies, b"$3\r\nabcd\r\n", ParseError::MissingCrlf),
        (Role::Requests, b"*2\r\n+GET\r\n", ParseError::ExpectedBulk(b'+')),
        (Role::Requests, b"*1\r\n$999999999999\r\n", ParseError::LengthOutOfRange),
        (Role::Requests, b"*1\r\n$-1\r\n", ParseError::LengthOutOfRange),
        (Role::Requests, b"*99999999999\r\n", ParseError::LengthOutOfRange),
        (Role::Requests, b"*1\r\n$99999999999999999999999\r\n", ParseError::BadNumber),
    ];
    for (role, data, want) in cases {
        let (_, err) = scan_all(*role, data);
        assert_eq!(err, Some(*want), "{:?}", String::from_utf8_lossy(data));
    }
    let deep: Vec<u8> = b"*1\r\n".repeat(40);
    assert_eq!(scan_all(Role::Replies, &deep).1, Some(ParseError::TooDeep));
}

#[test]
fn a_huge_declared_length_costs_nothing() {
    // A reply claiming ~1 TB: the scanner just waits for bytes, allocating nothing.
    let (msgs, err) = scan_all(Role::Replies, b"$999999999999\r\nabc");
    assert!(msgs.is_empty() && err.is_none());
    let (msgs, err) = scan_all(Role::Replies, b"*999999999999\r\n:1\r\n");
    assert!(msgs.is_empty() && err.is_none());
}

#[test]
fn every_strict_prefix_is_incomplete() {
    for (role, set) in [(Role::Requests, VALID_REQUESTS), (Role::Replies, VALID_REPLIES)] {
        for msg in set {
            for cut in 0..msg.len() {
                let (msgs, err) = scan_all(role, &msg[..cut]);
                assert!(
                    msgs.is_empty() && err.is_none(),
                    "prefix {cut} of {:?}: {msgs:?} {err:?}",
                    String::from_utf8_lossy(msg)
                );
            }
        }
    }
}

#[test]
fn inline_line_limit_is_redis_64k() {
    let mut long = vec![b'a'; 70 * 1024];
    long.push(b'\n');
    assert_eq!(scan_all(Role::Requests, &long).1, Some(ParseError::LineTooLong));
}

#[test]
fn previews_redact_auth_secrets() {
    let mut s = Scanner::new(Role::Requests, true);
    for (data, want) in [
        (&b"*2\r\n$4\r\nauth\r\n$9\r\ns3cret-pw\r\n"[..], "AUTH ***"),
        (
            b"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$9\r\ns3cret-pw\r\n",
            "HELLO 3 AUTH *** ***",
        ),
        (b"AUTH s3cret-pw\r\n", "AUTH ***"),
        (
            b"*5\r\n$3\r\nACL\r\n$6\r\nDRYRUN\r\n$7\r\ndefault\r\n$4\r\nAUTH\r\n$9\r\ns3cret-pw\r\n",
            "ACL DRYRUN default AUTH ***",
        ),
        (
            b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$24\r\ntls-client-key-file-pass\r\n$9\r\ns3cret-pw\r\n",
            "CONFIG SET tls-client-key-file-pass ***",
        ),
        (
            b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$19\r\ntls-client-key-file\r\n$5\r\nk.pem\r\n",
            "CONFIG SET tls-client-key-file k.pem",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$40\r\n0123456789012345678901234567890123456789\r\n",
            "GET 012345678901234567890123…(40B)",
        ),
    ] {
        let (_, o) = s.advance(data);
        assert!(matches!(o, Outcome::Message(_)), "{o:?}");
        assert_eq!(s.preview().to_string_lossy(), want);
    }
}

/// Messages of a stream fed in the given chunks, as (start, end, kind) with owners.
fn stream_messages(role: Role, chunks: &[&[u8]]) -> (Vec<(u64, u64, Kind)>, u64) {
    stream_messages_with(role, chunks, false)
}

/// With `previews`, every message goes through the byte-by-byte state machine; without, whole
/// messages take the fast path. Both must agree.
fn stream_messages_with(role: Role, chunks: &[&[u8]], previews: bool) -> (Vec<(u64, u64, Kind)>, u64) {
    let mut s: RespStream<usize> = RespStream::new(role, previews);
    let mut out = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        s.feed(c, i, &mut |e| {
            if let Event::Message { found: f, .. } = e {
                out.push((f.msg.start, f.msg.end, f.msg.kind));
            }
        });
    }
    (out, s.parse_errors)
}

fn message_strategy(role: Role) -> impl Strategy<Value = Vec<u8>> {
    let set: &'static [&'static [u8]] = if role == Role::Requests { VALID_REQUESTS } else { VALID_REPLIES };
    prop::collection::vec(0..set.len(), 1..40)
        .prop_map(move |ix| ix.iter().flat_map(|&i| set[i].to_vec()).collect())
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..20).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        v
    })
}

fn split_at<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&data.len())) {
        if c > prev {
            out.push(&data[prev..c]);
            prev = c;
        }
    }
    out
}

proptest! {
    #[test]
    fn one_byte_segments_give_the_same_requests(data in message_strategy(Role::Requests)) {
        let whole = stream_messages(Role::Requests, &[&data]);
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        prop_assert_eq!(stream_messages(Role::Requests, &bytes), whole);
    }

    #[test]
    fn one_byte_segments_give_the_same_replies(data in message_strategy(Role::Replies)) {
        let whole = stream_messages(Role::Replies, &[&data]);
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        prop_assert_eq!(stream_messages(Role::Replies, &bytes), whole);
    }

    #[test]
    fn random_cuts_give_the_same_messages(
        data in message_strategy(Role::Replies),
        c in cuts(4000),
    ) {
        let c: Vec<usize> = c.into_iter().filter(|&x| x <= data.len()).collect();
        let whole = stream_messages(Role::Replies, &[&data]);
        prop_assert_eq!(whole.1, 0);
        prop_assert_eq!(stream_messages(Role::Replies, &split_at(&data, &c)), whole);
    }

    #[test]
    fn reordered_and_duplicated_segments_give_the_same_commands(
        data in message_strategy(Role::Requests),
        c in cuts(3000),
        order_seed in any::<u64>(),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let c: Vec<usize> = c.into_iter().filter(|&x| x <= data.len()).collect();
        let whole = stream_messages(Role::Requests, &[&data]);
        // Segments with their sequence numbers, from an ISN near the wrap.
        let isn: u32 = u32::MAX - 100;
        let mut segs: Vec<(u32, &[u8])> = Vec::new();
        let mut off = 0usize;
        for piece in split_at(&data, &c) {
            segs.push((isn.wrapping_add(1).wrapping_add(off as u32), piece));
            off += piece.len();
        }
        for d in &dups {
            if !segs.is_empty() {
                let s = segs[d.index(segs.len())];
                segs.push(s);
            }
        }
        // Deterministic shuffle.
        let mut x = order_seed | 1;
        for i in (1..segs.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            segs.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut r: Reassembler<usize> = Reassembler::default();
        let mut s: RespStream<usize> = RespStream::new(Role::Requests, false);
        let mut got = Vec::new();
        let mut gaps = 0;
        let mut sink = |d: Delivery<'_, usize>| match d {
            Delivery::Data { bytes, owner, .. } => s.feed(bytes, owner, &mut |e| {
                if let Event::Message { found: f, .. } = e { got.push((f.msg.start, f.msg.end, f.msg.kind)); }
            }),
            Delivery::Gap { .. } => gaps += 1,
        };
        r.segment(isn, true, false, &[], 0, &mut sink);
        for (i, (sq, p)) in segs.iter().enumerate() {
            r.segment(*sq, false, false, p, i + 1, &mut sink);
        }
        r.finish(&mut sink);
        prop_assert_eq!(gaps, 0);
        prop_assert_eq!(got, whole.0);
    }

    #[test]
    fn fast_path_and_state_machine_agree(role in prop_oneof![Just(Role::Requests), Just(Role::Replies)],
                                         valid in message_strategy(Role::Replies),
                                         valid_req in message_strategy(Role::Requests),
                                         noise in prop::collection::vec(any::<u8>(), 0..64),
                                         at in any::<prop::sample::Index>(),
                                         c in cuts(3000)) {
        let mut data = if role == Role::Replies { valid } else { valid_req };
        let k = at.index(data.len() + 1);
        data.splice(k..k, noise);
        let c: Vec<usize> = c.into_iter().filter(|&x| x <= data.len()).collect();
        let pieces = split_at(&data, &c);
        prop_assert_eq!(stream_messages_with(role, &pieces, true), stream_messages_with(role, &pieces, false));
    }

    #[test]
    fn arbitrary_bytes_never_panic(role in prop_oneof![Just(Role::Requests), Just(Role::Replies)],
                                   data in prop::collection::vec(any::<u8>(), 0..2000),
                                   c in cuts(2000)) {
        let c: Vec<usize> = c.into_iter().filter(|&x| x <= data.len()).collect();
        let _ = stream_messages(role, &split_at(&data, &c));
    }
}

#[test]
fn parsing_resumes_at_the_next_message_after_garbage() {
    let mut data = b"*1\r\n$4\r\nPING\r\n".to_vec();
    data.extend_from_slice(b"*2\r\n+bad\r\nsome junk\r\n");
    data.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    let (msgs, errors) = stream_messages(Role::Requests, &[&data]);
    assert_eq!(errors, 1);
    assert_eq!(msgs.len(), 2);
    // Also when the garbage and the next message arrive one byte at a time.
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(stream_messages(Role::Requests, &bytes), (msgs, 1));
}

#[test]
fn after_a_gap_parsing_resumes_without_guessing() {
    let cmd = b"*2\r\n$3\r\nGET\r\n$5\r\njedis\r\n";
    let mut s: RespStream<usize> = RespStream::new(Role::Requests, false);
    let mut n = 0;
    let mut count = |e: &Event<'_, usize>| {
        if let Event::Message { .. } = e {
            n += 1;
        }
    };
    s.feed(&cmd[..10], 1, &mut count);
    // 20 bytes lost: the rest of this command and the start of the next.
    s.gap(20);
    let mut rest = cmd[(30 - 24)..].to_vec();
    rest.extend_from_slice(cmd);
    rest.extend_from_slice(cmd);
    s.feed(&rest, 2, &mut count);
    assert_eq!(n, 2, "the two whole commands after the gap, nothing before them");
    assert_eq!(s.gaps, 1);
}

/// Everything a stream reports, to compare two ways of feeding the same bytes: each message
/// with the owners of its first and last byte, the offsets where parsing resumed, and the
/// counters.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    messages: Vec<(u64, u64)>,
    /// Messages whose first or last owner is not the chunk that carried that byte.
    wrong_owners: usize,
    resumed: Vec<(u64, u64)>,
    errors: Vec<u64>,
    parse_errors: u64,
    skipped: u64,
}

/// Feeds `chunks` (each owned by the byte offset it starts at, so owners are comparable
/// across cuttings) and traces what the stream says.
fn trace(role: Role, data: &[u8], cuts: &[usize]) -> Trace {
    let mut s: RespStream<usize> = RespStream::new(role, false);
    let mut t = Trace {
        messages: Vec::new(),
        wrong_owners: 0,
        resumed: Vec::new(),
        errors: Vec::new(),
        parse_errors: 0,
        skipped: 0,
    };
    let starts: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied().filter(|&c| c > 0)).collect();
    // The chunk that carried stream offset `x`, named by its first offset.
    let owner_of = |x: u64| starts[starts.partition_point(|&s| s as u64 <= x) - 1];
    let mut at = 0;
    for piece in split_at(data, cuts) {
        s.feed(piece, at, &mut |e| match e {
            Event::Message { found, .. } => {
                let (start, end) = (found.msg.start, found.msg.end);
                if found.first != owner_of(start) || found.last != owner_of(end - 1) {
                    t.wrong_owners += 1;
                }
                t.messages.push((start, end));
            }
            Event::Resumed { offset, skipped } => t.resumed.push((*offset, *skipped)),
            Event::ParseError { offset, .. } => t.errors.push(*offset),
        });
        at += piece.len();
        // Every byte fed is accounted for: parsed, held or skipped, never twice.
        assert_eq!(s.offset(), at as u64, "stream offset after the chunk ending at {at}");
    }
    s.finish();
    t.parse_errors = s.parse_errors;
    t.skipped = s.skipped_bytes;
    t
}

/// Runs `f` on a thread with a 2 MiB stack, as the capture and analysis threads have: a
/// recursion driven by input would overflow it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("the thread ran to the end")
}

#[test]
fn a_megabyte_of_resync_garbage_in_one_chunk_is_searched_in_a_loop() {
    // Replies: `+\r\n` is a reply, `x\n` an error followed by a resync that ends at the next
    // `+`. Requests: a command, then `*x\n` (a bad count), resync, and so on.
    let cases: [(Role, &[u8], u64); 2] =
        [(Role::Replies, b"+\r\nx\n", 1), (Role::Requests, b"*1\r\n$1\r\na\r\n*x\n", 1)];
    for (role, unit, errors_per_unit) in cases {
        let units = (1 << 20) / unit.len() + 1;
        let data = unit.repeat(units);
        let (whole, bytewise) = on_small_stack(move || {
            let whole = trace(role, &data, &[]);
            // The same bytes one at a time go through the held-bytes path instead.
            let cuts: Vec<usize> = (1..data.len().min(200_000)).collect();
            (whole, trace(role, &data[..200_000], &cuts))
        });
        assert_eq!(whole.messages.len(), units, "{role:?}");
        assert_eq!(whole.parse_errors, units as u64 * errors_per_unit, "{role:?}");
        assert!(bytewise.parse_errors > 0 && !bytewise.messages.is_empty(), "{role:?}");
    }
}

#[test]
fn resync_over_bytes_it_held_does_not_recurse() {
    // A candidate held across chunk ends, accepted, then failing again inside the bytes it
    // held, many times over: the old code went one stack level deeper each time.
    let mut data = Vec::new();
    for _ in 0..20_000 {
        data.extend_from_slice(b"*2\r\n+a\r\nx\n");
    }
    let cuts: Vec<usize> = (7..data.len()).step_by(9).collect();
    let t = on_small_stack(move || trace(Role::Replies, &data, &cuts));
    assert!(t.parse_errors >= 20_000, "{}", t.parse_errors);
}

fn garbage_strategy(role: Role) -> impl Strategy<Value = Vec<u8>> {
    let noise = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        Just(b"x\n".to_vec()),
        Just(b"*x\n".to_vec()),
        Just(b"+\r\n".to_vec()),
        Just(b"*3\r\n:1\r\n".to_vec()),
        Just(b"$5\r\nab".to_vec()),
        Just(b"*1\r\n$3\r\nGE".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"=27\r\ntxt:".to_vec()),
        Just(b"\r\n$w\r\n*9\r\n".to_vec()),
        Just(b",inf\r0\r\n".to_vec()),
    ];
    let set: &'static [&'static [u8]] = if role == Role::Requests { VALID_REQUESTS } else { VALID_REPLIES };
    let piece = prop_oneof![(0..set.len()).prop_map(move |i| set[i].to_vec()), noise];
    prop::collection::vec(piece, 1..60).prop_map(|v| v.concat())
}

proptest! {
    /// Resynchronisation gives the same result whatever the segmentation: the same messages
    /// with the same owners, errors, resume points and skipped bytes.
    #[test]
    fn resync_does_not_depend_on_segmentation(
        role in prop_oneof![Just(Role::Requests), Just(Role::Replies)],
        data in prop_oneof![garbage_strategy(Role::Requests), garbage_strategy(Role::Replies)],
        c in cuts(3000),
    ) {
        let c: Vec<usize> = c.into_iter().filter(|&x| x <= data.len()).collect();
        let whole = trace(role, &data, &[]);
        prop_assert_eq!(&trace(role, &data, &c), &whole);
        let bytes: Vec<usize> = (1..data.len()).collect();
        prop_assert_eq!(&trace(role, &data, &bytes), &whole);
    }
}

#[test]
fn long_candidates_resync_alike_whole_and_cut() {
    // Candidates longer than a chunk: an array that parses through the whole 64 KiB window
    // (accepted), one that fails past 40 KiB, and bulks whose payloads hold line starts.
    let mut replies = b"x\n*100000\r\n".to_vec();
    replies.extend_from_slice(&b":1\r\n".repeat(20_000));
    replies.extend_from_slice(b"x\n+OK\r\n*50000\r\n");
    replies.extend_from_slice(&b":2\r\n".repeat(10_000));
    replies.extend_from_slice(b"x\n:3\r\n");
    // Every header line claims a payload reaching the same point, where no CRLF follows: each
    // candidate reads to there and fails.
    let mut bulks = b"x\n".to_vec();
    let end = 2 + 2_000 * 9 + 100;
    for _ in 0..2_000 {
        let len = end - (bulks.len() + 9);
        bulks.extend_from_slice(format!("${len:06}\r\n").as_bytes());
    }
    bulks.resize(end, b'.');
    bulks.extend_from_slice(b"XX\n+OK\r\n");
    let mut requests = b"*x\n*1\r\n$70000\r\n".to_vec();
    requests.extend_from_slice(&[b'a'; 70_000]);
    requests.extend_from_slice(b"\r\n*x\n*1\r\n$4\r\nPING\r\n");
    for (role, data) in [(Role::Replies, replies), (Role::Replies, bulks), (Role::Requests, requests)] {
        let whole = trace(role, &data, &[]);
        assert_eq!(whole.wrong_owners, 0);
        let every_1000: Vec<usize> = (1..data.len()).step_by(1000).collect();
        let every_7: Vec<usize> = (1..data.len()).step_by(7).collect();
        assert_eq!(trace(role, &data, &every_1000), whole, "{role:?} cut every 1000 bytes");
        assert_eq!(trace(role, &data, &every_7), whole, "{role:?} cut every 7 bytes");
        assert!(!whole.messages.is_empty());
    }
}
