//! Consumer group settings: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207) and
//! GET_SUBSCRIPTIONGROUP_CONFIG (352).

use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{
    DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader,
};
use ferromq_remoting::RemotingCommand;
use tracing::info;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::names;
use crate::state::State;

pub(crate) fn create_group(s: &State, req: &RemotingCommand) -> Reply {
    let body = req
        .body
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            BrokerError::BadBody("the SubscriptionGroupConfig body is missing".into())
        })?;
    let config = SubscriptionGroupConfig::from_json(body)
        .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    names::validate_group(&config.group_name)?;
    if config.retry_max_times < -1 || config.retry_queue_nums < 0 {
        return Err(BrokerError::BadBody(format!(
            "retryMaxTimes ({}) must be -1 or more and retryQueueNums ({}) 0 or more",
            config.retry_max_times, config.retry_queue_nums
        )));
    }
    info!(group = %config.group_name, "subscription group created or updated");
    s.subscriptions.upsert(config)?;
    Ok(ok(req))
}

pub(crate) fn all_groups(s: &State, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(s.subscriptions.all().to_json()))
}

pub(crate) fn group(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetSubscriptionGroupConfigRequestHeader = req.decode_header()?;
    let config = s
        .subscriptions
        .get(&h.group)
        .ok_or(BrokerError::SubscriptionGroupNotExist(h.group))?;
    Ok(ok(req).with_body(config.to_json()))
}

/// Java answers success whether or not the group existed; so do we.
pub(crate) fn delete_group(s: &State, req: &RemotingCommand) -> Reply {
    let h: DeleteSubscriptionGroupRequestHeader = req.decode_header()?;
    let existed = s.subscriptions.delete(&h.group_name)?;
    if h.clean_offset {
        s.offsets.remove_group(&h.group_name);
    }
    info!(group = %h.group_name, existed, clean_offset = h.clean_offset, "subscription group deleted");
    Ok(ok(req))
}
