//! Transaction messages: each message is stored invisibly, the local transaction decides (here:
//! even numbers commit, odd ones roll back, every third stays unknown until the broker checks back),
//! and consumers only ever see the committed ones.
//!
//! `cargo run -p ferromq-client --example transaction_producer -- -n 127.0.0.1:9876 -t TxTopic -c 6`

use clap::Parser;
use ferromq_client::producer::{LocalTransactionState, TransactionProducer};
use ferromq_client::{Message, ProducerConfig};

#[derive(Parser)]
struct Args {
    #[arg(short = 'n', long, default_value = "127.0.0.1:9876")]
    namesrv: String,
    #[arg(short = 't', long, default_value = "TxTopic")]
    topic: String,
    #[arg(short = 'c', long, default_value_t = 6)]
    count: usize,
}

/// What the local transaction of message `i` decided.
fn decide(i: usize) -> LocalTransactionState {
    if i % 3 == 2 {
        LocalTransactionState::Unknown
    } else if i.is_multiple_of(2) {
        LocalTransactionState::Commit
    } else {
        LocalTransactionState::Rollback
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let args = Args::parse();
    // The broker asks about transactions left unknown; this answers from the message itself.
    let producer = TransactionProducer::start(
        ProducerConfig {
            namesrv_addrs: args.namesrv.split(';').map(str::to_owned).collect(),
            group: "example_tx_producer".into(),
            ..ProducerConfig::default()
        },
        |m| {
            println!("broker checks {}: commit", m.msg_id);
            LocalTransactionState::Commit
        },
    )
    .await?;
    for i in 0..args.count {
        let msg = Message::new(&args.topic, format!("tx-{i}"));
        let r = producer.send_in_transaction(msg, |_, _| decide(i)).await?;
        println!("tx-{i}: {:?} msgId={}", r.state, r.send.msg_id);
    }
    println!("waiting for check-backs; Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    producer.shutdown().await;
    Ok(())
}
