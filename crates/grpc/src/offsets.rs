//! UpdateOffset, GetOffset and QueryOffset (the newer SDKs' pull consumer): a group's committed
//! offset in one queue, and where a queue begins, ends or was at a point in time.

use ferromq_broker::service::Boundary;
use ferromq_broker::{BrokerError, BrokerService};
use ferromq_proto::v2::{
    GetOffsetRequest, GetOffsetResponse, MessageQueue, QueryOffsetPolicy, QueryOffsetRequest,
    QueryOffsetResponse, Resource, UpdateOffsetRequest, UpdateOffsetResponse,
};
use ferromq_proto::{Code, Status};

use crate::status;

/// The topic and queue id a request names.
fn queue(q: Option<&MessageQueue>) -> Result<(String, i32), Status> {
    let q = q.ok_or_else(|| Status::new(Code::BadRequest, "message_queue is required"))?;
    match &q.topic {
        Some(t) if !t.name.is_empty() => Ok((t.qualified_name(), q.id)),
        _ => Err(Status::new(Code::IllegalTopic, "a topic name is required")),
    }
}

fn group(g: Option<&Resource>) -> Result<String, Status> {
    match g {
        Some(g) if !g.name.is_empty() => Ok(g.qualified_name()),
        _ => Err(Status::new(
            Code::IllegalConsumerGroup,
            "a group name is required",
        )),
    }
}

fn offset_of(result: Result<u64, BrokerError>) -> (Status, i64) {
    match result {
        Ok(o) => (Status::ok(), i64::try_from(o).unwrap_or(i64::MAX)),
        Err(e) => (status::from_broker(&e), 0),
    }
}

pub(crate) fn update_offset(
    broker: &BrokerService,
    req: &UpdateOffsetRequest,
) -> UpdateOffsetResponse {
    let status = match (group(req.group.as_ref()), queue(req.message_queue.as_ref())) {
        (Ok(g), Ok((topic, id))) => match broker.commit_offset(&g, &topic, id, req.offset) {
            Ok(()) => Status::ok(),
            Err(BrokerError::BadBody(m)) => Status::new(Code::IllegalOffset, m),
            Err(e) => status::from_broker(&e),
        },
        (Err(s), _) | (_, Err(s)) => s,
    };
    UpdateOffsetResponse {
        status: Some(status),
    }
}

pub(crate) fn get_offset(broker: &BrokerService, req: &GetOffsetRequest) -> GetOffsetResponse {
    let (status, offset) = match (group(req.group.as_ref()), queue(req.message_queue.as_ref())) {
        (Ok(g), Ok((topic, id))) => {
            if let Err(e) = broker.topic(&topic) {
                offset_of(Err(e))
            } else {
                match broker.committed_offset(&g, &topic, id, false) {
                    Err(BrokerError::NotFound(_)) => (
                        Status::new(
                            Code::OffsetNotFound,
                            format!("group {g} has committed no offset in {topic} queue {id}"),
                        ),
                        0,
                    ),
                    other => offset_of(other),
                }
            }
        }
        (Err(s), _) | (_, Err(s)) => (s, 0),
    };
    GetOffsetResponse {
        status: Some(status),
        offset,
    }
}

pub(crate) fn query_offset(
    broker: &BrokerService,
    req: &QueryOffsetRequest,
) -> QueryOffsetResponse {
    let (status, offset) = match queue(req.message_queue.as_ref()) {
        Err(s) => (s, 0),
        Ok((topic, id)) => match QueryOffsetPolicy::try_from(req.query_offset_policy) {
            Ok(QueryOffsetPolicy::Beginning) => offset_of(broker.min_offset(&topic, id)),
            Ok(QueryOffsetPolicy::End) => offset_of(broker.max_offset(&topic, id)),
            Ok(QueryOffsetPolicy::Timestamp) => match &req.timestamp {
                Some(t) => {
                    let ms = t
                        .seconds
                        .saturating_mul(1000)
                        .saturating_add(i64::from(t.nanos / 1_000_000));
                    offset_of(broker.offset_by_time(&topic, id, ms, Boundary::Lower))
                }
                None => (
                    Status::new(Code::BadRequest, "TIMESTAMP needs a timestamp"),
                    0,
                ),
            },
            Err(_) => (
                Status::new(
                    Code::BadRequest,
                    format!("unknown query_offset_policy {}", req.query_offset_policy),
                ),
                0,
            ),
        },
    };
    QueryOffsetResponse {
        status: Some(status),
        offset,
    }
}
