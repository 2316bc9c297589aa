//! Queue locks for orderly consumers (`LOCK_BATCH_MQ` / `UNLOCK_BATCH_MQ`): per consumer group, at
//! most one client owns a queue, so only that client pulls and consumes it and a key's messages are
//! handled in send order.
//!
//! A lock lives `lock_max_live` after its last renewal (clients renew every 20 s, Java's default
//! lifetime is 60 s). An expired lock is free for anyone of the group; the owner itself simply
//! renews it. A lock is also released when the connection it was taken or last renewed on closes,
//! so a crashed consumer's queues move on at the next rebalance instead of after the lifetime.

use std::collections::HashMap;
use std::time::Duration;

use ferromq_net::ConnectionId;
use ferromq_remoting::body::lock::MessageQueue;
use parking_lot::Mutex;
use tokio::time::Instant;
use tracing::debug;

/// Who holds one queue; `C` names the connection the lock came on.
#[derive(Debug, Clone)]
struct Holder<C> {
    client_id: String,
    connection: C,
    renewed: Instant,
}

/// Group → queue → holder. Generic over the connection key so the rules can be tested alone.
#[derive(Debug)]
pub struct QueueLocks<C = ConnectionId> {
    max_live: Duration,
    table: Mutex<HashMap<String, HashMap<MessageQueue, Holder<C>>>>,
}

impl<C: Copy + Eq> QueueLocks<C> {
    #[must_use]
    pub fn new(max_live: Duration) -> Self {
        Self {
            max_live,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Locks (or renews) each queue of `queues` for `client_id` where no other live holder has it;
    /// returns the queues `client_id` holds afterwards, in request order (duplicates removed).
    pub fn try_lock(
        &self,
        group: &str,
        client_id: &str,
        connection: C,
        queues: &[MessageQueue],
        now: Instant,
    ) -> Vec<MessageQueue> {
        let mut table = self.table.lock();
        let held = table.entry(group.to_owned()).or_default();
        let mut granted: Vec<MessageQueue> = Vec::with_capacity(queues.len());
        for mq in queues {
            if granted.contains(mq) {
                continue;
            }
            let free = held.get(mq).is_none_or(|h| {
                h.client_id == client_id || now.saturating_duration_since(h.renewed) > self.max_live
            });
            if free {
                if let Some(prev) = held.get(mq).filter(|h| h.client_id != client_id) {
                    debug!(%group, queue = ?mq, from = %prev.client_id, to = %client_id, "expired queue lock taken over");
                }
                held.insert(
                    mq.clone(),
                    Holder {
                        client_id: client_id.to_owned(),
                        connection,
                        renewed: now,
                    },
                );
                granted.push(mq.clone());
            } else {
                debug!(%group, queue = ?mq, client = %client_id, "queue locked by another client");
            }
        }
        granted
    }

    /// Releases the queues of `queues` that `client_id` holds; others' locks are left alone.
    pub fn unlock(&self, group: &str, client_id: &str, queues: &[MessageQueue]) {
        let mut table = self.table.lock();
        let Some(held) = table.get_mut(group) else {
            return;
        };
        for mq in queues {
            if held.get(mq).is_some_and(|h| h.client_id == client_id) {
                held.remove(mq);
            }
        }
        if held.is_empty() {
            table.remove(group);
        }
    }

    /// Releases every lock taken or last renewed on `connection` (it closed).
    pub fn release_connection(&self, connection: C) {
        let mut table = self.table.lock();
        table.retain(|group, held| {
            held.retain(|mq, h| {
                let keep = h.connection != connection;
                if !keep {
                    debug!(%group, queue = ?mq, client = %h.client_id, "queue lock released: connection closed");
                }
                keep
            });
            !held.is_empty()
        });
    }

    /// The live holder of a queue, if any.
    #[must_use]
    pub fn holder(&self, group: &str, mq: &MessageQueue, now: Instant) -> Option<String> {
        self.table
            .lock()
            .get(group)
            .and_then(|held| held.get(mq))
            .filter(|h| now.saturating_duration_since(h.renewed) <= self.max_live)
            .map(|h| h.client_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(id: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".into(),
            queue_id: id,
            topic: "T".into(),
        }
    }

    #[test]
    fn one_owner_per_queue_renewal_and_expiry() {
        let locks = QueueLocks::new(Duration::from_secs(60));
        let (c1, c2) = (1_u32, 2_u32);
        let t0 = Instant::now();
        let got = locks.try_lock("g", "a", c1, &[mq(0), mq(1), mq(0)], t0);
        assert_eq!(got, [mq(0), mq(1)]);
        // Another client gets only the free queue.
        let got = locks.try_lock("g", "b", c2, &[mq(1), mq(2)], t0);
        assert_eq!(got, [mq(2)]);
        // Another group is independent.
        assert_eq!(locks.try_lock("h", "b", c2, &[mq(1)], t0), [mq(1)]);
        // The owner renews at 50 s; at 100 s the lock is 50 s old, still held.
        let t50 = t0 + Duration::from_secs(50);
        assert_eq!(locks.try_lock("g", "a", c1, &[mq(0)], t50), [mq(0)]);
        let t100 = t0 + Duration::from_secs(100);
        assert!(locks.try_lock("g", "b", c2, &[mq(0)], t100).is_empty());
        // Queue 1 was not renewed: expired, taken over.
        assert_eq!(locks.try_lock("g", "b", c2, &[mq(1)], t100), [mq(1)]);
        assert_eq!(locks.holder("g", &mq(1), t100).as_deref(), Some("b"));
        // Exactly at the lifetime the lock still holds (Java: expired when older than max).
        let t110 = t50 + Duration::from_secs(60);
        assert!(locks.try_lock("g", "b", c2, &[mq(0)], t110).is_empty());
        assert_eq!(
            locks.holder("g", &mq(0), t110 + Duration::from_millis(1)),
            None
        );
    }

    #[test]
    fn unlock_only_own_and_release_by_connection() {
        let locks = QueueLocks::new(Duration::from_secs(60));
        let (c1, c2) = (1_u32, 2_u32);
        let now = Instant::now();
        locks.try_lock("g", "a", c1, &[mq(0), mq(1)], now);
        locks.try_lock("g", "b", c2, &[mq(2)], now);
        locks.unlock("g", "b", &[mq(0), mq(2)]);
        assert_eq!(locks.holder("g", &mq(0), now).as_deref(), Some("a"));
        assert_eq!(locks.holder("g", &mq(2), now), None);
        locks.release_connection(c1);
        assert_eq!(locks.holder("g", &mq(0), now), None);
        assert_eq!(locks.try_lock("g", "b", c2, &[mq(0), mq(1)], now).len(), 2);
    }
}
