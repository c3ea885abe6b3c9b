//! The `respscope` binary: parse the command line, run, map errors to one clear line and an
//! exit code.

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{
    AnalyzeArgs, Cli, Command, ConnArgs, ConsoleArgs, Format, LabArgs, LabFormat, ProxyArgs, ReplayArgs,
    WatchArgs,
};
use respscope::analysis::wire::{SegmentRecord, WireAnalyzer, WireConfig};
use respscope::app::{watch, ConsoleConfig, Feed};
use respscope::engine;
use respscope::engine::live::LiveWire;
use respscope::sources::capture::live::{interface_for, port_filter, LiveConfig};
use respscope::sources::capture::CaptureFile;
use respscope::sources::server::client::ConnectOptions;
use respscope::views::report;

fn main() -> ExitCode {
    // `respscope manpage`: the man page for maintainers to commit (man/respscope.1), answered
    // here and not among the subcommands, so that no completion script offers it.
    let result = if std::env::args_os().skip(1).eq(["manpage"]) {
        let mut page = Vec::new();
        cli::manpage(&mut page).map_err(anyhow::Error::from).and_then(|()| print_all(&page))
    } else {
        run(Cli::parse())
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("respscope: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    // The JSON writer wraps the pipe's error in its own.
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Analyze(args)) => analyze(&args),
        Some(Command::Watch(args)) => watch(&args),
        Some(Command::Replay(args)) => replay(&args),
        Some(Command::Demo(args)) => {
            respscope::app::demo(args.no_capture)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Proxy(args)) => proxy(&args),
        Some(Command::Lab(args)) => lab(&args),
        Some(Command::Exporter(args)) => exporter(&args),
        Some(Command::Completions(args)) => {
            // Built whole, then written: clap_complete panics on a failed write (a closed
            // pipe), and an error here is the usual one line.
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "respscope", &mut script);
            print_all(&script)
        }
        None => console(&cli.console),
    }
}

fn print_all(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Why there is no wire to capture for a server on a Unix socket, if it is on one.
fn unix_no_wire(opts: &ConnectOptions) -> Option<String> {
    opts.unix.as_ref().map(|p| {
        format!(
            "the server is on a Unix socket ({}): its traffic crosses no network interface, so there is no wire to capture; the server's numbers and the Console pane work",
            p.display()
        )
    })
}

/// The capture for a server (or a cluster's nodes, `ports`): `tcp port P [or tcp port Q …]`
/// on the interface that reaches the server given, unless told otherwise; `None` with
/// `--no-capture`.
fn live_config(c: &cli::WireArgs, opts: &ConnectOptions, ports: &[u16]) -> Option<LiveConfig> {
    (!c.no_capture).then(|| LiveConfig {
        interface: c.interface.clone().unwrap_or_else(|| interface_for(&opts.host, opts.port)),
        filter: c.filter.clone().unwrap_or_else(|| port_filter(ports)),
        buffer_mib: 32,
    })
}

/// `-c`: the cluster's nodes, found from the given one before the capture starts, so that
/// its filter holds every node's port. A server that is not in a cluster, or does not
/// answer, is said on stderr and watched alone.
fn cluster_setup(c: &ConnArgs, opts: &ConnectOptions) -> Option<respscope::app::ClusterSetup> {
    if !c.cluster {
        return None;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    match rt.block_on(respscope::sources::server::cluster::discover(opts)) {
        Ok(d) => {
            let mut captured = d.ports();
            if !captured.contains(&opts.port) {
                captured.insert(0, opts.port);
            }
            Some(respscope::app::ClusterSetup { discovery: d, captured })
        }
        Err(why) => {
            eprintln!("respscope: -c: {why}; watching {} alone", opts.addr());
            None
        }
    }
}

/// The ports to capture and analyse: the cluster's nodes, or the server's.
fn server_ports(cluster: Option<&respscope::app::ClusterSetup>, opts: &ConnectOptions) -> Vec<u16> {
    cluster.map_or_else(|| vec![opts.port], |c| c.captured.clone())
}

fn console(args: &ConsoleArgs) -> anyhow::Result<ExitCode> {
    let opts = connect_options(&args.conn)?;
    // On stderr before the alternate screen hides it, and among the console's alerts.
    let notice = password_warning(&args.conn);
    if let Some(w) = notice {
        eprintln!("{w}");
    }
    let cluster = cluster_setup(&args.conn, &opts);
    let ports = server_ports(cluster.as_ref(), &opts);
    let feed = match (unix_no_wire(&opts), live_config(&args.capture.wire, &opts, &ports)) {
        (Some(why), _) => Feed::None(why),
        (None, None) => Feed::None("capture off (--no-capture)".into()),
        (None, Some(cfg)) => Feed::Live(cfg),
    };
    respscope::app::run(ConsoleConfig {
        server: Some(opts),
        feed,
        ports,
        notice: notice.map(str::to_string),
        monitor: args.monitor,
        thresholds: args.alerts.thresholds(),
        evidence: args.capture.evidence(),
        cluster,
    })?;
    Ok(ExitCode::SUCCESS)
}

fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let speed = match args.speed.as_str() {
        "max" => 0.0,
        s => s
            .parse::<f64>()
            .map_err(|_| anyhow::anyhow!("--speed {s}: a number (1, 10, 100) or max"))?
            .max(0.0),
    };
    respscope::app::run(ConsoleConfig {
        server: None,
        feed: Feed::Replay { path: args.file.clone(), speed },
        ports: args.ports.clone(),
        notice: None,
        monitor: false,
        thresholds: respscope::engine::alerts::rules::Thresholds::default(),
        evidence: respscope::engine::live::Evidence::default(),
        cluster: None,
    })?;
    Ok(ExitCode::SUCCESS)
}

fn proxy(args: &ProxyArgs) -> anyhow::Result<ExitCode> {
    use respscope::app::lab::proxy::ProxyConfig;
    let cfg = ProxyConfig {
        listen_port: args.listen,
        jitter: args.jitter,
        bandwidth: args.bandwidth,
        max_connections: usize::from(args.max_connections),
        ..ProxyConfig::new(args.to.clone(), args.rtt)
    };
    respscope::app::lab::run_proxy(cfg, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

fn exporter(args: &cli::ExporterArgs) -> anyhow::Result<ExitCode> {
    let opts = connect_options(&args.conn)?;
    if let Some(w) = password_warning(&args.conn) {
        eprintln!("{w}");
    }
    if let Some(why) = unix_no_wire(&opts) {
        println!("respscope exporter: {why}");
    }
    let live = if opts.unix.is_some() { None } else { live_config(&args.wire, &opts, &[opts.port]) };
    let cfg = respscope::app::exporter::ExporterConfig {
        ports: vec![opts.port],
        server: opts,
        live,
        listen: args.listen,
    };
    respscope::app::exporter::run(cfg, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

fn lab(args: &LabArgs) -> anyhow::Result<ExitCode> {
    use respscope::app::lab::{Format, LabConfig, LabName, Plan, Setup, Target};
    let Some(lab) = LabName::parse(&args.name) else {
        anyhow::bail!(
            "no lab named {}; the labs: pipelining, batching, flush, slow-reader, interleave",
            args.name
        );
    };
    let target = if args.host.is_some() || args.port.is_some() {
        if args.password.is_some() {
            eprintln!("{PASSWORD_WARNING}");
        }
        Target::Given {
            host: args.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: args.port.unwrap_or(6379),
            user: args.user.clone(),
            password: args.password.clone().or_else(|| std::env::var("REDISCLI_AUTH").ok()),
        }
    } else {
        Target::Private
    };
    let rtts = if args.rtt.is_empty() { lab.default_rtts() } else { args.rtt.clone() };
    let commands = if args.commands.is_empty() { lab.default_commands() } else { args.commands.clone() };
    let format = match args.format {
        LabFormat::Table => Format::Table,
        LabFormat::Json => Format::Json,
        LabFormat::Markdown => Format::Markdown,
        LabFormat::Csv => Format::Csv,
    };
    let cfg = LabConfig {
        lab,
        setup: Setup {
            target,
            rtts: rtts.clone(),
            jitter: args.jitter,
            bandwidth: args.bandwidth,
            capture: !args.no_capture,
        },
        plan: Plan { rtts, commands },
        out: args.out.clone(),
        format,
    };
    let result = if args.headless {
        respscope::app::lab::headless(&cfg, &mut std::io::stdout().lock(), &mut std::io::stderr())?
    } else {
        respscope::app::lab_console(&cfg)?
    };
    Ok(match result.status {
        respscope::engine::lab::LabStatus::Done => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// redis-cli's words when a password is given on the command line, where any user on the
/// machine can read it in the process list.
const PASSWORD_WARNING: &str =
    "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.";

/// The warning redis-cli gives for a password in `-a` or in `-u`'s URI; none for
/// REDISCLI_AUTH, the safe way.
fn password_warning(c: &ConnArgs) -> Option<&'static str> {
    let in_uri = c.uri.as_deref().and_then(uri_userinfo).is_some();
    (c.password.is_some() || in_uri).then_some(PASSWORD_WARNING)
}

/// The `user:password` (or `password`) part of a `redis://` or `rediss://` URI, if any.
fn uri_userinfo(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("redis://").or_else(|| uri.strip_prefix("rediss://"))?;
    rest.rsplit_once('@').map(|(auth, _)| auth)
}

/// Connection options from redis-cli style arguments (a URI wins over -h/-p/-a/-n; -a over
/// REDISCLI_AUTH).
fn connect_options(c: &ConnArgs) -> anyhow::Result<ConnectOptions> {
    let mut o = ConnectOptions {
        host: c.host.clone(),
        port: c.port,
        user: c.user.clone(),
        password: c.password.clone().or_else(|| std::env::var("REDISCLI_AUTH").ok()),
        db: c.db,
        resp3: c.resp3,
        timeout: std::time::Duration::from_secs(3),
        tls: None,
        unix: c.socket.clone(),
    };
    let mut tls = c.tls;
    if let Some(uri) = &c.uri {
        let rest = if let Some(r) = uri.strip_prefix("redis://") {
            r
        } else if let Some(r) = uri.strip_prefix("rediss://") {
            tls = true;
            r
        } else {
            anyhow::bail!("{uri}: a URI starts with redis:// (or rediss:// for TLS)");
        };
        let auth = uri_userinfo(uri);
        let hostpart = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        if let Some(a) = auth {
            match a.split_once(':') {
                Some((u, p)) => {
                    if !u.is_empty() {
                        o.user = Some(u.to_string());
                    }
                    o.password = Some(p.to_string());
                }
                None => o.password = Some(a.to_string()),
            }
        }
        let (hp, db) = match hostpart.split_once('/') {
            Some((h, d)) => (h, Some(d)),
            None => (hostpart, None),
        };
        if let Some(d) = db.filter(|d| !d.is_empty()) {
            o.db = d.parse().map_err(|_| anyhow::anyhow!("{d}: the database in a URI is a number"))?;
        }
        let (h, p) = if let Some(v6) = hp.strip_prefix('[') {
            match v6.split_once(']') {
                Some((h, p)) => (h.to_string(), p.strip_prefix(':')),
                None => anyhow::bail!("{uri}: unclosed '[' in the host"),
            }
        } else {
            match hp.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hp.to_string(), None),
            }
        };
        if !h.is_empty() {
            o.host = h;
        }
        if let Some(p) = p {
            o.port = p.parse().map_err(|_| anyhow::anyhow!("{p}: the port in a URI is a number"))?;
        }
    }
    let tls_only = c.cacert.is_some() || c.cert.is_some() || c.key.is_some() || c.insecure || c.sni.is_some();
    if tls {
        o.tls = Some(respscope::sources::server::tls::TlsOptions {
            cacert: c.cacert.clone(),
            cert: c.cert.clone(),
            key: c.key.clone(),
            insecure: c.insecure,
            sni: c.sni.clone(),
        });
    } else if tls_only {
        anyhow::bail!(
            "--cacert, --cert, --key, --sni and --insecure are TLS options: add --tls (or use rediss://)"
        );
    }
    Ok(o)
}

fn watch(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let opts = connect_options(&args.conn)?;
    if let Some(w) = password_warning(&args.conn) {
        eprintln!("{w}");
    }
    let interval = std::time::Duration::from_secs_f64(args.interval.max(0.05));
    let cluster = cluster_setup(&args.conn, &opts);
    let ports = server_ports(cluster.as_ref(), &opts);
    let live = match live_config(&args.capture.wire, &opts, &ports) {
        _ if opts.unix.is_some() => Err(unix_no_wire(&opts).unwrap_or_default()),
        None => Err("capture off (--no-capture)".to_string()),
        Some(cfg) => {
            let wire = WireConfig::ports(ports.clone());
            // watch has no key to save a window: no ring.
            let evidence = respscope::engine::live::Evidence { ring_us: 0, ..args.capture.evidence() };
            LiveWire::start(&cfg, wire, watch::limits(args.all_connections), &evidence)
                .map_err(|e| e.to_string())
        }
    };
    if let Err(why) = &live {
        eprintln!("respscope: {why}; watching the server only");
    }
    let cfg = watch::WatchConfig {
        server: opts,
        wire: live,
        interval,
        duration: args.duration.map(|d| std::time::Duration::from_secs_f64(d.max(0.0))),
        all: args.all_connections,
        thresholds: args.alerts.thresholds(),
        text: args.format == cli::WatchFormat::Text,
        cluster,
    };
    watch::run(cfg, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// Exit code when respscope itself failed (an analyzer thread panicked): the report is
/// partial, and the input is not to blame (sysexits' EX_SOFTWARE).
const EXIT_INTERNAL: u8 = 70;

/// What `respscope analyze -` says when stdin is a terminal, instead of waiting for a
/// capture no one is going to type.
const STDIN_IS_A_TERMINAL: &str = "reading a capture from stdin; pipe one in (tcpdump -w - …) or give a file";

/// The capture `analyze` reads: the file, or stdin for `-`, read as it comes (a pipe from
/// tcpdump may never end, and a file of many GB is never held whole).
fn open_capture(file: &std::path::Path) -> anyhow::Result<CaptureFile> {
    if file.as_os_str() != "-" {
        return Ok(CaptureFile::open(file)?);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!(STDIN_IS_A_TERMINAL);
    }
    Ok(CaptureFile::from_reader(Box::new(stdin), "stdin")?)
}

fn analyze(args: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    if let Some(b) = &args.compare {
        return compare(args, b);
    }
    let capture = open_capture(&args.file)?;
    let cfg = WireConfig {
        ports: args.ports.clone(),
        previews: args.format != Format::Json || args.segments,
        memory_budget: (args.memory as usize) << 20,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write_err: Option<std::io::Error> = None;
    let json_lines = args.format == Format::Json;
    // Nothing reaches stdout before the input is known to be a capture: the listing's
    // header comes with its first line (or after the file was read, if it has none).
    let mut header_due = args.segments && !json_lines;
    let result = if args.segments {
        let mut each = |rec: &SegmentRecord, w: &WireAnalyzer| {
            if write_err.is_none() {
                let line = if json_lines {
                    report::segments::json_line(rec, w)
                } else {
                    report::segments::line(rec, w)
                };
                let header = std::mem::take(&mut header_due).then(report::segments::header);
                let r =
                    header.map_or(Ok(()), |h| writeln!(out, "{h}")).and_then(|()| writeln!(out, "{line}"));
                if let Err(e) = r {
                    write_err = Some(e);
                }
            }
        };
        engine::analyze_capture(capture, cfg, Some(&mut each))
    } else {
        engine::analyze_capture(capture, cfg, None)
    };
    if let Some(e) = write_err {
        return Err(e.into());
    }
    let analysis = result;
    if header_due {
        writeln!(out, "{}", report::segments::header())?;
    }
    let r = analysis.summary();
    let conns = analysis.connections();
    // The text report's first line is the command as typed (`respscope analyze -`); a
    // markdown title names stdin in words.
    let source = args.file.display().to_string();
    let title = if source == "-" { "stdin".to_string() } else { source.clone() };
    if args.segments && !json_lines {
        writeln!(out)?;
    }
    match args.format {
        Format::Text => report::text::write(&mut out, &r, conns, &source)?,
        Format::Markdown => report::markdown::write(&mut out, &r, conns, &title)?,
        // With --segments the output is JSON Lines: the segments, then the report on one line.
        Format::Json => report::json::write(&mut out, &r, conns, !args.segments)?,
    }
    out.flush()?;
    for w in &r.capture.warnings {
        eprintln!("respscope: warning: {w}");
    }
    if analysis.failed_analyzers > 0 {
        return Ok(ExitCode::from(EXIT_INTERNAL));
    }
    Ok(ExitCode::SUCCESS)
}

/// `analyze A --compare B`: both captures analysed one after the other, grouped, paired.
fn compare(args: &AnalyzeArgs, b: &std::path::Path) -> anyhow::Result<ExitCode> {
    use respscope::engine::compare;
    if args.file.as_os_str() == "-" && b.as_os_str() == "-" {
        anyhow::bail!("only one of the two captures can come from stdin");
    }
    let mut failed = 0;
    let mut side = |file: &std::path::Path| -> anyhow::Result<_> {
        let cfg = WireConfig {
            ports: args.ports.clone(),
            previews: false,
            memory_budget: (args.memory as usize) << 20,
        };
        let analysis = engine::analyze_capture(open_capture(file)?, cfg, None);
        for w in &analysis.warnings {
            eprintln!("respscope: warning: {}: {w}", file.display());
        }
        failed += analysis.failed_analyzers;
        Ok(compare::groups(analysis.connections()))
    };
    let ga = side(&args.file)?;
    let gb = side(b)?;
    let c = compare::compare(&args.file.display().to_string(), ga, &b.display().to_string(), gb);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let r = match args.format {
        Format::Text => out.write_all(report::compare::text(&c).as_bytes()),
        Format::Markdown => out.write_all(report::compare::markdown(&c).as_bytes()),
        Format::Json => {
            serde_json::to_writer(&mut out, &c).map_err(std::io::Error::from).and_then(|()| writeln!(out))
        }
    };
    match r.and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    Ok(if failed > 0 { ExitCode::from(EXIT_INTERNAL) } else { ExitCode::SUCCESS })
}
