//! Command names, interned once per analyzer and counted.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::analysis::conversation::pairing::{classify, CmdClass};
use crate::protocol::resp::{Arg, Name};

/// Distinct command names counted one by one; the rest share `(other)`.
pub const MAX_NAMES: usize = 4096;
/// Distinct subcommands of container commands counted one by one; the rest share `(other)`.
pub const MAX_SUBCOMMANDS: usize = 4096;

/// Redis's container commands: INFO commandstats counts them by subcommand (`client|list`).
const CONTAINERS: &[&[u8]] = &[
    b"ACL",
    b"CLIENT",
    b"CLUSTER",
    b"COMMAND",
    b"CONFIG",
    b"FUNCTION",
    b"LATENCY",
    b"MEMORY",
    b"MODULE",
    b"OBJECT",
    b"PUBSUB",
    b"SCRIPT",
    b"SENTINEL",
    b"SLOWLOG",
    b"XGROUP",
    b"XINFO",
];

/// Names whose commands can change how replies pair (see [`classify`]).
const SPECIAL: &[&[u8]] = &[
    b"SUBSCRIBE",
    b"PSUBSCRIBE",
    b"SSUBSCRIBE",
    b"UNSUBSCRIBE",
    b"PUNSUBSCRIBE",
    b"SUNSUBSCRIBE",
    b"MONITOR",
    b"RESET",
    b"SYNC",
    b"PSYNC",
    b"REPLCONF",
    b"CLIENT",
];

/// What a name's id says at once, computed when the name is first seen.
#[derive(Clone, Copy, Debug, Default)]
struct Traits {
    special: bool,
    container: bool,
    ping: bool,
}

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
    traits: Vec<Traits>,
    /// Container commands by (name id, lower-cased subcommand).
    subcommands: FxHashMap<(u32, Arg), u64>,
}

impl NameTable {
    /// The name with this id is PING.
    pub fn is_ping(&self, id: u32) -> bool {
        self.traits.get(id as usize).is_some_and(|t| t.ping)
    }

    /// Counts one command (its subcommand too, for a container command), returns its name's
    /// id and what it does to the conversation.
    pub fn command(&mut self, name: &Name, sub: &Arg, arg2: &Arg, argc: u32) -> (u32, CmdClass) {
        let id = self.count(name);
        let t = self.traits.get(id as usize).copied().unwrap_or_default();
        if t.container && argc >= 2 {
            let mut key = Arg::default();
            key.push(&sub.as_bytes().to_ascii_lowercase());
            if self.subcommands.len() >= MAX_SUBCOMMANDS && !self.subcommands.contains_key(&(id, key)) {
                key = Arg::default();
                key.push(b"(other)");
            }
            *self.subcommands.entry((id, key)).or_default() += 1;
        }
        let class = if t.special {
            classify(name.as_bytes(), sub.as_bytes(), arg2.as_bytes(), argc)
        } else {
            CmdClass::Normal
        };
        (id, class)
    }

    /// Counts by name as INFO commandstats keys them: lower-case, a container command's
    /// subcommand after a `|`.
    pub fn by_stat_name(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        let mut with_sub: Vec<u64> = vec![0; self.names.len()];
        for (&(id, sub), &n) in &self.subcommands {
            let Some(name) = self.names.get(id as usize) else { continue };
            let key = format!("{}|{}", name.to_string_lossy().to_ascii_lowercase(), sub.to_string_lossy());
            *out.entry(key).or_default() += n;
            if let Some(w) = with_sub.get_mut(id as usize) {
                *w += n;
            }
        }
        for ((name, &n), &w) in self.names.iter().zip(&self.counts).zip(&with_sub) {
            // A container command sent without a subcommand keeps its bare name.
            if n > w {
                *out.entry(name.to_string_lossy().to_ascii_lowercase()).or_default() += n - w;
            }
        }
        out
    }

    /// Adds `other`'s counts (a parallel analyzer's) to these.
    pub fn merge(&mut self, other: &NameTable) {
        let mut ids = vec![0u32; other.names.len()];
        for (k, (name, &n)) in other.names.iter().zip(&other.counts).enumerate() {
            let id = self.count(name);
            if let Some(slot) = self.counts.get_mut(id as usize) {
                *slot = *slot - 1 + n;
            }
            ids[k] = id;
        }
        for (&(id, sub), &n) in &other.subcommands {
            if let Some(&mine) = ids.get(id as usize) {
                *self.subcommands.entry((mine, sub)).or_default() += n;
            }
        }
    }

    /// Counts one command and returns its name's id.
    #[inline]
    pub fn count(&mut self, name: &Name) -> u32 {
        let id = match self.last {
            Some((n, id)) if n == *name => id,
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
            self.traits.push(Traits::default());
            self.other = Some(id);
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(*name, id);
        self.names.push(*name);
        self.counts.push(0);
        let n = name.as_bytes();
        self.traits.push(Traits {
            special: SPECIAL.contains(&n),
            container: CONTAINERS.contains(&n),
            ping: n == b"PING",
        });
        id
    }
}
