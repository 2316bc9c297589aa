//! rocketmq-client-rust's message lookups against ferromq: query by key (QUERY_MESSAGE) and view by
//! message id (VIEW_MESSAGE_BY_ID).

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use common::{message, scenario, within, ClientContext as _, Ctx, Received, DEADLINE};
use ferromq_compat::cluster::ClusterOptions;
use rocketmq_client_rust::SendStatus;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[test]
fn query_by_key_and_view_by_id_find_the_stored_message() -> anyhow::Result<()> {
    scenario("query", ClusterOptions::default(), async |ctx: &mut Ctx| {
        let topic = "CompatQuery";
        let mut producer = ctx.producer("compat-query-producer").await?;
        let begin = now_ms().saturating_sub(60_000);
        let mut offset_ids = Vec::new();
        for i in 0..6 {
            // Keys: "order-0".."order-2", each used twice; plus a key unique to each message.
            let key = format!("order-{} uniq-{i}", i % 3);
            let body = format!("query-{i}");
            let msg = rocketmq_model::common::message::message_single::Message::builder()
                .topic(topic)
                .tags("TagQ")
                .keys(key.split(' ').map(str::to_owned).collect())
                .body_slice(body.as_bytes())
                .build_unchecked();
            let r = within("send", DEADLINE, producer.send_with_timeout(msg, 5_000))
                .await?
                .ctx("send")?
                .context("no send result")?;
            anyhow::ensure!(r.send_status == SendStatus::SendOk, "{r:?}");
            offset_ids.push(r.offset_msg_id.clone().context("no offset msg id")?);
        }
        // An unrelated message with a key that merely starts like one of them.
        producer
            .send_with_timeout(message(topic, "TagQ", "order-10", "other"), 5_000)
            .await
            .ctx("send other")?;
        let end = now_ms() + 60_000;

        // The index is filled by the dispatcher after the send returns: look until found.
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let found = loop {
            let r = producer
                .query_message(topic, "order-1", 32, begin, end)
                .await;
            match r {
                Ok(q) if q.message_list().len() >= 2 => break q,
                other if tokio::time::Instant::now() >= deadline => {
                    anyhow::bail!(
                        "query_message(order-1): {:?}",
                        other.map(|q| q.message_list().len())
                    )
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let mut bodies: Vec<String> = found
            .message_list()
            .iter()
            .map(|m| Received::of(m).body)
            .collect();
        bodies.sort();
        anyhow::ensure!(bodies == ["query-1", "query-4"], "order-1 found {bodies:?}");

        let one = producer
            .query_message(topic, "uniq-5", 32, begin, end)
            .await
            .ctx("query uniq-5")?;
        let got: Vec<Received> = one.message_list().iter().map(Received::of).collect();
        anyhow::ensure!(
            got.len() == 1 && got[0].body == "query-5",
            "uniq-5 found {got:?}"
        );
        anyhow::ensure!(got[0].tags.as_deref() == Some("TagQ"), "{got:?}");

        let none = producer
            .query_message(topic, "no-such-key", 32, begin, end)
            .await;
        anyhow::ensure!(
            none.as_ref().map_or(true, |q| q.message_list().is_empty()),
            "no-such-key found {:?}",
            none.map(|q| q.message_list().len())
        );

        for (i, id) in offset_ids.iter().enumerate() {
            let m = within("view_message", DEADLINE, producer.view_message(topic, id))
                .await?
                .ctx(&format!("view_message({id})"))?;
            let r = Received::of(&m);
            anyhow::ensure!(r.body == format!("query-{i}"), "{id}: {r:?}");
        }
        producer.shutdown().await;
        Ok(())
    })
}
