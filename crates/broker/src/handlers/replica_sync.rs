//! What a replica asks its master for besides the log: the consumer offsets and the delay levels'
//! progress (the topic table comes from GET_ALL_TOPIC_CONFIG, see `admin`).

use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::state::State;

/// GET_ALL_CONSUMER_OFFSET (43): every committed offset, `{"offsetTable":{"topic@group":{"0":12}}}`.
pub(crate) fn all_consumer_offsets(s: &State, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(s.offsets.to_json()))
}

/// GET_ALL_DELAY_OFFSET (45): each delay level's next offset, `{"offsetTable":{"3":12}}`.
pub(crate) fn all_delay_offsets(s: &State, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(crate::schedule::delay_offsets_json(&s.config)?))
}
