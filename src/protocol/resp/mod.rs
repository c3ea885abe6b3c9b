//! RESP, the Redis protocol: what every layer that reads or shows Redis bytes shares.
//!
//! - [`scan`]: the incremental scanner (pure, bounded, never panics on input), used by the
//!   wire analysis and by the server client alike.
//! - [`message`]: what the scanner finds.
//! - [`bytes`]: small inline byte buffers for names, arguments and previews.
//! - [`redact`]: which arguments are secrets.
//! - [`escape`]: untrusted text made safe to show.
//! - [`args`]: the arguments of one whole command, for the few that need more than a scan.
//! - [`cut`]: the bytes on both sides of a cut through a message, secrets masked.
//!
//! Nothing here depends on any other part of respscope.

pub mod args;
pub mod bytes;
pub mod cut;
pub mod escape;
mod fast;
pub mod message;
pub mod redact;
pub mod scan;

pub use bytes::{Arg, Head, InlineBytes, Name, Preview};
pub use cut::CutBytes;
pub use message::{Kind, Message, Outcome, ParseError, Position, Role, Shape, Status};
pub use scan::Scanner;
