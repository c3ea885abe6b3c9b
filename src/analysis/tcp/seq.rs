//! TCP sequence-number arithmetic modulo 2^32.
//!
//! Sequence numbers wrap; comparing them as plain integers breaks every connection that
//! crosses 2^32. These helpers compare by the signed distance, as RFC 1982 and the kernel's
//! `before()`/`after()` do. Nothing here can panic: a passive observer must accept any number
//! the wire carries.

/// Signed distance from `b` to `a` (positive when `a` is after `b`).
#[inline]
pub fn diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// `a` is strictly after `b`.
#[inline]
pub fn gt(a: u32, b: u32) -> bool {
    diff(a, b) > 0
}

/// `a` is strictly before `b`.
#[inline]
pub fn lt(a: u32, b: u32) -> bool {
    diff(a, b) < 0
}

/// `a` is at or before `b`.
#[inline]
pub fn le(a: u32, b: u32) -> bool {
    diff(a, b) <= 0
}

/// Maps a sequence number to a 64-bit stream offset, choosing the offset nearest to
/// `reference` (an offset already known) whose low 32 bits match. `base` is the sequence
/// number of offset 0. Returns `None` for a position before the stream's start.
#[inline]
pub fn offset_near(seq: u32, base: u32, reference: u64) -> Option<u64> {
    let rel = seq.wrapping_sub(base);
    let delta = i64::from(rel.wrapping_sub(reference as u32) as i32);
    let off = reference as i64 + delta;
    u64::try_from(off).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_cross_the_wrap() {
        assert!(gt(5, u32::MAX - 5));
        assert!(lt(u32::MAX - 5, 5));
        assert!(le(7, 7));
        assert_eq!(diff(3, u32::MAX), 4);
    }

    #[test]
    fn offsets_keep_growing_past_four_gigabytes() {
        let base = u32::MAX - 10;
        assert_eq!(offset_near(u32::MAX - 10, base, 0), Some(0));
        assert_eq!(offset_near(5, base, 10), Some(16));
        // Second lap: same low bits, reference beyond 2^32.
        let r = (1u64 << 32) + 100;
        assert_eq!(offset_near(base.wrapping_add(120), base, r), Some((1u64 << 32) + 120));
        // Before the start of the stream.
        assert_eq!(offset_near(base.wrapping_sub(1), base, 0), None);
    }
}
