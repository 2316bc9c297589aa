//! Consuming with POP: ReceiveMessage pops from the broker (`BrokerService::pop`), and AckMessage,
//! ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue act on the receipt handles it gave
//! out. The handles are the broker's own: opaque to clients, checked by the broker.

use std::net::SocketAddr;
use std::time::Duration;

use ferromq_broker::service::{
    PopRequest, PoppedMessage, Subscription, MAX_POLL, MAX_POP_MESSAGES,
};
use ferromq_broker::BrokerService;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry};
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::{
    AckMessageRequest, AckMessageResponse, AckMessageResultEntry, ChangeInvisibleDurationRequest,
    ChangeInvisibleDurationResponse, FilterType, ForwardMessageToDeadLetterQueueRequest,
    ForwardMessageToDeadLetterQueueResponse, Message, MessageType, ReceiveMessageRequest,
    ReceiveMessageResponse, Resource,
};
use ferromq_proto::{Code, Status};

use crate::message::from_record;
use crate::renew::Renewals;
use crate::send::SHARDING_KEY;
use crate::status;

/// The property the broker's timer adds when it delivers a timed message (ms since the epoch).
const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";

/// Push consumers ask the server to pick the invisible time (`auto_renew`): the renewal slice
/// (see `crate::renew`), or this for a request without a client id (nothing renews it then).
const PUSH_INVISIBLE: Duration = Duration::from_secs(60);

/// The answer of one receive, streamed in this order: the delivery time, the messages, the status.
/// `push` is where an `auto_renew` (push consumer) delivery is kept invisible, and the client's id;
/// `deadline` the time the client gives the call, which the long poll stays within.
pub(crate) async fn receive_message(
    broker: &BrokerService,
    peer: SocketAddr,
    push: Option<(&Renewals, &str)>,
    deadline: Option<Duration>,
    req: &ReceiveMessageRequest,
) -> Vec<ReceiveMessageResponse> {
    let status_only = |status| {
        vec![ReceiveMessageResponse {
            content: Some(Content::Status(status)),
        }]
    };
    let slice = push.map(|(r, _)| r.config().slice);
    let mut pop = match pop_request(broker, peer, req, slice) {
        Ok(pop) => pop,
        Err(status) => return status_only(status),
    };
    if let Some(left) = deadline {
        pop.poll = pop
            .poll
            .map(|p| p.min(left.saturating_sub(crate::deadline::RESERVE)));
    }
    tracing::debug!(group = %pop.group, topic = %pop.topic, queue = ?pop.queue_id, poll = ?pop.poll, invisible = ?pop.invisible, "receive");
    let (group, topic) = (pop.group.clone(), pop.topic.clone());
    let popped = match broker.pop(pop).await {
        Ok(popped) => popped,
        Err(e) => {
            tracing::debug!(error = %e, "receive refused");
            return status_only(status::from_broker(&e));
        }
    };
    tracing::debug!(messages = popped.len(), "received");
    if popped.is_empty() {
        return status_only(Status::new(
            Code::MessageNotFound,
            "no new message within the long-polling time",
        ));
    }
    if let (true, Some((renewals, client))) = (req.auto_renew, push) {
        for m in &popped {
            renewals.hold(client, &group, &topic, &m.handle, m.delivery_attempt);
        }
    }
    let mut out = Vec::with_capacity(popped.len() + 2);
    out.push(ReceiveMessageResponse {
        content: Some(Content::DeliveryTimestamp(timestamp(popped[0].pop_time_ms))),
    });
    for m in &popped {
        match to_message(m) {
            Some(message) => out.push(ReceiveMessageResponse {
                content: Some(Content::Message(Box::new(message))),
            }),
            // Not expected (the broker produced the record); the message comes back after its
            // invisible time rather than being dropped.
            None => {
                tracing::warn!(topic = %m.topic, queue = m.queue_id, offset = m.queue_offset, "popped record did not decode")
            }
        }
    }
    out.push(ReceiveMessageResponse {
        content: Some(Content::Status(Status::ok())),
    });
    out
}

/// The broker's pop for `req`, or the status refusing it.
/// `push_slice`: the invisible time of a push delivery the endpoint renews (`None`: no client id,
/// nothing can renew it, the fixed fallback applies).
fn pop_request(
    broker: &BrokerService,
    peer: SocketAddr,
    req: &ReceiveMessageRequest,
    push_slice: Option<Duration>,
) -> Result<PopRequest, Status> {
    let group = named(req.group.as_ref(), "group")?;
    let queue = req
        .message_queue
        .as_ref()
        .ok_or_else(|| Status::new(Code::BadRequest, "message_queue is required"))?;
    let topic = named(queue.topic.as_ref(), "topic")?;
    let subscription = match &req.filter_expression {
        None => Subscription::Expression {
            expression: Some("*".into()),
            kind: Some("TAG".into()),
        },
        Some(f) => Subscription::Expression {
            expression: Some(f.expression.clone()),
            kind: Some(
                match f.r#type() {
                    FilterType::Sql => "SQL92",
                    FilterType::Tag | FilterType::Unspecified => "TAG",
                }
                .into(),
            ),
        },
    };
    let max_messages = u32::try_from(req.batch_size)
        .ok()
        .filter(|n| (1..=MAX_POP_MESSAGES).contains(n))
        .ok_or_else(|| {
            Status::new(
                Code::BadRequest,
                format!(
                    "batch_size {} is outside 1..={MAX_POP_MESSAGES}",
                    req.batch_size
                ),
            )
        })?;
    let invisible = match (&req.invisible_duration, req.auto_renew) {
        (Some(d), false) => duration(d).ok_or_else(|| {
            Status::new(
                Code::IllegalInvisibleTime,
                "invisible_duration must be positive",
            )
        })?,
        (None, false) => {
            return Err(Status::new(
                Code::IllegalInvisibleTime,
                "invisible_duration is required unless auto_renew is set",
            ))
        }
        (_, true) => push_slice.unwrap_or(PUSH_INVISIBLE),
    };
    // A negative or absent long-polling time: answer with what is there now.
    let poll = req
        .long_polling_timeout
        .as_ref()
        .and_then(duration)
        .map(|d| d.min(MAX_POLL));
    let fifo = broker
        .group(&group)
        .is_ok_and(|g| g.consume_message_orderly);
    Ok(PopRequest {
        group,
        topic,
        // As RocketMQ's proxy: only the queue's broker matters; a receive pops from every readable
        // queue of the topic on it (clients name any one queue, some at random).
        queue_id: None,
        max_messages,
        invisible,
        poll,
        subscription,
        fifo,
        client: peer,
    })
}

fn named(resource: Option<&Resource>, what: &str) -> Result<String, Status> {
    match resource {
        Some(r) if !r.name.is_empty() => Ok(r.qualified_name()),
        _ => Err(Status::new(
            if what == "group" {
                Code::IllegalConsumerGroup
            } else {
                Code::IllegalTopic
            },
            format!("a {what} name is required"),
        )),
    }
}

/// A popped message as v5 clients read it: its handle, attempt and invisible time included.
fn to_message(m: &PoppedMessage) -> Option<Message> {
    let Ok(Entry::Message(view)) = record::read(&m.record, false) else {
        return None;
    };
    let (mut message, delivered_at) = stored_message(&view);
    if let Some(system) = message.system_properties.as_mut() {
        system.receipt_handle = Some(m.handle.clone());
        system.delivery_attempt = Some(i32::try_from(m.delivery_attempt).unwrap_or(i32::MAX));
        let invisible_ms = m.invisible_until_ms.saturating_sub(m.pop_time_ms);
        system.invisible_duration = Some(prost_types::Duration {
            seconds: i64::try_from(invisible_ms / 1000).unwrap_or(i64::MAX),
            nanos: i32::try_from(invisible_ms % 1000 * 1_000_000).unwrap_or(0),
        });
        system.message_id.clone_from(&m.msg_id);
        system.delivery_timestamp = delivered_at.map(timestamp);
    }
    Some(message)
}

/// A stored record as a v5 message of its type, and when the timer delivered it (if it did).
pub(crate) fn stored_message(
    view: &ferromq_model::record::RecordView<'_>,
) -> (Message, Option<u64>) {
    let props = view.properties;
    // The broker's timer delivers a timed message as a new record that keeps the requested time
    // (TIMER_OUT_MS) and the moment it was delivered (TIMER_DEQUEUE_MS).
    let delivered_at = [keys::TIMER_OUT_MS, TIMER_DEQUEUE_MS]
        .into_iter()
        .find_map(|k| properties::get(props, k).and_then(|v| v.parse::<u64>().ok()));
    let kind = if properties::get(props, SHARDING_KEY).is_some() {
        MessageType::Fifo
    } else if delivered_at.is_some()
        || properties::get(props, keys::TIMER_DELIVER_MS).is_some()
        || properties::get(props, keys::DELAY_TIME_LEVEL).is_some()
    {
        MessageType::Delay
    } else if properties::get(props, keys::TRANSACTION_PREPARED).is_some() {
        MessageType::Transaction
    } else {
        MessageType::Normal
    };
    (from_record(view, kind), delivered_at)
}

pub(crate) fn ack_message(
    broker: &BrokerService,
    renewals: &Renewals,
    req: &AckMessageRequest,
) -> AckMessageResponse {
    let (group, topic) = match (
        named(req.group.as_ref(), "group"),
        named(req.topic.as_ref(), "topic"),
    ) {
        (Ok(g), Ok(t)) => (g, t),
        (Err(s), _) | (_, Err(s)) => {
            return AckMessageResponse {
                status: Some(s),
                entries: Vec::new(),
            }
        }
    };
    let entries: Vec<AckMessageResultEntry> = req
        .entries
        .iter()
        .map(|e| AckMessageResultEntry {
            message_id: e.message_id.clone(),
            receipt_handle: e.receipt_handle.clone(),
            status: Some(
                match renewals.settle(&e.receipt_handle, |h| broker.ack(&group, &topic, h)) {
                    Ok(()) => Status::ok(),
                    Err(err) => status::from_broker(&err),
                },
            ),
        })
        .collect();
    // One status for all entries when they agree, as RocketMQ's proxy answers.
    let first = entries.first().and_then(|e| e.status.clone());
    let status = match first {
        None => Status::new(Code::BadRequest, "no entries to acknowledge"),
        Some(first)
            if entries
                .iter()
                .all(|e| e.status.as_ref().map(Status::code) == Some(first.code())) =>
        {
            first
        }
        Some(_) => Status::new(Code::MultipleResults, "entries have different results"),
    };
    AckMessageResponse {
        status: Some(status),
        entries,
    }
}

pub(crate) fn change_invisible_duration(
    broker: &BrokerService,
    renewals: &Renewals,
    req: &ChangeInvisibleDurationRequest,
) -> ChangeInvisibleDurationResponse {
    let refused = |status| ChangeInvisibleDurationResponse {
        status: Some(status),
        receipt_handle: String::new(),
    };
    let (group, topic) = match (
        named(req.group.as_ref(), "group"),
        named(req.topic.as_ref(), "topic"),
    ) {
        (Ok(g), Ok(t)) => (g, t),
        (Err(s), _) | (_, Err(s)) => return refused(s),
    };
    // Zero is a valid change: due again at once (a push consumer's retry without backoff).
    let Some(invisible) = req.invisible_duration.as_ref().and_then(non_negative) else {
        return refused(Status::new(
            Code::IllegalInvisibleTime,
            "invisible_duration must be present and not negative",
        ));
    };
    let changed = renewals.settle(&req.receipt_handle, |h| {
        broker.change_invisible(&group, &topic, h, invisible)
    });
    match changed {
        Ok(handle) => ChangeInvisibleDurationResponse {
            status: Some(Status::ok()),
            receipt_handle: handle,
        },
        Err(e) => refused(status::from_broker(&e)),
    }
}

pub(crate) fn forward_to_dead_letter_queue(
    broker: &BrokerService,
    renewals: &Renewals,
    req: &ForwardMessageToDeadLetterQueueRequest,
) -> ForwardMessageToDeadLetterQueueResponse {
    let status = match (
        named(req.group.as_ref(), "group"),
        named(req.topic.as_ref(), "topic"),
    ) {
        (Ok(group), Ok(topic)) => {
            match renewals.settle(&req.receipt_handle, |h| {
                broker.forward_to_dlq(&group, &topic, h)
            }) {
                Ok(()) => Status::ok(),
                Err(e) => status::from_broker(&e),
            }
        }
        (Err(s), _) | (_, Err(s)) => s,
    };
    ForwardMessageToDeadLetterQueueResponse {
        status: Some(status),
    }
}

/// A positive protobuf duration.
fn duration(d: &prost_types::Duration) -> Option<Duration> {
    non_negative(d).filter(|d| !d.is_zero())
}

fn non_negative(d: &prost_types::Duration) -> Option<Duration> {
    let secs = u64::try_from(d.seconds).ok()?;
    let nanos = u32::try_from(d.nanos).ok()?;
    Duration::new(secs, 0).checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn timestamp(ms: u64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: i32::try_from(ms % 1000 * 1_000_000).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_must_be_positive() {
        let d = |seconds, nanos| prost_types::Duration { seconds, nanos };
        assert_eq!(duration(&d(30, 0)), Some(Duration::from_secs(30)));
        assert_eq!(duration(&d(0, 5_000_000)), Some(Duration::from_millis(5)));
        assert_eq!(duration(&d(0, 0)), None);
        assert_eq!(duration(&d(-1, 0)), None);
        assert_eq!(duration(&d(1, -1)), None);
        assert_eq!(non_negative(&d(0, 0)), Some(Duration::ZERO));
        assert_eq!(non_negative(&d(-1, 0)), None);
    }

    #[test]
    fn timestamps_split_milliseconds() {
        let t = timestamp(1_700_000_000_123);
        assert_eq!(t.seconds, 1_700_000_000);
        assert_eq!(t.nanos, 123_000_000);
    }
}
