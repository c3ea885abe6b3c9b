//! `CLIENT LIST` (and `CLIENT INFO`, the same format for one line): one client per line, made
//! of space-separated `key=value` fields.
//!
//! Fields appear and disappear across versions (6.2 adds `laddr`, `argv-mem`, `tot-mem`; 7.0
//! `resp`, `multi-mem`, `rbs`, `rbp`; 7.2 `lib-name`, `lib-ver`; 7.4 `watch`; 8.0
//! `io-thread`), and the docs tell parsers to skip unknown ones and accept missing ones. So
//! the fields a view needs are typed, a missing one takes its default, and everything else
//! lands in [`ClientRow::other`] in server order.
//!
//! `addr` can be `127.0.0.1:port`, `[::1]:port` or `/path/to/sock:0`; it is kept as written.
//! A field is split on its first `=` (a value may hold `=`), and a space-separated token with
//! no `=` is taken as the continuation of the previous value: Redis forbids spaces in client
//! names today, but a proxy or a future field might not. Every string kept is escaped for
//! display ([`shown`]).

use super::{shown, strip_verbatim, ParseStats};

/// Most rows kept. `maxclients` defaults to 10,000.
pub const MAX_ROWS: usize = 10_000;
/// Most unknown fields kept per row (7.0.15 has 11 of them).
pub const MAX_OTHER: usize = 64;

/// One client.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClientRow {
    /// Unique, monotonic client id.
    pub id: u64,
    /// Peer address: `ip:port`, `[v6]:port` or `/unix/path:0`.
    pub addr: String,
    /// Local (server-side) address, 6.2+.
    pub laddr: Option<String>,
    /// `CLIENT SETNAME` name; empty when unset.
    pub name: String,
    /// `CLIENT SETINFO LIB-NAME`, 7.2+ (present but empty when the library did not set it).
    pub lib_name: Option<String>,
    /// `CLIENT SETINFO LIB-VER`, 7.2+.
    pub lib_ver: Option<String>,
    /// Seconds connected.
    pub age: u64,
    /// Seconds since the last command.
    pub idle: u64,
    /// Flag letters (`N` none, `O` monitor, `P` pubsub, `b` blocked, `x` MULTI, …).
    pub flags: String,
    /// Selected database.
    pub db: u32,
    /// Last command, `parent|sub` for subcommands.
    pub cmd: String,
    /// Query buffer used, bytes (a half-sent big command shows here).
    pub qbuf: u64,
    /// Query buffer free, bytes.
    pub qbuf_free: u64,
    /// Output memory, bytes: the slow-reader / stalled-monitor signal.
    pub omem: u64,
    /// Total memory of the client, bytes, 6.2+.
    pub tot_mem: u64,
    /// Bytes in the fixed reply buffer.
    pub obl: u64,
    /// Reply list nodes.
    pub oll: u64,
    /// Commands queued in MULTI; -1 outside a transaction (also when missing).
    pub multi: i64,
    /// Protocol version (2 or 3), 7.0+.
    pub resp: Option<u32>,
    /// Every other field, in server order (`fd`, `sub`, `psub`, `user`, `events`, `redir`, …).
    pub other: Vec<(String, String)>,
}

impl Default for ClientRow {
    fn default() -> Self {
        ClientRow {
            id: 0,
            addr: String::new(),
            laddr: None,
            name: String::new(),
            lib_name: None,
            lib_ver: None,
            age: 0,
            idle: 0,
            flags: String::new(),
            db: 0,
            cmd: String::new(),
            qbuf: 0,
            qbuf_free: 0,
            omem: 0,
            tot_mem: 0,
            obl: 0,
            oll: 0,
            multi: -1,
            resp: None,
            other: Vec::new(),
        }
    }
}

impl ClientRow {
    /// The value of an untyped field (`"user"`, `"fd"`, `"io-thread"`, …).
    pub fn other_field(&self, key: &str) -> Option<&str> {
        self.other.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Parses a CLIENT LIST (or CLIENT INFO) reply. A line without a numeric `id=` (present since
/// 2.8.12) is not a client and is skipped.
pub fn parse_client_list(text: &str) -> Vec<ClientRow> {
    parse_client_list_with_stats(text).0
}

/// [`parse_client_list`], also saying how many lines were skipped or dropped over the cap.
pub fn parse_client_list_with_stats(text: &str) -> (Vec<ClientRow>, ParseStats) {
    let mut rows = Vec::new();
    let mut stats = ParseStats::default();
    for line in strip_verbatim(text).lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            stats.dropped += 1;
            continue;
        }
        match parse_row(line) {
            Some(row) => rows.push(row),
            None => stats.skipped += 1,
        }
    }
    (rows, stats)
}

/// Splits a line into `(key, value)` fields, joining `=`-less tokens to the previous value.
fn fields(line: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for token in line.split(' ').filter(|t| !t.is_empty()) {
        match token.split_once('=') {
            Some((k, v)) => out.push((k, v.to_string())),
            None => {
                if let Some((_, prev)) = out.last_mut() {
                    if prev.len() < super::MAX_STR {
                        prev.push(' ');
                        prev.push_str(token);
                    }
                }
            }
        }
    }
    out
}

fn parse_row(line: &str) -> Option<ClientRow> {
    let mut row = ClientRow::default();
    let mut has_id = false;
    for (key, value) in fields(line) {
        let v = value.as_str();
        match key {
            "id" => {
                row.id = v.parse().ok()?;
                has_id = true;
            }
            "addr" => row.addr = shown(v),
            "laddr" => row.laddr = Some(shown(v)),
            "name" => row.name = shown(v),
            "lib-name" => row.lib_name = Some(shown(v)),
            "lib-ver" => row.lib_ver = Some(shown(v)),
            "age" => row.age = v.parse().unwrap_or(0),
            "idle" => row.idle = v.parse().unwrap_or(0),
            "flags" => row.flags = shown(v),
            "db" => row.db = v.parse().unwrap_or(0),
            "cmd" => row.cmd = shown(v),
            "qbuf" => row.qbuf = v.parse().unwrap_or(0),
            "qbuf-free" => row.qbuf_free = v.parse().unwrap_or(0),
            "omem" => row.omem = v.parse().unwrap_or(0),
            "tot-mem" => row.tot_mem = v.parse().unwrap_or(0),
            "obl" => row.obl = v.parse().unwrap_or(0),
            "oll" => row.oll = v.parse().unwrap_or(0),
            "multi" => row.multi = v.parse().unwrap_or(-1),
            "resp" => row.resp = v.parse().ok(),
            _ => {
                if row.other.len() < MAX_OTHER {
                    row.other.push((shown(key), shown(v)));
                }
            }
        }
    }
    has_id.then_some(row)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{prefixes, Rng};
    use super::*;

    const CLIENT_LIST: &str = include_str!("../../../../tests/fixtures/redis-samples/client_list_final.txt");

    fn row<'a>(rows: &'a [ClientRow], name: &str) -> &'a ClientRow {
        rows.iter().find(|r| r.name == name).expect("row by name")
    }

    #[test]
    fn real_7_0_list() {
        let (rows, stats) = parse_client_list_with_stats(CLIENT_LIST);
        assert_eq!(stats, ParseStats::default());
        assert_eq!(rows.len(), 10);
        let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, [92, 93, 94, 95, 87, 88, 89, 90, 91, 117]);

        let mon = row(&rows, "stalled-monitor");
        assert_eq!(mon.addr, "127.0.0.1:42340");
        assert_eq!(mon.laddr.as_deref(), Some("127.0.0.1:7777"));
        assert_eq!((mon.flags.as_str(), mon.cmd.as_str()), ("O", "monitor"));
        assert_eq!((mon.omem, mon.oll, mon.tot_mem, mon.idle), (10_375_024, 506, 10_398_320, 1));
        assert_eq!(mon.lib_name, None);
        assert_eq!(mon.resp, Some(2));
        assert_eq!(mon.multi, -1);
        assert_eq!(mon.other_field("fd"), Some("9"));
        assert_eq!(mon.other_field("user"), Some("default"));
        assert_eq!(mon.other_field("rbs"), Some("2048"));
        // 7.0.15 has 11 untyped fields: fd sub psub ssub argv-mem multi-mem rbs rbp events user redir.
        assert_eq!(mon.other.len(), 11);

        let slow = row(&rows, "slow-reader");
        assert_eq!((slow.omem, slow.oll, slow.cmd.as_str()), (27_233_472, 136, "get"));

        let half = row(&rows, "half-sent");
        assert_eq!((half.qbuf, half.qbuf_free, half.cmd.as_str()), (50_000, 50_000, "client|setname"));

        assert_eq!(row(&rows, "v6client").addr, "[::1]:46478");
        assert_eq!(row(&rows, "unixclient").addr, "/tmp/redis.sock:0");
        assert_eq!(row(&rows, "unixclient").flags, "U");
        assert_eq!(row(&rows, "resp3-tracking").resp, Some(3));
        assert_eq!(row(&rows, "resp3-tracking").other_field("redir"), Some("0"));
        assert_eq!(row(&rows, "in-multi").multi, 3);
        assert_eq!(row(&rows, "subscriber").other_field("psub"), Some("1"));

        let me = rows.iter().find(|r| r.id == 117).expect("id 117");
        assert_eq!((me.name.as_str(), me.cmd.as_str(), me.qbuf), ("", "client|list", 26));
    }

    #[test]
    fn newer_fields_missing_fields_and_odd_values() {
        let text = "txt:id=7 addr=10.0.0.1:5 name=n lib-name=redis-py lib-ver=5.0 io-thread=1 watch=0 \
                    cmd=set weird=a=b\r\nid=8\nnot a client line\nid=x addr=y\n\n";
        let (rows, stats) = parse_client_list_with_stats(text);
        assert_eq!(stats.skipped, 2);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].lib_name.as_deref(), Some("redis-py"));
        assert_eq!(rows[0].lib_ver.as_deref(), Some("5.0"));
        assert_eq!(rows[0].other_field("io-thread"), Some("1"));
        assert_eq!(rows[0].other_field("weird"), Some("a=b"));
        assert_eq!(rows[0].laddr, None);
        assert_eq!(rows[1], ClientRow { id: 8, ..ClientRow::default() });
        // A value with a space stays whole.
        let spaced = parse_client_list("id=1 name=two words flags=N");
        assert_eq!((spaced[0].name.as_str(), spaced[0].flags.as_str()), ("two words", "N"));
    }

    #[test]
    fn every_string_comes_escaped() {
        let rows = parse_client_list(
            "id=1 addr=1.2.3.4:5 name=a\u{202e}b lib-name=x\u{200b}y lib-ver=\x1b[2J cmd=g\u{2066}et \
             flags=N\u{feff} odd\u{2069}=v\u{2028}",
        );
        let r = &rows[0];
        assert_eq!(r.name, r"a\xe2\x80\xaeb");
        assert_eq!(r.lib_name.as_deref(), Some(r"x\xe2\x80\x8by"));
        assert_eq!(r.lib_ver.as_deref(), Some(r"\x1b[2J"));
        assert_eq!(r.cmd, r"g\xe2\x81\xa6et");
        assert_eq!(r.flags, r"N\xef\xbb\xbf");
        assert_eq!(r.other_field(r"odd\xe2\x81\xa9"), Some(r"v\xe2\x80\xa8"));
        assert_eq!(r.addr, "1.2.3.4:5");
    }

    #[test]
    fn caps_rows_fields_and_strings() {
        let text = "id=1 a=b\n".repeat(MAX_ROWS + 3);
        let (rows, stats) = parse_client_list_with_stats(&text);
        assert_eq!((rows.len(), stats.dropped), (MAX_ROWS, 3));

        let many: String = (0..200).map(|i| format!(" f{i}=v")).collect();
        let rows = parse_client_list(&format!("id=1{many} name={}", "n".repeat(50_000)));
        assert_eq!(rows[0].other.len(), MAX_OTHER);
        assert_eq!(rows[0].name.len(), super::super::MAX_STR);
    }

    #[test]
    fn garbage_never_panics() {
        for p in prefixes(CLIENT_LIST, 3) {
            let _ = parse_client_list(p);
        }
        let mut rng = Rng(0xc11e);
        for _ in 0..2000 {
            let len = rng.below(300) as usize;
            let mut text = rng.text(len);
            if rng.below(2) == 0 {
                text.insert_str(0, "id=1 ");
            }
            let _ = parse_client_list(&text);
        }
    }
}
