//! Retry of a failed message (concurrent consumption): CONSUMER_SEND_MSG_BACK to the broker that
//! holds it, which stores a delayed copy in `%RETRY%<group>` (or `%DLQ%<group>` once the reconsume
//! times reach the maximum). When the broker refuses, the message is re-sent to the retry topic
//! directly with its reconsume count in the header, as Java's consumer does through its inner
//! producer; the broker applies the same dead-letter rule to it.

use ferromq_model::properties::{self, keys};
use ferromq_remoting::headers::send::{
    ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader, SendMessageRequestHeaderV2,
};
use ferromq_remoting::{RemotingCommand, RequestCode};
use tracing::debug;

use super::push::Core;
use crate::consumer::retry_topic;
use crate::heartbeat::CLIENT_INNER_PRODUCER;
use crate::ids::now_ms;
use crate::message_ext::MessageExt;
use crate::routes::DEFAULT_TOPIC;

/// Hands every message of a failed batch back for a later retry; true when all were accepted
/// (otherwise the caller redelivers the batch locally).
pub(crate) async fn send_back(core: &Core, batch: &[MessageExt]) -> bool {
    for m in batch {
        if !send_back_one(core, m).await && !resend_to_retry_topic(core, m).await {
            return false;
        }
    }
    true
}

async fn send_back_one(core: &Core, m: &MessageExt) -> bool {
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
            max_reconsume_times: Some(core.config.max_reconsume_times),
            broker_name: Some(m.broker_name.clone()),
        },
    );
    match core
        .remote
        .call_ok(&addr, cmd, core.config.request_timeout)
        .await
    {
        Ok(_) => true,
        Err(e) => {
            debug!(msg_id = %m.msg_id, error = %e, "send-back refused; re-sending to the retry topic");
            false
        }
    }
}

/// The fallback: a plain send of a copy to `%RETRY%<group>` on the message's broker.
async fn resend_to_retry_topic(core: &Core, m: &MessageExt) -> bool {
    let Some(addr) = core.routes.master_addr(&m.broker_name) else {
        return false;
    };
    let group = &core.config.group;
    let topic = retry_topic(group);
    let origin = m
        .property(keys::ORIGIN_MESSAGE_ID)
        .unwrap_or(&m.msg_id)
        .to_owned();
    let delay = (3 + m.reconsume_times).to_string();
    let props = properties::encode(
        m.properties
            .iter()
            .filter(|(k, _)| {
                ![
                    keys::TRANSACTION_PREPARED,
                    keys::DELAY_TIME_LEVEL,
                    keys::ORIGIN_MESSAGE_ID,
                    keys::RETRY_TOPIC,
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([
                (keys::ORIGIN_MESSAGE_ID, origin.as_str()),
                (keys::RETRY_TOPIC, m.topic.as_str()),
                (keys::DELAY_TIME_LEVEL, delay.as_str()),
            ]),
    );
    let header = SendMessageRequestHeaderV2(SendMessageRequestHeader {
        producer_group: CLIENT_INNER_PRODUCER.to_owned(),
        topic,
        default_topic: DEFAULT_TOPIC.to_owned(),
        default_topic_queue_nums: 4,
        queue_id: -1,
        sys_flag: 0,
        born_timestamp: now_ms(),
        flag: m.flag,
        properties: Some(props),
        reconsume_times: Some(m.reconsume_times + 1),
        unit_mode: Some(false),
        batch: Some(false),
        max_reconsume_times: Some(core.config.max_reconsume_times),
        broker_name: Some(m.broker_name.clone()),
    });
    let mut cmd = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2).with_header(&header);
    cmd.body = Some(m.body.clone());
    match core
        .remote
        .call_ok(&addr, cmd, core.config.request_timeout)
        .await
    {
        Ok(_) => true,
        Err(e) => {
            debug!(msg_id = %m.msg_id, error = %e, "re-send to the retry topic failed; redelivering locally");
            false
        }
    }
}
