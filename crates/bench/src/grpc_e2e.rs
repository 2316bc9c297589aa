//! `bench e2e --protocol grpc`: simple consumers first, then v5 producers. Each consumer session
//! runs [`RECEIVERS`] receive loops as an application on a SimpleConsumer does: ReceiveMessage
//! (long polling, up to [`BATCH`] messages), book the bodies, then ack the whole batch with one
//! AckMessage while the loop already receives again. Latency is send → receipt from the stamp, as
//! over remoting; the acks add their own rate and receipt → ack latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::consume::{Accept, Receipts};
use super::cpu::{self, process_cpu_time};
use super::grpc_client::{Role, Session};
use super::grpc_produce::GrpcSenders;
use super::meter::{Meter, Progress, Recorder, RECV, SEND};
use super::net_args::NetBenchArgs;
use super::net_report::{Latency, Summary};
use super::produce::Schedule;
use super::{new_run_id, topic};

/// Concurrent receive loops per consumer session.
const RECEIVERS: usize = 4;
/// Messages per ReceiveMessage (the SDKs' default, and the broker's maximum).
const BATCH: u32 = 32;
/// How long a received message stays invisible to the group: far longer than any ack takes here.
const INVISIBLE: Duration = Duration::from_secs(30);
/// Long-polling time of a receive (the SDKs wait up to 30 s; shorter keeps shutdown snappy).
const LONG_POLL: Duration = Duration::from_secs(15);
/// Label of the ack direction on the progress line.
const ACK: &str = "ack";

pub async fn bench(args: &NetBenchArgs, interrupt: CancellationToken) -> Result<Summary> {
    topic::ensure(
        &args.namesrv_addrs(),
        &args.access.resolve()?,
        &args.topic,
        args.queues,
    )
    .await?;
    let run_id = new_run_id();
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| format!("ferromq_bench_e2e_{run_id:016x}"));
    let receipts = Receipts::new(Accept::Run(run_id));
    let (send, recv, ack) = (Meter::new(SEND), Meter::new(RECV), Meter::new(ACK));
    let consumers = GrpcConsumers::start(args, &group, &receipts, &recv, &ack).await?;
    let senders = match GrpcSenders::start(args).await {
        Ok(s) => s,
        Err(e) => {
            consumers.shutdown().await;
            return Err(e);
        }
    };

    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let schedule = Arc::new(Schedule::new(args, run_id, started, interrupt));
    let meters = vec![send.clone(), recv.clone(), ack.clone()];
    let progress = Progress::start(meters, started, args.quiet);
    let sent_result = senders.run(&schedule, &send).await;
    let sends_done = Instant::now();
    let sent = send.msgs();
    let drain = Duration::from_secs_f64(args.drain_seconds);
    if tokio::time::timeout(drain, receipts.wait_for(sent))
        .await
        .is_err()
    {
        warn!(
            sent,
            received = receipts.received(),
            "not every sent message arrived within --drain-seconds"
        );
    }
    let ended = receipts
        .last_receipt()
        .map_or(sends_done, |r| r.max(sends_done));
    // The acks of the last receipts are still on their way: stopping the consumers waits for them.
    consumers.shutdown().await;
    let acks_done = Instant::now();
    let cpu = cpu::used_since(cpu_before);
    let totals = progress.finish().await;
    senders.shutdown().await;
    sent_result?;
    if sent == 0 {
        bail!(
            "nothing was sent: {}",
            schedule.first_error().unwrap_or("no send completed")
        );
    }

    let mut summary = Summary::new("e2e", args);
    let received = receipts.received();
    summary.sent = sent;
    summary.received = received;
    summary.errors = send.errors() + ack.errors();
    summary.lost = sent.saturating_sub(received);
    summary.duplicates = receipts.duplicates();
    summary.foreign = receipts.foreign();
    summary.latency = Latency::of(&totals[1]);
    summary.send_latency = Some(Latency::of(&totals[0]));
    summary.acked = Some(ack.msgs());
    let ack_secs = acks_done.duration_since(started).as_secs_f64();
    summary.acked_per_s = Some(if ack_secs > 0.0 {
        ack.msgs() as f64 / ack_secs
    } else {
        0.0
    });
    summary.ack_latency = Some(Latency::of(&totals[2]));
    summary.set_rates(
        received,
        recv.bytes(),
        ended.duration_since(started),
        cpu,
        sent,
    );
    Ok(summary)
}

/// The simple consumers of a run and their receive loops.
#[derive(Debug)]
struct GrpcConsumers {
    sessions: Vec<Arc<Session>>,
    loops: JoinSet<()>,
    stop: CancellationToken,
}

impl GrpcConsumers {
    /// Starts `--consumers` sessions of `group` and their receive loops.
    async fn start(
        args: &NetBenchArgs,
        group: &str,
        receipts: &Arc<Receipts>,
        recv: &Arc<Meter>,
        ack: &Arc<Meter>,
    ) -> Result<GrpcConsumers> {
        let mut consumers = GrpcConsumers {
            sessions: Vec::new(),
            loops: JoinSet::new(),
            stop: CancellationToken::new(),
        };
        for _ in 0..args.consumers {
            let role = Role::SimpleConsumer {
                group: group.to_owned(),
                topic: args.topic.clone(),
            };
            let session = match Session::start(&args.grpc_addr, role).await {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    consumers.shutdown().await;
                    return Err(e.context("starting a v5 simple consumer"));
                }
            };
            for _ in 0..RECEIVERS {
                consumers.loops.spawn(receive_loop(
                    session.clone(),
                    receipts.clone(),
                    recv.recorder(),
                    ack.recorder(),
                    consumers.stop.clone(),
                ));
            }
            consumers.sessions.push(session);
        }
        Ok(consumers)
    }

    /// Stops receiving, waits for the acks under way, ends the sessions.
    async fn shutdown(mut self) {
        self.stop.cancel();
        while self.loops.join_next().await.is_some() {}
        for s in self.sessions {
            if let Some(s) = Arc::into_inner(s) {
                s.shutdown().await;
            }
        }
    }
}

async fn receive_loop(
    session: Arc<Session>,
    receipts: Arc<Receipts>,
    recv: Recorder,
    ack: Recorder,
    stop: CancellationToken,
) {
    let ack = Arc::new(ack);
    let mut acks = JoinSet::new();
    let mut warned = false;
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => break,
            r = session.receive(BATCH, INVISIBLE, LONG_POLL) => r,
        };
        // Settle finished acks as we go, so the set stays small.
        while acks.try_join_next().is_some() {}
        let messages = match received {
            Ok(m) => m,
            Err(e) => {
                if !warned {
                    warn!(error = %e, "receive failed (later failures are not logged)");
                    warned = true;
                }
                // A failing endpoint must not be hammered in a tight loop.
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        if messages.is_empty() {
            continue;
        }
        let received_at = Instant::now();
        receipts.book_bodies(messages.iter().map(|m| &m.body[..]), &recv);
        let handles: Vec<(String, String)> = messages
            .into_iter()
            .map(|m| (m.message_id, m.receipt_handle))
            .collect();
        let (session, ack) = (session.clone(), ack.clone());
        acks.spawn(async move {
            let count = handles.len() as u64;
            match session.ack(&handles).await {
                Ok(accepted) => {
                    let ok = accepted.iter().filter(|a| **a).count() as u64;
                    ack.record(received_at.elapsed(), ok, 0);
                    if ok < count {
                        ack.error(count - ok);
                    }
                }
                Err(e) => {
                    ack.error(count);
                    warn!(error = %e, "ack failed");
                }
            }
        });
    }
    while acks.join_next().await.is_some() {}
}
