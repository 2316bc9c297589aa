//! Sends messages one at a time and waits for each to be stored.
//!
//! `cargo run -p ferromq-client --example producer_sync -- -n 127.0.0.1:9876 -t TopicTest -c 10`

use clap::Parser;
use ferromq_client::{Message, Producer, ProducerConfig};

#[derive(Parser)]
struct Args {
    /// Name server address(es), `;`-separated.
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    #[arg(short = 'c', long, default_value_t = 10)]
    count: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: args.namesrv.split(';').map(str::to_owned).collect(),
        group: "example_producer".into(),
        ..ProducerConfig::default()
    })
    .await?;
    for i in 0..args.count {
        let msg = Message::new(&args.topic, format!("Hello ferromq {i}"))
            .with_tag("TagA")
            .with_keys([format!("key-{i}")]);
        let r = producer.send(msg).await?;
        println!(
            "{:?} msgId={} offsetMsgId={} queue={} offset={}",
            r.status, r.msg_id, r.offset_msg_id, r.queue, r.queue_offset
        );
    }
    producer.shutdown().await;
    Ok(())
}
