//! Offsets: where consumer groups are in each queue, and where a queue starts, ends, or was at a
//! point in time.

use super::BrokerService;
use crate::error::BrokerError;
use crate::names;
use crate::state::State;

/// Which end of a time search: the first offset stored at or after the time (`Lower`), or the last
/// stored at or before it (`Upper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Boundary {
    #[default]
    Lower,
    Upper,
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

impl BrokerService {
    /// The offset `group` committed for a queue; when none, 0 if the queue still starts at offset 0
    /// and `zero_if_young` (Java answers 0 when the first message is "hot", which lets a brand-new
    /// group read a young topic from the start).
    ///
    /// # Errors
    /// A negative queue id; `NotFound` (QUERY_NOT_FOUND) otherwise, so the client applies its
    /// consume-from-where policy.
    pub fn committed_offset(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        zero_if_young: bool,
    ) -> Result<u64, BrokerError> {
        let s = &*self.state;
        let queue_id = u32::try_from(queue_id).map_err(|_| BrokerError::BadQueueId {
            topic: topic.to_owned(),
            queue_id,
            queues: 0,
        })?;
        if let Some(offset) = s.offsets.query(group, topic, queue_id) {
            return Ok(offset);
        }
        let young = s.store.min_queue_offset(topic, queue_id) == 0
            && s.store.max_queue_offset(topic, queue_id) > 0;
        if zero_if_young && young {
            return Ok(0);
        }
        Err(BrokerError::NotFound(
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".into(),
        ))
    }

    /// Commits `offset` as where `group` continues in the queue.
    ///
    /// # Errors
    /// A bad group name, an unknown topic, a negative queue id or offset.
    pub fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<(), BrokerError> {
        let s = &*self.state;
        names::validate_group(group)?;
        let queue_id = queue(s, topic, queue_id)?;
        let offset = u64::try_from(offset)
            .map_err(|_| BrokerError::BadBody(format!("commitOffset {offset} is negative")))?;
        s.offsets.commit(group, topic, queue_id, offset);
        Ok(())
    }

    /// The offset the next message of the queue will get.
    ///
    /// # Errors
    /// An unknown topic, a negative queue id.
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> Result<u64, BrokerError> {
        let q = queue(&self.state, topic, queue_id)?;
        Ok(self.state.store.max_queue_offset(topic, q))
    }

    /// The offset of the queue's oldest message still stored.
    ///
    /// # Errors
    /// An unknown topic, a negative queue id.
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> Result<u64, BrokerError> {
        let q = queue(&self.state, topic, queue_id)?;
        Ok(self.state.store.min_queue_offset(topic, q))
    }

    /// The store time of the queue's oldest message, `None` when it is empty.
    ///
    /// # Errors
    /// An unknown topic, a negative queue id, store failures.
    pub fn earliest_time(&self, topic: &str, queue_id: i32) -> Result<Option<i64>, BrokerError> {
        let q = queue(&self.state, topic, queue_id)?;
        Ok(self.state.store.earliest_message_time(topic, q)?)
    }

    /// The queue offset at `timestamp` (ms since the epoch): the first stored at or after it (the
    /// max offset if none), or the last stored at or before it.
    ///
    /// # Errors
    /// An unknown topic, a negative queue id, store failures.
    pub fn offset_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp: i64,
        boundary: Boundary,
    ) -> Result<u64, BrokerError> {
        let s = &*self.state;
        let q = queue(s, topic, queue_id)?;
        Ok(match boundary {
            Boundary::Lower => s.store.queue_offset_by_time(topic, q, timestamp)?,
            Boundary::Upper => {
                let after = s
                    .store
                    .queue_offset_by_time(topic, q, timestamp.saturating_add(1))?;
                after
                    .saturating_sub(1)
                    .max(s.store.min_queue_offset(topic, q))
            }
        })
    }
}
