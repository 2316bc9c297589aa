//! CONSUMER_SEND_MSG_BACK (36): a consumer hands back a message it failed to consume. The broker
//! stores a copy in `%RETRY%<group>` with the next delay level (3 + reconsume times unless the
//! request names one), or in `%DLQ%<group>` once the reconsume times reach the group's maximum (or
//! the request's delay level is negative). Also the dead-letter rule of plain sends to a retry
//! topic ([`reroute_exhausted_retry`]), used by clients whose send-back failed.

use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_remoting::body::route::perm;
use ferromq_remoting::headers::send::{ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader};
use ferromq_remoting::headers::CustomHeader;
use ferromq_remoting::RemotingCommand;
use tracing::info;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::names;
use crate::state::State;
use crate::transaction::{edit_properties, read_record, view};

/// Dead-letter topics have one queue, like Java's `DLQ_NUMS_PER_GROUP`.
const DLQ_QUEUES: i32 = 1;

/// `%DLQ%<group>`.
#[must_use]
pub(crate) fn dlq_topic(group: &str) -> String {
    format!("{}{group}", names::DLQ_PREFIX)
}

/// The group's maximum reconsume times: the request's value when it carries one, else the
/// subscription group's `retryMaxTimes` (16 by default).
fn max_reconsume_times(s: &State, group: &str, asked: Option<i32>) -> i32 {
    asked.unwrap_or_else(|| i32::try_from(s.subscriptions.retry_max_times(group)).unwrap_or(16))
}

pub(crate) fn send_back(s: &State, peer: std::net::SocketAddr, req: &RemotingCommand) -> Reply {
    let h = ConsumerSendMsgBackRequestHeader::from_ext_fields(&req.ext_fields)?;
    names::validate_group(&h.group)?;
    // Java looks the group up, creating it when auto-creation is on.
    if s.subscriptions.get(&h.group).is_none() {
        if !s.live.auto_create_subscription_group() {
            return Err(BrokerError::SubscriptionGroupNotExist(h.group));
        }
        s.subscriptions.ensure(&h.group)?;
    }
    let retry_topic = names::retry_topic(&h.group);
    s.topics.ensure_retry(&h.group)?;
    let retry = s
        .topics
        .get(&retry_topic)
        .ok_or_else(|| BrokerError::TopicNotExist(retry_topic.clone()))?;
    if retry.perm & perm::WRITE == 0 {
        return Err(BrokerError::NoPermission {
            topic: retry_topic,
            action: "write",
        });
    }
    let offset = u64::try_from(h.offset).map_err(|_| {
        BrokerError::Missing(format!("look message by offset failed, {}", h.offset))
    })?;
    let bytes = read_record(&s.store, offset).map_err(|_| {
        BrokerError::Missing(format!("look message by offset failed, {}", h.offset))
    })?;
    let msg = view(&bytes)?;

    let max = max_reconsume_times(s, &h.group, h.max_reconsume_times);
    let to_dlq = msg.reconsume_times >= max || h.delay_level < 0;
    let (topic, queue_id, delay) = if to_dlq {
        let dlq = dlq_topic(&h.group);
        s.topics.ensure_internal(&dlq, DLQ_QUEUES)?;
        (dlq, 0, None)
    } else {
        let level = if h.delay_level == 0 {
            3 + msg.reconsume_times
        } else {
            h.delay_level
        };
        let queues = retry.write_queue_nums.max(1).unsigned_abs();
        (retry_topic, pick(queues), Some(level.to_string()))
    };

    // The original topic and id survive every hop: set on the first one only.
    let origin_id = properties::get(msg.properties, keys::ORIGIN_MESSAGE_ID).map_or_else(
        || offset_msg_id(msg.store_host, msg.physical_offset),
        str::to_owned,
    );
    let mut set: Vec<(&str, &str)> = vec![
        (keys::ORIGIN_MESSAGE_ID, &origin_id),
        (keys::WAIT_STORE_MSG_OK, "false"),
    ];
    if properties::get(msg.properties, keys::RETRY_TOPIC).is_none() {
        set.push((keys::RETRY_TOPIC, msg.topic));
    }
    if let Some(level) = &delay {
        set.push((keys::DELAY_TIME_LEVEL, level));
    }
    crate::trace::hooks::step(
        s,
        crate::trace::Kind::SentBack,
        &msg,
        &h.group,
        &peer.to_string(),
        format!(
            "reconsumeTimes={} delayLevel={}",
            msg.reconsume_times,
            delay.as_deref().unwrap_or("dlq")
        ),
    );
    let props = edit_properties(msg.properties, &[keys::DELAY_TIME_LEVEL], &set);
    let result = super::put_message(
        s,
        &RecordDraft {
            topic: &topic,
            queue_id,
            flag: msg.flag,
            sys_flag: msg.sys_flag,
            born_timestamp: msg.born_timestamp,
            born_host: msg.born_host,
            store_host: s.advertised,
            reconsume_times: msg.reconsume_times + 1,
            prepared_transaction_offset: msg.prepared_transaction_offset,
            body: msg.body,
            properties: &props,
        },
    )?;
    s.stats.add_put(result.records.len());
    if to_dlq {
        info!(
            dlq = %topic,
            group = %h.group,
            origin_topic = ?h.origin_topic,
            msg_id = ?properties::get(msg.properties, keys::UNIQ_KEY),
            reconsume_times = msg.reconsume_times,
            "message sent to the dead-letter queue"
        );
    }
    Ok(ok(req))
}

/// Send-path hook for a message sent straight to `%RETRY%<group>` (a consumer whose send-back
/// failed re-sends it with its reconsume times): once those exceed the maximum, the message goes to
/// `%DLQ%<group>` queue 0 instead, without delay. Rewrites `h` in place.
///
/// # Errors
/// The dead-letter topic cannot be created.
pub(crate) fn reroute_exhausted_retry(
    s: &State,
    h: &mut SendMessageRequestHeader,
) -> Result<(), BrokerError> {
    let Some(group) = h.topic.strip_prefix(names::RETRY_PREFIX) else {
        return Ok(());
    };
    let max = max_reconsume_times(s, group, h.max_reconsume_times);
    if h.reconsume_times.unwrap_or(0) <= max {
        return Ok(());
    }
    let dlq = dlq_topic(group);
    s.topics.ensure_internal(&dlq, DLQ_QUEUES)?;
    info!(dlq = %dlq, reconsume_times = ?h.reconsume_times, "retry message sent to the dead-letter queue");
    h.topic = dlq;
    h.queue_id = 0;
    h.properties = h
        .properties
        .as_deref()
        .map(|p| edit_properties(p, &[keys::DELAY_TIME_LEVEL], &[]));
    Ok(())
}

/// A queue in `0..queues`, spread by the clock.
fn pick(queues: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos % queues.max(1)
}
