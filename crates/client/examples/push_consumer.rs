//! Joins a consumer group and prints messages until Ctrl-C.
//!
//! `cargo run -p ferromq-client --example push_consumer -- -n 127.0.0.1:9876 -t TopicTest -g example_push`
//! (`--broadcast` for broadcasting, `--sql "a > 5"` for an SQL92 filter)

use clap::Parser;
use ferromq_client::consumer::{
    ConsumeStatus, MessageModel, MessageSelector, PushConsumer, PushConsumerConfig,
};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    #[arg(short = 'g', long, default_value = "example_push")]
    group: String,
    /// Tag expression.
    #[arg(short = 's', long, default_value = "*")]
    expression: String,
    /// An SQL92 filter on message properties instead of the tag expression, e.g. `a > 5 AND b = 'x'`.
    #[arg(long)]
    sql: Option<String>,
    /// Every member gets every message.
    #[arg(long)]
    broadcast: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let selector = match &args.sql {
        Some(sql) => MessageSelector::sql(sql),
        None => MessageSelector::tag(&args.expression),
    };
    let mut config = PushConsumerConfig::new(
        args.namesrv.split(';').map(str::to_owned).collect(),
        &args.group,
    )
    .subscribe(&args.topic, selector);
    if args.broadcast {
        config.message_model = MessageModel::Broadcasting;
    }
    let consumer = PushConsumer::start(config, |msgs| {
        for m in msgs {
            println!(
                "{} offset={} msgId={} body={}",
                m.queue(),
                m.queue_offset,
                m.msg_id,
                String::from_utf8_lossy(&m.body)
            );
        }
        ConsumeStatus::ConsumeSuccess
    })
    .await?;
    println!("consuming as {}; Ctrl-C to stop", consumer.client_id());
    tokio::signal::ctrl_c().await?;
    consumer.shutdown().await;
    Ok(())
}
