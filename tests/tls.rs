//! TLS against a real redis-server started with `--tls-port` and certificates made here with
//! openssl: the CA from `--cacert`, a client certificate for `tls-auth-clients yes`,
//! `rediss://` with `--insecure`, and the errors a user meets (unknown CA, wrong name, a
//! plain connection to a TLS port, a missing client certificate) in words. On the wire a TLS
//! connection is recognised and its encrypted bytes are not parsed as RESP.
//!
//! Needs redis-server, redis-cli, openssl and root (capture). Outside CI a missing part skips
//! with a message; with `CI=true` it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{free_port, redis};

fn preconditions() -> bool {
    common::preconditions("TLS tests", &["redis-server", "redis-cli", "openssl"])
}

/// A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, all
/// signed by the CA; plus a second CA that signed nothing here.
fn certificates(dir: &Path) {
    let run = |args: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("cd {} && {args}", dir.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(ok.success(), "openssl: {args}");
    };
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=respscope test CA'");
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj '/CN=other CA'");
    run("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.cnf");
    for who in ["server", "client"] {
        run(&format!(
            "openssl req -newkey rsa:2048 -nodes -keyout {who}.key -out {who}.csr -subj '/CN=localhost'"
        ));
        run(&format!(
            "openssl x509 -req -in {who}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out {who}.crt -days 2 -extfile san.cnf"
        ));
    }
}

/// The first snapshot of `respscope watch ARGS` (server side only unless `capture`).
fn first_snapshot(args: &[&str], capture: bool, traffic: Option<&dyn Fn()>) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_respscope"));
    cmd.arg("watch").args(args).args(["--duration", "2.5", "--interval", "1"]);
    if !capture {
        cmd.arg("--no-capture");
    }
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run watch");
    if let Some(t) = traffic {
        std::thread::sleep(std::time::Duration::from_millis(700));
        t();
    }
    let out = child.wait_with_output().expect("watch output");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "no snapshot: {text} {}", String::from_utf8_lossy(&out.stderr));
    lines.last().cloned().unwrap_or_default()
}

#[test]
fn tls_with_a_ca_a_client_certificate_and_clear_errors() {
    if !preconditions() {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("respscope-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    certificates(&dir);
    let f = |n: &str| dir.join(n).display().to_string();
    let port = free_port();
    let p = port.to_string();
    // Redis's default: clients must present a certificate too.
    let _r = redis(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &p,
            "--tls-cert-file",
            &f("server.crt"),
            "--tls-key-file",
            &f("server.key"),
            "--tls-ca-cert-file",
            &f("ca.crt"),
        ],
    );
    let (ca, cert, key, other) = (f("ca.crt"), f("client.crt"), f("client.key"), f("other.crt"));

    let ok =
        first_snapshot(&["-p", &p, "--tls", "--cacert", &ca, "--cert", &cert, "--key", &key], false, None);
    assert_eq!(ok["server"]["up"], true, "{ok}");
    assert!(ok["server"]["version"].as_str().is_some_and(|v| !v.is_empty()), "{ok}");
    assert!(ok["server"]["ping_us"].as_u64().is_some(), "the poller times its PING: {ok}");

    let uri = format!("rediss://localhost:{p}");
    let ok = first_snapshot(&["-u", &uri, "--insecure", "--cert", &cert, "--key", &key], false, None);
    assert_eq!(ok["server"]["up"], true, "rediss:// with --insecure: {ok}");

    let err = |args: &[&str]| {
        first_snapshot(args, false, None)["server"]["error"].as_str().unwrap_or("").to_string()
    };
    let e = err(&["-p", &p, "--tls", "--cacert", &other, "--cert", &cert, "--key", &key]);
    assert!(e.contains("UnknownIssuer") && e.contains("--cacert"), "{e}");
    let e = err(&[
        "-h",
        "localhost",
        "-p",
        &p,
        "--tls",
        "--cacert",
        &ca,
        "--sni",
        "wrong.example",
        "--cert",
        &cert,
        "--key",
        &key,
    ]);
    assert!(e.contains("not valid for name \"wrong.example\"") && e.contains("--sni"), "{e}");
    let e = err(&["-p", &p]);
    assert!(e.contains("add --tls"), "a plain connection to a TLS port says what to do: {e}");
    let e = err(&["-p", &p, "--tls", "--cacert", &ca]);
    assert!(e.contains("--cert/--key"), "no client certificate: {e}");

    // Options that only mean something with TLS are refused without it.
    let out = Command::new(env!("CARGO_BIN_EXE_respscope"))
        .args(["watch", "-p", &p, "--cacert", &ca, "--duration", "1"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --tls"));

    // On the wire: TLS connections are recognised, nothing encrypted is parsed as RESP.
    {
        let traffic = || {
            for _ in 0..3 {
                let out = Command::new("redis-cli")
                    .args([
                        "--tls", "--cacert", &ca, "--cert", &cert, "--key", &key, "-p", &p, "set", "k", "v",
                    ])
                    .output()
                    .expect("redis-cli --tls");
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK", "{out:?}");
            }
        };
        let snap = first_snapshot(
            &["-p", &p, "--tls", "--cacert", &ca, "--cert", &cert, "--key", &key],
            true,
            Some(&traffic),
        );
        let report = &snap["wire"]["snapshot"]["report"];
        let conns = report["connections"].as_array().cloned().unwrap_or_default();
        assert!(conns.len() >= 4, "the poller's and redis-cli's connections: {snap}");
        assert!(conns.iter().all(|c| c["tls"] == true), "{conns:?}");
        assert_eq!(report["totals"]["parse_errors"], 0, "{report}");
        assert_eq!(report["totals"]["commands"], 0, "{report}");
        assert!(conns.iter().any(|c| c["handshake_rtt_us"].as_u64().is_some()), "TCP numbers still there");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
