//! The console as an operator uses it, against a real redis-server on a free loopback port:
//! the real binary in tmux, keys sent with `send-keys`, the screen read with `capture-pane`.
//! What is checked: secrets never shown (history, CONFIG GET replies, a password on the
//! command line warned about), bidirectional and invisible characters shown escaped, and
//! arguments quoted exactly as redis-cli quotes them.
//!
//! Needs tmux, redis-server and redis-cli; a missing one fails the test (no capture rights
//! needed: the console runs with `--no-capture`).

mod common;

use std::process::Command;

use common::tmux::Tmux;

fn require() {
    common::require("console hardening tests", &["tmux", "redis-server", "redis-cli"]);
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_respscope")
}

/// `redis-cli -p PORT ARGS…` (arguments passed as bytes, never unescaped by redis-cli).
fn redis_cli(port: u16, args: &[&[u8]]) -> String {
    use std::os::unix::ffi::OsStrExt;
    let o = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args.iter().map(|a| std::ffi::OsStr::from_bytes(a)))
        .output()
        .expect("redis-cli");
    assert!(o.status.success(), "redis-cli: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The console on `port` without capture, its Console pane open; `env` goes before the
/// command, `extra` after it.
fn console(name: &str, port: u16, env: &str, extra: &str) -> Tmux {
    let t = Tmux::start(name, &format!("{env} {} -p {port} --no-capture {extra}", bin()), 140, 45);
    t.wait_for(&format!("server 127.0.0.1:{port} redis"), 10);
    t.keys("5");
    t.wait_for("enter sends", 5);
    t
}

/// The console pane's input line (the last line that starts with the prompt).
fn input_line(screen: &str, port: u16) -> String {
    let prompt = format!("127.0.0.1:{port}> ");
    screen.lines().rfind(|l| l.starts_with(&prompt)).unwrap_or_default().trim_end().to_string()
}

#[test]
fn history_recalls_commands_with_their_secrets_redacted() {
    require();
    let port = common::free_port();
    let _r = common::redis(port, &[]);
    let t = console("rs-history", port, "", "");
    t.line("HELLO 3 AUTH default s3cret-hello");
    t.wait_for("HELLO 3 AUTH *** ***", 5);
    t.line("ACL DRYRUN default AUTH s3cret-dryrun");
    t.line("CONFIG SET tls-key-file-pass s3cret-tls");
    t.line("GET \"plain key\"");
    t.wait_for("(nil)", 5);
    let prompt = format!("127.0.0.1:{port}> ");
    // Up walks back through the history, newest first.
    for want in [
        "GET \"plain key\"",
        "CONFIG SET tls-key-file-pass ***",
        "ACL DRYRUN default AUTH ***",
        "HELLO 3 AUTH *** ***",
    ] {
        t.keys("Up");
        let s = t.wait_until(want, 5, |s| input_line(s, port) == format!("{prompt}{want}"));
        assert!(!s.contains("s3cret"), "a secret on screen:\n{s}");
    }
}

#[test]
fn arguments_are_split_and_unescaped_as_redis_cli_does() {
    require();
    let port = common::free_port();
    let _r = common::redis(port, &[]);
    let t = console("rs-split", port, "", "");
    t.line(r#"SET "a\x1bb" "x y""#);
    t.line(r#"SET 'it\'s' "\xff\"\\\n""#);
    t.line(r#"SET "tab\there" 'no\nescape'"#);
    t.line(r#"GET "a"b"#);
    t.wait_for("(error) Invalid argument(s)", 5);
    t.line("GET \"unclosed");
    t.wait_until("two invalid lines", 5, |s| s.matches("Invalid argument(s)").count() == 2);
    assert_eq!(redis_cli(port, &[b"--no-raw", b"GET", b"a\x1bb"]).trim(), "\"x y\"");
    assert_eq!(redis_cli(port, &[b"--no-raw", b"GET", b"it's"]).trim(), r#""\xff\"\\\n""#);
    assert_eq!(redis_cli(port, &[b"--no-raw", b"GET", b"tab\there"]).trim(), r#""no\\nescape""#);
    assert_eq!(redis_cli(port, &[b"DBSIZE"]).trim(), "3");
}

/// The line after the last one naming `name` in a redis-cli style reply: its value.
fn value_of<'a>(screen: &'a str, name: &str) -> &'a str {
    let quoted = format!(") \"{name}\"");
    let lines: Vec<&str> = screen.lines().map(str::trim).collect();
    let at = lines.iter().rposition(|l| l.ends_with(&quoted)).unwrap_or(usize::MAX);
    lines.get(at.wrapping_add(1)).copied().unwrap_or_default()
}

#[test]
fn config_get_replies_hide_secret_values() {
    require();
    let port = common::free_port();
    let _r = common::redis(port, &["--masterauth", "s3cret-master"]);
    redis_cli(port, &[b"CONFIG", b"SET", b"tls-key-file-pass", b"s3cret-tls"]);
    redis_cli(port, &[b"CONFIG", b"SET", b"requirepass", b"s3cret-required"]);
    // REDISCLI_AUTH is the safe way to give the password: no warning.
    let t = console("rs-config-get", port, "REDISCLI_AUTH=s3cret-required", "");
    t.line("CONFIG GET requirepass");
    let s = t.wait_for("2) ***", 5);
    assert!(s.contains("1) \"requirepass\""), "{s}");
    t.line("CONFIG GET *pass*");
    let s = t.wait_for("6) ", 5);
    for secret in ["requirepass", "tls-key-file-pass"] {
        assert!(value_of(&s, secret).ends_with(") ***"), "{secret}:\n{s}");
    }
    // No secret set is no secret: an empty value is shown as it is.
    assert!(value_of(&s, "tls-client-key-file-pass").ends_with(") \"\""), "{s}");
    t.line("MULTI");
    t.line("CONFIG GET masterauth");
    t.line("EXEC");
    let s = t.wait_for("1) 1) \"masterauth\"", 5);
    assert_eq!(value_of(&s, "masterauth"), "2) ***", "{s}");
    // RESP3: the reply is a map.
    t.line("HELLO 3");
    t.wait_for("\"proto\"", 5);
    t.line("CONFIG GET masterauth");
    let s = t.wait_until("the map reply", 5, |s| s.rfind("\"masterauth\"") > s.rfind("\"proto\""));
    assert_eq!(value_of(&s, "masterauth"), "2) ***", "{s}");
    assert!(!s.contains("s3cret"), "a secret on screen:\n{s}");
    assert!(!s.contains("Warning: Using a password"), "REDISCLI_AUTH must not warn:\n{s}");
}

#[test]
fn a_password_on_the_command_line_is_warned_about_before_and_inside_the_console() {
    require();
    let port = common::free_port();
    let _r = common::redis(port, &["--requirepass", "s3cret-pw"]);
    let dir = std::env::temp_dir();
    for (i, how) in ["-a s3cret-pw".to_string(), format!("-u redis://default:s3cret-pw@127.0.0.1:{port}")]
        .iter()
        .enumerate()
    {
        let err = dir.join(format!("respscope-warn-{}-{i}.txt", std::process::id()));
        let cmd = format!("{} -p {port} --no-capture {how} 2>{}", bin(), err.display());
        let t = Tmux::start("rs-warn", &cmd, 140, 40);
        t.wait_for(&format!("server 127.0.0.1:{port} redis"), 10);
        t.wait_for("Warning: Using a password", 5);
        t.keys("q");
        drop(t);
        let said = std::fs::read_to_string(&err).unwrap_or_default();
        let _ = std::fs::remove_file(&err);
        assert!(
            said.contains(
                "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."
            ),
            "{how}: stderr said {said:?}"
        );
    }
}

#[test]
fn bidi_and_invisible_characters_are_shown_escaped_in_every_pane() {
    require();
    let port = common::free_port();
    let _r = common::redis(port, &[]);
    let rlo = "inv\u{202e}oice.txt".as_bytes();
    // Only this SET in the SLOWLOG (and the CONFIG SETs around it), not the console's polls.
    redis_cli(port, &[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0"]);
    redis_cli(port, &[b"SET", rlo, "\u{2066}v\u{200b}al\u{2069}".as_bytes()]);
    redis_cli(port, &[b"CONFIG", b"SET", b"slowlog-log-slower-than", b"10000"]);
    let t = console("rs-bidi", port, "", "");
    t.line("KEYS *");
    t.wait_for(r#"1) "inv\xe2\x80\xaeoice.txt""#, 5);
    t.line(r#"GET "inv\xe2\x80\xaeoice.txt""#);
    t.wait_for(r#""\xe2\x81\xa6v\xe2\x80\x8bal\xe2\x81\xa9""#, 5);
    // An error reply echoes what was sent: escaped as well.
    t.line(r#""X\xe2\x80\xaeCMD""#);
    t.wait_for(r#"(error) ERR unknown command 'X\xe2\x80\xaeCMD'"#, 5);
    // SLOWLOG arguments.
    t.keys("Escape");
    t.keys("3");
    t.wait_for(r#"SET inv\xe2\x80\xaeoice.txt \xe2\x81\xa6v\xe2\x80\x8bal\xe2\x81\xa9"#, 5);
    // MONITOR lines.
    t.keys("6");
    t.keys("m");
    t.wait_for("MONITOR ON", 5);
    std::thread::sleep(std::time::Duration::from_millis(300));
    redis_cli(port, &[b"GET", "zw\u{200b}\u{feff}key".as_bytes()]);
    let s = t.wait_for(r#"GET zw\xe2\x80\x8b\xef\xbb\xbfkey"#, 5);
    assert!(!s.contains('\u{202e}') && !s.contains('\u{200b}'), "{s}");
}
