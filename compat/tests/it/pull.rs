//! rocketmq-client-rust's pull-style consumers against ferromq: the lite-pull consumer from
//! offset 0, resuming from its committed offset after a broker restart on the same data folder,
//! and the classic pull consumer with explicit offsets.

use crate::common;

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use std::time::Duration;

use common::{
    check_order_per_queue, message, scenario, within, ClientContext as _, Ctx, Received, DEADLINE,
};
use ferromq_compat::cluster::ClusterOptions;
#[allow(deprecated)]
use rocketmq_client_rust::DefaultMQPullConsumer;
use rocketmq_client_rust::{DefaultLitePullConsumer, DefaultMQProducer, PullStatus, SendStatus};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_queue::MessageQueue;

/// Creates `topic` with `queues` queues and waits for its route.
async fn topic_with_queues(
    producer: &mut DefaultMQProducer,
    topic: &str,
    queues: i32,
) -> anyhow::Result<Vec<MessageQueue>> {
    within(
        "create_topic",
        DEADLINE,
        producer.create_topic("TBW102", topic, queues, HashMap::new()),
    )
    .await?
    .ctx("create_topic")?;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let r = producer.fetch_publish_message_queues(topic).await;
        match r {
            Ok(mut mqs) if mqs.len() == usize::try_from(queues)? => {
                mqs.sort_by_key(MessageQueue::queue_id);
                return Ok(mqs);
            }
            other if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!("route of {topic}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Sends bodies `q{queue}-{i}` for `i` in `range` to every queue, checking each queue offset.
async fn fill(
    producer: &DefaultMQProducer,
    mqs: &[MessageQueue],
    range: std::ops::Range<u64>,
) -> anyhow::Result<()> {
    for i in range {
        for mq in mqs {
            let body = format!("q{}-{i}", mq.queue_id());
            let r = producer
                .send_to_queue_with_timeout(
                    message(mq.topic_str(), "TagP", &format!("key-{body}"), &body),
                    mq.clone(),
                    5_000,
                )
                .await
                .ctx(&format!("send {body}"))?
                .context("no send result")?;
            anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
            anyhow::ensure!(r.queue_offset == i, "{body} stored at {}", r.queue_offset);
        }
    }
    Ok(())
}

async fn lite_consumer(
    ctx: &Ctx,
    group: &str,
    topic: &str,
) -> anyhow::Result<DefaultLitePullConsumer> {
    let consumer = DefaultLitePullConsumer::builder(ctx.runtime.clone())
        .consumer_group(group.to_owned())
        .name_server_addr(ctx.namesrv())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .pull_batch_size(8)
        .poll_timeout_millis(500)
        .auto_commit(false)
        .build()
        .ctx("lite pull build")?;
    consumer.subscribe(topic).await.ctx("lite subscribe")?;
    within("lite start", DEADLINE, consumer.start())
        .await?
        .ctx("lite start")?;
    Ok(consumer)
}

/// Polls until `want` messages arrived (or the deadline), returning them in delivery order.
async fn poll_n(consumer: &DefaultLitePullConsumer, want: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while got.len() < want && tokio::time::Instant::now() < deadline {
        got.extend(
            consumer
                .poll_with_timeout(500)
                .await
                .iter()
                .map(Received::of),
        );
    }
    got
}

/// Every queue got exactly `q{queue}-{i}` for `i` in `range`, in order, at queue offset `i`.
fn check_exact(
    got: &[Received],
    mqs: &[MessageQueue],
    range: std::ops::Range<u64>,
) -> anyhow::Result<()> {
    check_order_per_queue(got)?;
    let mut by_queue: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for r in got {
        by_queue
            .entry(r.queue_id)
            .or_default()
            .push((r.queue_offset, r.body.clone()));
    }
    for mq in mqs {
        let q = mq.queue_id();
        let want: Vec<(i64, String)> = range
            .clone()
            .map(|i| (i64::try_from(i).unwrap_or(i64::MAX), format!("q{q}-{i}")))
            .collect();
        let have = by_queue.remove(&q).unwrap_or_default();
        anyhow::ensure!(have == want, "queue {q}: got {have:?}, want {want:?}");
    }
    anyhow::ensure!(
        by_queue.is_empty(),
        "messages from unknown queues: {by_queue:?}"
    );
    Ok(())
}

#[test]
fn lite_pull_from_zero_then_resume_from_committed_offset_after_broker_restart() -> anyhow::Result<()>
{
    scenario(
        "lite_pull_restart",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatLite";
            let group = "compat-lite";
            let mut producer = ctx.producer("compat-lite-producer").await?;
            let mqs = topic_with_queues(&mut producer, topic, 2).await?;
            fill(&producer, &mqs, 0..20).await?;

            let consumer = lite_consumer(ctx, group, topic).await?;
            let got = poll_n(&consumer, 40).await;
            check_exact(&got, &mqs, 0..20)?;
            // Commit what was consumed and read it back from the broker.
            let offsets: HashMap<MessageQueue, i64> = mqs.iter().map(|q| (q.clone(), 20)).collect();
            consumer.commit_sync_with_map(offsets, true).await;
            for mq in &mqs {
                let c = consumer.committed(mq).await.ctx("committed")?;
                anyhow::ensure!(c == 20, "queue {}: committed {c}, want 20", mq.queue_id());
            }
            consumer.shutdown().await;
            producer.shutdown().await;

            ctx.cluster.restart_broker().await?;

            let producer = ctx.producer("compat-lite-producer-2").await?;
            fill(&producer, &mqs, 20..25).await?;
            let consumer = lite_consumer(ctx, group, topic).await?;
            let got = poll_n(&consumer, 10).await;
            // Anything already committed would come first in its queue and fail the check.
            check_exact(&got, &mqs, 20..25)?;
            consumer.shutdown().await;
            let mut producer = producer;
            producer.shutdown().await;
            Ok(())
        },
    )
}

#[allow(deprecated)]
async fn classic_consumer(ctx: &Ctx, group: &str) -> anyhow::Result<DefaultMQPullConsumer> {
    let consumer = DefaultMQPullConsumer::builder(ctx.runtime.clone())
        .consumer_group(group.to_owned())
        .name_server_addr(ctx.namesrv())
        .consumer_pull_timeout(Duration::from_secs(10))
        .build()
        .ctx("pull consumer build")?;
    within("pull consumer start", DEADLINE, consumer.start())
        .await?
        .ctx("pull consumer start")?;
    Ok(consumer)
}

#[test]
#[allow(deprecated)]
fn classic_pull_by_offset_and_tag_with_stored_consume_offsets() -> anyhow::Result<()> {
    scenario(
        "classic_pull",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatClassic";
            let mut producer = ctx.producer("compat-classic-producer").await?;
            let mqs = topic_with_queues(&mut producer, topic, 2).await?;
            fill(&producer, &mqs, 0..10).await?;
            let consumer = classic_consumer(ctx, "compat-classic").await?;
            let mut subscribed = consumer
                .fetch_subscribe_message_queues(topic)
                .await
                .ctx("fetch_subscribe_message_queues")?;
            subscribed.sort_by_key(MessageQueue::queue_id);
            anyhow::ensure!(subscribed == mqs, "{subscribed:?} vs {mqs:?}");

            for mq in &mqs {
                let q = mq.queue_id();
                anyhow::ensure!(
                    consumer.min_offset(mq).await.ctx("min_offset")? == 0,
                    "min offset"
                );
                // The consume queue is filled asynchronously after the send returns (Java's reput
                // too), so the max offset may lag for a moment.
                let mut max = 0;
                let deadline = tokio::time::Instant::now() + DEADLINE;
                while tokio::time::Instant::now() < deadline {
                    max = consumer.max_offset(mq).await.ctx("max_offset")?;
                    if max == 10 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                anyhow::ensure!(max == 10, "queue {q}: max offset {max}");
                // From offset 3, at most 4 messages: offsets 3..7.
                let r = consumer.pull(mq, "*", 3, 4).await.ctx("pull")?;
                anyhow::ensure!(
                    *r.pull_status() == PullStatus::Found,
                    "{:?}",
                    r.pull_status()
                );
                let got: Vec<Received> = r
                    .msg_found_list()
                    .unwrap_or_default()
                    .iter()
                    .map(Received::of)
                    .collect();
                let bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
                let want: Vec<String> = (3..7).map(|i| format!("q{q}-{i}")).collect();
                anyhow::ensure!(bodies == want, "queue {q}: {bodies:?}");
                anyhow::ensure!(r.next_begin_offset() == 7, "next {}", r.next_begin_offset());
                anyhow::ensure!(
                    got.iter().all(|m| m.tags.as_deref() == Some("TagP")
                        && m.keys.as_deref() == Some(&format!("key-{}", m.body))),
                    "{got:?}"
                );
                // A tag nobody sent: nothing matches.
                let r = consumer.pull(mq, "TagZ", 0, 32).await.ctx("pull TagZ")?;
                anyhow::ensure!(
                    r.msg_found_list().is_none_or(<[_]>::is_empty),
                    "TagZ matched {:?}",
                    r.msg_found_list().map(<[_]>::len)
                );
                // At the end of the queue.
                let r = consumer.pull(mq, "*", 10, 32).await.ctx("pull at end")?;
                anyhow::ensure!(
                    *r.pull_status() == PullStatus::NoNewMsg,
                    "at end: {:?}",
                    r.pull_status()
                );

                // Before any commit, the broker's QUERY_CONSUMER_OFFSET answer (0 here; Java
                // answers QUERY_NOT_FOUND while the queue's first message is in memory) is what
                // the client reports.
                let before = consumer
                    .fetch_consume_offset(mq, true)
                    .await
                    .ctx("fetch_consume_offset")?;
                anyhow::ensure!(before <= 0, "queue {q}: offset {before} before any commit");
                // rocketmq-client-rust 1.0.0 keeps classic-pull offsets in memory only: it sends
                // no UPDATE_CONSUMER_OFFSET for them, neither periodically nor at shutdown (seen
                // on the wire), so the broker side of offsets is checked by the lite-pull test.
                consumer
                    .update_consume_offset(mq, 7)
                    .await
                    .ctx("update_consume_offset")?;
                let local = consumer
                    .fetch_consume_offset(mq, false)
                    .await
                    .ctx("fetch_consume_offset")?;
                anyhow::ensure!(local == 7, "queue {q}: offset {local}");
            }
            consumer.shutdown().await.ctx("pull consumer shutdown")?;
            producer.shutdown().await;
            Ok(())
        },
    )
}
