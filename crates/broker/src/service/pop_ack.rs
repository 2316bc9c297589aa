//! Ending or extending a POP delivery by its receipt handle: ack, change of invisible time,
//! dead-lettering on request; and the revive scan that dead-letters deliveries that ran out of
//! attempts and wakes pops waiting for expired ones (see `service/pop.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use parking_lot::Mutex;
use tracing::{info, warn};

use super::pop::{changed_invisible_ms, ensure_group, max_attempts, now_ms, read_at, POP_CK};
use super::retry::{dlq_topic, DLQ_QUEUES};
use super::BrokerService;
use crate::error::BrokerError;
use crate::pop::{Lease, MalformedHandle, QueueLeases, ReceiptHandle, Stale};
use crate::state::State;
use crate::transaction::{edit_properties, view};

/// The revive scan runs at least this often, and sleeps at least this long between runs, whatever
/// the invisible times are, so odd clocks can neither stall nor spin it.
const REVIVE_MAX_SLEEP: Duration = Duration::from_secs(1);
const REVIVE_MIN_SLEEP: Duration = Duration::from_millis(10);

/// A property naming the topic a dead-lettered POP message came from (RocketMQ 5.x).
const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

impl BrokerService {
    /// Acks the delivery `handle` names: the message is done for the group.
    ///
    /// # Errors
    /// `BadReceiptHandle` for text that is no handle of this broker; `StaleReceiptHandle` when the
    /// message was acked, dead-lettered or delivered again since, or its invisible time changed.
    pub fn ack(&self, group: &str, topic: &str, handle: &str) -> Result<(), BrokerError> {
        let s = &*self.state;
        let (h, cell) = lookup(s, group, topic, handle)?;
        let mut q = cell.lock();
        q.finish(&h).map_err(|e| stale(e, &h))?;
        after_finish(s, group, topic, h.queue_id, &mut q);
        drop(q);
        s.pop
            .record_ended(&queue_key(group, topic, &h), &[h.offset]);
        Ok(())
    }

    /// Makes the delivery invisible for `invisible` from now on (longer or shorter). Returns the
    /// new handle; the old one is stale from now on.
    ///
    /// # Errors
    /// As [`BrokerService::ack`], and an invisible time out of range.
    pub fn change_invisible(
        &self,
        group: &str,
        topic: &str,
        handle: &str,
        invisible: Duration,
    ) -> Result<String, BrokerError> {
        let s = &*self.state;
        let invisible_ms = changed_invisible_ms(invisible)?;
        let (h, cell) = lookup(s, group, topic, handle)?;
        let mut q = cell.lock();
        let old = q.check(&h).map_err(|e| stale(e, &h))?;
        let lease = Lease {
            pop_time_ms: now_ms(),
            invisible_ms,
            token: s.pop.token(),
            announced: false,
            ..old
        };
        q.leases.insert(h.offset, lease);
        Ok(ReceiptHandle {
            pop_time_ms: lease.pop_time_ms,
            invisible_ms,
            token: lease.token,
            ..h
        }
        .to_string())
    }

    /// Moves the message of the delivery `handle` names to `%DLQ%<group>` at once (a consumer
    /// that gave up on it) and ends the delivery.
    ///
    /// # Errors
    /// As [`BrokerService::ack`], a replica, and store failures (the delivery then stays).
    pub fn forward_to_dlq(
        &self,
        group: &str,
        topic: &str,
        handle: &str,
    ) -> Result<(), BrokerError> {
        self.check_writable()?;
        let s = &*self.state;
        let (h, cell) = lookup(s, group, topic, handle)?;
        let mut q = cell.lock();
        let lease = q.check(&h).map_err(|e| stale(e, &h))?;
        if let Some(record) = read_at(s, topic, h.queue_id, h.offset)? {
            dead_letter(s, group, &record, lease.attempt)?;
        }
        q.end(h.offset);
        after_finish(s, group, topic, h.queue_id, &mut q);
        drop(q);
        s.pop
            .record_ended(&queue_key(group, topic, &h), &[h.offset]);
        Ok(())
    }

    /// One revive pass: dead-letters expired deliveries that used their last attempt, wakes pops
    /// waiting on queues where a delivery just expired, writes moved committed offsets. Returns how
    /// long to sleep before the next pass.
    pub(crate) fn revive(&self) -> Duration {
        let s = &*self.state;
        let now = now_ms();
        let mut next: Option<u64> = None;
        let mut woken = Vec::new();
        for ((group, topic, queue), cell) in s.pop.all() {
            let max = max_attempts(s, &group);
            let mut q = cell.lock();
            let mut announce = false;
            let mut ended = Vec::new();
            let expired: Vec<(u64, Lease)> = q.expired(now).filter(|(_, l)| !l.announced).collect();
            for (offset, lease) in expired {
                if lease.attempt >= max {
                    match revive_dead_letter(s, &group, &topic, queue, offset, lease) {
                        // A FIFO pop may be waiting for exactly this.
                        Ok(()) => {
                            q.end(offset);
                            ended.push(offset);
                            announce = true;
                        }
                        // Left for the next pass (or a pop) rather than retried at once.
                        Err(e) => {
                            warn!(%group, %topic, queue, offset, error = %e, "dead-lettering an exhausted POP message failed")
                        }
                    }
                } else if let Some(l) = q.leases.get_mut(&offset) {
                    l.announced = true;
                    announce = true;
                }
            }
            if let Some(offset) = q.commit_due() {
                s.offsets.commit(&group, &topic, queue, offset);
            }
            if announce {
                woken.push((topic.clone(), queue));
            }
            if let Some(at) = q.next_expiry(now) {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
            drop(q);
            s.pop.record_ended(&(group, topic, queue), &ended);
        }
        if let Err(e) = s
            .pop
            .compact_journal_if_due(|| s.offsets.persist().map_err(std::io::Error::other))
        {
            warn!(error = %e, "compacting the POP ack journal failed");
        }
        // ASYNC_FLUSH acks, and delivery records in either mode, reach the disk here: at least
        // once a second (the pass's longest sleep).
        s.pop.flush_journal();
        for (topic, queue) in woken {
            s.long_poll.notify(&topic, queue);
        }
        revive_sleep(next, now_ms())
    }
}

/// How long the revive task sleeps when the next invisible delivery expires at `next` (ms since
/// the epoch): until then, but never less than [`REVIVE_MIN_SLEEP`] (an expiry in the past is
/// handled by the pass that follows, not by spinning) nor more than [`REVIVE_MAX_SLEEP`].
fn revive_sleep(next: Option<u64>, now: u64) -> Duration {
    next.map_or(REVIVE_MAX_SLEEP, |at| {
        Duration::from_millis(at.saturating_sub(now))
    })
    .clamp(REVIVE_MIN_SLEEP, REVIVE_MAX_SLEEP)
}

fn revive_dead_letter(
    s: &State,
    group: &str,
    topic: &str,
    queue: u32,
    offset: u64,
    lease: Lease,
) -> Result<(), BrokerError> {
    match read_at(s, topic, queue, offset)? {
        Some(record) => dead_letter(s, group, &record, lease.attempt),
        None => Ok(()),
    }
}

/// Parses `text` and finds the queue it names.
fn lookup(
    s: &State,
    group: &str,
    topic: &str,
    text: &str,
) -> Result<(ReceiptHandle, Arc<Mutex<QueueLeases>>), BrokerError> {
    let h = ReceiptHandle::parse(text)?;
    if h.broker_name != s.config.broker_name {
        return Err(MalformedHandle("issued by another broker").into());
    }
    let key = (group.to_owned(), topic.to_owned(), h.queue_id);
    let cell = s
        .pop
        .existing(&key)
        .ok_or_else(|| stale(Stale::NotInFlight, &h))?;
    Ok((h, cell))
}

fn queue_key(group: &str, topic: &str, h: &ReceiptHandle) -> (String, String, u32) {
    (group.to_owned(), topic.to_owned(), h.queue_id)
}

fn stale(why: Stale, h: &ReceiptHandle) -> BrokerError {
    let what = match why {
        Stale::NotInFlight => {
            "not in flight (acked, dead-lettered, or not popped from this broker since it started)"
        }
        Stale::Superseded => {
            "delivered again or its invisible time changed since this handle was issued"
        }
    };
    BrokerError::StaleReceiptHandle(format!(
        "the message at queue {} offset {} is {what}",
        h.queue_id, h.offset
    ))
}

/// After a delivery ended: write the committed offset if it moved, and wake pops waiting on the
/// queue (a FIFO pop may be waiting for exactly this).
fn after_finish(s: &State, group: &str, topic: &str, queue: u32, q: &mut QueueLeases) {
    if let Some(offset) = q.commit_due() {
        s.offsets.commit(group, topic, queue, offset);
    }
    s.long_poll.notify(topic, queue);
}

/// Stores a copy of `record` in `%DLQ%<group>`, body and properties intact, with its delivery
/// attempts as reconsume times and where it came from.
pub(super) fn dead_letter(
    s: &State,
    group: &str,
    record: &Bytes,
    attempts: u32,
) -> Result<(), BrokerError> {
    ensure_group(s, group)?;
    let msg = view(record)?;
    let dlq = dlq_topic(group);
    s.topics.ensure_internal(&dlq, DLQ_QUEUES)?;
    let [origin, retry_topic, uniq] = properties::get_all(
        msg.properties,
        [keys::ORIGIN_MESSAGE_ID, keys::RETRY_TOPIC, keys::UNIQ_KEY],
    );
    let offset_id = offset_msg_id(msg.store_host, msg.physical_offset);
    let origin_id = origin.map_or_else(|| offset_id.clone(), str::to_owned);
    let mut set: Vec<(&str, &str)> = vec![
        (keys::ORIGIN_MESSAGE_ID, &origin_id),
        (keys::WAIT_STORE_MSG_OK, "false"),
        (DLQ_ORIGIN_TOPIC, msg.topic),
        (DLQ_ORIGIN_MESSAGE_ID, uniq.unwrap_or(&offset_id)),
    ];
    if retry_topic.is_none() {
        set.push((keys::RETRY_TOPIC, msg.topic));
    }
    let props = edit_properties(msg.properties, &[keys::DELAY_TIME_LEVEL, POP_CK], &set);
    let result = super::put_message(
        s,
        &RecordDraft {
            topic: &dlq,
            queue_id: 0,
            flag: msg.flag,
            sys_flag: msg.sys_flag,
            born_timestamp: msg.born_timestamp,
            born_host: msg.born_host,
            store_host: s.advertised,
            reconsume_times: i32::try_from(attempts).unwrap_or(i32::MAX),
            prepared_transaction_offset: msg.prepared_transaction_offset,
            body: msg.body,
            properties: &props,
        },
    )?;
    s.stats
        .add_put(&dlq, result.records.iter().map(|r| u64::from(r.size)));
    info!(dlq = %dlq, %group, topic = %msg.topic, queue_offset = msg.queue_offset, attempts, "POP message sent to the dead-letter queue");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revive_sleep_is_bounded_whatever_the_expiry() {
        let now = 1_700_000_000_000;
        for (next, expected) in [
            (None, REVIVE_MAX_SLEEP),
            (Some(0), REVIVE_MIN_SLEEP),
            (Some(now - 5_000), REVIVE_MIN_SLEEP),
            (Some(now), REVIVE_MIN_SLEEP),
            (Some(now + 250), Duration::from_millis(250)),
            (Some(u64::MAX), REVIVE_MAX_SLEEP),
        ] {
            assert_eq!(revive_sleep(next, now), expected, "{next:?}");
        }
    }
}
