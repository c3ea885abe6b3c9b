//! The timeline: how the write batches of several clients interleave on one time axis and,
//! with MONITOR on, the order in which the server ran their commands.
//!
//! Built from what the model already holds, so it costs nothing until the pane is shown:
//! each connection's batch log (the live feed keeps its write batches for ten minutes, at
//! most 10,000: client segments with payload, cut after PSH, as contract v1 defines them)
//! gives its batches and, where the recent segments no longer reach, their commands and
//! splits; its recent segments (the last
//! [`SEGMENTS_KEEP`](crate::engine::live::SEGMENTS_KEEP)) place commands, splits and zero
//! windows column by column; MONITOR lines give the execution order. A closed connection
//! keeps its lane for as long as its batches are in the window.
//!
//! Matching a batch to the MONITOR lines of its commands uses time: capture timestamps and
//! MONITOR's timestamps come from the same clock when the capture runs on the server's host
//! (loopback, the demo, a workshop), and from two clocks otherwise. A batch's commands are
//! the first of its client's MONITOR lines at or after the batch's first segment, taken in
//! order; the other clients' lines between the first and the last of them are the commands
//! that ran inside the batch.

use crate::analysis::tcp::flags;
use crate::analysis::wire::batchlog::LoggedBatch;
use crate::analysis::wire::Dir;
use crate::engine::activity::ConnActivity;
use crate::engine::model::Model;
use crate::engine::report::ConnReport;
use crate::sources::server::formats::monitor::Source;

/// Time spans the axis can show, in µs (a 1-2-5 ladder from 1 ms to 1 minute, then up to the
/// ten minutes of batches each connection keeps).
pub const SPANS_US: [i64; 20] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    30_000_000,
    45_000_000,
    60_000_000,
    120_000_000,
    300_000_000,
    600_000_000,
];

/// How wide the axis is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// This many µs.
    Fixed(i64),
    /// The ladder step just wide enough for the recent segments kept, moved this many steps
    /// (negative: narrower).
    Auto(i32),
}

/// Lane labels, in order: a lane is named by its letter in the server's execution order.
pub const LABELS: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What one column of a lane holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneCell {
    /// Commands completed (their last byte arrived) in this column.
    pub commands: u32,
    /// Batches whose first segment falls in this column.
    pub batch_starts: u32,
    /// A batch is still arriving here (between its first and last segment).
    pub inside_batch: bool,
    /// Commands split across segments that start here.
    pub splits: u32,
    /// A zero-window segment (either direction) falls here.
    pub zero_window: bool,
}

/// One batch on the axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSpan {
    /// Lane index.
    pub lane: usize,
    /// Frame of its first segment.
    pub first_frame: u64,
    /// Capture time of its first and last segments (µs since the Unix epoch).
    pub t_first_us: i64,
    /// See `t_first_us`.
    pub t_last_us: i64,
    /// Segments it took.
    pub segments: u32,
    /// Bytes it carried.
    pub bytes: u64,
    /// Commands that completed in it.
    pub commands: u32,
    /// Commands split across its segments (one that starts here and ends later counts).
    pub splits: u32,
    /// Other clients' commands the server ran between this batch's first and last command
    /// (MONITOR on and the batch's commands all seen), else `None`.
    pub others: Option<u32>,
}

/// One client's lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// Its letter.
    pub label: char,
    /// Client address.
    pub client: String,
    /// Columns, oldest first.
    pub cells: Vec<LaneCell>,
    /// Commands completed inside the window.
    pub commands: u64,
    /// Batches started inside the window.
    pub batches: u32,
    /// Split commands starting inside the window.
    pub splits: u32,
}

/// One column of the server's lane (MONITOR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerCell {
    /// Commands the server ran in this column.
    pub commands: u32,
    /// The lane with the most of them (`None`: none from a lane's client).
    pub lane: Option<usize>,
    /// Commands of more than one client ran here.
    pub mixed: bool,
}

/// The whole picture for one frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Left edge (µs since the Unix epoch).
    pub start_us: i64,
    /// Width of the window (µs).
    pub span_us: i64,
    /// One column's width (µs).
    pub column_us: i64,
    /// The lanes, in order of first appearance.
    pub lanes: Vec<Lane>,
    /// Connections with activity in the window that got no lane (no room).
    pub hidden: usize,
    /// The server's lane, when MONITOR lines cover the window.
    pub server: Option<Vec<ServerCell>>,
    /// The most recent commands the server ran, oldest first, as lane indexes (`None`: a
    /// client without a lane).
    pub order: Vec<Option<usize>>,
    /// Batches that started in the window, oldest first.
    pub batches: Vec<BatchSpan>,
}

impl BatchSpan {
    /// A logged batch on lane 0.
    fn of(b: &LoggedBatch) -> BatchSpan {
        BatchSpan {
            lane: 0,
            first_frame: b.first_frame,
            t_first_us: b.t_first_us,
            t_last_us: b.t_last_us,
            segments: b.segments,
            bytes: b.bytes,
            commands: b.commands,
            splits: b.splits,
            others: None,
        }
    }
}

/// Builds the timeline over `columns` columns ending at the newest packet (or MONITOR line),
/// `span` wide, with at most `max_lanes` lanes for the connections `keep` accepts.
pub fn build(
    m: &Model,
    columns: usize,
    span: Span,
    max_lanes: usize,
    keep: &dyn Fn(&ConnReport) -> bool,
) -> Timeline {
    let columns = columns.clamp(1, 1000);
    // Packed times first: of thousands of connections kept, only those the window reaches are
    // looked at one by one.
    let with_data = || m.reach.iter().filter(|r| r.recent_from_us.is_some() || r.newest_batch_us.is_some());
    let wire_end = with_data().map(|r| r.last_ts_us).max();
    // The wire sets the right edge: MONITOR lines arrive continuously but wire snapshots only
    // twice a second, and a command's MONITOR line comes before its reply's packet anyway.
    let end = wire_end.or_else(|| m.monitor.back().map(|l| l.ts_us)).unwrap_or(0);
    let span = match span {
        Span::Fixed(us) => us,
        Span::Auto(steps) => {
            let kept = |id: u64| m.connection(id).is_some_and(keep);
            let mut reach: Vec<i64> = m
                .reach
                .iter()
                .filter(|r| r.recent_from_us.is_some() && kept(r.id))
                .filter_map(|r| r.recent_from_us.map(|t| end - t))
                .collect();
            if reach.is_empty() {
                // Only closed connections pass (a filter on one that left): reach back to
                // their newest batches.
                reach = m
                    .reach
                    .iter()
                    .filter(|r| r.newest_batch_us.is_some() && kept(r.id))
                    .filter_map(|r| r.newest_batch_us.map(|t| end - t))
                    .collect();
            }
            auto_span(reach, steps)
        }
    }
    .max(1);
    let column_us = (span + columns as i64 - 1) / columns as i64;
    let span = column_us * columns as i64;
    let start = end - span + 1;
    let col = |t: i64| -> Option<usize> {
        if t < start || t > end {
            return None;
        }
        usize::try_from((t - start) / column_us).ok().filter(|&i| i < columns)
    };

    // Lanes: connections with client activity in the window, the busiest first when there is
    // no room for all, shown in order of first appearance so a lane keeps its place.
    let mut active: Vec<(&ConnReport, &ConnActivity, u64)> = m
        .reach
        .iter()
        .filter(|r| r.newest_batch_us.is_some_and(|t| t >= start))
        .filter_map(|r| Some((m.connection(r.id).filter(|c| keep(c))?, m.activity(r.id)?)))
        .map(|(c, a)| {
            let n = a
                .batches
                .since(start)
                .take_while(|b| b.t_first_us <= end)
                .map(|b| u64::from(b.commands.max(1)))
                .sum();
            (c, a, n)
        })
        .filter(|&(_, _, n)| n > 0)
        .collect();
    let max_lanes = max_lanes.min(LABELS.len());
    let hidden = active.len().saturating_sub(max_lanes);
    if hidden > 0 {
        active.sort_by_key(|&(c, _, n)| (std::cmp::Reverse(n), c.first_frame));
        active.truncate(max_lanes);
    }
    active.sort_by_key(|&(c, _, _)| c.first_frame);

    let mut lanes = Vec::with_capacity(active.len());
    let mut batches = Vec::new();
    for (i, &(c, a, _)) in active.iter().enumerate() {
        let mut cells = vec![LaneCell::default(); columns];
        let mut lane = Lane {
            label: char::from(LABELS[i]),
            client: c.client.clone(),
            cells: Vec::new(),
            commands: 0,
            batches: 0,
            splits: 0,
        };
        for s in &a.recent {
            let Some(k) = col(a.first_ts_us + s.t_us) else { continue };
            if s.analysis & flags::ZERO_WINDOW != 0 {
                cells[k].zero_window = true;
            }
            if s.dir == Dir::ToServer {
                cells[k].commands += s.commands;
                lane.commands += u64::from(s.commands);
                if s.split_starts {
                    cells[k].splits += 1;
                    lane.splits += 1;
                }
            }
        }
        // Batches older than the segments kept bring their own commands and splits (placed
        // where they ended and began: a column's split within one batch is not known).
        let covered = a.recent.first().map_or(i64::MAX, |s| a.first_ts_us + s.t_us);
        for logged in a.batches.since(start).take_while(|b| b.t_first_us <= end) {
            let mut b = BatchSpan::of(logged);
            if b.t_last_us < covered {
                if let Some(k) = col(b.t_last_us) {
                    cells[k].commands += b.commands;
                    lane.commands += u64::from(b.commands);
                }
                if let Some(k) = col(b.t_first_us).filter(|_| b.splits > 0) {
                    cells[k].splits += b.splits;
                    lane.splits += b.splits;
                }
            }
            let Some(k) = col(b.t_first_us) else { continue };
            cells[k].batch_starts += 1;
            let last = col(b.t_last_us).unwrap_or(columns - 1);
            for cell in &mut cells[k..=last.max(k)] {
                cell.inside_batch = true;
            }
            lane.batches += 1;
            b.lane = i;
            batches.push(b);
        }
        lane.cells = cells;
        lanes.push(lane);
    }
    batches.sort_by_key(|b| (b.t_first_us, b.lane));

    let (server, order) = server_lane(m, &lanes, &mut batches, columns, start, end, column_us);
    Timeline { start_us: start, span_us: span, column_us, lanes, hidden, server, order, batches }
}

/// The smallest span on the ladder that reaches back `reach` µs for the median connection
/// (to its oldest recent segment), moved `steps`. Not all of them: an idle client's last 100 segments may go back minutes
/// while a busy one's cover milliseconds, and the busy ones are what interleaves.
fn auto_span(mut reach: Vec<i64>, steps: i32) -> i64 {
    reach.sort_unstable();
    let need = reach.get(reach.len() / 2).copied().unwrap_or(0);
    let fit = SPANS_US.iter().position(|&s| s >= need).unwrap_or(SPANS_US.len() - 1);
    let i = (fit as i64 + i64::from(steps)).clamp(0, SPANS_US.len() as i64 - 1);
    SPANS_US[usize::try_from(i).unwrap_or(0)]
}

/// The server's lane and execution order from MONITOR, and each batch's count of other
/// clients' commands run inside it.
fn server_lane(
    m: &Model,
    lanes: &[Lane],
    batches: &mut [BatchSpan],
    columns: usize,
    start: i64,
    end: i64,
    column_us: i64,
) -> (Option<Vec<ServerCell>>, Vec<Option<usize>>) {
    if m.monitor.is_empty() {
        return (None, Vec::new());
    }
    let lane_of = |s: &Source| match s {
        Source::Tcp(a) => lanes.iter().position(|l| &l.client == a),
        _ => None,
    };
    let owners: Vec<Option<usize>> = m.monitor.iter().map(|l| lane_of(&l.source)).collect();
    let mut cells = vec![ServerCell::default(); columns];
    let mut per_cell: Vec<[u32; LABELS.len()]> = vec![[0; LABELS.len()]; columns];
    let mut others_in_cell = vec![0u32; columns];
    for (l, owner) in m.monitor.iter().zip(&owners) {
        if l.ts_us < start || l.ts_us > end {
            continue;
        }
        let Some(k) = usize::try_from((l.ts_us - start) / column_us).ok().filter(|&k| k < columns) else {
            continue;
        };
        cells[k].commands += 1;
        match owner {
            Some(i) => per_cell[k][*i] += 1,
            None => others_in_cell[k] += 1,
        }
    }
    for (k, cell) in cells.iter_mut().enumerate() {
        let counts = &per_cell[k];
        let clients = counts.iter().filter(|&&n| n > 0).count() + usize::from(others_in_cell[k] > 0);
        cell.mixed = clients > 1;
        cell.lane =
            counts.iter().enumerate().filter(|&(_, &n)| n > 0).max_by_key(|&(_, &n)| n).map(|(i, _)| i);
    }
    // Execution order: the newest lines that fit the axis width.
    let order: Vec<Option<usize>> =
        owners.iter().skip(owners.len().saturating_sub(columns)).copied().collect();

    // Each lane's MONITOR lines by position, for matching batches.
    let mut lines_of: Vec<Vec<usize>> = vec![Vec::new(); lanes.len()];
    for (pos, owner) in owners.iter().enumerate() {
        if let Some(i) = owner {
            lines_of[*i].push(pos);
        }
    }
    // When each batch's successor on the same lane began: a batch's commands run before it
    // when the client waits for its replies, which rejects a match that ran into the next
    // batch (MONITOR started, or its oldest lines were dropped, in the middle of a batch).
    let mut next_start = vec![i64::MAX; batches.len()];
    let mut later = vec![i64::MAX; lanes.len()];
    for (i, b) in batches.iter().enumerate().rev() {
        next_start[i] = later[b.lane];
        later[b.lane] = b.t_first_us;
    }
    let mut cursor = vec![0usize; lanes.len()];
    for (b, &next) in batches.iter_mut().zip(&next_start) {
        if b.commands == 0 {
            continue;
        }
        let mine = &lines_of[b.lane];
        let from = cursor[b.lane];
        let Some(skip) =
            mine[from.min(mine.len())..].iter().position(|&p| m.monitor[p].ts_us >= b.t_first_us)
        else {
            continue;
        };
        let first = from + skip;
        let last = first + b.commands as usize - 1;
        let (Some(&p0), Some(&p1)) = (mine.get(first), mine.get(last)) else { continue };
        if m.monitor[p1].ts_us >= next {
            continue;
        }
        cursor[b.lane] = last + 1;
        b.others = u32::try_from(p1 - p0 + 1 - b.commands as usize).ok();
    }
    (Some(cells), order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::wire::batchlog::{BatchLog, KEEP_BATCHES};
    use crate::analysis::wire::SegmentLine;
    use crate::sources::server::formats::monitor::MonitorLine;

    fn seg(frame: u64, t_us: i64, dir: Dir, len: u32, psh: bool, commands: u32) -> SegmentLine {
        SegmentLine::for_test(frame, t_us, dir, len, psh, commands)
    }

    fn fixture() -> crate::engine::report::Report {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lettuce_16.pcap");
        crate::engine::analyze_file(&path, crate::analysis::wire::WireConfig::default(), None)
            .expect("fixture")
            .report()
    }

    /// A connection numbered `first_frame` (its id too) with these recent segments.
    fn conn(client: &str, first_frame: u64, recent: Vec<SegmentLine>) -> (ConnReport, ConnActivity) {
        let mut c = (*fixture().connections[0]).clone();
        c.client = client.to_string();
        c.first_frame = first_frame;
        c.id = first_frame;
        let last = 1_000_000 + recent.last().map_or(0, |s| s.t_us);
        let mut batches = BatchLog::default();
        for s in &recent {
            batches.segment(s, 1_000_000, KEEP_BATCHES);
        }
        let a = ConnActivity {
            id: c.id,
            recent,
            interval_max_depth: 0,
            first_ts_us: 1_000_000,
            last_ts_us: last,
            closed: false,
            batches,
        };
        (c, a)
    }

    fn model(conns: Vec<(ConnReport, ConnActivity)>, monitor: &[(i64, &str)]) -> Model {
        let mut m = Model::default();
        let mut report = fixture();
        let (conns, activity): (Vec<_>, Vec<_>) = conns.into_iter().unzip();
        report.connections = conns.into_iter().map(std::sync::Arc::new).collect();
        m.wire = Some(report);
        m.set_activity(activity.into_iter().map(std::sync::Arc::new).collect());
        for &(ts, who) in monitor {
            m.monitor_line(MonitorLine {
                ts_us: 1_000_000 + ts,
                db: 0,
                source: Source::Tcp(who.to_string()),
                args: vec!["SET".into()],
            });
        }
        m
    }

    #[test]
    fn lanes_cells_and_other_clients_inside_each_batch() {
        let a = conn(
            "10.0.0.1:1",
            1,
            vec![
                seg(1, 100, Dir::ToServer, 40, true, 2),
                seg(2, 200, Dir::ToClient, 10, true, 0),
                seg(3, 900, Dir::ToServer, 40, true, 2),
                seg(4, 920, Dir::ToClient, 10, true, 0),
            ],
        );
        let b = conn("10.0.0.2:2", 5, vec![seg(7, 150, Dir::ToServer, 20, true, 1)]);
        // A's first batch ran with one of B's commands in between; its second ran alone.
        let m = model(
            vec![a, b],
            &[
                (120, "10.0.0.1:1"),
                (160, "10.0.0.2:2"),
                (170, "10.0.0.1:1"),
                (910, "10.0.0.1:1"),
                (911, "10.0.0.1:1"),
            ],
        );
        let t = build(&m, 10, Span::Fixed(1_000), 8, &|_| true);
        assert_eq!(t.lanes.len(), 2);
        assert_eq!(t.lanes[0].label, 'A');
        assert_eq!(t.lanes[0].commands, 4);
        assert_eq!(t.lanes[0].batches, 2);
        assert_eq!(t.batches.iter().map(|b| b.others).collect::<Vec<_>>(), vec![Some(1), Some(0), Some(0)]);
        assert_eq!(t.order, vec![Some(0), Some(1), Some(0), Some(0), Some(0)]);
        let server = t.server.expect("monitor lane");
        assert_eq!(server.iter().map(|c| c.commands).sum::<u32>(), 5);
        assert!(server.iter().any(|c| c.mixed));
    }

    #[test]
    fn a_full_house_keeps_the_busiest_lanes() {
        let conns: Vec<(ConnReport, ConnActivity)> = (0..5u32)
            .map(|i| {
                conn(&format!("10.0.0.{i}:1"), u64::from(i), vec![seg(1, 10, Dir::ToServer, 10, true, i + 1)])
            })
            .collect();
        let m = model(conns, &[]);
        let t = build(&m, 20, Span::Auto(0), 2, &|_| true);
        assert_eq!(t.hidden, 3);
        let kept: Vec<&str> = t.lanes.iter().map(|l| l.client.as_str()).collect();
        assert_eq!(kept, vec!["10.0.0.3:1", "10.0.0.4:1"]);
        assert!(t.server.is_none());
    }

    #[test]
    fn auto_span_fits_the_segments_kept_and_zoom_walks_the_ladder() {
        let c = conn(
            "10.0.0.1:1",
            1,
            vec![seg(1, 0, Dir::ToServer, 10, true, 1), seg(2, 3_000, Dir::ToServer, 10, true, 1)],
        );
        let m = model(vec![c], &[]);
        assert_eq!(build(&m, 10, Span::Auto(0), 4, &|_| true).span_us, 5_000);
        assert_eq!(build(&m, 10, Span::Auto(-1), 4, &|_| true).span_us, 2_000);
        assert_eq!(build(&m, 10, Span::Auto(-50), 4, &|_| true).span_us, 1_000);
        assert_eq!(build(&m, 10, Span::Auto(50), 4, &|_| true).span_us, 600_000_000);
    }

    #[test]
    fn a_closed_connection_keeps_its_lane_from_its_batch_log() {
        // Minutes of batches, one every 10 s; the segments behind them are gone (a finished
        // connection keeps none) but its batches still draw its lane.
        let mut c = conn(
            "10.0.0.9:9",
            1,
            (0..30).map(|i| seg(i + 1, i as i64 * 10_000_000, Dir::ToServer, 40, true, 3)).collect(),
        );
        c.1.recent.clear();
        c.1.closed = true;
        let m = model(vec![c], &[]);
        let t = build(&m, 60, Span::Fixed(600_000_000), 4, &|_| true);
        assert_eq!(t.lanes.len(), 1, "the closed connection has its lane");
        assert_eq!(t.lanes[0].batches, 30);
        assert_eq!(t.lanes[0].commands, 90, "commands come from the batch log");
        assert_eq!(t.lanes[0].cells.iter().map(|c| c.commands).sum::<u32>(), 90);
        // Zoomed to the last minute: only its batches there.
        let t = build(&m, 60, Span::Fixed(60_000_000), 4, &|_| true);
        assert_eq!(t.lanes[0].batches, 6);
    }
}
