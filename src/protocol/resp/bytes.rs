//! Small inline byte buffers: command names and display previews kept without a heap
//! allocation, `Copy`, bounded whatever the input.

use super::escape::escape;

/// Longest command name kept (bytes). Longer names are truncated for counting and display.
pub const NAME_CAP: usize = 32;
/// Size of the display preview buffer.
pub const PREVIEW_CAP: usize = 64;
/// Leading bytes kept of a command's second and third arguments.
pub const ARG_CAP: usize = 16;
/// Leading bytes kept of a reply's head ([`super::Shape::head`]): a MONITOR line's
/// `<seconds>.<µs> [` fits.
pub const HEAD_CAP: usize = 24;

/// A small inline byte buffer (command names, previews): no heap, `Copy`. Equality and
/// hashing look at the held bytes only.
#[derive(Clone, Copy)]
pub struct InlineBytes<const N: usize> {
    pub(super) len: u8,
    pub(super) buf: [u8; N],
}

impl<const N: usize> PartialEq for InlineBytes<N> {
    /// Word by word with the bytes past `len` masked off, not a call to `memcmp`: names are
    /// compared once per command.
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        let n = self.len as usize;
        if n != other.len as usize {
            return false;
        }
        let words = self.buf.chunks_exact(8).zip(other.buf.chunks_exact(8));
        for (k, (a, b)) in words.enumerate() {
            let at = k * 8;
            if at >= n {
                return true;
            }
            let (Ok(a), Ok(b)) = (<[u8; 8]>::try_from(a), <[u8; 8]>::try_from(b)) else { break };
            let diff = u64::from_le_bytes(a) ^ u64::from_le_bytes(b);
            let mask = if n - at >= 8 { u64::MAX } else { (1u64 << ((n - at) * 8)) - 1 };
            if diff & mask != 0 {
                return false;
            }
        }
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Eq for InlineBytes<N> {}

impl<const N: usize> std::hash::Hash for InlineBytes<N> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h);
    }
}

impl<const N: usize> Default for InlineBytes<N> {
    fn default() -> Self {
        InlineBytes { len: 0, buf: [0; N] }
    }
}

impl<const N: usize> InlineBytes<N> {
    /// The bytes held.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
    /// Appends as much of `b` as fits; returns how many bytes were taken.
    pub fn push(&mut self, b: &[u8]) -> usize {
        let room = N - self.len as usize;
        let n = room.min(b.len());
        self.buf[self.len as usize..self.len as usize + n].copy_from_slice(&b[..n]);
        self.len += n as u8;
        n
    }
    /// The first `n` bytes of `src` (as many as fit; `n <= src.len()`). When `src` has at
    /// least `N` bytes they are taken with one fixed-size copy, not a call to `memcpy`: the
    /// bytes past the held ones are never looked at (equality, hashing and display see
    /// [`Self::as_bytes`] only).
    #[inline]
    pub fn prefix_of(src: &[u8], n: usize) -> Self {
        match src.get(..N).and_then(|head| <[u8; N]>::try_from(head).ok()) {
            Some(buf) => InlineBytes { len: n.min(N) as u8, buf },
            None => {
                let mut out = Self::default();
                out.push(&src[..n.min(src.len())]);
                out
            }
        }
    }
    /// True when nothing more fits.
    pub fn is_full(&self) -> bool {
        self.len as usize == N
    }
    /// Number of bytes held.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Text safe to print on a terminal: see [`escape`]. Every name and preview reaches a
    /// person through here.
    pub fn to_string_lossy(&self) -> String {
        escape(self.as_bytes())
    }
}

impl<const N: usize> std::fmt::Debug for InlineBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A command name, upper-cased, at most [`NAME_CAP`] bytes.
pub type Name = InlineBytes<NAME_CAP>;
/// A display preview with secrets already redacted.
pub type Preview = InlineBytes<PREVIEW_CAP>;
/// Leading bytes of a command argument.
pub type Arg = InlineBytes<ARG_CAP>;
/// Leading bytes of a reply.
pub type Head = InlineBytes<HEAD_CAP>;
