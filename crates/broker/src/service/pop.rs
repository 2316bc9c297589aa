//! POP consumption: a consumer of a group *pops* messages, which stay invisible to the group for
//! the time it asks; it acks each by its receipt handle (`service/pop_ack.rs`). What is not acked in
//! time is delivered again with its delivery attempt one higher, and after the group's last attempt
//! (`retryMaxTimes` + 1) goes to `%DLQ%<group>`. A FIFO pop delivers nothing more from a queue
//! while any earlier message of it is invisible.
//!
//! The bookkeeping is `crate::pop::leases`: per queue, the in-flight deliveries and the first offset
//! never popped. The group's committed offset is the lowest offset not yet acked, written through
//! the consumer-offset table like a pull consumer's commit, so consumer progress and lag read the
//! same and a restart redelivers exactly what was not acked (at least once).

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, RecordDraft};
use ferromq_remoting::body::route::perm;
use ferromq_store::{GetStatus, QueueRead, TagFilter};
use tokio::time::Instant;
use tracing::warn;

use super::{BrokerService, Subscription};
use crate::error::BrokerError;
use crate::filter::MessageFilter;
use crate::long_poll::Wakeup;
use crate::names;
use crate::pop::{Lease, QueueLeases, ReceiptHandle};
use crate::state::State;
use crate::transaction::{edit_properties, view};

/// The property carrying the receipt handle in popped records (Java's
/// `MessageConst.PROPERTY_POP_CK`).
pub const POP_CK: &str = "POP_CK";
/// At most this many messages per pop (Java's limit too).
pub const MAX_POP_MESSAGES: u32 = 32;
/// The longest invisible time accepted: what the v5 proxy allows.
pub const MAX_INVISIBLE: Duration = Duration::from_secs(12 * 3600);
/// The longest a pop is held waiting for messages.
pub const MAX_POLL: Duration = Duration::from_secs(60);
/// About this many bytes per pop (the first message always goes out).
const MAX_POP_BYTES: usize = 4 * 1024 * 1024;
/// Store reads per queue and pop when a filter evaluated on records rejects what was read.
const MAX_FILTERED_READS: usize = 8;

/// One pop of a consumer of `group`.
#[derive(Debug, Clone)]
pub struct PopRequest {
    pub group: String,
    pub topic: String,
    /// `None`: any queue of the topic on this broker.
    pub queue_id: Option<u32>,
    /// 1..=32.
    pub max_messages: u32,
    /// How long the popped messages stay invisible to the group (at most 12 h).
    pub invisible: Duration,
    /// Long polling: wait up to this long (at most a minute) for a message when none is there.
    pub poll: Option<Duration>,
    pub subscription: Subscription,
    /// FIFO: per queue, nothing new while an earlier message is invisible.
    pub fifo: bool,
    pub client: SocketAddr,
}

/// A popped message as the consumer sees it.
#[derive(Debug, Clone)]
pub struct PoppedMessage {
    pub topic: String,
    pub queue_id: u32,
    pub queue_offset: u64,
    pub commit_log_offset: u64,
    /// The producer's unique id (`UNIQ_KEY`), else the offset message id.
    pub msg_id: String,
    pub offset_msg_id: String,
    /// The stored properties (without the receipt handle).
    pub properties: BTreeMap<String, String>,
    /// As stored: compressed when `sys_flag & 0x1`.
    pub body: Bytes,
    pub flag: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    /// The opaque receipt handle for ack, change of invisible time and dead-lettering.
    pub handle: String,
    /// 1 for the first delivery.
    pub delivery_attempt: u32,
    /// When this delivery happened (ms since the epoch).
    pub pop_time_ms: u64,
    /// When the message becomes deliverable again unless acked (ms since the epoch).
    pub invisible_until_ms: u64,
    /// The stored record as remoting consumers read it: reconsume times `delivery_attempt - 1` and
    /// the handle in property `POP_CK`.
    pub record: Bytes,
}

/// A checked pop.
pub(super) struct PopPlan {
    req: PopRequest,
    queues: Vec<u32>,
    filter: MessageFilter,
    max_attempts: u32,
    invisible_ms: u64,
}

impl BrokerService {
    /// Pops up to `max_messages` messages; with `poll`, waits for one that long when none is
    /// there (an empty answer after the wait).
    ///
    /// # Errors
    /// Bad names, unknown or unreadable topics, bad queue ids, invisible times out of range,
    /// subscriptions that do not parse, a replica, store failures.
    pub async fn pop(&self, req: PopRequest) -> Result<Vec<PoppedMessage>, BrokerError> {
        self.check_writable()?;
        let s = &*self.state;
        let plan = plan(s, req)?;
        let hold = plan.req.poll.unwrap_or_default().min(MAX_POLL);
        let deadline = Instant::now() + hold;
        loop {
            // Registered before reading, so an arrival in between still wakes us.
            let wakeups: Vec<Wakeup> = if hold.is_zero() {
                Vec::new()
            } else {
                plan.queues
                    .iter()
                    .map(|q| s.long_poll.register(&plan.req.topic, *q))
                    .collect()
            };
            let (popped, next_expiry) = pop_once(s, &plan)?;
            if !popped.is_empty() || Instant::now() >= deadline {
                return Ok(popped);
            }
            // An invisible message of these queues becoming visible is an arrival too.
            let until = next_expiry.map_or(deadline, |at| {
                deadline.min(Instant::now() + Duration::from_millis(at.saturating_sub(now_ms())))
            });
            tokio::select! {
                () = any_of(wakeups) => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

/// Resolves when any of the wake-ups fires (or its registry goes away).
fn any_of(mut wakeups: Vec<Wakeup>) -> impl Future<Output = ()> {
    poll_fn(move |cx| {
        for w in &mut wakeups {
            if Pin::new(w).poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
}

/// Milliseconds since the epoch, the clock of pop times and receipt handles.
pub(super) fn now_ms() -> u64 {
    u64::try_from(crate::topics::now_ms()).unwrap_or(0)
}

/// A delivery's new invisible time in ms, refused beyond [`MAX_INVISIBLE`]. Zero is allowed here
/// (unlike at pop time): it makes the message due again at once, which is what a consumer that
/// failed a message without a backoff of its own asks for (the Node.js push consumer does, and
/// RocketMQ's proxy accepts it).
pub(super) fn changed_invisible_ms(invisible: Duration) -> Result<u64, BrokerError> {
    if invisible > MAX_INVISIBLE {
        return Err(BrokerError::InvalidArgument(format!(
            "invisible time {} ms is out of range (0 ms to {} ms)",
            invisible.as_millis(),
            MAX_INVISIBLE.as_millis()
        )));
    }
    Ok(u64::try_from(invisible.as_millis()).unwrap_or(u64::MAX))
}

/// The invisible time in ms, refused when zero or beyond [`MAX_INVISIBLE`].
pub(super) fn invisible_ms(invisible: Duration) -> Result<u64, BrokerError> {
    if invisible.is_zero() || invisible > MAX_INVISIBLE {
        return Err(BrokerError::InvalidArgument(format!(
            "invisible time {} ms is out of range (1 ms to {} ms)",
            invisible.as_millis(),
            MAX_INVISIBLE.as_millis()
        )));
    }
    Ok(u64::try_from(invisible.as_millis())
        .unwrap_or(u64::MAX)
        .max(1))
}

/// The group's delivery attempts before dead-lettering: its `retryMaxTimes` retries after the
/// first.
pub(super) fn max_attempts(s: &State, group: &str) -> u32 {
    s.subscriptions.retry_max_times(group).saturating_add(1)
}

/// Makes sure the group exists, creating it when auto-creation is on (like a send-back).
pub(super) fn ensure_group(s: &State, group: &str) -> Result<(), BrokerError> {
    names::validate_group(group)?;
    if s.subscriptions.get(group).is_none() {
        if !s.live.auto_create_subscription_group() {
            return Err(BrokerError::SubscriptionGroupNotExist(group.to_owned()));
        }
        s.subscriptions.ensure(group)?;
    }
    Ok(())
}

fn plan(s: &State, req: PopRequest) -> Result<PopPlan, BrokerError> {
    ensure_group(s, &req.group)?;
    let topic = s
        .topics
        .get(&req.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(req.topic.clone()))?;
    if topic.perm & perm::READ == 0 {
        return Err(BrokerError::NoPermission {
            topic: req.topic,
            action: "read",
        });
    }
    if req.max_messages == 0 || req.max_messages > MAX_POP_MESSAGES {
        return Err(BrokerError::InvalidArgument(format!(
            "max messages {} is out of range (1 to {MAX_POP_MESSAGES})",
            req.max_messages
        )));
    }
    let invisible_ms = invisible_ms(req.invisible)?;
    let read_queues = u32::try_from(topic.read_queue_nums).unwrap_or(0);
    let queues = match req.queue_id {
        Some(q) if q < read_queues => vec![q],
        Some(q) => {
            return Err(BrokerError::BadQueueId {
                topic: req.topic,
                queue_id: i32::try_from(q).unwrap_or(i32::MAX),
                queues: topic.read_queue_nums,
            })
        }
        // Start at a different queue each time, so one busy queue does not starve the others.
        None => {
            let start = u32::try_from(now_ms() % u64::from(read_queues.max(1))).unwrap_or(0);
            (0..read_queues)
                .map(|i| (start + i) % read_queues)
                .collect()
        }
    };
    let filter = req.subscription.filter(s, &req.group, &req.topic)?;
    Ok(PopPlan {
        max_attempts: max_attempts(s, &req.group),
        req,
        queues,
        filter,
        invisible_ms,
    })
}

/// One pass over the plan's queues. Returns what was popped and the earliest time an invisible
/// message of these queues becomes visible again.
fn pop_once(s: &State, plan: &PopPlan) -> Result<(Vec<PoppedMessage>, Option<u64>), BrokerError> {
    let max = usize::try_from(plan.req.max_messages).unwrap_or(1);
    let mut out = Vec::new();
    let mut next_expiry: Option<u64> = None;
    for &q in &plan.queues {
        if out.len() >= max {
            break;
        }
        let expiry = match pop_queue(s, plan, q, max - out.len(), &mut out) {
            Ok(expiry) => expiry,
            // What other queues gave is leased already: hand it out rather than let it wait for
            // its invisible time to end.
            Err(e) if !out.is_empty() => {
                warn!(group = %plan.req.group, topic = %plan.req.topic, queue = q, error = %e, "pop of one queue failed");
                break;
            }
            Err(e) => return Err(e),
        };
        next_expiry = match (next_expiry, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    if !out.is_empty() {
        s.stats.add_got(
            &plan.req.topic,
            &plan.req.group,
            out.len(),
            out.iter().map(|m| m.record.len() as u64).sum(),
        );
        for m in &out {
            crate::trace::hooks::delivered(
                s.trace.as_deref(),
                &plan.req.group,
                plan.req.client,
                &m.record,
            );
        }
    }
    Ok((out, next_expiry))
}

/// Pops up to `want` messages of one queue into `out`: expired deliveries first (lowest offset
/// first), then never-popped messages. Holds the queue's lock throughout, so two pops never hand
/// out the same delivery.
fn pop_queue(
    s: &State,
    plan: &PopPlan,
    q: u32,
    want: usize,
    out: &mut Vec<PoppedMessage>,
) -> Result<Option<u64>, BrokerError> {
    let (group, topic) = (&plan.req.group, &plan.req.topic);
    let key = (group.clone(), topic.clone(), q);
    let cell = s.pop.queue(&key, || {
        s.offsets
            .query(group, topic, q)
            .unwrap_or_else(|| s.store.min_queue_offset(topic, q))
    });
    let mut ql = cell.lock();
    let now = now_ms();
    let mut ended = Vec::new();
    let before = out.len();
    // Whatever happened, what was leased, dead-lettered or skipped is accounted for.
    let result = pop_locked(s, plan, &mut ql, q, now, want, out, &mut ended);
    if let Some(offset) = ql.commit_due() {
        s.offsets.commit(group, topic, q, offset);
    }
    s.offsets.record_pull(group, topic, q, ql.next);
    let next_expiry = ql.next_expiry(now);
    drop(ql);
    s.pop.record_ended(&key, &ended);
    let delivered: Vec<(u64, u32)> = out[before..]
        .iter()
        .map(|m| (m.queue_offset, m.delivery_attempt))
        .collect();
    s.pop.record_delivered(&key, &delivered);
    result.map(|()| next_expiry)
}

/// [`pop_queue`] with the queue locked; `ended` collects what was dead-lettered.
#[allow(clippy::too_many_arguments)] // one call site, all of it the pop's context
fn pop_locked(
    s: &State,
    plan: &PopPlan,
    ql: &mut QueueLeases,
    q: u32,
    now: u64,
    want: usize,
    out: &mut Vec<PoppedMessage>,
    ended: &mut Vec<u64>,
) -> Result<(), BrokerError> {
    let (group, topic) = (&plan.req.group, &plan.req.topic);
    if plan.req.fifo && ql.fifo_blocked(now) {
        return Ok(());
    }
    let start = out.len();
    let expired: Vec<(u64, Lease)> = ql.expired(now).collect();
    for (offset, lease) in expired {
        if out.len() - start >= want {
            break;
        }
        let Some(record) = read_at(s, topic, q, offset)? else {
            // Retention removed it: nothing left to deliver.
            ql.leases.remove(&offset);
            continue;
        };
        if lease.attempt >= plan.max_attempts {
            super::pop_ack::dead_letter(s, group, &record, lease.attempt)?;
            ql.end(offset);
            ended.push(offset);
            continue;
        }
        out.push(deliver(s, plan, ql, q, offset, &record, lease.attempt + 1)?);
    }
    // New messages only once every expired one went out again, so a FIFO queue stays in order.
    if out.len() - start < want && ql.expired(now).next().is_none() {
        pop_new(s, plan, ql, q, want - (out.len() - start), out, ended)?;
    }
    Ok(())
}

/// Delivers never-popped messages from `ql.next` on, skipping what the filter rejects. A message
/// delivered before a restart comes with the attempt after the journaled one, or, when that was
/// its last, goes to the dead-letter queue (into `ended`).
fn pop_new(
    s: &State,
    plan: &PopPlan,
    ql: &mut QueueLeases,
    q: u32,
    want: usize,
    out: &mut Vec<PoppedMessage>,
    ended: &mut Vec<u64>,
) -> Result<(), BrokerError> {
    let filter = plan.filter.store_filter();
    let mut delivered = 0;
    for _ in 0..MAX_FILTERED_READS {
        let got = s.store.get_messages(&QueueRead {
            topic: &plan.req.topic,
            queue_id: q,
            from: ql.next,
            max_msgs: want - delivered,
            max_bytes: MAX_POP_BYTES,
            filter: &filter,
        })?;
        match got.status {
            GetStatus::Found => {}
            GetStatus::NoMatchedMessage | GetStatus::OffsetFoundNull => {
                ql.next = ql.next.max(got.next_offset);
                continue;
            }
            // The queue lost its head to retention, or was recreated shorter: go where it is.
            GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly => {
                ql.next = got.next_offset;
                return Ok(());
            }
            _ => return Ok(()),
        }
        for (m, &offset) in got.messages.iter().zip(&got.queue_offsets) {
            // Below `next`: already handed out. Ended: acked before a restart (see `pop::journal`).
            if offset < ql.next || ql.ended.contains(&offset) || !plan.filter.accepts_record(m) {
                continue;
            }
            let attempt = ql
                .past_attempts
                .get(&offset)
                .map_or(1, |a| a.saturating_add(1));
            if attempt > plan.max_attempts {
                super::pop_ack::dead_letter(s, &plan.req.group, m, attempt - 1)?;
                ql.end(offset);
                ended.push(offset);
                continue;
            }
            let popped = deliver(s, plan, ql, q, offset, m, attempt)?;
            ql.past_attempts.remove(&offset);
            out.push(popped);
            delivered += 1;
        }
        ql.next = ql.next.max(got.next_offset);
        if delivered >= want || !plan.filter.filters_records() {
            return Ok(());
        }
    }
    Ok(())
}

/// The record at a queue offset, `None` when the queue no longer has it.
pub(super) fn read_at(
    s: &State,
    topic: &str,
    q: u32,
    offset: u64,
) -> Result<Option<Bytes>, BrokerError> {
    let got = s.store.get_messages(&QueueRead {
        topic,
        queue_id: q,
        from: offset,
        max_msgs: 1,
        max_bytes: MAX_POP_BYTES,
        filter: &TagFilter::All,
    })?;
    Ok(got
        .messages
        .into_iter()
        .zip(got.queue_offsets)
        .find(|(_, o)| *o == offset)
        .map(|(m, _)| m))
}

/// Leases the message at `offset` for a new delivery and builds what the consumer gets.
fn deliver(
    s: &State,
    plan: &PopPlan,
    ql: &mut QueueLeases,
    q: u32,
    offset: u64,
    record: &Bytes,
    attempt: u32,
) -> Result<PoppedMessage, BrokerError> {
    let lease = Lease {
        attempt,
        pop_time_ms: now_ms(),
        invisible_ms: plan.invisible_ms,
        token: s.pop.token(),
        announced: false,
    };
    let handle = ReceiptHandle {
        broker_name: s.config.broker_name.clone(),
        queue_id: q,
        offset,
        pop_time_ms: lease.pop_time_ms,
        invisible_ms: lease.invisible_ms,
        token: lease.token,
    };
    let popped = popped_message(record, &handle, &lease)?;
    ql.leases.insert(offset, lease);
    Ok(popped)
}

/// The consumer's view of a stored record for one delivery.
fn popped_message(
    record: &Bytes,
    handle: &ReceiptHandle,
    lease: &Lease,
) -> Result<PoppedMessage, BrokerError> {
    let v = view(record)?;
    let handle_text = handle.to_string();
    let props = edit_properties(v.properties, &[], &[(POP_CK, &handle_text)]);
    let mut rewritten = Vec::with_capacity(record.len() + handle_text.len() + 16);
    record::encode(
        &RecordDraft {
            topic: v.topic,
            queue_id: v.queue_id,
            flag: v.flag,
            sys_flag: v.sys_flag,
            born_timestamp: v.born_timestamp,
            born_host: v.born_host,
            store_host: v.store_host,
            reconsume_times: i32::try_from(lease.attempt.saturating_sub(1)).unwrap_or(i32::MAX),
            prepared_transaction_offset: v.prepared_transaction_offset,
            body: v.body,
            properties: &props,
        },
        usize::MAX,
        &mut rewritten,
    )
    .map_err(|e| BrokerError::Missing(format!("popped message does not re-encode: {e}")))?;
    record::patch_store_fields(
        &mut rewritten,
        v.queue_offset,
        v.physical_offset,
        v.store_timestamp,
    );
    let offset_id = offset_msg_id(v.store_host, v.physical_offset);
    let properties: BTreeMap<String, String> = properties::iter(v.properties)
        .map(|(k, val)| (k.to_owned(), val.to_owned()))
        .collect();
    Ok(PoppedMessage {
        topic: v.topic.to_owned(),
        queue_id: v.queue_id,
        queue_offset: v.queue_offset,
        commit_log_offset: v.physical_offset,
        msg_id: properties
            .get(keys::UNIQ_KEY)
            .cloned()
            .unwrap_or_else(|| offset_id.clone()),
        offset_msg_id: offset_id,
        properties,
        body: record.slice_ref(v.body),
        flag: v.flag,
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_timestamp: v.store_timestamp,
        store_host: v.store_host,
        handle: handle_text,
        delivery_attempt: lease.attempt,
        pop_time_ms: lease.pop_time_ms,
        invisible_until_ms: lease.visible_at(),
        record: Bytes::from(rewritten),
    })
}
