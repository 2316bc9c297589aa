//! `bench pop-crash`: POP consumption across `kill -9`. Starts `ferromq dev` as a child over a data
//! folder, sends `--messages` unique bodies with v5 SendMessage while a v5 simple consumer receives
//! and acks them, SIGKILLs the broker `--kills` times at random points (random counts of acked
//! messages), starts it again over the same folder each time, and goes on until every message is
//! acked or `--timeout-seconds` passed. It prints how many messages were delivered, redelivered
//! (received again: POP redelivery after the crash, or a send repeated because its answer was
//! lost), lost (confirmed sends never delivered: must be 0), corrupt (must be 0) and how long it took.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use clap::Args;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::args::{parse_body_size, parse_seconds, OutputFormat};
use super::dev_child::{this_binary, DevChild};
use super::grpc_client::{Role, Session};
use super::pop_crash_ledger::{Check, Counts, Ledger, MIN_BODY};
use super::{new_run_id, topic};

const TOPIC: &str = "PopCrashTopic";
/// Messages per ReceiveMessage.
const BATCH: u32 = 32;
/// Long polling of a receive: short, so a receive loop notices a dead broker and the run's end.
const LONG_POLL: Duration = Duration::from_secs(2);
/// Pause after a failed call (the broker is down, or restarting).
const BACKOFF: Duration = Duration::from_millis(20);
/// How often the run checks whether a kill point or the end was reached.
const WATCH: Duration = Duration::from_millis(5);

/// `ferromq bench pop-crash`.
#[derive(Debug, Clone, Args)]
pub struct PopCrashArgs {
    /// Messages to send and ack, each with a unique body.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    pub messages: u64,
    /// How many times the broker is killed with SIGKILL (and restarted).
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub kills: u32,
    /// Message body size (at least 32 bytes: the body carries its run and number).
    #[arg(long, value_name = "BYTES", value_parser = parse_body_size, default_value = "256")]
    pub size: usize,
    /// Concurrent sending tasks.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub producers: u32,
    /// Concurrent receive loops of the simple consumer.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub receivers: u32,
    /// Queue count of the topic.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub queues: u32,
    /// Invisible time of a received message: what was in flight at a kill comes back after it.
    #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = parse_seconds)]
    pub invisible_seconds: f64,
    /// Give up (and count what is missing) after this long.
    #[arg(long, value_name = "S", default_value_t = 900.0, value_parser = parse_seconds)]
    pub timeout_seconds: f64,
    /// The broker's data folder [default: a new temporary folder, removed at the end].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The `ferromq` binary to run as `ferromq dev` [default: this one].
    #[arg(long, value_name = "PATH")]
    pub ferromq: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// One SIGKILL.
#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    /// Seconds into the run.
    pub at_s: f64,
    /// Messages acked when it happened.
    pub acked: u64,
    /// Seconds from the kill until the restarted broker printed its ready line.
    pub restart_s: f64,
    /// Receipts of already received messages from this kill until the next one (or the end).
    pub redelivered_after: u64,
}

/// What `pop-crash` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub counts: Counts,
    /// Messages never acked when the run ended (0 unless it timed out).
    pub unacked: u64,
    pub kills: Vec<Kill>,
    pub elapsed_s: f64,
    pub timed_out: bool,
}

impl Report {
    fn to_text(&self) -> String {
        let c = &self.counts;
        let mut lines = vec![
            format!(
                "ferromq bench pop-crash: {} messages, {} kills, {:.1} s{}",
                c.messages,
                self.kills.len(),
                self.elapsed_s,
                if self.timed_out { " (TIMED OUT)" } else { "" }
            ),
            format!(
                "delivered {}, redelivered {}, lost {}, corrupt {}, acked {} (+{} whose ack's \
                 answer a kill cut off), unacked {}",
                c.delivered, c.redelivered, c.lost, c.corrupt, c.acked, c.ack_cut_off, self.unacked
            ),
            format!(
                "sends confirmed {}, resent {}; foreign receipts {}",
                c.confirmed, c.resent, c.foreign
            ),
        ];
        for (i, k) in self.kills.iter().enumerate() {
            lines.push(format!(
                "kill {}: at {:.1} s with {} acked; ready again after {:.2} s; {} received again after it",
                i + 1,
                k.at_s,
                k.acked,
                k.restart_s,
                k.redelivered_after
            ));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// Runs the tool on its own runtime and prints the report; fails when a message was lost or
/// corrupted, or the run timed out.
pub fn run(args: &PopCrashArgs) -> Result<()> {
    if args.size < MIN_BODY {
        bail!("--size must be at least {MIN_BODY} bytes");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let report = runtime.block_on(crash_run(args))?;
    match args.output {
        OutputFormat::Text => print!("{}", report.to_text()),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if report.counts.lost > 0 || report.counts.corrupt > 0 || report.timed_out {
        bail!(
            "{} lost, {} corrupt, {} never acked",
            report.counts.lost,
            report.counts.corrupt,
            report.unacked
        );
    }
    Ok(())
}

async fn crash_run(args: &PopCrashArgs) -> Result<Report> {
    let binary = match &args.ferromq {
        Some(path) => path.clone(),
        None => this_binary()?,
    };
    let scratch = tempfile::Builder::new()
        .prefix("ferromq-pop-crash-")
        .tempdir()
        .context("creating a temporary folder")?;
    let data = args
        .data_dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("data"));
    let log = scratch.path().join("dev.log");
    let run = new_run_id();
    let group = format!("pop_crash_{run:016x}");
    let ledger = Arc::new(Ledger::new(run, args.messages, args.size));
    let kill_points = kill_points(args.messages, args.kills);
    let invisible = Duration::from_secs_f64(args.invisible_seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.timeout_seconds);
    let mut kills: Vec<Kill> = Vec::new();
    let mut killed_at: Option<Instant> = None;
    let timed_out;
    loop {
        let mut dev = DevChild::start(&binary, &data, &log).await?;
        if let (Some(at), Some(k)) = (killed_at.take(), kills.last_mut()) {
            k.restart_s = at.elapsed().as_secs_f64();
        }
        if kills.is_empty() {
            topic::ensure(
                std::slice::from_ref(&dev.namesrv),
                &crate::access::Access::default(),
                TOPIC,
                args.queues,
            )
            .await?;
        }
        info!(grpc = %dev.grpc, pid = ?dev.pid(), "broker ready");
        let epoch = Epoch::start(&dev.grpc, &group, args, &ledger, invisible).await?;
        let next_kill = kill_points.get(kills.len()).copied();
        let epoch_started = Instant::now();
        let outcome = loop {
            if ledger.all_acked() {
                break Outcome::Done;
            }
            // An ack the broker took just before a kill never had its answer: that message does
            // not come back. One whose ack it did not take comes back once its invisible time has
            // passed since the restart; so once that time (and a margin) has passed, what is
            // left in doubt was acked.
            let settled = Instant::now()
                .checked_sub(invisible + LONG_POLL * 2)
                .is_some_and(|since| {
                    epoch_started <= since && ledger.all_acked_or_in_doubt_since(since)
                });
            if next_kill.is_none() && settled {
                break Outcome::Done;
            }
            if Instant::now() >= deadline {
                break Outcome::TimedOut;
            }
            if next_kill.is_some_and(|k| ledger.acked_count() >= k) {
                break Outcome::Kill;
            }
            tokio::time::sleep(WATCH).await;
        };
        match outcome {
            Outcome::Kill => {
                let acked = ledger.acked_count();
                dev.kill9()?;
                killed_at = Some(Instant::now());
                kills.push(Kill {
                    at_s: started.elapsed().as_secs_f64(),
                    acked,
                    restart_s: 0.0,
                    // Until the next kill: the total so far, turned into a difference below.
                    redelivered_after: ledger.counts().redelivered,
                });
                info!(acked, "broker killed with SIGKILL");
                epoch.stop(false).await;
            }
            Outcome::Done | Outcome::TimedOut => {
                epoch.stop(true).await;
                dev.stop()?;
                timed_out = outcome == Outcome::TimedOut;
                break;
            }
        }
    }
    let counts = ledger.counts();
    // Each kill's snapshot becomes the receipts again between it and the next snapshot.
    let mut next = counts.redelivered;
    for k in kills.iter_mut().rev() {
        let at_kill = k.redelivered_after;
        k.redelivered_after = next - at_kill;
        next = at_kill;
    }
    Ok(Report {
        unacked: counts.messages - counts.acked - counts.ack_cut_off,
        counts,
        kills,
        elapsed_s: started.elapsed().as_secs_f64(),
        timed_out,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Kill,
    TimedOut,
}

/// The acked counts at which the broker is killed: one random point in each of `kills` equal
/// slices of the run's first 90 %, so every kill lands with work still under way.
fn kill_points(messages: u64, kills: u32) -> Vec<u64> {
    let span = messages * 9 / 10;
    let slice = span / u64::from(kills.max(1));
    let random = super::random_bytes(8 * kills as usize);
    (0..u64::from(kills))
        .map(|i| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&random[i as usize * 8..i as usize * 8 + 8]);
            let offset = if slice == 0 {
                0
            } else {
                u64::from_le_bytes(word) % slice
            };
            (i * slice + offset).max(1)
        })
        .collect()
}

/// The clients of one broker incarnation: a producer and a simple consumer, and their tasks.
struct Epoch {
    producer: Arc<Session>,
    consumer: Arc<Session>,
    tasks: JoinSet<()>,
    stop: CancellationToken,
}

impl Epoch {
    async fn start(
        grpc: &str,
        group: &str,
        args: &PopCrashArgs,
        ledger: &Arc<Ledger>,
        invisible: Duration,
    ) -> Result<Epoch> {
        let producer = Arc::new(
            Session::start(
                grpc,
                Role::Producer {
                    topics: vec![TOPIC.to_owned()],
                },
            )
            .await?,
        );
        let consumer = Arc::new(
            Session::start(
                grpc,
                Role::SimpleConsumer {
                    group: group.to_owned(),
                    topic: TOPIC.to_owned(),
                },
            )
            .await?,
        );
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for _ in 0..args.producers {
            tasks.spawn(send_loop(producer.clone(), ledger.clone(), stop.clone()));
        }
        for _ in 0..args.receivers {
            tasks.spawn(receive_loop(
                consumer.clone(),
                ledger.clone(),
                invisible,
                stop.clone(),
            ));
        }
        Ok(Epoch {
            producer,
            consumer,
            tasks,
            stop,
        })
    }

    /// Stops the tasks; `clean`: the broker is alive, so the sessions say goodbye.
    async fn stop(mut self, clean: bool) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        for session in [self.producer, self.consumer] {
            if let Some(s) = Arc::into_inner(session) {
                if clean {
                    s.shutdown().await;
                } else {
                    s.abandon().await;
                }
            }
        }
    }
}

/// Sends messages one at a time until stopped; a send that fails (or is cut off by the stop) is
/// queued again: its outcome is unknown, so it may end up stored twice.
async fn send_loop(session: Arc<Session>, ledger: Arc<Ledger>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let Some(seq) = ledger.next_to_send() else {
            // Nothing left now; a failed send elsewhere may queue one again.
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(BACKOFF) => continue,
            }
        };
        let body = Bytes::from(ledger.body(seq));
        let sent = tokio::select! {
            () = stop.cancelled() => None,
            r = session.send(TOPIC, vec![body]) => Some(r),
        };
        match sent {
            Some(Ok(())) => ledger.confirmed(seq),
            Some(Err(_)) => {
                ledger.send_again(seq);
                tokio::time::sleep(BACKOFF).await;
            }
            None => {
                ledger.send_again(seq);
                return;
            }
        }
    }
}

/// Receives, checks every body, acks each batch, until stopped.
async fn receive_loop(
    session: Arc<Session>,
    ledger: Arc<Ledger>,
    invisible: Duration,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            r = session.receive(BATCH, invisible, LONG_POLL) => r,
        };
        let Ok(messages) = received else {
            tokio::time::sleep(BACKOFF).await;
            continue;
        };
        if messages.is_empty() {
            continue;
        }
        // Every delivery is acked, a corrupt or foreign one too (it is counted, and must not
        // come back forever); only this run's intact ones count as acked.
        let checks: Vec<Check> = messages.iter().map(|m| ledger.delivered(&m.body)).collect();
        let handles: Vec<(String, String)> = messages
            .into_iter()
            .map(|m| (m.message_id, m.receipt_handle))
            .collect();
        let acked = tokio::select! {
            () = stop.cancelled() => None,
            r = session.ack(&handles) => Some(r),
        };
        match acked {
            Some(Ok(accepted)) => {
                for (check, ok) in checks.iter().zip(accepted) {
                    if let (Check::Intact(seq), true) = (check, ok) {
                        ledger.acked(*seq);
                    }
                }
            }
            // No answer: the broker died (or the run stopped) with the ack on its way.
            Some(Err(_)) | None => {
                for check in &checks {
                    if let Check::Intact(seq) = check {
                        ledger.ack_cut_off(*seq);
                    }
                }
                if acked.is_none() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_points_rise_and_leave_work_after_the_last() {
        for _ in 0..100 {
            let points = kill_points(100_000, 3);
            assert_eq!(points.len(), 3);
            assert!(points.windows(2).all(|w| w[0] < w[1]), "{points:?}");
            assert!(points[0] >= 1 && points[2] < 90_000, "{points:?}");
        }
        assert_eq!(kill_points(10, 0), Vec::<u64>::new());
        assert_eq!(kill_points(1, 2), vec![1, 1], "tiny runs still kill");
    }
}
