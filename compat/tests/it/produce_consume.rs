//! rocketmq-client-rust against ferromq: create a topic, send sync / async / oneway / batch messages
//! with tags and keys, and consume them with clustering push consumers subscribed by tag.

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context as _;
use std::time::Duration;

use common::{body_counts, message, scenario, within, ClientContext as _, Ctx, Recorder, DEADLINE};
use ferromq_compat::cluster::ClusterOptions;
use ferromq_compat::wait_until;
use rocketmq_client_rust::{DefaultMQPushConsumer, MQPushConsumer as _, SendStatus};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_queue::MessageQueue;

const TBW102: &str = "TBW102";

/// Creates `topic` with `queues` queues through the producer's admin call and waits until the
/// name server routes it.
async fn create_topic(
    ctx: &Ctx,
    producer: &mut rocketmq_client_rust::DefaultMQProducer,
    topic: &str,
    queues: usize,
) -> anyhow::Result<Vec<MessageQueue>> {
    let n = i32::try_from(queues)?;
    within(
        "create_topic",
        DEADLINE,
        producer.create_topic(TBW102, topic, n, HashMap::new()),
    )
    .await?
    .ctx("producer.create_topic")?;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match producer.fetch_publish_message_queues(topic).await {
            Ok(mqs) if mqs.len() == queues => return Ok(mqs),
            Ok(mqs) if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!("route of {topic} has {} queues, want {queues}", mqs.len())
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!("no route for {topic} after create_topic: {e}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        let _ = ctx;
    }
}

#[test]
fn create_topic_through_the_client_admin_call() -> anyhow::Result<()> {
    scenario(
        "create_topic",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let mut producer = ctx.producer("compat-create-topic").await?;
            let mqs = create_topic(ctx, &mut producer, "CompatCreated", 4).await?;
            let ids: BTreeSet<i32> = mqs.iter().map(MessageQueue::queue_id).collect();
            anyhow::ensure!(ids == (0..4).collect(), "queue ids {ids:?}");
            anyhow::ensure!(
                mqs.iter().all(|q| q.topic_str() == "CompatCreated"
                    && q.broker_name().as_str() == ctx.cluster.broker_config().broker_name),
                "{mqs:?}"
            );
            producer.shutdown().await;
            Ok(())
        },
    )
}

#[test]
fn first_send_to_an_unknown_topic_auto_creates_it() -> anyhow::Result<()> {
    scenario(
        "auto_create",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let mut producer = ctx.producer("compat-auto-create").await?;
            let r = within(
                "send",
                DEADLINE,
                producer.send_with_timeout(message("CompatAuto", "TagA", "k0", "hello"), 5_000),
            )
            .await?
            .ctx("send to a new topic")?
            .context("sync send returned no result")?;
            anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
            let mq = r.message_queue.as_ref().context("no queue in result")?;
            anyhow::ensure!(mq.topic_str() == "CompatAuto", "{mq:?}");
            anyhow::ensure!(r.queue_offset == 0, "first message of a queue at {r:?}");
            anyhow::ensure!(r.msg_id.as_ref().is_some_and(|m| !m.is_empty()), "{r:?}");
            anyhow::ensure!(
                r.offset_msg_id.as_ref().is_some_and(|m| m.len() == 32),
                "{r:?}"
            );
            producer.shutdown().await;
            Ok(())
        },
    )
}

/// The bodies sent in each mode, by tag.
#[derive(Default)]
struct Sent {
    by_tag: BTreeMap<String, Vec<String>>,
}

impl Sent {
    fn add(&mut self, tag: &str, body: String) {
        self.by_tag.entry(tag.to_owned()).or_default().push(body);
    }
    fn tagged(&self, tags: &[&str]) -> BTreeSet<String> {
        tags.iter()
            .flat_map(|t| self.by_tag.get(*t).into_iter().flatten().cloned())
            .collect()
    }
}

fn tag_of(i: usize) -> &'static str {
    ["TagA", "TagB", "TagC"][i % 3]
}

/// Sends 30 sync, 30 async, 30 oneway and 3 batches of 10; returns what was sent by tag.
async fn send_every_kind(
    producer: &rocketmq_client_rust::DefaultMQProducer,
    topic: &str,
) -> anyhow::Result<Sent> {
    let mut sent = Sent::default();
    for i in 0..30 {
        let body = format!("sync-{i}");
        let r = producer
            .send_with_timeout(
                message(topic, tag_of(i), &format!("key-{body}"), &body),
                5_000,
            )
            .await
            .ctx(&format!("sync send {i}"))?
            .context("sync send returned no result")?;
        anyhow::ensure!(r.send_status == SendStatus::SendOk, "sync {i}: {r:?}");
        sent.add(tag_of(i), body);
    }

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..30 {
        let body = format!("async-{i}");
        let tx = tx.clone();
        let b = body.clone();
        producer
            .send_with_callback(
                message(topic, tag_of(i), &format!("key-{body}"), &body),
                move |result, error| {
                    let outcome = match (result, error) {
                        (Some(r), _) if r.send_status == SendStatus::SendOk => Ok(()),
                        (Some(r), _) => Err(format!("{r:?}")),
                        (None, Some(e)) => Err(e.to_string()),
                        (None, None) => Err("callback with neither result nor error".into()),
                    };
                    let _ = tx.send((b.clone(), outcome));
                },
            )
            .await
            .ctx(&format!("async send {i}"))?;
        sent.add(tag_of(i), body);
    }
    drop(tx);
    let mut acked = 0;
    while acked < 30 {
        let (body, outcome) = within("async send callbacks", DEADLINE, rx.recv())
            .await?
            .context("callback channel closed early")?;
        outcome.map_err(|e| anyhow::anyhow!("async send of {body} failed: {e}"))?;
        acked += 1;
    }

    for i in 0..30 {
        let body = format!("oneway-{i}");
        producer
            .send_oneway(message(topic, tag_of(i), &format!("key-{body}"), &body))
            .await
            .ctx(&format!("oneway send {i}"))?;
        sent.add(tag_of(i), body);
    }

    for b in 0..3 {
        let mut batch = Vec::new();
        for j in 0..10 {
            let i = b * 10 + j;
            let body = format!("batch-{b}-{j}");
            batch.push(message(topic, tag_of(i), &format!("key-{body}"), &body));
            sent.add(tag_of(i), body);
        }
        let r = producer
            .send_batch_with_timeout(batch, 5_000)
            .await
            .ctx(&format!("batch send {b}"))?;
        anyhow::ensure!(r.send_status == SendStatus::SendOk, "batch {b}: {r:?}");
        // A batch lands in one queue, contiguously.
        anyhow::ensure!(
            r.msg_id
                .as_ref()
                .is_some_and(|ids| ids.as_str().split(',').count() == 10),
            "batch {b}: msg ids {r:?}"
        );
    }
    Ok(sent)
}

/// After everything else, one `TagA` sentinel per queue: a consumer that has received every
/// sentinel has been offered everything before it, since queues are read in order.
async fn send_sentinels(
    producer: &rocketmq_client_rust::DefaultMQProducer,
    mqs: &[MessageQueue],
) -> anyhow::Result<BTreeSet<String>> {
    let mut bodies = BTreeSet::new();
    for mq in mqs {
        let body = format!("sentinel-{}", mq.queue_id());
        let r = producer
            .send_to_queue_with_timeout(
                message(mq.topic_str(), "TagA", "sentinel", &body),
                mq.clone(),
                5_000,
            )
            .await
            .ctx("sentinel send")?
            .context("no result")?;
        anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
        bodies.insert(body);
    }
    Ok(bodies)
}

async fn push_consumer(
    ctx: &Ctx,
    group: &str,
    topic: &str,
    expression: &str,
    recorder: Recorder,
) -> anyhow::Result<DefaultMQPushConsumer> {
    let mut consumer = DefaultMQPushConsumer::builder(ctx.runtime.clone())
        .consumer_group(group.to_owned())
        .name_server_addr(ctx.namesrv())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer
        .subscribe(topic, expression)
        .await
        .ctx("consumer.subscribe")?;
    consumer.register_message_listener_concurrently(recorder);
    within("consumer.start", DEADLINE, consumer.start())
        .await?
        .ctx("consumer.start")?;
    Ok(consumer)
}

/// Waits until `recorder` has every body of `want`, then checks it has nothing else, no body
/// twice, tags matching the subscription, keys as sent and per-queue order.
async fn expect_exactly(
    recorder: &Recorder,
    want: &BTreeSet<String>,
    tags: &[&str],
) -> anyhow::Result<()> {
    let complete = wait_until(DEADLINE, || {
        let got: BTreeSet<String> = recorder.bodies().into_iter().collect();
        want.is_subset(&got)
    })
    .await;
    let got = recorder.snapshot();
    let counts = body_counts(got.iter().map(|r| r.body.clone()));
    let missing: Vec<_> = want.iter().filter(|b| !counts.contains_key(*b)).collect();
    anyhow::ensure!(
        complete,
        "missing {} of {}: {missing:?}",
        missing.len(),
        want.len()
    );
    let extra: Vec<_> = counts.keys().filter(|b| !want.contains(*b)).collect();
    anyhow::ensure!(extra.is_empty(), "unexpected messages: {extra:?}");
    let dup: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    anyhow::ensure!(dup.is_empty(), "delivered more than once: {dup:?}");
    for r in &got {
        let tag = r.tags.as_deref().unwrap_or("");
        anyhow::ensure!(tags.contains(&tag), "{} has tag {tag:?}", r.body);
        if !r.body.starts_with("sentinel-") {
            anyhow::ensure!(
                r.keys.as_deref() == Some(&format!("key-{}", r.body)),
                "{}: keys {:?}",
                r.body,
                r.keys
            );
        }
        anyhow::ensure!(r.reconsume_times == 0, "{r:?}");
    }
    // A concurrently-consuming listener runs consume requests in parallel, so delivery order
    // within a queue is not promised; each (queue, offset) must still come exactly once.
    let mut seen = BTreeSet::new();
    for r in &got {
        anyhow::ensure!(
            seen.insert((r.queue_id, r.queue_offset)),
            "queue {} offset {} delivered twice",
            r.queue_id,
            r.queue_offset
        );
    }
    Ok(())
}

#[test]
fn every_send_mode_then_push_consumers_get_exactly_their_tags() -> anyhow::Result<()> {
    scenario(
        "push_by_tag",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatPush";
            let mut producer = ctx.producer("compat-push-producer").await?;
            let mqs = create_topic(ctx, &mut producer, topic, 4).await?;
            let sent = send_every_kind(&producer, topic).await?;
            let sentinels = send_sentinels(&producer, &mqs).await?;

            let rec_a = Recorder::default();
            let rec_bc = Recorder::default();
            let mut a = push_consumer(ctx, "compat-push-a", topic, "TagA", rec_a.clone()).await?;
            let mut bc =
                push_consumer(ctx, "compat-push-bc", topic, "TagB || TagC", rec_bc.clone()).await?;

            let mut want_a = sent.tagged(&["TagA"]);
            want_a.extend(sentinels.iter().cloned());
            anyhow::ensure!(want_a.len() == 40 + 4, "test setup: {}", want_a.len());
            expect_exactly(&rec_a, &want_a, &["TagA"]).await?;
            // Group bc has no sentinel of its own; it must still see all 80 B/C messages.
            let want_bc = sent.tagged(&["TagB", "TagC"]);
            expect_exactly(&rec_bc, &want_bc, &["TagB", "TagC"]).await?;

            a.shutdown().await;
            bc.shutdown().await;
            producer.shutdown().await;
            Ok(())
        },
    )
}

#[test]
fn push_consumer_started_first_receives_messages_sent_afterwards() -> anyhow::Result<()> {
    scenario(
        "push_live",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatLive";
            let mut producer = ctx.producer("compat-live-producer").await?;
            let _mqs = create_topic(ctx, &mut producer, topic, 2).await?;
            let rec = Recorder::default();
            let mut consumer = push_consumer(ctx, "compat-live", topic, "*", rec.clone()).await?;
            let mut want = BTreeSet::new();
            for i in 0..20 {
                let body = format!("live-{i}");
                producer
                    .send_with_timeout(message(topic, "TagL", &format!("key-{body}"), &body), 5_000)
                    .await
                    .ctx("send")?;
                want.insert(body);
            }
            expect_exactly(&rec, &want, &["TagL"]).await?;
            consumer.shutdown().await;
            producer.shutdown().await;
            Ok(())
        },
    )
}

/// An orderly push consumer locks each queue (LOCK_BATCH_MQ, finding F2, fixed) before pulling it
/// and gets every queue's messages in send order.
#[test]
fn orderly_push_consumer_gets_each_queue_in_send_order() -> anyhow::Result<()> {
    scenario(
        "push_orderly",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatOrderly";
            let mut producer = ctx.producer("compat-orderly-producer").await?;
            let mqs = create_topic(ctx, &mut producer, topic, 3).await?;
            // 20 messages per queue, interleaved across queues.
            let mut want = BTreeSet::new();
            for i in 0..20 {
                for mq in &mqs {
                    let body = format!("q{}-{i:02}", mq.queue_id());
                    producer
                        .send_to_queue_with_timeout(
                            message(topic, "TagO", &format!("key-{body}"), &body),
                            mq.clone(),
                            5_000,
                        )
                        .await
                        .ctx("send")?;
                    want.insert(body);
                }
            }
            let rec = Recorder::default();
            let mut consumer = DefaultMQPushConsumer::builder(ctx.runtime.clone())
                .consumer_group("compat-orderly".to_owned())
                .name_server_addr(ctx.namesrv())
                .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
                .build();
            consumer.subscribe(topic, "*").await.ctx("subscribe")?;
            consumer.register_message_listener_orderly(rec.clone());
            within("consumer.start", DEADLINE, consumer.start())
                .await?
                .ctx("consumer.start")?;
            let complete = wait_until(DEADLINE, || rec.snapshot().len() >= want.len()).await;
            let got = rec.snapshot();
            anyhow::ensure!(complete, "got {} of {}", got.len(), want.len());
            let bodies: BTreeSet<String> = got.iter().map(|r| r.body.clone()).collect();
            anyhow::ensure!(
                bodies == want && got.len() == want.len(),
                "got {:?}",
                rec.bodies()
            );
            common::check_order_per_queue(&got)?;
            // Bodies name their queue and position: order per queue is send order.
            for r in &got {
                anyhow::ensure!(
                    r.body == format!("q{}-{:02}", r.queue_id, r.queue_offset),
                    "{r:?}"
                );
            }
            consumer.shutdown().await;
            producer.shutdown().await;
            Ok(())
        },
    )
}

/// A fresh broker with nothing but its defaults must be routable: a user starts `ferromq dev` and
/// sends (finding F1, fixed).
#[test]
fn a_fresh_broker_registers_and_a_first_send_auto_creates_the_topic() -> anyhow::Result<()> {
    scenario(
        "fresh_broker",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let mut producer = ctx.producer("compat-fresh").await?;
            let r = within(
                "send",
                DEADLINE,
                producer.send_with_timeout(message("CompatFresh", "TagA", "k", "first"), 5_000),
            )
            .await?
            .ctx("send to a fresh broker")?
            .context("no send result")?;
            anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
            producer.shutdown().await;
            Ok(())
        },
    )
}
