//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): queue ownership for orderly consumers.
//!
//! Java's broker forwards a lock to the other brokers of the group only in "strict" mode with
//! `onlyThisBroker` unset; a single broker has no peers, so both cases lock here.

use ferromq_net::RequestContext;
use ferromq_remoting::body::lock::{
    LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::RemotingCommand;
use tokio::time::Instant;

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::state::State;

fn request_body(req: &RemotingCommand, what: &str) -> Result<LockBatchRequestBody, BrokerError> {
    let bytes = req
        .body
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| BrokerError::BadBody(format!("{what} body is missing")))?;
    let body = LockBatchRequestBody::from_json(bytes)
        .map_err(|e| BrokerError::BadBody(format!("{what} body: {e}")))?;
    if body.consumer_group.is_empty() || body.client_id.is_empty() {
        return Err(BrokerError::BadBody(format!(
            "{what} body needs consumerGroup and clientId"
        )));
    }
    Ok(body)
}

/// Locks what is free (or already ours) and answers the queues the client now holds.
pub(crate) fn lock_batch(s: &State, ctx: &RequestContext, req: &RemotingCommand) -> Reply {
    let body = request_body(req, "LockBatchRequestBody")?;
    let granted = s.locks.try_lock(
        &body.consumer_group,
        &body.client_id,
        ctx.connection().id(),
        &body.mq_set,
        Instant::now(),
    );
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: granted,
    };
    Ok(ok(req).with_body(resp.to_json()))
}

/// Releases the client's own locks among the listed queues; always SUCCESS, as in Java.
pub(crate) fn unlock_batch(s: &State, req: &RemotingCommand) -> Reply {
    let body: UnlockBatchRequestBody = request_body(req, "UnlockBatchRequestBody")?;
    s.locks
        .unlock(&body.consumer_group, &body.client_id, &body.mq_set);
    Ok(ok(req))
}
