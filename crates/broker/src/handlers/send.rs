//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320): the header and body
//! become a [`SendRequest`]; what sending means is in `crate::service`.

use std::borrow::Cow;

use ferromq_net::RequestContext;
use ferromq_remoting::body::batch;
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageResponseHeader};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use super::Reply;
use crate::error::BrokerError;
use crate::service::{BatchEntry, BrokerService, SendMessages, SendRequest};
use crate::state::State;

pub(crate) async fn send(
    service: &BrokerService,
    s: &State,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Reply {
    let code = req.request_code();
    let h = SendMessageRequestHeader::decode_for(code, &req.ext_fields)?;
    let body = req.body.as_deref().unwrap_or_default();
    let properties = h.properties.as_deref().unwrap_or("");
    let messages = if h.is_batch() || code == RequestCode::SEND_BATCH_MESSAGE {
        let entries = batch::decode(body)
            .map_err(|e| BrokerError::MessageIllegal(format!("bad batch: {e}")))?
            .into_iter()
            .map(|m| BatchEntry {
                flag: m.flag,
                properties: m.properties,
                body: m.body,
            })
            .collect();
        SendMessages::Batch {
            properties: Cow::Borrowed(properties),
            entries,
        }
    } else {
        SendMessages::One {
            properties: Cow::Borrowed(properties),
            body,
        }
    };
    let receipt = service
        .send(SendRequest {
            topic: h.topic,
            queue_id: u32::try_from(h.queue_id).ok(),
            default_topic: &h.default_topic,
            default_topic_queue_nums: h.default_topic_queue_nums,
            flag: h.flag,
            sys_flag: h.sys_flag,
            born_timestamp: h.born_timestamp,
            born_host: ctx.peer_addr(),
            reconsume_times: h.reconsume_times.unwrap_or(0),
            max_reconsume_times: h.max_reconsume_times,
            messages,
        })
        .await?;
    let mut response = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_header(
        &SendMessageResponseHeader {
            msg_id: receipt.msg_ids.join(","),
            queue_id: i32::try_from(receipt.queue_id).unwrap_or(i32::MAX),
            queue_offset: i64::try_from(receipt.queue_offset).unwrap_or(i64::MAX),
            transaction_id: receipt.transaction_id,
            recall_handle: receipt.recall_handle,
            msg_region: s.config.region_id.clone(),
            trace_on: s.config.trace_on,
            ..SendMessageResponseHeader::default()
        },
    );
    // Stored but not yet as durable as promised: the header still says where it went.
    if let Err(err) = receipt.durable {
        response.code = crate::responses::code_of(&err).0;
        response.remark = Some(err.to_string());
    }
    Ok(response)
}
