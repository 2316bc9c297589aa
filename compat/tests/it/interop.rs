//! Messages cross between clients: what rocketmq-client-rust sends (plain, and bodies it compresses
//! because they are large) is read intact by ferromq's own consumer, and what ferromq's producer
//! sends reaches a rocketmq-client-rust push consumer with body, tag and keys as sent.

use crate::common;

use std::collections::BTreeSet;

use anyhow::Context as _;
use common::{message, scenario, within, ClientContext as _, Ctx, Recorder, DEADLINE};
use ferromq_client::consumer::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_compat::cluster::ClusterOptions;
use ferromq_compat::wait_until;
use rocketmq_client_rust::{
    DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer as _, SendStatus,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

/// What a user compares: body, tag, keys.
type Seen = (String, Option<String>, Option<String>);

/// A body well over the 4 KiB above which producers compress, and compressible.
fn large_body(i: usize) -> String {
    format!("large-{i}-{}", "abcdefgh".repeat(1_500))
}

/// Reads every queue of `topic` with ferromq's pull consumer until `want` messages arrived (the
/// broker indexes new messages moments after it acknowledges them) or the deadline passes.
async fn read_all_with_ours(
    ctx: &Ctx,
    topic: &str,
    want: usize,
) -> anyhow::Result<(Vec<Seen>, usize)> {
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: vec![ctx.namesrv()],
        group: "interop-reader".into(),
        ..PullConsumerConfig::default()
    })
    .await?;
    let queues = consumer.fetch_queues(topic).await?;
    let mut next = vec![0u64; queues.len()];
    let mut seen = Vec::new();
    let mut stored_compressed = 0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while seen.len() < want && tokio::time::Instant::now() < deadline {
        for (mq, offset) in queues.iter().zip(next.iter_mut()) {
            let r = consumer.pull(mq, *offset, 32, "*").await?;
            for m in &r.messages {
                if m.sys_flag & ferromq_client::compression::COMPRESSED_FLAG != 0 {
                    stored_compressed += 1;
                }
                let keys: Vec<&str> = m.keys().collect();
                seen.push((
                    String::from_utf8(m.body.to_vec())?,
                    m.tags().map(str::to_owned),
                    (!keys.is_empty()).then(|| keys.join(" ")),
                ));
            }
            *offset = r.next_offset;
            if matches!(r.status, PullStatus::NoNewMsg) && seen.len() < want {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    }
    consumer.shutdown().await;
    Ok((seen, stored_compressed))
}

#[test]
fn their_plain_and_compressed_sends_are_read_intact_by_our_consumer() -> anyhow::Result<()> {
    scenario(
        "interop_theirs_to_ours",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatInteropIn";
            let mut producer = DefaultMQProducer::builder(ctx.runtime.clone())
                .producer_group("interop-theirs".to_owned())
                .name_server_addr(ctx.namesrv())
                .send_msg_timeout(5_000)
                .compress_msg_body_over_howmuch(4_096)
                .build();
            producer.start().await.ctx("producer.start")?;
            let mut sent = BTreeSet::new();
            for i in 0..12 {
                let body = if i % 3 == 0 {
                    large_body(i)
                } else {
                    format!("small-{i}")
                };
                let tag = if i % 2 == 0 { "TagA" } else { "TagB" };
                let key = format!("key-{i}");
                let r = within(
                    "send",
                    DEADLINE,
                    producer.send_with_timeout(message(topic, tag, &key, &body), 5_000),
                )
                .await?
                .ctx("send")?
                .context("send returned no result")?;
                anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
                sent.insert((body, Some(tag.to_owned()), Some(key)));
            }
            producer.shutdown().await;

            let (seen, stored_compressed) = read_all_with_ours(ctx, topic, sent.len()).await?;
            anyhow::ensure!(
                stored_compressed == 4,
                "the 4 large bodies should have travelled compressed, {stored_compressed} did"
            );
            let got: BTreeSet<Seen> = seen.iter().cloned().collect();
            anyhow::ensure!(
                got == sent && seen.len() == sent.len(),
                "read {} messages, sent {}; differing: {:?}",
                seen.len(),
                sent.len(),
                got.symmetric_difference(&sent)
                    .map(|(b, t, k)| (b.chars().take(20).collect::<String>(), t, k))
                    .collect::<Vec<_>>()
            );
            Ok(())
        },
    )
}

#[test]
fn our_sends_reach_their_push_consumer() -> anyhow::Result<()> {
    scenario(
        "interop_ours_to_theirs",
        ClusterOptions::default(),
        async |ctx: &mut Ctx| {
            let topic = "CompatInteropOut";
            let producer = Producer::start(ProducerConfig {
                namesrv_addrs: vec![ctx.namesrv()],
                group: "interop-ours".into(),
                ..ProducerConfig::default()
            })
            .await?;
            let mut sent = BTreeSet::new();
            for i in 0..20 {
                let body = format!("ours-{i}");
                let tag = if i % 2 == 0 { "TagA" } else { "TagB" };
                let key = format!("key-{i}");
                producer
                    .send(
                        Message::new(topic, body.clone())
                            .with_tag(tag)
                            .with_keys([key.clone()]),
                    )
                    .await?;
                sent.insert((body, Some(tag.to_owned()), Some(key)));
            }
            producer.shutdown().await;

            let recorder = Recorder::default();
            let mut consumer = DefaultMQPushConsumer::builder(ctx.runtime.clone())
                .consumer_group("interop-theirs-reader".to_owned())
                .name_server_addr(ctx.namesrv())
                .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
                .build();
            consumer.subscribe(topic, "*").await.ctx("subscribe")?;
            consumer.register_message_listener_concurrently(recorder.clone());
            within("consumer.start", DEADLINE, consumer.start())
                .await?
                .ctx("consumer.start")?;
            let complete = wait_until(DEADLINE, || recorder.snapshot().len() >= sent.len()).await;
            consumer.shutdown().await;
            let got: Vec<Seen> = recorder
                .snapshot()
                .into_iter()
                .map(|r| (r.body, r.tags, r.keys))
                .collect();
            anyhow::ensure!(complete, "got {} of {}", got.len(), sent.len());
            let set: BTreeSet<Seen> = got.iter().cloned().collect();
            anyhow::ensure!(set == sent && got.len() == sent.len(), "got {got:?}");
            Ok(())
        },
    )
}
