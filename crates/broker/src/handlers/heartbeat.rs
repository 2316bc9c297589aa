//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38),
//! CHECK_CLIENT_CONFIG (46).

use std::sync::Arc;

use ferromq_net::RequestContext;
use ferromq_remoting::body::admin::CheckClientRequestBody;
use ferromq_remoting::body::heartbeat::{
    ConsumerData, ConsumerListByGroupResponseBody, HeartbeatData,
};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::heartbeat::{
    GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader,
};
use ferromq_remoting::RemotingCommand;
use tokio::time::Instant;

use super::{ok, Reply};
use crate::clients::ClientChannel;
use crate::error::BrokerError;
use crate::filter::{FilterOwner, MessageFilter};
use crate::names;
use crate::state::State;

fn body<'a>(req: &'a RemotingCommand, what: &str) -> Result<&'a [u8], BrokerError> {
    req.body
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| BrokerError::BadBody(format!("{what} body is missing")))
}

pub(crate) fn heartbeat(s: &Arc<State>, ctx: &RequestContext, req: &RemotingCommand) -> Reply {
    let data = HeartbeatData::from_json(body(req, "heartbeat")?)
        .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    let channel = ClientChannel {
        client_id: data.client_id.clone(),
        connection: ctx.connection().clone(),
        language: req.language,
        version: req.version,
        last_seen: Instant::now(),
    };
    let mut notify = Vec::new();
    // A consumer whose subscription does not compile is not registered (its pulls would all fail);
    // the others in the same heartbeat are, and the answer names the first bad expression.
    let mut refused = None;
    for consumer in &data.consumer_data_set {
        names::validate_group(&consumer.group_name)?;
        if !data.without_sub {
            if let Err(e) = check_filters(s, consumer) {
                refused.get_or_insert(e);
                continue;
            }
        }
        s.topics.ensure_retry(&consumer.group_name)?;
        if s.live.auto_create_subscription_group() {
            s.subscriptions.ensure(&consumer.group_name)?;
        }
        if s.clients
            .register_consumer(channel.clone(), consumer, data.without_sub)
        {
            notify.push(consumer.group_name.clone());
        }
    }
    for producer in &data.producer_data_set {
        s.clients
            .register_producer(&producer.group_name, channel.clone());
    }
    s.notify_groups(notify);
    match refused {
        Some(e) => Err(e),
        None => Ok(ok(req)),
    }
}

/// Compiles (and caches) every subscription expression of a consumer.
fn check_filters(s: &State, consumer: &ConsumerData) -> Result<(), BrokerError> {
    for sub in &consumer.subscription_data_set {
        MessageFilter::from_data(sub, &consumer.group_name, &s.filters)?;
    }
    Ok(())
}

pub(crate) fn unregister_client(s: &Arc<State>, req: &RemotingCommand) -> Reply {
    let h: UnregisterClientRequestHeader = req.decode_header()?;
    if let Some(group) = &h.producer_group {
        s.clients.unregister_producer(group, &h.client_id);
    }
    if let Some(group) = &h.consumer_group {
        if s.clients.unregister_consumer(group, &h.client_id) {
            s.notify_groups(vec![group.clone()]);
        }
    }
    Ok(ok(req))
}

pub(crate) fn consumer_list(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetConsumerListByGroupRequestHeader = req.decode_header()?;
    let ids = s.clients.consumer_ids(&h.consumer_group);
    if ids.is_empty() {
        return Err(BrokerError::NoConsumer(h.consumer_group));
    }
    Ok(ok(req).with_body(
        ConsumerListByGroupResponseBody {
            consumer_id_list: ids,
        }
        .to_json(),
    ))
}

/// Clients ask this before starting a consumer with an SQL92 subscription: SUCCESS when the
/// expression compiles, SUBSCRIPTION_PARSE_FAILED with the position of the problem otherwise.
pub(crate) fn check_client_config(s: &State, req: &RemotingCommand) -> Reply {
    let b = CheckClientRequestBody::from_json(body(req, "check client config")?)
        .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    let sub = &b.subscription_data;
    let owner = FilterOwner {
        group: &b.group,
        topic: &sub.topic,
    };
    MessageFilter::parse(
        Some(&sub.sub_string),
        Some(b.expression_type()),
        owner,
        &s.filters,
    )?;
    Ok(ok(req))
}
