//! Load for memory and throughput measurements against a running broker (e.g. `ferromq dev`):
//! creates `TOPICS` topics of `QUEUES` queues, then sends `TOTAL_MIB` MiB of `SIZE`-byte messages
//! spread over all of them with `CONCURRENCY` requests in flight, and prints what it did as JSON.
//!
//! `cargo run --release -p ferromq-broker --example load_topics -- BROKER_ADDR [TOPICS QUEUES TOTAL_MIB SIZE CONCURRENCY]`
//! (defaults 1000 8 1024 1024 64). Read the broker's memory from `/proc/<pid>/status` (RssAnon) after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferromq_model::properties;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::admin::CreateTopicRequestHeader;
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const TIMEOUT: Duration = Duration::from_secs(30);

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .ok_or("usage: load_topics BROKER_ADDR [TOPICS QUEUES TOTAL_MIB SIZE CONCURRENCY]")?
        .clone();
    let topics = arg(&args, 2, 1000);
    let queues = arg(&args, 3, 8);
    let total_mib = arg(&args, 4, 1024);
    let size = arg(&args, 5, 1024);
    let concurrency = arg(&args, 6, 64);
    let client = Client::connect(addr, ClientConfig::default()).await?;

    let started = Instant::now();
    for t in 0..topics {
        let header = CreateTopicRequestHeader {
            topic: format!("LoadTopic{t}"),
            default_topic: "TBW102".into(),
            read_queue_nums: i32::try_from(queues)?,
            write_queue_nums: i32::try_from(queues)?,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: Some(0),
            order: false,
            attributes: Some(String::new()),
            force: None,
        };
        let resp = client
            .request(
                RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(&header),
                TIMEOUT,
            )
            .await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(format!("create topic failed: {resp:?}").into());
        }
    }
    let create_s = started.elapsed().as_secs_f64();

    let messages = total_mib * 1024 * 1024 / size;
    let body = Bytes::from(vec![b'x'; usize::try_from(size)?]);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, body, next, errors) =
            (client.clone(), body.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= messages {
                    break;
                }
                let uniq = format!("{n:032X}");
                let props = properties::encode([("UNIQ_KEY", uniq.as_str()), ("WAIT", "true")]);
                let header = SendMessageRequestHeader {
                    producer_group: "load".into(),
                    topic: format!("LoadTopic{}", n % topics),
                    default_topic: "TBW102".into(),
                    default_topic_queue_nums: 8,
                    queue_id: i32::try_from((n / topics) % queues).unwrap_or(0),
                    born_timestamp: 0,
                    properties: Some(props),
                    ..SendMessageRequestHeader::default()
                };
                let cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
                    .with_header(&SendMessageRequestHeaderV2(header))
                    .with_body(body.clone());
                match client.request(cmd, TIMEOUT).await {
                    Ok(r) if r.response_code() == ResponseCode::SUCCESS => {}
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // Reporting figures.
    let (msgs_per_s, mb_per_s) = (
        messages as f64 / secs,
        (messages * size) as f64 / secs / 1e6,
    );
    println!(
        "{{\"topics\":{topics},\"queues\":{queues},\"create_topics_s\":{create_s:.2},\"messages\":{messages},\"size\":{size},\"concurrency\":{concurrency},\"seconds\":{secs:.2},\"msgs_per_s\":{msgs_per_s:.0},\"mb_per_s\":{mb_per_s:.1},\"errors\":{}}}",
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}
