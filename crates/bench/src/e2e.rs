//! `bench e2e`: consumers first, then producers; each stamped body says when it was due, the
//! receipt says when it arrived. After the last send the bench waits up to `--drain-seconds` for
//! every acknowledged message, then counts what never came (lost) and what came twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use ferromq_client::consumer::ConsumeFrom;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::consume::{Accept, Consumers, Receipts};
use super::cpu::{self, process_cpu_time};
use super::meter::{Meter, Progress, RECV, SEND};
use super::net_args::NetBenchArgs;
use super::net_report::{Latency, Summary};
use super::produce::{Schedule, Senders};
use super::{new_run_id, topic};

pub async fn bench(args: &NetBenchArgs, interrupt: CancellationToken) -> Result<Summary> {
    let queues = topic::ensure(
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
    let (send, recv) = (Meter::new(SEND), Meter::new(RECV));
    let consumers = Consumers::start(
        args,
        &group,
        ConsumeFrom::LastOffset,
        queues,
        &receipts,
        &recv,
    )
    .await?;
    let senders = match Senders::start(args).await {
        Ok(s) => s,
        Err(e) => {
            consumers.shutdown().await;
            return Err(e);
        }
    };

    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let schedule = Arc::new(Schedule::new(args, run_id, started, interrupt));
    let progress = Progress::start(vec![send.clone(), recv.clone()], started, args.quiet);
    let sent_result = senders.run(&schedule, &send).await;
    let sends_done = Instant::now();
    let sent = send.msgs();
    let drain = Duration::from_secs_f64(args.drain_seconds);
    // An interrupted run still drains, so what was sent before the signal is accounted for.
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
    let cpu = cpu::used_since(cpu_before);
    let totals = progress.finish().await;
    consumers.shutdown().await;
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
    summary.errors = send.errors();
    summary.lost = sent.saturating_sub(received);
    summary.duplicates = receipts.duplicates();
    summary.foreign = receipts.foreign();
    summary.latency = Latency::of(&totals[1]);
    summary.send_latency = Some(Latency::of(&totals[0]));
    summary.set_rates(
        received,
        recv.bytes(),
        ended.duration_since(started),
        cpu,
        sent,
    );
    Ok(summary)
}
