//! SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325): a responder's reply in request-reply
//! messaging. The broker pushes the reply to the requesting client (PUSH_REPLY_MESSAGE_TO_CLIENT,
//! 326), found by the reply's `REPLY_TO_CLIENT` property among the producer connections, then
//! stores it in its topic (`<cluster>_REPLY_TOPIC`) like a send, as Java's broker does with
//! `storeReplyMessageEnable` (its default). The answer is the push's outcome.

use std::borrow::Cow;
use std::time::Duration;

use ferromq_model::properties::{self, keys};
use ferromq_net::RequestContext;
use ferromq_remoting::headers::send::{
    ReplyMessageRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::{debug, warn};

use super::Reply;
use crate::service::{BrokerService, SendMessages, SendRequest};
use crate::state::State;
use crate::topics::now_ms;

/// How long the requesting client has to take the pushed reply (Java: 3 s).
const PUSH_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) async fn send_reply(
    service: &BrokerService,
    s: &State,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Reply {
    let h = SendMessageRequestHeader::decode_for(req.request_code(), &req.ext_fields)?;
    let body = req.body.clone().unwrap_or_default();
    let props = h.properties.as_deref().unwrap_or("");
    let pushed = push(s, ctx, &h, props, &body).await;
    let stored = service
        .send(SendRequest {
            topic: h.topic.clone(),
            // The reply topic has one queue; the responder may have picked one of a template's.
            queue_id: None,
            default_topic: &h.default_topic,
            default_topic_queue_nums: h.default_topic_queue_nums,
            flag: h.flag,
            sys_flag: h.sys_flag,
            born_timestamp: h.born_timestamp,
            born_host: ctx.peer_addr(),
            reconsume_times: h.reconsume_times.unwrap_or(0),
            max_reconsume_times: None,
            messages: SendMessages::One {
                properties: Cow::Borrowed(props),
                body: &body,
            },
        })
        .await;
    let header = match &stored {
        Ok(receipt) => SendMessageResponseHeader {
            msg_id: receipt.msg_ids.join(","),
            queue_id: i32::try_from(receipt.queue_id).unwrap_or(i32::MAX),
            queue_offset: i64::try_from(receipt.queue_offset).unwrap_or(i64::MAX),
            ..SendMessageResponseHeader::default()
        },
        Err(e) => {
            warn!(topic = %h.topic, error = %e, "reply not stored");
            SendMessageResponseHeader::default()
        }
    };
    let (code, remark) = match pushed {
        Ok(()) => (ResponseCode::SUCCESS, None),
        Err(why) => (ResponseCode::SYSTEM_ERROR, Some(why)),
    };
    Ok(RemotingCommand::response_to(req, code, remark).with_header(&header))
}

/// Pushes the reply to the client its `REPLY_TO_CLIENT` names; the error is the remark for the
/// responder.
async fn push(
    s: &State,
    ctx: &RequestContext,
    h: &SendMessageRequestHeader,
    props: &str,
    body: &bytes::Bytes,
) -> Result<(), String> {
    let Some(client_id) = properties::get(props, keys::REPLY_TO_CLIENT) else {
        return Err("push reply message fail, the message has no REPLY_TO_CLIENT".into());
    };
    let Some(channel) = s.clients.producer_by_client_id(client_id) else {
        return Err(format!(
            "push reply message fail, channel of <{client_id}> not found."
        ));
    };
    let now = now_ms().to_string();
    let mut pushed_props = properties::iter(props)
        .filter(|(k, _)| *k != keys::PUSH_REPLY_TIME)
        .collect::<Vec<_>>();
    pushed_props.push((keys::PUSH_REPLY_TIME, &now));
    let header = ReplyMessageRequestHeader {
        producer_group: h.producer_group.clone(),
        topic: h.topic.clone(),
        default_topic: h.default_topic.clone(),
        default_topic_queue_nums: h.default_topic_queue_nums,
        queue_id: h.queue_id,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        flag: h.flag,
        properties: Some(properties::encode(pushed_props)),
        reconsume_times: h.reconsume_times,
        unit_mode: h.unit_mode,
        born_host: ctx.peer_addr().to_string(),
        store_host: s.advertised.to_string(),
        store_timestamp: now_ms(),
    };
    let cmd = RemotingCommand::request(RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT)
        .with_header(&header)
        .with_body(body.clone());
    match channel.connection.request(cmd, PUSH_TIMEOUT).await {
        Ok(resp) if resp.response_code() == ResponseCode::SUCCESS => {
            debug!(client = %client_id, "reply pushed");
            Ok(())
        }
        Ok(resp) => Err(format!(
            "push reply message to {client_id} fail: {:?} {}",
            resp.response_code(),
            resp.remark.unwrap_or_default()
        )),
        Err(e) => Err(format!("push reply message to {client_id} fail: {e}")),
    }
}
