//! Failover requests: GET_BROKER_EPOCH_CACHE (1007), the epoch table a former master compares with
//! its own before following (see `crate::tasks::controller_agent`), and NOTIFY_BROKER_ROLE_CHANGED (1008), a
//! controller's hint that the master changed.

use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::ha::epochs::EpochCache;
use crate::state::State;

pub(crate) fn epoch_cache(s: &State, req: &RemotingCommand) -> Reply {
    let cache = EpochCache {
        cluster_name: s.config.cluster_name.clone(),
        broker_name: s.config.broker_name.clone(),
        broker_id: s.config.broker_id,
        epoch_list: s.epochs.entries(),
        max_offset: s.store.written_offset(),
    };
    let body = serde_json::to_vec(&cache).map_err(|e| BrokerError::Missing(e.to_string()))?;
    Ok(ok(req).with_body(body))
}

/// The notification carries the new replica info, but the next heartbeat's answer says the same
/// with the controllers' current view: heartbeat now and act on that.
pub(crate) fn role_changed(s: &State) {
    s.replication.wake.notify_one();
}
