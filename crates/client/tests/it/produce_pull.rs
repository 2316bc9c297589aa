//! Producing in every mode and pulling everything back.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use ferromq_client::consumer::pull::PullStatus;
use ferromq_client::{ClientError, Message, Producer, SendStatus};
use ferromq_remoting::ResponseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_async_oneway_batch_are_all_pulled_back() {
    let cluster = TestCluster::start().await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let topic = "ProducePull";

    let mut expected = BTreeMap::new();
    for i in 0..10 {
        let body = format!("sync-{i}");
        let r = producer
            .send(
                Message::new(topic, body.clone())
                    .with_tag("TagA")
                    .with_keys([format!("k{i}")]),
            )
            .await
            .expect("sync send");
        assert_eq!(r.status, SendStatus::SendOk);
        assert_eq!(r.msg_id.len(), 32);
        assert_eq!(r.offset_msg_id.len(), 32);
        assert_eq!(r.queue.topic, topic);
        expected.insert(body, r.msg_id);
    }
    let futures: Vec<_> = (0..10)
        .map(|i| producer.send_async(Message::new(topic, format!("async-{i}")).with_tag("TagB")))
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        let r = tokio::spawn(f).await.expect("join").expect("async send");
        expected.insert(format!("async-{i}"), r.msg_id);
    }
    for i in 0..5 {
        producer
            .send_oneway(Message::new(topic, format!("oneway-{i}")))
            .await
            .expect("oneway send");
    }
    let batch: Vec<Message> = (0..5)
        .map(|i| Message::new(topic, format!("batch-{i}")).with_keys(["bk"]))
        .collect();
    let r = producer.send_batch(batch).await.expect("batch send");
    let batch_ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(batch_ids.len(), 5);
    for (i, id) in batch_ids.iter().enumerate() {
        expected.insert(format!("batch-{i}"), (*id).to_owned());
    }

    let consumer = cluster.pull_consumer("pull-all").await;
    let want = 30;
    let msgs = eventually("every message stored", || async {
        let m = pull_all(&consumer, topic).await;
        (m.len() >= want).then_some(m)
    })
    .await;
    assert_eq!(msgs.len(), want, "no duplicates");
    let got = bodies(&msgs);
    for i in 0..5 {
        assert!(got.contains(&format!("oneway-{i}")));
    }
    for m in &msgs {
        let body = String::from_utf8(m.body.to_vec()).expect("utf8");
        if let Some(id) = expected.get(&body) {
            assert_eq!(&m.msg_id, id, "UNIQ_KEY of {body}");
        }
        assert_eq!(m.topic, topic);
        if body.starts_with("sync-") {
            assert_eq!(m.tags(), Some("TagA"));
            assert_eq!(m.keys().count(), 1);
        }
    }
    // Batch members are stored together on one queue with consecutive offsets, in order.
    let batch_msgs: Vec<_> = msgs
        .iter()
        .filter(|m| m.body.starts_with(b"batch-"))
        .collect();
    assert!(batch_msgs
        .windows(2)
        .all(|w| w[0].queue_id == w[1].queue_id && w[1].queue_offset == w[0].queue_offset + 1));
    assert_eq!(batch_msgs[0].queue_offset, r.queue_offset);
    assert_eq!(
        batch_msgs
            .iter()
            .map(|m| m.body.to_vec())
            .collect::<Vec<_>>(),
        (0..5)
            .map(|i| format!("batch-{i}").into_bytes())
            .collect::<Vec<_>>()
    );

    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ordered_sends_keep_per_key_order_and_queue_sends_hit_their_queue() {
    let cluster = TestCluster::start().await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let topic = "Ordered";
    // Create the topic first through an ordinary send.
    producer
        .send(Message::new(topic, "seed"))
        .await
        .expect("seed");
    let consumer = cluster.pull_consumer("ordered").await;
    let queues = queues_of(&consumer, topic).await;

    let mut queue_of_key = BTreeMap::new();
    for i in 0..30 {
        let key = format!("order-{}", i % 3);
        let r = producer
            .send_ordered(Message::new(topic, format!("{key}:{i}")), &key)
            .await
            .expect("ordered send");
        let q = queue_of_key.entry(key).or_insert_with(|| r.queue.clone());
        assert_eq!(q, &r.queue, "one key, one queue");
    }
    let target = queues.last().expect("a queue").clone();
    let r = producer
        .send_to_queue(Message::new(topic, "direct"), &target)
        .await
        .expect("queue send");
    assert_eq!(r.queue, target);

    // seed + 30 ordered + 1 direct; the broker indexes stored messages asynchronously.
    let msgs = eventually("every message indexed", || async {
        let m = pull_all(&consumer, topic).await;
        (m.len() >= 32).then_some(m)
    })
    .await;
    assert_eq!(msgs.len(), 32);
    for key in queue_of_key.keys() {
        let seq: Vec<usize> = msgs
            .iter()
            .filter_map(|m| {
                let b = String::from_utf8(m.body.to_vec()).expect("utf8");
                let (k, n) = b.split_once(':')?;
                (k == key).then(|| n.parse().expect("number"))
            })
            .collect();
        assert_eq!(seq.len(), 10);
        assert!(seq.windows(2).all(|w| w[0] < w[1]), "{key}: {seq:?}");
    }
    assert!(msgs
        .iter()
        .any(|m| &m.body[..] == b"direct" && m.queue_id == target.queue_id));

    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pull_statuses_offsets_and_tag_filter() {
    let cluster = TestCluster::start().await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let consumer = cluster.pull_consumer("statuses").await;
    let topic = "Statuses";
    producer
        .send(Message::new(topic, "seed"))
        .await
        .expect("seed");
    let mq = queues_of(&consumer, topic).await[0].clone();
    let mut last = 0;
    for i in 0..6 {
        let tag = if i % 2 == 0 { "Even" } else { "Odd" };
        last = producer
            .send_to_queue(Message::new(topic, format!("m{i}")).with_tag(tag), &mq)
            .await
            .expect("send")
            .queue_offset;
    }
    let max = eventually("sends indexed", || async {
        let max = consumer.max_offset(&mq).await.expect("max");
        (max > last).then_some(max)
    })
    .await;
    assert_eq!(max, last + 1);
    assert_eq!(consumer.min_offset(&mq).await.expect("min"), 0);

    let even = consumer.pull(&mq, 0, 32, "Even").await.expect("pull");
    assert_eq!(even.status, PullStatus::Found);
    assert!(even.messages.iter().all(|m| m.tags() == Some("Even")));
    assert_eq!(even.messages.len(), 3);
    assert_eq!(even.max_offset, max);

    let none = consumer.pull(&mq, max, 32, "*").await.expect("pull at end");
    assert_eq!(none.status, PullStatus::NoNewMsg);
    assert_eq!(none.next_offset, max);
    let moved = consumer
        .pull(&mq, max + 100, 32, "*")
        .await
        .expect("pull past end");
    assert_eq!(moved.status, PullStatus::OffsetIllegal);
    assert_eq!(moved.next_offset, max);

    // Offsets: none committed, then committed.
    assert_eq!(
        consumer
            .committed_offset("statuses", &mq)
            .await
            .expect("query"),
        None
    );
    consumer
        .commit_offset("statuses", &mq, 4)
        .await
        .expect("commit");
    assert_eq!(
        consumer
            .committed_offset("statuses", &mq)
            .await
            .expect("query"),
        Some(4)
    );
    let by_time = consumer.offset_by_time(&mq, 0).await.expect("by time");
    assert_eq!(by_time, 0);

    // A long-polling pull is answered when a message arrives.
    let waiting = consumer.pull_blocking(&mq, max, 32, "*", std::time::Duration::from_secs(10));
    let (pulled, sent) = tokio::join!(waiting, async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        producer
            .send_to_queue(Message::new(topic, "late"), &mq)
            .await
    });
    sent.expect("late send");
    let pulled = pulled.expect("blocking pull");
    assert_eq!(pulled.status, PullStatus::Found);
    assert_eq!(&pulled.messages[0].body[..], b"late");

    // Unknown topics are the name server's refusal.
    let err = consumer
        .fetch_queues("NoSuchTopic")
        .await
        .expect_err("unknown");
    assert!(
        matches!(
            err,
            ClientError::Server {
                code: ResponseCode::TOPIC_NOT_EXIST,
                ..
            }
        ),
        "{err}"
    );

    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}
