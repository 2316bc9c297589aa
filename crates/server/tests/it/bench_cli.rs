//! `ferromq bench produce|consume|e2e` as a user runs them: a real `ferromq dev` on free ports, the
//! real binary as the load generator, the JSON summary checked message by message.

use crate::common;

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Dev;
use serde_json::Value;

/// `ferromq dev` with 64 MiB commit-log segments instead of 1 GiB: these runs write a few MB,
/// and several tests run at once.
fn start_dev(data: &Path) -> Dev {
    let config = data.join("broker.conf");
    std::fs::write(&config, "mapedFileSizeCommitLog=67108864\n").expect("write broker.conf");
    Dev::start(data, &["--config", config.to_str().expect("utf-8 path")])
}

fn bench(mode: &str, namesrv: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args([
            "--log-level",
            "warn",
            "bench",
            mode,
            "-n",
            namesrv,
            "--quiet",
        ])
        .args(args)
        .output()
        .expect("run ferromq bench")
}

/// Runs a bench with `--output json`, expects success, returns the summary.
fn bench_json(mode: &str, namesrv: &str, args: &[&str]) -> Value {
    let out = bench(mode, namesrv, &[args, &["--output", "json"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench {mode} {args:?} failed: {stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bench {mode} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    for field in [
        "msgs_per_s",
        "mb_per_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "errors",
        "cpu_s_per_100k",
    ] {
        assert!(
            summary[field].is_number(),
            "{mode} summary lacks {field}: {summary}"
        );
    }
    summary
}

fn count(summary: &Value, field: &str) -> u64 {
    summary[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a count: {summary}"))
}

#[test]
fn every_send_mode_delivers_every_message_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path());
    let namesrv = dev.field("namesrv");
    for (mode, extra) in [
        ("sync", &[][..]),
        ("async", &["--inflight", "8"][..]),
        ("oneway", &[][..]),
        ("batch", &["--batch", "7"][..]),
    ] {
        let topic = format!("Bench_{mode}");
        let sent = bench_json(
            "produce",
            &namesrv,
            &[
                &[
                    "-t",
                    &topic,
                    "--queues",
                    "4",
                    "--size",
                    "256",
                    "--producers",
                    "4",
                    "--clients",
                    "2",
                    "--messages",
                    "2000",
                    "--mode",
                    mode,
                ][..],
                extra,
            ]
            .concat(),
        );
        assert_eq!(count(&sent, "sent"), 2000, "{mode}: {sent}");
        assert_eq!(count(&sent, "errors"), 0, "{mode}: {sent}");
        assert_eq!(sent["mode"], mode);
        assert!(sent["msgs_per_s"].as_f64() > Some(0.0), "{sent}");

        // Read the topic back from its start: the same 2000, none twice. One consumer: with
        // several, a queue may be read by two members while the group forms (at-least-once).
        let got = bench_json(
            "consume",
            &namesrv,
            &[
                "-t",
                &topic,
                "-g",
                &format!("check_{mode}"),
                "--from-first",
                "--messages",
                "2000",
            ],
        );
        assert_eq!(count(&got, "received"), 2000, "{mode}: {got}");
        assert_eq!(count(&got, "duplicates"), 0, "{mode}: {got}");
    }
    dev.stop();
}

#[test]
fn e2e_receives_every_sent_message_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path());
    let namesrv = dev.field("namesrv");
    for args in [
        &["--mode", "async", "--producers", "4", "--consumers", "2"][..],
        &["--mode", "batch", "--batch", "10", "--consumers", "3"][..],
        // Paced: 2000 messages due over half a second.
        &["--mode", "sync", "--producers", "8", "--rate", "4000"][..],
    ] {
        let summary = bench_json(
            "e2e",
            &namesrv,
            &[
                &["-t", "BenchE2e", "--queues", "6", "--size", "128"][..],
                args,
                &["--messages", "2000"][..],
            ]
            .concat(),
        );
        assert_eq!(count(&summary, "sent"), 2000, "{args:?}: {summary}");
        assert_eq!(count(&summary, "received"), 2000, "{args:?}: {summary}");
        assert_eq!(count(&summary, "lost"), 0, "{args:?}: {summary}");
        assert_eq!(count(&summary, "duplicates"), 0, "{args:?}: {summary}");
        assert_eq!(count(&summary, "errors"), 0, "{args:?}: {summary}");
        assert!(summary["send_latency"]["p50_us"].is_number(), "{summary}");
        assert!(summary["p999_us"].as_f64() >= summary["p50_us"].as_f64());
    }
    dev.stop();
}

#[test]
fn a_rate_over_a_duration_sends_the_scheduled_count_and_prints_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path());
    let namesrv = dev.field("namesrv");
    // Due times k / 400 s for k = 0.. fall inside one second for k < 400.
    let summary = bench_json(
        "produce",
        &namesrv,
        &["-t", "BenchRate", "--rate", "400", "--seconds", "1"],
    );
    assert_eq!(count(&summary, "sent"), 400, "{summary}");
    assert_eq!(summary["target_rate"], 400.0);

    let out = bench(
        "produce",
        &namesrv,
        &["-t", "BenchRate", "--messages", "300", "--size", "1k"],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ferromq bench produce: topic BenchRate, 1024 B bodies"),
        "{text}"
    );
    assert!(text.contains("sent 300, errors 0"), "{text}");
    assert!(text.contains("core-seconds per 100k msgs"), "{text}");
    dev.stop();
}

#[test]
fn bad_input_fails_with_a_message_not_a_panic() {
    let out = bench("produce", "127.0.0.1:9876", &["--producers", "0"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--producers"));

    // A name server that is not there: a clean error exit, not a hang or a panic.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = free.local_addr().expect("addr").to_string();
    drop(free);
    let out = bench("e2e", &addr, &["--messages", "10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("Error"), "{stderr}");
}

#[test]
fn sigterm_ends_a_long_run_early_with_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path());
    let namesrv = dev.field("namesrv");
    let mut run = Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["--log-level", "warn", "bench", "e2e", "-n", &namesrv])
        .args(["-t", "BenchLong", "--seconds", "600", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferromq bench");
    // The first progress line says the run is under way.
    let mut stderr = BufReader::new(run.stderr.take().expect("stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = stderr.read_line(&mut line).expect("read progress");
        assert!(n > 0, "the bench ended before its first progress line");
        if line.contains("send") && line.contains("msgs/s") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = run.wait_with_output().expect("wait");
    assert!(out.status.success(), "exit {}", out.status);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert!(count(&summary, "sent") > 0, "{summary}");
    assert_eq!(count(&summary, "errors"), 0, "{summary}");
    assert_eq!(count(&summary, "lost"), 0, "{summary}");
    assert_eq!(count(&summary, "received"), count(&summary, "sent"));
    assert!(summary["elapsed_s"].as_f64() < Some(600.0), "{summary}");
    dev.stop();
}

/// `GET /metrics` of the broker's HTTP listener, as a scraper sees it.
fn scrape(http: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(http).expect("connect http");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// The sum of a counter's series for `topic` (every group), 0 when it has none yet.
fn topic_counter(metrics: &str, name: &str, topic: &str) -> u64 {
    let label = format!("topic=\"{topic}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .map(|l| {
            let value = l.rsplit(' ').next().expect("a value");
            value.parse::<f64>().unwrap_or_else(|e| panic!("{l}: {e}")) as u64
        })
        .sum()
}

#[test]
fn metrics_option_reports_the_brokers_side_and_its_counters_match_the_bench() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path());
    let namesrv = dev.field("namesrv");
    let http = dev.field("http");
    let topic = "BenchMetrics";
    let before = scrape(&http);
    let summary = bench_json(
        "e2e",
        &namesrv,
        &[
            "-t",
            topic,
            "--queues",
            "4",
            "--size",
            "512",
            "--producers",
            "8",
            "--mode",
            "sync",
            "--messages",
            "3000",
            "--metrics",
            &http,
        ],
    );
    let after = scrape(&http);
    let sent = count(&summary, "sent");
    let received = count(&summary, "received");
    assert_eq!(sent, 3000, "{summary}");
    assert_eq!(received, 3000, "{summary}");
    assert_eq!(count(&summary, "duplicates"), 0, "{summary}");

    // What the broker counted, scraped by this test: exactly what the bench reports.
    let moved = |name| topic_counter(&after, name, topic) - topic_counter(&before, name, topic);
    assert_eq!(moved("rocketmq_messages_in_total"), sent, "{after}");
    assert_eq!(moved("rocketmq_messages_out_total"), received, "{after}");

    // The bench's own view of the broker: the same counters, and the broker's CPU.
    let broker = &summary["broker"];
    assert_eq!(count(broker, "messages_in"), sent, "{summary}");
    assert_eq!(count(broker, "messages_out"), received, "{summary}");
    assert!(broker["cpu_s"].as_f64() >= Some(0.0), "{summary}");
    assert!(broker["cpu_us_per_msg"].is_number(), "{summary}");
    assert!(summary["cpu_us_per_msg"].is_number(), "{summary}");

    // Text output names both costs.
    let out = bench(
        "produce",
        &namesrv,
        &["-t", topic, "--messages", "200", "--metrics", &http],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("broker cpu: "), "{text}");
    assert!(
        text.contains("topic counters moved: in 200, out "),
        "{text}"
    );

    // A --metrics address with nothing behind it is a clean error, not a panic.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let nothing = free.local_addr().expect("addr").to_string();
    drop(free);
    let out = bench(
        "produce",
        &namesrv,
        &["-t", topic, "--messages", "10", "--metrics", &nothing],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/metrics"), "{stderr}");
    dev.stop();
}
