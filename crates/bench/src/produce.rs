//! The sending side of the network benches: `--producers` tasks sharing `--clients` [`Producer`]
//! instances round-robin (task i uses client i mod clients; each client holds one connection per
//! broker), sending stamped messages of one topic.
//!
//! Pacing: with `--rate R`, message number k of the run is due at `start + k / R`, whichever task
//! claims it, so the aggregate is an even schedule rather than bursts per task. Latency is measured
//! from that due time, not from the moment the send left, so a stalled broker shows as latency
//! instead of silently lowering the offered load (coordinated omission). Without `--rate`, a
//! message is due when its task claims it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use ferromq_client::{ClientError, Message, Producer, ProducerConfig};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::cpu::{self, process_cpu_time};
use super::meter::{Meter, Progress, Recorder, SEND};
use super::net_args::{Limit, NetBenchArgs, SendMode};
use super::net_report::{Latency, Summary};
use super::stamp::{unix_ns, Stamp};
use super::{new_run_id, topic};

/// Producer group the bench registers with.
const PRODUCER_GROUP: &str = "ferromq_bench_producer";

/// What every sending task shares: the schedule and the message template.
#[derive(Debug)]
pub struct Schedule {
    pub run_id: u64,
    topic: String,
    /// Random bytes; each body is a copy with the stamp written over its start.
    template: Bytes,
    per_request: u64,
    limit: Limit,
    rate: Option<f64>,
    started: Instant,
    started_wall: SystemTime,
    next_seq: AtomicU64,
    first_error: OnceLock<String>,
    /// Ctrl-C: no new request is started once it fires.
    interrupt: CancellationToken,
}

/// A run of consecutive sequence numbers one request carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim {
    pub seq: u64,
    pub count: u64,
    pub due: Instant,
}

impl Schedule {
    pub fn new(
        args: &NetBenchArgs,
        run_id: u64,
        started: Instant,
        interrupt: CancellationToken,
    ) -> Schedule {
        Schedule {
            run_id,
            topic: args.topic.clone(),
            template: Bytes::from(super::random_bytes(args.size)),
            per_request: u64::from(args.per_request()),
            limit: args.limit(),
            rate: args.rate,
            started,
            started_wall: SystemTime::now(),
            next_seq: AtomicU64::new(0),
            first_error: OnceLock::new(),
            interrupt,
        }
    }

    /// The next request's messages, or `None` when the run is over.
    pub(crate) fn claim(&self) -> Option<Claim> {
        if self.interrupt.is_cancelled() {
            return None;
        }
        let seq = self.next_seq.fetch_add(self.per_request, Ordering::Relaxed);
        let count = match self.limit {
            Limit::Messages(total) if seq >= total => return None,
            Limit::Messages(total) => self.per_request.min(total - seq),
            Limit::Duration(_) => self.per_request,
        };
        let due = match self.rate {
            Some(rate) => self.started + Duration::from_secs_f64(seq as f64 / rate),
            None => Instant::now(),
        };
        if let Limit::Duration(d) = self.limit {
            if due >= self.started + d {
                return None;
            }
        }
        Some(Claim { seq, count, due })
    }

    fn messages(&self, claim: &Claim) -> Vec<Message> {
        self.bodies(claim)
            .into_iter()
            .map(|body| Message::new(self.topic.clone(), body))
            .collect()
    }

    /// The stamped bodies of a claim's messages.
    pub(crate) fn bodies(&self, claim: &Claim) -> Vec<Vec<u8>> {
        let sent_unix_ns = unix_ns(self.started_wall + claim.due.duration_since(self.started));
        (claim.seq..claim.seq + claim.count)
            .map(|seq| {
                let mut body = self.template.to_vec();
                Stamp {
                    run_id: self.run_id,
                    seq,
                    sent_unix_ns,
                }
                .write(&mut body);
                body
            })
            .collect()
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn body_len(&self) -> u64 {
        self.template.len() as u64
    }

    /// Ctrl-C: fires when the run is interrupted.
    pub(crate) fn interrupt(&self) -> &CancellationToken {
        &self.interrupt
    }

    /// Keeps the run's first send failure (and logs it); later ones are only counted.
    pub(crate) fn failed(&self, error: &dyn std::fmt::Display) {
        if self.first_error.set(error.to_string()).is_ok() {
            warn!(error = %error, "send failed (later failures are only counted)");
        }
    }

    /// The first send failure of the run, for the summary.
    pub fn first_error(&self) -> Option<&str> {
        self.first_error.get().map(String::as_str)
    }
}

/// What sends the messages of a `bench produce` run: remoting producers ([`Senders`]) or v5
/// sessions (`grpc_produce::GrpcSenders`); [`measure`] is the same for both.
pub(crate) trait SendSide {
    /// Sends on `schedule` until it ends, recording each send in `meter`.
    fn run(
        &self,
        schedule: &Arc<Schedule>,
        meter: &Arc<Meter>,
    ) -> impl std::future::Future<Output = Result<()>> + Send;
    /// Closes the clients.
    fn shutdown(self) -> impl std::future::Future<Output = ()> + Send;
}

impl SendSide for Senders {
    fn run(
        &self,
        schedule: &Arc<Schedule>,
        meter: &Arc<Meter>,
    ) -> impl std::future::Future<Output = Result<()>> + Send {
        Senders::run(self, schedule, meter)
    }

    fn shutdown(self) -> impl std::future::Future<Output = ()> + Send {
        Senders::shutdown(self)
    }
}

/// `bench produce`: sends until the schedule ends, measuring each send from its due time.
pub async fn bench(args: &NetBenchArgs, interrupt: CancellationToken) -> Result<Summary> {
    topic::ensure(
        &args.namesrv_addrs(),
        &args.access.resolve()?,
        &args.topic,
        args.queues,
    )
    .await?;
    measure(args, interrupt, Senders::start(args).await?).await
}

/// Runs `senders` on the schedule `args` describe and sums the run up.
pub(crate) async fn measure(
    args: &NetBenchArgs,
    interrupt: CancellationToken,
    senders: impl SendSide,
) -> Result<Summary> {
    let meter = Meter::new(SEND);
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let schedule = Arc::new(Schedule::new(args, new_run_id(), started, interrupt));
    let progress = Progress::start(vec![meter.clone()], started, args.quiet);
    let result = senders.run(&schedule, &meter).await;
    let elapsed = started.elapsed();
    let cpu = cpu::used_since(cpu_before);
    let totals = progress.finish().await;
    senders.shutdown().await;
    result?;
    let sent = meter.msgs();
    if sent == 0 {
        bail!(
            "nothing was sent: {}",
            schedule.first_error().unwrap_or("no send completed")
        );
    }
    let mut summary = Summary::new("produce", args);
    summary.sent = sent;
    summary.errors = meter.errors();
    summary.latency = Latency::of(&totals[0]);
    summary.set_rates(sent, meter.bytes(), elapsed, cpu, sent);
    Ok(summary)
}

/// The producer clients of a run.
#[derive(Debug)]
pub struct Senders {
    clients: Vec<Arc<Producer>>,
    tasks: u32,
    mode: SendMode,
    window: u32,
}

impl Senders {
    /// Starts `--clients` producers; nothing is sent yet.
    pub async fn start(args: &NetBenchArgs) -> Result<Senders> {
        let access = args.access.resolve()?;
        let mut clients = Vec::new();
        for i in 0..args.client_count() {
            let producer = Producer::start(ProducerConfig {
                namesrv_addrs: args.namesrv_addrs(),
                tls: access.tls.clone(),
                credentials: access.credentials.clone(),
                group: PRODUCER_GROUP.to_owned(),
                default_topic_queue_nums: i32::try_from(args.queues).unwrap_or(i32::MAX),
                instance_name: Some(format!("bench-{}-{i}", std::process::id())),
                ..ProducerConfig::default()
            })
            .await
            .context("starting a producer")?;
            clients.push(Arc::new(producer));
        }
        Ok(Senders {
            clients,
            tasks: args.producers,
            mode: args.mode,
            window: args.window(),
        })
    }

    /// Runs every sending task to the end of `schedule`.
    pub async fn run(&self, schedule: &Arc<Schedule>, meter: &Arc<Meter>) -> Result<()> {
        let mut tasks = JoinSet::new();
        for i in 0..self.tasks {
            let producer = self.clients[i as usize % self.clients.len()].clone();
            tasks.spawn(send_loop(
                producer,
                schedule.clone(),
                meter.recorder(),
                self.mode,
                self.window,
            ));
        }
        while let Some(done) = tasks.join_next().await {
            done.context("a sending task panicked")?;
        }
        Ok(())
    }

    /// Unregisters the producers and closes their connections.
    pub async fn shutdown(self) {
        for producer in self.clients {
            if let Some(p) = Arc::into_inner(producer) {
                p.shutdown().await;
            }
        }
    }
}

/// A finished request: what it carried, how it ended, its latency from the due time.
type Sent = (Claim, Result<(), ClientError>, Duration);

/// One sending task: claims requests from the schedule and keeps up to `window` of them in flight.
async fn send_loop(
    producer: Arc<Producer>,
    schedule: Arc<Schedule>,
    recorder: Recorder,
    mode: SendMode,
    window: u32,
) {
    let bytes_per_msg = schedule.template.len() as u64;
    // Latency is taken when the send completes, which may be before its task settles it.
    let settle = |(claim, result, latency): Sent| match result {
        Ok(()) => recorder.record(latency, claim.count, claim.count * bytes_per_msg),
        Err(e) => {
            recorder.error(claim.count);
            if schedule.first_error.set(e.to_string()).is_ok() {
                warn!(error = %e, "send failed (later failures are only counted)");
            }
        }
    };
    let mut in_flight: JoinSet<Sent> = JoinSet::new();
    while let Some(claim) = schedule.claim() {
        // Wait for the due time, settling finished sends meanwhile. A due time already past must
        // not reach the timer: it would round up to the next millisecond tick.
        while claim.due > Instant::now() {
            tokio::select! {
                biased;
                Some(Ok(done)) = in_flight.join_next(), if !in_flight.is_empty() => settle(done),
                () = tokio::time::sleep_until(claim.due.into()) => break,
                () = schedule.interrupt.cancelled() => break,
            }
        }
        if schedule.interrupt.is_cancelled() {
            break;
        }
        let mut msgs = schedule.messages(&claim);
        match mode {
            SendMode::Async => {
                let send = producer.send_async(msgs.remove(0));
                in_flight.spawn(async move {
                    let result = send.await.map(drop);
                    (claim, result, claim.due.elapsed())
                });
                while in_flight.len() >= window as usize {
                    if let Some(Ok(done)) = in_flight.join_next().await {
                        settle(done);
                    }
                }
            }
            SendMode::Sync => {
                let result = producer.send(msgs.remove(0)).await.map(drop);
                settle((claim, result, claim.due.elapsed()));
            }
            SendMode::Oneway => {
                let result = producer.send_oneway(msgs.remove(0)).await;
                settle((claim, result, claim.due.elapsed()));
            }
            SendMode::Batch => {
                let result = producer.send_batch(msgs).await.map(drop);
                settle((claim, result, claim.due.elapsed()));
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Ok(done) = done {
            settle(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{BenchCommand, Cli, Command};

    fn schedule(extra: &[&str]) -> Schedule {
        let mut argv = vec!["ferromq", "bench", "produce", "--size", "64"];
        argv.extend_from_slice(extra);
        let Command::Bench(BenchCommand::Produce(args)) =
            Cli::try_parse_from(argv).expect("parses").command
        else {
            panic!("produce expected");
        };
        Schedule::new(&args, 7, Instant::now(), CancellationToken::new())
    }

    #[test]
    fn a_message_count_is_claimed_exactly_once_including_a_short_last_batch() {
        let s = schedule(&["--messages", "35", "--mode", "batch", "--batch", "16"]);
        let claims: Vec<(u64, u64)> = std::iter::from_fn(|| s.claim())
            .map(|c| (c.seq, c.count))
            .collect();
        assert_eq!(claims, vec![(0, 16), (16, 16), (32, 3)]);
        assert!(s.claim().is_none());
    }

    #[test]
    fn a_rate_spaces_due_times_evenly_and_ends_at_the_duration() {
        let s = schedule(&["--rate", "1000", "--seconds", "0.01"]);
        let dues: Vec<Duration> = std::iter::from_fn(|| s.claim())
            .map(|c| c.due.duration_since(s.started))
            .collect();
        assert_eq!(dues.len(), 10, "10 ms at 1000/s");
        for (k, due) in dues.iter().enumerate() {
            assert_eq!(*due, Duration::from_millis(k as u64));
        }
    }

    #[test]
    fn bodies_carry_the_run_the_sequence_and_the_due_time() {
        let s = schedule(&["--messages", "4", "--mode", "batch", "--batch", "2"]);
        let claim = s.claim().expect("first claim");
        let msgs = s.messages(&claim);
        assert_eq!(msgs.len(), 2);
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(m.topic, "BenchTopic");
            assert_eq!(m.body.len(), 64);
            let stamp = Stamp::read(&m.body).expect("stamped");
            assert_eq!((stamp.run_id, stamp.seq), (7, i as u64));
            assert!(stamp.sent_unix_ns >= unix_ns(s.started_wall));
        }
        assert_eq!(&msgs[0].body[32..], &s.template[32..]);
    }
}
