//! Connections analysed in parallel: frames dealt out to analyzers by connection, and their
//! finished tables joined as if one analyzer had seen every frame.

use super::{flow_hash, ReplyIndex, WireAnalyzer};
use crate::sources::capture::{Skip, TcpPacket};

impl WireAnalyzer {
    /// The hash of the connection a segment belongs to, the same both ways: what
    /// [`WireAnalyzer::packet_in_flow`] takes and [`WireAnalyzer::shard`] deals by.
    #[inline]
    pub fn flow_of(p: &TcpPacket<'_>) -> u64 {
        flow_hash((p.src, p.sport), (p.dst, p.dport))
    }

    /// Which of `n` analyzers a frame belongs to, from its [`WireAnalyzer::flow_of`] (`None`
    /// without a TCP segment): all frames of one connection (both directions) go to the same
    /// one, so connections can be analysed in parallel; frames without a TCP segment go to
    /// the first, which counts them.
    #[inline]
    pub fn shard(flow: Option<u64>, n: usize) -> usize {
        match flow {
            Some(h) if n > 1 => (h % n as u64) as usize,
            _ => 0,
        }
    }

    /// [`WireAnalyzer::shard`] of a decoded frame.
    pub fn shard_of(decoded: &Result<TcpPacket<'_>, Skip>, n: usize) -> usize {
        Self::shard(decoded.as_ref().ok().map(Self::flow_of), n)
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
        let mut indices = Vec::with_capacity(parts.len() + 1);
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
            first.retired_interleave.add(&other.retired_interleave);
            indices.push(std::mem::replace(&mut other.replies, ReplyIndex::new(0, false)));
        }
        // Each share's reply index holds its own connections' frames: combined, they count
        // every reply of the capture.
        indices.push(std::mem::replace(&mut first.replies, ReplyIndex::new(0, false)));
        first.replies = ReplyIndex::combine(indices);
        first.conns.sort_by_key(|c| c.first_frame);
        for (i, c) in first.conns.iter_mut().enumerate() {
            c.id = i as u64 + 1;
        }
        first.next_id = first.conns.len() as u64 + 1;
        first.reindex();
        // Every share is in: the waiting batches can be resolved.
        first.part = false;
        first.resolve_interleave(u64::MAX);
        Some(first)
    }
}
