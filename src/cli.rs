//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// See what really happens between Redis clients and a Redis server.
///
/// Without a subcommand, opens the console on the server given by -h/-p (redis-cli's
/// options), capturing its traffic on the interface that reaches it.
#[derive(Debug, Parser)]
#[command(name = "respscope", version, about, long_about = None, disable_help_flag = true, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: the console).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The console's options.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// The console: a server to poll and a wire to capture.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleArgs {
    /// The server.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// The capture.
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Stream MONITOR from the start (m toggles it). It can cost a busy server half its
    /// throughput; respscope stops it by itself if its buffer grows or the console falls behind.
    #[arg(long)]
    pub monitor: bool,
    /// Alert thresholds.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// What raises an alert (`docs/CONSOLE.md`, alerts).
#[derive(Debug, Clone, clap::Args)]
pub struct AlertArgs {
    /// A SLOWLOG entry at least this long (ms) is a slow command.
    #[arg(long, value_name = "MS", default_value_t = 10.0)]
    pub alert_slow_ms: f64,
    /// An interval's wire p99 this many times its recent median (and at least 1 ms) is a
    /// latency spike.
    #[arg(long, value_name = "X", default_value_t = 5.0)]
    pub alert_spike: f64,
    /// A client output buffer this large (MiB) is an alert (so is one that grew for 5 polls).
    #[arg(long, value_name = "MIB", default_value_t = 32)]
    pub alert_omem_mib: u64,
    /// A client query buffer this large (MiB) is an alert.
    #[arg(long, value_name = "MIB", default_value_t = 32)]
    pub alert_qbuf_mib: u64,
    /// Memory at this percentage of maxmemory is an alert.
    #[arg(long, value_name = "PCT", default_value_t = 90.0)]
    pub alert_memory_pct: f64,
    /// This many blocked clients (BLPOP and friends) is an alert.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub alert_blocked: u64,
    /// A replica this many seconds behind is an alert.
    #[arg(long, value_name = "S", default_value_t = 10)]
    pub alert_lag_s: u64,
}

impl AlertArgs {
    /// The thresholds these flags set.
    pub fn thresholds(&self) -> respscope::engine::alerts::rules::Thresholds {
        respscope::engine::alerts::rules::Thresholds {
            slow_us: (self.alert_slow_ms.max(0.0) * 1000.0) as u64,
            spike_factor: self.alert_spike.max(1.0),
            omem_bytes: self.alert_omem_mib.saturating_mul(1 << 20),
            qbuf_bytes: self.alert_qbuf_mib.saturating_mul(1 << 20),
            memory_pct: self.alert_memory_pct,
            blocked_clients: self.alert_blocked,
            replica_lag_s: self.alert_lag_s,
            ..respscope::engine::alerts::rules::Thresholds::default()
        }
    }
}

/// Where to capture: the console, `watch` and the exporter take the same options.
#[derive(Debug, Clone, clap::Args)]
pub struct WireArgs {
    /// Interface to capture on (default: the one that reaches the server; `lo` for a local one).
    #[arg(short = 'i', long)]
    pub interface: Option<String>,
    /// Capture filter (default: `tcp port <port>`).
    #[arg(short = 'f', long)]
    pub filter: Option<String>,
    /// Do not capture; the server side only.
    #[arg(long)]
    pub no_capture: bool,
}

/// Where and what to capture, and what to record of it.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Where to capture.
    #[command(flatten)]
    pub wire: WireArgs,
    /// Record what is captured to this pcapng file (as tcpdump -w, with -C and -W).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub write: Option<PathBuf>,
    /// With --write: start a new file once this one holds this many million bytes
    /// (FILE, FILE1, FILE2, … as tcpdump names them).
    #[arg(short = 'C', value_name = "MB", requires = "write")]
    pub rotate_mb: Option<u64>,
    /// With --write and -C: cycle through this many files (FILE0 … FILE{N-1}), overwriting
    /// the oldest.
    #[arg(short = 'W', value_name = "N", requires = "rotate_mb")]
    pub files: Option<u32>,
    /// Seconds of capture the console keeps for `w` to save (at most 32 MiB of it); 0 keeps
    /// none.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub ring_seconds: u32,
    /// Seconds a closed connection stays in Connections and the Timeline, with its name
    /// (at most 10,000 of them; older ones are summed into the totals).
    #[arg(long, value_name = "S", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_closed: u32,
}

impl CaptureArgs {
    /// What the live feed records.
    pub fn evidence(&self) -> respscope::engine::live::Evidence {
        use respscope::engine::evidence::{recorder::RecordConfig, ring::DEFAULT_BYTES};
        respscope::engine::live::Evidence {
            record: self.write.as_ref().map(|p| RecordConfig {
                path: p.clone(),
                rotate_bytes: self.rotate_mb.map(|m| m.saturating_mul(1_000_000)),
                files: self.files,
            }),
            ring_us: i64::from(self.ring_seconds) * 1_000_000,
            ring_bytes: DEFAULT_BYTES,
            keep_closed_us: i64::from(self.keep_closed) * 1_000_000,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse a pcap or pcapng capture: connections, commands, batches, splits, latency and
    /// TCP window events.
    Analyze(AnalyzeArgs),
    /// Watch a live server headless: capture its traffic and poll it, printing one JSON
    /// snapshot per interval (for scripts and tests).
    #[command(disable_help_flag = true)]
    Watch(Box<WatchArgs>),
    /// Replay a capture through the console on its own timestamps (pause, step, speed,
    /// restart).
    Replay(ReplayArgs),
    /// Start a private redis-server with built-in workloads (sequential, pipelined,
    /// Jedis-style 8192-byte flushes, Lettuce-style 16-command batches, a slow reader, several
    /// clients) and open the console on it; replays the bundled capture where capture is not
    /// permitted or redis-server is missing.
    Demo(DemoArgs),
    /// Forward 127.0.0.1:PORT to a server with a round trip added (half each way), optional
    /// jitter and bandwidth cap; each client write stays one write. For workshops: point
    /// clients at it, and `respscope -p PORT` at its client side.
    Proxy(ProxyArgs),
    /// Run a workshop lab through round-trip proxies, with the wire as evidence:
    /// pipelining, batching, flush, slow-reader or interleave. Opens the console with a Lab
    /// pane (9); --headless prints the results instead.
    #[command(disable_help_flag = true)]
    Lab(LabArgs),
    /// Serve what only the wire sees (every command's latency, pipelined ones included;
    /// batches, split commands, window events, drops) and the server's own numbers at
    /// /metrics, for Prometheus.
    #[command(disable_help_flag = true)]
    Exporter(ExporterArgs),
    /// Print a shell completion script: `respscope completions bash >
    /// ~/.local/share/bash-completion/completions/respscope` (zsh: a file `_respscope` in
    /// a directory of $fpath; fish: ~/.config/fish/completions/respscope.fish).
    Completions(CompletionsArgs),
    // `respscope manpage` prints the man page; main.rs answers it before these definitions
    // are parsed, so that neither --help nor a completion script offers it (clap_complete
    // offers hidden subcommands).
}

/// `respscope exporter`.
#[derive(Debug, clap::Args)]
pub struct ExporterArgs {
    /// The server.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Where to serve /metrics.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9121")]
    pub listen: std::net::SocketAddr,
    /// Where to capture.
    #[command(flatten)]
    pub wire: WireArgs,
}

/// `respscope completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// Print help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// `respscope lab`.
#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// The lab: pipelining, batching, flush, slow-reader, interleave.
    #[arg(value_name = "NAME", value_parser = ["pipelining", "batching", "flush", "slow-reader", "interleave"])]
    pub name: String,
    /// Round trips to add, comma separated (default: 0,1ms,2ms,5ms for pipelining, 2ms for
    /// the others).
    #[arg(long, value_name = "D[,D…]", value_delimiter = ',', value_parser = duration)]
    pub rtt: Vec<std::time::Duration>,
    /// Commands per run, comma separated (pipelining: 100,1000; batching and interleave:
    /// 1000; flush: 2000; slow-reader: 400 GETs of 64 KiB).
    #[arg(long, value_name = "N[,N…]", value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub commands: Vec<u64>,
    /// A server to run against instead of a private one the lab starts (its configuration is
    /// left alone, so the SLOWLOG and output-buffer-limit parts are skipped).
    #[arg(short = 'h', long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// The given server's port.
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,
    /// The given server's password (REDISCLI_AUTH is read too).
    #[arg(short = 'a', long = "pass")]
    pub password: Option<String>,
    /// ACL user name.
    #[arg(long)]
    pub user: Option<String>,
    /// Jitter each proxy adds each way.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub jitter: std::time::Duration,
    /// Bandwidth cap of each proxy, each way (125000, 10MB, 10mbit).
    #[arg(long, value_name = "RATE", value_parser = rate)]
    pub bandwidth: Option<u64>,
    /// No console: progress on stderr, the results on stdout.
    #[arg(long)]
    pub headless: bool,
    /// How --headless prints the results.
    #[arg(long, value_enum, default_value = "table")]
    pub format: LabFormat,
    /// Write the results here as JSON, markdown, CSV and an SVG chart.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub out: Option<PathBuf>,
    /// Do not capture (round trips and window events are then not measured).
    #[arg(long)]
    pub no_capture: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// `lab --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LabFormat {
    /// An aligned table.
    Table,
    /// `{"lab": NAME, "rows": [...]}`.
    Json,
    /// A markdown table.
    Markdown,
    /// CSV.
    Csv,
}

/// `respscope proxy`.
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// The server to forward to, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: String,
    /// The port to listen on, on 127.0.0.1 (default: a free one, printed).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub listen: u16,
    /// The round trip to add, half each way: 2ms, 500us, 1.5ms, 0.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub rtt: std::time::Duration,
    /// Move each one-way delay by a uniform amount in ± this (bytes are never reordered).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "0")]
    pub jitter: std::time::Duration,
    /// Cap each direction of each connection: bytes/s (125000, 64KB, 10MB, 1MiB) or bits/s
    /// (100kbit, 10mbit).
    #[arg(long, value_name = "RATE", value_parser = rate)]
    pub bandwidth: Option<u64>,
    /// Connections at once, at most; more are closed as they arrive.
    #[arg(long, value_name = "N", default_value = "1024", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections: u16,
    /// Print help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    respscope::app::lab::units::parse_duration(s).map_err(|e| e.to_string())
}

fn rate(s: &str) -> Result<u64, String> {
    respscope::app::lab::units::parse_rate(s).map_err(|e| e.to_string())
}

/// `respscope demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Replay the bundled capture instead of capturing live.
    #[arg(long)]
    pub no_capture: bool,
    /// Print help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// `respscope replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The capture file (.pcap or .pcapng).
    #[arg(value_hint = clap::ValueHint::FilePath)]
    pub file: PathBuf,
    /// Redis server port in the capture; repeat for several.
    #[arg(short, long = "port", default_value = "6379")]
    pub ports: Vec<u16>,
    /// Speed over capture time: 1, 10, 100, or `max`.
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Print help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// Where the server is and how to log in, as redis-cli takes it.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnArgs {
    /// Server host name or address.
    #[arg(short = 'h', long = "host", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(short = 'p', long = "port", default_value_t = 6379)]
    pub port: u16,
    /// Server Unix socket (overrides host and port). The wire cannot be captured on one:
    /// the server's panes, the Console pane and `watch`'s server side work.
    #[arg(short = 's', long = "socket", value_name = "PATH")]
    pub socket: Option<std::path::PathBuf>,
    /// Password; like redis-cli, respscope warns that others may read it in the process list:
    /// set REDISCLI_AUTH instead.
    // Not clap's `env`: a password from REDISCLI_AUTH must be told apart from one typed here.
    #[arg(short = 'a', long = "pass")]
    pub password: Option<String>,
    /// ACL user name.
    #[arg(long)]
    pub user: Option<String>,
    /// Database number.
    #[arg(short = 'n', default_value_t = 0)]
    pub db: u32,
    /// Server URI: redis://[user[:password]@]host[:port][/db], or rediss:// for TLS.
    #[arg(short = 'u', long = "uri")]
    pub uri: Option<String>,
    /// Speak RESP3 to the server.
    #[arg(short = '3')]
    pub resp3: bool,
    /// Redis Cluster: find every node from this one (CLUSTER SHARDS, or CLUSTER NODES), poll
    /// each, capture all their ports and show a row per node.
    #[arg(short = 'c')]
    pub cluster: bool,
    /// Connect with TLS (also implied by a rediss:// URI).
    #[arg(long)]
    pub tls: bool,
    /// CA certificate file (PEM) to verify the server with, instead of the system's store.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cacert: Option<std::path::PathBuf>,
    /// Client certificate (PEM), for servers with tls-auth-clients yes.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cert: Option<std::path::PathBuf>,
    /// Client private key (PEM) for --cert.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub key: Option<std::path::PathBuf>,
    /// Server name to ask for and verify (default: the host).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Accept any server certificate (a self-signed test server).
    #[arg(long)]
    pub insecure: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// `respscope watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The server.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds between snapshots.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// Output format: one JSON object per line, or a short text summary per interval.
    #[arg(long, value_enum, default_value_t = WatchFormat::Json)]
    pub format: WatchFormat,
    /// List every connection and client in each line, not only the 50 busiest (a line then
    /// grows with the number of connections).
    #[arg(long)]
    pub all_connections: bool,
    /// Alert thresholds.
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// The capture.
    #[command(flatten)]
    pub capture: CaptureArgs,
}

/// Output formats of `watch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WatchFormat {
    /// JSON Lines.
    Json,
    /// A few lines per interval for people: server, wire, open alerts (to paste into a ticket).
    Text,
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
    /// The capture file (.pcap or .pcapng), or - to read one from stdin as it comes
    /// (`tcpdump -w - 'tcp port 6379' | respscope analyze -`).
    #[arg(value_hint = clap::ValueHint::FilePath)]
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
    /// Compare with a second capture: per client library (or per connection class when
    /// none is announced), side by side: commands, batch sizes, flush verdict, split commands
    /// per 1,000, max depth, latency, zero windows; what changed is marked. The markdown
    /// format fits in a pull request.
    #[arg(long, value_name = "B.pcap", value_hint = clap::ValueHint::FilePath, conflicts_with = "segments")]
    pub compare: Option<PathBuf>,
    /// Memory for the connection table, in MiB. Past it, connections are summed into the
    /// totals and no longer listed (those that carried no data first, then finished ones,
    /// then the longest idle); the report says how many.
    #[arg(long, value_name = "MIB", default_value_t = 96, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub memory: u32,
    /// Print help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// The man page, `man/respscope.1`, which `respscope manpage > man/respscope.1` regenerates:
/// the command and its console options, then each
/// subcommand with its synopsis, description and options, all from the definitions above
/// (clap_mangen renders the parts; one page holds them, so no `respscope-analyze(1)` is
/// named that is not installed).
pub fn manpage(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut cmd = Cli::command();
    cmd.build();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    writeln!(page, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        writeln!(page, ".SS \"respscope {}\"", sub.get_name())?;
        let man = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        man.render_options_section(&mut part)?;
        // Each part comes with its own section heading: inside one subsection, a paragraph
        // break stands for it.
        for line in String::from_utf8_lossy(&part).lines() {
            if line.starts_with(".SH") {
                writeln!(page, ".PP")?;
            } else {
                writeln!(page, "{line}")?;
            }
        }
    }
    man.render_version_section(&mut page)?;
    // Every part rendered opens with the same two lines defining the quote string; the page
    // needs them once.
    let text = String::from_utf8_lossy(&page);
    let mut seen: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq") {
            if seen.contains(&line) {
                continue;
            }
            seen.push(line);
        }
        // Non-ASCII as roff's named Unicode escapes (`…` is `\[u2026]`): troff reads its input
        // as Latin-1 unless preconv runs first, as `man` does but `groff -man` does not.
        let mut escaped = String::with_capacity(line.len());
        for c in line.chars() {
            if c.is_ascii() {
                escaped.push(c);
            } else {
                escaped.push_str(&format!("\\[u{:04X}]", u32::from(c)));
            }
        }
        writeln!(out, "{escaped}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's consistency checks (two arguments on one flag, a `requires` naming nothing,
    /// …) over every subcommand: `-h` is --host on the console, watch and lab, and help is
    /// `-h` elsewhere. They run in builds with debug assertions, which the ci profile turns on
    /// for clap_builder.
    #[test]
    fn the_command_line_passes_clap_s_own_checks() {
        // Every subcommand is checked too, within its parent (whose disable_help_flag it
        // inherits: alone, each would get a --help of its own beside the one it declares).
        Cli::command().debug_assert();
    }

    #[test]
    fn the_man_page_names_every_subcommand_and_not_its_own() {
        let mut page = Vec::new();
        super::manpage(&mut page).expect("render");
        let page = String::from_utf8(page).expect("utf-8");
        for sub in ["analyze", "watch", "replay", "demo", "proxy", "lab", "completions"] {
            assert!(page.contains(&format!(".SS \"respscope {sub}\"")), "{sub} missing");
        }
        assert!(!page.contains(".SS \"respscope manpage\""), "manpage is listed as a subcommand");
        assert!(page.contains("\\-\\-alert\\-slow\\-ms"), "console options missing");
    }
}
