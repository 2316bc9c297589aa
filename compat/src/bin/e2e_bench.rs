//! End-to-end benchmark of ferromq driven by rocketmq-client-rust.
//!
//! 1. Send throughput: `--concurrency` tasks send `--size`-byte messages synchronously for
//!    `--throughput-seconds`.
//! 2. End-to-end latency: a push consumer subscribes; messages carrying their send time are sent
//!    at `--rate` per second for `--seconds`; the listener records receipt − send time.
//!
//! Prints one JSON object (`msgs_per_s`, `p50_us`, `p99_us` at the top, details below).
//!
//! ```sh
//! cargo run --release -p ferromq-compat --bin e2e_bench                       # in-process cluster
//! cargo run --release -p ferromq-compat --bin e2e_bench -- --namesrv 127.0.0.1:9876  # `ferromq dev`
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferromq_compat::client::ClientHarness;
use ferromq_compat::cluster::{Cluster, ClusterOptions};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQProducer,
    DefaultMQPushConsumer, MQPushConsumer as _, MessageListenerConcurrently, SendStatus,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use serde_json::json;

#[derive(Debug, Clone)]
struct Args {
    namesrv: Option<String>,
    size: usize,
    concurrency: usize,
    throughput_seconds: u64,
    rate: u64,
    seconds: u64,
    queues: i32,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            namesrv: None,
            size: 1024,
            concurrency: 32,
            throughput_seconds: 5,
            rate: 2_000,
            seconds: 10,
            queues: 4,
        }
    }
}

const USAGE: &str = "usage: e2e_bench [--namesrv ADDR] [--size BYTES] [--concurrency N] \
[--throughput-seconds S] [--rate MSGS_PER_S] [--seconds S] [--queues N]";

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--namesrv" => args.namesrv = Some(value),
            "--size" => args.size = value.parse()?,
            "--concurrency" => args.concurrency = value.parse()?,
            "--throughput-seconds" => args.throughput_seconds = value.parse()?,
            "--rate" => args.rate = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--queues" => args.queues = value.parse()?,
            _ => anyhow::bail!("unknown option {flag}\n{USAGE}"),
        }
    }
    anyhow::ensure!(args.size >= 8, "--size must be at least 8 (the timestamp)");
    anyhow::ensure!(
        args.concurrency > 0 && args.rate > 0,
        "zero concurrency or rate"
    );
    Ok(args)
}

/// Send and receipt times are both taken against this, in the same process.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn micros_since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn timestamped(topic: &str, size: usize) -> Message {
    let mut body = vec![b'x'; size];
    body[..8].copy_from_slice(&micros_since_epoch().to_be_bytes());
    Message::builder()
        .topic(topic)
        .tags("bench")
        .body(body)
        .build_unchecked()
}

#[derive(Clone)]
struct LatencyListener {
    hist: Arc<Mutex<Histogram<u64>>>,
    received: Arc<AtomicU64>,
    /// Messages sent before this time (µs since the epoch) are warm-up and not recorded.
    record_from: Arc<AtomicU64>,
}

impl MessageListenerConcurrently for LatencyListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let now = micros_since_epoch();
        let from = self.record_from.load(Ordering::Acquire);
        let mut hist = self.hist.lock();
        for m in msgs {
            let Some(body) = m.body() else { continue };
            let Some(ts) = body.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
                continue;
            };
            let sent = u64::from_be_bytes(ts);
            if sent >= from {
                let _ = hist.record(now.saturating_sub(sent).max(1));
                self.received.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let harness = ClientHarness::new("bench")?;
    let runtime = harness.runtime();
    let summary = harness.block_on(async move {
        let cluster = match &args.namesrv {
            Some(_) => None,
            None => Some(
                Cluster::start(ClusterOptions {
                    proxies: false,
                    ..ClusterOptions::default()
                })
                .await?,
            ),
        };
        let namesrv = match (&args.namesrv, &cluster) {
            (Some(a), _) => a.clone(),
            (None, Some(c)) => c.namesrv_addr(),
            (None, None) => unreachable!("a cluster is started when no --namesrv is given"),
        };
        let result = run(&args, &namesrv, runtime).await;
        if let Some(c) = cluster {
            c.shutdown().await;
        }
        result
    });
    let problems = harness.shutdown();
    for p in problems {
        eprintln!("client shutdown report: {p}");
    }
    println!("{}", serde_json::to_string_pretty(&summary?)?);
    Ok(())
}

async fn run(
    args: &Args,
    namesrv: &str,
    runtime: Arc<rocketmq_client_rust::ClientRuntime>,
) -> anyhow::Result<serde_json::Value> {
    let suffix = std::process::id();
    let tp_topic = format!("BenchThroughput{suffix}");
    let lat_topic = format!("BenchLatency{suffix}");
    let mut producer = DefaultMQProducer::builder(runtime.clone())
        .producer_group(format!("bench-producer-{suffix}"))
        .name_server_addr(namesrv.to_owned())
        .send_msg_timeout(10_000)
        .build();
    producer
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("producer start: {e}"))?;
    for t in [&tp_topic, &lat_topic] {
        producer
            .create_topic("TBW102", t, args.queues, HashMap::new())
            .await
            .map_err(|e| anyhow::anyhow!("create_topic {t}: {e}"))?;
    }
    let producer = Arc::new(producer);
    let throughput = throughput_phase(args, &producer, &tp_topic).await?;
    let latency = latency_phase(args, namesrv, runtime, &producer, &lat_topic).await?;
    if let Ok(mut p) = Arc::try_unwrap(producer) {
        p.shutdown().await;
    }
    Ok(json!({
        "client": "rocketmq-client-rust 1.0.0",
        "msgs_per_s": throughput["msgs_per_s"],
        "p50_us": latency["p50_us"],
        "p99_us": latency["p99_us"],
        "throughput": throughput,
        "latency": latency,
    }))
}

async fn throughput_phase(
    args: &Args,
    producer: &Arc<DefaultMQProducer>,
    topic: &str,
) -> anyhow::Result<serde_json::Value> {
    // Warm up: routes, connections.
    for _ in 0..100 {
        producer
            .send(timestamped(topic, args.size))
            .await
            .map_err(|e| anyhow::anyhow!("warm-up send: {e}"))?;
    }
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let start = Instant::now();
    let until = start + Duration::from_secs(args.throughput_seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (producer, sent, errors, hist) =
            (producer.clone(), sent.clone(), errors.clone(), hist.clone());
        let (topic, size) = (topic.to_owned(), args.size);
        tasks.spawn(async move {
            while Instant::now() < until {
                let t = Instant::now();
                match producer.send(timestamped(&topic, size)).await {
                    Ok(Some(r)) if r.send_status == SendStatus::SendOk => {
                        sent.fetch_add(1, Ordering::Relaxed);
                        let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                        let _ = hist.lock().record(us.max(1));
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let secs = start.elapsed().as_secs_f64();
    let n = sent.load(Ordering::Relaxed);
    let h = hist.lock();
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / secs;
    #[allow(clippy::cast_precision_loss)]
    let mb = rate * args.size as f64 / 1e6;
    Ok(json!({
        "msgs_per_s": rate.round(),
        "mb_per_s": (mb * 10.0).round() / 10.0,
        "messages": n,
        "errors": errors.load(Ordering::Relaxed),
        "seconds": (secs * 100.0).round() / 100.0,
        "concurrency": args.concurrency,
        "size": args.size,
        "send_p50_us": h.value_at_quantile(0.5),
        "send_p99_us": h.value_at_quantile(0.99),
    }))
}

async fn latency_phase(
    args: &Args,
    namesrv: &str,
    runtime: Arc<rocketmq_client_rust::ClientRuntime>,
    producer: &Arc<DefaultMQProducer>,
    topic: &str,
) -> anyhow::Result<serde_json::Value> {
    let listener = LatencyListener {
        hist: Arc::new(Mutex::new(Histogram::<u64>::new(3)?)),
        received: Arc::new(AtomicU64::new(0)),
        record_from: Arc::new(AtomicU64::new(u64::MAX)),
    };
    let mut consumer = DefaultMQPushConsumer::builder(runtime)
        .consumer_group(format!("bench-consumer-{}", std::process::id()))
        .name_server_addr(namesrv.to_owned())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer
        .subscribe(topic, "*")
        .await
        .map_err(|e| anyhow::anyhow!("subscribe: {e}"))?;
    consumer.register_message_listener_concurrently(listener.clone());
    consumer
        .start()
        .await
        .map_err(|e| anyhow::anyhow!("consumer start: {e}"))?;

    // Warm up until messages flow end to end (the consumer rebalances and starts pulling).
    let warm_deadline = Instant::now() + Duration::from_secs(30);
    listener.record_from.store(0, Ordering::Release);
    while listener.received.load(Ordering::Relaxed) < 50 {
        anyhow::ensure!(
            Instant::now() < warm_deadline,
            "no message reached the push consumer within 30 s"
        );
        producer
            .send(timestamped(topic, args.size))
            .await
            .map_err(|e| anyhow::anyhow!("warm-up send: {e}"))?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listener.record_from.store(u64::MAX, Ordering::Release);
    listener.hist.lock().reset();
    listener.received.store(0, Ordering::Release);
    listener
        .record_from
        .store(micros_since_epoch(), Ordering::Release);

    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let total = args.rate * args.seconds;
    let mut sent = 0_u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while sent < total {
        tick.tick().await;
        let elapsed = start.elapsed().as_secs_f64();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let due = ((elapsed * args.rate as f64) as u64).min(total);
        while sent < due {
            let errors = errors.clone();
            producer
                .send_with_callback(timestamped(topic, args.size), move |r, e| {
                    if e.is_some() || r.is_none_or(|r| r.send_status != SendStatus::SendOk) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await
                .map_err(|e| anyhow::anyhow!("async send: {e}"))?;
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    while listener.received.load(Ordering::Relaxed) < total && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    consumer.shutdown().await;
    let h = listener.hist.lock();
    Ok(json!({
        "rate": args.rate,
        "seconds": args.seconds,
        "send_seconds": (send_secs * 100.0).round() / 100.0,
        "sent": total,
        "send_errors": errors.load(Ordering::Relaxed),
        "received": listener.received.load(Ordering::Relaxed),
        "p50_us": h.value_at_quantile(0.5),
        "p90_us": h.value_at_quantile(0.9),
        "p99_us": h.value_at_quantile(0.99),
        "p999_us": h.value_at_quantile(0.999),
        "max_us": h.max(),
    }))
}
