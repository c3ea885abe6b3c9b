//! The exporter's `/metrics`: [`Exported`] in the OpenMetrics text format, written by the
//! `prometheus-client` crate's encoder.
//!
//! Two families of names. `respscope_wire_*` is what only the wire sees: every command's
//! latency, pipelined ones included, write batches, split commands, TCP window events,
//! capture drops. Where the server's own numbers are served, they keep the names on-call
//! dashboards already use for them (`redis_up`, `redis_commands_total{cmd}`,
//! `redis_commands_duration_seconds_total{cmd}`, `redis_connected_clients`, …), so a panel
//! built for those keeps working.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::analysis::wire::bycommand::BOUNDS_US;
use crate::engine::exporter::{label, Exported, BATCH_BOUNDS};

/// The content type `/metrics` is served with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry a scrape encodes: one collector reading the shared model.
pub fn registry(model: Arc<Mutex<Exported>>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(Collect(model)));
    r
}

/// Encodes the registry as OpenMetrics text.
///
/// # Errors
/// Never in practice (writing to a `String`).
pub fn encode(r: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(16 * 1024);
    prometheus_client::encoding::text::encode(&mut out, r)?;
    Ok(out)
}

#[derive(Debug)]
struct Collect(Arc<Mutex<Exported>>);

/// A counter or gauge with one value.
struct One<T>(MetricType, T);

impl<T: EncodeCounterValue + EncodeGaugeValue> EncodeMetric for One<T> {
    fn encode(&self, mut e: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        match self.0 {
            MetricType::Counter => e.encode_counter::<NoLabelSet, _, u64>(&self.1, None),
            _ => e.encode_gauge(&self.1),
        }
    }
    fn metric_type(&self) -> MetricType {
        self.0
    }
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> Result<(), std::fmt::Error> {
    One(MetricType::Counter, v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> Result<(), std::fmt::Error> {
    One(MetricType::Gauge, v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// A labelled family of counters (or gauges, with `gauge`).
fn family<V: Copy>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    ty: MetricType,
    key: &str,
    rows: impl Iterator<Item = (String, V)>,
) -> Result<(), std::fmt::Error>
where
    One<V>: EncodeMetric,
{
    let mut m = e.encode_descriptor(name, help, None, ty)?;
    for (value, v) in rows {
        let labels = [(key.to_string(), value)];
        One(ty, v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Per-bucket counts at `bounds` (scaled to the metric's unit), the last one above them all
/// as the encoder's `+Inf` bucket: it writes `le="+Inf"` for `f64::MAX`, `inf` for infinity.
fn buckets(bounds: &[u64], counts: &[u64], scale: f64) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> = bounds.iter().zip(counts).map(|(&b, &n)| (b as f64 * scale, n)).collect();
    out.push((f64::MAX, counts.get(bounds.len()).copied().unwrap_or(0)));
    out
}

impl Collector for Collect {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        wire(&mut e, &m)?;
        libs(&mut e, &m)?;
        server(&mut e, &m)
    }
}

fn wire(e: &mut DescriptorEncoder<'_>, m: &Exported) -> Result<(), std::fmt::Error> {
    let t = &m.totals;
    gauge(
        e,
        "respscope_wire_up",
        "1 while the capture delivers packets, 0 when it stopped (interface down, capture error)",
        u64::from(m.wire_up && m.snapshots > 0),
    )?;
    family(
        e,
        "respscope_wire_commands",
        "Commands seen on the wire, by INFO commandstats name (pipelined and MULTI-queued ones each count)",
        MetricType::Counter,
        "command",
        m.commands.iter().map(|(k, &v)| (label(k), v)),
    )?;
    {
        let mut h = e.encode_descriptor(
            "respscope_wire_command_latency_seconds",
            "Each command's latency from its last request byte to its reply's last byte on the wire, pipelined commands included, by command name",
            None,
            MetricType::Histogram,
        )?;
        for (name, b) in &m.latency {
            let labels = [("command".to_string(), label(name))];
            let mut f = h.encode_family(&labels)?;
            let buckets = buckets(&BOUNDS_US, &b.counts, 1e-6);
            f.encode_histogram::<NoLabelSet>(b.sum_us as f64 / 1e6, b.count(), &buckets, None)?;
        }
    }
    counter(e, "respscope_wire_replies", "Replies seen on the wire", t.replies)?;
    counter(e, "respscope_wire_error_replies", "Error replies seen on the wire", t.errors)?;
    counter(
        e,
        "respscope_wire_batches",
        "Client write batches (client segments with payload, cut after PSH)",
        t.batches,
    )?;
    {
        let mut h = e.encode_descriptor(
            "respscope_wire_batch_commands",
            "Write batches by the number of commands they carried",
            None,
            MetricType::Histogram,
        )?;
        let buckets = buckets(&BATCH_BOUNDS, &m.batch_buckets, 1.0);
        let count = m.batch_buckets.iter().sum();
        h.encode_histogram::<NoLabelSet>(m.batch_commands as f64, count, &buckets, None)?;
    }
    counter(
        e,
        "respscope_wire_split_commands",
        "Commands that straddled two or more TCP segments",
        t.split_commands,
    )?;
    gauge(
        e,
        "respscope_wire_pipeline_depth_max",
        "The deepest pipeline (commands sent, not yet answered) of a connection listed now, since it opened",
        u64::try_from(m.max_depth).unwrap_or(0),
    )?;
    counter(e, "respscope_wire_zero_windows", "TCP segments advertising a zero window", t.zero_windows)?;
    counter(
        e,
        "respscope_wire_window_full",
        "TCP segments that filled the receiver's window",
        t.window_full,
    )?;
    counter(e, "respscope_wire_zero_window_probes", "TCP zero-window probes", t.zero_window_probes)?;
    counter(e, "respscope_wire_window_updates", "TCP window updates", t.window_updates)?;
    counter(e, "respscope_wire_retransmissions", "TCP retransmissions", t.retransmissions)?;
    counter(
        e,
        "respscope_wire_connections",
        "TCP connections seen since the exporter started",
        t.connections,
    )?;
    gauge(
        e,
        "respscope_wire_connections_listed",
        "Connections open or recently closed, followed one by one now",
        m.connections,
    )?;
    counter(
        e,
        "respscope_wire_parse_errors",
        "Bytes that were not RESP where RESP was expected",
        t.parse_errors,
    )?;
    counter(e, "respscope_wire_gaps", "Holes in a TCP stream the capture never saw", t.gaps)?;
    counter(e, "respscope_wire_packets_received", "Packets the capture received (libpcap)", m.loss.received)?;
    counter(
        e,
        "respscope_wire_kernel_drops",
        "Packets the kernel dropped before the capture read them",
        m.loss.kernel_dropped,
    )?;
    counter(e, "respscope_wire_interface_drops", "Packets the interface dropped", m.loss.if_dropped)
}

fn libs(e: &mut DescriptorEncoder<'_>, m: &Exported) -> Result<(), std::fmt::Error> {
    type Pick = fn(&crate::engine::exporter::LibTotals) -> u64;
    let per: [(&str, &str, MetricType, Pick); 5] = [
        ("commands", "Commands", MetricType::Counter, |t| t.commands),
        ("batches", "Write batches", MetricType::Counter, |t| t.batches),
        ("split_commands", "Split commands", MetricType::Counter, |t| t.split_commands),
        ("zero_windows", "Zero windows", MetricType::Counter, |t| t.zero_windows),
        ("connections", "Connections listed now", MetricType::Gauge, |t| t.connections),
    ];
    let by: [(&str, &str, &str, &std::collections::BTreeMap<String, crate::engine::exporter::LibTotals>); 2] = [
        (
            "client",
            "lib",
            "by client library (CLIENT LIST lib-name; unknown without one; other past the 20 busiest)",
            &m.libs,
        ),
        (
            "client_name",
            "name",
            "by client name (CLIENT SETNAME; unknown without one; other past the 20 busiest)",
            &m.names,
        ),
    ];
    for (prefix, key, how, table) in by {
        for (what, help, ty, pick) in per {
            let name = format!("respscope_wire_{prefix}_{what}");
            let help = format!("{help} {how}");
            family(e, &name, &help, ty, key, table.iter().map(|(k, t)| (k.clone(), pick(t))))?;
        }
    }
    Ok(())
}

fn server(e: &mut DescriptorEncoder<'_>, m: &Exported) -> Result<(), std::fmt::Error> {
    let Some(p) = &m.server else {
        return gauge(e, "redis_up", "1 when the last poll of the server succeeded", 0);
    };
    gauge(e, "redis_up", "1 when the last poll of the server succeeded", u64::from(p.up))?;
    if !p.up {
        return Ok(());
    }
    family(
        e,
        "redis_commands",
        "Calls by command, from INFO commandstats",
        MetricType::Counter,
        "cmd",
        p.commandstats.iter().map(|c| (label(&c.name), c.calls)),
    )?;
    family(
        e,
        "redis_commands_duration_seconds",
        "Time the server spent executing each command, from INFO commandstats",
        MetricType::Counter,
        "cmd",
        p.commandstats.iter().map(|c| (label(&c.name), c.usec as f64 / 1e6)),
    )?;
    let gauges: [(&str, &str, Option<u64>); 3] = [
        ("redis_connected_clients", "Clients connected (INFO clients)", p.connected_clients),
        ("redis_memory_used_bytes", "used_memory (INFO memory)", p.used_memory),
        ("redis_instantaneous_ops_per_sec", "instantaneous_ops_per_sec (INFO stats)", p.ops_per_sec),
    ];
    for (name, help, v) in gauges {
        if let Some(v) = v {
            gauge(e, name, help, v)?;
        }
    }
    let counters: [(&str, &str, Option<u64>); 2] = [
        ("redis_rejected_connections", "rejected_connections (INFO stats)", p.rejected_connections),
        ("redis_evicted_keys", "evicted_keys (INFO stats)", p.evicted_keys),
    ];
    for (name, help, v) in counters {
        if let Some(v) = v {
            counter(e, name, help, v)?;
        }
    }
    Ok(())
}
