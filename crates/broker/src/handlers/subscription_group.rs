//! Consumer group settings: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207) and
//! GET_SUBSCRIPTIONGROUP_CONFIG (352).

use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{
    DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader,
};
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::service::BrokerService;
use crate::state::State;

pub(crate) fn create_group(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let body = req
        .body
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            BrokerError::BadBody("the SubscriptionGroupConfig body is missing".into())
        })?;
    let config = SubscriptionGroupConfig::from_json(body)
        .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    service.create_group(config)?;
    Ok(ok(req))
}

pub(crate) fn all_groups(s: &State, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(s.subscriptions.all().to_json()))
}

pub(crate) fn group(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: GetSubscriptionGroupConfigRequestHeader = req.decode_header()?;
    Ok(ok(req).with_body(service.group(&h.group)?.to_json()))
}

/// Java answers success whether or not the group existed; so do we.
pub(crate) fn delete_group(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: DeleteSubscriptionGroupRequestHeader = req.decode_header()?;
    service.delete_group(&h.group_name, h.clean_offset)?;
    Ok(ok(req))
}
