//! Server-side trace: a message's path on the broker, read back by its id alone through the admin
//! API — stored, delivered to the pulling client, delayed then stored when due, sent back, retried
//! and dead-lettered — with no client tracing anything.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{admin_with_topic, ClusterExt as _, TestCluster};
use ferromq_client::admin::{Admin, AdminConfig};
use ferromq_client::consumer::{
    ConsumeFrom, ConsumeStatus, PullStatus, PushConsumer, PushConsumerConfig,
};
use ferromq_client::Message;
use ferromq_client::Producer;
use ferromq_model::trace::{Event, Kind};

/// Generous: the whole suite runs at once on two cores in CI.
const T: Duration = Duration::from_secs(30);

async fn trace_until(admin: &Admin, msg_id: &str, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let what = format!("the trace of {msg_id}");
    ferromq_testkit::eventually_ok(T, &what, || async {
        let events = admin.query_message_trace(msg_id).await.unwrap_or_default();
        if done(&events) {
            Ok(events)
        } else {
            Err(format!("trace of {msg_id} incomplete: {events:?}"))
        }
    })
    .await
}

fn kinds(events: &[Event]) -> Vec<Kind> {
    events.iter().map(|e| e.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messages_path_is_shown_from_its_id() {
    let cluster = TestCluster::start_with(|c| {
        c.message_delay_level = "100ms 200ms".into();
    })
    .await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let plain = producer
        .send(Message::new("Traced", "plain").with_tag("A"))
        .await
        .expect("send");
    let delayed = producer
        .send(Message::new("Traced", "later").with_delay_level(1))
        .await
        .expect("send delayed");
    producer.shutdown().await;

    // Pull everything, delayed message included once it is due.
    let consumer = cluster.pull_consumer("trace-readers").await;
    // The first send created the topic; its route reaches the name server with the broker's next
    // registration.
    let queues = ferromq_testkit::eventually_ok(
        ferromq_testkit::DEFAULT_DEADLINE,
        "the name server routes Traced",
        || consumer.fetch_queues("Traced"),
    )
    .await;
    let mut bodies = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    let mut next = vec![0; queues.len()];
    while bodies.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "got {bodies:?}");
        for (mq, offset) in queues.iter().zip(next.iter_mut()) {
            let r = consumer.pull(mq, *offset, 32, "*").await.expect("pull");
            bodies.extend(r.messages.iter().map(|m| m.body.clone()));
            *offset = r.next_offset;
            if matches!(r.status, PullStatus::NoNewMsg) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    consumer.shutdown().await;

    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![cluster.namesrv()],
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let events = trace_until(&admin, &plain.msg_id, |e| e.len() >= 2).await;
    assert_eq!(
        kinds(&events),
        [Kind::Stored, Kind::Delivered],
        "{events:?}"
    );
    assert_eq!(events[0].topic, "Traced");
    assert_eq!(events[0].queue_id, plain.queue.queue_id);
    assert_eq!(events[0].queue_offset, plain.queue_offset);
    assert_eq!(events[1].group, "trace-readers");
    assert!(!events[1].peer.is_empty());

    let events = trace_until(&admin, &delayed.msg_id, |e| e.len() >= 3).await;
    assert_eq!(
        kinds(&events),
        [Kind::Delayed, Kind::Stored, Kind::Delivered],
        "{events:?}"
    );
    assert!(events[0].detail.contains("delayLevel=1"), "{events:?}");
    assert_eq!(events[1].detail, "from=schedule");
    // Nothing else was recorded for either message.
    let again = admin
        .query_message_trace(&plain.msg_id)
        .await
        .expect("trace");
    assert_eq!(again.len(), 2, "{again:?}");
    admin.shutdown().await;
    cluster.shutdown().await;
}

/// Whether `want` appears in `kinds` in this order (other events may come between).
fn in_order(kinds: &[Kind], want: &[Kind]) -> bool {
    let mut rest = kinds.iter();
    want.iter().all(|w| rest.any(|k| k == w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_is_traced_through_retry_to_the_dead_letter_queue() {
    let cluster = TestCluster::start_with(|c| {
        c.message_delay_level = ["50ms"; 18].join(" ");
    })
    .await;
    // The topic exists and is routed before anyone sends or subscribes.
    let admin = admin_with_topic(&cluster, "TracedRetry", 2).await;
    let producer = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    let sent = producer
        .send(Message::new("TracedRetry", "always fails"))
        .await
        .expect("send");
    producer.shutdown().await;

    let deliveries = Arc::new(AtomicUsize::new(0));
    let counter = deliveries.clone();
    let mut config = PushConsumerConfig::new(vec![cluster.namesrv()], "trace-retry")
        .subscribe("TracedRetry", "*");
    config.consume_from = ConsumeFrom::FirstOffset;
    config.max_reconsume_times = 1;
    config.rebalance_interval = Duration::from_millis(200);
    config.route_refresh_interval = Duration::from_millis(200);
    config.suspend_timeout = Duration::from_millis(500);
    let consumer = PushConsumer::start(config, move |msgs| {
        counter.fetch_add(msgs.len(), Ordering::SeqCst);
        ConsumeStatus::ReconsumeLater
    })
    .await
    .expect("consumer");

    let events = trace_until(&admin, &sent.msg_id, |e| {
        e.iter().any(|e| e.kind == Kind::DeadLettered)
    })
    .await;
    consumer.shutdown().await;
    let k = kinds(&events);
    assert!(
        in_order(
            &k,
            &[
                Kind::Stored,
                Kind::Delivered,
                Kind::SentBack,
                Kind::Retried,
                Kind::Delivered,
                Kind::SentBack,
                Kind::DeadLettered,
            ]
        ),
        "{events:?}"
    );
    let dlq = events
        .iter()
        .find(|e| e.kind == Kind::DeadLettered)
        .expect("dlq");
    assert_eq!(dlq.topic, "%DLQ%trace-retry");
    assert!(deliveries.load(Ordering::SeqCst) >= 2);
    admin.shutdown().await;
    cluster.shutdown().await;
}
