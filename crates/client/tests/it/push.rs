//! Push consumers: one consumer gets everything; two split the queues and together get everything
//! exactly once; broadcasting consumers each get everything; progress shows up in the admin API.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferromq_client::admin::Admin;
use ferromq_client::consumer::{
    ConsumeFrom, ConsumeStatus, MessageModel, PushConsumer, PushConsumerConfig,
};
use ferromq_client::{Message, MessageExt, MessageQueue, Producer};
use parking_lot::Mutex;

type Received = Arc<Mutex<Vec<MessageExt>>>;

async fn setup(cluster: &TestCluster, topic: &str) -> Admin {
    admin_with_topic(cluster, topic, 4).await
}

async fn consumer(
    cluster: &TestCluster,
    group: &str,
    topic: &str,
    model: MessageModel,
    dir: &std::path::Path,
) -> (PushConsumer, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let mut config = PushConsumerConfig::new(vec![cluster.namesrv()], group).subscribe(topic, "*");
    config.message_model = model;
    config.consume_from = ConsumeFrom::FirstOffset;
    config.offset_store_dir = Some(dir.to_owned());
    config.persist_interval = Duration::from_millis(200);
    let c = PushConsumer::start(config, move |msgs| {
        sink.lock().extend(msgs);
        ConsumeStatus::ConsumeSuccess
    })
    .await
    .expect("consumer starts");
    (c, received)
}

fn topic_queues(c: &PushConsumer, topic: &str) -> BTreeSet<MessageQueue> {
    c.assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect()
}

async fn produce(cluster: &TestCluster, topic: &str, n: usize) -> BTreeSet<String> {
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let mut sent = BTreeSet::new();
    for i in 0..n {
        let body = format!("msg-{i:03}");
        producer
            .send(Message::new(topic, body.clone()))
            .await
            .expect("send");
        sent.insert(body);
    }
    producer.shutdown().await;
    sent
}

fn body_set(msgs: &[MessageExt]) -> BTreeSet<String> {
    bodies(msgs)
}

/// Within each queue, messages arrived in offset order without gaps or repeats.
fn assert_in_queue_order(msgs: &[MessageExt]) {
    let mut per_queue: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for m in msgs {
        per_queue
            .entry(m.queue_id)
            .or_default()
            .push(m.queue_offset);
    }
    for (q, offsets) in per_queue {
        assert!(
            offsets.windows(2).all(|w| w[1] == w[0] + 1),
            "queue {q}: {offsets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_consumer_receives_exactly_the_sent_set_and_progress_shows_it() {
    let cluster = TestCluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = "PushOne";
    let admin = setup(&cluster, topic).await;
    let (c, received) = consumer(
        &cluster,
        "push-one",
        topic,
        MessageModel::Clustering,
        dir.path(),
    )
    .await;
    eventually("all four queues assigned", || async {
        (topic_queues(&c, topic).len() == 4).then_some(())
    })
    .await;

    let sent = produce(&cluster, topic, 40).await;
    eventually("every message consumed", || async {
        (received.lock().len() >= 40).then_some(())
    })
    .await;
    let conn = admin
        .consumer_connection("push-one")
        .await
        .expect("connections");
    assert_eq!(conn.connection_set.len(), 1);
    assert_eq!(conn.connection_set[0].client_id, c.client_id());
    assert!(conn.subscription_table.contains_key(topic));

    c.shutdown().await;
    let got = received.lock().clone();
    assert_eq!(got.len(), 40, "no duplicates");
    assert_eq!(body_set(&got), sent);
    assert_in_queue_order(&got);

    let progress = eventually("offsets committed", || async {
        let p = admin
            .consumer_progress("push-one", Some(topic))
            .await
            .ok()?;
        (p.queues.len() == 4 && p.total_lag() == 0).then_some(p)
    })
    .await;
    let total: i64 = progress.queues.values().map(|q| q.consumer_offset).sum();
    assert_eq!(total, 40);
    admin.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_split_the_queues_and_receive_everything_once() {
    let cluster = TestCluster::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = "PushTwo";
    let admin = setup(&cluster, topic).await;
    let (a, got_a) = consumer(
        &cluster,
        "push-two",
        topic,
        MessageModel::Clustering,
        dir.path(),
    )
    .await;
    let (b, got_b) = consumer(
        &cluster,
        "push-two",
        topic,
        MessageModel::Clustering,
        dir.path(),
    )
    .await;
    let (qa, qb) = eventually("queues split two and two", || async {
        let (qa, qb) = (topic_queues(&a, topic), topic_queues(&b, topic));
        (qa.len() == 2 && qb.len() == 2 && qa.is_disjoint(&qb)).then_some((qa, qb))
    })
    .await;

    let sent = produce(&cluster, topic, 60).await;
    eventually("every message consumed", || async {
        (got_a.lock().len() + got_b.lock().len() >= 60).then_some(())
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    let (ra, rb) = (got_a.lock().clone(), got_b.lock().clone());
    assert_eq!(ra.len() + rb.len(), 60, "exactly once");
    assert!(
        ra.iter().all(|m| qa.contains(&m.queue())),
        "a consumed only its queues"
    );
    assert!(
        rb.iter().all(|m| qb.contains(&m.queue())),
        "b consumed only its queues"
    );
    let (sa, sb) = (body_set(&ra), body_set(&rb));
    assert!(sa.is_disjoint(&sb));
    assert_eq!(sa.union(&sb).cloned().collect::<BTreeSet<_>>(), sent);
    assert!(!ra.is_empty() && !rb.is_empty());
    assert_in_queue_order(&ra);
    assert_in_queue_order(&rb);
    admin.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcasting_consumers_each_receive_everything_and_keep_local_offsets() {
    let cluster = TestCluster::start().await;
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let topic = "PushBroadcast";
    let admin = setup(&cluster, topic).await;
    let (a, got_a) = consumer(
        &cluster,
        "push-bc",
        topic,
        MessageModel::Broadcasting,
        dir_a.path(),
    )
    .await;
    let (b, got_b) = consumer(
        &cluster,
        "push-bc",
        topic,
        MessageModel::Broadcasting,
        dir_b.path(),
    )
    .await;
    assert_eq!(topic_queues(&a, topic).len(), 4);
    assert_eq!(topic_queues(&b, topic).len(), 4);
    let sent = produce(&cluster, topic, 20).await;
    eventually("both consumed everything", || async {
        (got_a.lock().len() >= 20 && got_b.lock().len() >= 20).then_some(())
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    assert_eq!(got_a.lock().len(), 20);
    assert_eq!(body_set(&got_a.lock()), sent);
    assert_eq!(body_set(&got_b.lock()), sent);
    assert!(dir_a.path().join("push-bc").join("offsets.json").exists());

    // A restarted broadcasting consumer resumes from its local offsets: nothing is redelivered.
    let (again, got_again) = consumer(
        &cluster,
        "push-bc",
        topic,
        MessageModel::Broadcasting,
        dir_a.path(),
    )
    .await;
    produce(&cluster, topic, 1).await;
    eventually("the new message", || async {
        (!got_again.lock().is_empty()).then_some(())
    })
    .await;
    again.shutdown().await;
    assert_eq!(body_set(&got_again.lock()).len(), 1);
    assert_eq!(got_again.lock().len(), 1);
    admin.shutdown().await;
    cluster.shutdown().await;
}
