//! Messages: `queryMsgById`, `queryMsgByKey`, `queryMsgByOffset`, `sendMessage`,
//! `consumeMessage`.

use std::time::Duration;

use ferromq_client::consumer::pull::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{Message, MessageExt, MessageQueue, Producer, ProducerConfig, SendStatus};
use serde_json::{json, Value};

use super::Ctx;
use crate::cli::{
    ConsumeMessageArgs, QueryMsgByIdArgs, QueryMsgByKeyArgs, QueryMsgByOffsetArgs, SendMessageArgs,
};
use crate::error::Failure;
use crate::report::Report;
use crate::table::{key_values, Table};
use crate::time::format_ms;

/// The groups mqadmin uses for its own sends and pulls.
const TOOLS_PRODUCER: &str = "TOOLS_PRODUCER";
const TOOLS_CONSUMER: &str = "TOOLS_CONSUMER";
/// Messages per pull of `consumeMessage`.
const PULL_BATCH: u32 = 32;

fn keys_of(m: &MessageExt) -> String {
    m.keys().collect::<Vec<_>>().join(" ")
}

fn message_json(m: &MessageExt) -> Value {
    json!({
        "msgId": m.msg_id,
        "offsetMsgId": m.offset_msg_id,
        "topic": m.topic,
        "brokerName": m.broker_name,
        "queueId": m.queue_id,
        "queueOffset": m.queue_offset,
        "commitLogOffset": m.commit_log_offset,
        "tags": m.tags(),
        "keys": keys_of(m),
        "bornTimestamp": m.born_timestamp,
        "storeTimestamp": m.store_timestamp,
        "bornHost": m.born_host.to_string(),
        "storeHost": m.store_host.to_string(),
        "reconsumeTimes": m.reconsume_times,
        "sysFlag": m.sys_flag,
        "bodyCrc": m.body_crc,
        "properties": m.properties,
        "body": String::from_utf8_lossy(&m.body),
        "bodyLength": m.body.len(),
    })
}

/// One message in mqadmin's `queryMsgById` layout.
fn message_text(m: &MessageExt) -> String {
    let props = m
        .properties
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    key_values(&[
        ("OffsetID", m.offset_msg_id.clone()),
        ("MsgId", m.msg_id.clone()),
        ("Topic", m.topic.clone()),
        ("Tags", format!("[{}]", m.tags().unwrap_or_default())),
        ("Keys", format!("[{}]", keys_of(m))),
        ("Broker Name", m.broker_name.clone()),
        ("Queue ID", m.queue_id.to_string()),
        ("Queue Offset", m.queue_offset.to_string()),
        ("CommitLog Offset", m.commit_log_offset.to_string()),
        ("Reconsume Times", m.reconsume_times.to_string()),
        ("Born Timestamp", format_ms(m.born_timestamp)),
        ("Store Timestamp", format_ms(m.store_timestamp)),
        ("Born Host", m.born_host.to_string()),
        ("Store Host", m.store_host.to_string()),
        ("System Flag", m.sys_flag.to_string()),
        ("Properties", format!("{{{props}}}")),
        (
            "Message Body",
            String::from_utf8_lossy(&m.body).into_owned(),
        ),
    ])
}

fn list_report(msgs: &[MessageExt]) -> Report {
    let mut table = Table::new(&[
        "#Message ID",
        "#Broker Name",
        "#QID",
        "#Offset",
        "#Tags",
        "#Keys",
        "#StoreTime",
        "#Body",
    ]);
    for m in msgs {
        let body = String::from_utf8_lossy(&m.body);
        let short: String = body.chars().take(64).collect();
        table.row([
            m.msg_id.clone(),
            m.broker_name.clone(),
            m.queue_id.to_string(),
            m.queue_offset.to_string(),
            m.tags().unwrap_or_default().to_owned(),
            keys_of(m),
            format_ms(m.store_timestamp),
            short,
        ]);
    }
    Report::new(
        json!({ "messages": msgs.iter().map(message_json).collect::<Vec<_>>() }),
        table.render(),
    )
}

fn one(found: Option<MessageExt>, what: String) -> Result<Report, Failure> {
    let m = found.ok_or_else(|| {
        Failure::not_found(
            format!("no message {what}"),
            "check the id and topic; `queryMsgByKey -t <topic> -k <key>` searches by key",
        )
    })?;
    Ok(Report::new(message_json(&m), message_text(&m)))
}

pub(super) async fn query_by_id(cx: &Ctx<'_>, a: &QueryMsgByIdArgs) -> Result<Report, Failure> {
    let found = match &a.topic {
        Some(topic) => cx.admin.query_message_by_id(topic, &a.msg_id).await,
        None => cx.admin.view_message_by_offset_id(&a.msg_id).await,
    };
    let found = match found {
        Ok(f) => f,
        // The broker answers SYSTEM_ERROR when no message is stored at an offset id.
        Err(e) if a.topic.is_none() && e.code().is_some() => None,
        Err(e) => return Err(cx.fail(e)),
    };
    one(found, format!("with id {}", a.msg_id))
}

pub(super) async fn query_by_key(cx: &Ctx<'_>, a: &QueryMsgByKeyArgs) -> Result<Report, Failure> {
    let mut msgs = cx
        .admin
        .query_messages_by_key(&a.topic, &a.key, a.max)
        .await
        .map_err(|e| cx.fail(e))?;
    if msgs.is_empty() {
        return Err(Failure::not_found(
            format!("no message of topic {} has key {}", a.topic, a.key),
            "keys are indexed when sent; check the key (case matters) and the topic",
        ));
    }
    msgs.sort_by(|x, y| {
        (x.store_timestamp, x.queue_id, x.queue_offset).cmp(&(
            y.store_timestamp,
            y.queue_id,
            y.queue_offset,
        ))
    });
    Ok(list_report(&msgs))
}

pub(super) async fn query_by_offset(
    cx: &Ctx<'_>,
    a: &QueryMsgByOffsetArgs,
) -> Result<Report, Failure> {
    let mq = MessageQueue::new(a.topic.clone(), a.broker_name.clone(), a.queue_id);
    let found = cx
        .admin
        .query_message_by_offset(&mq, a.offset)
        .await
        .map_err(|e| cx.fail(e))?;
    one(found, format!("at offset {} of {}", a.offset, mq))
}

pub(super) async fn send_message(cx: &Ctx<'_>, a: &SendMessageArgs) -> Result<Report, Failure> {
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cx.namesrv_addrs(),
        group: TOOLS_PRODUCER.to_owned(),
        send_timeout: Duration::from_millis(cx.args.timeout_ms),
        ..ProducerConfig::default()
    })
    .await
    .map_err(|e| cx.fail(e))?;
    let mut msg = Message::new(a.topic.clone(), a.body.clone().into_bytes());
    if let Some(tags) = &a.tags {
        msg = msg.with_tag(tags.clone());
    }
    if let Some(keys) = &a.keys {
        msg = msg.with_keys(keys.split([' ', ',']));
    }
    let sent = match (&a.broker_name, a.queue_id) {
        (Some(b), Some(q)) => {
            producer
                .send_to_queue(msg, &MessageQueue::new(a.topic.clone(), b.clone(), q))
                .await
        }
        _ => producer.send(msg).await,
    };
    producer.shutdown().await;
    let r = sent.map_err(|e| cx.fail(e))?;
    let status = match r.status {
        SendStatus::SendOk => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    };
    let mut table = Table::new(&[
        "#Broker Name",
        "#QID",
        "#Send Result",
        "#MsgId",
        "#OffsetMsgId",
    ]);
    table.row([
        r.queue.broker_name.clone(),
        r.queue.queue_id.to_string(),
        status.to_owned(),
        r.msg_id.clone(),
        r.offset_msg_id.clone(),
    ]);
    Ok(Report::new(
        json!({
            "status": status,
            "msgId": r.msg_id,
            "offsetMsgId": r.offset_msg_id,
            "topic": r.queue.topic,
            "brokerName": r.queue.broker_name,
            "queueId": r.queue.queue_id,
            "queueOffset": r.queue_offset,
        }),
        table.render(),
    ))
}

pub(super) async fn consume_message(
    cx: &Ctx<'_>,
    a: &ConsumeMessageArgs,
) -> Result<Report, Failure> {
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: cx.namesrv_addrs(),
        group: TOOLS_CONSUMER.to_owned(),
        request_timeout: Duration::from_millis(cx.args.timeout_ms),
        ..PullConsumerConfig::default()
    })
    .await
    .map_err(|e| cx.fail(e))?;
    let result = pull_messages(&consumer, a).await;
    consumer.shutdown().await;
    let msgs = result.map_err(|e| cx.fail(e))?;
    Ok(list_report(&msgs))
}

/// Up to `a.count` messages, queue by queue in queue order, each queue from `a.offset` (or its
/// first message) to its end.
async fn pull_messages(
    consumer: &PullConsumer,
    a: &ConsumeMessageArgs,
) -> Result<Vec<MessageExt>, ferromq_client::ClientError> {
    let mut queues = consumer.fetch_queues(&a.topic).await?;
    queues.retain(|q| {
        a.broker_name.as_ref().is_none_or(|b| &q.broker_name == b)
            && a.queue_id.is_none_or(|id| q.queue_id == id)
    });
    queues.sort();
    let mut out = Vec::new();
    for mq in queues {
        let mut offset = match a.offset {
            Some(o) => o,
            None => consumer.min_offset(&mq).await?,
        };
        while out.len() < a.count {
            let want = u32::try_from(a.count - out.len())
                .unwrap_or(PULL_BATCH)
                .min(PULL_BATCH);
            let r = consumer.pull(&mq, offset, want, "*").await?;
            match r.status {
                PullStatus::Found | PullStatus::NoMatchedMsg if r.next_offset > offset => {
                    out.extend(r.messages.into_iter().take(a.count - out.len()));
                    offset = r.next_offset;
                }
                PullStatus::OffsetIllegal if r.next_offset != offset => offset = r.next_offset,
                _ => break,
            }
        }
    }
    Ok(out)
}
