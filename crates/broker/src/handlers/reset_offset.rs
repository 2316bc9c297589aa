//! INVOKE_BROKER_TO_RESET_OFFSET (222): move a consumer group's offsets of a topic to a point in
//! time, without restarting its consumers.
//!
//! For each queue of the topic the target is the first message stored at or after the timestamp
//! (-1: the end of the queue); without `isForce` an offset only moves backwards, as in Java's
//! `Broker2Client.resetOffset`. Unlike Java, the broker commits the new offsets itself, so a group
//! with no consumer online is reset too (Java answers CONSUMER_NOT_ONLINE and leaves that case to
//! the admin tool). Then every connected consumer of the group gets RESET_CONSUMER_CLIENT_OFFSET
//! (220, oneway) with the same `ResetOffsetBody`, so it drops its in-flight pulls and restarts
//! there; a POP group's next pop of each queue starts there (what it had in flight is forgotten).
//! The reply carries the table.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferromq_remoting::body::admin::ResetOffsetBody;
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::ResetOffsetRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};
use tracing::{debug, info};

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::names;
use crate::state::State;

fn wire(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Where the group's offset of one queue goes.
fn target(s: &State, h: &ResetOffsetRequestHeader, queue_id: u32) -> Result<u64, BrokerError> {
    let (min, max) = (
        s.store.min_queue_offset(&h.topic, queue_id),
        s.store.max_queue_offset(&h.topic, queue_id),
    );
    // An explicit offset for one queue (mqadmin `resetOffsetByTime` with `-q` and `-o`).
    if let Some(o) = h.offset.filter(|o| *o >= 0 && h.queue_id >= 0) {
        return Ok(u64::try_from(o).unwrap_or(0).clamp(min, max));
    }
    if h.timestamp == -1 {
        return Ok(max);
    }
    Ok(s.store
        .queue_offset_by_time(&h.topic, queue_id, h.timestamp)?
        .clamp(min, max))
}

pub(crate) async fn reset_offset(s: &Arc<State>, req: &RemotingCommand) -> Reply {
    let h: ResetOffsetRequestHeader = req.decode_header()?;
    names::validate_group(&h.group)?;
    let topic = s
        .topics
        .get(&h.topic)
        .ok_or_else(|| BrokerError::TopicNotExist(h.topic.clone()))?;
    let queues = u32::try_from(topic.write_queue_nums.max(topic.read_queue_nums)).unwrap_or(0);
    if h.queue_id >= 0 && u32::try_from(h.queue_id).is_ok_and(|q| q >= queues) {
        return Err(BrokerError::BadQueueId {
            topic: h.topic.clone(),
            queue_id: h.queue_id,
            queues: i32::try_from(queues).unwrap_or(i32::MAX),
        });
    }
    let mut offset_table = BTreeMap::new();
    for q in 0..queues {
        if h.queue_id >= 0 && i64::from(h.queue_id) != i64::from(q) {
            continue;
        }
        let to = target(s, &h, q)?;
        let new = match s.offsets.query(&h.group, &h.topic, q) {
            Some(committed) if !h.is_force && to >= committed => committed,
            _ => to,
        };
        // A POP group's next pop starts there too. Its bookkeeping first: it writes the offset
        // table itself from what it has acked, and must not write the old position afterwards.
        s.pop.reset(&(h.group.clone(), h.topic.clone(), q), new);
        s.offsets.commit(&h.group, &h.topic, q, new);
        offset_table.insert(
            MessageQueue {
                broker_name: s.config.broker_name.clone(),
                queue_id: i32::try_from(q).unwrap_or(i32::MAX),
                topic: h.topic.clone(),
            },
            wire(new),
        );
    }
    let body = ResetOffsetBody { offset_table }.to_json();
    let consumers = s.clients.consumer_connections(&h.group);
    info!(group = %h.group, topic = %h.topic, timestamp = h.timestamp, force = h.is_force, consumers = consumers.len(), "consumer offsets reset");
    for conn in consumers {
        let cmd = RemotingCommand::request(RequestCode::RESET_CONSUMER_CLIENT_OFFSET)
            .with_header(&ResetOffsetRequestHeader {
                group: h.group.clone(),
                topic: h.topic.clone(),
                queue_id: -1,
                offset: None,
                timestamp: h.timestamp,
                is_force: h.is_force,
            })
            .with_body(body.clone());
        if let Err(e) = conn.send_oneway(cmd).await {
            debug!(group = %h.group, peer = %conn.peer_addr(), error = %e, "offset reset not delivered");
        }
    }
    Ok(ok(req).with_body(body))
}
