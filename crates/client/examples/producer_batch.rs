//! Sends messages in batches (one SEND_BATCH_MESSAGE each, stored on one queue).
//!
//! `cargo run -p ferromq-client --example producer_batch -- -n 127.0.0.1:9876 -t TopicTest -b 16`

use clap::Parser;
use ferromq_client::{Message, Producer, ProducerConfig};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    /// Messages per batch.
    #[arg(short = 'b', long, default_value_t = 16)]
    batch: usize,
    /// Number of batches.
    #[arg(short = 'c', long, default_value_t = 4)]
    count: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: args.namesrv.split(';').map(str::to_owned).collect(),
        group: "example_batch_producer".into(),
        ..ProducerConfig::default()
    })
    .await?;
    for b in 0..args.count {
        let msgs = (0..args.batch)
            .map(|i| Message::new(&args.topic, format!("batch {b} message {i}")))
            .collect();
        let r = producer.send_batch(msgs).await?;
        println!(
            "batch {b}: queue={} first offset={}",
            r.queue, r.queue_offset
        );
    }
    producer.shutdown().await;
    Ok(())
}
