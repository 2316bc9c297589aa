//! Sends many messages concurrently and waits for all of them.
//!
//! `cargo run -p ferromq-client --example producer_async -- -n 127.0.0.1:9876 -t TopicTest -c 100`

use clap::Parser;
use ferromq_client::{Message, Producer, ProducerConfig};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    #[arg(short = 'c', long, default_value_t = 100)]
    count: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: args.namesrv.split(';').map(str::to_owned).collect(),
        group: "example_async_producer".into(),
        ..ProducerConfig::default()
    })
    .await?;
    let tasks: Vec<_> = (0..args.count)
        .map(|i| tokio::spawn(producer.send_async(Message::new(&args.topic, format!("async {i}")))))
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await? {
            Ok(_) => ok += 1,
            Err(e) => eprintln!("send failed: {e}"),
        }
    }
    println!("{ok}/{} sent", args.count);
    producer.shutdown().await;
    Ok(())
}
