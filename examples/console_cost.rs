//! What the console costs with many connections kept: a live analyzer is fed synthetic
//! traffic of N open connections (default 1000) that keep pipelining and M closed ones
//! (default 10000). Prints (1) the capture thread's time per snapshot, building every
//! connection (as before snapshots were incremental) and incrementally, with a pipelined
//! round on every open connection between two snapshots; (2) the time to draw each pane on a
//! 200x60 in-memory terminal from the model two minutes of snapshots built.
//! Run by scripts/bench_live.sh. Usage: console_cost [OPEN] [CLOSED]

use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use respscope::analysis::wire::{WireAnalyzer, WireConfig};
use respscope::engine::live::{live_analyzer, Snapshotter, CONSOLE_LIMITS};
use respscope::engine::model::{Model, WireSource};
use respscope::sources::capture::live::LiveStats;
use respscope::sources::capture::synthetic::{Clock, Flow, PORT};
use respscope::sources::capture::Link;
use respscope::views::tui::{self, Pane, UiState};

/// The analyzer and the clock its packets are numbered and timed by.
struct Feed {
    wire: WireAnalyzer,
    clock: Clock,
}

impl Feed {
    fn open(&mut self, i: u32) -> Flow {
        let mut f = Flow::new(i);
        let w = &mut self.wire;
        self.clock.open(&mut f, &mut |no, ts, p| {
            w.packet(no, ts, Ok(p), false);
        });
        f
    }

    /// One pipelined round: 16 GETs in one write, 16 replies in one.
    fn round(&mut self, f: &mut Flow) {
        let w = &mut self.wire;
        self.clock.round(f, 16, &mut |no, ts, p| {
            w.packet(no, ts, Ok(p), false);
        });
    }

    fn close(&mut self, f: &mut Flow) {
        let w = &mut self.wire;
        self.clock.close(f, &mut |no, ts, p| {
            w.packet(no, ts, Ok(p), false);
        });
    }
}

/// Builds the traffic: `closed` connections that pipelined 20 rounds and closed, one every
/// 20 ms, then `open` ones pipelining 20 rounds each.
fn traffic(open: u32, closed: u32) -> (Feed, Vec<Flow>) {
    let cfg = WireConfig::ports(vec![PORT]);
    let mut feed = Feed { wire: live_analyzer(cfg, Link::Ethernet), clock: Clock::at(1_700_000_000_000_000) };
    // Fifty short connections a second for 200 s: all within the five minutes kept.
    for i in 0..closed {
        let mut f = feed.open(i);
        for _ in 0..20 {
            feed.round(&mut f);
        }
        feed.close(&mut f);
        feed.clock.ts += 20_000;
    }
    // Past the grace period: the closed ones are finished.
    feed.clock.ts += 5_000_000;
    let mut flows: Vec<Flow> = (0..open).map(|i| feed.open(closed + i)).collect();
    for _ in 0..20 {
        for f in &mut flows {
            feed.round(f);
        }
    }
    (feed, flows)
}

/// Times `runs` snapshots, a pipelined round on every open connection before each; `cold`
/// builds every connection each time (as snapshots did before they were incremental).
fn snapshots(feed: &mut Feed, flows: &mut [Flow], snap: &mut Snapshotter, runs: u32, cold: bool) -> String {
    let (mut total, mut worst, mut listed, mut rebuilt) = (0.0f64, 0.0f64, 0, 0);
    for _ in 0..runs {
        for f in flows.iter_mut() {
            feed.round(f);
        }
        if cold {
            snap.forget();
        }
        let t = Instant::now();
        let s = snap.take(&mut feed.wire);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        listed = s.report.connections.len();
        rebuilt = snap.rebuilt;
        total += ms;
        worst = worst.max(ms);
    }
    format!("{listed} listed, {rebuilt} built: mean {:.2} ms, worst {:.2} ms", total / f64::from(runs), worst)
}

fn main() {
    let arg = |k: usize, d: u32| std::env::args().nth(k).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (open, closed) = (arg(1, 1000), arg(2, 10_000));
    let (mut feed, mut flows) = traffic(open, closed);
    let mut snap = Snapshotter::new(CONSOLE_LIMITS);
    let cold = snapshots(&mut feed, &mut flows, &mut snap, 10, true);
    let warm = snapshots(&mut feed, &mut flows, &mut snap, 40, false);
    println!(
        "snapshot on the capture thread, {open} open + {closed} closed connections ({} tracked, {} summed to stay within the memory budget, table {:.1} MiB): building every connection {cold}; incremental {warm}",
        feed.wire.conns.len(),
        feed.wire.retired_for_memory,
        feed.wire.memory_used() as f64 / f64::from(1 << 20)
    );

    // The console's model after two minutes of snapshots, then every pane drawn.
    let mut model = Model::new("127.0.0.1:6379", WireSource::Live("lo".into()));
    let first = snap.take(&mut feed.wire);
    // CLIENT LIST rows for the open connections, so the panes pay for the join by address.
    let list: String = first
        .report
        .connections
        .iter()
        .filter(|c| c.commands > 0)
        .rev()
        .take(open as usize)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "id={i} addr={} laddr=10.9.0.1:6379 fd=8 name=app-{i} age=9 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem={} tot-mem=22000 events=r cmd=get user=default redir=-1 resp=2\n",
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
    for t in 0..240 {
        for f in &mut flows {
            feed.round(f);
        }
        let s = snap.take(&mut feed.wire);
        model.apply_wire(f64::from(t) / 2.0, s.report, s.activity, LiveStats::default(), s.latency);
    }
    if std::env::var_os("CONSOLE_COST_PARTS").is_some() {
        let t = Instant::now();
        let n: u32 = std::env::var("CONSOLE_COST_PARTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
        for _ in 0..n {
            let _ = respscope::engine::timeline::build(
                &model,
                180,
                respscope::engine::timeline::Span::Auto(0),
                40,
                &|_| true,
            );
        }
        eprintln!("timeline::build {:.2} ms", t.elapsed().as_secs_f64() * 1e3 / f64::from(n));
        let t = Instant::now();
        for _ in 0..20 {
            let _: usize = model.connections().iter().filter(|c| model.activity(c.id).is_some()).count();
        }
        eprintln!("activity lookups {:.2} ms", t.elapsed().as_secs_f64() * 1e3 / 20.0);
        let t = Instant::now();
        for _ in 0..20 {
            let _: usize = model.connections().iter().filter(|c| model.is_own(&c.client)).count();
        }
        eprintln!("is_own {:.2} ms", t.elapsed().as_secs_f64() * 1e3 / 20.0);
    }
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap_or_else(|e| match e {});
    let (mut worst, mut total) = (0.0f64, 0.0f64);
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
        "frame: {} connections in the model, 200x60 terminal, {frames} frames over every pane: mean {:.2} ms, worst {:.2} ms, slowest pane {slow} (mean {slow_ms:.2} ms) (budget 16 ms)",
        model.connections().len(),
        total / frames as f64,
        worst
    );
}
