//! Scale-out without downtime: a producer sends continuously to a one-group cluster; a second broker
//! group joins and the topic is created on it; the producer starts using the new group's queues at its
//! next route refresh without a failed send, and a consumer reads every message exactly once from
//! both groups.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{create_topic_on_cluster, read_topic};
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_testkit::{eventually_holds, TestCluster};

const TOPIC: &str = "Growing";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_broker_group_takes_sends_without_a_failed_send() {
    let mut cluster = TestCluster::builder().brokers(["broker-a"]).start().await;
    let ns_addr = cluster.namesrv();
    assert_eq!(create_topic_on_cluster(&ns_addr, TOPIC, 4).await, 1);

    let producer = Arc::new(
        Producer::start(ProducerConfig {
            namesrv_addrs: vec![ns_addr.clone()],
            group: "growing_producer".into(),
            route_refresh_interval: Duration::from_millis(200),
            ..ProducerConfig::default()
        })
        .await
        .expect("producer"),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (producer, stop) = (producer.clone(), stop.clone());
        tokio::spawn(async move {
            // body → the group that stored it; every send must succeed.
            let mut sent: BTreeMap<String, String> = BTreeMap::new();
            let mut i = 0u32;
            while !stop.load(Ordering::Acquire) {
                let body = format!("g{i:05}");
                let r = producer
                    .send(Message::new(TOPIC, body.clone()))
                    .await
                    .unwrap_or_else(|e| panic!("send {i} failed while the cluster grew: {e}"));
                sent.insert(body, r.queue.broker_name);
                i += 1;
            }
            sent
        })
    };

    // Wait for some traffic, then add the second group and its share of the topic.
    eventually_holds(Duration::from_secs(10), "traffic", || {
        cluster.broker_at(0).commit_log_end() > 0
    })
    .await;
    cluster.add_broker("broker-b", |_| {}).await;
    let (a, b) = (cluster.broker_at(0), cluster.broker_at(1));
    assert_eq!(
        create_topic_on_cluster(&ns_addr, TOPIC, 4).await,
        2,
        "the topic on both groups"
    );
    let added = Instant::now();
    eventually_holds(
        Duration::from_secs(10),
        "the new group's first send",
        || b.commit_log_end() > 0,
    )
    .await;
    let first_send = added.elapsed();
    // Let both groups take sends for a while.
    let b_first = b.commit_log_end();
    eventually_holds(
        Duration::from_secs(20).saturating_sub(added.elapsed()),
        "enough sends to the new group",
        || b.commit_log_end() >= b_first + 20_000,
    )
    .await;
    stop.store(true, Ordering::Release);
    let sent = sender.await.expect("sender");
    let per_group = sent.values().fold(BTreeMap::new(), |mut m, g| {
        *m.entry(g.clone()).or_insert(0usize) += 1;
        m
    });
    assert_eq!(per_group.len(), 2, "{per_group:?}");
    eprintln!(
        "scale-out: {} sends, per group {per_group:?}, new group's first send {:?} after it joined",
        sent.len(),
        first_send
    );
    match Arc::try_unwrap(producer) {
        Ok(p) => p.shutdown().await,
        Err(_) => panic!("producer still shared"),
    }

    let mut received: BTreeMap<String, String> = BTreeMap::new();
    for broker in [a, b] {
        assert!(
            broker.wait_readable(Duration::from_secs(30)).await,
            "sends not indexed"
        );
    }
    let read = read_topic(std::slice::from_ref(&ns_addr), TOPIC).await;
    for (group, body) in read {
        assert!(
            received.insert(body.clone(), group).is_none(),
            "{body} read twice"
        );
    }
    assert_eq!(
        received, sent,
        "every message once, on the group that acknowledged it"
    );
    cluster.shutdown().await;
}
