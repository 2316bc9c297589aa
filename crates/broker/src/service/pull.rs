//! Pulling: reading a queue from an offset through a subscription filter, held open (long polling)
//! until a matching message arrives or the hold ends.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferromq_remoting::body::route::perm;
use ferromq_store::{GetResult, GetStatus, QueueRead};
use tokio::time::Instant;

use super::{pull_source, BrokerService};
use crate::error::BrokerError;
use crate::filter::{FilterOwner, MessageFilter};
use crate::names;
use crate::state::State;

/// Java's transfer limits for data in the page cache: the first message always goes out.
const MAX_TRANSFER_COUNT: usize = 32;
const MAX_TRANSFER_BYTES: usize = 256 * 1024;

/// One pull of a consumer of `group`.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub group: String,
    pub topic: String,
    pub queue_id: i32,
    /// The queue offset to read from.
    pub offset: u64,
    /// At most this many messages (clamped to 1..=32).
    pub max_messages: u32,
    /// At most about this many bytes (the first message always goes out).
    pub max_bytes: Option<u32>,
    pub subscription: Subscription,
    /// An offset the consumer commits with this pull.
    pub commit_offset: Option<u64>,
    /// How long the consumer lets the broker hold the pull when nothing is there; `None` answers
    /// at once.
    pub suspend: Option<Duration>,
    pub consumer: SocketAddr,
}

/// Which messages the consumer wants.
#[derive(Debug, Clone)]
pub enum Subscription {
    /// Given with the pull: a tag expression or SQL92 (`kind` `TAG`/`SQL92`, TAG when absent).
    Expression {
        expression: Option<String>,
        kind: Option<String>,
    },
    /// The one the group registered with its heartbeat.
    Registered,
}

impl Subscription {
    /// The filter a consumer of `group` reads `topic` with (pull and pop alike).
    pub(super) fn filter(
        &self,
        s: &State,
        group: &str,
        topic: &str,
    ) -> Result<MessageFilter, BrokerError> {
        match self {
            Subscription::Expression { expression, kind } => MessageFilter::parse(
                expression.as_deref(),
                kind.as_deref(),
                FilterOwner { group, topic },
                &s.filters,
            ),
            Subscription::Registered => {
                let data = s.clients.subscription(group, topic).ok_or_else(|| {
                    BrokerError::SubscriptionNotExist {
                        group: group.to_owned(),
                        topic: topic.to_owned(),
                    }
                })?;
                MessageFilter::from_data(&data, group, &s.filters)
            }
        }
    }
}

/// How a pull was answered (the remoting response codes of reference §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullAnswer {
    /// Messages are in [`Pulled::records`].
    Found,
    /// Nothing matched in what was looked at: pull again from `next_offset` at once.
    RetryImmediately,
    /// Nothing new yet.
    NotFound,
    /// The offset is outside the queue: continue from `next_offset`.
    OffsetMoved,
}

/// The answer to a pull.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub answer: PullAnswer,
    /// The store's word for it (`FOUND`, `OFFSET_TOO_SMALL`, ...), as Java's remark.
    pub reason: &'static str,
    pub next_offset: u64,
    pub min_offset: u64,
    pub max_offset: u64,
    /// The member of the broker group to pull this queue from next (see `pull_source`).
    pub suggest_broker_id: i64,
    /// The matching stored records, back to back in the store's format.
    pub records: Option<Bytes>,
    /// Commit-log position of the last record read, for the read-from-replica suggestion.
    pulled: Option<u64>,
}

/// A checked pull request.
struct PullPlan {
    req: PullRequest,
    queue_id: u32,
    subscription: MessageFilter,
}

impl BrokerService {
    /// Reads the queue; when nothing is there and the request allows, holds on until a message
    /// arrives, the hold ends, or `closed` resolves (the consumer went away: `Ok(None)`).
    ///
    /// # Errors
    /// Bad group names, unknown topics, unreadable topics, bad queue ids, subscriptions that do not
    /// parse or do not exist, store failures.
    pub async fn pull(
        &self,
        req: PullRequest,
        closed: impl Future<Output = ()>,
    ) -> Result<Option<Pulled>, BrokerError> {
        let s = &*self.state;
        let mut plan = check(s, req)?;
        if let Some(offset) = plan.req.commit_offset {
            s.offsets
                .commit(&plan.req.group, &plan.req.topic, plan.queue_id, offset);
        }
        let hold = match plan.req.suspend {
            None => Duration::ZERO,
            Some(asked) if s.live.long_polling_enable() => {
                asked.min(Duration::from_millis(s.config.long_polling_max_hold_ms))
            }
            Some(_) => Duration::from_millis(s.live.short_polling_time_ms()),
        };
        let deadline = Instant::now() + hold;
        tokio::pin!(closed);
        loop {
            // Registered before reading, so an arrival between the read and the wait still wakes us.
            let wakeup =
                (!hold.is_zero()).then(|| s.long_poll.register(&plan.req.topic, plan.queue_id));
            let pulled = read(s, &plan)?;
            // Everything up to the queue's end was filtered out: hold on from there, so a waiting
            // consumer is answered for a matching arrival rather than for each non-matching one.
            let filtered_to_end = pulled.answer == PullAnswer::RetryImmediately
                && plan.subscription.filters_records()
                && pulled.next_offset >= pulled.max_offset;
            let Some(wakeup) =
                wakeup.filter(|_| pulled.answer == PullAnswer::NotFound || filtered_to_end)
            else {
                return Ok(Some(deliver(s, &plan, pulled)));
            };
            if filtered_to_end {
                plan.req.offset = pulled.next_offset;
            }
            tokio::select! {
                _ = wakeup => {}
                () = tokio::time::sleep_until(deadline) => {
                    let last = read(s, &plan)?;
                    return Ok(Some(deliver(s, &plan, last)));
                }
                // Nobody to answer; shutdown also closes connections this way.
                () = &mut closed => return Ok(None),
            }
        }
    }
}

fn check(s: &State, req: PullRequest) -> Result<PullPlan, BrokerError> {
    names::validate_group(&req.group)?;
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
    let queue_id = u32::try_from(req.queue_id)
        .ok()
        .filter(|q| i64::from(*q) < i64::from(topic.read_queue_nums))
        .ok_or_else(|| BrokerError::BadQueueId {
            topic: req.topic.clone(),
            queue_id: req.queue_id,
            queues: topic.read_queue_nums,
        })?;
    let subscription = req.subscription.filter(s, &req.group, &req.topic)?;
    Ok(PullPlan {
        req,
        queue_id,
        subscription,
    })
}

/// Reads the queue once and answers with the member of the group to pull from next.
fn read(s: &State, plan: &PullPlan) -> Result<Pulled, BrokerError> {
    let mut pulled = read_queue(s, plan)?;
    if pull_source::is_replica(s) {
        keep_position_on_replica(&mut pulled, plan);
    }
    pulled.suggest_broker_id = pull_source::suggestion_for(s, &plan.req.group, pulled.pulled);
    Ok(pulled)
}

/// A replica never moves a consumer's offset: its log may just lag the master's (or retention
/// removed what the master still has), and the consumer came here only for a while. An offset past
/// the end waits for the replication to bring it, as one at the end does; one before the start is
/// answered at once and sent to the master (RocketMQ's `offsetCheckInSlave` off).
fn keep_position_on_replica(p: &mut Pulled, plan: &PullPlan) {
    if p.answer != PullAnswer::OffsetMoved {
        return;
    }
    p.next_offset = plan.req.offset;
    p.answer = if p.reason == "OFFSET_TOO_SMALL" {
        PullAnswer::RetryImmediately
    } else {
        PullAnswer::NotFound
    };
}

/// Reads the queue once and maps the store status to the answer (reference §7.3).
fn read_queue(s: &State, plan: &PullPlan) -> Result<Pulled, BrokerError> {
    let from = plan.req.offset;
    let filter = plan.subscription.store_filter();
    let max_msgs = usize::try_from(plan.req.max_messages)
        .unwrap_or(1)
        .clamp(1, MAX_TRANSFER_COUNT);
    let max_bytes = plan
        .req
        .max_bytes
        .and_then(|b| usize::try_from(b).ok())
        .unwrap_or(usize::MAX)
        .clamp(100, MAX_TRANSFER_BYTES);
    let got = s.store.get_messages(&QueueRead {
        topic: &plan.req.topic,
        queue_id: plan.queue_id,
        from,
        max_msgs,
        max_bytes,
        filter: &filter,
    })?;
    let answer = |answer, reason, next_offset| Pulled {
        answer,
        reason,
        next_offset,
        min_offset: got.min_offset,
        max_offset: got.max_offset,
        suggest_broker_id: 0,
        records: None,
        pulled: None,
    };
    Ok(match got.status {
        GetStatus::Found => {
            let mut found = answer(PullAnswer::Found, "FOUND", got.next_offset);
            found.pulled = got
                .messages
                .last()
                .and_then(|m| pull_source::record_position(m));
            let (kept, next) = matching(s, plan, got, max_msgs, max_bytes)?;
            found.next_offset = next;
            if kept.is_empty() {
                found.answer = PullAnswer::RetryImmediately;
                found.reason = "NO_MATCHED_MESSAGE";
                return Ok(found);
            }
            let mut body = BytesMut::with_capacity(kept.iter().map(Bytes::len).sum());
            for m in &kept {
                body.extend_from_slice(m);
            }
            s.stats.add_got(
                &plan.req.topic,
                &plan.req.group,
                kept.len(),
                body.len() as u64,
            );
            found.records = Some(body.freeze());
            found
        }
        GetStatus::NoMatchedMessage | GetStatus::OffsetFoundNull => answer(
            PullAnswer::RetryImmediately,
            "NO_MATCHED_MESSAGE",
            got.next_offset,
        ),
        GetStatus::OffsetOverflowOne => {
            answer(PullAnswer::NotFound, "OFFSET_OVERFLOW_ONE", got.next_offset)
        }
        GetStatus::OffsetOverflowBadly => answer(
            PullAnswer::OffsetMoved,
            "OFFSET_OVERFLOW_BADLY",
            got.next_offset,
        ),
        GetStatus::OffsetTooSmall => {
            answer(PullAnswer::OffsetMoved, "OFFSET_TOO_SMALL", got.next_offset)
        }
        GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue => {
            let code = if from == 0 {
                PullAnswer::NotFound
            } else {
                PullAnswer::OffsetMoved
            };
            answer(code, "NO_MESSAGE_IN_QUEUE", 0)
        }
    })
}

/// Records per pull the broker looks at for a filter evaluated on records, like RocketMQ's scan
/// window of 16,000 bytes of 20-byte consume-queue entries.
const RECORD_SCAN_WINDOW: u64 = 800;

/// The records of `first` (and of further reads, for filters evaluated on records) that pass the
/// subscription, up to `max_msgs` / `max_bytes`, and the queue offset to read next. When nothing
/// passes, the next offset still moves past everything looked at, so the consumer makes progress.
fn matching(
    s: &State,
    plan: &PullPlan,
    first: GetResult,
    max_msgs: usize,
    max_bytes: usize,
) -> Result<(Vec<Bytes>, u64), BrokerError> {
    let from = plan.req.offset;
    let filter = plan.subscription.store_filter();
    let mut kept: Vec<Bytes> = Vec::new();
    let mut bytes = 0usize;
    let mut got = first;
    loop {
        for (m, &offset) in got.messages.iter().zip(&got.queue_offsets) {
            if !plan.subscription.accepts_record(m) {
                continue;
            }
            if kept.len() >= max_msgs || (!kept.is_empty() && bytes + m.len() > max_bytes) {
                // Full: this matching record is where the next pull starts.
                return Ok((kept, offset));
            }
            bytes += m.len();
            kept.push(m.clone());
        }
        let next = got.next_offset;
        if !plan.subscription.filters_records()
            || kept.len() >= max_msgs
            || next.saturating_sub(from) >= RECORD_SCAN_WINDOW
        {
            return Ok((kept, next));
        }
        got = s.store.get_messages(&QueueRead {
            topic: &plan.req.topic,
            queue_id: plan.queue_id,
            from: next,
            max_msgs,
            max_bytes,
            filter: &filter,
        })?;
        match got.status {
            GetStatus::Found => {}
            // Entries whose data retention removed are skipped like filtered ones.
            GetStatus::NoMatchedMessage | GetStatus::OffsetFoundNull => {
                return Ok((kept, got.next_offset.max(next)));
            }
            _ => return Ok((kept, next)),
        }
    }
}

/// Traces the delivery and notes how far the group has pulled the queue.
fn deliver(s: &State, plan: &PullPlan, pulled: Pulled) -> Pulled {
    if let Some(records) = &pulled.records {
        crate::trace::hooks::delivered(
            s.trace.as_deref(),
            &plan.req.group,
            plan.req.consumer,
            records,
        );
    }
    s.offsets.record_pull(
        &plan.req.group,
        &plan.req.topic,
        plan.queue_id,
        pulled.next_offset,
    );
    pulled
}
