//! `lab batching`: the same N writes (and reads) done the ways a client library offers: one
//! by one, as a pipeline, as one MSET/MGET, inside MULTI/EXEC, as a Lua script, and as a
//! bulk stream in the manner of `redis-cli --pipe`. What each costs in round trips and server
//! time, and the longest single command: what every other client waits behind.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{ms, per_sec, sets, Encoded, Plan, Progress};
use crate::app::lab::bench::{stats_delta, Bench, LabError};
use crate::app::lab::conn::LabConn;
use crate::app::lab::units::show_duration;
use crate::engine::lab::{Chart, ChartKind, Column, LabResult};
use crate::sources::server::client::encode;
use crate::sources::server::formats::slowlog::parse_slowlog;

/// The ways, in the order they run; the first is the baseline.
const MODES: [&str; 8] =
    ["one by one", "pipeline", "MSET", "MULTI/EXEC", "Lua script", "--pipe stream", "GET pipeline", "MGET"];
/// Bytes per write of the bulk stream, as redis-cli --pipe writes them.
const STREAM_CHUNK: usize = 16 * 1024;
/// The script: every key set to its argument in one server call.
const SCRIPT: &str = "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i]) end return #KEYS";

/// The lab before its first run.
pub fn empty() -> LabResult {
    let c = |key, header| Column { key, header };
    LabResult::new(
        "batching",
        "the same N keys written (and read) one by one, as a pipeline, MSET/MGET, MULTI/EXEC, a Lua script and a bulk stream",
        vec![
            c("mode", "mode"),
            c("keys", "keys"),
            c("commands", "commands"),
            c("elapsed_ms", "elapsed ms"),
            c("keys_per_sec", "keys/s"),
            c("round_trips", "round trips (wire)"),
            c("server_usec", "server µs"),
            c("longest_usec", "longest µs"),
        ],
        Chart {
            title: "elapsed time per way of batching".into(),
            x_label: "way".into(),
            y_label: "elapsed ms".into(),
            kind: ChartKind::Bars { categories: MODES.iter().map(|m| (*m).to_string()).collect() },
            series: Vec::new(),
        },
    )
}

/// What one way sends: the writes, the replies they get, the commands the server runs (as
/// commandstats names them, the top-level ones only: EXEC's and a script's inner SETs are
/// inside their time).
struct Work {
    writes: Vec<Vec<u8>>,
    replies: usize,
    commands: u64,
    counted: &'static [&'static str],
    /// Write everything before reading (a stream), rather than write, read, write, read.
    stream: bool,
}

fn work(mode: &str, n: u64, keys: &[Vec<u8>], set_all: &Encoded) -> Work {
    let value = b"value-0123456789".to_vec();
    let count = usize::try_from(n).unwrap_or(0);
    let one = |w: Vec<u8>, counted, commands| Work {
        writes: vec![w],
        replies: 1,
        commands,
        counted,
        stream: false,
    };
    match mode {
        "one by one" => Work {
            writes: (0..count).map(|i| set_all.slice(i, i + 1).to_vec()).collect(),
            replies: 1,
            commands: n,
            counted: &["set"],
            stream: false,
        },
        "pipeline" => Work {
            writes: vec![set_all.bytes.clone()],
            replies: count,
            commands: n,
            counted: &["set"],
            stream: false,
        },
        "MSET" => {
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for k in keys {
                args.push(k);
                args.push(&value);
            }
            one(encode(&args), &["mset"], 1)
        }
        "MULTI/EXEC" => {
            let mut w = encode(&[b"MULTI"]);
            w.extend_from_slice(&set_all.bytes);
            w.extend_from_slice(&encode(&[b"EXEC"]));
            Work {
                writes: vec![w],
                replies: count + 2,
                commands: n + 2,
                counted: &["multi", "exec"],
                stream: false,
            }
        }
        "Lua script" => {
            let nk = n.to_string();
            let mut args: Vec<&[u8]> = vec![b"EVAL", SCRIPT.as_bytes(), nk.as_bytes()];
            args.extend(keys.iter().map(Vec::as_slice));
            args.extend(std::iter::repeat_n(value.as_slice(), count));
            one(encode(&args), &["eval"], 1)
        }
        "--pipe stream" => Work {
            writes: set_all.bytes.chunks(STREAM_CHUNK).map(<[u8]>::to_vec).collect(),
            replies: count,
            commands: n,
            counted: &["set"],
            stream: true,
        },
        "GET pipeline" => {
            let mut w = Vec::new();
            for k in keys {
                w.extend_from_slice(&encode(&[b"GET", k]));
            }
            Work { writes: vec![w], replies: count, commands: n, counted: &["get"], stream: false }
        }
        _ => {
            let mut args: Vec<&[u8]> = vec![b"MGET"];
            args.extend(keys.iter().map(Vec::as_slice));
            one(encode(&args), &["mget"], 1)
        }
    }
}

/// Sends `w`: write, read, write, read, or (a stream) every write from a thread while the
/// replies are read here, as `--pipe` does.
fn send(c: &mut LabConn, w: &Work) -> Result<(), LabError> {
    if !w.stream {
        for bytes in &w.writes {
            c.write(bytes)?;
            c.read_replies(w.replies, |_| {})?;
        }
        return Ok(());
    }
    let mut writer = c.try_clone()?;
    let writes = w.writes.clone();
    let t = std::thread::spawn(move || -> Result<(), LabError> {
        for bytes in &writes {
            writer.write(bytes)?;
        }
        Ok(())
    });
    let read = c.read_replies(w.replies, |_| {});
    let wrote = t.join().unwrap_or(Err(LabError::Server("the stream's writer thread failed".into())));
    read?;
    wrote
}

/// Runs every way at each round trip.
///
/// # Errors
/// A connection failed, or stop was asked.
pub fn run(bench: &Bench, plan: &Plan, p: &mut Progress<'_>) -> Result<(), LabError> {
    let n = plan.commands.first().copied().unwrap_or(1_000).max(1);
    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("lab:b:{i}").into_bytes()).collect();
    let set_all = sets("lab:b:", n);
    let mut control = bench.control()?;
    let slowlog = bench.private();
    if slowlog {
        // Every command logged, so the longest one is known; the lab's own server only.
        let len = (n * 3 + 100).min(100_000).to_string();
        control.request(&[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"])?;
        control.request(&[b"CONFIG", b"SET", b"slowlog-max-len", len.as_bytes()])?;
        p.note("longest: the longest single command in SLOWLOG (threshold set to 0 on the lab's private server); server µs: INFO commandstats usec of the top-level commands (EXEC and EVAL include what runs inside them)");
    } else {
        p.note("longest: not measured on a server given with -h/-p (it needs slowlog-log-slower-than 0, and the lab leaves a given server's configuration alone); server µs: INFO commandstats usec of the top-level commands");
    }
    p.note("--pipe stream: the SETs written in 16 KiB chunks by one thread while another reads the replies, as redis-cli --pipe does");
    let total = plan.rtts.len() * MODES.len();
    let mut step = 0;
    for &rtt in &plan.rtts {
        let mut base: Option<Duration> = None;
        for mode in MODES {
            bench.check()?;
            step += 1;
            p.running(step, total, format!("{mode}, {n} keys at {} RTT", show_duration(rtt)));
            let w = work(mode, n, &keys, &set_all);
            let name = format!("lab:batching:{}", mode.replace([' ', '/'], "-").trim_start_matches('-'));
            let (mut c, setup) = bench.client(rtt, true, &name)?;
            if slowlog {
                control.request(&[b"SLOWLOG", b"RESET"])?;
            }
            let before = bench.commandstats(&mut control)?;
            let t0 = Instant::now();
            send(&mut c, &w)?;
            let elapsed = t0.elapsed();
            let after = bench.commandstats(&mut control)?;
            let (_, usec) = stats_delta(&before, &after, w.counted);
            let longest = if slowlog {
                let v = bench.value(&mut control, &[b"SLOWLOG", b"GET", b"-1"])?;
                parse_slowlog(&v).iter().filter(|e| e.client_name == name).map(|e| e.duration_us).max()
            } else {
                None
            };
            let replies = u64::try_from(w.replies * w.writes.len().max(1)).unwrap_or(0);
            let replies = if w.stream { u64::try_from(w.replies).unwrap_or(0) } else { replies };
            let wire = bench.wire_conn(c.local_port, setup + replies);
            c.close();
            if mode == "one by one" {
                base = Some(elapsed);
            }
            let x = MODES.iter().position(|m| *m == mode).unwrap_or(0) as f64;
            p.point(&format!("{} RTT", show_duration(rtt)), x, ms(elapsed));
            p.row(json!({
                "rtt_ms": ms(rtt),
                "mode": mode,
                "keys": n,
                "commands": w.commands,
                "elapsed_ms": ms(elapsed),
                "keys_per_sec": per_sec(n, elapsed),
                "round_trips": wire.as_ref().map(|w| w.batches.saturating_sub(setup)),
                "server_usec": usec,
                "longest_usec": longest,
                "speedup": base.map(|b| (b.as_secs_f64() / elapsed.as_secs_f64().max(1e-9) * 10.0).round() / 10.0),
                "client_port": c.local_port,
            }));
        }
    }
    Ok(())
}
