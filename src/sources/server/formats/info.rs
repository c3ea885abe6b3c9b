//! `INFO`: `# Section` headers and `key:value` lines, plus the structured lines inside some
//! values (`cmdstat_…`, `latency_percentiles_usec_…`, `errorstat_…`, `dbN`).
//!
//! Redis writes CRLF line ends; files and some proxies give LF, so both are accepted. A value
//! may itself hold `:` (IPv6 replica addresses, `executable` paths on Windows), so a line is
//! split on its *first* colon only. Fields come and go across versions
//! (`client_biggest_input_buf` became `client_recent_max_input_buffer`, 7.4 adds
//! `subexpiry=`): nothing here requires a field to exist. Names and values are kept escaped
//! for display ([`shown`]): an `errorstat_*` name is whatever prefix a script's error had.

use super::{shown, strip_verbatim, ParseStats};

/// Most `key:value` fields kept over all sections. 7.0's `INFO everything` has about 250
/// plus three per command used; 4,096 leaves room for every command and module.
pub const MAX_FIELDS: usize = 4096;
/// Most sections kept.
pub const MAX_SECTIONS: usize = 64;

/// A parsed INFO reply: sections in server order, each with its fields in server order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Info {
    /// `(section name, fields)`. Fields that precede any header go into a section named `""`.
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

/// Parses an INFO reply. Lines that are neither a header, a field nor blank are skipped.
pub fn parse_info(text: &str) -> Info {
    parse_info_with_stats(text).0
}

/// [`parse_info`], also saying what was skipped or dropped over the caps.
pub fn parse_info_with_stats(text: &str) -> (Info, ParseStats) {
    let mut info = Info::default();
    let mut stats = ParseStats::default();
    let mut fields = 0usize;
    for line in strip_verbatim(text).lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('#') {
            if info.sections.len() >= MAX_SECTIONS {
                stats.dropped += 1;
                continue;
            }
            info.sections.push((shown(name.trim()), Vec::new()));
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            stats.skipped += 1;
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            stats.skipped += 1;
            continue;
        }
        if fields >= MAX_FIELDS {
            stats.dropped += 1;
            continue;
        }
        if info.sections.is_empty() {
            info.sections.push((String::new(), Vec::new()));
        }
        if let Some((_, list)) = info.sections.last_mut() {
            list.push((shown(key), shown(value)));
            fields += 1;
        }
    }
    (info, stats)
}

impl Info {
    /// The value of `key`, searching every section in order (first match wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// `key` as an unsigned integer.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.trim().parse().ok()
    }

    /// `key` as a finite float. A trailing `%` is accepted (`used_memory_peak_perc:99.14%`)
    /// because percentages are the common reason to ask for a float.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        let v = self.get(key)?.trim();
        let v = v.strip_suffix('%').unwrap_or(v);
        v.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    /// The fields of a section, by case-insensitive name (`"memory"` finds `# Memory`).
    pub fn section(&self, name: &str) -> Option<&[(String, String)]> {
        self.sections.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, f)| f.as_slice())
    }

    /// Every field of every section, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sections.iter().flat_map(|(_, f)| f.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Fields whose key starts with `prefix`, with the prefix removed.
    fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.fields().filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v)))
    }
}

/// Splits `a=1,b=2` into pairs, each on its first `=`; pieces without `=` are ignored.
fn pairs(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(',').filter_map(|p| {
        let (k, v) = p.split_once('=')?;
        Some((k.trim(), v.trim()))
    })
}

/// One `cmdstat_<name>` line (INFO commandstats).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CommandStat {
    /// Command name as the server writes it; subcommands are `parent|sub` (`client|list`).
    pub name: String,
    /// Times the command ran.
    pub calls: u64,
    /// Total execution time, µs.
    pub usec: u64,
    /// Mean execution time, µs (the server's own rounding to 2 decimals).
    pub usec_per_call: f64,
    /// Refused before running (arity, ACL, OOM…), 6.2+.
    pub rejected_calls: u64,
    /// Ran and returned an error, 6.2+.
    pub failed_calls: u64,
}

/// Per-command counters from `cmdstat_*` fields. Missing numbers are 0 (older servers have no
/// `rejected_calls`/`failed_calls`); a line with no `k=v` pair at all is not a stat.
pub fn command_stats(info: &Info) -> Vec<CommandStat> {
    info.with_prefix("cmdstat_")
        .filter(|(name, v)| !name.is_empty() && pairs(v).next().is_some())
        .map(|(name, v)| {
            let mut s = CommandStat {
                name: name.to_string(),
                calls: 0,
                usec: 0,
                usec_per_call: 0.0,
                rejected_calls: 0,
                failed_calls: 0,
            };
            for (k, val) in pairs(v) {
                match k {
                    "calls" => s.calls = val.parse().unwrap_or(0),
                    "usec" => s.usec = val.parse().unwrap_or(0),
                    "usec_per_call" => s.usec_per_call = finite(val),
                    "rejected_calls" => s.rejected_calls = val.parse().unwrap_or(0),
                    "failed_calls" => s.failed_calls = val.parse().unwrap_or(0),
                    _ => {}
                }
            }
            s
        })
        .collect()
}

/// A float that is finite, or 0.
fn finite(v: &str) -> f64 {
    v.parse::<f64>().ok().filter(|f| f.is_finite()).unwrap_or(0.0)
}

/// One `latency_percentiles_usec_<cmd>` line (INFO latencystats, 7.0+).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatencyStat {
    /// Command name, `parent|sub` for subcommands.
    pub name: String,
    /// Median, µs. Values are HDR bucket representatives: `0.001` means "under 1 µs".
    pub p50: f64,
    /// 99th percentile, µs.
    pub p99: f64,
    /// 99.9th percentile, µs.
    pub p999: f64,
}

/// Per-command latency percentiles. The percentiles reported depend on the server's
/// `latency-tracking-info-percentiles`; one not reported is 0.
pub fn latency_stats(info: &Info) -> Vec<LatencyStat> {
    info.with_prefix("latency_percentiles_usec_")
        .filter(|(name, v)| !name.is_empty() && pairs(v).next().is_some())
        .map(|(name, v)| {
            let mut s = LatencyStat { name: name.to_string(), p50: 0.0, p99: 0.0, p999: 0.0 };
            for (k, val) in pairs(v) {
                match k {
                    "p50" => s.p50 = finite(val),
                    "p99" => s.p99 = finite(val),
                    "p99.9" => s.p999 = finite(val),
                    _ => {}
                }
            }
            s
        })
        .collect()
}

/// One `errorstat_<PREFIX>:count=N` line (INFO errorstats, 6.2+).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorStat {
    /// Error prefix: `ERR`, `WRONGTYPE`, `WRONGPASS`, …
    pub name: String,
    /// Replies with that prefix since start or `CONFIG RESETSTAT`.
    pub count: u64,
}

/// Error reply counts by prefix. A line without a `count` is skipped.
pub fn error_stats(info: &Info) -> Vec<ErrorStat> {
    info.with_prefix("errorstat_")
        .filter(|(name, _)| !name.is_empty())
        .filter_map(|(name, v)| {
            let count = pairs(v).find(|(k, _)| *k == "count")?.1.parse().ok()?;
            Some(ErrorStat { name: name.to_string(), count })
        })
        .collect()
}

/// One `dbN:keys=…,expires=…,avg_ttl=…` line (INFO keyspace).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Keyspace {
    /// Database index.
    pub db: u32,
    /// Keys in the database.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Average TTL of keys with one, ms (an estimate from sampling).
    pub avg_ttl: u64,
}

/// Per-database key counts. Only keys of the exact form `db<digits>` whose value has a
/// `keys=` pair count; later additions (`subexpiry=`, 7.4) are ignored.
pub fn keyspace(info: &Info) -> Vec<Keyspace> {
    info.with_prefix("db")
        .filter_map(|(n, v)| {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let db = n.parse().ok()?;
            let mut ks = Keyspace { db, keys: 0, expires: 0, avg_ttl: 0 };
            let mut has_keys = false;
            for (k, val) in pairs(v) {
                match k {
                    "keys" => {
                        ks.keys = val.parse().unwrap_or(0);
                        has_keys = true;
                    }
                    "expires" => ks.expires = val.parse().unwrap_or(0),
                    "avg_ttl" => ks.avg_ttl = val.parse().unwrap_or(0),
                    _ => {}
                }
            }
            has_keys.then_some(ks)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{prefixes, Rng};
    use super::*;

    const INFO_FINAL: &str = include_str!("../../../../tests/fixtures/redis-samples/info_final.txt");
    const INFO_MEMORY: &str = include_str!("../../../../tests/fixtures/redis-samples/info_memory_final.txt");
    const INFO_MEMORY_LOADED: &str =
        include_str!("../../../../tests/fixtures/redis-samples/info_memory_loaded.txt");
    const INFO_CLIENTS: &str =
        include_str!("../../../../tests/fixtures/redis-samples/info_clients_final.txt");

    #[test]
    fn names_and_values_come_escaped() {
        // A script's error prefix becomes an errorstat name; any value may hold what a client wrote.
        let info = parse_info("# Errorstats\r\nerrorstat_E\u{202e}RR:count=2\r\nx:a\x1b]0;t\x07b\r\n");
        assert_eq!(info.get(r"errorstat_E\xe2\x80\xaeRR"), Some("count=2"));
        assert_eq!(info.get("x"), Some(r"a\x1b]0;t\x07b"));
        assert_eq!(parse_info("# S\u{2066}\r\na:1\r\n").sections[0].0, r"S\xe2\x81\xa6");
    }

    #[test]
    fn memory_section_crlf() {
        let (info, stats) = parse_info_with_stats(INFO_MEMORY);
        assert_eq!(stats, ParseStats::default());
        assert_eq!(info.sections.len(), 1);
        assert_eq!(info.sections[0].0, "Memory");
        assert_eq!(info.get_u64("used_memory"), Some(57_467_712));
        assert_eq!(info.get("used_memory_human"), Some("54.81M"));
        assert_eq!(info.get_u64("mem_clients_normal"), Some(37_904_567));
        assert_eq!(info.get("mem_allocator"), Some("jemalloc-5.3.0"));
        assert_eq!(info.get("maxmemory_policy"), Some("noeviction"));
        assert_eq!(info.get_f64("mem_fragmentation_ratio"), Some(1.17));
        assert_eq!(info.get_f64("used_memory_peak_perc"), Some(99.14));
        // No value keeps its CR.
        assert!(info.fields().all(|(k, v)| !k.contains('\r') && !v.contains('\r')));

        let loaded = parse_info(INFO_MEMORY_LOADED);
        assert_eq!(loaded.get_u64("used_memory"), Some(47_893_952));
        assert_eq!(loaded.get_u64("mem_clients_normal"), Some(37_494_719));
    }

    #[test]
    fn clients_section() {
        let info = parse_info(INFO_CLIENTS);
        assert_eq!(info.get_u64("connected_clients"), Some(10));
        assert_eq!(info.get_u64("client_recent_max_output_buffer"), Some(27_430_104));
        assert_eq!(info.get_u64("blocked_clients"), Some(1));
        assert_eq!(info.get_u64("no_such_field"), None);
    }

    #[test]
    fn everything_lf() {
        let (info, stats) = parse_info_with_stats(INFO_FINAL);
        assert_eq!(stats, ParseStats::default());
        let names: Vec<&str> = info.sections.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Server",
                "Clients",
                "Memory",
                "Persistence",
                "Stats",
                "Replication",
                "CPU",
                "Modules",
                "Commandstats",
                "Errorstats",
                "Latencystats",
                "Cluster",
                "Keyspace"
            ]
        );
        assert_eq!(info.get("redis_version"), Some("7.0.15"));
        assert_eq!(info.get("config_file"), Some(""));
        assert_eq!(info.get("os"), Some("Linux 6.18.44-fc-v669 x86_64"));
        assert_eq!(info.get_u64("tcp_port"), Some(7777));
        assert_eq!(info.section("modules").map(<[_]>::len), Some(0));
        assert_eq!(info.section("keyspace").map(<[_]>::len), Some(2));
        // Values with ':' keep everything after the first one.
        let odd = parse_info("# Replication\r\nslave0:ip=::1,port=6380,state=online\r\n");
        assert_eq!(odd.get("slave0"), Some("ip=::1,port=6380,state=online"));
    }

    #[test]
    fn derived_stats_from_everything() {
        let info = parse_info(INFO_FINAL);

        let cmds = command_stats(&info);
        assert_eq!(cmds.len(), 25);
        let list = cmds.iter().find(|c| c.name == "client|list").expect("client|list");
        assert_eq!((list.calls, list.usec, list.usec_per_call), (1, 20, 20.0));
        let get = cmds.iter().find(|c| c.name == "get").expect("get");
        assert_eq!(
            *get,
            CommandStat {
                name: "get".into(),
                calls: 200_003,
                usec: 93_481,
                usec_per_call: 0.47,
                rejected_calls: 1,
                failed_calls: 0
            }
        );
        let auth = cmds.iter().find(|c| c.name == "auth").expect("auth");
        assert_eq!(auth.failed_calls, 1);

        let lat = latency_stats(&info);
        assert_eq!(lat.len(), 24);
        let debug = lat.iter().find(|l| l.name == "debug").expect("debug");
        assert_eq!((debug.p50, debug.p99, debug.p999), (10420.223, 50331.647, 50331.647));
        let hset = lat.iter().find(|l| l.name == "hset").expect("hset");
        assert_eq!((hset.p50, hset.p99, hset.p999), (0.001, 1.003, 3.007));

        assert_eq!(
            error_stats(&info),
            [ErrorStat { name: "ERR".into(), count: 4 }, ErrorStat { name: "WRONGPASS".into(), count: 1 }]
        );

        assert_eq!(
            keyspace(&info),
            [
                Keyspace { db: 0, keys: 40_025, expires: 0, avg_ttl: 0 },
                Keyspace { db: 3, keys: 1, expires: 0, avg_ttl: 0 }
            ]
        );
    }

    #[test]
    fn missing_fields_default_and_odd_lines_are_counted() {
        let text = "txt:# Commandstats\ncmdstat_get:calls=5,usec=10\ncmdstat_x:nonsense\n\
                    latency_percentiles_usec_get:p50=1.5\nerrorstat_ERR:cnt=1\n\
                    db12:keys=3,expires=1,avg_ttl=9,subexpiry=0\ndbx:keys=1\nno colon here\n:empty key\n";
        let (info, stats) = parse_info_with_stats(text);
        assert_eq!(stats.skipped, 2);
        let cmds = command_stats(&info);
        assert_eq!(cmds.len(), 1);
        assert_eq!((cmds[0].calls, cmds[0].usec, cmds[0].failed_calls), (5, 10, 0));
        let lat = latency_stats(&info);
        assert_eq!((lat[0].p50, lat[0].p99), (1.5, 0.0));
        assert!(error_stats(&info).is_empty());
        assert_eq!(keyspace(&info), [Keyspace { db: 12, keys: 3, expires: 1, avg_ttl: 9 }]);
    }

    #[test]
    fn caps_fields_and_strings() {
        let mut text = String::from("# Big\r\n");
        for i in 0..MAX_FIELDS + 5 {
            text.push_str(&format!("k{i}:v\r\n"));
        }
        text.push_str(&format!("long:{}\r\n", "x".repeat(100_000)));
        let (info, stats) = parse_info_with_stats(&text);
        assert_eq!(info.fields().count(), MAX_FIELDS);
        assert_eq!(stats.dropped, 6);
        let one = parse_info(&format!("long:{}", "x".repeat(100_000)));
        assert_eq!(one.get("long").map(str::len), Some(crate::sources::server::formats::MAX_STR));
    }

    #[test]
    fn garbage_never_panics() {
        for p in prefixes(INFO_FINAL, 7) {
            let info = parse_info(p);
            let _ = (command_stats(&info), latency_stats(&info), error_stats(&info), keyspace(&info));
        }
        let mut rng = Rng(0x1f0);
        for _ in 0..2000 {
            let len = rng.below(300) as usize;
            let info = parse_info(&rng.text(len));
            let _ = (command_stats(&info), latency_stats(&info), error_stats(&info), keyspace(&info));
            let _ = (info.get_u64("a"), info.get_f64("b"));
        }
    }
}
