//! The labs. Each runs its workloads against a [`Bench`] and reports every measured run as a
//! row the moment it is measured, so the console's Lab pane fills while the trainer talks.

pub mod batching;
pub mod flush;
pub mod interleave;
pub mod pipelining;
pub mod slow_reader;

use std::time::Duration;

use serde_json::{Map, Value};

use super::bench::Bench;
use crate::engine::lab::{LabResult, LabStatus, Series};

/// The labs, as `respscope lab NAME` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabName {
    /// Sequential against pipelined, by batch size and round trip.
    Pipelining,
    /// The same writes as a pipeline, MSET, MULTI/EXEC, a Lua script, a bulk stream.
    Batching,
    /// How a client's flush policy and Nagle shape the segments.
    Flush,
    /// A client that stops reading: the window closes, the server's buffer grows.
    SlowReader,
    /// Several pipelining clients on one server.
    Interleave,
}

impl LabName {
    /// Every lab, in the order the workshop takes them.
    pub const ALL: [LabName; 5] =
        [LabName::Pipelining, LabName::Batching, LabName::Flush, LabName::SlowReader, LabName::Interleave];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LabName::Pipelining => "pipelining",
            LabName::Batching => "batching",
            LabName::Flush => "flush",
            LabName::SlowReader => "slow-reader",
            LabName::Interleave => "interleave",
        }
    }

    /// The lab named `s`.
    pub fn parse(s: &str) -> Option<LabName> {
        LabName::ALL.into_iter().find(|l| l.name() == s)
    }

    /// The round trips it runs at unless told otherwise.
    pub fn default_rtts(self) -> Vec<Duration> {
        let ms = Duration::from_millis;
        match self {
            LabName::Pipelining => vec![ms(0), ms(1), ms(2), ms(5)],
            _ => vec![ms(2)],
        }
    }

    /// The command counts it runs unless told otherwise.
    pub fn default_commands(self) -> Vec<u64> {
        match self {
            // 1,000 one by one at 5 ms is 5 s; 10,000 would be 50 s by itself.
            LabName::Pipelining => vec![100, 1_000],
            LabName::Batching | LabName::Interleave => vec![1_000],
            LabName::Flush => vec![2_000],
            // GETs of a 64 KiB value: 25 MiB of replies, well past what the sockets hold.
            LabName::SlowReader => vec![400],
        }
    }
}

/// What a lab is asked to do.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Round trips to run at.
    pub rtts: Vec<Duration>,
    /// Command counts.
    pub commands: Vec<u64>,
}

/// A lab's result as it grows, handed to whoever shows it after every change.
pub struct Progress<'a> {
    /// The result so far.
    pub result: LabResult,
    publish: &'a mut dyn FnMut(&LabResult),
    bench: &'a Bench,
}

impl<'a> Progress<'a> {
    /// A result about to grow, published on every change.
    pub fn new(result: LabResult, publish: &'a mut dyn FnMut(&LabResult), bench: &'a Bench) -> Self {
        Self { result, publish, bench }
    }

    /// Says the result as it is now, with the connections opened so far.
    pub fn publish(&mut self) {
        self.result.clients = self.bench.opened();
        (self.publish)(&self.result);
    }

    /// Run `step` of `of` starts.
    pub fn running(&mut self, step: usize, of: usize, what: String) {
        self.result.status = LabStatus::Running { step, of, what };
        self.publish();
    }

    /// A measured run.
    pub fn row(&mut self, row: Value) {
        if let Value::Object(m) = row {
            self.result.rows.push(m);
        }
        self.publish();
    }

    /// A note under the table (said once).
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        if !self.result.notes.contains(&note) {
            self.result.notes.push(note);
        }
    }

    /// Adds `(x, y)` to the chart's series `name`, creating it if needed.
    pub fn point(&mut self, name: &str, x: f64, y: f64) {
        let series = &mut self.result.chart.series;
        let i = match series.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                series.push(Series { name: name.to_string(), points: Vec::new() });
                series.len() - 1
            }
        };
        series[i].points.push((x, y));
    }
}

/// Runs `lab` on `bench`, publishing as it goes; the final result (failed or not).
pub fn run(lab: LabName, bench: &Bench, plan: &Plan, publish: &mut dyn FnMut(&LabResult)) -> LabResult {
    let result = match lab {
        LabName::Pipelining => pipelining::empty(),
        LabName::Batching => batching::empty(),
        LabName::Flush => flush::empty(),
        LabName::SlowReader => slow_reader::empty(),
        LabName::Interleave => interleave::empty(),
    };
    let mut p = Progress::new(result, publish, bench);
    p.result.setup = bench.described.clone();
    if let Some(why) = &bench.wire_missing {
        p.note(format!("the wire is not captured ({why}): round trips, batches and window events are not measured; run as root or give the binary cap_net_raw to measure them"));
    }
    let outcome = match lab {
        LabName::Pipelining => pipelining::run(bench, plan, &mut p),
        LabName::Batching => batching::run(bench, plan, &mut p),
        LabName::Flush => flush::run(bench, plan, &mut p),
        LabName::SlowReader => slow_reader::run(bench, plan, &mut p),
        LabName::Interleave => interleave::run(bench, plan, &mut p),
    };
    p.result.status = match outcome {
        Ok(()) => LabStatus::Done,
        Err(e) => LabStatus::Failed { why: e.to_string() },
    };
    p.publish();
    p.result
}

/// A JSON object as a row.
pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Milliseconds with µs precision, as the rows give them.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `rate` per second rounded to a whole number.
pub fn per_sec(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        return 0.0;
    }
    (n as f64 / d.as_secs_f64()).round()
}

/// Commands, encoded once: `SET {prefix}{i} {value}` for i in 0..n, each command's start in
/// `at` (and the end at `at[n]`), so a batch is one slice.
pub struct Encoded {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Where command i starts; `at[n]` is the end.
    pub at: Vec<usize>,
}

impl Encoded {
    /// `n` commands made by `make(i)`.
    pub fn new(n: u64, mut make: impl FnMut(u64) -> Vec<Vec<u8>>) -> Self {
        let mut bytes = Vec::new();
        let mut at = Vec::with_capacity(usize::try_from(n).unwrap_or(0) + 1);
        for i in 0..n {
            at.push(bytes.len());
            let args = make(i);
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            bytes.extend_from_slice(&crate::sources::server::client::encode(&refs));
        }
        at.push(bytes.len());
        Self { bytes, at }
    }

    /// Commands `from..to`.
    pub fn slice(&self, from: usize, to: usize) -> &[u8] {
        let end = self.at.len() - 1;
        &self.bytes[self.at[from.min(end)]..self.at[to.min(end)]]
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.at.len() - 1
    }

    /// None.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `SET {prefix}{i} <16 bytes>`.
pub fn sets(prefix: &str, n: u64) -> Encoded {
    Encoded::new(n, |i| {
        vec![b"SET".to_vec(), format!("{prefix}{i}").into_bytes(), b"value-0123456789".to_vec()]
    })
}
