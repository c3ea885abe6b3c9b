//! Connections analysed in parallel: frames dealt out to analyzers by connection, and their
//! finished tables joined as if one analyzer had seen every frame.

use super::{hash_key, key_of, WireAnalyzer};
use crate::sources::capture::{Skip, TcpPacket};

impl WireAnalyzer {
    /// Which of `n` analyzers a decoded frame belongs to: all frames of one connection (both
    /// directions) go to the same one, so connections can be analysed in parallel; frames
    /// without a TCP segment go to the first, which counts them.
    pub fn shard_of(decoded: &Result<TcpPacket<'_>, Skip>, n: usize) -> usize {
        match decoded {
            Ok(p) if n > 1 => (hash_key(&key_of((p.src, p.sport), (p.dst, p.dport))) % n as u64) as usize,
            _ => 0,
        }
    }

    /// Joins finished analyzers of disjoint connection sets into one, as if one analyzer had
    /// seen every frame: connections in order of first frame (and numbered in that order),
    /// counts summed, names merged.
    pub fn merge(mut parts: Vec<WireAnalyzer>) -> Option<WireAnalyzer> {
        // The part with the most connections takes in the others: its table grows in place
        // (a large allocation is remapped, not copied) while the smaller ones are moved in.
        let most = parts.iter().enumerate().max_by_key(|(_, p)| p.conns.len()).map(|(i, _)| i)?;
        let mut first = parts.swap_remove(most);
        // One allocation for all; each part is freed as soon as it is moved.
        first.conns.reserve_exact(parts.iter().map(|p| p.conns.len()).sum());
        for mut other in parts {
            let c = &mut first.counts;
            let o = &other.counts;
            c.packets += o.packets;
            c.tcp_packets += o.tcp_packets;
            c.not_tcp += o.not_tcp;
            c.truncated += o.truncated;
            c.fragments += o.fragments;
            c.snapped += o.snapped;
            c.first_ts = [c.first_ts, o.first_ts].into_iter().flatten().min();
            c.last_ts = [c.last_ts, o.last_ts].into_iter().flatten().max();
            first.retired.merge(&other.retired);
            first.retired_for_memory += other.retired_for_memory;
            first.heap += other.heap;
            first.cfg.memory_budget += other.cfg.memory_budget;
            first.names.merge(&other.names);
            first.propagated.merge(&other.propagated);
            first.conns.append(&mut other.conns);
        }
        first.conns.sort_by_key(|c| c.first_frame);
        for (i, c) in first.conns.iter_mut().enumerate() {
            c.id = i as u64 + 1;
        }
        first.next_id = first.conns.len() as u64 + 1;
        first.reindex();
        Some(first)
    }
}
