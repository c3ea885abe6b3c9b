//! Pure analysis of captured packets: TCP, RESP and the conversation between them.
//!
//! Nothing here reads a clock or does I/O: every time comes from a packet timestamp, so the
//! same capture gives the same numbers every time.

pub mod conversation;
pub mod resp;
pub mod tcp;
pub mod wire;
