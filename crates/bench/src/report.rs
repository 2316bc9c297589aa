//! The report of `bench store`: one row per case, the disk limits, and the ratios the storage targets
//! are judged by. The targets are informational: missing one does not change the exit status.
//!
//! The targets, each judged on 1 KiB bodies and per I/O mode:
//! - ASYNC_FLUSH MB/s (best writer count) ÷ the disk's sequential write MB/s ≥ 0.60;
//! - SYNC_FLUSH msgs/s with 64 writers ÷ msgs/s with 1 writer ≥ 20 (group commit);
//! - SYNC_FLUSH msgs/s with 1 writer ÷ the disk's 4 KiB write + fdatasync rate ≥ 0.80.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use ferromq_store::config::{FlushMode, IoMode};
use serde::Serialize;

use super::disk_limits::DiskLimits;
use super::rounded;

/// Body size the targets are judged on.
const TARGET_BODY_SIZE: usize = 1024;

pub fn flush_name(mode: FlushMode) -> &'static str {
    match mode {
        FlushMode::AsyncFlush => "async",
        FlushMode::SyncFlush => "sync",
    }
}

pub fn io_name(mode: IoMode) -> &'static str {
    match mode {
        IoMode::Auto => "auto",
        IoMode::Pwrite => "pwrite",
        IoMode::Mmap => "mmap",
    }
}

/// What one case measured. MB is 10^6 bytes of message body; latencies are per append, from before
/// `put` to after the durable wait.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub flush: &'static str,
    pub io: &'static str,
    pub size: usize,
    pub writers: u32,
    #[serde(serialize_with = "rounded")]
    pub msgs_per_s: f64,
    #[serde(serialize_with = "rounded")]
    pub mb_per_s: f64,
    #[serde(serialize_with = "rounded")]
    pub p50_us: f64,
    #[serde(serialize_with = "rounded")]
    pub p99_us: f64,
    #[serde(serialize_with = "rounded")]
    pub p999_us: f64,
    /// CPU time of this process (writers, store threads, bench) per acknowledged append, in µs;
    /// the kernel's own writeback threads are not counted.
    #[serde(serialize_with = "rounded")]
    pub cpu_us_per_msg: f64,
    /// How long consume queues and index took, after the last append, to cover the whole log.
    #[serde(serialize_with = "rounded")]
    pub dispatch_lag_ms: f64,
    /// Failed appends (each ends its writer).
    pub errors: u64,
    /// Acknowledged appends.
    pub appended: u64,
    #[serde(serialize_with = "rounded")]
    pub elapsed_s: f64,
}

/// One target ratio as measured.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    #[serde(serialize_with = "rounded")]
    pub value: f64,
    pub target: f64,
    pub pass: bool,
    /// The figures the value was computed from, for a person reading the report.
    pub basis: String,
}

/// The whole report; its JSON form is the `--output json` schema.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What a writer was: `threads` or `tasks` (`--driver`).
    pub driver: &'static str,
    pub limits: DiskLimits,
    pub cases: Vec<CaseResult>,
    /// I/O mode → ratio name → ratio; a ratio whose cases were not run is absent.
    pub ratios: BTreeMap<&'static str, BTreeMap<&'static str, Ratio>>,
    #[serde(skip)]
    missing: Vec<(&'static str, &'static str, String)>,
}

/// The target ratios, in report order: name, what it compares, target.
const TARGETS: [(&str, &str, f64); 3] = [
    (
        "async_1k_mb_s_over_disk_seq_write",
        "async MB/s ÷ disk sequential write MB/s",
        0.60,
    ),
    (
        "sync_1k_64w_over_1w_msgs_per_s",
        "sync msgs/s, 64 writers ÷ 1 writer",
        20.0,
    ),
    (
        "sync_1k_1w_msgs_per_s_over_fsync_4k_per_s",
        "sync msgs/s, 1 writer ÷ disk 4 KiB fdatasync/s",
        0.80,
    ),
];

impl Report {
    pub fn new(limits: DiskLimits, cases: Vec<CaseResult>, driver: &'static str) -> Report {
        let mut ratios = BTreeMap::new();
        let mut missing = Vec::new();
        for io in io_modes(&cases) {
            let mut per_io = BTreeMap::new();
            for (name, _, target) in TARGETS {
                match measure(name, io, &limits, &cases) {
                    Ok((value, basis)) => {
                        let pass = value >= target;
                        per_io.insert(
                            name,
                            Ratio {
                                value,
                                target,
                                pass,
                                basis,
                            },
                        );
                    }
                    Err(why) => missing.push((io, name, why)),
                }
            }
            ratios.insert(io, per_io);
        }
        Report {
            driver,
            limits,
            cases,
            ratios,
            missing,
        }
    }

    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The human report: limits, a table of cases, then the ratio lines with PASS/MISS markers.
    pub fn to_text(&self, dir: &Path) -> String {
        let mut lines = vec![
            format!(
                "ferromq bench store in {} (writers: {})",
                dir.display(),
                self.driver
            ),
            format!(
                "disk limits: sequential write {:.1} MB/s (1 MiB blocks, then fdatasync), \
                 4 KiB write + fdatasync {:.0}/s",
                self.limits.disk_seq_write_mb_s, self.limits.fsync_4k_per_s
            ),
            String::new(),
            format!(
                "{:<5}  {:<6}  {:>7}  {:>7}  {:>10}  {:>8}  {:>9}  {:>9}  {:>9}  {:>10}  {:>6}",
                "flush",
                "io",
                "size B",
                "writers",
                "msgs/s",
                "MB/s",
                "p50 µs",
                "p99 µs",
                "p99.9 µs",
                "cpu µs/msg",
                "errors"
            ),
        ];
        for c in &self.cases {
            lines.push(format!(
                "{:<5}  {:<6}  {:>7}  {:>7}  {:>10.0}  {:>8.1}  {:>9.1}  {:>9.1}  {:>9.1}  {:>10.2}  {:>6}",
                c.flush,
                c.io,
                c.size,
                c.writers,
                c.msgs_per_s,
                c.mb_per_s,
                c.p50_us,
                c.p99_us,
                c.p999_us,
                c.cpu_us_per_msg,
                c.errors
            ));
        }
        for io in io_modes(&self.cases) {
            lines.push(String::new());
            lines.push(format!("targets, {io}, {TARGET_BODY_SIZE} B bodies:"));
            for (name, what, target) in TARGETS {
                let measured = self.ratios.get(io).and_then(|r| r.get(name));
                let line = match measured {
                    Some(r) => format!(
                        "  {:<4}  {:>7.2}  (target ≥ {target:.2})  {what}: {}",
                        if r.pass { "PASS" } else { "MISS" },
                        r.value,
                        r.basis
                    ),
                    None => {
                        let why = self
                            .missing
                            .iter()
                            .find(|(i, n, _)| *i == io && *n == name)
                            .map_or("not measured", |(_, _, why)| why.as_str());
                        format!("  n/a   {:>7}  (target ≥ {target:.2})  {what}: {why}", "")
                    }
                };
                lines.push(line);
            }
        }
        lines.push(String::new());
        lines.push(
            "MB = 10^6 bytes of message body; latency = put + durable wait, per append; \
             targets are informational."
                .to_owned(),
        );
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// The I/O modes present in `cases`, in case order.
fn io_modes(cases: &[CaseResult]) -> Vec<&'static str> {
    let mut modes: Vec<&'static str> = Vec::new();
    for c in cases {
        if !modes.contains(&c.io) {
            modes.push(c.io);
        }
    }
    modes
}

/// The value of target `name` for one I/O mode and the figures behind it, or why it cannot be computed.
fn measure(
    name: &str,
    io: &str,
    limits: &DiskLimits,
    cases: &[CaseResult],
) -> Result<(f64, String), String> {
    let find = |flush: &str, writers: u32| {
        cases
            .iter()
            .find(|c| {
                c.io == io && c.flush == flush && c.size == TARGET_BODY_SIZE && c.writers == writers
            })
            .ok_or_else(|| {
                format!("needs a {flush} case with --size {TARGET_BODY_SIZE} --writers {writers}")
            })
    };
    let ratio = |num: f64, den: f64| {
        if den > 0.0 {
            Ok(num / den)
        } else {
            Err("the denominator measured zero".to_owned())
        }
    };
    match name {
        "async_1k_mb_s_over_disk_seq_write" => {
            let best = cases
                .iter()
                .filter(|c| c.io == io && c.flush == "async" && c.size == TARGET_BODY_SIZE)
                .max_by(|a, b| a.mb_per_s.total_cmp(&b.mb_per_s))
                .ok_or_else(|| format!("needs async cases with --size {TARGET_BODY_SIZE}"))?;
            let value = ratio(best.mb_per_s, limits.disk_seq_write_mb_s)?;
            let basis = format!(
                "{:.1} ÷ {:.1} MB/s (best: {} writer{})",
                best.mb_per_s,
                limits.disk_seq_write_mb_s,
                best.writers,
                if best.writers == 1 { "" } else { "s" }
            );
            Ok((value, basis))
        }
        "sync_1k_64w_over_1w_msgs_per_s" => {
            let (many, one) = (find("sync", 64)?, find("sync", 1)?);
            let value = ratio(many.msgs_per_s, one.msgs_per_s)?;
            Ok((
                value,
                format!("{:.0} ÷ {:.0} msgs/s", many.msgs_per_s, one.msgs_per_s),
            ))
        }
        "sync_1k_1w_msgs_per_s_over_fsync_4k_per_s" => {
            let one = find("sync", 1)?;
            let value = ratio(one.msgs_per_s, limits.fsync_4k_per_s)?;
            Ok((
                value,
                format!("{:.0} ÷ {:.0} per s", one.msgs_per_s, limits.fsync_4k_per_s),
            ))
        }
        other => Err(format!("unknown target {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(flush: &'static str, size: usize, writers: u32, msgs_per_s: f64) -> CaseResult {
        CaseResult {
            flush,
            io: "pwrite",
            size,
            writers,
            msgs_per_s,
            mb_per_s: msgs_per_s * size as f64 / 1e6,
            p50_us: 10.0,
            p99_us: 100.0,
            p999_us: 1000.0,
            cpu_us_per_msg: 2.0,
            dispatch_lag_ms: 1.0,
            errors: 0,
            appended: 1,
            elapsed_s: 1.0,
        }
    }

    fn limits() -> DiskLimits {
        DiskLimits {
            disk_seq_write_mb_s: 500.0,
            fsync_4k_per_s: 1000.0,
        }
    }

    #[test]
    fn ratios_follow_the_target_definitions() {
        let cases = vec![
            case("async", 1024, 1, 100_000.0),
            case("async", 1024, 8, 400_000.0), // 409.6 MB/s, the best
            case("async", 128, 8, 900_000.0),  // not 1 KiB: ignored
            case("sync", 1024, 1, 900.0),
            case("sync", 1024, 64, 15_000.0),
        ];
        let report = Report::new(limits(), cases, "threads");
        let r = &report.ratios["pwrite"];
        let async_ratio = &r["async_1k_mb_s_over_disk_seq_write"];
        assert!((async_ratio.value - 409.6 / 500.0).abs() < 1e-9);
        assert!(async_ratio.pass);
        let scaling = &r["sync_1k_64w_over_1w_msgs_per_s"];
        assert!((scaling.value - 15_000.0 / 900.0).abs() < 1e-9);
        assert!(!scaling.pass);
        let vs_fsync = &r["sync_1k_1w_msgs_per_s_over_fsync_4k_per_s"];
        assert!((vs_fsync.value - 0.9).abs() < 1e-9);
        assert!(vs_fsync.pass);

        let text = report.to_text(Path::new("bench"));
        assert!(text.contains("PASS     0.82"), "{text}");
        assert!(text.contains("MISS    16.67"), "{text}");
    }

    #[test]
    fn ratios_without_their_cases_are_absent_and_explained() {
        let report = Report::new(limits(), vec![case("async", 128, 1, 1000.0)], "threads");
        assert!(report.ratios["pwrite"].is_empty());
        let text = report.to_text(Path::new("bench"));
        assert_eq!(text.matches("n/a").count(), 3, "{text}");
        assert!(
            text.contains("needs a sync case with --size 1024 --writers 64"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let report = Report::new(limits(), vec![case("sync", 1024, 1, 1234.56789)], "threads");
        let json: serde_json::Value =
            serde_json::from_str(&report.to_json().expect("serializes")).expect("valid JSON");
        assert_eq!(json["limits"]["disk_seq_write_mb_s"], 500.0);
        assert_eq!(json["limits"]["fsync_4k_per_s"], 1000.0);
        let c = &json["cases"][0];
        for field in [
            "msgs_per_s",
            "mb_per_s",
            "p50_us",
            "p99_us",
            "p999_us",
            "cpu_us_per_msg",
            "dispatch_lag_ms",
            "errors",
        ] {
            assert!(c.get(field).is_some(), "case lacks {field}: {c}");
        }
        assert_eq!(c["flush"], "sync");
        assert_eq!(c["io"], "pwrite");
        assert_eq!(c["msgs_per_s"], 1234.568);
        let ratio = &json["ratios"]["pwrite"]["sync_1k_1w_msgs_per_s_over_fsync_4k_per_s"];
        assert_eq!(ratio["pass"], true);
    }
}
