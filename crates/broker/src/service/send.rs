//! Sending: one message or a batch into a topic's queue.
//!
//! Every message a client makes the broker store (send, consumer send-back, committed transaction)
//! goes through [`put_message`]: it applies [`crate::schedule::reroute`], so a `DELAY` level or a
//! timer property parks the message in `SCHEDULE_TOPIC_XXXX` / `rmq_sys_wheel_timer` until due.
//! A message's property string is scanned once ([`SendProps`]) for every rule that reads it.

use std::borrow::Cow;
use std::net::SocketAddr;

use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys, SendProps};
use ferromq_model::record::{RecordDraft, SYSFLAG_TRANSACTION_MASK};
use ferromq_remoting::body::register::TopicConfig;
use ferromq_remoting::body::route::perm;
use ferromq_store::PutResult;

use super::BrokerService;
use crate::error::BrokerError;
use crate::names;
use crate::schedule::recall::RecallHandle;
use crate::state::State;
use crate::transaction::{edit_properties, HALF_TOPIC};
use crate::uniq_key;

/// One send: where to, from whom, and what.
#[derive(Debug, Clone)]
pub struct SendRequest<'a> {
    pub topic: String,
    /// A queue of the topic; `None` lets the broker pick a writable one.
    pub queue_id: Option<u32>,
    /// The topic whose settings a missing `topic` is created from (RocketMQ's `TBW102`), and the
    /// queue count the producer asks for; an empty template means no auto-creation.
    pub default_topic: &'a str,
    pub default_topic_queue_nums: i32,
    pub flag: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    /// The producer's address, stored as the born host.
    pub born_host: SocketAddr,
    pub reconsume_times: i32,
    /// For a message re-sent to a retry topic: the sender's reconsume limit (else the group's).
    pub max_reconsume_times: Option<i32>,
    pub messages: SendMessages<'a>,
}

/// One message, or a batch stored as consecutive records of one queue.
#[derive(Debug, Clone)]
pub enum SendMessages<'a> {
    One {
        properties: Cow<'a, str>,
        body: &'a [u8],
    },
    Batch {
        /// The batch's own properties (a delay level there is refused).
        properties: Cow<'a, str>,
        entries: Vec<BatchEntry<'a>>,
    },
}

/// A message of a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchEntry<'a> {
    pub flag: i32,
    pub properties: &'a str,
    pub body: &'a [u8],
}

/// What a send stored.
#[derive(Debug)]
pub struct SendReceipt {
    /// The offset message id of each stored record, in order.
    pub msg_ids: Vec<String>,
    pub queue_id: u32,
    /// The queue offset of the first record.
    pub queue_offset: u64,
    /// The unique key (the transaction id of a half message); `None` for a batch.
    pub transaction_id: Option<String>,
    /// For a message parked in the timer: what recalls it (see [`crate::schedule::recall`]).
    pub recall_handle: Option<String>,
    /// `Err` when the records are stored but not yet as durable as the broker's mode asks (flush
    /// or replica timeout, too few replicas): the client still counts the message as sent.
    pub durable: Result<(), BrokerError>,
}

impl BrokerService {
    /// Stores what a producer sent and waits for the durability the broker's mode promises.
    ///
    /// # Errors
    /// Replica or lease refusals, bad names, forbidden or read-only topics, bad queue ids, illegal
    /// messages (size, batch rules, timers), store failures.
    pub async fn send(&self, mut req: SendRequest<'_>) -> Result<SendReceipt, BrokerError> {
        self.check_writable()?;
        let s = &*self.state;
        // Retry hook: a re-sent retry message past its maximum reconsume times goes to the DLQ.
        super::retry::reroute_exhausted_retry(s, &mut req)?;
        names::validate_topic(&req.topic)?;
        if names::is_not_allowed_send(&req.topic) {
            return Err(BrokerError::SendForbidden(req.topic));
        }
        let topic = s.topics.ensure_for_send(
            &req.topic,
            req.default_topic,
            req.default_topic_queue_nums,
        )?;
        if topic.perm & perm::WRITE == 0 {
            return Err(BrokerError::NoPermission {
                topic: req.topic,
                action: "write",
            });
        }
        let queue_id = pick_queue(&topic, req.queue_id)?;
        let (result, transaction_id, recall_handle) = match &req.messages {
            SendMessages::One { properties, body } => {
                let (result, uniq, timer_ms) = put_one(s, &req, queue_id, properties, body)?;
                let recall_handle =
                    timer_ms
                        .filter(|_| !names::is_retry_topic(&req.topic))
                        .map(|deliver_ms| {
                            RecallHandle {
                                topic: req.topic.clone(),
                                broker_name: s.config.broker_name.clone(),
                                deliver_ms,
                                uniq_key: uniq.clone(),
                            }
                            .encode()
                        });
                (result, Some(uniq), recall_handle)
            }
            SendMessages::Batch {
                properties,
                entries,
            } => (
                put_batch(s, &req, queue_id, properties, entries)?,
                None,
                None,
            ),
        };
        s.stats
            .add_put(&req.topic, result.records.iter().map(|r| u64::from(r.size)));
        let msg_ids = result
            .records
            .iter()
            .map(|r| offset_msg_id(s.advertised, r.physical_offset))
            .collect();
        let queue_offset = result.records.first().map_or(0, |r| r.queue_offset);
        let durable = super::durability::wait(s, result).await;
        Ok(SendReceipt {
            msg_ids,
            queue_id,
            queue_offset,
            transaction_id,
            recall_handle,
            durable,
        })
    }
}

/// The requested queue, or a random writable one.
fn pick_queue(topic: &TopicConfig, asked: Option<u32>) -> Result<u32, BrokerError> {
    let queues = topic.read_queue_nums.max(topic.write_queue_nums);
    if let Some(q) = asked {
        if i64::from(q) >= i64::from(queues) {
            return Err(BrokerError::BadQueueId {
                topic: topic.topic_name.clone(),
                queue_id: i32::try_from(q).unwrap_or(i32::MAX),
                queues,
            });
        }
        return Ok(q);
    }
    let writable = u32::try_from(topic.write_queue_nums.max(1)).unwrap_or(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Ok(nanos % writable)
}

/// The stored property string: the client's, plus `UNIQ_KEY` when missing and `CLUSTER`; and the
/// unique key.
fn stored_properties(s: &State, props: &str, found: &SendProps<'_>) -> (String, String) {
    let mut out = String::with_capacity(props.len() + 64);
    out.push_str(props);
    // Java clients 4.9.x send the string without the last entry's separator; appending to it as is
    // would glue our first entry onto their last value (`TAGS` most often).
    if !out.is_empty() && !out.ends_with(properties::PROPERTY_SEPARATOR) {
        out.push(properties::PROPERTY_SEPARATOR);
    }
    let uniq = match found.uniq_key {
        Some(u) => u.to_owned(),
        None => {
            let u = uniq_key::generate(s.advertised);
            out.push_str(&properties::encode([(keys::UNIQ_KEY, u.as_str())]));
            u
        }
    };
    if found.cluster.is_none() {
        out.push_str(&properties::encode([(
            keys::CLUSTER,
            s.config.cluster_name.as_str(),
        )]));
    }
    // Java's broker sets both on every message it stores (replacing a client's own): the 5.x Java
    // client's consumer trace drops a message without MSG_REGION, so its SubBefore/SubAfter
    // records never reach the trace topic. Appended, they win over an earlier entry for every
    // reader, which takes the last of duplicates.
    out.push_str(&properties::encode([
        (keys::MSG_REGION, s.config.region_id.as_str()),
        (
            keys::TRACE_SWITCH,
            if s.config.trace_on { "true" } else { "false" },
        ),
    ]));
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
    req: &'a SendRequest<'_>,
    queue_id: u32,
    body: &'a [u8],
    properties: &'a str,
) -> RecordDraft<'a> {
    RecordDraft {
        topic: &req.topic,
        queue_id,
        flag: req.flag,
        sys_flag: req.sys_flag,
        born_timestamp: req.born_timestamp,
        born_host: req.born_host,
        store_host: s.advertised,
        reconsume_times: req.reconsume_times,
        prepared_transaction_offset: 0,
        body,
        properties,
    }
}

/// Stores one message; answers its unique key, and its delivery time when the timer holds it.
fn put_one(
    s: &State,
    req: &SendRequest<'_>,
    queue_id: u32,
    props: &str,
    body: &[u8],
) -> Result<(PutResult, String, Option<i64>), BrokerError> {
    check_body(s, body)?;
    let found = SendProps::scan(props);
    let (stored, uniq) = stored_properties(s, props, &found);
    let d = draft(s, req, queue_id, body, &stored);
    // Transaction hook: a half message is parked in the half topic until END_TRANSACTION.
    let result = if crate::transaction::half::is_half(&found, d.reconsume_times) {
        let r = put_half(s, &d, &uniq)?;
        if let Some(at) = r.records.first() {
            crate::trace::hooks::half_stored(s.trace.as_deref(), &d, at);
        }
        (r, None)
    } else {
        store(s, &d, &found)?
    };
    Ok((result.0, uniq, result.1))
}

/// Stores one message the way a client send would: the one store entry point for messages that
/// reach a user-visible topic (sends, consumer send-backs, committed transactions), so features that
/// reroute by property (delay levels, timers) apply to all of them.
///
/// # Errors
/// The store refuses the message; a bad timer.
pub(crate) fn put_message(s: &State, draft: &RecordDraft<'_>) -> Result<PutResult, BrokerError> {
    Ok(store(s, draft, &SendProps::scan(draft.properties))?.0)
}

/// [`put_message`] with the draft's properties already scanned; also answers the delivery time
/// when the message was parked in the timer.
fn store(
    s: &State,
    draft: &RecordDraft<'_>,
    found: &SendProps<'_>,
) -> Result<(PutResult, Option<i64>), BrokerError> {
    let parked = crate::schedule::reroute(
        &s.schedule,
        draft.topic,
        draft.queue_id,
        draft.sys_flag,
        draft.properties,
        found,
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
        crate::trace::hooks::stored(s.trace.as_deref(), draft, stored_topic, at);
    }
    let timer_ms = parked
        .as_ref()
        .filter(|to| to.topic == crate::schedule::TIMER_TOPIC)
        .and_then(|to| to.deliver_ms);
    Ok((result, timer_ms))
}

/// Stores `d` (a message for its real topic and queue, `UNIQ_KEY` already set to `uniq`) as a half
/// message: real topic and queue move into properties, the transaction id is the unique key, and
/// the transaction bits are cleared so the half topic's consume queue indexes it.
///
/// # Errors
/// The half topic cannot be created, or the store refuses the message.
fn put_half(s: &State, d: &RecordDraft<'_>, uniq: &str) -> Result<PutResult, BrokerError> {
    s.topics.ensure_internal(HALF_TOPIC, 1)?;
    let queue = d.queue_id.to_string();
    let props = edit_properties(
        d.properties,
        &[],
        &[
            (keys::TRANSACTION_ID, uniq),
            (keys::REAL_TOPIC, d.topic),
            (keys::REAL_QUEUE_ID, &queue),
        ],
    );
    let half = RecordDraft {
        topic: HALF_TOPIC,
        queue_id: 0,
        sys_flag: d.sys_flag & !SYSFLAG_TRANSACTION_MASK,
        properties: &props,
        ..d.clone()
    };
    let put = s.store.put(&half)?;
    s.stats.transactions.half_stored(d.topic);
    Ok(put)
}

fn put_batch(
    s: &State,
    req: &SendRequest<'_>,
    queue_id: u32,
    wrapper: &str,
    entries: &[BatchEntry<'_>],
) -> Result<PutResult, BrokerError> {
    if names::is_retry_topic(&req.topic) {
        return Err(BrokerError::MessageIllegal(
            "retry group topic not support batch".into(),
        ));
    }
    // As in Java, a batch is stored as sent: a delay level on it is refused rather than ignored.
    if properties::get(wrapper, keys::DELAY_TIME_LEVEL)
        .is_some_and(|l| l.parse::<i64>().is_ok_and(|l| l > 0))
    {
        return Err(BrokerError::MessageIllegal(
            "batch message does not support delay level".into(),
        ));
    }
    if entries.is_empty() {
        return Err(BrokerError::MessageIllegal("empty batch".into()));
    }
    let mut props = Vec::with_capacity(entries.len());
    for m in entries {
        check_body(s, m.body)?;
        props.push(stored_properties(s, m.properties, &SendProps::scan(m.properties)).0);
    }
    let drafts: Vec<RecordDraft<'_>> = entries
        .iter()
        .zip(&props)
        .map(|(m, p)| RecordDraft {
            flag: m.flag,
            ..draft(s, req, queue_id, m.body, p)
        })
        .collect();
    let result = s.store.put_batch(&drafts)?;
    for (d, at) in drafts.iter().zip(&result.records) {
        crate::trace::hooks::stored(s.trace.as_deref(), d, d.topic, at);
    }
    Ok(result)
}
