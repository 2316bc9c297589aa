//! Consumer offsets (14, 15) and queue offsets (29, 30, 31, 32).

use ferromq_remoting::headers::offset::{
    BoundaryType, GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader,
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, QueueRequestHeader,
    SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::names;
use crate::state::State;

fn wire(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A queue id of an existing topic (ids beyond the configured count are still answered: the store
/// simply has nothing there).
fn queue(s: &State, topic: &str, queue_id: i32) -> Result<u32, BrokerError> {
    if s.topics.get(topic).is_none() {
        return Err(BrokerError::TopicNotExist(topic.to_owned()));
    }
    u32::try_from(queue_id).map_err(|_| BrokerError::BadQueueId {
        topic: topic.to_owned(),
        queue_id,
        queues: 0,
    })
}

fn offset_reply(req: &RemotingCommand, offset: u64) -> Reply {
    Ok(ok(req).with_header(&OffsetResponseHeader {
        offset: wire(offset),
    }))
}

/// The stored offset; when none, 0 if the queue still starts at offset 0 (Java answers 0 when the
/// first message is "hot", which lets a brand-new group read a young topic from the start),
/// otherwise QUERY_NOT_FOUND so the client applies its consume-from-where policy.
pub(crate) fn query_consumer_offset(s: &State, req: &RemotingCommand) -> Reply {
    let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
    let queue_id = u32::try_from(h.queue_id).map_err(|_| BrokerError::BadQueueId {
        topic: h.topic.clone(),
        queue_id: h.queue_id,
        queues: 0,
    })?;
    if let Some(offset) = s.offsets.query(&h.consumer_group, &h.topic, queue_id) {
        return offset_reply(req, offset);
    }
    let young = s.store.min_queue_offset(&h.topic, queue_id) == 0
        && s.store.max_queue_offset(&h.topic, queue_id) > 0;
    if h.set_zero_if_not_found != Some(false) && young {
        return offset_reply(req, 0);
    }
    Err(BrokerError::NotFound(
        "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".into(),
    ))
}

pub(crate) fn update_consumer_offset(s: &State, req: &RemotingCommand) -> Reply {
    let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
    names::validate_group(&h.consumer_group)?;
    let queue_id = queue(s, &h.topic, h.queue_id)?;
    let offset = u64::try_from(h.commit_offset).map_err(|_| {
        BrokerError::BadBody(format!("commitOffset {} is negative", h.commit_offset))
    })?;
    s.offsets
        .commit(&h.consumer_group, &h.topic, queue_id, offset);
    Ok(ok(req))
}

pub(crate) fn max_offset(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetMaxOffsetRequestHeader = req.decode_header()?;
    let q = queue(s, &h.topic, h.queue_id)?;
    offset_reply(req, s.store.max_queue_offset(&h.topic, q))
}

pub(crate) fn min_offset(s: &State, req: &RemotingCommand) -> Reply {
    let h: QueueRequestHeader = req.decode_header()?;
    let q = queue(s, &h.topic, h.queue_id)?;
    offset_reply(req, s.store.min_queue_offset(&h.topic, q))
}

pub(crate) fn earliest_time(s: &State, req: &RemotingCommand) -> Reply {
    let h: QueueRequestHeader = req.decode_header()?;
    let q = queue(s, &h.topic, h.queue_id)?;
    let timestamp = s.store.earliest_message_time(&h.topic, q)?.unwrap_or(-1);
    Ok(ok(req).with_header(&GetEarliestMsgStoretimeResponseHeader { timestamp }))
}

/// LOWER: first offset stored at or after the time (max offset if none);
/// UPPER: last offset stored at or before it.
pub(crate) fn search_by_time(s: &State, req: &RemotingCommand) -> Reply {
    let h: SearchOffsetRequestHeader = req.decode_header()?;
    let q = queue(s, &h.topic, h.queue_id)?;
    let offset = match h.boundary_type.unwrap_or_default() {
        BoundaryType::Lower => s.store.queue_offset_by_time(&h.topic, q, h.timestamp)?,
        BoundaryType::Upper => {
            let after = s
                .store
                .queue_offset_by_time(&h.topic, q, h.timestamp.saturating_add(1))?;
            after
                .saturating_sub(1)
                .max(s.store.min_queue_offset(&h.topic, q))
        }
    };
    offset_reply(req, offset)
}
