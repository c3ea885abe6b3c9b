//! Whole-screen renders of every pane with ratatui's `TestBackend`, from models built by
//! analysing fixture captures and parsing real server output: what a person would see, at
//! two terminal sizes, plus a 40x10 terminal that must not break anything.

use std::path::PathBuf;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use respscope::analysis::wire::WireConfig;
use respscope::engine::model::{Model, WireSource};
use respscope::sources::capture::live::LiveStats;
use respscope::sources::server::formats::client_list::parse_client_list;
use respscope::sources::server::formats::info::{command_stats, parse_info};
use respscope::sources::server::formats::slowlog::parse_slowlog_text;
use respscope::sources::server::poller::ServerPoll;
use respscope::views::tui::state::{action_for, Action};
use respscope::views::tui::{self, Pane, Theme, UiState};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A model as the console would hold it: the demo capture's wire numbers, CLIENT LIST and
/// SLOWLOG from a real server's output.
fn model() -> Model {
    let cfg = WireConfig::ports(vec![6379]);
    let a =
        respscope::engine::analyze_file(&root().join("assets/demo.pcap"), cfg, None).expect("demo capture");
    let mut m = Model::new("127.0.0.1:6379", WireSource::Replay("assets/demo.pcap".into()));
    let report = a.report();
    m.apply_wire(10.0, report.clone(), Vec::new(), LiveStats::default(), Default::default());
    let text =
        |n: &str| std::fs::read_to_string(root().join("tests/fixtures/redis-samples").join(n)).expect(n);
    let mut clients = parse_client_list(&text("client_list_final.txt"));
    // Join one CLIENT LIST row to the demo's deepest connection by address, as a live
    // server would report it.
    if let (Some(row), Some(c)) = (clients.first_mut(), report.connections.first()) {
        row.addr = c.client.clone();
        row.name = "jedis-app".into();
    }
    // Two polls of a real server's INFO, the second with 500 more SETs, as a second's
    // traffic.
    let info = parse_info(&text("info_final.txt"));
    let stats = command_stats(&info);
    let mut later = stats.clone();
    if let Some(set) = later.iter_mut().find(|c| c.name == "set") {
        set.calls += 500;
    }
    for (commandstats, slowlog_new) in
        [(stats, Vec::new()), (later, parse_slowlog_text(&text("slowlog_pretty.txt")))]
    {
        m.apply_server(ServerPoll {
            addr: "127.0.0.1:6379".into(),
            up: true,
            version: Some("7.0.15".into()),
            ops_per_sec: Some(1234),
            used_memory: Some(57_467_712),
            connected_clients: Some(10),
            clients: clients.clone(),
            slowlog_new,
            commandstats,
            info: Some(info.clone()),
            ..ServerPoll::default()
        });
    }
    m.apply_wire(11.0, report, Vec::new(), LiveStats::default(), Default::default());
    m
}

fn screen(m: &Model, ui: &UiState, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| tui::render(f, ui.shown(m), ui)).expect("draw");
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn ui(pane: Pane) -> UiState {
    UiState { pane, theme: Theme::plain(), ..UiState::default() }
}

#[test]
fn overview_shows_wire_and_server_side_by_side() {
    let m = model();
    for (w, h) in [(80, 24), (140, 40)] {
        let s = screen(&m, &ui(Pane::Overview), w, h);
        assert!(s.contains("respscope"), "{s}");
        // At 80 columns the header has its short words.
        let server = if w < 100 {
            "respscope 127.0.0.1:6379 7.0.15 │ replay │ 11s"
        } else {
            "server 127.0.0.1:6379 redis 7.0.15"
        };
        assert!(s.contains(server), "{s}");
        assert!(s.contains("ops/s  wire"), "{s}");
        assert!(s.contains("12 conns, 2837 cmds"), "{s}");
        assert!(s.contains("deepest pipelines"), "{s}");
        // The Jedis-style connection had 1000 commands in flight.
        assert!(s.contains("1000"), "{s}");
        assert!(s.contains("window_stall"), "the slow reader's zero window is an alert: {s}");
    }
}

#[test]
fn connections_join_wire_metrics_with_client_list() {
    let m = model();
    let s = screen(&m, &ui(Pane::Connections), 140, 30);
    assert!(s.contains("12 connections, sorted by first seen"), "{s}");
    assert!(s.contains("jedis-app"), "CLIENT LIST name joined by address: {s}");
    for col in ["cmds", "depth", "cmd/bat", "splits", "p99", "zwin", "omem"] {
        assert!(s.contains(col), "{col}: {s}");
    }
    // Sorting by zero windows puts the slow reader first.
    let mut u = ui(Pane::Connections);
    for _ in 0..4 {
        u.apply(Action::Sort, &m);
    }
    let s = screen(&m, &u, 140, 30);
    assert!(s.contains("sorted by zero windows"), "{s}");
    let first_row = s.lines().nth(5).unwrap_or_default();
    assert!(first_row.contains(" 3 "), "slow reader (3 zero windows) first: {first_row}");
}

#[test]
fn enter_opens_a_connection_in_detail() {
    let m = model();
    let mut u = ui(Pane::Connections);
    u.apply(Action::Detail, &m);
    let s = screen(&m, &u, 140, 40);
    // The first connection is the Jedis-style one: its batch sizes and its split commands.
    assert!(s.contains("batches by commands per write"), "{s}");
    assert!(s.contains("341 cmds"), "{s}");
    assert!(s.contains("split #343 GET (24 B)"), "{s}");
    // Under it, the cut: the frames on each side, where it fell and the bytes around it.
    assert!(s.contains("┃ #9 before a bulk payload (byte 8 of 24): …*2\\r\\n$3\\r\\n ┃ GET"), "{s}");
    assert!(s.contains("CLIENT LIST: name \"jedis-app\""), "{s}");
    assert!(!u.apply(Action::Back, &m), "esc backs out of the detail, it does not quit");
    assert!(!u.detail);
}

/// A library investigator opens redis-py's connection: the library it announced on the wire
/// and how it flushes, above the batch sizes, at 80x24 and on a big screen.
#[test]
fn detail_shows_the_announced_library_and_the_flush_verdict() {
    let m = live_model("redispy_pipeline.pcap");
    let mut u = ui(Pane::Connections);
    u.apply(Action::Detail, &m);
    for (w, h) in [(80, 24), (160, 40)] {
        let s = screen(&m, &u, w, h);
        assert!(s.contains("redis-py 8.1.0"), "{s}");
        insta::assert_snapshot!(format!("detail_library_flush_{w}x{h}"), s);
    }
    let s = screen(&m, &u, 160, 40);
    assert!(
        s.contains("flush: flushes once 6013-6023 bytes are buffered (180 commands), does not wait"),
        "{s}"
    );
    // `/` finds a connection by the library it announced, with no server to list it.
    let mut f = ui(Pane::Connections);
    f.filter = "redis-py 8.1".into();
    assert_eq!(respscope::views::tui::state::sorted_connections(&m, &f).len(), 1);
    f.filter = "jedis".into();
    assert!(respscope::views::tui::state::sorted_connections(&m, &f).is_empty());
}

/// A fixture analysed as a live feed analyses it (the last 100 segments of each connection
/// kept), folded into a model as one snapshot.
fn live_model(fixture: &str) -> Model {
    use respscope::engine::live::Snapshotter;
    use respscope::sources::capture::CaptureFile;
    let mut f = CaptureFile::open(&root().join("tests/fixtures").join(fixture)).expect("fixture");
    let mut w = respscope::engine::live::live_analyzer(WireConfig::ports(vec![6379]), f.link());
    f.for_each(|fr| {
        w.frame(&fr, false);
    });
    let mut m = Model::new("127.0.0.1:6379", WireSource::Replay(fixture.into()));
    let s = Snapshotter::new(respscope::engine::live::CONSOLE_LIMITS).take(&mut w);
    m.apply_wire(3.0, s.report, s.activity, LiveStats::default(), s.latency);
    m
}

#[test]
fn packets_list_the_selected_connections_recent_segments() {
    let m = live_model("slow_reader.pcap");
    let mut u = ui(Pane::Packets);
    u.apply(Action::Down, &m);
    let s = screen(&m, &u, 140, 30);
    assert!(s.contains("last 100 segments, newest first"), "{s}");
    assert!(s.contains("[Window Full]"), "{s}");
    assert!(s.contains("1 split end here"), "{s}");
}

#[test]
fn slowlog_lists_entries_newest_first() {
    let m = model();
    let s = screen(&m, &ui(Pane::Slowlog), 140, 30);
    assert!(s.contains("SLOWLOG: 7 of 7 entries, newest first"), "{s}");
    // Above it, per command: the server's calls in the last second, its run time
    // percentiles, and the wire's rate beside.
    assert!(s.contains("commands in the last second: the server's count and run time"), "{s}");
    let set = s.lines().find(|l| l.trim_start().starts_with("SET ")).unwrap_or_default();
    assert!(
        set.split_whitespace().nth(1) == Some("500"),
        "500 SETs since the last poll, busiest first: {set}"
    );
    let first_id = s.lines().skip_while(|l| !l.contains("SLOWLOG:")).nth(2).unwrap_or_default();
    assert!(first_id.trim_start().starts_with("21"), "newest first: {first_id}");
}

#[test]
fn memory_shows_info_memory_and_the_clients_holding_it() {
    let m = model();
    let s = screen(&m, &ui(Pane::Memory), 140, 30);
    assert!(s.contains("used_memory"), "{s}");
    assert!(s.contains("clients by tot-mem"), "{s}");
    // The stalled MONITOR client of the sample holds about 10 MB of output buffer.
    assert!(s.contains("monitor"), "{s}");
    assert!(s.contains("9.9 MiB"), "{s}");
}

#[test]
fn help_and_keys() {
    let m = model();
    let mut u = ui(Pane::Overview);
    assert_eq!(action_for(crossterm::event::KeyCode::Char('?'), false), Some(Action::Help));
    u.apply(Action::Help, &m);
    let s = screen(&m, &u, 100, 30);
    assert!(s.contains("respscope keys"), "{s}");
    assert!(!u.apply(Action::Show(Pane::Connections), &m));
    assert_eq!(u.pane, Pane::Connections);
    assert!(u.apply(Action::Quit, &m));
}

#[test]
fn pause_freezes_the_picture_while_the_model_moves_on() {
    let mut m = model();
    let mut u = ui(Pane::Overview);
    u.apply(Action::TogglePause, &m);
    let before = screen(&m, &u, 100, 30);
    assert!(before.contains("PAUSED"), "{before}");
    m.apply_server(ServerPoll {
        addr: "x".into(),
        up: false,
        error: Some("gone".into()),
        ..ServerPoll::default()
    });
    assert_eq!(screen(&m, &u, 100, 30), before, "frozen while paused");
    u.apply(Action::TogglePause, &m);
    assert!(screen(&m, &u, 100, 30).contains("DOWN: gone"));
}

#[test]
fn a_tiny_terminal_renders_without_breaking() {
    let m = model();
    for pane in Pane::ALL {
        for (w, h) in [(40, 10), (20, 5), (1, 1)] {
            let _ = screen(&m, &ui(pane), w, h);
        }
    }
}

#[test]
fn no_wire_says_why() {
    let mut m = Model::new("127.0.0.1:6379", WireSource::None);
    m.wire_unavailable = Some("cannot capture on lo: permission denied. ... setcap".into());
    let s = screen(&m, &ui(Pane::Overview), 120, 24);
    assert!(s.contains("wire off: cannot capture on lo: permission denied"), "{s}");
}

/// The interleave fixture as the live feed keeps it (the last 100 segments of each
/// connection), with the MONITOR lines recorded beside it on the same clock.
fn interleave_model(with_monitor: bool) -> Model {
    use respscope::sources::server::formats::monitor::parse_monitor_lines;
    let mut m = live_model("interleave.pcap");
    if with_monitor {
        let text =
            std::fs::read_to_string(root().join("tests/fixtures/interleave.monitor.txt")).expect("monitor");
        let (lines, stats) = parse_monitor_lines(&text);
        assert!(lines.len() >= 640 && stats.skipped == 0, "{} lines, {stats:?}", lines.len());
        for l in lines {
            m.monitor_line(l);
        }
    }
    m
}

#[test]
fn timeline_puts_each_clients_batches_on_one_axis_with_the_servers_order() {
    use respscope::engine::timeline::{build, Span};
    let m = interleave_model(true);
    let t = build(&m, 120, Span::Auto(0), 10, &|_| true);
    // Three pipelining clients, each with a lane, in order of first appearance.
    assert_eq!(t.lanes.len(), 3, "{:?}", t.lanes.iter().map(|l| &l.client).collect::<Vec<_>>());
    let sizes: Vec<Vec<u32>> =
        (0..3).map(|i| t.batches.iter().filter(|b| b.lane == i).map(|b| b.commands).collect()).collect();
    // The clients connect in any order; each lane's writes all carry its client's size.
    let mut per_lane: Vec<u32> = Vec::new();
    for lane in &sizes {
        assert!(lane.len() >= 8, "batches in view: {lane:?}");
        assert!(
            lane.iter().all(|&n| n == lane[0]),
            "every write of a client carries as many commands: {lane:?}"
        );
        per_lane.push(lane[0]);
    }
    let mut sorted = per_lane.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![4, 8, 16]);
    // MONITOR matched: most batches have their count of other clients' commands, and the
    // count agrees with the execution order itself.
    let matched: Vec<_> = t.batches.iter().filter(|b| b.others.is_some()).collect();
    assert!(matched.len() * 10 >= t.batches.len() * 9, "{} of {} matched", matched.len(), t.batches.len());
    let server = t.server.as_ref().expect("server lane");
    assert!(server.iter().any(|c| c.mixed), "the three clients' commands interleave on the server");
    // A's 64 KiB writes are more than the server reads from one client at once: other
    // clients' commands run between their parts. Small writes run whole.
    let big = per_lane.iter().position(|&n| n == 16).expect("lane of 16");
    assert!(
        matched.iter().any(|b| b.lane == big && b.others > Some(0)),
        "other clients' commands ran inside some 64 KiB batch: {:?}",
        t.batches.iter().map(|b| (b.lane, b.segments, b.others)).collect::<Vec<_>>()
    );
    assert_eq!(t.order.len(), 120);
    assert!(t.order.iter().all(Option::is_some), "every recent command belongs to a lane");

    let mut u = ui(Pane::Timeline);
    let s = screen(&m, &u, 160, 40);
    let first = format!("{}.0 commands per batch", per_lane[0]);
    for want in [
        "A 127.0.0.1:",
        "B 127.0.0.1:",
        "C 127.0.0.1:",
        "server (MONITOR)",
        "order, newest last",
        "lane A",
        &first,
        "other clients inside",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    u.apply(Action::Down, &m);
    let s = screen(&m, &u, 160, 40);
    assert!(
        s.contains("lane B 127.0.0.1:") && s.contains(&format!("{}.0 commands per batch", per_lane[1])),
        "j picks lane B: {s}"
    );
    let _ = screen(&m, &u, 80, 24);
    // Without MONITOR the pane estimates from the reply order, and says how to get the
    // server's order.
    let m = interleave_model(false);
    let mut u = ui(Pane::Timeline);
    for _ in 0..3 {
        let s = screen(&m, &u, 160, 40);
        let row = s.lines().find(|l| l.starts_with("server")).unwrap_or_default().to_string();
        assert!(row.contains("MONITOR is off; from reply order, "), "{s}");
        assert!(row.contains("; m for the exact order"), "{s}");
        eprintln!("{row}");
        u.apply(Action::Down, &m);
    }
    insta::assert_snapshot!("timeline_monitor_off_estimate_120x30", screen(&m, &ui(Pane::Timeline), 120, 30));
}

#[test]
fn filter_keeps_matching_rows_and_sort_orders_other_tables() {
    use crossterm::event::KeyCode;
    let m = model();
    let mut u = ui(Pane::Connections);
    let all = screen(&m, &u, 140, 30);
    assert!(all.contains("12 connections"), "{all}");
    assert_eq!(action_for(KeyCode::Char('/'), false), Some(Action::Filter));
    u.apply(Action::Filter, &m);
    for c in "jedis".chars() {
        u.filter_key(KeyCode::Char(c));
    }
    assert!(screen(&m, &u, 140, 30).contains("filter: jedis"), "the footer shows the line being typed");
    u.filter_key(KeyCode::Enter);
    let s = screen(&m, &u, 140, 30);
    assert!(s.contains("1 connections") && s.contains("filter \"jedis\""), "{s}");
    u.filter_key(KeyCode::Esc);
    assert!(u.filter.is_empty());

    let mut u = ui(Pane::Slowlog);
    u.apply(Action::Sort, &m);
    let s = screen(&m, &u, 140, 30);
    assert!(s.contains("slowest first"), "{s}");
    // Slowest first: the first entry took the longest of the sample's seven.
    let first = s.lines().skip_while(|l| !l.contains("SLOWLOG:")).nth(2).unwrap_or_default();
    let longest =
        m.slowlog.iter().max_by_key(|e| e.duration_us).map(|e| e.id.to_string()).unwrap_or_default();
    assert!(first.trim_start().starts_with(&longest), "{first}\n{s}");

    let mut u = ui(Pane::Memory);
    u.apply(Action::Sort, &m);
    assert!(screen(&m, &u, 140, 30).contains("clients by omem"));
}

#[test]
fn a_capture_that_stops_is_said_in_the_header_and_alerts_and_so_is_its_return() {
    use respscope::engine::live::CaptureStatus;
    let mut m = model();
    m.source = WireSource::Live("veth0".into());
    m.apply_capture(CaptureStatus::Capturing, None, 5.0);
    let why = "capture on veth0 stopped: The interface disappeared; reopening it";
    m.apply_capture(CaptureStatus::Stopped, Some(why), 1.0);
    m.apply_capture(CaptureStatus::Stopped, Some(why), 2.0);
    let s = screen(&m, &ui(Pane::Overview), 160, 40);
    assert!(s.contains("wire veth0 NOT CAPTURING: capture on veth0 stopped"), "{s}");
    assert_eq!(s.matches("the wire is not seen").count(), 1, "one alert, updated in place: {s}");
    let narrow = screen(&m, &ui(Pane::Overview), 80, 24);
    assert!(narrow.contains("NOT CAPTURING"), "said at 80 columns too: {narrow}");
    m.apply_capture(CaptureStatus::Capturing, None, 0.5);
    let s = screen(&m, &ui(Pane::Overview), 160, 40);
    assert!(!s.contains("NOT CAPTURING"), "{s}");
    assert!(s.contains("capture is back"), "{s}");
}

#[test]
fn esc_never_quits_and_q_asks_while_monitor_runs() {
    let mut m = model();
    let mut u = ui(Pane::Overview);
    let esc = action_for(crossterm::event::KeyCode::Esc, false).expect("esc is bound");
    assert_eq!(esc, Action::Back);
    // Help, then Esc: Help closes, the program stays.
    u.apply(Action::Help, &m);
    assert!(u.show_help);
    assert!(!u.apply(esc, &m));
    assert!(!u.show_help);
    // A filter, then Esc: the filter clears, the program stays.
    u.filter = "jedis".into();
    assert!(!u.apply(esc, &m));
    assert!(u.filter.is_empty());
    // Nothing left to back out of: still nothing quits.
    for _ in 0..3 {
        assert!(!u.apply(esc, &m));
    }
    // q quits at once without MONITOR; with it, q asks and a second q quits.
    assert!(u.clone().apply(Action::Quit, &m));
    m.monitor_state(true, None);
    assert!(!u.apply(Action::Quit, &m));
    assert!(u.confirm_quit);
    let s = screen(&m, &u, 80, 24);
    assert!(s.contains("MONITOR is running: q again quits"), "{s}");
    // Any other key cancels the question.
    u.apply(Action::Down, &m);
    assert!(!u.confirm_quit);
    assert!(!u.apply(Action::Quit, &m));
    assert!(u.apply(Action::Quit, &m));
    // Ctrl-C quits at once.
    assert_eq!(action_for(crossterm::event::KeyCode::Char('c'), true), Some(Action::QuitNow));
}

/// The alerts the demo model raises, in the order a person reads them.
fn alert_kinds(m: &Model) -> Vec<&'static str> {
    m.alerts.shown().iter().map(|a| a.kind.name()).collect()
}

#[test]
fn alerts_name_the_problem_and_lead_to_the_evidence() {
    let m = model();
    assert_eq!(alert_kinds(&m), ["monitor", "slow_command", "window_stall"]);
    let mut u = ui(Pane::Overview);
    // The slow command: Enter shows its SLOWLOG entry, marked.
    u.apply(Action::Down, &m);
    u.apply(Action::Detail, &m);
    assert_eq!(u.pane, Pane::Slowlog);
    let s = screen(&m, &u, 140, 30);
    assert!(s.contains("▶21"), "the entry the alert names is marked: {s}");
    // The window stall: Enter opens the stalled connection's detail.
    let mut u = ui(Pane::Overview);
    u.apply(Action::Down, &m);
    u.apply(Action::Down, &m);
    u.apply(Action::Detail, &m);
    assert_eq!((u.pane, u.detail), (Pane::Connections, true));
    let stalled = m.connections().iter().find(|c| c.tcp.zero_windows > 0).expect("stalled");
    let s = screen(&m, &u, 140, 40);
    assert!(s.contains(&format!("{} → 127.0.0.1:6379", stalled.client)), "{s}");
    // Esc goes back to the table.
    u.apply(Action::Back, &m);
    assert!(!u.detail);
}

/// Every pane at the three sizes a person uses, reviewed and committed: a change to what
/// anyone sees shows up as a diff of the screen.
#[test]
fn every_pane_at_80x24_100x30_and_160x45() {
    let m = model();
    for pane in Pane::ALL {
        for (w, h) in [(80, 24), (100, 30), (160, 45)] {
            let name = format!("{}_{w}x{h}", pane.title().to_lowercase());
            insta::assert_snapshot!(name, screen(&m, &ui(pane), w, h));
        }
    }
}

#[test]
fn detail_lists_scroll_without_changing_the_connection() {
    let m = model();
    let mut u = ui(Pane::Connections);
    // Sorted by zero windows, the slow reader (about a hundred window events) comes first.
    for _ in 0..4 {
        u.apply(Action::Sort, &m);
    }
    u.apply(Action::Detail, &m);
    let s = screen(&m, &u, 120, 30);
    let who = "127.0.0.1:36614 → 127.0.0.1:6379";
    assert!(s.contains(who), "{s}");
    assert!(s.contains("window events and split commands: 1–"), "{s}");
    let page = action_for(crossterm::event::KeyCode::PageDown, false).expect("PgDn is bound");
    u.apply(page, &m);
    let s = screen(&m, &u, 120, 30);
    assert!(s.contains("window events and split commands: 11–"), "{s}");
    // j scrolls by one and keeps the connection.
    u.apply(Action::Down, &m);
    let s = screen(&m, &u, 120, 30);
    assert!(s.contains(": 12–") && s.contains(who), "{s}");
    // End shows the last lines, Home the first.
    u.apply(Action::ScrollEnd, &m);
    let s = screen(&m, &u, 120, 30);
    let title =
        s.lines().find(|l| l.contains("window events and split commands:")).unwrap_or_default().to_string();
    let of = title.split(" of ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or_default().to_string();
    assert!(title.contains(&format!("–{of} of {of}")), "{title}");
    u.apply(Action::ScrollTop, &m);
    assert!(screen(&m, &u, 120, 30).contains("window events and split commands: 1–"));
    u.apply(Action::Back, &m);
    assert!(!u.detail);
}

#[test]
fn a_connection_keeps_its_name_after_it_leaves_client_list() {
    let mut m = model();
    // The next poll no longer lists it (closed, or CLIENT LIST capped): it keeps its name.
    m.apply_server(ServerPoll {
        addr: "127.0.0.1:6379".into(),
        up: true,
        version: Some("7.0.15".into()),
        ..ServerPoll::default()
    });
    let mut u = ui(Pane::Connections);
    u.filter = "jedis-app".into();
    let s = screen(&m, &u, 140, 30);
    assert!(s.contains("1 connections") && s.contains("jedis-app"), "{s}");
    // Its live numbers are gone with it: no omem from a poll that does not list it.
    assert!(m.client_row(&m.connections()[0].client).is_none());
    assert_eq!(m.identity(&m.connections()[0].client).map(|r| r.name.as_str()), Some("jedis-app"));
}

#[test]
fn incident_summary_names_the_server_the_alerts_and_the_busiest_clients() {
    use respscope::views::report::incident::{render, Window};
    let m = model();
    let cfg = WireConfig::ports(vec![6379]);
    let saved =
        respscope::engine::analyze_file(&root().join("assets/demo.pcap"), cfg, None).expect("demo").report();
    let w = Window {
        file: "respscope-20261130-174900.pcapng",
        saved_at_ms: 1_796_000_000_000,
        span_us: Some((1_796_000_000_000_000, 1_796_000_011_000_000)),
        frames: 1234,
    };
    let md = render(&m, &w, &saved);
    for want in [
        "# respscope incident summary: 2026-11-30T00:53:20.000Z",
        "- **Server**: 127.0.0.1:6379 (redis 7.0.15), 1234 ops/s",
        "- **Capture**: `respscope-20261130-174900.pcapng`, 1234 frames from 2026-11-30T00:53:20.000Z to 2026-11-30T00:53:31.000Z (11.00s)",
        "| warning | `slow_command` |",
        "| warning | `window_stall` |",
        "| jedis-app |",
        "## Slow commands (SLOWLOG, newest first)",
        "`respscope analyze respscope-20261130-174900.pcapng` gives the same numbers.",
    ] {
        assert!(md.contains(want), "{want}:\n{md}");
    }
    // The analysis at the end is analyze's own markdown for the file.
    assert!(md.ends_with(&respscope::views::report::markdown::render(&saved, w.file)));
}

#[test]
fn a_recording_that_stops_is_said() {
    use respscope::engine::live::Recording;
    let mut m = model();
    let rec = Recording { file: "/tmp/x.pcapng".into(), frames: 10, files: 1, error: None };
    m.apply_recording(Some(rec.clone()));
    assert!(screen(&m, &ui(Pane::Overview), 160, 45).lines().next().unwrap_or_default().contains(" REC "));
    let failed = Recording {
        error: Some("recording stopped: cannot write /tmp/x.pcapng: No space left on device".into()),
        ..rec
    };
    m.apply_recording(Some(failed.clone()));
    m.apply_recording(Some(failed));
    let s = screen(&m, &ui(Pane::Overview), 160, 45);
    assert!(s.lines().next().unwrap_or_default().contains("REC STOPPED"), "{s}");
    let said = m.alerts.all().filter(|a| a.message.contains("No space left on device")).count();
    assert_eq!(said, 1, "said once: {s}");
}

/// A pipelining lab half way: rows measured at 0 and 2 ms, the chart's two lines.
fn lab_model(bars: bool) -> Model {
    use respscope::engine::lab::{Chart, ChartKind, Column, LabResult, LabStatus, Series};
    let c = |key, header| Column { key, header };
    let mut r = LabResult::new(
        "pipelining",
        "N SETs one by one and pipelined in batches",
        vec![
            c("rtt_ms", "RTT ms"),
            c("commands", "commands"),
            c("batch", "batch"),
            c("elapsed_ms", "elapsed ms"),
            c("round_trips", "round trips (wire)"),
            c("speedup", "speedup"),
        ],
        Chart {
            title: "speedup against batch size, per round trip".into(),
            x_label: "commands per batch".into(),
            y_label: "speedup".into(),
            kind: if bars {
                ChartKind::Bars { categories: vec!["one by one".into(), "pipeline".into(), "MSET".into()] }
            } else {
                ChartKind::Lines { log_x: true }
            },
            series: vec![
                Series {
                    name: "0 RTT".into(),
                    points: vec![(1.0, 1.0), (10.0, 5.5), (100.0, 17.9), (1000.0, 39.4)],
                },
                Series { name: "2ms RTT".into(), points: vec![(1.0, 1.0), (10.0, 9.8), (100.0, 97.6)] },
            ],
        },
    );
    r.setup = "a private redis-server at 127.0.0.1:40000; proxies adding 0 on :40001, 2ms on :40002".into();
    for (rtt, batch, ms, trips, speedup) in [
        (0.0, 1, 39.1, 1000, 1.0),
        (0.0, 10, 7.16, 100, 5.5),
        (0.0, 100, 2.19, 10, 17.9),
        (0.0, 1000, 0.99, 1, 39.4),
        (2.0, 1, 2064.0, 1000, 1.0),
        (2.0, 10, 207.0, 100, 10.0),
        (2.0, 100, 21.2, 10, 97.6),
    ] {
        let row = serde_json::json!({"rtt_ms": rtt, "commands": 1000, "batch": batch, "elapsed_ms": ms, "round_trips": trips, "speedup": speedup});
        r.rows.push(row.as_object().cloned().unwrap_or_default());
    }
    r.notes.push("round trips are the write batches the capture saw".into());
    r.status = LabStatus::Running { step: 8, of: 8, what: "1000 commands by 1000 at 2ms RTT".into() };
    let mut m = model();
    m.lab = Some(r);
    m
}

#[test]
fn the_lab_pane_shows_the_table_as_it_grows_and_the_chart() {
    let m = lab_model(false);
    for (w, h) in [(80, 24), (120, 36)] {
        let s = screen(&m, &ui(Pane::Lab), w, h);
        insta::assert_snapshot!(format!("lab_running_{w}x{h}"), s);
    }
    let bars = screen(&lab_model(true), &ui(Pane::Lab), 100, 30);
    insta::assert_snapshot!("lab_bars_100x30", bars);
    // Without a lab there is no Lab tab, and 9 does not select one.
    let plain = model();
    let mut u = ui(Pane::Overview);
    if let Some(a) = action_for(crossterm::event::KeyCode::Char('9'), false) {
        u.apply(a, &plain);
    }
    assert_eq!(u.pane, Pane::Overview);
    let s = screen(&plain, &u, 120, 30);
    assert!(!s.contains("9 Lab"), "{s}");
    // With one, tab reaches it after the Timeline.
    let mut u = ui(Pane::Timeline);
    u.apply(Action::NextPane, &m);
    assert_eq!(u.pane, Pane::Lab);
}

/// A console with `-c`: a real cluster's redirections on the wire (a client that ignores the
/// slots, against three masters), and the nodes as CLUSTER NODES described them with a
/// replica that has failed.
fn cluster_model() -> Model {
    use respscope::sources::server::cluster::{ClusterState, NodeRow};
    use respscope::sources::server::formats::cluster::{parse_cluster_nodes, ranges_short};
    let cfg = WireConfig::ports(vec![7101, 7102, 7103]);
    let a = respscope::engine::analyze_file(&root().join("tests/fixtures/cluster_redirects.pcap"), cfg, None)
        .expect("cluster capture");
    let mut m = Model::new("127.0.0.1:7101", WireSource::Replay("cluster_redirects.pcap".into()));
    m.apply_wire(3.0, a.report(), Vec::new(), LiveStats::default(), Default::default());
    let text = std::fs::read_to_string(root().join("tests/fixtures/redis-samples/cluster_nodes_failed.txt"))
        .expect("CLUSTER NODES sample");
    let topology = parse_cluster_nodes(&text);
    let mut nodes: Vec<NodeRow> = topology
        .nodes
        .iter()
        .map(|n| {
            let up = n.health == "online";
            NodeRow {
                addr: n.addr(),
                id: n.id.clone(),
                role: n.role,
                master_id: n.master_id.clone(),
                slots: n.slot_count(),
                slot_ranges: ranges_short(&n.slots, 4),
                health: n.health.clone(),
                up,
                error: (!up)
                    .then(|| format!("cannot connect to {}: Connection refused (os error 111)", n.addr())),
                captured: true,
                ops_per_sec: up.then_some(u64::from(n.port - 7000)),
                used_memory: up.then_some(2_000_000 + u64::from(n.port)),
                connected_clients: up.then_some(3),
                ..NodeRow::default()
            }
        })
        .collect();
    // As the console lists them: masters by first slot, each followed by its replicas.
    nodes.sort_by_key(|n| match n.addr.as_str() {
        "127.0.0.1:7101" => 0,
        "127.0.0.1:7104" => 1,
        "127.0.0.1:7102" => 2,
        _ => 3,
    });
    m.apply_cluster(ClusterState {
        seed: "127.0.0.1:7101".into(),
        discovered_from: "127.0.0.1:7101".into(),
        source: "CLUSTER NODES",
        state: Some("ok".into()),
        discoveries: 1,
        nodes,
        ..ClusterState::default()
    });
    m
}

#[test]
fn a_cluster_gets_a_row_per_node_and_its_redirections_are_shown() {
    let m = cluster_model();
    for (w, h) in [(80, 24), (120, 36), (160, 45)] {
        let s = screen(&m, &ui(Pane::Overview), w, h);
        assert!(s.contains("cluster ok: 3 of 4 nodes answer"), "{s}");
        assert!(s.contains("127.0.0.1:7102"), "{s}");
        assert!(s.contains("cluster_node"), "the failed replica is an alert: {s}");
        insta::assert_snapshot!(format!("cluster_overview_{w}x{h}"), s);
    }
    let s = screen(&m, &ui(Pane::Overview), 160, 45);
    let row = s.lines().find(|l| l.starts_with("127.0.0.1:7101 ")).expect("the first master's row");
    // The first node sent five MOVED and one ASK, as the capture holds.
    assert!(row.contains("master  5461  0-5460"), "{row}");
    assert!(row.contains(" 5      1 "), "{row}");
    assert!(s.contains(" └ 127.0.0.1:7104") && s.contains("DOWN: cannot connect"), "{s}");
    for (w, h) in [(100, 30), (160, 45)] {
        let s = screen(&m, &ui(Pane::Connections), w, h);
        assert!(s.contains("mov/ask") && s.contains("3/0") && s.contains("0/1"), "{s}");
        insta::assert_snapshot!(format!("cluster_connections_{w}x{h}"), s);
    }
    // A connection's detail says its redirections.
    let mut u = ui(Pane::Connections);
    let pipelined = respscope::views::tui::state::sorted_connections(&m, &u)
        .iter()
        .position(|c| c.moved == 3)
        .expect("the pipelined connection");
    for _ in 0..pipelined {
        u.apply(Action::Down, &m);
    }
    u.apply(Action::Detail, &m);
    let s = screen(&m, &u, 140, 40);
    assert!(s.contains("errors 3  unanswered 0  pushes 0  MOVED 3"), "{s}");
}
