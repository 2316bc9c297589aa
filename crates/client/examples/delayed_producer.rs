//! Delayed and timed messages: one per delay level asked for, and one at a delivery time a few
//! seconds ahead. Consumers receive each when it falls due, never before.
//!
//! `cargo run -p ferromq-client --example delayed_producer -- -n 127.0.0.1:9876 -t Later -l 1 -l 3 --at-seconds 5`

use std::time::{Duration, SystemTime};

use clap::Parser;
use ferromq_client::{Message, Producer, ProducerConfig};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "Later")]
    topic: String,
    /// Delay levels (1 = 1 s, 2 = 5 s, 3 = 10 s ... with the default `messageDelayLevel`).
    #[arg(short = 'l', long = "level")]
    levels: Vec<u8>,
    /// Also send one message to be delivered this many seconds from now.
    #[arg(long, default_value_t = 5)]
    at_seconds: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: args.namesrv.split(';').map(str::to_owned).collect(),
        group: "example_delayed_producer".into(),
        ..ProducerConfig::default()
    })
    .await?;
    for level in &args.levels {
        let msg =
            Message::new(&args.topic, format!("delay level {level}")).with_delay_level(*level);
        let r = producer.send(msg).await?;
        println!("level {level}: msgId={}", r.msg_id);
    }
    let at = SystemTime::now() + Duration::from_secs(args.at_seconds);
    let msg =
        Message::new(&args.topic, format!("due in {} s", args.at_seconds)).with_delivery_time(at);
    let r = producer.send(msg).await?;
    println!("timed: msgId={}", r.msg_id);
    producer.shutdown().await;
    Ok(())
}
