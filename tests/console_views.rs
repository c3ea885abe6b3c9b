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
    let cfg = WireConfig { ports: vec![6379], previews: false };
    let a =
        respscope::engine::analyze_file(&root().join("assets/demo.pcap"), cfg, None).expect("demo capture");
    let mut m = Model::new("127.0.0.1:6379", WireSource::Replay("assets/demo.pcap".into()));
    let report = a.report();
    m.apply_wire(10.0, report.clone(), LiveStats::default());
    let text =
        |n: &str| std::fs::read_to_string(root().join("tests/fixtures/redis-samples").join(n)).expect(n);
    let mut clients = parse_client_list(&text("client_list_final.txt"));
    // Join one CLIENT LIST row to the demo's deepest connection by address, as a live
    // server would report it.
    if let (Some(row), Some(c)) = (clients.first_mut(), report.connections.first()) {
        row.addr = c.client.clone();
        row.name = "jedis-app".into();
    }
    m.apply_server(ServerPoll {
        addr: "127.0.0.1:6379".into(),
        up: true,
        version: Some("7.0.15".into()),
        ops_per_sec: Some(1234),
        used_memory: Some(57_467_712),
        connected_clients: Some(10),
        clients,
        slowlog_new: parse_slowlog_text(&text("slowlog_pretty.txt")),
        ..ServerPoll::default()
    });
    m.apply_wire(11.0, report, LiveStats::default());
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
        assert!(s.contains("server 127.0.0.1:6379 redis 7.0.15"), "{s}");
        assert!(s.contains("ops/s  wire"), "{s}");
        assert!(s.contains("12 conns, 2837 cmds"), "{s}");
        assert!(s.contains("deepest pipelines"), "{s}");
        // The Jedis-style connection had 1000 commands in flight.
        assert!(s.contains("1000"), "{s}");
        assert!(s.contains("window stall"), "the slow reader's zero window is an alert: {s}");
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
    assert!(s.contains("CLIENT LIST: name \"jedis-app\""), "{s}");
    assert!(!u.apply(Action::Quit, &m), "esc backs out of the detail, it does not quit");
    assert!(!u.detail);
}

#[test]
fn packets_list_the_selected_connections_recent_segments() {
    use respscope::analysis::wire::WireAnalyzer;
    use respscope::engine::report::Report;
    use respscope::sources::capture::CaptureFile;
    // As a live feed keeps them: the last 100 segments of each connection.
    let mut f = CaptureFile::open(&root().join("tests/fixtures/slow_reader.pcap")).expect("fixture");
    let mut w = WireAnalyzer::new(WireConfig { ports: vec![6379], previews: false }, f.link());
    w.set_segment_log(100);
    f.for_each(|fr| {
        w.frame(&fr, false);
    });
    let mut m = Model::new("127.0.0.1:6379", WireSource::Replay("slow_reader.pcap".into()));
    m.apply_wire(3.0, Report::build(&w, Vec::new()), LiveStats::default());
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
    assert!(s.contains("SLOWLOG: 7 entries"), "{s}");
    let first_id = s.lines().nth(5).unwrap_or_default();
    assert!(first_id.trim_start().starts_with("21"), "newest first: {first_id}");
}

#[test]
fn memory_shows_info_memory_and_the_clients_holding_it() {
    let m = model();
    let s = screen(&m, &ui(Pane::Memory), 140, 30);
    assert!(s.contains("used_memory"), "{s}");
    assert!(s.contains("clients by memory"), "{s}");
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
