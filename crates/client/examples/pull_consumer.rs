//! Reads every queue of a topic from the group's committed offset (or 0) to the end, then commits.
//!
//! `cargo run -p ferromq-client --example pull_consumer -- -n 127.0.0.1:9876 -t TopicTest -g example_pull`

use clap::Parser;
use ferromq_client::consumer::{PullConsumer, PullConsumerConfig, PullStatus};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    #[arg(short = 'g', long, default_value = "example_pull")]
    group: String,
    /// Tag expression.
    #[arg(short = 's', long, default_value = "*")]
    expression: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: args.namesrv.split(';').map(str::to_owned).collect(),
        group: args.group.clone(),
        ..PullConsumerConfig::default()
    })
    .await?;
    for mq in consumer.fetch_queues(&args.topic).await? {
        let mut offset = consumer
            .committed_offset(&args.group, &mq)
            .await?
            .unwrap_or(0);
        loop {
            let r = consumer.pull(&mq, offset, 32, &args.expression).await?;
            for m in &r.messages {
                println!(
                    "{mq} offset={} msgId={} tag={:?} body={}",
                    m.queue_offset,
                    m.msg_id,
                    m.tags(),
                    String::from_utf8_lossy(&m.body)
                );
            }
            offset = r.next_offset;
            if matches!(r.status, PullStatus::NoNewMsg) {
                break;
            }
        }
        consumer.commit_offset(&args.group, &mq, offset).await?;
    }
    consumer.shutdown().await;
    Ok(())
}
