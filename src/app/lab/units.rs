//! The lab's quantities as a trainer types them: durations (`2ms`, `500us`, `1.5ms`, `0`) and
//! rates (`10mbit`, `1MB`, `125000`).
//!
//! Small hand-written parsers rather than a crate: the units a workshop needs are few, and an
//! error can then say exactly which forms are accepted.

use std::time::Duration;

/// A duration or a rate that could not be read; the message lists the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not a duration.
    #[error("{0:?} is not a duration: write a number and a unit, such as 2ms, 500us, 1.5ms, 1s or 0")]
    Duration(String),
    /// Not a rate.
    #[error(
        "{0:?} is not a rate: write bytes per second (125000, 64KB, 10MB, 1MiB) or bits per second (100kbit, 10mbit, 1gbit)"
    )]
    Rate(String),
}

/// Splits `12.5ms` into the number and the unit, the number as a non-negative finite float.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let v: f64 = num.parse().ok()?;
    v.is_finite().then_some((v, unit.trim()))
}

/// Reads a duration: a number (decimals allowed) and one of `ns`, `us` (or `µs`), `ms`, `s`;
/// a bare `0` is zero. A bare number other than 0 is refused: `2` could mean 2 ms or 2 s.
///
/// # Errors
/// [`UnitError::Duration`] for anything else, negative numbers included.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let err = || UnitError::Duration(s.to_string());
    let (v, unit) = number_and_unit(s).ok_or_else(err)?;
    let secs_per_unit = match unit {
        "" if v == 0.0 => 0.0,
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return Err(err()),
    };
    // A week is far more than any lab needs and keeps the conversion exact enough.
    let secs = v * secs_per_unit;
    if secs > 7.0 * 86_400.0 {
        return Err(err());
    }
    // Rounded to the nanosecond so that `1.5ms` is exactly 1,500,000 ns, not 1,499,999.
    Ok(Duration::from_nanos((secs * 1e9).round() as u64))
}

/// Reads a rate in bytes per second: a bare number is bytes/s; `B`, `KB`, `MB`, `GB` are
/// decimal bytes, `KiB`, `MiB`, `GiB` binary ones; `kbit`, `mbit`, `gbit` are bits per second
/// as `tc` writes them. An optional `/s` may follow. Zero is refused: it would carry nothing.
///
/// # Errors
/// [`UnitError::Rate`] for anything else.
pub fn parse_rate(s: &str) -> Result<u64, UnitError> {
    let err = || UnitError::Rate(s.to_string());
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let (v, unit) = number_and_unit(t).ok_or_else(err)?;
    let bytes_per_unit = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "bit" => 1.0 / 8.0,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        _ => return Err(err()),
    };
    let r = (v * bytes_per_unit).round();
    if !(1.0..=1e15).contains(&r) {
        return Err(err());
    }
    Ok(r as u64)
}

/// A duration as a trainer writes it: `2ms`, `500us`, `1.5ms`, `0`.
pub fn show_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0".into()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns >= 1_000_000 {
        format!("{}ms", trim(ns as f64 / 1e6))
    } else if ns >= 1_000 {
        format!("{}us", trim(ns as f64 / 1e3))
    } else {
        format!("{ns}ns")
    }
}

/// A rate in bytes per second as people read it.
pub fn show_rate(bytes_per_s: u64) -> String {
    let b = bytes_per_s as f64;
    let (v, unit) = if b >= 1e9 {
        (b / 1e9, "GB/s")
    } else if b >= 1e6 {
        (b / 1e6, "MB/s")
    } else if b >= 1e3 {
        (b / 1e3, "kB/s")
    } else {
        (b, "B/s")
    };
    format!("{}{unit} ({}bit/s)", trim(v), show_bits(b * 8.0))
}

fn show_bits(bits: f64) -> String {
    if bits >= 1e9 {
        format!("{}G", trim(bits / 1e9))
    } else if bits >= 1e6 {
        format!("{}M", trim(bits / 1e6))
    } else if bits >= 1e3 {
        format!("{}k", trim(bits / 1e3))
    } else {
        trim(bits)
    }
}

/// At most three decimals, trailing zeros dropped.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str, ns: u64| assert_eq!(parse_duration(s), Ok(Duration::from_nanos(ns)), "{s}");
        ok("2ms", 2_000_000);
        ok("500us", 500_000);
        ok("500µs", 500_000);
        ok("1.5ms", 1_500_000);
        ok("0", 0);
        ok("0ms", 0);
        ok("0.25ms", 250_000);
        ok("1s", 1_000_000_000);
        ok("750ns", 750);
        ok(" 20ms ", 20_000_000);
        for bad in ["", "2", "ms", "-1ms", "2 minutes", "1e3ms", "2mss", "1.2.3ms", "nan", "inf", "9999999s"]
        {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        let msg = parse_duration("2").expect_err("bare number").to_string();
        assert!(msg.contains("2ms") && msg.contains("500us"), "{msg}");
    }

    #[test]
    fn rates() {
        let ok = |s: &str, v: u64| assert_eq!(parse_rate(s), Ok(v), "{s}");
        ok("125000", 125_000);
        ok("64KB", 64_000);
        ok("10MB/s", 10_000_000);
        ok("1MiB", 1_048_576);
        ok("10mbit", 1_250_000);
        ok("100kbit", 12_500);
        ok("1gbit", 125_000_000);
        ok("1.5MB", 1_500_000);
        for bad in ["", "0", "0mbit", "fast", "10 furlongs", "-5MB", "1bit"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn shown_as_typed() {
        for s in ["2ms", "500us", "1.5ms", "0", "1s", "20ms", "750ns"] {
            let d = parse_duration(s).expect("valid");
            assert_eq!(show_duration(d), s);
        }
        assert_eq!(show_rate(1_250_000), "1.25MB/s (10Mbit/s)");
    }
}
