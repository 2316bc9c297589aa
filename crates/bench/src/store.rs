//! `ferromq bench store`: appends from N writers into a fresh store per case, each append waited on
//! until the store calls it durable (immediately under ASYNC_FLUSH, after the covering fdatasync under
//! SYNC_FLUSH), the way a broker handles a send before it answers the producer. A writer is a thread
//! blocking on the wait (`--driver threads`) or a task awaiting it on a tokio runtime with one worker
//! per core (`--driver tasks`), which is how the broker's send handlers wait.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_store::config::{FlushMode, IoMode, StoreConfig};
use ferromq_store::{Store, StoreHandle};
use hdrhistogram::Histogram;
use tempfile::TempDir;
use tracing::{info, warn};

use super::report::{self, CaseResult, Report};
use super::{cpu, disk_limits};
use crate::args::{OutputFormat, StoreBenchArgs, WriterDriver};

const TOPIC: &str = "BenchTopic";
/// Writers spread over this many queues of the topic (writer index modulo it).
const QUEUES: u32 = 8;
/// Time spent on each disk probe before the cases.
const PROBE_TIME: Duration = Duration::from_secs(2);
/// Latencies are recorded in nanoseconds, from 1 ns to a minute, to three significant digits.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// One combination of the bench's dimensions.
#[derive(Debug, Clone, Copy)]
struct Case {
    io: IoMode,
    flush: FlushMode,
    size: usize,
    writers: u32,
}

impl Case {
    fn label(&self) -> String {
        format!(
            "{}-{}-{}B-{}w",
            report::io_name(self.io),
            report::flush_name(self.flush),
            self.size,
            self.writers
        )
    }
}

/// Runs the disk probes and every case, then prints the report.
pub fn run(args: &StoreBenchArgs) -> Result<()> {
    let cases = plan(args);
    let run_for = Duration::from_secs_f64(args.seconds);
    let scratch = Scratch::new(args.dir.as_deref(), args.keep)?;
    info!(
        dir = %scratch.path.display(),
        cases = cases.len(),
        seconds_per_case = args.seconds,
        "bench store: probing the disk, then running the cases"
    );

    let limits = disk_limits::measure(&scratch.path, PROBE_TIME)?;
    info!(
        disk_seq_write_mb_s = format_args!("{:.1}", limits.disk_seq_write_mb_s),
        fsync_4k_per_s = format_args!("{:.0}", limits.fsync_4k_per_s),
        "disk limits"
    );

    let largest = cases.iter().map(|c| c.size).max().unwrap_or(0);
    let body = super::random_bytes(largest);
    let mut results = Vec::with_capacity(cases.len());
    for case in &cases {
        let dir = scratch.path.join(format!("case-{}", case.label()));
        let result = run_case(
            case,
            &dir,
            &body[..case.size],
            run_for,
            args.segment_bytes,
            args.driver,
        )
        .with_context(|| format!("case {}", case.label()))?;
        info!(
            case = %case.label(),
            msgs_per_s = format_args!("{:.0}", result.msgs_per_s),
            mb_per_s = format_args!("{:.1}", result.mb_per_s),
            p99_us = format_args!("{:.1}", result.p99_us),
            errors = result.errors,
            "case done"
        );
        results.push(result);
        if !args.keep {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
    }

    let report = Report::new(limits, results, driver_name(args.driver));
    match args.output {
        OutputFormat::Text => print!("{}", report.to_text(&scratch.path)),
        OutputFormat::Json => println!("{}", report.to_json()?),
    }
    scratch.finish();
    Ok(())
}

/// Every (io, flush, size, writers) combination, in report order; a size or writer count given twice
/// runs once.
fn plan(args: &StoreBenchArgs) -> Vec<Case> {
    let sizes = first_occurrences(&args.sizes);
    let writer_counts = first_occurrences(&args.writers);
    let mut cases = Vec::new();
    for &io in args.io.modes() {
        for &flush in args.flush.modes() {
            for &size in &sizes {
                for &writers in &writer_counts {
                    cases.push(Case {
                        io,
                        flush,
                        size,
                        writers,
                    });
                }
            }
        }
    }
    cases
}

fn first_occurrences<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for &item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn driver_name(driver: WriterDriver) -> &'static str {
    match driver {
        WriterDriver::Threads => "threads",
        WriterDriver::Tasks => "tasks",
    }
}

/// Opens a fresh store in `dir`, appends from `case.writers` writers for `run_for`, shuts it down.
fn run_case(
    case: &Case,
    dir: &Path,
    body: &[u8],
    run_for: Duration,
    segment_bytes: u64,
    driver: WriterDriver,
) -> Result<CaseResult> {
    if dir.exists() {
        bail!(
            "{} already exists; each case needs a fresh store",
            dir.display()
        );
    }
    let config = StoreConfig {
        root_dir: dir.to_path_buf(),
        flush_mode: case.flush,
        io_mode: case.io,
        commit_log_segment_bytes: segment_bytes,
        ..StoreConfig::default()
    };
    let handle = StoreHandle::open(config)
        .with_context(|| format!("cannot open a store in {}", dir.display()))?;
    let store = handle.store().clone();
    let cpu_before = cpu::process_cpu_time();
    let outcomes = match driver {
        WriterDriver::Threads => run_threads(case, &store, body, run_for)?,
        WriterDriver::Tasks => run_tasks(case, &store, body, run_for)?,
    };
    let cpu = cpu::used_since(cpu_before);
    // How far consume queues and index trail the log when the writers stop: a store whose dispatch
    // cannot keep up would show fast appends that consumers see late.
    let behind = Instant::now();
    let caught_up = store.wait_dispatched(store.written_offset(), Duration::from_secs(60));
    let dispatch_lag_ms = behind.elapsed().as_secs_f64() * 1e3;
    if !caught_up {
        warn!(case = %case.label(), "dispatch did not catch up within 60 s");
    }
    handle
        .shutdown()
        .with_context(|| format!("store shutdown in {}", dir.display()))?;
    merge(case, body.len(), &outcomes, cpu, dispatch_lag_ms)
}

/// `case.writers` tasks on a runtime with one worker thread per core, each awaiting its appends.
fn run_tasks(
    case: &Case,
    store: &Store,
    body: &[u8],
    run_for: Duration,
) -> Result<Vec<WriterOutcome>> {
    let workers = thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .context("cannot start the writers' runtime")?;
    let body: std::sync::Arc<[u8]> = body.into();
    runtime.block_on(async {
        let start = Instant::now();
        let deadline = start + run_for;
        let tasks: Vec<_> = (0..case.writers)
            .map(|index| {
                let (store, body) = (store.clone(), body.clone());
                tokio::spawn(async move {
                    let mut w = Writer::new(index);
                    let mut now = Instant::now();
                    while now < deadline {
                        // One clock read per append: the previous one's end is this one's start.
                        let began = now;
                        let outcome = match store.put(&w.draft(&body, began)) {
                            Ok(put) => put.durable.await,
                            Err(e) => Err(e),
                        };
                        now = Instant::now();
                        if !w.record(outcome, began, now) {
                            break;
                        }
                    }
                    w.finish(start, now)
                })
            })
            .collect();
        let mut outcomes = Vec::with_capacity(tasks.len());
        for t in tasks {
            outcomes.push(t.await.map_err(|e| anyhow!("a writer task failed: {e}"))?);
        }
        Ok(outcomes)
    })
}

/// `case.writers` threads, released together, each blocking on its appends.
fn run_threads(
    case: &Case,
    store: &Store,
    body: &[u8],
    run_for: Duration,
) -> Result<Vec<WriterOutcome>> {
    let gate = StartGate::default();
    thread::scope(|scope| -> Result<Vec<WriterOutcome>> {
        let mut threads = Vec::new();
        for index in 0..case.writers {
            let store = store.clone();
            let gate = &gate;
            let spawned = thread::Builder::new()
                .name(format!("bench-writer-{index}"))
                .spawn_scoped(scope, move || append_loop(&store, index, body, gate));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    gate.abort();
                    return Err(e).context("cannot start a writer thread");
                }
            }
        }
        let start = Instant::now();
        gate.open(start, start + run_for);
        threads
            .into_iter()
            .map(|t| t.join().map_err(|_| anyhow!("a writer thread panicked")))
            .collect()
    })
}

/// What one writer thread measured.
#[derive(Debug)]
struct WriterOutcome {
    latencies_ns: Histogram<u64>,
    appended: u64,
    errors: u64,
    start: Instant,
    end: Instant,
}

fn merge(
    case: &Case,
    body_len: usize,
    outcomes: &[WriterOutcome],
    cpu: Duration,
    dispatch_lag_ms: f64,
) -> Result<CaseResult> {
    let mut latencies = new_histogram();
    let (mut appended, mut errors) = (0, 0);
    for o in outcomes {
        latencies
            .add(&o.latencies_ns)
            .map_err(|e| anyhow!("cannot merge latency histograms: {e:?}"))?;
        appended += o.appended;
        errors += o.errors;
    }
    let start = outcomes.iter().map(|o| o.start).min();
    let end = outcomes.iter().map(|o| o.end).max();
    let elapsed_s = match (start, end) {
        (Some(s), Some(e)) => e.duration_since(s).as_secs_f64(),
        _ => 0.0,
    };
    let per_s = |n: f64| if elapsed_s > 0.0 { n / elapsed_s } else { 0.0 };
    // Nanoseconds in the histogram, microseconds in the report.
    let quantile_us = |q: f64| latencies.value_at_quantile(q) as f64 / 1e3;
    Ok(CaseResult {
        flush: report::flush_name(case.flush),
        io: report::io_name(case.io),
        size: case.size,
        writers: case.writers,
        msgs_per_s: per_s(appended as f64),
        mb_per_s: per_s(appended as f64 * body_len as f64) / 1e6,
        p50_us: quantile_us(0.5),
        p99_us: quantile_us(0.99),
        p999_us: quantile_us(0.999),
        cpu_us_per_msg: if appended > 0 {
            cpu.as_secs_f64() * 1e6 / appended as f64
        } else {
            0.0
        },
        dispatch_lag_ms,
        errors,
        appended,
        elapsed_s,
    })
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("constant bounds are valid")
}

/// One writer's state, whichever driver runs it: its keys, counters and latency histogram.
struct Writer {
    index: u32,
    born_host: SocketAddr,
    store_host: SocketAddr,
    /// Unique keys shaped like a client's: 32 hex digits, host and process first, then a counter.
    key_prefix: String,
    /// The properties of the message being appended.
    props: String,
    /// The wall clock (Unix ms) at an instant: born timestamps without a clock read per append.
    epoch: (i64, Instant),
    latencies_ns: Histogram<u64>,
    appended: u64,
    errors: u64,
}

impl Writer {
    fn new(index: u32) -> Writer {
        Writer {
            index,
            born_host: SocketAddr::from(([127, 0, 0, 1], 40_000 + (index % 20_000) as u16)),
            store_host: SocketAddr::from(([127, 0, 0, 1], 10_911)),
            key_prefix: format!(
                "7F000001{:04X}{:04X}",
                std::process::id() & 0xFFFF,
                index & 0xFFFF
            ),
            props: String::new(),
            epoch: (unix_millis(), Instant::now()),
            latencies_ns: new_histogram(),
            appended: 0,
            errors: 0,
        }
    }

    /// The next message, born at `at`: its properties (a unique key) are built in a buffer the
    /// writer reuses, so the bench itself allocates nothing per append.
    fn draft<'a>(&'a mut self, body: &'a [u8], at: Instant) -> RecordDraft<'a> {
        self.props.clear();
        self.props.push_str(keys::UNIQ_KEY);
        self.props.push(properties::NAME_VALUE_SEPARATOR);
        self.props.push_str(&self.key_prefix);
        push_hex16(&mut self.props, self.appended);
        self.props.push(properties::PROPERTY_SEPARATOR);
        let since_epoch = at.saturating_duration_since(self.epoch.1).as_millis();
        RecordDraft {
            topic: TOPIC,
            queue_id: self.index % QUEUES,
            flag: 0,
            sys_flag: 0,
            born_timestamp: self
                .epoch
                .0
                .saturating_add(i64::try_from(since_epoch).unwrap_or(i64::MAX)),
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body,
            properties: &self.props,
        }
    }

    /// Records one append timed from `began` to `now`; false when it failed. The first failure is
    /// logged and ends this writer, because a store that refuses one append (poisoned, shut down,
    /// full) refuses the next ones too.
    fn record(&mut self, outcome: ferromq_store::Result<()>, began: Instant, now: Instant) -> bool {
        match outcome {
            Ok(()) => {
                let nanos = u64::try_from(now.duration_since(began).as_nanos()).unwrap_or(u64::MAX);
                self.latencies_ns.saturating_record(nanos.max(1));
                self.appended += 1;
                true
            }
            Err(error) => {
                self.errors += 1;
                warn!(writer = self.index, %error, "append failed; this writer stops");
                false
            }
        }
    }

    fn finish(self, start: Instant, end: Instant) -> WriterOutcome {
        WriterOutcome {
            latencies_ns: self.latencies_ns,
            appended: self.appended,
            errors: self.errors,
            start,
            end,
        }
    }
}

/// One writer thread: single puts in a loop until the deadline, each timed from before `put` to
/// after the durable wait.
fn append_loop(store: &Store, index: u32, body: &[u8], gate: &StartGate) -> WriterOutcome {
    let mut w = Writer::new(index);
    let Some((start, deadline)) = gate.wait() else {
        let now = Instant::now();
        return w.finish(now, now);
    };
    let mut now = start;
    while now < deadline {
        let began = now;
        let outcome = store
            .put(&w.draft(body, began))
            .and_then(|put| put.durable.wait());
        now = Instant::now();
        if !w.record(outcome, began, now) {
            break;
        }
    }
    w.finish(start, now)
}

/// Appends `n` as 16 upper-case hex digits, as a client's unique key ends.
fn push_hex16(out: &mut String, n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..16).rev() {
        out.push(char::from(DIGITS[((n >> (shift * 4)) & 0xF) as usize]));
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Holds the writers until all are started, then releases them together with one deadline (or tells
/// them to quit when a thread could not be started).
#[derive(Debug, Default)]
struct StartGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default, Clone, Copy)]
enum GateState {
    #[default]
    Closed,
    Open {
        start: Instant,
        deadline: Instant,
    },
    Aborted,
}

impl StartGate {
    fn set(&self, state: GateState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        self.changed.notify_all();
    }

    fn open(&self, start: Instant, deadline: Instant) {
        self.set(GateState::Open { start, deadline });
    }

    fn abort(&self) {
        self.set(GateState::Aborted);
    }

    /// Blocks until the gate opens (`Some((start, deadline))`) or is aborted (`None`).
    fn wait(&self) -> Option<(Instant, Instant)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match *state {
                GateState::Closed => {
                    state = self
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                GateState::Open { start, deadline } => return Some((start, deadline)),
                GateState::Aborted => return None,
            }
        }
    }
}

/// The folder the bench writes in: `--dir` as given, or a new `target/bench-store-*` folder that is
/// removed when this value is dropped, on success or error, unless `--keep`.
#[derive(Debug)]
struct Scratch {
    path: PathBuf,
    /// Set when this bench created the folder and should remove it.
    temp: Option<TempDir>,
}

impl Scratch {
    fn new(dir: Option<&Path>, keep: bool) -> Result<Scratch> {
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            return Ok(Scratch {
                path: dir.to_path_buf(),
                temp: None,
            });
        }
        let parent = Path::new("target");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let temp = tempfile::Builder::new()
            .prefix("bench-store-")
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
        Ok(if keep {
            Scratch {
                path: temp.keep(),
                temp: None,
            }
        } else {
            Scratch {
                path: temp.path().to_path_buf(),
                temp: Some(temp),
            }
        })
    }

    /// Removes the folder if this bench created it and was not asked to keep it.
    fn finish(self) {
        if let Some(temp) = self.temp {
            let path = temp.path().to_path_buf();
            if let Err(error) = temp.close() {
                warn!(dir = %path.display(), %error, "cannot remove the bench folder");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keys_end_in_sixteen_hex_digits() {
        let mut s = String::from("x");
        push_hex16(&mut s, 0x0123_4567_89AB_CDEF);
        assert_eq!(s, "x0123456789ABCDEF");
        s.clear();
        push_hex16(&mut s, 42);
        assert_eq!(s, format!("{:016X}", 42));
    }

    #[test]
    fn gate_releases_every_waiter_with_one_deadline() {
        let gate = StartGate::default();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(5);
        let seen: Vec<_> = thread::scope(|s| {
            let waiters: Vec<_> = (0..4).map(|_| s.spawn(|| gate.wait())).collect();
            gate.open(start, deadline);
            waiters
                .into_iter()
                .map(|w| w.join().expect("waiter ran"))
                .collect()
        });
        assert!(seen.iter().all(|s| *s == Some((start, deadline))));
    }

    #[test]
    fn a_short_case_appends_into_a_real_store_in_both_flush_modes_and_drivers() {
        let root = tempfile::tempdir().expect("temp dir");
        let body = crate::random_bytes(128);
        for (flush, driver) in [
            (FlushMode::AsyncFlush, WriterDriver::Threads),
            (FlushMode::SyncFlush, WriterDriver::Threads),
            (FlushMode::AsyncFlush, WriterDriver::Tasks),
            (FlushMode::SyncFlush, WriterDriver::Tasks),
        ] {
            let case = Case {
                io: IoMode::Pwrite,
                flush,
                size: body.len(),
                writers: 3,
            };
            let dir = root
                .path()
                .join(format!("{}-{}", case.label(), driver_name(driver)));
            let run_for = Duration::from_millis(100);
            let result = run_case(&case, &dir, &body, run_for, 8 << 20, driver).expect("case runs");
            assert_eq!(result.errors, 0, "{result:?}");
            assert!(result.appended > 0, "{result:?}");
            assert!(result.msgs_per_s > 0.0 && result.p50_us > 0.0, "{result:?}");
            assert!(result.p50_us <= result.p99_us && result.p99_us <= result.p999_us);
            assert!(
                run_case(&case, &dir, &body, Duration::ZERO, 8 << 20, driver).is_err(),
                "reused folder"
            );
        }
    }

    #[test]
    fn plan_runs_each_combination_once_in_report_order() {
        use clap::Parser;
        let cli = crate::args::Cli::try_parse_from([
            "ferromq",
            "bench",
            "store",
            "--size",
            "1024,128,1024",
            "--writers",
            "8,1,8",
            "--io",
            "both",
        ])
        .expect("flags parse");
        let crate::args::Command::Bench(crate::args::BenchCommand::Store(args)) = cli.command
        else {
            panic!("bench store expected");
        };
        let labels: Vec<String> = plan(&args).iter().map(Case::label).collect();
        assert_eq!(labels.len(), 2 * 2 * 2 * 2);
        assert_eq!(labels[0], "pwrite-async-1024B-8w");
        assert_eq!(labels[1], "pwrite-async-1024B-1w");
        assert_eq!(labels[2], "pwrite-async-128B-8w");
        assert_eq!(labels[15], "mmap-sync-128B-1w");
    }

    #[test]
    fn aborted_gate_sends_waiters_home() {
        let gate = StartGate::default();
        gate.abort();
        assert_eq!(gate.wait(), None);
    }
}
