//! Live measurement of one direction of traffic (sends or receipts): counters, and one HDR
//! latency histogram per recording task, so recording never contends with other tasks. Once a
//! second the progress task swaps every task's interval histogram out, prints a line, and adds it
//! to the run's total.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Latencies are recorded in nanoseconds, from 1 ns to a minute (longer ones count as a minute),
/// to three significant digits.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("constant bounds are valid")
}

/// Label of the sending direction.
pub const SEND: &str = "send";
/// Label of the receiving direction.
pub const RECV: &str = "recv";

/// Counters and latency recorders of one direction.
#[derive(Debug)]
pub struct Meter {
    /// What the progress line calls this direction ("send", "recv").
    pub label: &'static str,
    msgs: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    recorders: Mutex<Vec<Arc<Mutex<Histogram<u64>>>>>,
}

/// One task's handle on a [`Meter`].
#[derive(Debug, Clone)]
pub struct Recorder {
    meter: Arc<Meter>,
    interval: Arc<Mutex<Histogram<u64>>>,
}

impl Meter {
    pub fn new(label: &'static str) -> Arc<Meter> {
        Arc::new(Meter {
            label,
            msgs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            recorders: Mutex::new(Vec::new()),
        })
    }

    /// A recorder with its own histogram, for one task (or one tightly coupled group of them).
    pub fn recorder(self: &Arc<Self>) -> Recorder {
        let interval = Arc::new(Mutex::new(new_histogram()));
        self.recorders.lock().push(interval.clone());
        Recorder {
            meter: self.clone(),
            interval,
        }
    }

    pub fn msgs(&self) -> u64 {
        self.msgs.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The latencies recorded since the last call, merged; the recorders start afresh.
    fn take_interval(&self) -> Histogram<u64> {
        let mut merged = new_histogram();
        for r in self.recorders.lock().iter() {
            let mut h = r.lock();
            // Same bounds everywhere, so adding cannot fail.
            let _ = merged.add(&*h);
            h.reset();
        }
        merged
    }
}

impl Recorder {
    /// `count` messages of `bytes` bytes in total, each with this latency.
    pub fn record(&self, latency: Duration, count: u64, bytes: u64) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.interval
            .lock()
            .saturating_record_n(ns.clamp(1, LATENCY_MAX_NS), count);
        self.meter.msgs.fetch_add(count, Ordering::Relaxed);
        self.meter.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Messages counted without a latency (a receipt without a stamp).
    pub fn count(&self, count: u64, bytes: u64) {
        self.meter.msgs.fetch_add(count, Ordering::Relaxed);
        self.meter.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn error(&self, count: u64) {
        self.meter.errors.fetch_add(count, Ordering::Relaxed);
    }
}

/// The progress task: a line on stderr each second, and the run's total histograms.
#[derive(Debug)]
pub struct Progress {
    token: CancellationToken,
    task: JoinHandle<Vec<Histogram<u64>>>,
    meters: Vec<Arc<Meter>>,
}

impl Progress {
    /// Starts reporting on `meters` (in line order); `quiet` keeps stderr silent.
    pub fn start(meters: Vec<Arc<Meter>>, started: Instant, quiet: bool) -> Progress {
        let token = CancellationToken::new();
        let task = tokio::spawn(report_loop(meters.clone(), started, quiet, token.clone()));
        Progress {
            token,
            task,
            meters,
        }
    }

    /// Stops the task; returns each meter's whole-run histogram, in the order given to `start`.
    pub async fn finish(self) -> Vec<Histogram<u64>> {
        self.token.cancel();
        let mut totals = match self.task.await {
            Ok(totals) => totals,
            // The loop cannot panic short of a bug; fall back to what is left in the recorders.
            Err(_) => self.meters.iter().map(|_| new_histogram()).collect(),
        };
        for (total, meter) in totals.iter_mut().zip(&self.meters) {
            let _ = total.add(meter.take_interval());
        }
        totals
    }
}

async fn report_loop(
    meters: Vec<Arc<Meter>>,
    started: Instant,
    quiet: bool,
    token: CancellationToken,
) -> Vec<Histogram<u64>> {
    let mut totals: Vec<Histogram<u64>> = meters.iter().map(|_| new_histogram()).collect();
    let mut last: Vec<(u64, u64)> = meters.iter().map(|m| (m.msgs(), m.bytes())).collect();
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::from_std(started) + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = started;
    loop {
        tokio::select! {
            () = token.cancelled() => return totals,
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        let secs = now.duration_since(last_tick).as_secs_f64().max(1e-9);
        last_tick = now;
        let mut parts = Vec::with_capacity(meters.len());
        for (i, meter) in meters.iter().enumerate() {
            let interval = meter.take_interval();
            let (msgs, bytes) = (meter.msgs(), meter.bytes());
            let (dm, db) = (msgs - last[i].0, bytes - last[i].1);
            last[i] = (msgs, bytes);
            parts.push(progress_part(
                meter,
                &interval,
                dm as f64 / secs,
                db as f64 / secs,
            ));
            let _ = totals[i].add(&interval);
        }
        if !quiet {
            let elapsed = now.duration_since(started).as_secs();
            let line = format!("[{elapsed:>4}s] {}", parts.join(" | "));
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

fn progress_part(meter: &Meter, h: &Histogram<u64>, msgs_per_s: f64, bytes_per_s: f64) -> String {
    let q = |q: f64| format_latency(h.value_at_quantile(q));
    let mut part = format!(
        "{} {:>9.0} msgs/s {:>7.1} MB/s  p50 {} p99 {} p99.9 {}",
        meter.label,
        msgs_per_s,
        bytes_per_s / 1e6,
        q(0.5),
        q(0.99),
        q(0.999),
    );
    // Only sends fail; a receipt is a receipt.
    if meter.label == SEND {
        part.push_str(&format!("  errors {}", meter.errors()));
    }
    part
}

/// A latency in nanoseconds, in the unit that keeps it readable.
pub fn format_latency(ns: u64) -> String {
    if ns == 0 {
        "-".to_owned()
    } else if ns < 1_000_000 {
        format!("{:.0}µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else {
        format!("{:.2}s", ns as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_feed_their_meter() {
        let meter = Meter::new("send");
        let (a, b) = (meter.recorder(), meter.recorder());
        a.record(Duration::from_micros(100), 1, 1024);
        b.record(Duration::from_micros(300), 3, 3072);
        b.count(2, 10);
        a.error(1);
        assert_eq!((meter.msgs(), meter.bytes(), meter.errors()), (6, 4106, 1));
        let h = meter.take_interval();
        assert_eq!(h.len(), 4);
        assert!((99_000..=101_000).contains(&h.min()), "{}", h.min());
        assert!((299_000..=301_000).contains(&h.max()), "{}", h.max());
        assert_eq!(meter.take_interval().len(), 0, "the interval starts afresh");
    }

    #[test]
    fn out_of_range_latencies_are_clamped_not_lost() {
        let meter = Meter::new("recv");
        let r = meter.recorder();
        r.record(Duration::ZERO, 1, 0);
        r.record(Duration::from_secs(3600), 1, 0);
        let h = meter.take_interval();
        assert_eq!(h.len(), 2);
        assert!(h.max() >= LATENCY_MAX_NS - LATENCY_MAX_NS / 1000);
    }

    #[test]
    fn latencies_print_in_a_readable_unit() {
        assert_eq!(format_latency(0), "-");
        assert_eq!(format_latency(1_500), "2µs");
        assert_eq!(format_latency(2_500_000), "2.5ms");
        assert_eq!(format_latency(3_000_000_000), "3.00s");
    }
}
