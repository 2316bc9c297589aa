//! `ferromq bench ... --protocol grpc` and `ferromq bench pop-crash` as a user runs them: the real
//! binary against a real `ferromq dev` (or, for pop-crash, one it starts itself), the JSON summary
//! checked message by message.

use crate::common;

use std::process::Command;

use common::Dev;
use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["--log-level", "warn", "bench"])
        .args(args)
        .args(["--output", "json"])
        .output()
        .expect("run ferromq bench");
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bench {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn count(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a count: {summary}"))
}

#[test]
fn grpc_produce_and_e2e_deliver_and_ack_every_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("broker.conf");
    std::fs::write(&config, "mapedFileSizeCommitLog=67108864\n").expect("write broker.conf");
    let dev = Dev::start(
        &dir.path().join("data"),
        &["--config", config.to_str().expect("utf-8 path")],
    );
    let (namesrv, grpc) = (dev.field("namesrv"), dev.field("grpc"));
    let common = [
        "-n",
        &namesrv,
        "--grpc",
        &grpc,
        "--protocol",
        "grpc",
        "--quiet",
    ];

    let produced = run_json(
        &[
            &["produce", "-t", "GrpcProduce", "--messages", "500"][..],
            &common,
            &["--mode", "batch", "--batch", "10", "--size", "256"],
        ]
        .concat(),
    );
    assert_eq!(produced["protocol"], "grpc", "{produced}");
    assert_eq!(count(&produced, "sent"), 500, "{produced}");
    assert_eq!(count(&produced, "errors"), 0, "{produced}");

    let e2e = run_json(
        &[
            &["e2e", "-t", "GrpcE2e", "--messages", "2000"][..],
            &common,
            &["--mode", "sync", "--producers", "8", "--size", "512"],
        ]
        .concat(),
    );
    for (field, want) in [
        ("sent", 2000),
        ("received", 2000),
        ("acked", 2000),
        ("lost", 0),
        ("duplicates", 0),
        ("errors", 0),
        ("foreign", 0),
    ] {
        assert_eq!(count(&e2e, field), want, "{field}: {e2e}");
    }
    dev.stop();
}

#[test]
fn pop_crash_counts_every_message_across_a_kill() {
    let report = run_json(&["pop-crash", "--messages", "400", "--kills", "1"]);
    assert_eq!(count(&report, "messages"), 400, "{report}");
    assert_eq!(count(&report, "delivered"), 400, "{report}");
    // A message whose ack's answer the kill cut off and that never came back: the broker took it.
    assert_eq!(
        count(&report, "acked") + count(&report, "ack_cut_off"),
        400,
        "{report}"
    );
    assert_eq!(count(&report, "lost"), 0, "{report}");
    assert_eq!(count(&report, "corrupt"), 0, "{report}");
    assert_eq!(
        report["kills"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(report["timed_out"], false, "{report}");
}
