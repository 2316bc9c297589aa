//! Ordered messages: sends each order's steps to the queue its key hashes to, and consumes them with
//! an orderly push consumer, which holds each queue's broker lock while it consumes, so every order's
//! steps print in send order. Ctrl-C stops.
//!
//! `cargo run -p ferromq-client --example ordered -- -n 127.0.0.1:9876 -t OrderSteps -c 5`

use clap::Parser;
use ferromq_client::consumer::{
    ConsumeFrom, ConsumeMode, ConsumeStatus, PushConsumer, PushConsumerConfig,
};
use ferromq_client::{Message, Producer, ProducerConfig};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "OrderSteps")]
    topic: String,
    /// Number of orders.
    #[arg(short = 'c', long, default_value_t = 5)]
    count: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let namesrv: Vec<String> = args.namesrv.split(';').map(str::to_owned).collect();
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: namesrv.clone(),
        group: "example_ordered_producer".into(),
        ..ProducerConfig::default()
    })
    .await?;
    for step in ["created", "paid", "shipped", "delivered"] {
        for order in 0..args.count {
            let key = format!("order-{order}");
            let r = producer
                .send_ordered(Message::new(&args.topic, format!("{key} {step}")), &key)
                .await?;
            println!("sent {key} {step} to {}", r.queue);
        }
    }
    producer.shutdown().await;

    let mut config =
        PushConsumerConfig::new(namesrv, "example_ordered_consumer").subscribe(&args.topic, "*");
    config.consume_mode = ConsumeMode::Orderly;
    config.consume_from = ConsumeFrom::FirstOffset;
    let consumer = PushConsumer::start(config, |msgs| {
        for m in msgs {
            println!("{} {}", m.queue(), String::from_utf8_lossy(&m.body));
        }
        ConsumeStatus::ConsumeSuccess
    })
    .await?;
    println!("consuming in order; Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    consumer.shutdown().await;
    Ok(())
}
