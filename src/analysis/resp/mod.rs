//! One direction's RESP byte stream as a passive observer sees it: messages with the segments
//! that carried them, split messages, gaps and resynchronisation ([`stream`]). The protocol
//! itself (the scanner, redaction, escaping) is [`crate::protocol::resp`], shared with the
//! server client and the views.

pub mod rdb;
pub mod stream;

pub use stream::{Cut, Event, Found, Next, RespStream, Split, MAX_CUTS, MAX_CUT_RECORDS};
