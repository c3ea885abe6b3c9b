//! The console's event loop: one `select!` over keys, server polls and a frame tick.
//!
//! Sources run elsewhere (the wire feed on its own thread, the poller as a task) and only
//! hand over owned results; this loop folds them into the [`Model`] and draws on the frame
//! tick, never per event. Pausing freezes a copy of the model while ingestion goes on.

pub mod demo;
mod evidence;
pub mod exporter;
pub mod lab;
pub mod watch;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyEventKind, KeyModifiers};
use futures_util::StreamExt;

use crate::analysis::wire::WireConfig;
use crate::engine::alerts::rules::Thresholds;
use crate::engine::live::{FeedSnapshot, LiveWire, ReplayCtl};
use crate::engine::model::{Model, WireSource};
use crate::protocol::resp::redact::redact_args;
use crate::sources::capture::live::LiveConfig;
use crate::sources::server::client::Client;
use crate::sources::server::client::ConnectOptions;
use crate::sources::server::formats::config::ReplyRedactor;
use crate::sources::server::monitor::{MonitorEvent, MonitorHandle};
use crate::sources::server::poller::Poller;
use crate::views::tui::reply::format_reply_shaped;
use crate::views::tui::state::{action_for, split_args, Action, Edit, Pane};
use crate::views::tui::{self, UiState};

/// Frames per second of the console.
const FRAME: Duration = Duration::from_millis(100);
/// How often the wire is asked for a snapshot.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(500);
/// How often the server is polled.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Replay speeds cycled by `+` and `-` (0: as fast as possible).
const SPEEDS: [f64; 4] = [1.0, 10.0, 100.0, 0.0];

/// Where the wire view comes from.
#[derive(Clone, Debug)]
pub enum Feed {
    /// Capture live.
    Live(LiveConfig),
    /// Replay a file at a speed (0: as fast as possible).
    Replay {
        /// The capture.
        path: PathBuf,
        /// Speed factor.
        speed: f64,
    },
    /// No wire view, and why.
    None(String),
}

/// What the console shows.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// The server to poll, if any.
    pub server: Option<ConnectOptions>,
    /// The wire feed.
    pub feed: Feed,
    /// Redis ports for the wire analysis.
    pub ports: Vec<u16>,
    /// Said first among the alerts (why a demo replays instead of capturing, say).
    pub notice: Option<String>,
    /// Start MONITOR right away.
    pub monitor: bool,
    /// What raises an alert.
    pub thresholds: Thresholds,
    /// What the live feed records (`--write`, and the ring `w` saves).
    pub evidence: crate::engine::live::Evidence,
    /// A Redis Cluster's nodes, found at start (`-c`).
    pub cluster: Option<ClusterSetup>,
}

/// `-c`: the cluster found from the given node before the capture started.
#[derive(Clone, Debug)]
pub struct ClusterSetup {
    /// The first discovery.
    pub discovery: crate::sources::server::cluster::Discovery,
    /// The ports the capture filter holds: the nodes found at start. Nodes found later are
    /// polled and shown, but not captured.
    pub captured: Vec<u16>,
}

/// `respscope demo`: a private server, built-in workloads and the console on top; the
/// bundled capture replayed where that is not possible, and the console says why.
///
/// # Errors
/// As [`run`].
pub fn demo(no_capture: bool) -> anyhow::Result<()> {
    let replay = |why: String| -> anyhow::Result<()> {
        let file = demo::bundled_capture_file()?;
        run(ConsoleConfig {
            server: None,
            feed: Feed::Replay { path: file.to_path_buf(), speed: 1.0 },
            ports: vec![6379],
            notice: Some(format!("{why}: replaying the bundled capture instead")),
            monitor: false,
            thresholds: Thresholds::default(),
            evidence: crate::engine::live::Evidence::default(),
            cluster: None,
        })
    };
    let server = match demo::start_server() {
        Ok(s) => s,
        Err(why) => return replay(why),
    };
    let live =
        LiveConfig { interface: "lo".into(), filter: format!("tcp port {}", server.port), buffer_mib: 32 };
    if no_capture {
        return replay("capture off (--no-capture)".into());
    }
    if let Err(e) = crate::sources::capture::live::LiveCapture::open(&live) {
        return replay(format!("live capture is not permitted here ({e})"));
    }
    let opts = ConnectOptions {
        host: "127.0.0.1".into(),
        port: server.port,
        timeout: Duration::from_secs(3),
        ..ConnectOptions::default()
    };
    let workloads = demo::start_workloads(server.port);
    let cfg = ConsoleConfig {
        server: Some(opts),
        feed: Feed::Live(live),
        ports: vec![server.port],
        notice: Some(format!(
            "demo: private redis-server on 127.0.0.1:{} with sequential, pipelined, Jedis-style, Lettuce-style, slow-reader and interleaved clients; an 80 ms stall every 20 s, a client that stops reading once a minute; R restarts the server",
            server.port
        )),
        monitor: false,
        thresholds: Thresholds::default(),
        evidence: crate::engine::live::Evidence {
            ring_us: crate::engine::evidence::ring::DEFAULT_SPAN_US,
            ring_bytes: crate::engine::evidence::ring::DEFAULT_BYTES,
            record: None,
            keep_closed_us: 0,
        },
        cluster: None,
    };
    let result = run_console(cfg, Some(server.control()), None);
    // The server goes first: nothing we started may outlive the console, even if this process
    // is cut short while the workloads wind down (they fail fast once it is gone).
    drop(server);
    drop(workloads);
    result
}

/// What a console running a lab gets from it: its results as they grow, and the proxies'
/// address pairs (the server sees the lab's clients at the proxies' addresses).
pub struct LabLink {
    /// Every result the lab publishes.
    pub updates: std::sync::mpsc::Receiver<crate::engine::lab::LabResult>,
    /// `(address the server sees, address the wire sees)` of each open connection.
    pub aliases: Box<dyn Fn() -> Vec<(String, String)> + Send>,
}

/// The wall clock in Unix ms: alerts are stamped with it.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// Runs the console until the user quits.
///
/// # Errors
/// No terminal, or a replay file that cannot be read.
pub fn run(cfg: ConsoleConfig) -> anyhow::Result<()> {
    run_console(cfg, None, None)
}

/// `respscope lab NAME` with the console: the lab runs on a thread of its own through its
/// proxies while the console captures their client side, polls the server and shows the
/// results in the Lab pane as they come. Quitting stops the lab (between two writes) and
/// everything it started; `--out` gets the results as far as they went.
///
/// # Errors
/// The lab could not start (no server, a proxy), no terminal, or the files not written.
pub fn lab_console(cfg: &lab::LabConfig) -> anyhow::Result<crate::engine::lab::LabResult> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let cancel = Arc::new(AtomicBool::new(false));
    let bench = Arc::new(lab::Bench::start(&cfg.setup, Arc::clone(&cancel))?);
    let server = bench.server();
    let opts = ConnectOptions {
        host: server.ip().to_string(),
        port: server.port(),
        user: match &cfg.setup.target {
            lab::Target::Given { user, .. } => user.clone(),
            lab::Target::Private => None,
        },
        password: match &cfg.setup.target {
            lab::Target::Given { password, .. } => password.clone(),
            lab::Target::Private => None,
        },
        timeout: Duration::from_secs(3),
        ..ConnectOptions::default()
    };
    let ports = bench.ports();
    let filter = ports.iter().map(|p| format!("tcp port {p}")).collect::<Vec<_>>().join(" or ");
    let feed = if cfg.setup.capture {
        Feed::Live(LiveConfig { interface: "lo".into(), filter, buffer_mib: 32 })
    } else {
        Feed::None("capture off (--no-capture)".into())
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let runner = {
        let bench = Arc::clone(&bench);
        let (name, plan) = (cfg.lab, cfg.plan.clone());
        std::thread::Builder::new().name("lab".into()).spawn(move || {
            let mut publish = |r: &crate::engine::lab::LabResult| {
                let _ = tx.send(r.clone());
            };
            lab::labs::run(name, &bench, &plan, &mut publish)
        })?
    };
    let console = ConsoleConfig {
        server: Some(opts),
        feed,
        ports,
        notice: Some(format!(
            "lab {}: {}; 9 shows the results, 8 the batches in time",
            cfg.lab.name(),
            bench.described
        )),
        monitor: false,
        thresholds: Thresholds::default(),
        evidence: crate::engine::live::Evidence::default(),
        cluster: None,
    };
    let aliases = {
        let bench = Arc::clone(&bench);
        Box::new(move || bench.aliases()) as Box<dyn Fn() -> Vec<(String, String)> + Send>
    };
    let shown = run_console(console, None, Some(LabLink { updates: rx, aliases }));
    cancel.store(true, Ordering::Relaxed);
    let result =
        runner.join().map_err(|_| anyhow::anyhow!("the lab's thread failed; this is a bug in respscope"))?;
    drop(bench);
    shown?;
    if let Some(dir) = &cfg.out {
        for f in crate::views::lab::write_all(&result, dir)? {
            eprintln!("wrote {}", f.display());
        }
    }
    Ok(result)
}

/// Runs the console; `restart` is the demo's own server, which `R` restarts.
fn run_console(
    cfg: ConsoleConfig,
    restart: Option<demo::ServerControl>,
    lab: Option<LabLink>,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the console needs a terminal; for scripts use `respscope watch` or `respscope analyze`"
        );
    }
    let wire_cfg = WireConfig::ports(cfg.ports.clone());
    let server_addr = cfg.server.as_ref().map(ConnectOptions::addr).unwrap_or_default();
    let (feed, source, unavailable) = match &cfg.feed {
        Feed::Live(l) => {
            match LiveWire::start(l, wire_cfg, crate::engine::live::CONSOLE_LIMITS, &cfg.evidence) {
                Ok(w) => (Some(w), WireSource::Live(l.interface.clone()), None),
                Err(e) => (None, WireSource::None, Some(e.to_string())),
            }
        }
        Feed::Replay { path, speed } => {
            let w = LiveWire::replay(path, wire_cfg, *speed, crate::engine::live::CONSOLE_LIMITS)?;
            (Some(w), WireSource::Replay(path.display().to_string()), None)
        }
        Feed::None(why) => (None, WireSource::None, Some(why.clone())),
    };
    let mut model = Model::new(&server_addr, source).with_thresholds(cfg.thresholds.clone());
    model.set_clock(wall_ms());
    model.wire_unavailable = unavailable;
    if let Some(n) = &cfg.notice {
        model.note(n.clone());
    }
    let replay_speed = match &cfg.feed {
        Feed::Replay { speed, .. } => Some(*speed),
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut terminal = init_terminal()?;
    let result = rt.block_on(event_loop(
        &mut terminal,
        &mut model,
        feed.as_ref(),
        cfg.server,
        replay_speed,
        cfg.monitor,
        restart.as_ref(),
        &cfg.ports,
        lab,
        cfg.cluster,
    ));
    // Not `ratatui::restore()` nor the terminal's own drop: both report a failure with
    // `eprintln!`, which panics when the terminal is gone (a closed window), and that panic's
    // hook panics again and aborts, skipping what must still run: stopping what we started
    // (the demo's redis-server). A terminal that is gone needs no restoring.
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    let _ = ratatui::try_restore();
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
    result
}

/// Raw mode and the alternate screen, restored by a panic as well; errors on the way out are
/// ignored (see [`run`]).
fn init_terminal() -> std::io::Result<ratatui::DefaultTerminal> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        let _ = ratatui::try_restore();
        hook(info);
    }));
    crossterm::terminal::enable_raw_mode()?;
    // The wheel scrolls detail lists; Shift+drag still selects text in most terminals.
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture
    )?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
}

// Each argument is one thing the loop owns or borrows from `run`; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    model: &mut Model,
    feed: Option<&LiveWire>,
    server: Option<ConnectOptions>,
    mut speed: Option<f64>,
    monitor_at_start: bool,
    restart: Option<&demo::ServerControl>,
    ports: &[u16],
    lab: Option<LabLink>,
    cluster: Option<ClusterSetup>,
) -> anyhow::Result<()> {
    let mut ui = UiState::default();
    if lab.is_some() {
        ui.pane = Pane::Lab;
    }
    let mut saving: Option<evidence::Saving> = None;
    let (mon_tx, mut mon_rx) = tokio::sync::mpsc::channel::<MonitorEvent>(4096);
    let mut monitor: Option<MonitorHandle> = None;
    if monitor_at_start {
        if let Some(opts) = &server {
            monitor = Some(crate::sources::server::monitor::start(opts.clone(), mon_tx.clone()));
            model.monitor_state(true, None);
        }
    }
    let mut paused_replay = false;
    let mut events = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (poll_tx, mut poll_rx) = tokio::sync::mpsc::channel(4);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel::<Vec<Vec<u8>>>(16);
    let (reply_tx, mut reply_rx) = tokio::sync::mpsc::channel::<(String, Vec<String>)>(16);
    tokio::spawn(console_commands(server.clone(), cmd_rx, reply_tx));
    if let Some(opts) = server.clone() {
        tokio::spawn(async move {
            let mut poller = Poller::new(opts);
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                if poll_tx.send(poller.poll().await).await.is_err() {
                    break;
                }
            }
        });
    }
    // The cluster task publishes its state once per poll; its node pollers run on their own.
    let mut cluster_rx = match (cluster, server.clone()) {
        (Some(c), Some(seed)) => {
            let (tx, rx) = tokio::sync::watch::channel(None);
            crate::sources::server::cluster::spawn(seed, c.discovery, c.captured, POLL_EVERY, tx);
            Some(rx)
        }
        _ => None,
    };
    // A closed terminal (SIGHUP) or a kill (SIGTERM) ends the loop like `q`, so everything
    // started here (the demo's server, its workloads, MONITOR) is stopped on the way out.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut pending: Option<std::sync::mpsc::Receiver<FeedSnapshot>> = None;
    // A restart of the demo's server under way: how it went arrives here.
    let mut restarting: Option<std::sync::mpsc::Receiver<Result<u16, String>>> = None;
    let mut last_request = Instant::now().checked_sub(SNAPSHOT_EVERY).unwrap_or_else(Instant::now);
    loop {
        ui.footer_extra = speed.map(|s| {
            let sp = if s == 0.0 { "max".to_string() } else { format!("{s}x") };
            format!(
                "replay {sp}{}  +/- speed  . step  r restart",
                if paused_replay { " (paused)" } else { "" }
            )
        });
        if restart.is_some() {
            ui.footer_extra = Some("R restart the server".into());
        }
        tokio::select! {
            biased;
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => {
                    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
                    if ui.filtering {
                        ui.filter_key(k.code);
                        continue;
                    }
                    if ui.pane == Pane::Console && !ui.show_help {
                        match ui.edit(k.code, ctrl) {
                            Edit::Changed => continue,
                            Edit::Leave => {
                                ui.pane = Pane::Overview;
                                continue;
                            }
                            Edit::Submit(line) => {
                                match split_args(&line) {
                                    Some(args) if !args.is_empty() => {
                                        let _ = cmd_tx.try_send(args);
                                    }
                                    Some(_) => {}
                                    // What redis-cli says; the echo is the line as the history keeps it, secrets hidden.
                                    None => model.console_reply(
                                        crate::protocol::resp::escape::escape(
                                            crate::views::tui::args::history_entry(&line).as_bytes(),
                                        ),
                                        vec!["(error) Invalid argument(s): a quote is not closed, or a closing quote is not followed by a space".into()],
                                    ),
                                }
                                continue;
                            }
                            Edit::Pass => {}
                        }
                    }
                    let Some(a) = action_for(k.code, ctrl) else { continue };
                    if a == Action::SaveWindow {
                        if saving.is_some() {
                            model.note("w: a save is already under way".into());
                        } else {
                            saving = evidence::start(feed, model, wall_ms());
                        }
                        continue;
                    }
                    if a == Action::RestartServer {
                        match restart.map(|c| (c.port(), c.restart(demo::RESTART_DOWN_FOR))) {
                            Some((port, Ok(rx))) => {
                                restarting = Some(rx);
                                model.note(format!(
                                    "demo: redis-server on port {port} killed (R); it starts again in {} s",
                                    demo::RESTART_DOWN_FOR.as_secs()
                                ));
                            }
                            Some((_, Err(why))) => model.note(format!("demo: no restart: {why}")),
                            None => model.note("R restarts only the server `respscope demo` started".into()),
                        }
                        continue;
                    }
                    if a == Action::ToggleMonitor {
                        match (monitor.take(), &server) {
                            (Some(m), _) => {
                                m.stop();
                                model.monitor_state(false, Some("MONITOR stopped".into()));
                            }
                            (None, Some(opts)) => {
                                monitor = Some(crate::sources::server::monitor::start(opts.clone(), mon_tx.clone()));
                                model.monitor_state(true, None);
                            }
                            (None, None) => model.note("MONITOR needs a server (this console replays a capture)".into()),
                        }
                        continue;
                    }
                    if let (Some(f), Some(s)) = (feed, speed.as_mut()) {
                        match a {
                            Action::Faster | Action::Slower => {
                                let i = SPEEDS.iter().position(|x| x == s).unwrap_or(0);
                                let j = if a == Action::Faster { (i + 1).min(SPEEDS.len() - 1) } else { i.saturating_sub(1) };
                                *s = SPEEDS[j];
                                f.control(ReplayCtl::Speed(*s));
                            }
                            Action::Step => f.control(ReplayCtl::Step),
                            Action::Restart => {
                                *model = Model::new(&model.server_addr, model.source.clone())
                                    .with_thresholds(model.thresholds().clone());
                                f.control(ReplayCtl::Restart);
                            }
                            Action::TogglePause => {
                                // In a replay, pause stops the clock (and freezes the picture).
                                paused_replay = !paused_replay;
                                f.control(ReplayCtl::Pause(paused_replay));
                            }
                            _ => {}
                        }
                    }
                    if a == Action::TogglePause && speed.is_some() {
                        continue;
                    }
                    if ui.apply(a, model) {
                        return Ok(());
                    }
                }
                Some(Ok(Event::Mouse(me))) => {
                    use crossterm::event::MouseEventKind as M;
                    let a = match me.kind {
                        M::ScrollDown => Action::ScrollDown(3),
                        M::ScrollUp => Action::ScrollUp(3),
                        _ => continue,
                    };
                    ui.apply(a, model);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            _ = hangup.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            Some(p) = poll_rx.recv() => {
                let mut p = p;
                if let Some(l) = &lab {
                    // The server sees a lab's clients at the proxy's addresses: CLIENT LIST rows
                    // are moved to the addresses the wire sees, so they join.
                    let aliases = (l.aliases)();
                    for row in &mut p.clients {
                        if let Some((_, wire)) = aliases.iter().find(|(server_side, _)| *server_side == row.addr) {
                            row.addr.clone_from(wire);
                        }
                    }
                }
                model.apply_server(p);
                // The guard: MONITOR's own output buffer on the server must not grow unbounded.
                if let (Some(m), Some(omem)) = (&monitor, model.monitor_omem()) {
                    if omem > crate::sources::server::monitor::OMEM_LIMIT {
                        m.stop();
                        monitor = None;
                        model.monitor_state(false, Some(format!(
                            "MONITOR stopped: its output buffer on the server reached {} (limit {})",
                            crate::views::report::bytes(omem),
                            crate::views::report::bytes(crate::sources::server::monitor::OMEM_LIMIT)
                        )));
                    }
                }
            }
            Some(state) = cluster_changed(&mut cluster_rx) => model.apply_cluster(state),
            Some(ev) = mon_rx.recv() => match ev {
                MonitorEvent::Line(l) => model.monitor_line(l),
                MonitorEvent::Stopped(why) => {
                    if monitor.take().is_some() {
                        model.monitor_state(false, Some(why));
                    }
                }
            },
            Some((cmd, reply)) = reply_rx.recv() => model.console_reply(cmd, reply),
            _ = frame.tick() => {
                // The lab's latest result; the ones before it are already in it.
                if let Some(l) = &lab {
                    while let Ok(r) = l.updates.try_recv() {
                        for (addr, name) in &r.clients {
                            model.tell_name(addr, name);
                        }
                        model.lab = Some(r);
                    }
                }
                if let Some(rx) = &restarting {
                    match rx.try_recv() {
                        Ok(outcome) => {
                            model.note(match outcome {
                                Ok(port) => format!("demo: redis-server started again on port {port}, a new run"),
                                Err(why) => format!("demo: redis-server did not start again: {why}"),
                            });
                            restarting = None;
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => restarting = None,
                        Err(std::sync::mpsc::TryRecvError::Empty) => {}
                    }
                }
                if let Some(rx) = &pending {
                    match rx.try_recv() {
                        Ok(FeedSnapshot { wire: s, activity, .. }) => {
                            if let (Some(why), crate::engine::live::CaptureStatus::Ended) = (&s.stopped, s.status) {
                                ui.footer_extra = Some(why.clone());
                            }
                            model.apply_capture(s.status, s.stopped.as_deref(), s.status_for_s);
                            model.apply_recording(s.recording);
                            model.apply_wire(s.clock_s, s.report, activity, s.loss, s.latency);
                            pending = None;
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => pending = None,
                        Err(std::sync::mpsc::TryRecvError::Empty) => {}
                    }
                }
                if pending.is_none() && last_request.elapsed() >= SNAPSHOT_EVERY {
                    pending = feed.and_then(LiveWire::request_snapshot);
                    last_request = Instant::now();
                }
                let now = wall_ms();
                model.set_clock(now);
                if let Some(s) = saving.take() {
                    saving = evidence::poll(s, model, ports);
                }
                ui.clock = Some(tui::parts::clock(now.saturating_mul(1000)));
                terminal.draw(|f| tui::render(f, ui.shown(model), &ui))?;
            }
        }
    }
}

/// The cluster's next state, when there is a cluster; never, otherwise (and once its task has
/// ended).
async fn cluster_changed(
    rx: &mut Option<tokio::sync::watch::Receiver<Option<crate::sources::server::cluster::ClusterState>>>,
) -> Option<crate::sources::server::cluster::ClusterState> {
    let Some(r) = rx.as_mut() else { return std::future::pending().await };
    if r.changed().await.is_err() {
        *rx = None;
        return None;
    }
    r.borrow_and_update().clone()
}

/// Runs commands typed in the console pane on their own connection (the pollers' stays
/// read-only), connecting on first use and again after an error. Replies come back formatted,
/// with the command's secrets redacted and the secret values of `CONFIG GET` replies hidden.
async fn console_commands(
    server: Option<ConnectOptions>,
    mut commands: tokio::sync::mpsc::Receiver<Vec<Vec<u8>>>,
    replies: tokio::sync::mpsc::Sender<(String, Vec<String>)>,
) {
    let mut client: Option<Client> = None;
    // Follows this connection's transactions; a new connection starts outside one.
    let mut secrets = ReplyRedactor::default();
    while let Some(args) = commands.recv().await {
        let shown = redact_args(&args).join(" ");
        let lines = match &server {
            None => vec!["(error) no server: this console is replaying a capture".to_string()],
            Some(opts) => {
                if client.is_none() {
                    client = Client::connect(opts).await.ok();
                    if let Some(c) = client.as_mut() {
                        // Named, so the tables can leave it out (it is respscope's).
                        if c.set_name("console").await.is_err() {
                            client = None;
                        }
                    }
                    secrets = ReplyRedactor::default();
                }
                match client.as_mut() {
                    None => vec![format!("(error) cannot connect to {}", opts.addr())],
                    Some(c) => {
                        let bytes: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                        match c.request_shaped(&bytes).await {
                            Ok((v, shape)) => format_reply_shaped(&args, &secrets.reply(&args, v), &shape),
                            Err(e) => {
                                client = None;
                                vec![format!("(error) {e}")]
                            }
                        }
                    }
                }
            }
        };
        if replies.send((shown, lines)).await.is_err() {
            break;
        }
    }
}
