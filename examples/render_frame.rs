//! How long the console takes to draw one frame with many connections: builds a model with
//! N connections (default 1000) from the demo capture's numbers, each with the last 100
//! segments a live feed keeps, and renders every pane on an in-memory terminal, printing the
//! mean and worst time per frame, and the slowest pane. Run by scripts/bench_live.sh.

use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use respscope::analysis::wire::WireConfig;
use respscope::engine::model::{Model, WireSource};
use respscope::sources::capture::live::LiveStats;
use respscope::views::tui::{self, Pane, UiState};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let cfg = WireConfig::ports(vec![6379]);
    let Ok(mut file) = respscope::sources::capture::CaptureFile::open(&path) else {
        eprintln!("cannot read {}", path.display());
        std::process::exit(2);
    };
    let mut wire = respscope::engine::live::live_analyzer(cfg, file.link());
    file.for_each(|f| {
        wire.frame(&f, false);
    });
    let (mut report, base_activity) =
        respscope::engine::report::Report::snapshot(&wire, respscope::engine::live::CONSOLE_LIMITS);
    let base = report.connections.clone();
    report.connections = (0..n)
        .map(|i| {
            let mut c = base[i % base.len()].clone();
            c.client = format!("10.0.{}.{}:{}", i / 250, i % 250, 40000 + i);
            c.id = i as u64 + 1;
            c
        })
        .collect();
    // Each connection with the recent segments of the one it copies, as a live feed sends.
    let activity: Vec<_> = (0..n)
        .map(|i| {
            let mut a = base_activity[i % base_activity.len()].clone();
            a.id = i as u64 + 1;
            a
        })
        .collect();
    report.totals.connections = n as u64;
    let mut model = Model::new("127.0.0.1:6379", WireSource::Live("lo".into()));
    // CLIENT LIST rows for every connection, so the panes pay for the join by address.
    let list: String = report
        .connections
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "id={i} addr={} laddr=127.0.0.1:6379 fd=8 name=app-{i} age=9 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem={} tot-mem=22000 events=r cmd=get user=default redir=-1 resp=2\n",
                c.client,
                i * 100
            )
        })
        .collect();
    model.apply_server(respscope::sources::server::poller::ServerPoll {
        up: true,
        clients: respscope::sources::server::formats::client_list::parse_client_list(&list),
        ..Default::default()
    });
    for t in 0..120 {
        model.apply_wire(
            f64::from(t),
            report.clone(),
            activity.clone(),
            LiveStats::default(),
            Default::default(),
        );
    }
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap_or_else(|e| match e {});
    let mut worst = 0.0f64;
    let mut total = 0.0f64;
    let frames = 20 * Pane::ALL.len();
    let mut per_pane = vec![0.0f64; Pane::ALL.len()];
    for i in 0..frames {
        let k = i % Pane::ALL.len();
        let ui = UiState { pane: Pane::ALL[k], ..UiState::default() };
        let t = Instant::now();
        let _ = term.draw(|f| tui::render(f, &model, &ui));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        worst = worst.max(ms);
        total += ms;
        per_pane[k] += ms / 20.0;
    }
    let (slow, slow_ms) = per_pane
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(("-", 0.0), |(k, ms)| (Pane::ALL[k].title(), *ms));
    println!(
        "render: {n} connections, 200x60 terminal, {frames} frames over every pane: mean {:.2} ms, worst {:.2} ms, slowest pane {slow} (mean {slow_ms:.2} ms) (budget 16 ms)",
        total / frames as f64,
        worst
    );
}
