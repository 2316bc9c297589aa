//! GET_PRODUCER_CONNECTION_LIST (204): the connections of a producer group, as the admin tool's
//! `producerConnection` lists them.

use ferromq_remoting::body::admin::{Connection, ProducerConnection};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::GetProducerConnectionListRequestHeader;
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::state::State;

/// Java answers SYSTEM_ERROR with this remark when the group has no connection; so do we.
pub(crate) fn producer_connections(s: &State, req: &RemotingCommand) -> Reply {
    let h: GetProducerConnectionListRequestHeader = req.decode_header()?;
    let channels = s.clients.producer_channels(&h.producer_group);
    if channels.is_empty() {
        return Err(BrokerError::Missing(format!(
            "the producer group[{}] not exist",
            h.producer_group
        )));
    }
    let mut connection_set: Vec<Connection> = channels
        .into_iter()
        .map(|c| Connection {
            client_addr: c.connection.peer_addr().to_string(),
            client_id: c.client_id,
            language: c.language,
            version: c.version,
        })
        .collect();
    connection_set.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    Ok(ok(req).with_body(ProducerConnection { connection_set }.to_json()))
}
