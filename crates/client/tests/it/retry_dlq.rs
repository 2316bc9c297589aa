//! Retry and dead-letter queue, end to end with a push consumer: a message the callback fails k
//! times is delivered exactly k+1 times (reconsume times 0..=k, same id and topic each time); one
//! that always fails reaches `%DLQ%<group>` after the consumer's maximum reconsume times, with its
//! original topic, id, key and properties, and can be pulled and queried there.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferromq_broker::BrokerConfig;
use ferromq_client::admin::Admin;
use ferromq_client::consumer::{ConsumeFrom, ConsumeStatus, PushConsumer, PushConsumerConfig};
use ferromq_client::{Message, MessageExt, Producer};
use parking_lot::Mutex;

/// Short delay levels and intervals when the broker knows the keys; the same broker otherwise (a
/// broker without delay levels stores retry messages undelayed, which these tests also accept).
fn fast(config: &mut BrokerConfig) {
    let base = format!(
        "namesrvAddr={}\nstorePathRootDir={}\nmapedFileSizeCommitLog={}\n",
        config.namesrv_addrs.join(";"),
        config.store_root_dir.display(),
        config.commit_log_file_size,
    );
    let levels = "messageDelayLevel=50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms 50ms\n";
    if let Ok(c) = ferromq_broker::java_conf::parse(&format!("{base}{levels}"), "test.conf") {
        *config = c;
    }
}

async fn admin(cluster: &TestCluster, topic: &str) -> Admin {
    admin_with_topic(cluster, topic, 2).await
}

type Deliveries = Arc<Mutex<Vec<MessageExt>>>;

/// A consumer whose callback fails each message as many times as `fails` says (by body).
async fn failing_consumer(
    cluster: &TestCluster,
    group: &str,
    topic: &str,
    max_reconsume_times: i32,
    fails: BTreeMap<String, usize>,
) -> (PushConsumer, Deliveries) {
    let seen: Deliveries = Arc::default();
    let sink = seen.clone();
    let mut config = PushConsumerConfig::new(vec![cluster.namesrv()], group).subscribe(topic, "*");
    config.consume_from = ConsumeFrom::FirstOffset;
    config.max_reconsume_times = max_reconsume_times;
    config.rebalance_interval = Duration::from_millis(200);
    config.route_refresh_interval = Duration::from_millis(200);
    config.suspend_timeout = Duration::from_millis(500);
    config.reconsume_delay = Duration::from_millis(50);
    let consumer = PushConsumer::start(config, move |msgs| {
        let mut seen = sink.lock();
        let mut status = ConsumeStatus::ConsumeSuccess;
        for m in msgs {
            let body = String::from_utf8_lossy(&m.body).into_owned();
            let earlier = seen.iter().filter(|s| s.body == m.body).count();
            if earlier < fails.get(&body).copied().unwrap_or(0) {
                status = ConsumeStatus::ReconsumeLater;
            }
            seen.push(m);
        }
        status
    })
    .await
    .expect("consumer starts");
    (consumer, seen)
}

fn of_body<'a>(seen: &'a [MessageExt], body: &str) -> Vec<&'a MessageExt> {
    seen.iter().filter(|m| m.body == body.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_messages_come_back_exactly_as_often_as_they_failed() {
    let cluster = TestCluster::start_with(fast).await;
    let topic = "RetryTopic";
    let admin = admin(&cluster, topic).await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let fails: BTreeMap<String, usize> = [("ok", 0), ("once", 1), ("twice", 2), ("thrice", 3)]
        .into_iter()
        .map(|(b, k)| (b.to_owned(), k))
        .collect();
    let mut ids = BTreeMap::new();
    for body in fails.keys() {
        let r = producer
            .send(
                Message::new(topic, body.clone())
                    .with_keys([format!("key-{body}")])
                    .with_property("app", body.clone()),
            )
            .await
            .expect("send");
        ids.insert(body.clone(), r.msg_id);
    }
    let (consumer, seen) = failing_consumer(&cluster, "cg-retry", topic, 16, fails.clone()).await;
    let expected_total: usize = fails.values().map(|k| k + 1).sum();
    eventually("every retry delivered", || async {
        (seen.lock().len() >= expected_total).then_some(())
    })
    .await;
    consumer.shutdown().await;

    let seen = seen.lock().clone();
    assert_eq!(seen.len(), expected_total, "no extra deliveries");
    for (body, k) in &fails {
        let got = of_body(&seen, body);
        let times: Vec<i32> = got.iter().map(|m| m.reconsume_times).collect();
        let want: Vec<i32> = (0..=i32::try_from(*k).expect("small")).collect();
        assert_eq!(
            times, want,
            "{body}: one delivery per failure plus the success"
        );
        for m in got {
            assert_eq!(m.topic, topic, "{body}: the original topic is restored");
            assert_eq!(&m.msg_id, &ids[body], "{body}: the id survives every hop");
            assert_eq!(m.property("app"), Some(body.as_str()));
            assert_eq!(m.keys().collect::<Vec<_>>(), vec![format!("key-{body}")]);
            if m.reconsume_times > 0 {
                assert_eq!(m.property("RETRY_TOPIC"), Some(topic));
                assert!(m.property("ORIGIN_MESSAGE_ID").is_some());
            }
        }
    }
    let dlq = admin
        .query_messages_by_key("%DLQ%cg-retry", "key-thrice", 8)
        .await;
    assert!(dlq.map_or(true, |m| m.is_empty()), "nothing dead-lettered");
    producer.shutdown().await;
    admin.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_failing_message_lands_in_the_dlq_intact() {
    let cluster = TestCluster::start_with(fast).await;
    let topic = "DlqTopic";
    let group = "cg-dlq";
    let admin = admin(&cluster, topic).await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let sent = producer
        .send(
            Message::new(topic, "poison")
                .with_tag("TagP")
                .with_keys(["poison-key"])
                .with_property("app", "v1"),
        )
        .await
        .expect("send");
    let fails = [("poison".to_owned(), usize::MAX)].into_iter().collect();
    let max = 2;
    let (consumer, seen) = failing_consumer(&cluster, group, topic, max, fails).await;
    let dlq_topic = format!("%DLQ%{group}");
    let puller = cluster.pull_consumer("cg-dlq-reader").await;
    let dead = eventually("the message in the DLQ", || async {
        let found = admin
            .query_messages_by_key(&dlq_topic, "poison-key", 8)
            .await
            .ok()?;
        (!found.is_empty()).then_some(found)
    })
    .await;
    consumer.shutdown().await;

    let seen = seen.lock().clone();
    let times: Vec<i32> = seen.iter().map(|m| m.reconsume_times).collect();
    assert_eq!(
        times,
        vec![0, 1, 2],
        "first delivery plus max_reconsume_times retries"
    );
    let first = &seen[0];

    assert_eq!(dead.len(), 1, "dead-lettered once");
    let d = &dead[0];
    assert_eq!(d.topic, dlq_topic);
    assert_eq!(d.body.as_ref(), b"poison");
    assert_eq!(d.msg_id, sent.msg_id, "UNIQ_KEY survives");
    assert_eq!(d.property("RETRY_TOPIC"), Some(topic));
    assert_eq!(
        d.property("ORIGIN_MESSAGE_ID"),
        Some(first.offset_msg_id.as_str()),
        "the first stored copy's id"
    );
    assert_eq!(d.property("app"), Some("v1"));
    assert_eq!(d.tags(), Some("TagP"));
    assert_eq!(d.reconsume_times, 3);
    assert_eq!(d.property("DELAY"), None, "dead letters are not delayed");

    // Consumable like any topic: one queue, one message.
    let pulled = pull_all(&puller, &dlq_topic).await;
    assert_eq!(pulled.len(), 1);
    assert_eq!(pulled[0].msg_id, sent.msg_id);
    let route = admin.topic_route(&dlq_topic).await.expect("DLQ route");
    let queues: i32 = route.queue_datas.iter().map(|q| q.read_queue_nums).sum();
    assert_eq!(queues, 1);

    puller.shutdown().await;
    producer.shutdown().await;
    admin.shutdown().await;
    cluster.shutdown().await;
}
