//! What the server says about itself: parsers for INFO, SLOWLOG, CLIENT LIST, LATENCY and
//! MONITOR output. Pure functions over text; the client that fetches them lives beside them.

pub mod client;
pub mod cluster;
pub mod formats;
pub mod monitor;
pub mod poller;
pub mod tls;
