//! QUERY_MESSAGE (12, by key through the index) and VIEW_MESSAGE_BY_ID (33, by commit-log offset).

use ferromq_remoting::headers::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::service::{BrokerService, KeyQuery};
use crate::topics::now_ms;

pub(crate) fn query_message(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: QueryMessageRequestHeader = req.decode_header()?;
    let found = service.query_by_key(&KeyQuery {
        topic: h.topic,
        key: h.key,
        unique: h.unique_key_query == Some(true),
        max: h.max_num,
        begin_ms: h.begin_timestamp,
        end_ms: h.end_timestamp,
    })?;
    Ok(ok(req)
        .with_header(&QueryMessageResponseHeader {
            index_last_update_timestamp: now_ms(),
            index_last_update_phyoffset: i64::try_from(found.indexed_to).unwrap_or(i64::MAX),
        })
        .with_body(found.records))
}

pub(crate) fn view_message(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: ViewMessageRequestHeader = req.decode_header()?;
    Ok(ok(req).with_body(service.message_at(h.offset)?))
}
