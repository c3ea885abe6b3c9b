//! RESP, the Redis protocol, as seen on the wire.
//!
//! - [`scan`]: the incremental scanner (pure, bounded, never panics on input).
//! - [`stream`]: one direction's stream: owners of bytes, split messages, gaps, resync.
//! - [`redact`]: which arguments are secrets.
//! - [`escape`]: untrusted text made safe to show.

pub mod escape;
pub mod redact;
pub mod scan;
pub mod stream;

pub use scan::{InlineBytes, Kind, Message, Name, Outcome, ParseError, Preview, Role, Scanner, Token};
pub use stream::{Event, Found, RespStream, Split};
