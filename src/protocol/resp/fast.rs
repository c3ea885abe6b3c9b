//! Fast paths of the scanner: a message whose bytes are all in one chunk is walked in a
//! tight loop, with the same rules as the state machine (which decides anything unusual), so
//! results never depend on which path ran.

use super::bytes::{Arg, Head, Name};
use super::message::{Kind, Role, Shape, SHAPE_MAX_LEN};
use super::scan::{MAX_DEPTH, MAX_LINE, MAX_REQUEST_BULK};

/// A complete, well-formed message at the start of `data`: its length, its kind written into
/// `kind`. `None` (and `kind` untouched) when it is incomplete, malformed, inline, empty
/// (`*0`), carries an attribute, or nests deeply: the state machine then decides, so this
/// only ever agrees with it.
#[inline]
pub(super) fn whole_message(role: Role, data: &[u8], kind: &mut Kind) -> Option<usize> {
    match role {
        Role::Requests => {
            if data.first() != Some(&b'*') {
                return None;
            }
            let (n, mut j) = fast_number(data, 1)?;
            if !(1..=i64::from(i32::MAX)).contains(&n) {
                return None;
            }
            let mut name = Name::default();
            let (mut sub, mut arg2) = (Arg::default(), Arg::default());
            for k in 0..n {
                if data.get(j) != Some(&b'$') {
                    return None;
                }
                let (l, p) = fast_number(data, j + 1)?;
                if !(0..=MAX_REQUEST_BULK).contains(&l) {
                    return None;
                }
                let end = p.checked_add(usize::try_from(l).ok()?)?;
                if data.get(end) != Some(&b'\r') || data.get(end + 1) != Some(&b'\n') {
                    return None;
                }
                match k {
                    0 => {
                        name = Name::prefix_of(&data[p..], end - p);
                        let nl = name.len();
                        name.buf[..nl].make_ascii_uppercase();
                    }
                    1 => sub = Arg::prefix_of(&data[p..], end - p),
                    2 => arg2 = Arg::prefix_of(&data[p..], end - p),
                    _ => {}
                }
                j = end + 2;
            }
            *kind = Kind::Command { name, argc: u32::try_from(n).ok()?, inline: false, sub, arg2 };
            Some(j)
        }
        Role::Replies => {
            let ty = *data.first()?;
            if ty == b'|' {
                return None;
            }
            // The common replies first, with the rules of `skip_value` and `shape_of` for a
            // top-level scalar: no stack of counts, and a line found once.
            let (end, shape) = match ty {
                b'+' | b'-' => {
                    let line = data.get(1..)?;
                    let p = find_cr(line)?;
                    if p > MAX_LINE as usize || data.get(1 + p + 1) != Some(&b'\n') {
                        return None;
                    }
                    let shape = Shape { head: Head::prefix_of(line, p), ..Shape::default() };
                    (1 + p + 2, shape)
                }
                b':' => (fast_number(data, 1)?.1, Shape::default()),
                b'$' => {
                    let (l, p) = fast_number(data, 1)?;
                    let end = if l == -1 {
                        p
                    } else {
                        let end = p.checked_add(usize::try_from(l).ok()?)?;
                        if data.get(end) != Some(&b'\r') || data.get(end + 1) != Some(&b'\n') {
                            return None;
                        }
                        end + 2
                    };
                    (end, Shape::default())
                }
                _ => {
                    let end = skip_value(data, 0)?;
                    (end, shape_of(&data[..end], ty)?)
                }
            };
            *kind = Kind::Reply { ty, error: ty == b'-' || ty == b'!', push: ty == b'>', shape };
            Some(end)
        }
    }
}

/// The [`Shape`] of a whole reply `msg` of type `ty`, as the state machine builds it.
fn shape_of(msg: &[u8], ty: u8) -> Option<Shape> {
    let mut shape = Shape::default();
    match ty {
        b'+' | b'-' => {
            shape.head.push(line(msg, 0)?);
        }
        b'*' | b'>' => {
            let (n, mut j) = fast_number(msg, 1)?;
            shape.len = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
            if n >= 1 {
                shape.head = head_of(msg, j)?;
            }
            if (1..=i64::from(SHAPE_MAX_LEN)).contains(&n) {
                let mut last = None;
                for _ in 0..n {
                    let start = j;
                    j = skip_value(msg, j)?;
                    last = (msg.get(start) == Some(&b':')).then(|| fast_number(msg, start + 1)).flatten();
                }
                shape.last_int = last.map(|(v, _)| v);
            }
        }
        _ => {}
    }
    Some(shape)
}

/// The head an element starting at `msg[i]` gives: a bulk's or a simple line's first bytes.
fn head_of(msg: &[u8], i: usize) -> Option<Head> {
    let mut head = Head::default();
    match *msg.get(i)? {
        b'$' | b'!' | b'=' => {
            let (l, p) = fast_number(msg, i + 1)?;
            if l >= 0 {
                let end = p.checked_add(usize::try_from(l).ok()?)?;
                head.push(msg.get(p..end)?);
            }
        }
        b'+' | b'-' => {
            head.push(line(msg, i)?);
        }
        _ => {}
    }
    Some(head)
}

/// The bytes of the simple line whose type byte is `msg[i]`, without its CRLF.
fn line(msg: &[u8], i: usize) -> Option<&[u8]> {
    let rest = msg.get(i + 1..)?;
    let p = memchr::memchr(b'\r', rest)?;
    rest.get(..p)
}

/// Skips one complete reply value starting at `data[i]`; returns the index after it. A loop
/// with a fixed stack of counts, never a recursion: wire bytes decide the nesting.
fn skip_value(data: &[u8], mut i: usize) -> Option<usize> {
    // Elements still to skip in each open aggregate; `open` of them are open.
    let mut left = [0u64; MAX_DEPTH];
    let mut open = 0usize;
    loop {
        if open > 0 && data.get(i) == Some(&b'|') {
            // An attribute inside an aggregate: the state machine decides.
            return None;
        }
        let ty = *data.get(i)?;
        match ty {
            b'+' | b'-' | b'_' | b'#' | b',' | b'(' => {
                let p = memchr::memchr(b'\r', data.get(i + 1..)?)?;
                if p > MAX_LINE as usize || data.get(i + 1 + p + 1) != Some(&b'\n') {
                    return None;
                }
                i += 1 + p + 2;
            }
            b':' => i = fast_number(data, i + 1)?.1,
            b'$' | b'!' | b'=' => {
                let (l, p) = fast_number(data, i + 1)?;
                if l == -1 && ty == b'$' {
                    i = p;
                } else {
                    let end = p.checked_add(usize::try_from(l).ok()?)?;
                    if data.get(end) != Some(&b'\r') || data.get(end + 1) != Some(&b'\n') {
                        return None;
                    }
                    i = end + 2;
                }
            }
            b'*' | b'%' | b'~' | b'>' => {
                let (n, j) = fast_number(data, i + 1)?;
                i = j;
                if !(n == -1 && (ty == b'*' || ty == b'%') || n == 0) {
                    if n < 0 || open + 1 >= MAX_DEPTH {
                        return None;
                    }
                    let count = if ty == b'%' { n.checked_mul(2)? } else { n };
                    left[open] = u64::try_from(count).ok()?;
                    open += 1;
                    continue;
                }
            }
            _ => return None,
        }
        // A value ended: it counts against the innermost open aggregate, and each aggregate
        // it completes against the one around it.
        loop {
            if open == 0 {
                return Some(i);
            }
            left[open - 1] -= 1;
            if left[open - 1] > 0 {
                break;
            }
            open -= 1;
        }
    }
}

/// The first `\r` in `line`: most lines a server sends are a few bytes (`+OK`, `+QUEUED`),
/// found by a plain loop before `memchr`'s setup would have run.
#[inline(always)]
fn find_cr(line: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    match line.iter().take(SHORT).position(|&b| b == b'\r') {
        Some(p) => Some(p),
        None if line.len() > SHORT => memchr::memchr(b'\r', &line[SHORT..]).map(|p| p + SHORT),
        None => None,
    }
}

/// Reads `[-]digits\r\n` at `data[i..]` when all of it is there and plain (1 to 18 digits, so
/// no overflow is possible). Returns the value and the index after the `\n`.
#[inline(always)]
pub(super) fn fast_number(data: &[u8], i: usize) -> Option<(i64, usize)> {
    let s = data.get(i..)?;
    // One to three digits (argument counts, key and value lengths, most integer replies)
    // without the loop.
    let digit = |b: u8| {
        let d = b.wrapping_sub(b'0');
        (d < 10).then_some(i64::from(d))
    };
    match *s {
        [a, b'\r', b'\n', ..] => {
            if let Some(a) = digit(a) {
                return Some((a, i + 3));
            }
        }
        [a, b, b'\r', b'\n', ..] => {
            if let (Some(a), Some(b)) = (digit(a), digit(b)) {
                return Some((a * 10 + b, i + 4));
            }
        }
        [a, b, c, b'\r', b'\n', ..] => {
            if let (Some(a), Some(b), Some(c)) = (digit(a), digit(b), digit(c)) {
                return Some((a * 100 + b * 10 + c, i + 5));
            }
        }
        _ => {}
    }
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    // At most 18 digits are accumulated: no overflow is possible, so no checked arithmetic
    // in the loop. A 19th digit leaves the number to the slow path.
    for (k, &b) in digits.iter().take(19).enumerate() {
        let d = b.wrapping_sub(b'0');
        if d < 10 && k < 18 {
            v = v * 10 + i64::from(d);
            continue;
        }
        if k == 0 || k > 18 || b != b'\r' || digits.get(k + 1) != Some(&b'\n') {
            return None;
        }
        let used = usize::from(neg) + k + 2;
        return Some((if neg { -v } else { v }, i + used));
    }
    None
}

/// Writes `…(NB)` for an elided argument; returns the length. No allocation.
pub(super) fn write_elided(out: &mut [u8; 32], len: u64) -> usize {
    const ELLIPSIS: &[u8] = "…(".as_bytes();
    let mut n = ELLIPSIS.len();
    out[..n].copy_from_slice(ELLIPSIS);
    let mut digits = itoa_buf(i64::try_from(len).unwrap_or(i64::MAX));
    let d = digits.as_bytes_mut();
    out[n..n + d.len()].copy_from_slice(d);
    n += d.len();
    out[n..n + 2].copy_from_slice(b"B)");
    n + 2
}

/// A tiny stack buffer holding the decimal form of an integer.
pub(super) struct ItoaBuf {
    buf: [u8; 21],
    start: usize,
}

impl ItoaBuf {
    pub(super) fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

pub(super) fn itoa_buf(v: i64) -> ItoaBuf {
    let mut buf = [0u8; 21];
    let mut pos = buf.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        pos -= 1;
        buf[pos] = b'-';
    }
    ItoaBuf { buf, start: pos }
}
