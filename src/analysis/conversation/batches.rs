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

/// Batch accounting for one connection.
#[derive(Clone, Debug)]
pub struct Batches {
    open: u64,
    open_has_bytes: bool,
    ring: [Slot; RING],
    /// Closed batches.
    pub count: u64,
    /// Most commands in one closed batch.
    pub max_commands: u32,
    /// Closed batches by number of commands (sizes above [`SIZE_BUCKET_CAP`] counted there).
    pub sizes: BTreeMap<u32, u64>,
    /// Commands whose batch had left the ring when they completed.
    pub late_commands: u64,
}

impl Default for Batches {
    fn default() -> Self {
        Batches {
            open: 0,
            open_has_bytes: false,
            ring: [Slot::default(); RING],
            count: 0,
            max_commands: 0,
            sizes: BTreeMap::new(),
            late_commands: 0,
        }
    }
}

impl Batches {
    /// The id the next client segment belongs to.
    pub fn current(&self) -> u64 {
        self.open
    }

    /// A client segment was processed: `new_bytes` it carried first, `psh` its flag.
    pub fn segment(&mut self, new_bytes: u64, psh: bool) {
        if new_bytes == 0 {
            return;
        }
        if !self.open_has_bytes {
            self.open_has_bytes = true;
            let slot = &mut self.ring[(self.open % RING as u64) as usize];
            let carried = if slot.used && slot.id == self.open { slot.commands } else { 0 };
            *slot = Slot { id: self.open, commands: carried, closed: false, used: true };
        }
        if psh {
            let slot = &mut self.ring[(self.open % RING as u64) as usize];
            slot.closed = true;
            let n = slot.commands;
            self.count += 1;
            self.max_commands = self.max_commands.max(n);
            *self.sizes.entry(n.min(SIZE_BUCKET_CAP)).or_default() += 1;
            self.open += 1;
            self.open_has_bytes = false;
        }
    }

    /// A command whose last byte was owned by a segment of batch `id` completed.
    pub fn command(&mut self, id: u64) {
        let slot = &mut self.ring[(id % RING as u64) as usize];
        if !slot.used || slot.id != id {
            if id == self.open {
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
        let slot = &self.ring[(self.open % RING as u64) as usize];
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

    #[test]
    fn psh_closes_and_a_trailing_run_is_not_a_batch() {
        let mut b = Batches::default();
        // Batch 0: two segments, the second with PSH, three commands.
        b.segment(100, false);
        b.command(0);
        b.command(0);
        b.segment(50, true);
        b.command(0);
        // That command completed after the close (late): the distribution is corrected.
        assert_eq!(b.count, 1);
        assert_eq!(b.max_commands, 3);
        assert_eq!(b.sizes.get(&3), Some(&1));
        // Batch 1 never sees PSH.
        b.segment(10, false);
        b.command(1);
        assert_eq!(b.count, 1);
        assert_eq!(b.open_commands(), 1);
    }

    #[test]
    fn segments_without_new_bytes_do_not_count() {
        let mut b = Batches::default();
        b.segment(0, true);
        assert_eq!(b.count, 0);
    }
}
