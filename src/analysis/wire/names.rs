//! Command names, interned once per analyzer and counted.

use rustc_hash::FxHashMap;

use crate::protocol::resp::Name;

/// Distinct command names counted one by one; the rest share `(other)`.
pub const MAX_NAMES: usize = 4096;

/// Interned command names with their counts.
#[derive(Default)]
pub struct NameTable {
    /// The last name counted: a connection usually repeats a few commands, so this saves
    /// most hash lookups.
    last: Option<(Name, u32)>,
    ids: FxHashMap<Name, u32>,
    /// Names by id.
    pub names: Vec<Name>,
    /// Command counts by id.
    pub counts: Vec<u64>,
    other: Option<u32>,
}

impl NameTable {
    /// The name with this id is PING.
    pub fn is_ping(&self, id: u32) -> bool {
        self.names.get(id as usize).is_some_and(|n| n.as_bytes() == b"PING")
    }

    /// Counts one command and returns its name's id.
    pub fn count(&mut self, name: &Name) -> u32 {
        let id = match self.last {
            Some((n, id)) if n.as_bytes() == name.as_bytes() => id,
            _ => {
                let id = match self.ids.get(name) {
                    Some(&id) => id,
                    None => self.intern(name),
                };
                self.last = Some((*name, id));
                id
            }
        };
        if let Some(c) = self.counts.get_mut(id as usize) {
            *c += 1;
        }
        id
    }

    fn intern(&mut self, name: &Name) -> u32 {
        if self.names.len() >= MAX_NAMES {
            if let Some(o) = self.other {
                return o;
            }
            let mut n = Name::default();
            n.push(b"(other)");
            let id = self.names.len() as u32;
            self.names.push(n);
            self.counts.push(0);
            self.other = Some(id);
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(*name, id);
        self.names.push(*name);
        self.counts.push(0);
        id
    }
}
