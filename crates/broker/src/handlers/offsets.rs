//! Consumer offsets (14, 15) and queue offsets (29, 30, 31, 32): headers in, `crate::service`
//! calls, offsets out.

use ferromq_remoting::headers::offset::{
    BoundaryType, GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader,
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, QueueRequestHeader,
    SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::service::{Boundary, BrokerService};

fn offset_reply(req: &RemotingCommand, offset: u64) -> Reply {
    Ok(ok(req).with_header(&OffsetResponseHeader {
        offset: i64::try_from(offset).unwrap_or(i64::MAX),
    }))
}

pub(crate) fn query_consumer_offset(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
    let zero_if_young = h.set_zero_if_not_found != Some(false);
    let offset =
        service.committed_offset(&h.consumer_group, &h.topic, h.queue_id, zero_if_young)?;
    offset_reply(req, offset)
}

pub(crate) fn update_consumer_offset(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
    service.commit_offset(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset)?;
    Ok(ok(req))
}

pub(crate) fn max_offset(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: GetMaxOffsetRequestHeader = req.decode_header()?;
    offset_reply(req, service.max_offset(&h.topic, h.queue_id)?)
}

pub(crate) fn min_offset(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: QueueRequestHeader = req.decode_header()?;
    offset_reply(req, service.min_offset(&h.topic, h.queue_id)?)
}

pub(crate) fn earliest_time(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: QueueRequestHeader = req.decode_header()?;
    let timestamp = service.earliest_time(&h.topic, h.queue_id)?.unwrap_or(-1);
    Ok(ok(req).with_header(&GetEarliestMsgStoretimeResponseHeader { timestamp }))
}

pub(crate) fn search_by_time(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: SearchOffsetRequestHeader = req.decode_header()?;
    let boundary = match h.boundary_type.unwrap_or_default() {
        BoundaryType::Lower => Boundary::Lower,
        BoundaryType::Upper => Boundary::Upper,
    };
    offset_reply(
        req,
        service.offset_by_time(&h.topic, h.queue_id, h.timestamp, boundary)?,
    )
}
