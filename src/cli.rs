//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// See what really happens between Redis clients and a Redis server.
#[derive(Debug, Parser)]
#[command(name = "respscope", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse a pcap or pcapng capture: connections, commands, batches, splits, latency and
    /// TCP window events.
    Analyze(AnalyzeArgs),
}

/// Output formats of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people.
    Text,
    /// Contract v1 (`docs/METRICS.md`), one object.
    Json,
    /// Tables for issues and wikis.
    Markdown,
}

/// `respscope analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The capture file (.pcap or .pcapng).
    pub file: PathBuf,
    /// Redis server port; repeat for several.
    #[arg(short, long = "port", default_value = "6379")]
    pub ports: Vec<u16>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// List every Redis segment first (frame, time, direction, length, flags, window, what
    /// it carries), like a packet list that understands RESP. With `--format json` the
    /// output is JSON Lines: one object per segment, then the report on the last line.
    #[arg(long)]
    pub segments: bool,
}
