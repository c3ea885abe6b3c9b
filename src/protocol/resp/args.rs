//! The arguments of one complete command, read from its bytes: for the few commands a
//! consumer needs more of than the scanner keeps (`CLIENT SETINFO LIB-NAME <name>`).
//!
//! Lax and bounded like the scanner: a multibulk (`*N` then `$len` bulks) or an inline line;
//! anything else, a length past the bytes, or more than `max` arguments ends the walk. Never
//! allocates; each argument borrows the input.

/// Up to `max` arguments of the command in `raw` (its whole bytes), in order.
pub fn args(raw: &[u8], max: usize) -> impl Iterator<Item = &[u8]> + '_ {
    let mut taken = 0usize;
    let inline = !raw.starts_with(b"*");
    let (mut left, mut rest): (u64, &[u8]) = if inline {
        (0, raw.split(|&b| b == b'\n').next().unwrap_or(&[]))
    } else {
        match line(&raw[1..]) {
            Some((n, after)) => (parse_u64(n).unwrap_or(0), after),
            None => (0, &[]),
        }
    };
    std::iter::from_fn(move || {
        if taken >= max {
            return None;
        }
        taken += 1;
        if inline {
            let start = rest.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\r'))?;
            let tail = &rest[start..];
            let end = tail.iter().position(|b| matches!(b, b' ' | b'\t' | b'\r')).unwrap_or(tail.len());
            rest = &tail[end..];
            return Some(&tail[..end]);
        }
        if left == 0 {
            return None;
        }
        left -= 1;
        let (len, after) = line(rest.strip_prefix(b"$")?)?;
        let len = usize::try_from(parse_u64(len)?).ok()?;
        if after.len() < len {
            rest = &[];
            return None;
        }
        let (arg, tail) = after.split_at(len);
        rest = tail.strip_prefix(b"\r\n").unwrap_or(&[]);
        Some(arg)
    })
}

/// The bytes before the next CRLF and those after it.
fn line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = b.windows(2).position(|w| w == b"\r\n")?;
    Some((&b[..at], &b[at + 2..]))
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(raw: &[u8]) -> Vec<&[u8]> {
        args(raw, 16).collect()
    }

    #[test]
    fn multibulk_and_inline() {
        let raw = b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$8\r\nredis-py\r\n";
        assert_eq!(all(raw), [&b"CLIENT"[..], b"SETINFO", b"LIB-NAME", b"redis-py"]);
        assert_eq!(all(b"client  setname\tweb-1\r\n"), [&b"client"[..], b"setname", b"web-1"]);
    }

    #[test]
    fn hostile_input_ends_the_walk() {
        assert!(all(b"*3\r\n$999\r\nab\r\n").is_empty());
        assert_eq!(all(b"*9\r\n$1\r\na\r\n$x\r\n"), [&b"a"[..]]);
        assert!(all(b"*99999999999999999999\r\n").is_empty());
        assert_eq!(args(b"a b c d e", 2).count(), 2);
        assert!(all(b"*").is_empty());
        assert!(all(b"").is_empty());
    }
}
