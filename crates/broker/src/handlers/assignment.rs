//! Server-side queue assignment: QUERY_ASSIGNMENT (400), SET_MESSAGE_REQUEST_MODE (401) and
//! GET_ALL_MESSAGE_REQUEST_MODE (402), all with JSON bodies and no custom header.

use ferromq_remoting::body::assignment::{
    QueryAssignmentRequestBody, QueryAssignmentResponseBody, SetMessageRequestModeRequestBody,
};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::service::{AssignmentQuery, BrokerService};

fn body<'a>(req: &'a RemotingCommand, what: &str) -> Result<&'a [u8], BrokerError> {
    req.body
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| BrokerError::BadBody(format!("the {what} body is missing")))
}

pub(crate) async fn query_assignment(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let q = QueryAssignmentRequestBody::from_json(body(req, "QueryAssignmentRequestBody")?)
        .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    let model = q.message_model.ok_or_else(|| {
        BrokerError::BadBody("messageModel must be CLUSTERING or BROADCASTING".into())
    })?;
    let assignments = service
        .query_assignment(&AssignmentQuery {
            topic: q.topic,
            group: q.consumer_group,
            client_id: q.client_id,
            strategy: q.strategy_name,
            model,
        })
        .await?;
    let answer = QueryAssignmentResponseBody {
        message_queue_assignments: assignments,
    };
    Ok(ok(req).with_body(answer.to_json()))
}

pub(crate) fn set_request_mode(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let mode =
        SetMessageRequestModeRequestBody::from_json(body(req, "SetMessageRequestModeRequestBody")?)
            .map_err(|e| BrokerError::BadBody(e.to_string()))?;
    service.set_request_mode(mode)?;
    Ok(ok(req))
}

pub(crate) fn all_request_modes(service: &BrokerService, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(service.request_modes().to_json()))
}
