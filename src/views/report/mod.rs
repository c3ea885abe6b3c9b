//! Headless outputs of `respscope analyze`: a text report for people, markdown for issues and
//! wikis, JSON (contract v1) for scripts, and the RESP-aware segment listing.

pub mod compare;
pub mod incident;
pub mod json;
pub mod markdown;
pub mod segments;
pub mod text;

/// A writer's output as a string: the `render` of each report format, for a report that
/// holds its own connections.
fn to_string(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    let _ = write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Formats microseconds for people: `850µs`, `12.3ms`, `2.05s`.
pub fn us(v: i64) -> String {
    let a = v.unsigned_abs();
    if a < 1_000 {
        format!("{v}µs")
    } else if a < 1_000_000 {
        format!("{:.1}ms", v as f64 / 1e3)
    } else {
        format!("{:.2}s", v as f64 / 1e6)
    }
}

/// Formats an optional microsecond value, `-` when absent.
pub fn opt_us(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| us(i64::try_from(v).unwrap_or(i64::MAX)))
}

/// Formats a byte count: `812 B`, `8.0 KiB`, `1.2 MiB`.
pub fn bytes(v: u64) -> String {
    if v < 1024 {
        format!("{v} B")
    } else if v < 1024 * 1024 {
        format!("{:.1} KiB", v as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", v as f64 / (1024.0 * 1024.0))
    }
}

/// What a connection is and the counts only some connections have, for a line that lists
/// its commands and replies: `("subscriber: ", "  silenced 3")`; a plain client gets `""`.
pub fn kind_and_extras(c: &crate::engine::report::ConnReport) -> (String, String) {
    let kind = match c.kind {
        crate::analysis::conversation::ConnKind::Client => String::new(),
        k => format!("{}: ", k.describe()),
    };
    let mut extra = String::new();
    for (n, what) in [
        (c.moved, "MOVED"),
        (c.ask, "ASK"),
        (c.silenced, "silenced"),
        (c.unsolicited, "unsolicited"),
        (c.propagated, "propagated"),
    ] {
        if n > 0 {
            extra.push_str(&format!("  {what} {n}"));
        }
    }
    if c.rdb_bytes > 0 {
        extra.push_str(&format!("  RDB {}", bytes(c.rdb_bytes)));
    }
    (kind, extra)
}

/// A connection's round trips beyond the handshake, in one line: ACK-timed per direction and
/// lone PINGs (docs/METRICS.md says what each measures).
pub fn rtt_sources(c: &crate::engine::report::ConnReport) -> String {
    let ack = |r: &crate::analysis::tcp::rtt::RttStats| match (r.min, r.srtt) {
        (Some(min), Some(srtt)) => {
            format!("min {} srtt {} (n={})", opt_us(Some(min)), opt_us(Some(srtt)), r.count)
        }
        _ => "-".to_string(),
    };
    let ping = &c.ping_rtt_us;
    let ping = match (ping.min, ping.last) {
        (Some(min), Some(last)) => {
            format!("min {} last {} (n={})", opt_us(Some(min)), opt_us(Some(last)), ping.count)
        }
        _ => "none sent".to_string(),
    };
    format!(
        "ACK-timed client data {}, server data {}; lone PING {ping}",
        ack(&c.ack_rtt_us.to_server),
        ack(&c.ack_rtt_us.to_client)
    )
}

/// Interleaving in words, one line: `12 of 40 batches had other clients' commands inside, 3.1
/// on average, at most 17`.
pub fn interleave_words(batches: u64, interleaved: u64, mean: f64, max: u64) -> String {
    format!(
        "{interleaved} of {batches} batches had other clients' commands inside, {mean:.1} on average, at most {max}"
    )
}

/// "flushes every 8192 bytes (341 commands), does not wait for replies (…)", or why there is
/// no verdict.
pub fn flush_line(c: &crate::engine::report::ConnReport) -> String {
    match &c.flush {
        Some(v) => v.describe(),
        None => format!(
            "no verdict: {} batch(es) carried commands, {} needed",
            c.batch_sizes.iter().filter(|(&k, _)| k > 0).map(|(_, n)| n).sum::<u64>(),
            crate::analysis::conversation::flush::MIN_BATCHES
        ),
    }
}

/// What the connection announced ("redis-py 8.1.0 (name web-1)"), escaped; `None` when
/// nothing.
pub fn library_line(c: &crate::engine::report::ConnReport) -> Option<String> {
    c.library.as_ref().map(|l| l.describe())
}
