//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferromq_net::RequestContext;
use ferromq_remoting::body::route::perm;
use ferromq_remoting::headers::pull::{
    sys_flag, PullMessageRequestHeader, PullMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, ResponseCode};
use ferromq_store::{GetResult, GetStatus, QueueRead};
use tokio::time::Instant;

use super::pull_source;
use crate::error::BrokerError;
use crate::filter::{FilterOwner, MessageFilter};
use crate::names;
use crate::state::State;

/// Java's transfer limits for data in the page cache: the first message always goes out.
const MAX_TRANSFER_COUNT: usize = 32;
const MAX_TRANSFER_BYTES: usize = 256 * 1024;

/// A checked pull request.
struct PullPlan {
    header: PullMessageRequestHeader,
    queue_id: u32,
    subscription: MessageFilter,
}

/// The answer to one read of the queue.
struct Outcome {
    code: ResponseCode,
    header: PullMessageResponseHeader,
    body: Option<Bytes>,
    remark: &'static str,
    /// Commit-log position of the last record read, for the read-from-replica suggestion.
    pulled: Option<u64>,
}

pub(crate) async fn pull(
    s: &Arc<State>,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Result<Option<RemotingCommand>, BrokerError> {
    let mut plan = check(s, req)?;
    let h = &plan.header;
    if h.has_flag(sys_flag::COMMIT_OFFSET) {
        if let Ok(offset) = u64::try_from(h.commit_offset) {
            s.offsets
                .commit(&h.consumer_group, &h.topic, plan.queue_id, offset);
        }
    }
    let hold = if !h.has_flag(sys_flag::SUSPEND) {
        Duration::ZERO
    } else if s.live.long_polling_enable() {
        let asked = u64::try_from(h.suspend_timeout_millis).unwrap_or(0);
        Duration::from_millis(asked.min(s.config.long_polling_max_hold_ms))
    } else {
        Duration::from_millis(s.live.short_polling_time_ms())
    };
    let deadline = Instant::now() + hold;
    let closed = ctx.connection().closed();
    tokio::pin!(closed);
    loop {
        // Registered before reading, so an arrival between the read and the wait still wakes us.
        let wakeup =
            (!hold.is_zero()).then(|| s.long_poll.register(&plan.header.topic, plan.queue_id));
        let outcome = read(s, &plan)?;
        // Everything up to the queue's end was filtered out: hold on from there, so a waiting
        // consumer is answered for a matching arrival rather than for each non-matching one.
        let filtered_to_end = outcome.code == ResponseCode::PULL_RETRY_IMMEDIATELY
            && plan.subscription.filters_records()
            && outcome.header.next_begin_offset >= outcome.header.max_offset;
        let Some(wakeup) =
            wakeup.filter(|_| outcome.code == ResponseCode::PULL_NOT_FOUND || filtered_to_end)
        else {
            return Ok(Some(respond(s, ctx, req, &plan, outcome)));
        };
        if filtered_to_end {
            plan.header.queue_offset = outcome.header.next_begin_offset;
        }
        tokio::select! {
            _ = wakeup => {}
            () = tokio::time::sleep_until(deadline) => {
                let last = read(s, &plan)?;
                return Ok(Some(respond(s, ctx, req, &plan, last)));
            }
            // Nobody to answer; shutdown also closes connections this way.
            () = &mut closed => return Ok(None),
        }
    }
}

fn check(s: &State, req: &RemotingCommand) -> Result<PullPlan, BrokerError> {
    let header: PullMessageRequestHeader = req.decode_header()?;
    names::validate_group(&header.consumer_group)?;
    let topic = s
        .topics
        .get(&header.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(header.topic.clone()))?;
    if topic.perm & perm::READ == 0 {
        return Err(BrokerError::NoPermission {
            topic: header.topic,
            action: "read",
        });
    }
    let queue_id = u32::try_from(header.queue_id)
        .ok()
        .filter(|q| i64::from(*q) < i64::from(topic.read_queue_nums))
        .ok_or_else(|| BrokerError::BadQueueId {
            topic: header.topic.clone(),
            queue_id: header.queue_id,
            queues: topic.read_queue_nums,
        })?;
    let subscription = if header.has_flag(sys_flag::SUBSCRIPTION) {
        let owner = FilterOwner {
            group: &header.consumer_group,
            topic: &header.topic,
        };
        MessageFilter::parse(
            header.subscription.as_deref(),
            header.expression_type.as_deref(),
            owner,
            &s.filters,
        )?
    } else {
        let data = s
            .clients
            .subscription(&header.consumer_group, &header.topic)
            .ok_or_else(|| BrokerError::SubscriptionNotExist {
                group: header.consumer_group.clone(),
                topic: header.topic.clone(),
            })?;
        MessageFilter::from_data(&data, &header.consumer_group, &s.filters)?
    };
    Ok(PullPlan {
        header,
        queue_id,
        subscription,
    })
}

fn wire(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads the queue once and answers with the member of the group to pull from next.
fn read(s: &State, plan: &PullPlan) -> Result<Outcome, BrokerError> {
    let mut outcome = read_queue(s, plan)?;
    if pull_source::is_replica(s) {
        keep_position_on_replica(&mut outcome, plan);
    }
    outcome.header.suggest_which_broker_id =
        pull_source::suggestion_for(s, &plan.header.consumer_group, outcome.pulled);
    Ok(outcome)
}

/// A replica never moves a consumer's offset: its log may just lag the master's (or retention
/// removed what the master still has), and the consumer came here only for a while. An offset past
/// the end waits for the replication to bring it, as one at the end does; one before the start is
/// answered at once and sent to the master (RocketMQ's `offsetCheckInSlave` off).
fn keep_position_on_replica(o: &mut Outcome, plan: &PullPlan) {
    if o.code != ResponseCode::PULL_OFFSET_MOVED {
        return;
    }
    o.header.next_begin_offset = plan.header.queue_offset.max(0);
    o.code = if o.remark == "OFFSET_TOO_SMALL" {
        ResponseCode::PULL_RETRY_IMMEDIATELY
    } else {
        ResponseCode::PULL_NOT_FOUND
    };
}

/// Reads the queue once and maps the store status to the pull response (reference §7.3).
fn read_queue(s: &State, plan: &PullPlan) -> Result<Outcome, BrokerError> {
    let h = &plan.header;
    let from = u64::try_from(h.queue_offset).unwrap_or(0);
    let filter = plan.subscription.store_filter();
    let max_msgs = usize::try_from(h.max_msg_nums)
        .unwrap_or(1)
        .clamp(1, MAX_TRANSFER_COUNT);
    let max_bytes = h
        .max_msg_bytes
        .and_then(|b| usize::try_from(b).ok())
        .unwrap_or(usize::MAX)
        .clamp(100, MAX_TRANSFER_BYTES);
    let got = s.store.get_messages(&QueueRead {
        topic: &h.topic,
        queue_id: plan.queue_id,
        from,
        max_msgs,
        max_bytes,
        filter: &filter,
    })?;
    let mut header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: wire(got.next_offset),
        min_offset: wire(got.min_offset),
        max_offset: wire(got.max_offset),
        ..PullMessageResponseHeader::default()
    };
    if got.status == GetStatus::Found {
        let pulled = got
            .messages
            .last()
            .and_then(|m| pull_source::record_position(m));
        let (kept, next) = matching(s, plan, got, max_msgs, max_bytes)?;
        header.next_begin_offset = wire(next);
        if kept.is_empty() {
            return Ok(Outcome {
                code: ResponseCode::PULL_RETRY_IMMEDIATELY,
                header,
                body: None,
                remark: "NO_MATCHED_MESSAGE",
                pulled,
            });
        }
        let mut body = BytesMut::with_capacity(kept.iter().map(Bytes::len).sum());
        for m in &kept {
            body.extend_from_slice(m);
        }
        s.stats.add_got(kept.len());
        return Ok(Outcome {
            code: ResponseCode::SUCCESS,
            header,
            body: Some(body.freeze()),
            remark: "FOUND",
            pulled,
        });
    }
    let outcome = |code, body, remark| Outcome {
        code,
        header: header.clone(),
        body,
        remark,
        pulled: None,
    };
    Ok(match got.status {
        // Found is answered above.
        GetStatus::Found | GetStatus::NoMatchedMessage | GetStatus::OffsetFoundNull => outcome(
            ResponseCode::PULL_RETRY_IMMEDIATELY,
            None,
            "NO_MATCHED_MESSAGE",
        ),
        GetStatus::OffsetOverflowOne => {
            outcome(ResponseCode::PULL_NOT_FOUND, None, "OFFSET_OVERFLOW_ONE")
        }
        GetStatus::OffsetOverflowBadly => outcome(
            ResponseCode::PULL_OFFSET_MOVED,
            None,
            "OFFSET_OVERFLOW_BADLY",
        ),
        GetStatus::OffsetTooSmall => {
            outcome(ResponseCode::PULL_OFFSET_MOVED, None, "OFFSET_TOO_SMALL")
        }
        GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue => {
            header.next_begin_offset = 0;
            let code = if from == 0 {
                ResponseCode::PULL_NOT_FOUND
            } else {
                ResponseCode::PULL_OFFSET_MOVED
            };
            Outcome {
                code,
                header,
                body: None,
                remark: "NO_MESSAGE_IN_QUEUE",
                pulled: None,
            }
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
    let from = u64::try_from(plan.header.queue_offset).unwrap_or(0);
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
            topic: &plan.header.topic,
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

fn respond(
    s: &State,
    ctx: &RequestContext,
    req: &RemotingCommand,
    plan: &PullPlan,
    o: Outcome,
) -> RemotingCommand {
    let h = &plan.header;
    if let Some(body) = &o.body {
        crate::trace::hooks::delivered(s, &h.consumer_group, ctx.peer_addr(), body);
    }
    if let Ok(next) = u64::try_from(o.header.next_begin_offset) {
        s.offsets
            .record_pull(&h.consumer_group, &h.topic, plan.queue_id, next);
    }
    let mut resp =
        RemotingCommand::response_to(req, o.code, Some(o.remark.to_owned())).with_header(&o.header);
    resp.body = o.body;
    resp
}
