//! Where data comes from: packet captures (and, with the console, the server and the prompt).

pub mod capture;
pub mod server;
