//! The sending side of `--protocol grpc`: the same schedule, pacing and stamps as the remoting
//! senders (`produce.rs`), sent with v5 SendMessage by `--clients` producer sessions (one HTTP/2
//! connection each) shared round-robin by `--producers` tasks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::Bytes;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::grpc_client::{CallError, Role, Session};
use super::meter::{Meter, Recorder};
use super::net_args::{NetBenchArgs, SendMode};
use super::net_report::Summary;
use super::produce::{measure, Claim, Schedule, SendSide};
use super::topic;

/// `bench produce --protocol grpc`.
pub async fn bench(args: &NetBenchArgs, interrupt: CancellationToken) -> Result<Summary> {
    topic::ensure(
        &args.namesrv_addrs(),
        &args.access.resolve()?,
        &args.topic,
        args.queues,
    )
    .await?;
    measure(args, interrupt, GrpcSenders::start(args).await?).await
}

impl SendSide for GrpcSenders {
    fn run(
        &self,
        schedule: &Arc<Schedule>,
        meter: &Arc<Meter>,
    ) -> impl std::future::Future<Output = Result<()>> + Send {
        GrpcSenders::run(self, schedule, meter)
    }

    fn shutdown(self) -> impl std::future::Future<Output = ()> + Send {
        GrpcSenders::shutdown(self)
    }
}

/// The producer sessions of a run.
#[derive(Debug)]
pub struct GrpcSenders {
    sessions: Vec<Arc<Session>>,
    tasks: u32,
    window: u32,
}

impl GrpcSenders {
    /// Starts `--clients` producer sessions on `--grpc`; nothing is sent yet.
    pub async fn start(args: &NetBenchArgs) -> Result<GrpcSenders> {
        if args.mode == SendMode::Oneway {
            bail!("--mode oneway has no v5 equivalent: every SendMessage is answered");
        }
        let mut sessions = Vec::new();
        for _ in 0..args.client_count() {
            let role = Role::Producer {
                topics: vec![args.topic.clone()],
            };
            match Session::start(&args.grpc_addr, role).await {
                Ok(s) => sessions.push(Arc::new(s)),
                Err(e) => {
                    for s in sessions {
                        if let Some(s) = Arc::into_inner(s) {
                            s.shutdown().await;
                        }
                    }
                    return Err(e.context("starting a v5 producer"));
                }
            }
        }
        Ok(GrpcSenders {
            sessions,
            tasks: args.producers,
            window: args.window(),
        })
    }

    /// Runs every sending task to the end of `schedule`.
    pub async fn run(&self, schedule: &Arc<Schedule>, meter: &Arc<Meter>) -> Result<()> {
        let mut tasks = JoinSet::new();
        for i in 0..self.tasks {
            let session = self.sessions[i as usize % self.sessions.len()].clone();
            tasks.spawn(send_loop(
                session,
                schedule.clone(),
                meter.recorder(),
                self.window,
            ));
        }
        while let Some(done) = tasks.join_next().await {
            if done.is_err() {
                bail!("a sending task panicked");
            }
        }
        Ok(())
    }

    /// Ends the sessions.
    pub async fn shutdown(self) {
        for s in self.sessions {
            if let Some(s) = Arc::into_inner(s) {
                s.shutdown().await;
            }
        }
    }
}

type Sent = (Claim, Result<(), CallError>, Duration);

/// One sending task: claims requests from the schedule and keeps up to `window` in flight (sync
/// and batch modes: one). A claim of several messages (batch mode) is one SendMessage.
async fn send_loop(
    session: Arc<Session>,
    schedule: Arc<Schedule>,
    recorder: Recorder,
    window: u32,
) {
    let bytes_per_msg = schedule.body_len();
    let settle = |(claim, result, latency): Sent| match result {
        Ok(()) => recorder.record(latency, claim.count, claim.count * bytes_per_msg),
        Err(e) => {
            recorder.error(claim.count);
            schedule.failed(&e);
        }
    };
    let mut in_flight: JoinSet<Sent> = JoinSet::new();
    while let Some(claim) = schedule.claim() {
        // As the remoting senders: settle finished sends while waiting for the due time, and never
        // hand a due time already past to the timer.
        while claim.due > Instant::now() {
            tokio::select! {
                biased;
                Some(Ok(done)) = in_flight.join_next(), if !in_flight.is_empty() => settle(done),
                () = tokio::time::sleep_until(claim.due.into()) => break,
                () = schedule.interrupt().cancelled() => break,
            }
        }
        if schedule.interrupt().is_cancelled() {
            break;
        }
        let bodies: Vec<Bytes> = schedule
            .bodies(&claim)
            .into_iter()
            .map(Bytes::from)
            .collect();
        if window <= 1 {
            let result = session.send(schedule.topic(), bodies).await;
            settle((claim, result, claim.due.elapsed()));
            continue;
        }
        let session = session.clone();
        let topic = schedule.topic().to_owned();
        in_flight.spawn(async move {
            let result = session.send(&topic, bodies).await;
            (claim, result, claim.due.elapsed())
        });
        while in_flight.len() >= window as usize {
            if let Some(Ok(done)) = in_flight.join_next().await {
                settle(done);
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Ok(done) = done {
            settle(done);
        }
    }
}
