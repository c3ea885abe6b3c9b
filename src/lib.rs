//! respscope: see what really happens between Redis clients and a Redis server.
//!
//! One binary watches Redis from three sides: the wire (a libpcap capture reassembled into
//! RESP conversations), the server (INFO, SLOWLOG, CLIENT LIST, LATENCY, MONITOR) and the
//! operator's prompt. This crate is its library; `src/main.rs` is a thin command line.
//!
//! # Layout
//!
//! The folders follow the data flow, one direction only:
//!
//! ```text
//! sources/            where data comes from
//!   capture/          pcap files and live interfaces: read + decode link/IP/TCP
//!   server/           RESP client (TLS too), reconnecting pollers, MONITOR, parsers of
//!                     INFO, SLOWLOG, CLIENT LIST, LATENCY and MONITOR output
//! analysis/           pure: packets in, conversations out; no clock, no I/O
//!   tcp/              sequence arithmetic, reassembly, tshark's analysis flags, ACK RTT
//!   resp/             incremental RESP scanner, per-direction streams, redaction
//!   conversation/     pairing, latency, pipeline depth, batches, split commands
//!   wire/             the connection table that ties them together, bounded by bytes
//! engine/             folds analysis results into the model every view reads
//!   live.rs           wire feeds (live capture, replay) answering snapshot requests
//!   model.rs          the console's model, folded from snapshots and server polls
//!   timeline.rs       clients' batches on one time axis, matched with MONITOR's order
//! views/              what a person or a script sees
//!   lab/              a workshop lab's results: terminal table, markdown, CSV, JSON, SVG chart
//!   report/           `analyze` outputs: text, markdown, JSON (contract v1), segments
//!   tui/              the console's panes, pure functions of (&Model, &UiState)
//! app/                the console's event loop (keys, polls and a frame tick), `watch`, `demo`
//! ```
//!
//! Numbers mean exactly what `docs/METRICS.md` (contract v1) says.

pub mod analysis;
pub mod app;
pub mod engine;
pub mod protocol;
pub mod sources;
pub mod views;
