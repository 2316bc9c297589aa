//! INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223): the offsets each online consumer of a group holds
//! for a topic, as the consumers themselves report them (mqadmin `getConsumerStatus`).
//!
//! The broker asks every consumer of the group (or only the one whose client id is given in
//! `clientAddr`) with GET_CONSUMER_STATUS_FROM_CLIENT (221) and gathers the answers by client id,
//! as Java's `Broker2Client.getConsumeStatus` does: a consumer that does not answer in time or
//! answers with an error is left out of the table rather than failing the whole request.
//!
//! GET_CONSUMER_RUNNING_INFO (307) from an admin tool (mqadmin `consumerStatus`) is relayed to the
//! one consumer it names, whose answer (its `ConsumerRunningInfo`) goes back as it is.

use std::time::Duration;

use ferromq_net::NetError;
use ferromq_remoting::body::admin::{GetConsumerStatusBody, QueueOffsets};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{
    GetConsumerRunningInfoRequestHeader, GetConsumerStatusRequestHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::state::State;

/// How long one consumer may take to answer (Java's `invokeSync(..., 5000)`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a relayed request may take (Java's `Broker2Client.callClient`).
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn consumer_status(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetConsumerStatusRequestHeader = req.decode_header()?;
    let only = h.client_addr.as_deref().filter(|c| !c.is_empty());
    let group = s
        .clients
        .consumer_group(&h.group)
        .filter(|g| !g.channels.is_empty())
        .ok_or_else(|| {
            BrokerError::Missing(format!(
                "No Any Consumer online in the consumer group: [{}]",
                h.group
            ))
        })?;
    let ask = RemotingCommand::request(RequestCode::GET_CONSUMER_STATUS_FROM_CLIENT).with_header(
        &GetConsumerStatusRequestHeader {
            topic: h.topic.clone(),
            group: h.group.clone(),
            client_addr: None,
        },
    );
    let mut reply = GetConsumerStatusBody::default();
    for channel in group.channels.values() {
        if only.is_some_and(|id| id != channel.client_id) {
            continue;
        }
        match channel
            .connection
            .request(ask.clone(), CLIENT_TIMEOUT)
            .await
        {
            Ok(answer) if answer.code == ResponseCode::SUCCESS.0 => {
                let Some(body) = answer.body.as_deref() else {
                    continue;
                };
                match GetConsumerStatusBody::from_json(body) {
                    Ok(status) => {
                        reply.consumer_table.insert(
                            channel.client_id.clone(),
                            QueueOffsets(status.message_queue_table),
                        );
                    }
                    Err(e) => {
                        debug!(group = %h.group, client = %channel.client_id, error = %e, "unreadable consumer status");
                    }
                }
            }
            Ok(answer) => {
                debug!(group = %h.group, client = %channel.client_id, code = answer.code, remark = ?answer.remark, "consumer refused its status");
            }
            Err(e) => {
                debug!(group = %h.group, client = %channel.client_id, error = %e, "consumer status not received");
            }
        }
    }
    Ok(ok(req).with_body(reply.to_json()))
}

pub(crate) async fn consumer_running_info(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetConsumerRunningInfoRequestHeader = req.decode_header()?;
    let channel = s
        .clients
        .consumer_group(&h.consumer_group)
        .and_then(|g| {
            g.channels
                .into_values()
                .find(|c| c.client_id == h.client_id)
        })
        .ok_or_else(|| {
            BrokerError::Missing(format!(
                "The Consumer <{}> <{}> not online",
                h.consumer_group, h.client_id
            ))
        })?;
    let mut relay = RemotingCommand::request(RequestCode::GET_CONSUMER_RUNNING_INFO);
    relay.ext_fields.clone_from(&req.ext_fields);
    relay.body.clone_from(&req.body);
    let who = format!("<{}> <{}>", h.consumer_group, h.client_id);
    Ok(
        match channel.connection.request(relay, RELAY_TIMEOUT).await {
            Ok(answer) => {
                let mut resp =
                    RemotingCommand::response_to(req, ResponseCode(answer.code), answer.remark);
                resp.ext_fields = answer.ext_fields;
                resp.body = answer.body;
                resp
            }
            Err(e @ NetError::Timeout { .. }) => RemotingCommand::response_to(
                req,
                ResponseCode::CONSUME_MSG_TIMEOUT,
                Some(format!("consumer {who} Timeout: {e}")),
            ),
            Err(e) => RemotingCommand::response_to(
                req,
                ResponseCode::SYSTEM_ERROR,
                Some(format!("invoke consumer {who} Exception: {e}")),
            ),
        },
    )
}
