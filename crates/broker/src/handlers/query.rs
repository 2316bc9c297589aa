//! QUERY_MESSAGE (12, by key through the index) and VIEW_MESSAGE_BY_ID (33, by commit-log offset).

use bytes::BytesMut;
use ferromq_remoting::headers::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::state::State;
use crate::topics::now_ms;

/// Java's `maxMsgsNumBatch`, and `defaultQueryMaxNum` for unique-key queries.
const MAX_BY_KEY: usize = 64;
const MAX_BY_UNIQUE_KEY: usize = 32;

pub(crate) fn query_message(s: &State, req: &RemotingCommand) -> Reply {
    let h: QueryMessageRequestHeader = req.decode_header()?;
    let max = if h.unique_key_query == Some(true) {
        MAX_BY_UNIQUE_KEY
    } else {
        usize::try_from(h.max_num).unwrap_or(0).clamp(1, MAX_BY_KEY)
    };
    let found = s
        .store
        .query_by_key(&h.topic, &h.key, max, h.begin_timestamp, h.end_timestamp)?;
    if found.is_empty() {
        return Err(BrokerError::NotFound(
            "can not find message, maybe time range not correct".into(),
        ));
    }
    let mut body = BytesMut::with_capacity(found.iter().map(bytes::Bytes::len).sum());
    for r in &found {
        body.extend_from_slice(r);
    }
    Ok(ok(req)
        .with_header(&QueryMessageResponseHeader {
            index_last_update_timestamp: now_ms(),
            index_last_update_phyoffset: i64::try_from(s.store.dispatched_offset())
                .unwrap_or(i64::MAX),
        })
        .with_body(body.freeze()))
}

pub(crate) fn view_message(s: &State, req: &RemotingCommand) -> Reply {
    let h: ViewMessageRequestHeader = req.decode_header()?;
    let missing = || BrokerError::Missing("can not find message by the offset".into());
    let offset = u64::try_from(h.offset).map_err(|_| missing())?;
    let record = s.store.read_record(offset).map_err(|_| missing())?;
    Ok(ok(req).with_body(record))
}
