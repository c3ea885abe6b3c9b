//! The RESP scanner and streams: golden vectors, every prefix is incomplete, any
//! re-segmentation (one byte per segment, reordered, duplicated) gives the same messages.

use proptest::prelude::*;
use respscope::analysis::resp::{Event, Kind, Outcome, ParseError, RespStream, Role, Scanner};
use respscope::analysis::tcp::{Delivery, Reassembler};

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
        Kind::Command { name, argc, inline } => (name.to_string_lossy(), argc, inline),
        Kind::Reply { .. } => panic!("a reply from a request stream"),
    }
}

fn one_reply(data: &[u8]) -> (u8, bool, bool) {
    let (msgs, err) = scan_all(Role::Replies, data);
    assert_eq!(err, None, "{:?}", String::from_utf8_lossy(data));
    assert_eq!(msgs.len(), 1, "{:?}", String::from_utf8_lossy(data));
    assert_eq!(msgs[0].1, data.len() as u64);
    match msgs[0].2 {
        Kind::Reply { ty, error, push } => (ty, error, push),
        Kind::Command { .. } => panic!("a command from a reply stream"),
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
];

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
