//! What a person or a script sees.

pub mod lab;
pub mod metrics;
pub mod report;
pub mod tui;
