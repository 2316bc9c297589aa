//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).
//!
//! Every message a client makes the broker store (send, consumer send-back, committed transaction)
//! goes through [`put_message`]: it applies [`crate::schedule::reroute`], so a `DELAY` level or a
//! timer property parks the message in `SCHEDULE_TOPIC_XXXX` / `rmq_sys_wheel_timer` until due.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_net::RequestContext;
use ferromq_remoting::body::batch;
use ferromq_remoting::body::register::TopicConfig;
use ferromq_remoting::body::route::perm;
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_store::config::FlushMode;
use ferromq_store::{PutResult, StoreError};

use super::Reply;
use crate::error::BrokerError;
use crate::names;
use crate::state::State;
use crate::uniq_key;

pub(crate) async fn send(s: &Arc<State>, ctx: &RequestContext, req: &RemotingCommand) -> Reply {
    let code = req.request_code();
    let mut h = SendMessageRequestHeader::decode_for(code, &req.ext_fields)?;
    // Retry hook: a re-sent retry message past its maximum reconsume times goes to the DLQ.
    super::send_back::reroute_exhausted_retry(s, &mut h)?;
    names::validate_topic(&h.topic)?;
    if names::is_not_allowed_send(&h.topic) {
        return Err(BrokerError::SendForbidden(h.topic));
    }
    let topic = s
        .topics
        .ensure_for_send(&h.topic, &h.default_topic, h.default_topic_queue_nums)?;
    if topic.perm & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission {
            topic: h.topic,
            action: "write",
        });
    }
    let queue_id = pick_queue(&topic, h.queue_id)?;
    let body = req.body.as_deref().unwrap_or_default();
    let put = if h.is_batch() || code == RequestCode::SEND_BATCH_MESSAGE {
        put_batch(s, ctx, &h, queue_id, body)?
    } else {
        put_one(s, ctx, &h, queue_id, body)?
    };
    s.stats.add_put(put.result.records.len());
    let response = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_header(
        &SendMessageResponseHeader {
            msg_id: put.msg_ids,
            queue_id: i32::try_from(queue_id).unwrap_or(i32::MAX),
            queue_offset: put
                .result
                .records
                .first()
                .map_or(0, |r| i64::try_from(r.queue_offset).unwrap_or(i64::MAX)),
            transaction_id: put.uniq_key,
            msg_region: s.config.region_id.clone(),
            trace_on: s.config.trace_on,
            ..SendMessageResponseHeader::default()
        },
    );
    Ok(await_durable(s, put.result, response).await)
}

/// The requested queue, or a random writable one when negative.
fn pick_queue(topic: &TopicConfig, asked: i32) -> Result<u32, BrokerError> {
    let queues = topic.read_queue_nums.max(topic.write_queue_nums);
    if asked >= queues {
        return Err(BrokerError::BadQueueId {
            topic: topic.topic_name.clone(),
            queue_id: asked,
            queues,
        });
    }
    if let Ok(q) = u32::try_from(asked) {
        return Ok(q);
    }
    let writable = u32::try_from(topic.write_queue_nums.max(1)).unwrap_or(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Ok(nanos % writable)
}

struct Put {
    result: PutResult,
    msg_ids: String,
    uniq_key: Option<String>,
}

/// The stored property string: the client's, plus `UNIQ_KEY` when missing and `CLUSTER`.
fn stored_properties(s: &State, props: &str) -> (String, String) {
    let mut out = props.to_owned();
    let uniq = match properties::get(props, keys::UNIQ_KEY) {
        Some(u) => u.to_owned(),
        None => {
            let u = uniq_key::generate(s.advertised);
            out.push_str(&properties::encode([(keys::UNIQ_KEY, u.as_str())]));
            u
        }
    };
    if properties::get(props, keys::CLUSTER).is_none() {
        out.push_str(&properties::encode([(
            keys::CLUSTER,
            s.config.cluster_name.as_str(),
        )]));
    }
    (out, uniq)
}

fn check_body(s: &State, body: &[u8]) -> Result<(), BrokerError> {
    let max = s.live.max_message_size();
    if body.len() > max {
        return Err(BrokerError::MessageIllegal(format!(
            "the message body size over max value, MAX: {max}"
        )));
    }
    Ok(())
}

fn draft<'a>(
    s: &State,
    ctx: &RequestContext,
    h: &'a SendMessageRequestHeader,
    queue_id: u32,
    body: &'a [u8],
    properties: &'a str,
) -> RecordDraft<'a> {
    RecordDraft {
        topic: &h.topic,
        queue_id,
        flag: h.flag,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: ctx.peer_addr(),
        store_host: s.advertised,
        reconsume_times: h.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
        body,
        properties,
    }
}

fn put_one(
    s: &State,
    ctx: &RequestContext,
    h: &SendMessageRequestHeader,
    queue_id: u32,
    body: &[u8],
) -> Result<Put, BrokerError> {
    check_body(s, body)?;
    let props = h.properties.as_deref().unwrap_or("");
    let (props, uniq) = stored_properties(s, props);
    let d = draft(s, ctx, h, queue_id, body, &props);
    // Transaction hook: a half message is parked in the half topic until END_TRANSACTION.
    let result = if crate::transaction::half::is_half(&props, d.reconsume_times) {
        let r = crate::transaction::half::put(s, &d, &uniq)?;
        if let Some(at) = r.records.first() {
            crate::trace::hooks::half_stored(s, &d, at);
        }
        r
    } else {
        put_message(s, &d)?
    };
    let msg_ids = result
        .records
        .first()
        .map(|r| offset_msg_id(s.advertised, r.physical_offset))
        .unwrap_or_default();
    Ok(Put {
        result,
        msg_ids,
        uniq_key: Some(uniq),
    })
}

/// Stores one message the way a client send would: the one store entry point for messages that
/// reach a user-visible topic (sends, consumer send-backs, committed transactions), so features that
/// reroute by property (delay levels) apply to all of them.
///
/// # Errors
/// The store refuses the message.
pub(crate) fn put_message(s: &State, draft: &RecordDraft<'_>) -> Result<PutResult, BrokerError> {
    let parked = crate::schedule::reroute(
        &s.schedule,
        draft.topic,
        draft.queue_id,
        draft.sys_flag,
        draft.properties,
        crate::schedule::now_ms(),
    )?;
    let (result, stored_topic) = match &parked {
        Some(to) => (
            s.store.put(&RecordDraft {
                topic: &to.topic,
                queue_id: to.queue_id,
                properties: &to.properties,
                ..draft.clone()
            })?,
            to.topic.as_str(),
        ),
        None => (s.store.put(draft)?, draft.topic),
    };
    if let Some(at) = result.records.first() {
        crate::trace::hooks::stored(s, draft, stored_topic, at);
    }
    Ok(result)
}

fn put_batch(
    s: &State,
    ctx: &RequestContext,
    h: &SendMessageRequestHeader,
    queue_id: u32,
    body: &[u8],
) -> Result<Put, BrokerError> {
    if names::is_retry_topic(&h.topic) {
        return Err(BrokerError::MessageIllegal(
            "retry group topic not support batch".into(),
        ));
    }
    // As in Java, a batch is stored as sent: a delay level on it is refused rather than ignored.
    let wrapper = h.properties.as_deref().unwrap_or("");
    if properties::get(wrapper, keys::DELAY_TIME_LEVEL)
        .is_some_and(|l| l.parse::<i64>().is_ok_and(|l| l > 0))
    {
        return Err(BrokerError::MessageIllegal(
            "batch message does not support delay level".into(),
        ));
    }
    let messages =
        batch::decode(body).map_err(|e| BrokerError::MessageIllegal(format!("bad batch: {e}")))?;
    if messages.is_empty() {
        return Err(BrokerError::MessageIllegal("empty batch".into()));
    }
    let mut props = Vec::with_capacity(messages.len());
    for m in &messages {
        check_body(s, m.body)?;
        props.push(stored_properties(s, m.properties).0);
    }
    let drafts: Vec<RecordDraft<'_>> = messages
        .iter()
        .zip(&props)
        .map(|(m, p)| RecordDraft {
            flag: m.flag,
            ..draft(s, ctx, h, queue_id, m.body, p)
        })
        .collect();
    let result = s.store.put_batch(&drafts)?;
    for (d, at) in drafts.iter().zip(&result.records) {
        crate::trace::hooks::stored(s, d, d.topic, at);
    }
    let mut msg_ids = String::new();
    for (i, r) in result.records.iter().enumerate() {
        if i > 0 {
            msg_ids.push(',');
        }
        let _ = write!(
            msg_ids,
            "{}",
            offset_msg_id(s.advertised, r.physical_offset)
        );
    }
    Ok(Put {
        result,
        msg_ids,
        uniq_key: None,
    })
}

/// SYNC_FLUSH: answer once the records are on disk, or FLUSH_DISK_TIMEOUT (the message is stored
/// and the client counts it as sent). ASYNC_FLUSH: at once. SYNC_MASTER then waits for the replicas
/// (SLAVE_NOT_AVAILABLE, FLUSH_SLAVE_TIMEOUT: see `crate::ha`).
async fn await_durable(
    s: &State,
    put: PutResult,
    mut response: RemotingCommand,
) -> RemotingCommand {
    let timeout = Duration::from_millis(s.config.sync_flush_timeout_ms.max(1));
    let outcome = match s.config.flush_disk_type {
        FlushMode::AsyncFlush => put.durable.await,
        FlushMode::SyncFlush => match tokio::time::timeout(timeout, put.durable).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::FlushTimeout {
                millis: s.config.sync_flush_timeout_ms,
            }),
        },
    };
    let end = put
        .records
        .last()
        .map_or(0, |r| r.physical_offset + u64::from(r.size));
    let outcome = match outcome {
        Ok(()) if s.role.is_sync_master() => {
            let written = s.store.written_offset();
            s.replication
                .acks
                .wait_for(end, written, timeout)
                .await
                .map_err(BrokerError::from)
        }
        other => other.map_err(BrokerError::Store),
    };
    if let Err(err) = outcome {
        tracing::warn!(error = %err, "stored message not durable");
        response.code = crate::responses::code_of(&err).0;
        response.remark = Some(err.to_string());
    }
    response
}
