//! History that survives: closed connections kept by time, their batches kept for the
//! Timeline, and snapshots that share what did not change. Driven by synthetic traffic at a
//! scale no capture fixture has (the analysis itself is checked on real captures elsewhere).

use std::sync::Arc;

use respscope::analysis::wire::{WireAnalyzer, WireConfig};
use respscope::engine::live::{live_analyzer, Snapshotter, CONSOLE_LIMITS, KEEP_CLOSED_US};
use respscope::engine::model::{Model, WireSource};
use respscope::sources::capture::live::LiveStats;
use respscope::sources::capture::synthetic::{Clock, Flow, PORT};
use respscope::sources::capture::Link;

const T0: i64 = 1_700_000_000_000_000;

struct Feed {
    wire: WireAnalyzer,
    clock: Clock,
}

impl Feed {
    fn new() -> Feed {
        Feed { wire: live_analyzer(WireConfig::ports(vec![PORT]), Link::Ethernet), clock: Clock::at(T0) }
    }

    fn run(&mut self, f: &mut Flow, what: &str, rounds: usize) {
        let w = &mut self.wire;
        let sink = &mut |no: u64, ts: i64, p: respscope::sources::capture::TcpPacket<'_>| {
            w.packet(no, ts, Ok(p), false);
        };
        match what {
            "open" => self.clock.open(f, sink),
            "close" => self.clock.close(f, sink),
            _ => {
                for _ in 0..rounds {
                    self.clock.round(f, 16, sink);
                }
            }
        }
    }

    /// A connection that pipelines `rounds` rounds and closes.
    fn short(&mut self, i: u32, rounds: usize) -> Flow {
        let mut f = Flow::new(i);
        self.run(&mut f, "open", 0);
        self.run(&mut f, "rounds", rounds);
        self.run(&mut f, "close", 0);
        f
    }

    /// Moves the clock on by `us` and sends one round on `f` (time only passes with packets).
    fn later(&mut self, us: i64, f: &mut Flow) {
        self.clock.ts += us;
        self.run(f, "rounds", 1);
    }
}

fn listed(w: &WireAnalyzer) -> Vec<String> {
    w.conns.iter().map(|c| c.client().to_string()).collect()
}

#[test]
fn a_closed_connection_stays_for_five_minutes_then_joins_the_totals() {
    let mut feed = Feed::new();
    let gone = feed.short(1, 5);
    let mut busy = Flow::new(2);
    feed.run(&mut busy, "open", 0);
    feed.later(10_000_000, &mut busy);
    let s = Snapshotter::new(CONSOLE_LIMITS).take(&mut feed.wire);
    let c = s.report.connections.iter().find(|c| c.client == gone.client_addr()).expect("still listed");
    assert_eq!(c.commands, 80);
    let a = s.activity.iter().find(|a| a.id == c.id).expect("its activity");
    assert!(a.closed);
    assert_eq!(a.batches.len(), 5, "a finished connection keeps its batches for the Timeline");
    assert!(a.recent.is_empty(), "its segments are given up");

    // Just short of five minutes after its last packet: still there.
    feed.later(KEEP_CLOSED_US - 12_000_000, &mut busy);
    assert!(listed(&feed.wire).contains(&gone.client_addr()));
    // Past it: summed into the totals, which do not change.
    let before = Snapshotter::new(CONSOLE_LIMITS).take(&mut feed.wire).report.totals;
    feed.later(5_000_000, &mut busy);
    assert!(!listed(&feed.wire).contains(&gone.client_addr()));
    let after = Snapshotter::new(CONSOLE_LIMITS).take(&mut feed.wire);
    assert_eq!(after.report.capture.retired_connections, 1);
    assert_eq!(after.report.totals.commands, before.commands + 16);
    assert_eq!(after.report.totals.connections, 2);
}

#[test]
fn keep_closed_is_configurable() {
    let mut feed = Feed::new();
    feed.wire.set_closed_keep(Some(30_000_000));
    let gone = feed.short(1, 1);
    let mut busy = Flow::new(2);
    feed.run(&mut busy, "open", 0);
    feed.later(20_000_000, &mut busy);
    assert!(listed(&feed.wire).contains(&gone.client_addr()));
    feed.later(15_000_000, &mut busy);
    assert!(!listed(&feed.wire).contains(&gone.client_addr()));
}

#[test]
fn snapshots_share_what_did_not_change() {
    let mut feed = Feed::new();
    for i in 0..200 {
        feed.short(i, 3);
    }
    let mut busy = Flow::new(1000);
    feed.run(&mut busy, "open", 0);
    feed.later(3_000_000, &mut busy);
    let mut snap = Snapshotter::new(CONSOLE_LIMITS);
    let first = snap.take(&mut feed.wire);
    assert_eq!(first.report.connections.len(), 201, "the console lists every connection kept");
    assert_eq!(snap.rebuilt, 201);
    feed.later(1_000, &mut busy);
    let second = snap.take(&mut feed.wire);
    assert_eq!(snap.rebuilt, 1, "only the connection that saw packets is built again");
    let busy_addr = busy.client_addr();
    for (a, b) in first.report.connections.iter().zip(&second.report.connections) {
        assert_eq!(Arc::ptr_eq(a, b), a.client != busy_addr, "{}", a.client);
    }
    let b = second.report.connections.iter().find(|c| c.client == busy_addr).expect("busy");
    assert_eq!(b.commands, 32);
    assert_eq!(second.report.totals.commands, 200 * 48 + 32);
}

#[test]
fn the_model_keeps_a_closed_connection_with_its_name_and_close_time() {
    use respscope::sources::server::formats::client_list::parse_client_list;
    use respscope::sources::server::poller::ServerPoll;
    let mut feed = Feed::new();
    let mut app = Flow::new(1);
    feed.run(&mut app, "open", 0);
    feed.run(&mut app, "rounds", 4);
    let mut snap = Snapshotter::new(CONSOLE_LIMITS);
    let mut m = Model::new("10.9.0.1:6379", WireSource::Live("lo".into()));
    let s = snap.take(&mut feed.wire);
    m.apply_wire(0.5, s.report, s.activity, LiveStats::default(), s.latency);
    let row = format!(
        "id=7 addr={} laddr=10.9.0.1:6379 fd=8 name=billing-worker age=9 idle=0 flags=N db=3 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=22000 events=r cmd=get user=billing redir=-1 resp=2 lib-name=redis-py lib-ver=5.0.1\n",
        app.client_addr()
    );
    m.apply_server(ServerPoll { up: true, clients: parse_client_list(&row), ..Default::default() });
    feed.run(&mut app, "close", 0);
    let mut other = Flow::new(2);
    feed.run(&mut other, "open", 0);
    feed.later(65_000_000, &mut other);
    // The server no longer lists it; the wire still does, a minute after it closed.
    m.apply_server(ServerPoll { up: true, clients: Vec::new(), ..Default::default() });
    let s = snap.take(&mut feed.wire);
    m.apply_wire(66.0, s.report, s.activity, LiveStats::default(), s.latency);
    let c = m.connections().iter().find(|c| c.client == app.client_addr()).expect("kept");
    let a = m.activity(c.id).expect("activity");
    assert!(a.closed);
    let who = m.identity(&c.client).expect("identity kept after close");
    assert_eq!((who.name.as_str(), who.lib_name.as_deref(), who.db), ("billing-worker", Some("redis-py"), 3));
    let ago = m.wire_now_us().expect("now") - a.last_ts_us;
    assert!((65_000_000..66_000_000).contains(&ago), "{ago}");
}
