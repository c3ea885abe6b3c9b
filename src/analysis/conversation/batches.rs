//! Write batches of one client: what each `send()` flush carried.
//!
//! A batch is a run of client-to-server segments that bring new bytes, in capture order, cut
//! after each segment with PSH (Linux sets PSH at the end of every `send()`). A command belongs
//! to the batch that owns its last byte. A run with no PSH at the end of a capture is not a
//! batch.
//!
//! Commands usually complete while their batch's last segment is processed, but bytes held
//! behind a hole complete later: recent batches stay in a ring so a late command still lands
//! in the right one, and the size distribution is corrected in place.

use std::collections::BTreeMap;

use super::flush::FlushTally;

/// Recent batches whose counts can still change.
const RING: usize = 64;
/// Distinct batch sizes tracked one by one; larger sizes share the last bucket.
pub const SIZE_BUCKET_CAP: u32 = 4096;

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    id: u64,
    commands: u32,
    closed: bool,
    used: bool,
}

#[cold]
fn new_ring() -> Box<[Slot; RING]> {
    Box::new([Slot::default(); RING])
}

/// The slot of batch `id` in `ring`, allocated on first use (out of line: once per
/// connection, where a slot is looked up once or twice per command).
#[inline]
fn slot_in(ring: &mut Option<Box<[Slot; RING]>>, id: u64) -> &mut Slot {
    let ring = match ring {
        Some(ring) => ring,
        none => none.insert(new_ring()),
    };
    &mut ring[(id % RING as u64) as usize]
}

/// Batch accounting for one connection.
#[derive(Clone, Debug, Default)]
pub struct Batches {
    open: u64,
    open_has_bytes: bool,
    /// Bytes of the open batch.
    open_bytes: u64,
    /// Allocated with the first client segment: most connections that carry nothing never
    /// need it.
    ring: Option<Box<[Slot; RING]>>,
    /// Closed batches.
    pub count: u64,
    /// Most commands in one closed batch.
    pub max_commands: u32,
    /// Closed batches by number of commands (sizes above [`SIZE_BUCKET_CAP`] counted there).
    pub sizes: BTreeMap<u32, u64>,
    /// Commands whose batch had left the ring when they completed.
    pub late_commands: u64,
    /// What the batches say about how the client flushes.
    pub flush: FlushTally,
    /// Bytes and commands of batches cut by a full receive window inside a command, not yet
    /// handed to `flush`: one write with the batch that follows.
    carried: Option<(u64, u64)>,
}

impl Batches {
    /// Heap held, for memory budgets.
    pub fn heap_bytes(&self) -> usize {
        self.ring.as_ref().map_or(0, |_| std::mem::size_of::<[Slot; RING]>())
            + self.sizes.len() * (std::mem::size_of::<(u32, u64)>() + 16)
            + self.flush.heap_bytes()
    }

    /// Frees the ring of a finished connection: no command can complete any more.
    pub fn compact(&mut self) {
        self.ring = None;
    }

    /// The id the next client segment belongs to.
    pub fn current(&self) -> u64 {
        self.open
    }

    /// A client segment was processed: `new_bytes` it carried first, `psh` its flag,
    /// `drained` whether no command was waiting for a reply before it, `mid_command` whether
    /// the stream stands inside a command after it, `kernel_push` whether its PSH is one the
    /// kernel sets where a `send()` waits for room (it filled the server's window, or it is
    /// a full-sized segment).
    ///
    /// So a large write comes as several batches; for the flush verdict such a batch, when
    /// it ends inside a command, is one write with the next: a client's buffer is flushed
    /// where its own rule says, which is no window and rarely a whole number of segments.
    pub fn segment(
        &mut self,
        new_bytes: u64,
        psh: bool,
        drained: bool,
        mid_command: bool,
        kernel_push: bool,
    ) {
        if new_bytes == 0 {
            return;
        }
        self.open_bytes += new_bytes;
        if !self.open_has_bytes {
            self.open_has_bytes = true;
            if self.carried.is_none() {
                self.flush.start(drained);
            }
            let open = self.open;
            let slot = slot_in(&mut self.ring, open);
            let carried = if slot.used && slot.id == self.open { slot.commands } else { 0 };
            *slot = Slot { id: open, commands: carried, closed: false, used: true };
        }
        if psh {
            let open = self.open;
            let slot = slot_in(&mut self.ring, open);
            slot.closed = true;
            let n = slot.commands;
            self.count += 1;
            self.max_commands = self.max_commands.max(n);
            *self.sizes.entry(n.min(SIZE_BUCKET_CAP)).or_default() += 1;
            let bytes = std::mem::take(&mut self.open_bytes);
            if mid_command && kernel_push {
                let (b, c) = self.carried.unwrap_or_default();
                self.carried = Some((b.saturating_add(bytes), c.saturating_add(u64::from(n))));
            } else {
                let (b, c) = self.carried.take().unwrap_or_default();
                self.flush.closed(b + bytes, c + u64::from(n), mid_command);
            }
            self.open += 1;
            self.open_has_bytes = false;
        }
    }

    /// A command whose last byte was owned by a segment of batch `id` completed.
    pub fn command(&mut self, id: u64) {
        let open = self.open;
        let slot = slot_in(&mut self.ring, id);
        if !slot.used || slot.id != id {
            if id == open {
                // The open batch's first command, before its segment was registered.
                *slot = Slot { id, commands: 1, closed: false, used: true };
            } else {
                self.late_commands += 1;
            }
            return;
        }
        if slot.closed {
            let old = slot.commands.min(SIZE_BUCKET_CAP);
            if let Some(c) = self.sizes.get_mut(&old) {
                *c -= 1;
                if *c == 0 {
                    self.sizes.remove(&old);
                }
            }
            slot.commands += 1;
            *self.sizes.entry(slot.commands.min(SIZE_BUCKET_CAP)).or_default() += 1;
            self.max_commands = self.max_commands.max(slot.commands);
        } else {
            slot.commands += 1;
        }
    }

    /// Commands in the batch still open (not counted as a batch yet).
    pub fn open_commands(&self) -> u32 {
        let Some(ring) = &self.ring else { return 0 };
        let slot = &ring[(self.open % RING as u64) as usize];
        if slot.used && slot.id == self.open {
            slot.commands
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::conversation::flush::FlushKind;

    #[test]
    fn psh_closes_and_a_trailing_run_is_not_a_batch() {
        let mut b = Batches::default();
        // Batch 0: two segments, the second with PSH, three commands.
        b.segment(100, false, true, true, false);
        b.command(0);
        b.command(0);
        b.segment(50, true, false, false, false);
        b.command(0);
        // That command completed after the close (late): the distribution is corrected.
        assert_eq!(b.count, 1);
        assert_eq!(b.max_commands, 3);
        assert_eq!(b.sizes.get(&3), Some(&1));
        // Batch 1 never sees PSH.
        b.segment(10, false, true, true, false);
        b.command(1);
        assert_eq!(b.count, 1);
        assert_eq!(b.open_commands(), 1);
    }

    #[test]
    fn a_write_cut_by_a_full_window_is_one_write_for_the_verdict() {
        let mut b = Batches::default();
        for (i, commands) in [40u64, 55, 70, 85].into_iter().enumerate() {
            let id = b.current();
            // The write's first part: PSH where the window filled, inside a command.
            b.segment(60_000, false, true, true, false);
            for _ in 0..commands / 2 {
                b.command(id);
            }
            b.segment(5_000, true, false, true, true);
            let id = b.current();
            b.segment(30_000 + i as u64, false, false, true, false);
            for _ in 0..commands - commands / 2 {
                b.command(id);
            }
            b.segment(1_000, true, false, false, false);
        }
        // Batches stay cut at every PSH; the verdict sees four writes, each after a drain.
        assert_eq!(b.count, 8);
        let v = b.flush.verdict().expect("a verdict");
        assert_eq!((v.kind, v.batches, v.waits_for_replies), (FlushKind::WholePipeline, 4, true), "{v:?}");
    }

    #[test]
    fn segments_without_new_bytes_do_not_count() {
        let mut b = Batches::default();
        b.segment(0, true, true, false, false);
        assert_eq!(b.count, 0);
    }
}
