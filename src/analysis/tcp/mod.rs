//! TCP as a passive observer sees it: sequence arithmetic, reassembly and tshark's analysis
//! flags.
//!
//! - [`seq`]: wrap-around comparisons and 64-bit stream offsets.
//! - [`reassembly`]: per-direction byte streams with bounded out-of-order buffering.
//! - [`flags`]: zero window, window full/update, probes, retransmissions, as tshark 4.0.
//! - [`rtt`]: round-trip time from ACKs (one timed segment per direction, Karn's rule).

pub mod flags;
pub mod reassembly;
pub mod rtt;
pub mod seq;

pub use reassembly::{Delivery, Reassembler};
