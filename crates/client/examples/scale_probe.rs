//! Drives one broker as an operator with many topics would, and reports what it costs:
//! creates `--topics` topics of `--queues` queues over one admin connection (timed), holds
//! `--connections` idle client connections, sends one message to every queue, reads every queue
//! back from offset 0, and meanwhile opens a fresh connection to the broker and to the name server
//! every 250 ms to time how long a newcomer waits for an answer.
//!
//! ```sh
//! cargo run --release -- dev &
//! cargo run --release -p ferromq-client --example scale_probe -- -n 127.0.0.1:9876 -b 127.0.0.1:10911
//! ```
//! Descriptors and memory of the server are read from `/proc/<pid>` by whoever runs it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::{PullConsumer, PullConsumerConfig};
use ferromq_client::{Message, MessageQueue, Producer, ProducerConfig};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::{RemotingCommand, RequestCode};
use futures_util::future::try_join_all;
use parking_lot::Mutex;

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 'b', long, default_value = "127.0.0.1:10911")]
    broker: String,
    /// Name of the broker (its `brokerName`).
    #[arg(long, default_value = "broker-a")]
    broker_name: String,
    #[arg(long, default_value_t = 12_500)]
    topics: usize,
    #[arg(long, default_value_t = 8)]
    queues: u32,
    /// Idle connections held open during the sends and reads.
    #[arg(long, default_value_t = 2_000)]
    connections: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Topic names are `<prefix><n>`.
    #[arg(long, default_value = "Probe")]
    prefix: String,
    /// Only read every queue back (after a restart of a broker this probe filled before).
    #[arg(long)]
    read_only: bool,
}

/// Latencies of fresh connections (connect + one request), in microseconds.
#[derive(Default)]
struct Newcomers {
    broker: Vec<u64>,
    namesrv: Vec<u64>,
    failures: usize,
}

async fn newcomer(addr: &str, code: RequestCode) -> anyhow::Result<u64> {
    let start = Instant::now();
    let client = Client::connect(addr, ClientConfig::default()).await?;
    let _ = client
        .request(RemotingCommand::request(code), Duration::from_secs(10))
        .await?;
    let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    client.shutdown().await;
    Ok(us)
}

fn summary(name: &str, v: &mut [u64]) {
    v.sort_unstable();
    let at = |p: f64| {
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "new connection to {name}: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        v.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let topic = |i: usize| topic_name(&args, i);

    let newcomers = Arc::new(Mutex::new(Newcomers::default()));
    let probing = tokio_util::sync::CancellationToken::new();
    let prober = {
        let (n, b, out, stop) = (
            args.namesrv.clone(),
            args.broker.clone(),
            newcomers.clone(),
            probing.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while !stop.is_cancelled() {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let (rb, rn) = tokio::join!(
                    newcomer(&b, RequestCode::GET_BROKER_RUNTIME_INFO),
                    newcomer(&n, RequestCode::GET_BROKER_CLUSTER_INFO)
                );
                let mut o = out.lock();
                match rb {
                    Ok(us) => o.broker.push(us),
                    Err(_) => o.failures += 1,
                }
                match rn {
                    Ok(us) => o.namesrv.push(us),
                    Err(_) => o.failures += 1,
                }
            }
        })
    };

    if !args.read_only {
        create_topics(&args).await?;
    }
    let start = Instant::now();
    let mut idle = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        idle.push(Client::connect(args.broker.clone(), ClientConfig::default()).await?);
    }
    println!(
        "{} idle connections opened in {:.1} s",
        idle.len(),
        start.elapsed().as_secs_f64()
    );

    let queues: Vec<MessageQueue> = (0..args.topics)
        .flat_map(|i| {
            let t = topic(i);
            let name = args.broker_name.clone();
            (0..args.queues).map(move |q| MessageQueue::new(t.clone(), name.clone(), q))
        })
        .collect();
    if !args.read_only {
        send_one_each(&args, &queues).await?;
    }

    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: vec![args.namesrv.clone()],
        group: "scale_probe".into(),
        ..PullConsumerConfig::default()
    })
    .await?;
    let start = Instant::now();
    let mut wrong = 0usize;
    for chunk in queues.chunks(args.concurrency) {
        let pulls = chunk
            .iter()
            .map(|mq| consumer.pull_blocking(mq, 0, 32, "*", Duration::from_secs(10)));
        for (mq, r) in chunk.iter().zip(try_join_all(pulls).await?) {
            let expected = format!("{}/{}", mq.topic, mq.queue_id);
            if r.messages.len() != 1 || r.messages[0].body.as_ref() != expected.as_bytes() {
                wrong += 1;
            }
        }
    }
    println!(
        "read every queue from offset 0 in {:.1} s: {} queues without exactly their message",
        start.elapsed().as_secs_f64(),
        wrong
    );
    consumer.shutdown().await;

    probing.cancel();
    prober.await?;
    let mut n = std::mem::take(&mut *newcomers.lock());
    summary("broker", &mut n.broker);
    summary("name server", &mut n.namesrv);
    println!("failed new connections: {}", n.failures);
    for c in idle {
        c.shutdown().await;
    }
    Ok(())
}

fn topic_name(args: &Args, i: usize) -> String {
    format!("{}{i}", args.prefix)
}

/// Creates the topics one after another over one admin connection, as a script would.
async fn create_topics(args: &Args) -> anyhow::Result<()> {
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![args.namesrv.clone()],
        ..AdminConfig::default()
    })
    .await?;
    let start = Instant::now();
    for i in 0..args.topics {
        let mut spec = TopicSpec::new(topic_name(args, i));
        spec.read_queue_nums = args.queues;
        spec.write_queue_nums = args.queues;
        admin.create_topic_on_broker(&args.broker, &spec).await?;
    }
    let created = start.elapsed();
    println!(
        "created {} topics x {} queues in {:.1} s: {:.2} ms per topic",
        args.topics,
        args.queues,
        created.as_secs_f64(),
        created.as_secs_f64() * 1000.0 / args.topics.max(1) as f64
    );
    admin.shutdown().await;
    Ok(())
}

async fn send_one_each(args: &Args, queues: &[MessageQueue]) -> anyhow::Result<()> {
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: vec![args.namesrv.clone()],
        group: "scale_probe".into(),
        ..ProducerConfig::default()
    })
    .await?;
    let start = Instant::now();
    for chunk in queues.chunks(args.concurrency) {
        let sends = chunk.iter().map(|mq| {
            let body = format!("{}/{}", mq.topic, mq.queue_id);
            producer.send_to_queue(Message::new(mq.topic.clone(), body), mq)
        });
        try_join_all(sends).await?;
    }
    println!(
        "sent one message to each of {} queues in {:.1} s, all acknowledged",
        queues.len(),
        start.elapsed().as_secs_f64()
    );
    producer.shutdown().await;
    Ok(())
}
