//! The pull-and-consume task of one queue of an orderly push consumer (Java's
//! `ConsumeMessageOrderlyService` with `RebalancePushImpl`'s locking).
//!
//! Order is kept by three rules:
//! - only the client holding the queue's broker lock pulls and consumes it, and it starts from the
//!   offset the group committed, read *after* the lock was granted (so it continues exactly where
//!   the previous owner stopped);
//! - the queue's messages go to the callback one batch at a time, in queue order; a failed batch
//!   (`ReconsumeLater`, or a panic) is retried after `reconsume_delay` before anything later —
//!   Java's `SUSPEND_CURRENT_QUEUE_A_MOMENT`; nothing is sent back to the broker;
//! - when the queue moves away (rebalance, shutdown) the task finishes the batch in progress,
//!   commits the offset synchronously, and only then unlocks.
//!
//! If the lock lapses (it could not be renewed), consumption stops before the next batch; once
//! re-locked the task restarts from the committed offset, so messages after the last commit may be
//! delivered again, in order.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::locks;
use super::pull::{pull_once, PullSpec, PullStatus};
use super::push::{ConsumeStatus, Core, MessageModel};
use super::queue_loop::restore_retry_topic;
use crate::message::MessageQueue;
use crate::message_ext::MessageExt;

/// What to do after a pull.
enum Step {
    /// Pull next from this offset.
    At(u64),
    /// The lock lapsed: re-lock and re-read the committed offset.
    Relock,
}

/// How a pulled list of messages was handled.
enum Consumed {
    All,
    /// Stopped before the message at this offset (cancelled or lock lost).
    Until {
        next: u64,
        lock_lost: bool,
    },
}

/// Runs `mq` until `token` is cancelled.
pub(crate) async fn run(core: Arc<Core>, mq: MessageQueue, token: CancellationToken) {
    let mutex = core.queue_locks.task_mutex(&mq);
    let _task = tokio::select! {
        () = token.cancelled() => return,
        guard = mutex.lock_owned() => guard,
    };
    core.queue_locks.set_active(&mq, true);
    let mut position: Option<u64> = None;
    while !token.is_cancelled() {
        let offset = match position {
            Some(o) => o,
            None => match acquire(&core, &mq).await {
                Some(o) => o,
                None => {
                    if !pause(&core, &token).await {
                        break;
                    }
                    continue;
                }
            },
        };
        position = match pull_and_consume(&core, &mq, offset, &token).await {
            Step::At(next) => Some(next),
            Step::Relock => None,
        };
    }
    core.queue_locks.set_active(&mq, false);
    if let Some(offset) = position {
        release(&core, &mq, offset).await;
    }
    debug!(queue = %mq, "stopped consuming orderly");
}

/// Sleeps `pull_delay_on_error`; false when cancelled.
async fn pause(core: &Core, token: &CancellationToken) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = tokio::time::sleep(core.config.pull_delay_on_error) => true,
    }
}

/// Locks the queue on its broker and reads where the group stands; `None` to retry later.
async fn acquire(core: &Core, mq: &MessageQueue) -> Option<u64> {
    if !clustering(core) {
        return offset_to_start(core, mq).await;
    }
    match locks::lock(core, std::slice::from_ref(mq)).await {
        Ok(granted) if granted.contains(mq) => {}
        Ok(_) => {
            debug!(queue = %mq, "queue locked by another consumer; retrying");
            return None;
        }
        Err(e) => {
            debug!(queue = %mq, error = %e, "locking the queue failed; retrying");
            return None;
        }
    }
    offset_to_start(core, mq).await
}

async fn offset_to_start(core: &Core, mq: &MessageQueue) -> Option<u64> {
    match core.start_offset(mq).await {
        Ok(o) => {
            core.store.update(mq, o, false);
            debug!(queue = %mq, offset = o, "consuming orderly");
            Some(o)
        }
        Err(e) => {
            warn!(queue = %mq, error = %e, "cannot compute the start offset; retrying");
            None
        }
    }
}

/// One pull and its consumption.
async fn pull_and_consume(
    core: &Arc<Core>,
    mq: &MessageQueue,
    offset: u64,
    token: &CancellationToken,
) -> Step {
    let Some(sub) = core.subscription(&mq.topic) else {
        token.cancel();
        return Step::At(offset);
    };
    let spec = PullSpec {
        group: &core.config.group,
        subscription: &sub,
        max_messages: core.config.pull_batch_size,
        suspend: Some(core.config.suspend_timeout),
        commit_offset: core.store.get(mq).filter(|o| *o > 0),
        timeout: core.config.pull_timeout,
    };
    let result = tokio::select! {
        () = token.cancelled() => return Step::At(offset),
        r = pull_once(&core.routes, &core.remote, mq, offset, &spec) => r,
    };
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            debug!(queue = %mq, error = %e, "pull failed; retrying later");
            pause(core, token).await;
            return Step::At(offset);
        }
    };
    match r.status {
        PullStatus::Found => match consume(core, mq, &r.messages, token).await {
            Consumed::All => {
                core.store.update(mq, r.next_offset, false);
                Step::At(r.next_offset)
            }
            Consumed::Until {
                lock_lost: true, ..
            } => Step::Relock,
            Consumed::Until { next, .. } => Step::At(next),
        },
        PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
            core.store.update(mq, r.next_offset, false);
            Step::At(r.next_offset)
        }
        PullStatus::OffsetIllegal => {
            warn!(queue = %mq, offset, next = r.next_offset, "offset moved");
            core.store.update(mq, r.next_offset, false);
            Step::At(r.next_offset)
        }
    }
}

/// Hands `msgs` to the callback a batch at a time, committing (in memory) after each batch.
async fn consume(
    core: &Arc<Core>,
    mq: &MessageQueue,
    msgs: &[MessageExt],
    token: &CancellationToken,
) -> Consumed {
    let msgs: Vec<MessageExt> = msgs.iter().cloned().map(restore_retry_topic).collect();
    for batch in msgs.chunks(core.config.consume_batch_max) {
        let first = batch.first().map_or(0, |m| m.queue_offset);
        loop {
            if token.is_cancelled() {
                return Consumed::Until {
                    next: first,
                    lock_lost: false,
                };
            }
            if !still_locked(core, mq).await {
                return Consumed::Until {
                    next: first,
                    lock_lost: true,
                };
            }
            let listener = core.listener.clone();
            let owned = batch.to_vec();
            let status = tokio::task::spawn_blocking(move || listener(owned))
                .await
                .unwrap_or_else(|e| {
                    warn!(error = %e, "consumer callback panicked; suspending the queue");
                    ConsumeStatus::ReconsumeLater
                });
            if status == ConsumeStatus::ConsumeSuccess {
                let last = batch.last().map_or(first, |m| m.queue_offset);
                core.store.update(mq, last + 1, false);
                break;
            }
            debug!(queue = %mq, offset = first, "batch suspended; consuming it again shortly");
            tokio::select! {
                () = token.cancelled() => {}
                () = tokio::time::sleep(core.config.reconsume_delay) => {}
            }
        }
    }
    Consumed::All
}

/// True when the local lock view is fresh, renewing it on the spot when it is not.
async fn still_locked(core: &Core, mq: &MessageQueue) -> bool {
    if !clustering(core) || core.queue_locks.is_held(mq, Instant::now()) {
        return true;
    }
    matches!(locks::lock(core, std::slice::from_ref(mq)).await, Ok(g) if g.contains(mq))
}

/// Commits the queue's offset synchronously, then unlocks it: the next owner reads the offset only
/// after it gets the lock, so it continues exactly here.
async fn release(core: &Core, mq: &MessageQueue, offset: u64) {
    if !clustering(core) {
        if let Err(e) = core.store.persist(std::slice::from_ref(mq)).await {
            warn!(queue = %mq, error = %e, "persisting the offset failed");
        }
        return;
    }
    let offset = core.store.get(mq).unwrap_or(offset);
    if let Err(e) = core.offsets.commit(&core.config.group, mq, offset).await {
        warn!(queue = %mq, error = %e, "committing the offset before unlocking failed");
    }
    if let Err(e) = locks::unlock(core, std::slice::from_ref(mq)).await {
        debug!(queue = %mq, error = %e, "unlocking failed; the broker lock will expire");
    }
}

/// Broadcasting consumers each read every queue: nothing to lock (as in Java).
fn clustering(core: &Core) -> bool {
    core.config.message_model == MessageModel::Clustering
}
