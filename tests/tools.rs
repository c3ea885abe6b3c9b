//! The tools around the binary: `analyze -` reading a capture piped on stdin, the shell
//! completion scripts loaded in real shells, and the committed man page matching the one the
//! binary prints.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_respscope")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// Runs respscope with `input` written to its stdin through a pipe, in pieces of `piece`
/// bytes (so records arrive cut at every kind of place), from another thread while the
/// output is read.
fn piped(args: &[&str], input: Vec<u8>, piece: usize) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run respscope");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        for part in input.chunks(piece.max(1)) {
            // respscope may stop reading early (it declines what is not a capture).
            if stdin.write_all(part).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("respscope output");
    writer.join().expect("writer thread");
    out
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).stdin(Stdio::null()).output().expect("run respscope")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_capture_on_stdin_reports_as_the_same_file_in_every_format() {
    // A pcapng file; Ethernet pcap with commands split across segments, cut mid-record at the
    // end (a warning); Linux cooked v2; several clients at once (shared among the parallel
    // analyzers).
    let fixtures =
        ["lettuce_16.pcapng", "jedis_8192_truncated.pcap", "lettuce_16_sll2.pcap", "multi_client.pcap"];
    let formats: [&[&str]; 5] = [
        &["--format", "text"],
        &["--format", "json"],
        &["--format", "markdown"],
        &["--segments"],
        &["--segments", "--format", "json"],
    ];
    for name in fixtures {
        let path = fixture(name);
        let p = path.to_str().expect("utf-8 path");
        let bytes = std::fs::read(&path).expect("fixture");
        for format in formats {
            let from_file = run(&[&["analyze", p][..], format].concat());
            assert_eq!(from_file.status.code(), Some(0), "{name} {format:?}: {}", text(&from_file.stderr));
            // Pieces of a prime size: records and read buffers meet at every offset.
            for piece in [1021, 65_521] {
                let from_stdin = piped(&[&["analyze", "-"][..], format].concat(), bytes.clone(), piece);
                // The one difference is the name of the source: the text report's first line
                // is the command as typed (`respscope analyze -`), and a title or a warning
                // names stdin.
                let expect = |out: &[u8]| {
                    text(out)
                        .replace(&format!("respscope analyze {p}"), "respscope analyze -")
                        .replace(p, "stdin")
                };
                assert_eq!(
                    text(&from_stdin.stdout),
                    expect(&from_file.stdout),
                    "{name} {format:?} in pieces of {piece}: stdout differs"
                );
                assert_eq!(
                    text(&from_stdin.stderr),
                    expect(&from_file.stderr),
                    "{name} {format:?} in pieces of {piece}: stderr differs"
                );
                assert_eq!(from_stdin.status.code(), from_file.status.code(), "{name} {format:?}");
            }
        }
        // JSON names no file: stdin's is the file's, byte for byte.
        let json = run(&["analyze", p, "--format", "json"]);
        if !name.contains("truncated") {
            let stdin = piped(&["analyze", "-", "--format", "json"], bytes.clone(), 4096);
            assert_eq!(stdin.stdout, json.stdout, "{name}");
        }
        assert!(!json.stdout.is_empty());
    }
}

#[test]
fn what_is_not_a_capture_on_stdin_gets_one_clear_line_and_exit_2() {
    let pcap = std::fs::read(fixture("lettuce_16.pcap")).expect("fixture");
    let mut old_version = pcap.clone();
    old_version[6] = 3; // pcap 2.3: libpcap reads it, from a file only
    let mut other_link = pcap.clone();
    other_link[20..24].copy_from_slice(&147u32.to_le_bytes()); // a user link type
    let mut random = Vec::with_capacity(1 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while random.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.extend_from_slice(&x.to_le_bytes());
    }
    let cases: [(&str, Vec<u8>, &str); 7] = [
        (
            "the not-a-capture fixture",
            std::fs::read(fixture("not_a_capture.pcap")).expect("fixture"),
            "not a pcap or pcapng capture (unknown file format)",
        ),
        ("nothing", Vec::new(), "not a pcap or pcapng capture (it is empty)"),
        ("a few bytes", b"PING\r\n".to_vec(), "not a pcap or pcapng capture"),
        ("a megabyte of noise", random, "not a pcap or pcapng capture"),
        ("pcap 2.3", old_version, "pcap version 2.3 is read from a file only"),
        ("link type 147", other_link, "link type 147 is not supported"),
        (
            "a pcapng section header cut short",
            std::fs::read(fixture("lettuce_16.pcapng")).expect("fixture")[..20].to_vec(),
            "not a pcap or pcapng capture",
        ),
    ];
    for (what, input, says) in cases {
        let out = piped(&["analyze", "-"], input, 4096);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(out.stdout.is_empty(), "{what}: {}", text(&out.stdout));
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.starts_with("respscope: stdin: "), "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn analyze_dash_at_a_terminal_says_to_pipe_a_capture_instead_of_waiting() {
    if !common::have("script") {
        common::skip("stdin a terminal", "script (util-linux)");
        return;
    }
    // script gives the command a pseudo-terminal on stdin, as one typed at a shell.
    let started = Instant::now();
    let out = Command::new("timeout")
        .args(["20", "script", "-qec", &format!("{} analyze -", bin()), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("reading a capture from stdin; pipe one in (tcpdump -w - …) or give a file"),
        "{all}"
    );
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(started.elapsed() < Duration::from_secs(15), "it waited");
}

#[test]
fn a_long_capture_on_stdin_is_read_as_it_comes_in_bounded_memory() {
    if !Path::new("/usr/bin/time").exists() {
        common::skip("peak memory of analyze -", "/usr/bin/time (package time)");
        return;
    }
    // 256 MiB of capture: the records of a fixture again and again after its header.
    let pcap = std::fs::read(fixture("lettuce_16.pcap")).expect("fixture");
    let (header, body) = pcap.split_at(24);
    let copies = (256usize << 20) / body.len();
    let report = std::env::temp_dir().join(format!("respscope-tools-rss-{}.txt", std::process::id()));
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&report)
        .args([bin(), "analyze", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run respscope under /usr/bin/time");
    let mut stdin = child.stdin.take().expect("stdin");
    let (header, body) = (header.to_vec(), body.to_vec());
    let writer = std::thread::spawn(move || {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut stdin);
        w.write_all(&header)?;
        for _ in 0..copies {
            w.write_all(&body)?;
        }
        w.flush()
    });
    let out = child.wait_with_output().expect("output");
    writer.join().expect("writer").expect("the whole capture written");
    let kib: u64 = std::fs::read_to_string(&report)
        .ok()
        .and_then(|s| s.trim().lines().last()?.trim().parse().ok())
        .expect("GNU time reported the peak RSS");
    let _ = std::fs::remove_file(&report);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let per_copy = 28; // lettuce_16.pcap's frames
    assert_eq!(v["capture"]["packets"], serde_json::json!(copies * per_copy));
    // The input is 256 MiB; what is read is held in buffers of 256 KiB.
    assert!(kib < 64 << 10, "peak RSS {kib} KiB for 256 MiB piped in");
}

/// The completion function a bash script registers for respscope (`complete -F NAME`).
const BASH_COMPLETE: &str = r#"
source <("$RESPSCOPE" completions bash) || exit 1
spec=$(complete -p respscope) || exit 1
fn=${spec##*-F }
fn=${fn%% *}
# As bash calls it: the words, the index of the one completed, then command, word, previous.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(( $# - 1 ))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" respscope "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}"
}
"#;

fn bash(script: &str) -> String {
    let out = Command::new("bash")
        .args(["-c", &format!("{BASH_COMPLETE}\n{script}")])
        .env("RESPSCOPE", bin())
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    assert!(out.status.success(), "bash: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn the_bash_completion_script_loads_and_completes_subcommands_and_options() {
    if !common::have("bash") {
        common::skip("bash completion", "bash");
        return;
    }
    let lines = |s: String| s.lines().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(lines(bash("complete_words respscope an")), ["analyze"]);
    let subs = lines(bash("complete_words respscope ''"));
    for sub in ["analyze", "watch", "replay", "demo", "proxy", "lab", "completions"] {
        assert!(subs.iter().any(|s| s == sub), "{sub} not offered: {subs:?}");
    }
    assert!(!subs.iter().any(|s| s == "manpage"), "manpage, for maintainers, is offered: {subs:?}");
    assert_eq!(lines(bash("complete_words respscope analyze --fo")), ["--format"]);
    let formats = lines(bash("complete_words respscope analyze x.pcap --format ''"));
    assert_eq!(formats, ["text", "json", "markdown"]);
    assert_eq!(lines(bash("complete_words respscope completions z")), ["zsh"]);
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand_and_parse() {
    for shell in ["zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for sub in ["analyze", "watch", "replay", "demo", "proxy", "lab", "completions"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
        assert!(!script.contains("manpage"), "{shell}: manpage, for maintainers, is offered");
        // Where the shell is installed, its parser reads the script without running it.
        if common::have(shell) {
            let dir = tempfile::tempdir().expect("temp dir");
            let file = dir.path().join("respscope-completion");
            std::fs::write(&file, &script).expect("write script");
            let check = Command::new(shell).arg("-n").arg(&file).output().expect("run shell");
            assert!(check.status.success(), "{shell} -n: {}", text(&check.stderr));
        }
    }
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("possible values"), "{}", text(&out.stderr));
}

#[test]
fn the_committed_man_page_is_the_one_the_binary_prints() {
    let out = run(&["manpage"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let committed = std::fs::read(root().join("man/respscope.1")).expect("man/respscope.1 is committed");
    assert!(
        out.stdout == committed,
        "man/respscope.1 differs from the command-line definitions: regenerate it with \
         `cargo run -- manpage > man/respscope.1` and commit it"
    );
    let page = text(&committed);
    assert!(page.starts_with(".ie") && page.contains(".TH respscope 1"), "not a man page");
    assert!(page.contains(".SS \"respscope analyze\""));
    assert!(page.is_ascii(), "troff reads non-ASCII input as Latin-1: escape it");
    // groff finds nothing to warn about (-ww: every warning).
    if common::have("groff") {
        let check = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(root().join("man/respscope.1"))
            .output()
            .expect("run groff");
        assert!(check.status.success() && check.stderr.is_empty(), "groff: {}", text(&check.stderr));
    } else {
        common::skip("man page through groff", "groff");
    }
}

#[test]
fn a_reader_that_stops_early_ends_analyze_quietly_in_every_format() {
    // `respscope analyze … | head`: the pipe closes under the writer, which must end with
    // success and nothing on stderr, as `cat` does.
    let f = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/interleave.pcap");
    // The reading end is closed before analyze has written anything (it reads the whole
    // capture first), so its first write meets the closed pipe, whatever the output's size.
    for args in [
        &["--format", "json"][..],
        &["--segments", "--format", "json"],
        &["--segments"],
        &["--format", "markdown"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_respscope"))
            .arg("analyze")
            .arg(f)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run analyze");
        drop(child.stdout.take());
        let done = child.wait_with_output().expect("wait");
        assert!(done.status.success(), "{args:?}: {}", done.status);
        assert!(done.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&done.stderr));
    }
}
