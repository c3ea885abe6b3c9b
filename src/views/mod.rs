//! What a person or a script sees.

pub mod report;
pub mod tui;
