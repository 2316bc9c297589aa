//! `ferromq bench` against a secured `ferromq dev`, as a user runs it: with authentication on the
//! bench signs with `--access-key`/`--secret-key`; with TLS enforcing it connects with `--tls`,
//! trusting the CA of the broker's certificate or (development) any certificate. Every message
//! sent is counted back; without credentials or without TLS the bench fails and says why.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::Dev;
use serde_json::Value;

const ROOT_SECRET: &str = "root-secret-12345";

/// `ferromq dev` with `conf` as its broker.conf (plus 64 MiB commit-log segments: these runs
/// write little) and `extra` arguments.
fn start_dev(data: &Path, conf: &str, extra: &[&str]) -> Dev {
    let config = data.join("broker.conf");
    std::fs::write(&config, format!("mapedFileSizeCommitLog=67108864\n{conf}"))
        .expect("write broker.conf");
    let config = config.to_str().expect("utf-8 path").to_owned();
    Dev::start(data, &[&["--config", config.as_str()][..], extra].concat())
}

/// A broker with authentication and authorization on and `root` as its super user.
fn authenticating_dev(data: &Path) -> Dev {
    start_dev(
        data,
        &format!(
            "authenticationEnabled=true\nauthorizationEnabled=true\n\
             initAuthenticationUser={{\"username\":\"root\",\"password\":\"{ROOT_SECRET}\"}}\n"
        ),
        &[],
    )
}

fn bench(mode: &str, namesrv: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["--log-level", "warn", "bench", mode, "-n", namesrv])
        .args(["--quiet", "--output", "json"])
        .args(args)
        .output()
        .expect("run ferromq bench")
}

/// Runs a bench that must succeed; returns its JSON summary.
fn bench_ok(mode: &str, namesrv: &str, args: &[&str]) -> Value {
    let out = bench(mode, namesrv, args);
    assert!(
        out.status.success(),
        "bench {mode} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bench {mode} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs a bench that must fail with exit code 1; returns its stderr.
fn bench_err(mode: &str, namesrv: &str, args: &[&str]) -> String {
    let out = bench(mode, namesrv, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "bench {mode} {args:?} should fail: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn count(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a count: {summary}"))
}

/// Produce `n` to `topic`, read them all back from the start, then an e2e run: each counted
/// exactly, with `access` (credentials and/or TLS options) on every run.
fn produce_consume_e2e(namesrv: &str, topic: &str, access: &[&str]) {
    let sent = bench_ok(
        "produce",
        namesrv,
        &[
            &["-t", topic, "--queues", "4", "--size", "256"][..],
            &["--producers", "4", "--messages", "1000"],
            access,
        ]
        .concat(),
    );
    assert_eq!(count(&sent, "sent"), 1000, "{sent}");
    assert_eq!(count(&sent, "errors"), 0, "{sent}");
    let got = bench_ok(
        "consume",
        namesrv,
        &[
            &["-t", topic, "-g", "check_group", "--from-first"][..],
            &["--messages", "1000"],
            access,
        ]
        .concat(),
    );
    assert_eq!(count(&got, "received"), 1000, "{got}");
    assert_eq!(count(&got, "duplicates"), 0, "{got}");
    let e2e = bench_ok(
        "e2e",
        namesrv,
        &[
            &["-t", topic, "--messages", "600", "--consumers", "2"][..],
            access,
        ]
        .concat(),
    );
    assert_eq!(count(&e2e, "sent"), 600, "{e2e}");
    assert_eq!(count(&e2e, "received"), 600, "{e2e}");
    assert_eq!(count(&e2e, "lost"), 0, "{e2e}");
    assert_eq!(count(&e2e, "duplicates"), 0, "{e2e}");
    assert_eq!(count(&e2e, "errors"), 0, "{e2e}");
}

#[test]
fn bench_signs_with_credentials_against_a_broker_with_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = authenticating_dev(dir.path());
    let namesrv = dev.field("namesrv");
    let root = ["--access-key", "root", "--secret-key", ROOT_SECRET];

    produce_consume_e2e(&namesrv, "SecureBench", &root);

    // Unsigned: creating a new topic is refused, and the error says what to pass.
    let stderr = bench_err(
        "produce",
        &namesrv,
        &["-t", "SecureNew", "--messages", "10"],
    );
    assert!(stderr.contains("not signed"), "{stderr}");
    assert!(stderr.contains("--access-key"), "{stderr}");
    // Unsigned sends to the existing topic: none is stored, and the broker's reason is shown.
    let stderr = bench_err(
        "produce",
        &namesrv,
        &["-t", "SecureBench", "--messages", "10"],
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert!(stderr.contains("not signed"), "{stderr}");
    // A wrong secret is refused too.
    let stderr = bench_err(
        "produce",
        &namesrv,
        &[
            "-t",
            "SecureNew",
            "--messages",
            "10",
            "--access-key",
            "root",
            "--secret-key",
            "wrong",
        ],
    );
    assert!(stderr.contains("check signature failed"), "{stderr}");

    // Nothing extra reached the topic: reading it from the start finds the 1000 + 600 signed.
    let got = bench_ok(
        "consume",
        &namesrv,
        &[
            &["-t", "SecureBench", "-g", "recount", "--from-first"][..],
            &["--messages", "1600", "--drain-seconds", "2"],
            &root,
        ]
        .concat(),
    );
    assert_eq!(count(&got, "received"), 1600, "{got}");
    dev.stop();
}

#[test]
fn bench_connects_over_tls_to_an_enforcing_broker() {
    let pki = tempfile::tempdir().expect("tempdir");
    common::write_pki(pki.path());
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(
        dir.path(),
        &format!(
            "tls.server.certPath={}\ntls.server.keyPath={}\n",
            pki.path().join("server.pem").display(),
            pki.path().join("server.key").display()
        ),
        &["--tls", "enforcing"],
    );
    assert_eq!(dev.field("tls"), "enforcing", "{}", dev.ready);
    let namesrv = dev.field("namesrv");
    let ca = pki.path().join("ca.pem");
    let ca = ca.to_str().expect("utf-8 path");

    // Verifying the broker's certificate against its CA.
    produce_consume_e2e(&namesrv, "TlsBench", &["--tls", "--tls-ca", ca]);
    // Accepting any certificate (development).
    let sent = bench_ok(
        "produce",
        &namesrv,
        &[
            "-t",
            "TlsBench",
            "--messages",
            "400",
            "--tls",
            "--tls-insecure",
        ],
    );
    assert_eq!(count(&sent, "sent"), 400, "{sent}");

    // Plaintext to an enforcing cluster fails cleanly.
    bench_err("produce", &namesrv, &["-t", "TlsBench", "--messages", "10"]);
    // A CA that did not sign the broker's certificate: refused.
    let other = tempfile::tempdir().expect("tempdir");
    common::write_pki(other.path());
    let other_ca = other.path().join("ca.pem");
    bench_err(
        "produce",
        &namesrv,
        &[
            "-t",
            "TlsBench",
            "--messages",
            "10",
            "--tls",
            "--tls-ca",
            other_ca.to_str().expect("utf-8 path"),
        ],
    );
    // --tls without a trust choice is refused before connecting.
    let stderr = bench_err("produce", &namesrv, &["-t", "TlsBench", "--tls"]);
    assert!(stderr.contains("--tls-insecure"), "{stderr}");

    let got = bench_ok(
        "consume",
        &namesrv,
        &[
            &["-t", "TlsBench", "-g", "recount", "--from-first"][..],
            &["--messages", "2000", "--drain-seconds", "2"],
            &["--tls", "--tls-ca", ca],
        ]
        .concat(),
    );
    assert_eq!(count(&got, "received"), 2000, "1000 + 600 + 400: {got}");
    dev.stop();
}

#[test]
fn bench_with_credentials_and_tls_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(
        dir.path(),
        &format!(
            "authenticationEnabled=true\nauthorizationEnabled=true\n\
             initAuthenticationUser={{\"username\":\"root\",\"password\":\"{ROOT_SECRET}\"}}\n"
        ),
        &["--tls", "enforcing"],
    );
    let namesrv = dev.field("namesrv");
    produce_consume_e2e(
        &namesrv,
        "SecureTlsBench",
        &[
            "--tls",
            "--tls-insecure",
            "--access-key",
            "root",
            "--secret-key",
            ROOT_SECRET,
        ],
    );
    let stderr = bench_err(
        "produce",
        &namesrv,
        &[
            "-t",
            "SecureTlsNew",
            "--messages",
            "10",
            "--tls",
            "--tls-insecure",
        ],
    );
    assert!(stderr.contains("--access-key"), "{stderr}");
    dev.stop();
}
