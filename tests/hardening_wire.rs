//! Secrets and untrusted text on the way out of `analyze` and `watch`: captures recorded from
//! a real redis-server (`secrets.pcap`, `bidi.pcap`, see `tests/fixtures/README.md`) and a
//! real redis-server on a free port for `watch`.

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use common::pcap::{Pcap, ACK, PSH};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).display().to_string()
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_respscope")).args(args).output().expect("run respscope");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every output `analyze` has for a capture, with its arguments.
fn every_output(file: &str) -> Vec<(Vec<&str>, String, String)> {
    [
        vec!["analyze", file],
        vec!["analyze", file, "--format", "json"],
        vec!["analyze", file, "--format", "markdown"],
        vec!["analyze", file, "--segments"],
        vec!["analyze", file, "--segments", "--format", "json"],
        vec!["analyze", file, "--segments", "--format", "markdown"],
    ]
    .into_iter()
    .map(|args| {
        let (code, out, err) = cli(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        (args, out, err)
    })
    .collect()
}

#[test]
fn secrets_in_config_replies_and_nested_commands_never_reach_analyze_output() {
    let f = fixture("secrets.pcap");
    for (args, out, err) in every_output(&f) {
        assert!(!out.contains("s3cret") && !err.contains("s3cret"), "{args:?} leaked a secret:\n{out}");
    }
    let (_, out, _) = cli(&["analyze", &f, "--segments"]);
    for shown in [
        "CONFIG SET tls-key-file-pass ***",
        "CONFIG SET tls-client-key-file-pass *** masterauth ***",
        "ACL DRYRUN default AUTH ***",
        "ACL DRYRUN default HELLO 3 AUTH *** ***",
        "ACL DRYRUN default CONFIG SET requirepass ***",
        "ACL DRYRUN default ACL DRYRUN default AUTH ***",
        "1 command: CONFIG ***",
    ] {
        assert!(out.contains(shown), "{shown:?} not in:\n{out}");
    }
    // The CONFIG GET replies hold the secrets in their elements: a preview shows the
    // aggregate's header only (RESP2 array, RESP3 map).
    assert!(out.contains("*2") && out.contains("%1"), "{out}");
}

/// Runs `redis-cli -p PORT ARGS…` and fails the test if it does not exit 0.
fn redis_cli(port: u16, args: &[&str]) -> String {
    let o = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().expect("redis-cli");
    assert!(o.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `respscope watch` for about a second and a half without capture: its JSON lines.
fn watch(port: u16, extra: &[&str]) -> (String, String) {
    let p = port.to_string();
    let mut args = vec!["watch", "-p", &p, "--no-capture", "--duration", "1.5", "--interval", "0.5"];
    args.extend_from_slice(extra);
    let (code, out, err) = cli(&args);
    assert_eq!(code, 0, "{err}");
    (out, err)
}

#[test]
fn watch_hides_secrets_of_nested_and_tls_commands_in_new_slowlog_entries() {
    common::require("watch secrets test", &["redis-server", "redis-cli"]);
    let port = common::free_port();
    let _r = common::redis(port, &["--slowlog-log-slower-than", "0"]);
    redis_cli(port, &["ACL", "DRYRUN", "default", "AUTH", "s3cret-dryrun"]);
    redis_cli(port, &["ACL", "DRYRUN", "default", "HELLO", "3", "AUTH", "default", "s3cret-hello"]);
    redis_cli(port, &["CONFIG", "SET", "tls-key-file-pass", "s3cret-tls"]);
    // Redis 7.0 logs all three in clear in its SLOWLOG: the redaction is respscope's.
    assert!(redis_cli(port, &["SLOWLOG", "GET"]).contains("s3cret-dryrun"));
    let (out, _) = watch(port, &[]);
    assert!(!out.contains("s3cret"), "watch leaked a secret:\n{out}");
    for shown in [
        r#"["ACL","DRYRUN","default","AUTH","***"]"#,
        r#"["ACL","DRYRUN","default","HELLO","3","AUTH","***","***"]"#,
        r#"["CONFIG","SET","tls-key-file-pass","***"]"#,
    ] {
        assert!(out.contains(shown), "{shown} not in:\n{out}");
    }
}

const PASSWORD_WARNING: &str =
    "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.";

#[test]
fn watch_warns_about_a_password_on_the_command_line_but_not_in_rediscli_auth() {
    common::require("watch password warning test", &["redis-server"]);
    let port = common::free_port();
    let _r = common::redis(port, &["--requirepass", "s3cret-pw"]);
    let uri = format!("redis://default:s3cret-pw@127.0.0.1:{port}");
    for extra in [&["-a", "s3cret-pw"][..], &["--pass", "s3cret-pw"], &["-u", &uri]] {
        let (out, err) = watch(port, extra);
        assert!(err.contains(PASSWORD_WARNING), "{extra:?}: stderr {err:?}");
        assert!(out.contains("\"up\":true"), "{extra:?} did not log in:\n{out}");
    }
    let p = port.to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["watch", "-p", &p, "--no-capture", "--duration", "1", "--interval", "0.5"])
        .env("REDISCLI_AUTH", "s3cret-pw")
        .output()
        .expect("run respscope");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("\"up\":true"), "REDISCLI_AUTH did not log in:\n{out}");
    assert!(!err.contains("Warning"), "REDISCLI_AUTH is the safe way: {err:?}");
}

/// Bidirectional controls, zero-width and other invisible format characters that
/// `bidi.pcap` and the tests here put in keys, values, command names and errors.
const INVISIBLE: [char; 8] =
    ['\u{202e}', '\u{2066}', '\u{2069}', '\u{200f}', '\u{200b}', '\u{feff}', '\u{2060}', '\u{2028}'];

fn assert_no_invisible(what: &str, text: &str) {
    let found: Vec<String> =
        text.chars().filter(|c| INVISIBLE.contains(c)).map(|c| format!("U+{:04X}", u32::from(c))).collect();
    assert!(found.is_empty(), "{what} passes {found:?} raw:\n{text}");
}

#[test]
fn analyze_shows_bidi_and_invisible_characters_escaped_in_every_output() {
    let f = fixture("bidi.pcap");
    for (args, out, err) in every_output(&f) {
        assert_no_invisible(&format!("{args:?}"), &out);
        assert_no_invisible(&format!("{args:?} stderr"), &err);
    }
    let (_, seg, _) = cli(&["analyze", &f, "--segments"]);
    for shown in [
        r"1 command: SET inv\xe2\x80\xaeoice.txt v",
        r"1 command: GET a\xe2\x81\xa6b\xe2\x81\xa9c\xe2\x80\x8fd",
        r"1 reply: $14 \xe2\x80\xaevalue\xe2\x80\xa8end",
        r"1 reply: -ERR unknown command 'X\xe2\x80\xaeCMD'",
        r"split ends: #6 SET zw\xe2\x80\x8bsp\xef\xbb\xbfkey\xe2\x81\xa0 1",
    ] {
        assert!(seg.contains(shown), "{shown} not in:\n{seg}");
    }
    let (_, text, _) = cli(&["analyze", &f]);
    assert!(text.contains(r"X\xe2\x80\xaeCMD "), "commands by name:\n{text}");
    assert!(text.contains(r"SET zw\xe2\x80\x8bsp\xef\xbb\xbfkey\xe2\x81\xa0 1"), "split preview:\n{text}");
    let (_, md, _) = cli(&["analyze", &f, "--format", "markdown"]);
    assert!(md.contains(r"SET zw\xe2\x80\x8bsp\xef\xbb\xbfkey\xe2\x81\xa0 1"), "{md}");
    let (_, json, _) = cli(&["analyze", &f, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["commands_by_name"][r"X\xe2\x80\xaeCMD"], 1, "{json}");
    let lines: Vec<serde_json::Value> = cli(&["analyze", &f, "--segments", "--format", "json"])
        .1
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let previews: Vec<&str> = lines
        .iter()
        .flat_map(|l| l["messages"].as_array().into_iter().flatten())
        .filter_map(|m| m["preview"].as_str())
        .collect();
    assert!(previews.contains(&r"SET inv\xe2\x80\xaeoice.txt v"), "{previews:?}");
}

#[test]
fn watch_shows_bidi_characters_escaped_in_new_slowlog_entries() {
    common::require("watch escaping test", &["redis-server", "redis-cli"]);
    let port = common::free_port();
    let _r = common::redis(port, &["--slowlog-log-slower-than", "0"]);
    redis_cli(port, &["SET", "inv\u{202e}oice.txt", "\u{2066}v\u{2069}"]);
    let (out, _) = watch(port, &[]);
    assert_no_invisible("watch", &out);
    // JSON doubles the backslash of the escape.
    assert!(
        out.contains(r#"["SET","inv\\xe2\\x80\\xaeoice.txt","\\xe2\\x81\\xa6v\\xe2\\x81\\xa9"]"#),
        "{out}"
    );
}

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Commands that carry a secret, each sent in two segments cut inside the secret (the
/// password straddles the cut): the bytes shown at the cut hide it in every output, and the
/// commands around them are still shown.
#[test]
fn split_secrets_never_show_in_the_bytes_at_a_cut() {
    let secret = b"hunter2pass";
    let cmds: Vec<Vec<u8>> = vec![
        multibulk(&[b"AUTH", b"user", secret]),
        multibulk(&[b"AUTH", secret]),
        multibulk(&[b"HELLO", b"3", b"AUTH", b"user", secret]),
        multibulk(&[b"CONFIG", b"SET", b"requirepass", secret]),
        multibulk(&[b"ACL", b"SETUSER", b"bob", b"on", b">hunter2pass"]),
        b"AUTH user hunter2pass\r\n".to_vec(),
    ];
    let f = tempfile::Builder::new()
        .prefix("split_secrets")
        .suffix(".pcap")
        .tempfile()
        .expect("a temporary file");
    let (file, path) = f.into_parts();
    let mut p = Pcap::new(std::io::BufWriter::new(file));
    let c = (Ipv4Addr::new(10, 0, 0, 1), 40000);
    let s = (Ipv4Addr::new(10, 0, 0, 2), 6379);
    let (mut cs, mut ss) = p.handshake(c, s);
    for cmd in &cmds {
        // Cut after "hunter2" (or inside the ACL rule): 4 bytes of the secret follow.
        let at = cmd.len() - 2 - 4;
        for part in [&cmd[..at], &cmd[at..]] {
            p.tcp(c, s, cs, ss, ACK | PSH, part);
            cs += part.len() as u32;
            p.wait(100);
        }
        p.tcp(s, c, ss, cs, ACK | PSH, b"+OK\r\n");
        ss += 5;
        p.wait(100);
    }
    p.finish();
    let file = path.display().to_string();
    let (_, json, _) = cli(&["analyze", &file, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let splits = v["connections"][0]["splits"].as_array().cloned().unwrap_or_default();
    assert_eq!(splits.len(), cmds.len(), "{json}");
    for sp in &splits {
        let cut = &sp["cuts"][0];
        assert!(cut["before"].as_str().unwrap_or_default().contains("***"), "{sp}");
        assert!(cut["after"].as_str().unwrap_or_default().starts_with("***"), "{sp}");
    }
    assert_eq!(splits[0]["cuts"][0]["position"], "bulk_payload");
    assert_eq!((splits[0]["cuts"][0]["k"].as_u64(), splits[0]["cuts"][0]["n"].as_u64()), (Some(7), Some(11)));
    for (args, out, err) in every_output(&file) {
        for piece in ["hunter", "unter2", "ter2p", "2pass"] {
            assert!(!out.contains(piece) && !err.contains(piece), "{args:?} leaked {piece:?}:\n{out}");
        }
    }
    let (_, text, _) = cli(&["analyze", &file]);
    assert!(text.contains(r"#4 ┃ #5 inside a bulk payload, after 7 of 11 bytes (byte 36 of 42): …$4\r\nAUTH\r\n$***\r\n***\r\n$***\r\n*** ┃ ***\r\n"), "{text}");
}
