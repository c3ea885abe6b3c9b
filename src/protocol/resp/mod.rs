//! RESP, the Redis protocol: what every layer that reads or shows Redis bytes shares.
//!
//! - [`scan`]: the incremental scanner (pure, bounded, never panics on input), used by the
//!   wire analysis and by the server client alike.
//! - [`message`]: what the scanner finds.
//! - [`bytes`]: small inline byte buffers for names, arguments and previews.
//! - [`redact`]: which arguments are secrets.
//! - [`escape`]: untrusted text made safe to show.
//!
//! Nothing here depends on any other part of respscope.

pub mod bytes;
pub mod escape;
mod fast;
pub mod message;
pub mod redact;
pub mod scan;

pub use bytes::{Arg, Head, InlineBytes, Name, Preview};
pub use message::{Kind, Message, Outcome, ParseError, Role, Shape, Status, Token};
pub use scan::Scanner;
