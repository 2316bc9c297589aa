//! SQL92 subscriptions end to end with our client: the producer sets user properties, pull and push
//! consumers selecting with an SQL92 condition get exactly the matching messages, and a bad
//! condition is refused with its position.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use ferromq_client::consumer::{
    ConsumeFrom, ConsumeStatus, MessageSelector, PullStatus, PushConsumer, PushConsumerConfig,
};
use ferromq_client::{ClientError, Message, MessageExt, Producer};
use ferromq_remoting::ResponseCode;
use parking_lot::Mutex;

const SQL: &str = "region IN ('eu', 'apac') AND (amount >= 20 OR vip = 'true') AND TAGS <> 'skip'";
const TOPIC: &str = "SqlOrders";

/// Message `i`'s properties: region cycles eu/us/apac, amount = i except on every 7th message,
/// vip on every 5th, tag `skip` on every 4th (`keep` on the others).
fn message(i: usize) -> Message {
    let region = ["eu", "us", "apac"][i % 3];
    let mut m = Message::new(TOPIC, format!("m{i:03}")).with_property("region", region);
    if !i.is_multiple_of(7) {
        m = m.with_property("amount", i.to_string());
    }
    if i.is_multiple_of(5) {
        m = m.with_property("vip", "true");
    }
    // Every message has a tag: on a message without one, `TAGS <> 'skip'` is unknown, not true.
    m.with_tag(if i.is_multiple_of(4) { "skip" } else { "keep" })
}

/// What [`SQL`] selects among messages `0..n`, computed here independently of the broker.
fn expected(n: usize) -> BTreeSet<String> {
    (0..n)
        .filter(|i| {
            let region = i % 3 != 1;
            let amount = !i.is_multiple_of(7) && *i >= 20;
            region && (amount || i.is_multiple_of(5)) && !i.is_multiple_of(4)
        })
        .map(|i| format!("m{i:03}"))
        .collect()
}

async fn setup(cluster: &TestCluster) {
    admin_with_topic(cluster, TOPIC, 4).await.shutdown().await;
}

/// Sends messages `0..n`, then four that match (`m900`..`m903`): the producer spreads consecutive
/// sends over the four queues, so once those arrive every queue was read past all the others.
async fn produce(cluster: &TestCluster, n: usize) -> BTreeSet<String> {
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    for i in 0..n {
        producer.send(message(i)).await.expect("send");
    }
    let mut want = expected(n);
    for i in 900..904 {
        let m = Message::new(TOPIC, format!("m{i:03}"))
            .with_property("region", "eu")
            .with_property("amount", "1000")
            .with_tag("keep");
        producer.send(m).await.expect("send");
        want.insert(format!("m{i:03}"));
    }
    producer.shutdown().await;
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_and_push_consumers_get_exactly_the_matching_messages() {
    let cluster = TestCluster::start().await;
    setup(&cluster).await;
    let want = produce(&cluster, 120).await;
    assert!(want.len() > 10 && want.len() < 60, "{want:?}");

    // Pull consumer: every queue from offset 0 to its end.
    let consumer = cluster.pull_consumer("sql-pull").await;
    let queues = queues_of(&consumer, TOPIC).await;
    // Appends reach the consume queues in the background.
    eventually("all 124 messages dispatched", || async {
        let mut total = 0;
        for mq in &queues {
            total += consumer.max_offset(mq).await.ok()?;
        }
        (total == 124).then_some(())
    })
    .await;
    let mut pulled: Vec<MessageExt> = Vec::new();
    for mq in queues {
        let mut offset = 0;
        loop {
            let r = consumer
                .pull(&mq, offset, 32, MessageSelector::sql(SQL))
                .await
                .expect("pull");
            match r.status {
                PullStatus::Found => pulled.extend(r.messages),
                PullStatus::NoMatchedMsg => {}
                PullStatus::NoNewMsg => break,
                other => panic!("unexpected pull status {other:?} on {mq}"),
            }
            assert!(r.next_offset > offset, "no progress on {mq} at {offset}");
            offset = r.next_offset;
        }
    }
    assert_eq!(pulled.len(), want.len(), "duplicates or extras");
    assert_eq!(bodies(&pulled), want);

    // Push consumer from the first offset.
    let received: Arc<Mutex<Vec<MessageExt>>> = Arc::default();
    let sink = received.clone();
    let mut config = PushConsumerConfig::new(vec![cluster.namesrv()], "sql-push")
        .subscribe(TOPIC, MessageSelector::sql(SQL));
    config.consume_from = ConsumeFrom::FirstOffset;
    let push = PushConsumer::start(config, move |msgs| {
        sink.lock().extend(msgs);
        ConsumeStatus::ConsumeSuccess
    })
    .await
    .expect("push consumer starts");
    eventually("every matching message consumed", || async {
        let got = bodies(&received.lock());
        want.iter().all(|b| got.contains(b)).then_some(())
    })
    .await;
    let got = received.lock().clone();
    assert_eq!(bodies(&got), want, "extra messages");
    assert_eq!(got.len(), want.len(), "duplicates");
    push.shutdown().await;
    consumer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_conditions_are_refused_with_their_position() {
    let cluster = TestCluster::start().await;
    setup(&cluster).await;
    let config = PushConsumerConfig::new(vec![cluster.namesrv()], "sql-bad")
        .subscribe(TOPIC, MessageSelector::sql("amount >"));
    let Err(ClientError::InvalidArgument(why)) =
        PushConsumer::start(config, |_| ConsumeStatus::ConsumeSuccess).await
    else {
        panic!("a bad condition must not start");
    };
    assert!(why.contains("line 1, column 9"), "{why}");

    let consumer = cluster.pull_consumer("sql-bad-pull").await;
    let mq = queues_of(&consumer, TOPIC).await.remove(0);
    let err = consumer
        .pull(&mq, 0, 32, MessageSelector::sql("amount BETWEEN 5 AND 1"))
        .await
        .expect_err("refused by the broker");
    let ClientError::Server { code, remark, .. } = err else {
        panic!("broker refusal expected, got {err}");
    };
    assert_eq!(code, ResponseCode::SUBSCRIPTION_PARSE_FAILED);
    assert!(remark.contains("line 1, column 16"), "{remark}");
    consumer.shutdown().await;
    cluster.shutdown().await;
}
