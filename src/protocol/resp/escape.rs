//! Untrusted text made safe to show: the one escaping function every wire or server string
//! goes through on its way to a person (a terminal, a report, a JSON string).
//!
//! Wire bytes and server replies are written by whoever talks to Redis. Shown raw, a control
//! byte drives the terminal (ESC starts an escape sequence), and an invisible format character
//! lies about the text: U+202E (right-to-left override) makes `inv` U+202E `oice.txt` display
//! as `invtxt.eciov`, and a zero-width space makes two different keys look the same. So both
//! kinds are written as `\xNN`, one per UTF-8 byte, exactly as redis-cli's `--no-raw` shows
//! them, and so are bytes that are not UTF-8. Everything else, accented letters and emoji
//! included, stays readable.

use std::fmt::Write;

/// True for a character that must not reach a person raw: a control character (C0, DEL, C1),
/// or one that is invisible or reorders the text around it.
///
/// The second kind is Unicode's format characters (general category Cf: bidi embeddings,
/// overrides and isolates U+202A–U+202E and U+2066–U+2069, marks U+200E, U+200F and U+061C,
/// zero-width U+200B–U+200D, U+2060–U+2064, U+FEFF, soft hyphen, tags…), the line and
/// paragraph separators U+2028 and U+2029, and the default-ignorable characters that render
/// as nothing (Hangul fillers, variation selectors, the combining grapheme joiner). Escaping
/// the zero-width joiner and variation selectors splits some emoji into parts: the price of
/// two different keys never looking the same.
pub fn must_escape(c: char) -> bool {
    c.is_control() || invisible(c)
}

/// Format, separator and default-ignorable characters (Unicode 15.1), by code point.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Bytes as text safe for a terminal, a log or JSON: valid UTF-8 stays readable, control and
/// invisible characters ([`must_escape`]) and invalid bytes become `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    escape_with(bytes, |_| None)
}

/// [`escape`] with a caller's own spelling for some characters (redis-cli writes `\n` and
/// `\"` inside a quoted string); `special` returning `None` leaves the rule to [`escape`].
pub fn escape_with(bytes: &[u8], special: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if let Some(s) = special(c) {
                out.push_str(s);
            } else if must_escape(c) {
                let mut buf = [0u8; 4];
                hex(&mut out, c.encode_utf8(&mut buf).as_bytes());
            } else {
                out.push(c);
            }
        }
        hex(&mut out, chunk.invalid());
    }
    out
}

/// Appends `\xNN` for each byte.
fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "\\x{b:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_and_invalid_utf8_as_before() {
        assert_eq!(escape(b"a\x1b[31mb\x00\x7f"), r"a\x1b[31mb\x00\x7f");
        assert_eq!(escape(b"\xff\xfe"), r"\xff\xfe");
        assert_eq!(escape("\u{85}".as_bytes()), r"\xc2\x85");
        assert_eq!(escape("é ü 字 😀".as_bytes()), "é ü 字 😀");
    }

    #[test]
    fn bidi_and_invisible_characters_are_escaped_per_utf8_byte() {
        assert_eq!(escape("inv\u{202e}oice.txt".as_bytes()), r"inv\xe2\x80\xaeoice.txt");
        for (c, want) in [
            ('\u{202A}', r"\xe2\x80\xaa"),
            ('\u{202D}', r"\xe2\x80\xad"),
            ('\u{2066}', r"\xe2\x81\xa6"),
            ('\u{2069}', r"\xe2\x81\xa9"),
            ('\u{200E}', r"\xe2\x80\x8e"),
            ('\u{200F}', r"\xe2\x80\x8f"),
            ('\u{061C}', r"\xd8\x9c"),
            ('\u{200B}', r"\xe2\x80\x8b"),
            ('\u{200D}', r"\xe2\x80\x8d"),
            ('\u{2060}', r"\xe2\x81\xa0"),
            ('\u{2064}', r"\xe2\x81\xa4"),
            ('\u{FEFF}', r"\xef\xbb\xbf"),
            ('\u{2028}', r"\xe2\x80\xa8"),
            ('\u{2029}', r"\xe2\x80\xa9"),
            ('\u{00AD}', r"\xc2\xad"),
            ('\u{E0041}', r"\xf3\xa0\x81\x81"),
            ('\u{3164}', r"\xe3\x85\xa4"),
        ] {
            assert_eq!(escape(c.to_string().as_bytes()), want, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn every_format_character_is_escaped() {
        // Letters, marks and spaces that draw something are left alone; a sample from each
        // part of the table is escaped.
        for c in ['a', ' ', '\u{A0}', '\u{3000}', 'é', '\u{0301}', '字'] {
            assert!(!must_escape(c), "U+{:04X}", u32::from(c));
        }
        for c in ['\u{180E}', '\u{FFF9}', '\u{1D173}', '\u{13439}', '\u{E0001}', '\u{FE0F}'] {
            assert!(must_escape(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn special_spellings_come_first() {
        let q = |c| match c {
            '"' => Some("\\\""),
            '\n' => Some("\\n"),
            _ => None,
        };
        assert_eq!(escape_with("\"a\n\u{202e}\x01".as_bytes(), q), r#"\"a\n\xe2\x80\xae\x01"#);
    }
}
