//! The pull loop of one assigned queue: long-poll, hand messages to the callback in order, advance
//! the offset only after success.

use std::sync::Arc;

use ferromq_model::properties::keys;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::pull::{pull_once, PullSpec, PullStatus};
use super::push::{ConsumeStatus, Core, MessageModel};
use super::push_config::ConsumeMode;
use super::send_back::send_back;
use crate::message::MessageQueue;
use crate::message_ext::MessageExt;

/// Pulls `mq` from `offset` until `token` is cancelled, then persists the queue's offset.
pub(crate) async fn run(
    core: Arc<Core>,
    mq: MessageQueue,
    mut offset: u64,
    token: CancellationToken,
) {
    if core.config.consume_mode == ConsumeMode::Orderly {
        return super::orderly::run(core, mq, token).await;
    }
    debug!(queue = %mq, offset, "pulling");
    let clustering = core.config.message_model == MessageModel::Clustering;
    while !token.is_cancelled() {
        let Some(sub) = core.subscription(&mq.topic) else {
            break;
        };
        let commit = core.store.get(&mq).filter(|o| clustering && *o > 0);
        let spec = PullSpec {
            group: &core.config.group,
            subscription: &sub,
            max_messages: core.config.pull_batch_size,
            suspend: Some(core.config.suspend_timeout),
            commit_offset: commit,
            timeout: core.config.pull_timeout,
        };
        let result = tokio::select! {
            () = token.cancelled() => break,
            r = pull_once(&core.routes, &core.remote, &mq, offset, &spec) => r,
        };
        match result {
            Ok(r) => match r.status {
                PullStatus::Found => {
                    if !consume(&core, &r.messages, &token).await {
                        break;
                    }
                    offset = r.next_offset;
                    core.store.update(&mq, offset, true);
                }
                PullStatus::NoNewMsg | PullStatus::NoMatchedMsg => {
                    offset = r.next_offset;
                    core.store.update(&mq, offset, true);
                }
                PullStatus::OffsetIllegal => {
                    warn!(queue = %mq, offset, next = r.next_offset, "offset moved");
                    offset = r.next_offset;
                    core.store.update(&mq, offset, false);
                    if let Err(e) = core.store.persist(std::slice::from_ref(&mq)).await {
                        warn!(queue = %mq, error = %e, "persisting the corrected offset failed");
                    }
                }
            },
            Err(e) => {
                debug!(queue = %mq, error = %e, "pull failed; retrying later");
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(core.config.pull_delay_on_error) => {}
                }
            }
        }
    }
    if let Err(e) = core.store.persist(std::slice::from_ref(&mq)).await {
        warn!(queue = %mq, error = %e, "persisting the offset failed");
    }
    debug!(queue = %mq, "stopped pulling");
}

/// Runs the callback over `msgs` in batches, in order; false when stopped before finishing.
async fn consume(core: &Arc<Core>, msgs: &[MessageExt], token: &CancellationToken) -> bool {
    let msgs: Vec<MessageExt> = msgs.iter().cloned().map(restore_retry_topic).collect();
    for batch in msgs.chunks(core.config.consume_batch_max) {
        loop {
            let listener = core.listener.clone();
            let owned = batch.to_vec();
            let status = tokio::task::spawn_blocking(move || listener(owned))
                .await
                .unwrap_or_else(|e| {
                    warn!(error = %e, "consumer callback panicked; reconsuming");
                    ConsumeStatus::ReconsumeLater
                });
            if status == ConsumeStatus::ConsumeSuccess {
                break;
            }
            if core.config.message_model == MessageModel::Broadcasting {
                // Java drops failed broadcast messages: there is no retry topic to send them to.
                warn!(count = batch.len(), "broadcast batch failed; dropped");
                break;
            }
            if send_back(core, batch).await {
                break;
            }
            tokio::select! {
                () = token.cancelled() => return false,
                () = tokio::time::sleep(core.config.reconsume_delay) => {}
            }
        }
    }
    true
}

/// Messages redelivered through `%RETRY%<group>` carry their original topic in `RETRY_TOPIC`.
pub(super) fn restore_retry_topic(mut m: MessageExt) -> MessageExt {
    if m.topic.starts_with("%RETRY%") {
        if let Some(t) = m.property(keys::RETRY_TOPIC).map(str::to_owned) {
            m.topic = t;
        }
    }
    m
}
