//! The orderly consumer's view of its queue locks, and the LOCK_BATCH_MQ / UNLOCK_BATCH_MQ requests
//! that take, renew and release them on the brokers.
//!
//! Each queue has a local mutex that its pull-and-consume task holds for its whole life, so a task
//! started for a queue that comes back to this consumer waits until the previous one has committed
//! and unlocked. A broker lock is trusted locally for `lock_max_live` after it was last granted
//! (Java's client: 30 s); the broker keeps it 60 s, so the local view expires first and a consumer
//! never consumes under a lock the broker may already have handed to someone else.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ferromq_remoting::body::lock::{LockBatchRequestBody, LockBatchResponseBody};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::{RemotingCommand, RequestCode};
use parking_lot::Mutex;
use tokio::time::Instant;
use tracing::debug;

use super::push::Core;
use crate::error::ClientError;
use crate::message::MessageQueue;
use crate::remote;

#[derive(Debug, Default)]
struct Entry {
    /// Held by the queue's task while it runs.
    task: Arc<tokio::sync::Mutex<()>>,
    /// When the broker last granted the lock; `None` when not held.
    granted: Option<Instant>,
    /// A task is running for the queue (its lock is renewed periodically).
    active: bool,
}

/// Queue → local lock state.
#[derive(Debug)]
pub(crate) struct QueueLocks {
    max_live: Duration,
    queues: Mutex<HashMap<MessageQueue, Entry>>,
}

impl QueueLocks {
    pub(crate) fn new(max_live: Duration) -> Self {
        Self {
            max_live,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// The mutex a queue's task holds while it pulls and consumes.
    pub(crate) fn task_mutex(&self, mq: &MessageQueue) -> Arc<tokio::sync::Mutex<()>> {
        self.queues
            .lock()
            .entry(mq.clone())
            .or_default()
            .task
            .clone()
    }

    pub(crate) fn set_active(&self, mq: &MessageQueue, active: bool) {
        let mut queues = self.queues.lock();
        let e = queues.entry(mq.clone()).or_default();
        e.active = active;
        if !active {
            e.granted = None;
        }
    }

    /// Queues with a running task, by broker name.
    fn active_by_broker(&self) -> BTreeMap<String, Vec<MessageQueue>> {
        let mut out: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
        for (mq, e) in self.queues.lock().iter() {
            if e.active {
                out.entry(mq.broker_name.clone())
                    .or_default()
                    .push(mq.clone());
            }
        }
        out
    }

    /// True while the broker's last grant is younger than the local lifetime.
    pub(crate) fn is_held(&self, mq: &MessageQueue, now: Instant) -> bool {
        self.queues
            .lock()
            .get(mq)
            .and_then(|e| e.granted)
            .is_some_and(|t| now.saturating_duration_since(t) < self.max_live)
    }

    /// Records a broker's answer: `granted` are held from `now`, the rest of `asked` are not.
    fn record(&self, asked: &[MessageQueue], granted: &[MessageQueue], now: Instant) {
        let mut queues = self.queues.lock();
        for mq in asked {
            let e = queues.entry(mq.clone()).or_default();
            if granted.contains(mq) {
                e.granted = Some(now);
            } else {
                if e.granted.is_some() {
                    debug!(queue = %mq, "queue lock lost");
                }
                e.granted = None;
            }
        }
    }
}

fn request(core: &Core, code: RequestCode, mqs: &[MessageQueue]) -> RemotingCommand {
    let body = LockBatchRequestBody {
        client_id: core.client_id.clone(),
        consumer_group: core.config.group.clone(),
        mq_set: mqs.iter().map(MessageQueue::to_wire).collect(),
        only_this_broker: false,
    };
    RemotingCommand::request(code).with_body(body.to_json())
}

/// LOCK_BATCH_MQ for queues of one broker; returns the granted ones and records the answer.
pub(crate) async fn lock(
    core: &Core,
    mqs: &[MessageQueue],
) -> Result<Vec<MessageQueue>, ClientError> {
    let Some(first) = mqs.first() else {
        return Ok(Vec::new());
    };
    let addr = core
        .routes
        .find_master(&first.broker_name, &first.topic)
        .await?;
    let cmd = request(core, RequestCode::LOCK_BATCH_MQ, mqs);
    let resp = core
        .remote
        .call_ok(&addr, cmd, core.config.request_timeout)
        .await?;
    let body: LockBatchResponseBody = remote::json_body(&addr, &resp)?;
    let granted: Vec<MessageQueue> = body
        .lock_ok_mq_set
        .iter()
        .filter_map(MessageQueue::from_wire)
        .filter(|q| mqs.contains(q))
        .collect();
    core.queue_locks.record(mqs, &granted, Instant::now());
    Ok(granted)
}

/// UNLOCK_BATCH_MQ for queues of one broker.
pub(crate) async fn unlock(core: &Core, mqs: &[MessageQueue]) -> Result<(), ClientError> {
    let Some(first) = mqs.first() else {
        return Ok(());
    };
    let addr = core
        .routes
        .find_master(&first.broker_name, &first.topic)
        .await?;
    core.queue_locks.record(mqs, &[], Instant::now());
    let cmd = request(core, RequestCode::UNLOCK_BATCH_MQ, mqs);
    core.remote
        .call_ok(&addr, cmd, core.config.request_timeout)
        .await
        .map(drop)
}

/// Renews the locks of every queue with a running task (Java's `lockAll`), one request per broker.
pub(crate) async fn renew_all(core: &Core) {
    for (broker, mqs) in core.queue_locks.active_by_broker() {
        match lock(core, &mqs).await {
            Ok(granted) if granted.len() < mqs.len() => {
                debug!(%broker, asked = mqs.len(), granted = granted.len(), "some queue locks not renewed");
            }
            Ok(_) => {}
            Err(e) => debug!(%broker, error = %e, "renewing queue locks failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_is_trusted_for_the_local_lifetime_only() {
        let locks = QueueLocks::new(Duration::from_secs(30));
        let (q0, q1) = (
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "b", 1),
        );
        let t0 = Instant::now();
        locks.record(&[q0.clone(), q1.clone()], std::slice::from_ref(&q0), t0);
        assert!(locks.is_held(&q0, t0 + Duration::from_secs(29)));
        assert!(!locks.is_held(&q0, t0 + Duration::from_secs(30)));
        assert!(!locks.is_held(&q1, t0));
        // A later answer without the queue drops it at once.
        locks.record(std::slice::from_ref(&q0), &[], t0);
        assert!(!locks.is_held(&q0, t0));
        // Only queues with a running task are renewed.
        locks.set_active(&q1, true);
        let active = locks.active_by_broker();
        assert_eq!(active.get("b").map(Vec::as_slice), Some(&[q1][..]));
    }
}
