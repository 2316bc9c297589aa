//! Many queues on one broker with few file descriptors: `ferromq dev` under a limit of 1,024
//! descriptors serves 4,000 queues (four times the limit), each written and read back, stays
//! reachable for new connections, stops on SIGTERM and recovers every queue on restart. Without a
//! bound on open queue files each written queue would hold a descriptor and the process would run
//! out long before.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Dev;
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::{PullConsumer, PullConsumerConfig};
use ferromq_client::message::{Message, MessageQueue};
use ferromq_client::producer::{Producer, ProducerConfig};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use futures_util::future::try_join_all;

const NOFILE: u32 = 1_024;
const TOPICS: usize = 500;
const QUEUES: u32 = 8;
/// Requests in flight at once when sending and pulling.
const CONCURRENCY: usize = 64;

fn topic(i: usize) -> String {
    format!("Scale{i:04}")
}

fn body(t: &str, q: u32) -> Bytes {
    Bytes::from(format!("{t}/{q}"))
}

fn all_queues() -> Vec<MessageQueue> {
    (0..TOPICS)
        .flat_map(|i| (0..QUEUES).map(move |q| MessageQueue::new(topic(i), "broker-a", q)))
        .collect()
}

/// Descriptors the process holds now, and what they are (for the failure message).
fn open_descriptors(pid: u32) -> (usize, BTreeMap<String, usize>) {
    let mut kinds = BTreeMap::new();
    let mut n = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("read /proc/<pid>/fd") {
        n += 1;
        let target = entry
            .and_then(|e| std::fs::read_link(e.path()))
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = [
            "consumequeue",
            "commitlog",
            "index",
            "socket",
            "anon_inode",
            "pipe",
        ]
        .into_iter()
        .find(|k| target.contains(k))
        .unwrap_or("other");
        *kinds.entry(kind.to_owned()).or_insert(0) += 1;
    }
    (n, kinds)
}

/// A new connection to `addr` is accepted and answered.
async fn new_connection_answers(addr: &str, code: RequestCode) {
    let client = Client::connect(addr, ClientConfig::default())
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let resp = client
        .request(RemotingCommand::request(code), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("request to {addr}: {e}"));
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    client.shutdown().await;
}

/// Every queue holds exactly its one message, readable from offset 0.
async fn every_queue_reads_back(namesrv: &str) {
    let consumer = routed_consumer(namesrv, "scale_reader").await;
    let queues = all_queues();
    for chunk in queues.chunks(CONCURRENCY) {
        // Long polling: a send is acknowledged before the broker has indexed it for consumers.
        let pulls = chunk
            .iter()
            .map(|mq| consumer.pull_blocking(mq, 0, 32, "*", Duration::from_secs(10)));
        for (mq, r) in chunk.iter().zip(try_join_all(pulls).await.expect("pulls")) {
            let bodies: Vec<&[u8]> = r.messages.iter().map(|m| m.body.as_ref()).collect();
            assert_eq!(bodies, [body(&mq.topic, mq.queue_id).as_ref()], "{mq}");
            assert_eq!((r.min_offset, r.max_offset), (0, 1), "{mq}");
        }
    }
    consumer.shutdown().await;
}

/// A pull consumer of `group`, returned once the name server routes every topic.
async fn routed_consumer(namesrv: &str, group: &str) -> PullConsumer {
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        group: group.into(),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    wait_for_routes(&consumer).await;
    consumer
}

/// Waits until the name server routes every topic (registration follows creation shortly).
async fn wait_for_routes(consumer: &PullConsumer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..TOPICS {
        loop {
            match consumer.fetch_queues(&topic(i)).await {
                Ok(q) if q.len() == QUEUES as usize => break,
                other => assert!(
                    Instant::now() < deadline,
                    "no route with {QUEUES} queues for {}: {other:?}",
                    topic(i)
                ),
            }
            tokio::task::yield_now().await;
        }
    }
}

fn stop_within(dev: Dev, limit: Duration) {
    // A guard against a hang, not a timing claim: the limit is far above a normal stop.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        dev.stop();
        let _ = tx.send(());
    });
    rx.recv_timeout(limit)
        .expect("ferromq dev did not stop after SIGTERM");
}

async fn create_and_fill(dev: &Dev) {
    let (namesrv, broker) = (dev.field("namesrv"), dev.field("broker"));
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![namesrv.clone()],
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    for i in 0..TOPICS {
        admin
            .create_topic_on_broker(&broker, &TopicSpec::new(topic(i)))
            .await
            .expect("create topic");
    }
    admin.shutdown().await;
    // Sends find their broker through the name server, which learns new topics from the broker's
    // next registration.
    let consumer = routed_consumer(&namesrv, "scale_route_check").await;
    consumer.shutdown().await;

    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: vec![namesrv.clone()],
        group: "scale_writer".into(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    let queues = all_queues();
    for chunk in queues.chunks(CONCURRENCY) {
        let sends = chunk.iter().map(|mq| {
            let msg = Message::new(mq.topic.clone(), body(&mq.topic, mq.queue_id));
            producer.send_to_queue(msg, mq)
        });
        for r in try_join_all(sends).await.expect("every send acknowledged") {
            assert_eq!(r.queue_offset, 0, "{r:?}");
        }
    }
    producer.shutdown().await;
}

async fn check_bounded_and_reachable(dev: &Dev) {
    let (fds, kinds) = open_descriptors(dev.pid());
    eprintln!("descriptors open: {fds} {kinds:?}");
    assert!(
        fds < NOFILE as usize / 2,
        "{fds} descriptors open, limit {NOFILE}: {kinds:?}"
    );
    new_connection_answers(&dev.field("broker"), RequestCode::GET_BROKER_RUNTIME_INFO).await;
    new_connection_answers(&dev.field("namesrv"), RequestCode::GET_BROKER_CLUSTER_INFO).await;
}

/// The broker registers its topics in the compressed form (`compressedRegister`), so the routes
/// this test waits for also check that form end to end.
fn start(data: &Path) -> Dev {
    let conf = data.join("broker.conf");
    std::fs::write(&conf, "compressedRegister=true\n").expect("write broker.conf");
    let conf = conf.to_str().expect("utf-8 path").to_owned();
    Dev::start_with_nofile(data, &["--config", &conf], NOFILE)
}

#[tokio::test(flavor = "multi_thread")]
async fn four_thousand_queues_under_a_limit_of_1024_descriptors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start(dir.path());
    create_and_fill(&dev).await;
    check_bounded_and_reachable(&dev).await;
    every_queue_reads_back(&dev.field("namesrv")).await;
    check_bounded_and_reachable(&dev).await;
    stop_within(dev, Duration::from_secs(60));

    // The same folder, the same limit: every queue is back.
    let dev = start(dir.path());
    every_queue_reads_back(&dev.field("namesrv")).await;
    check_bounded_and_reachable(&dev).await;
    stop_within(dev, Duration::from_secs(60));
}

/// Descriptors run out: a broker allowed 256 of them is flooded with more connections than it can
/// accept. Its existing clients are still answered meanwhile, and once the flood goes away a new
/// client is served again.
#[tokio::test(flavor = "multi_thread")]
async fn running_out_of_descriptors_is_survived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start_with_nofile(dir.path(), &[], 256);
    let broker = dev.field("broker");
    let existing = Client::connect(broker.clone(), ClientConfig::default())
        .await
        .expect("connect");
    let runtime_info = || RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
    assert_eq!(
        existing
            .request(runtime_info(), Duration::from_secs(10))
            .await
            .expect("answered")
            .response_code(),
        ResponseCode::SUCCESS
    );

    // The kernel completes these handshakes into the backlog; the broker accepts what it can.
    let mut flood = Vec::new();
    for i in 0..400 {
        flood.push(
            Client::connect(broker.clone(), ClientConfig::default())
                .await
                .unwrap_or_else(|e| panic!("connection {i} not even in the backlog: {e}")),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (fds, kinds) = open_descriptors(dev.pid());
        if fds >= 250 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the broker never ran out: {fds} open, {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..3 {
        let resp = existing
            .request(runtime_info(), Duration::from_secs(10))
            .await
            .expect("an existing client is answered while accept fails");
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    }

    for c in flood {
        c.shutdown().await;
    }
    new_connection_answers(&broker, RequestCode::GET_BROKER_RUNTIME_INFO).await;
    existing.shutdown().await;
    stop_within(dev, Duration::from_secs(60));
}
