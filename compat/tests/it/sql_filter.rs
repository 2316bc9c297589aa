//! rocketmq-client-rust's SQL92 selector against ferromq: messages with user properties, a push
//! consumer subscribed with `MessageSelector::by_sql` receives exactly the matching ones, and one
//! with a bad expression does not start.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use common::{body_counts, scenario, within, ClientContext as _, Ctx, Recorder, DEADLINE};
use ferromq_compat::cluster::ClusterOptions;
use ferromq_compat::wait_until;
use rocketmq_client_rust::{
    DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer as _, MessageSelector, SendStatus,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;

const TOPIC: &str = "CompatSql";
const SQL: &str = "color IN ('red', 'blue') AND size > 3 AND NOT (size BETWEEN 10 AND 12)";

/// Message `i`: color cycles red/green/blue, size = i % 15 except on every 8th message.
fn message(i: usize) -> anyhow::Result<(Message, bool)> {
    let color = ["red", "green", "blue"][i % 3];
    let size = i % 15;
    let mut b = Message::builder()
        .topic(TOPIC)
        .tags("T")
        .body_slice(format!("m{i}").as_bytes())
        .raw_property("color", color)?;
    let has_size = !i.is_multiple_of(8);
    if has_size {
        b = b.raw_property("size", size.to_string())?;
    }
    let matches = color != "green" && has_size && size > 3 && !(10..=12).contains(&size);
    Ok((b.build_unchecked(), matches))
}

async fn create_topic(producer: &mut DefaultMQProducer) -> anyhow::Result<Vec<MessageQueue>> {
    within(
        "create_topic",
        DEADLINE,
        producer.create_topic("TBW102", TOPIC, 4, HashMap::new()),
    )
    .await?
    .ctx("create_topic")?;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match producer.fetch_publish_message_queues(TOPIC).await {
            Ok(mqs) if mqs.len() == 4 => return Ok(mqs),
            other if tokio::time::Instant::now() >= deadline => {
                anyhow::bail!("route of {TOPIC}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[test]
fn push_consumer_with_an_sql92_selector_gets_exactly_the_matching_messages() -> anyhow::Result<()> {
    scenario(
        "sql_filter",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let mut producer = ctx.producer("compat-sql-producer").await?;
            let mqs = create_topic(&mut producer).await?;
            let mut want = BTreeSet::new();
            for i in 0..90 {
                let (m, matches) = message(i)?;
                let r = producer
                    .send_with_timeout(m, 5_000)
                    .await
                    .ctx(&format!("send {i}"))?
                    .context("no send result")?;
                anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
                if matches {
                    want.insert(format!("m{i}"));
                }
            }
            // One matching sentinel per queue, last: once all arrived, every queue was read past
            // every non-matching message.
            for mq in &mqs {
                let body = format!("sentinel-{}", mq.queue_id());
                let m = Message::builder()
                    .topic(TOPIC)
                    .body_slice(body.as_bytes())
                    .raw_property("color", "blue")?
                    .raw_property("size", "5")?
                    .build_unchecked();
                producer
                    .send_to_queue_with_timeout(m, mq.clone(), 5_000)
                    .await
                    .ctx("sentinel send")?;
                want.insert(body);
            }

            let recorder = Recorder::default();
            let mut consumer = DefaultMQPushConsumer::builder(ctx.runtime.clone())
                .consumer_group("compat-sql-consumer".to_owned())
                .name_server_addr(ctx.namesrv())
                .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
                .build();
            consumer
                .subscribe_with_selector(TOPIC, Some(MessageSelector::by_sql(SQL)))
                .await
                .ctx("subscribe_with_selector")?;
            consumer.register_message_listener_concurrently(recorder.clone());
            within("consumer.start", DEADLINE, consumer.start())
                .await?
                .ctx("consumer.start")?;

            let complete = wait_until(DEADLINE, || {
                let got: BTreeSet<String> = recorder.bodies().into_iter().collect();
                want.is_subset(&got)
            })
            .await;
            let counts = body_counts(recorder.bodies());
            let missing: Vec<_> = want.iter().filter(|b| !counts.contains_key(*b)).collect();
            anyhow::ensure!(complete, "missing {missing:?}");
            let extra: Vec<_> = counts.keys().filter(|b| !want.contains(*b)).collect();
            anyhow::ensure!(extra.is_empty(), "not matching, yet delivered: {extra:?}");
            let dup: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
            anyhow::ensure!(dup.is_empty(), "delivered more than once: {dup:?}");
            consumer.shutdown().await;
            producer.shutdown().await;
            Ok(())
        },
    )
}

#[test]
fn a_bad_sql92_selector_stops_the_consumer_start() -> anyhow::Result<()> {
    scenario(
        "sql_filter_bad",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let mut producer = ctx.producer("compat-sql-bad-producer").await?;
            create_topic(&mut producer).await?;
            let mut consumer = DefaultMQPushConsumer::builder(ctx.runtime.clone())
                .consumer_group("compat-sql-bad".to_owned())
                .name_server_addr(ctx.namesrv())
                .build();
            consumer
                .subscribe_with_selector(TOPIC, Some(MessageSelector::by_sql("size >")))
                .await
                .ctx("subscribe_with_selector")?;
            consumer.register_message_listener_concurrently(Recorder::default());
            // The client asks CHECK_CLIENT_CONFIG (46) first and gives up on the refusal.
            let started = within("consumer.start", DEADLINE, consumer.start()).await?;
            anyhow::ensure!(started.is_err(), "started with a bad SQL92 selector");
            let wire = ctx.cluster.wire().dump();
            anyhow::ensure!(
                wire.contains("CHECK_CLIENT_CONFIG(46): SUBSCRIPTION_PARSE_FAILED (23)")
                    && wire.contains("found end of input at line 1, column 7"),
                "no refusal naming the position on the wire"
            );
            producer.shutdown().await;
            Ok(())
        },
    )
}
