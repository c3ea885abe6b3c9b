//! TCP header flag bits, as decoded from the wire and judged by the analysis.

/// FIN.
pub const FIN: u8 = 0x01;
/// SYN.
pub const SYN: u8 = 0x02;
/// RST.
pub const RST: u8 = 0x04;
/// PSH.
pub const PSH: u8 = 0x08;
/// ACK.
pub const ACK: u8 = 0x10;

/// What a SYN's options say, packed in one word so the per-packet structs carry it at the
/// cost of the window scale alone: bits 0-7 the window scale plus one (0: none), bits 16-31
/// the full segment payload its peer may send (0: none), the MSS option less the 12 bytes of
/// a timestamp option when the SYN carries one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions(u32);

impl SynOptions {
    /// Packs a window scale and a full segment's payload.
    pub fn new(wscale: Option<u8>, mss: Option<u16>) -> SynOptions {
        let w = wscale.map_or(0, |k| u32::from(k.min(254)) + 1);
        SynOptions(w | u32::from(mss.unwrap_or(0)) << 16)
    }

    /// The window scale option.
    #[inline]
    pub fn wscale(self) -> Option<u8> {
        (self.0 & 0xff).checked_sub(1).and_then(|k| u8::try_from(k).ok())
    }

    /// The payload of a full segment the peer may send.
    #[inline]
    pub fn mss(self) -> Option<u16> {
        u16::try_from(self.0 >> 16).ok().filter(|&m| m > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::SynOptions;

    #[test]
    fn syn_options_pack_and_unpack() {
        for (w, m) in
            [(None, None), (Some(0), Some(1448)), (Some(14), None), (None, Some(65483)), (Some(255), Some(1))]
        {
            let o = SynOptions::new(w, m);
            assert_eq!((o.wscale(), o.mss()), (w.map(|k| k.min(254)), m));
        }
    }
}
