//! The pull loop of one assigned queue: long-poll, hand messages to the callback in order, advance
//! the offset only after success.

use std::sync::Arc;

use ferromq_model::properties::keys;
use ferromq_remoting::headers::send::ConsumerSendMsgBackRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::pull::{pull_once, PullSpec, PullStatus};
use super::push::{ConsumeStatus, Core, MessageModel};
use crate::message::MessageQueue;
use crate::message_ext::MessageExt;

/// Java's default `maxReconsumeTimes` for concurrent consumers.
const MAX_RECONSUME_TIMES: i32 = 16;

/// Pulls `mq` from `offset` until `token` is cancelled, then persists the queue's offset.
pub(crate) async fn run(
    core: Arc<Core>,
    mq: MessageQueue,
    mut offset: u64,
    token: CancellationToken,
) {
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
fn restore_retry_topic(mut m: MessageExt) -> MessageExt {
    if m.topic.starts_with("%RETRY%") {
        if let Some(t) = m.property(keys::RETRY_TOPIC).map(str::to_owned) {
            m.topic = t;
        }
    }
    m
}

/// The retry hook: CONSUMER_SEND_MSG_BACK for each message of a failed batch, so the broker
/// redelivers it later through the retry topic. True when every message was accepted; otherwise
/// the caller redelivers the batch locally (the Java client would re-send it to the retry topic
/// through its inner producer first; not implemented yet).
async fn send_back(core: &Core, batch: &[MessageExt]) -> bool {
    for m in batch {
        let Some(addr) = core.routes.master_addr(&m.broker_name) else {
            return false;
        };
        let cmd = RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK).with_header(
            &ConsumerSendMsgBackRequestHeader {
                offset: i64::try_from(m.commit_log_offset).unwrap_or(i64::MAX),
                group: core.config.group.clone(),
                delay_level: 0,
                origin_msg_id: Some(m.msg_id.clone()),
                origin_topic: Some(m.topic.clone()),
                unit_mode: false,
                max_reconsume_times: Some(MAX_RECONSUME_TIMES),
                broker_name: Some(m.broker_name.clone()),
            },
        );
        if let Err(e) = core
            .remote
            .call_ok(&addr, cmd, core.config.request_timeout)
            .await
        {
            debug!(msg_id = %m.msg_id, error = %e, "send-back refused; redelivering locally");
            return false;
        }
    }
    true
}
