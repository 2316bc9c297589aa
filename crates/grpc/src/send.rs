//! SendMessage: each v5 message becomes the property string and flags the broker stores (the
//! mapping RocketMQ's proxy applies), then one broker send. The send rules themselves (limits,
//! timers, half messages) are the broker's; this file only translates and validates what only
//! exists in v5 (message types, the message group's queue).

use std::borrow::Cow;
use std::net::SocketAddr;

use ferromq_broker::service::{
    BatchEntry, MessageKind, SendMessages, SendReceipt, SendRequest, TopicRoute,
};
use ferromq_broker::BrokerService;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::SYSFLAG_TRANSACTION_PREPARED;
use ferromq_proto::v2::{
    Encoding, Message, MessageType, SendMessageRequest, SendMessageResponse, SendResultEntry,
};
use ferromq_proto::{Code, Status};

use crate::{route, status, transaction};

/// The v4 property carrying a FIFO message's group (RocketMQ's sharding key).
pub(crate) const SHARDING_KEY: &str = "__SHARDINGKEY";
/// The delay before the first transaction check, in seconds.
const CHECK_IMMUNITY_SECS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
pub(crate) const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// sysFlag bit of a compressed body.
const SYSFLAG_COMPRESSED: i32 = 0x1;
/// RocketMQ's proxy limits: user properties per message, and bytes of all properties.
const MAX_PROPERTIES: usize = 128;
const MAX_PROPERTY_BYTES: usize = 16 * 1024;

/// Property names the broker acts on: a client may not set them as user properties.
const RESERVED: &[&str] = &[
    keys::KEYS,
    keys::TAGS,
    keys::UNIQ_KEY,
    keys::WAIT_STORE_MSG_OK,
    keys::DELAY_TIME_LEVEL,
    keys::RETRY_TOPIC,
    keys::REAL_TOPIC,
    keys::REAL_QUEUE_ID,
    keys::TRANSACTION_PREPARED,
    keys::PRODUCER_GROUP,
    keys::CLUSTER,
    keys::MSG_REGION,
    keys::TRACE_SWITCH,
    keys::ORIGIN_MESSAGE_ID,
    keys::RECONSUME_TIME,
    keys::MAX_RECONSUME_TIMES,
    keys::TIMER_DELAY_SEC,
    keys::TIMER_DELAY_MS,
    keys::TIMER_DELIVER_MS,
    keys::TRANSACTION_ID,
    keys::TIMER_OUT_MS,
    keys::START_DELIVER_TIME,
    keys::REPLY_TO_CLIENT,
    keys::CORRELATION_ID,
    SHARDING_KEY,
    CHECK_IMMUNITY_SECS,
    TRACE_CONTEXT,
    "MIN_OFFSET",
    "MAX_OFFSET",
    "TRANSACTION_CHECK_TIMES",
    // Set by the broker's timer when it delivers a timed message.
    "TIMER_DEQUEUE_MS",
    // The receipt handle of a popped message (set by the broker, never by a producer).
    ferromq_broker::service::POP_CK,
];

/// Whether `name` is a property the broker acts on rather than a user property.
pub(crate) fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// One v5 message, translated.
#[derive(Debug)]
struct Prepared {
    message_id: String,
    kind: MessageKind,
    properties: String,
    sys_flag: i32,
    born_timestamp: i64,
    /// The queue of a FIFO message's group; `None` lets the broker choose.
    queue_id: Option<u32>,
}

pub(crate) async fn send_message(
    broker: &BrokerService,
    peer: SocketAddr,
    req: &SendMessageRequest,
) -> SendMessageResponse {
    let Some(first) = req.messages.first() else {
        return failed(Status::new(
            Code::MessageCorrupted,
            "the request has no message",
        ));
    };
    let topic = first
        .topic
        .as_ref()
        .map(|t| t.qualified_name())
        .unwrap_or_default();
    if topic.is_empty() {
        return failed(Status::new(
            Code::IllegalTopic,
            "the message names no topic",
        ));
    }
    if req
        .messages
        .iter()
        .any(|m| m.topic.as_ref().map(|t| t.qualified_name()).as_deref() != Some(topic.as_str()))
    {
        return failed(Status::new(
            Code::MessageCorrupted,
            "all messages of one request must go to the same topic",
        ));
    }
    let route = match broker.route(&topic) {
        Ok(r) => r,
        Err(e) => return failed(status::from_broker(&e)),
    };
    let max_body = broker.max_message_size();
    let prepared: Vec<Result<Prepared, Status>> = req
        .messages
        .iter()
        .map(|m| prepare(m, &route, max_body))
        .collect();
    let batchable = prepared.len() > 1
        && prepared
            .iter()
            .all(|p| p.as_ref().is_ok_and(|p| p.kind == MessageKind::Normal));
    let entries = if batchable {
        send_batch(broker, peer, &topic, &req.messages, &prepared).await
    } else {
        let mut entries = Vec::with_capacity(prepared.len());
        for (m, p) in req.messages.iter().zip(&prepared) {
            entries.push(match p {
                Ok(p) => send_one(broker, peer, &topic, m, p).await,
                Err(s) => entry(s.clone(), id_of(m)),
            });
        }
        entries
    };
    SendMessageResponse {
        status: Some(overall(&entries)),
        entries,
    }
}

fn failed(status: Status) -> SendMessageResponse {
    SendMessageResponse {
        status: Some(status),
        entries: Vec::new(),
    }
}

fn entry(status: Status, message_id: String) -> SendResultEntry {
    SendResultEntry {
        status: Some(status),
        message_id,
        ..SendResultEntry::default()
    }
}

fn id_of(m: &Message) -> String {
    m.system_properties
        .as_ref()
        .map(|p| p.message_id.clone())
        .unwrap_or_default()
}

/// The entries' common status, or MULTIPLE_RESULTS when they differ.
fn overall(entries: &[SendResultEntry]) -> Status {
    let codes: Vec<i32> = entries
        .iter()
        .map(|e| e.status.as_ref().map_or(0, |s| s.code))
        .collect();
    match entries.first().and_then(|e| e.status.clone()) {
        Some(s) if codes.iter().all(|c| *c == s.code) => s,
        _ => Status::new(Code::MultipleResults, "entries have different statuses"),
    }
}

fn request<'a>(
    topic: &str,
    peer: SocketAddr,
    p: &Prepared,
    messages: SendMessages<'a>,
) -> SendRequest<'a> {
    SendRequest {
        topic: topic.to_owned(),
        queue_id: p.queue_id,
        // v5 topics are created by operators: no auto-creation from a template.
        default_topic: "",
        default_topic_queue_nums: 0,
        flag: 0,
        sys_flag: p.sys_flag,
        born_timestamp: p.born_timestamp,
        born_host: peer,
        reconsume_times: 0,
        max_reconsume_times: None,
        messages,
    }
}

async fn send_one(
    broker: &BrokerService,
    peer: SocketAddr,
    topic: &str,
    m: &Message,
    p: &Prepared,
) -> SendResultEntry {
    let messages = SendMessages::One {
        properties: Cow::Borrowed(&p.properties),
        body: &m.body,
    };
    match broker.send(request(topic, peer, p, messages)).await {
        Ok(receipt) => {
            let transaction_id = if p.kind == MessageKind::Transaction {
                half_id(&receipt)
            } else {
                String::new()
            };
            SendResultEntry {
                status: Some(durable_status(&receipt)),
                message_id: p.message_id.clone(),
                transaction_id,
                offset: i64::try_from(receipt.queue_offset).unwrap_or(i64::MAX),
                recall_handle: receipt.recall_handle.clone().unwrap_or_default(),
            }
        }
        Err(e) => entry(status::from_broker(&e), p.message_id.clone()),
    }
}

async fn send_batch(
    broker: &BrokerService,
    peer: SocketAddr,
    topic: &str,
    messages: &[Message],
    prepared: &[Result<Prepared, Status>],
) -> Vec<SendResultEntry> {
    let ok: Vec<&Prepared> = prepared.iter().filter_map(|p| p.as_ref().ok()).collect();
    let Some(head) = ok.first() else {
        return Vec::new();
    };
    let batch = SendMessages::Batch {
        properties: Cow::Borrowed(""),
        entries: messages
            .iter()
            .zip(&ok)
            .map(|(m, p)| BatchEntry {
                flag: 0,
                properties: &p.properties,
                body: &m.body,
            })
            .collect(),
    };
    match broker.send(request(topic, peer, head, batch)).await {
        Ok(receipt) => {
            let status = durable_status(&receipt);
            ok.iter()
                .zip(receipt.queue_offset..)
                .map(|(p, offset)| SendResultEntry {
                    status: Some(status.clone()),
                    message_id: p.message_id.clone(),
                    offset: i64::try_from(offset).unwrap_or(i64::MAX),
                    ..SendResultEntry::default()
                })
                .collect()
        }
        Err(e) => {
            let status = status::from_broker(&e);
            ok.iter()
                .map(|p| entry(status.clone(), p.message_id.clone()))
                .collect()
        }
    }
}

/// OK, or the durability the broker could not promise (the message is stored either way).
fn durable_status(receipt: &SendReceipt) -> Status {
    match &receipt.durable {
        Ok(()) => Status::ok(),
        Err(e) => status::from_broker(e),
    }
}

/// The transaction id of a stored half message: where it is, so EndTransaction finds it.
fn half_id(receipt: &SendReceipt) -> String {
    let commit_log_offset = receipt
        .msg_ids
        .first()
        .and_then(|id| decode_offset_msg_id(id))
        .map_or(0, |(_, offset)| offset);
    transaction::HalfMessage {
        commit_log_offset,
        half_queue_offset: receipt.queue_offset,
    }
    .to_string()
}

/// Validates one message and builds what the broker stores.
fn prepare(m: &Message, route: &TopicRoute, max_body: usize) -> Result<Prepared, Status> {
    let sys = m.system_properties.clone().unwrap_or_default();
    let message_id = sys.message_id.clone();
    check_text(&message_id, Code::IllegalMessageId, "message id")?;
    if m.body.is_empty() {
        return Err(Status::new(
            Code::MessageBodyEmpty,
            "the message body is empty",
        ));
    }
    if m.body.len() > max_body {
        return Err(Status::new(
            Code::MessageBodyTooLarge,
            format!(
                "the message body is {} bytes, more than the maximum of {max_body}",
                m.body.len()
            ),
        ));
    }
    let kind = kind_of(&sys)?;
    if !route.accepts(kind) {
        let accepted: Vec<&str> = route
            .accepts
            .iter()
            .map(|k| route::message_type(*k).as_str_name())
            .collect();
        return Err(Status::new(
            Code::MessagePropertyConflictWithType,
            format!(
                "topic {} takes {} messages, not {}",
                route.config.topic_name,
                accepted.join("/"),
                route::message_type(kind).as_str_name()
            ),
        ));
    }
    let mut props: Vec<(String, String)> = Vec::with_capacity(m.user_properties.len() + 8);
    if m.user_properties.len() > MAX_PROPERTIES {
        return Err(Status::new(
            Code::MessagePropertiesTooLarge,
            format!("more than {MAX_PROPERTIES} user properties"),
        ));
    }
    for (name, value) in &m.user_properties {
        check_text(name, Code::IllegalMessagePropertyKey, "property name")?;
        check_text(value, Code::IllegalMessagePropertyKey, "property value")?;
        if is_reserved(name) {
            return Err(Status::new(
                Code::IllegalMessagePropertyKey,
                format!("property {name} is reserved by the broker"),
            ));
        }
        props.push((name.clone(), value.clone()));
    }
    if let Some(tag) = &sys.tag {
        check_text(tag, Code::IllegalMessageTag, "tag")?;
        if tag.contains('|') {
            return Err(Status::new(
                Code::IllegalMessageTag,
                "a tag may not contain '|'",
            ));
        }
        props.push((keys::TAGS.into(), tag.clone()));
    }
    if !sys.keys.is_empty() {
        for key in &sys.keys {
            check_text(key, Code::IllegalMessageKey, "key")?;
        }
        props.push((keys::KEYS.into(), sys.keys.join(" ")));
    }
    props.push((keys::UNIQ_KEY.into(), message_id.clone()));
    // v5 producers have no group of their own: the topic stands for it (as in RocketMQ's proxy),
    // which is also the group transaction checks are addressed to.
    props.push((keys::PRODUCER_GROUP.into(), route.config.topic_name.clone()));
    props.push((keys::WAIT_STORE_MSG_OK.into(), "true".into()));
    let mut queue_id = None;
    if let Some(group) = &sys.message_group {
        check_text(group, Code::IllegalMessageGroup, "message group")?;
        props.push((SHARDING_KEY.into(), group.clone()));
        queue_id = Some(queue_of_group(group, route.config.write_queue_nums));
    }
    if let Some(at) = &sys.delivery_timestamp {
        props.push((keys::TIMER_DELIVER_MS.into(), millis(at).to_string()));
    }
    let mut sys_flag = 0;
    if kind == MessageKind::Transaction {
        props.push((keys::TRANSACTION_PREPARED.into(), "true".into()));
        sys_flag |= SYSFLAG_TRANSACTION_PREPARED;
        if let Some(d) = &sys.orphaned_transaction_recovery_duration {
            props.push((CHECK_IMMUNITY_SECS.into(), d.seconds.max(0).to_string()));
        }
    }
    if let Some(trace) = sys.trace_context.as_ref().filter(|t| !t.is_empty()) {
        check_text(trace, Code::IllegalMessagePropertyKey, "trace context")?;
        props.push((TRACE_CONTEXT.into(), trace.clone()));
    }
    if sys.body_encoding() == Encoding::Gzip {
        sys_flag |= SYSFLAG_COMPRESSED;
    }
    let properties = properties::encode(props.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if properties.len() > MAX_PROPERTY_BYTES {
        return Err(Status::new(
            Code::MessagePropertiesTooLarge,
            format!(
                "properties take {} bytes, more than {MAX_PROPERTY_BYTES}",
                properties.len()
            ),
        ));
    }
    let born_timestamp = sys
        .born_timestamp
        .as_ref()
        .map_or_else(ferromq_broker_now_ms, millis);
    Ok(Prepared {
        message_id,
        kind,
        properties,
        sys_flag,
        born_timestamp,
        queue_id,
    })
}

/// The message's type: as declared, and consistent with what the message carries; inferred from
/// it when undeclared.
fn kind_of(sys: &ferromq_proto::v2::SystemProperties) -> Result<MessageKind, Status> {
    let grouped = sys.message_group.is_some();
    let timed = sys.delivery_timestamp.is_some();
    let conflict = |what: &str| {
        Err(Status::new(
            Code::MessagePropertyConflictWithType,
            what.to_owned(),
        ))
    };
    match MessageType::try_from(sys.message_type).unwrap_or(MessageType::Unspecified) {
        MessageType::Fifo if !grouped => conflict("a FIFO message needs a message group"),
        MessageType::Delay if !timed => conflict("a DELAY message needs a delivery timestamp"),
        MessageType::Fifo => Ok(MessageKind::Fifo),
        MessageType::Delay => Ok(MessageKind::Delay),
        _ if grouped && timed => {
            conflict("a message cannot have both a message group and a delivery timestamp")
        }
        MessageType::Transaction if grouped || timed => {
            conflict("a TRANSACTION message cannot have a message group or a delivery timestamp")
        }
        MessageType::Transaction => Ok(MessageKind::Transaction),
        MessageType::Normal if grouped || timed => {
            conflict("a NORMAL message cannot have a message group or a delivery timestamp")
        }
        MessageType::Unspecified if grouped => Ok(MessageKind::Fifo),
        MessageType::Unspecified if timed => Ok(MessageKind::Delay),
        MessageType::Normal | MessageType::Unspecified => Ok(MessageKind::Normal),
        other => Err(Status::new(
            Code::Unsupported,
            format!("{} messages are not supported", other.as_str_name()),
        )),
    }
}

/// Rejects blank text and the control characters that delimit stored properties.
fn check_text(text: &str, code: Code, what: &str) -> Result<(), Status> {
    if text.trim().is_empty() {
        return Err(Status::new(code, format!("the {what} is blank")));
    }
    if text.chars().any(char::is_control) {
        return Err(Status::new(
            code,
            format!("the {what} contains a control character"),
        ));
    }
    Ok(())
}

fn millis(t: &prost_types::Timestamp) -> i64 {
    t.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos / 1_000_000))
}

fn ferromq_broker_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The queue of a message group among `writable` queues, chosen as RocketMQ's proxy does (Guava's
/// consistent hash of the group's Java `hashCode`), so the groups of a topic land on the same
/// queues whichever endpoint the producer uses.
pub(crate) fn queue_of_group(group: &str, writable: i32) -> u32 {
    let buckets = writable.max(1);
    let bucket = consistent_hash(i64::from(java_hash(group)), buckets);
    u32::try_from(bucket).unwrap_or(0)
}

/// Java's `String.hashCode`: over UTF-16 code units, wrapping.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Guava's `Hashing.consistentHash(long, int)` (a linear congruential generator jumping from
/// bucket to bucket; the last jump inside the range wins).
fn consistent_hash(input: i64, buckets: i32) -> i32 {
    let mut state = input;
    let mut candidate: i32 = 0;
    loop {
        state = state
            .wrapping_mul(2_862_933_555_777_941_757)
            .wrapping_add(1);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let high = ((state as u64) >> 33) as i32;
        let next_double = f64::from(high.wrapping_add(1)) / f64::from(1u32 << 31);
        #[allow(clippy::cast_possible_truncation)]
        let next = (f64::from(candidate.wrapping_add(1)) / next_double) as i32;
        if (0..buckets).contains(&next) {
            candidate = next;
        } else {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash() {
        // Values of Java's "...".hashCode().
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn consistent_hash_stays_in_range_and_is_stable() {
        for input in [-5i64, 0, 1, 97, 99_162_322, i64::from(i32::MIN)] {
            for buckets in 1..20 {
                let b = consistent_hash(input, buckets);
                assert!((0..buckets).contains(&b));
                assert_eq!(b, consistent_hash(input, buckets));
            }
        }
        // One bucket always takes everything.
        assert_eq!(consistent_hash(12_345, 1), 0);
    }

    #[test]
    fn consistent_hash_moves_few_keys_when_a_bucket_is_added() {
        // The defining property: growing from n to n+1 buckets only moves keys to the new bucket.
        for input in 0..2000i64 {
            let before = consistent_hash(input, 7);
            let after = consistent_hash(input, 8);
            assert!(
                after == before || after == 7,
                "input {input}: {before} -> {after}"
            );
        }
    }
}
