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
use ferromq_store::{GetStatus, QueueRead};
use tokio::time::Instant;

use crate::error::BrokerError;
use crate::filter::TagSubscription;
use crate::names;
use crate::state::State;

/// Java's transfer limits for data in the page cache: the first message always goes out.
const MAX_TRANSFER_COUNT: usize = 32;
const MAX_TRANSFER_BYTES: usize = 256 * 1024;

/// A checked pull request.
struct PullPlan {
    header: PullMessageRequestHeader,
    queue_id: u32,
    subscription: TagSubscription,
}

/// The answer to one read of the queue.
struct Outcome {
    code: ResponseCode,
    header: PullMessageResponseHeader,
    body: Option<Bytes>,
    remark: &'static str,
}

pub(crate) async fn pull(
    s: &Arc<State>,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Result<Option<RemotingCommand>, BrokerError> {
    let plan = check(s, req)?;
    let h = &plan.header;
    if h.has_flag(sys_flag::COMMIT_OFFSET) {
        if let Ok(offset) = u64::try_from(h.commit_offset) {
            s.offsets
                .commit(&h.consumer_group, &h.topic, plan.queue_id, offset);
        }
    }
    let hold = if !h.has_flag(sys_flag::SUSPEND) {
        Duration::ZERO
    } else if s.config.long_polling_enable {
        let asked = u64::try_from(h.suspend_timeout_millis).unwrap_or(0);
        Duration::from_millis(asked.min(s.config.long_polling_max_hold_ms))
    } else {
        Duration::from_millis(s.config.short_polling_time_ms)
    };
    let deadline = Instant::now() + hold;
    let closed = ctx.connection().closed();
    tokio::pin!(closed);
    loop {
        // Registered before reading, so an arrival between the read and the wait still wakes us.
        let wakeup = (!hold.is_zero()).then(|| s.long_poll.register(&h.topic, plan.queue_id));
        let outcome = read(s, &plan)?;
        let Some(wakeup) = wakeup.filter(|_| outcome.code == ResponseCode::PULL_NOT_FOUND) else {
            return Ok(Some(respond(s, req, &plan, outcome)));
        };
        tokio::select! {
            _ = wakeup => {}
            () = tokio::time::sleep_until(deadline) => {
                let last = read(s, &plan)?;
                return Ok(Some(respond(s, req, &plan, last)));
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
        TagSubscription::parse(
            header.subscription.as_deref(),
            header.expression_type.as_deref(),
        )?
    } else {
        let data = s
            .clients
            .subscription(&header.consumer_group, &header.topic)
            .ok_or_else(|| BrokerError::SubscriptionNotExist {
                group: header.consumer_group.clone(),
                topic: header.topic.clone(),
            })?;
        TagSubscription::from_data(&data)?
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

/// Reads the queue once and maps the store status to the pull response (reference §7.3).
fn read(s: &State, plan: &PullPlan) -> Result<Outcome, BrokerError> {
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
    let outcome = |code, body, remark| Outcome {
        code,
        header: header.clone(),
        body,
        remark,
    };
    Ok(match got.status {
        GetStatus::Found => {
            let kept: Vec<&Bytes> = got
                .messages
                .iter()
                .filter(|m| plan.subscription.accepts_record(m))
                .collect();
            if kept.is_empty() {
                outcome(
                    ResponseCode::PULL_RETRY_IMMEDIATELY,
                    None,
                    "NO_MATCHED_MESSAGE",
                )
            } else {
                let mut body = BytesMut::with_capacity(kept.iter().map(|m| m.len()).sum());
                for m in &kept {
                    body.extend_from_slice(m);
                }
                s.stats.add_got(kept.len());
                outcome(ResponseCode::SUCCESS, Some(body.freeze()), "FOUND")
            }
        }
        GetStatus::NoMatchedMessage | GetStatus::OffsetFoundNull => outcome(
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
            }
        }
    })
}

fn respond(s: &State, req: &RemotingCommand, plan: &PullPlan, o: Outcome) -> RemotingCommand {
    let h = &plan.header;
    if let Ok(next) = u64::try_from(o.header.next_begin_offset) {
        s.offsets
            .record_pull(&h.consumer_group, &h.topic, plan.queue_id, next);
    }
    let mut resp =
        RemotingCommand::response_to(req, o.code, Some(o.remark.to_owned())).with_header(&o.header);
    resp.body = o.body;
    resp
}
