//! END_TRANSACTION (37): a producer commits or rolls back a half message, either right after its
//! local transaction or in answer to CHECK_TRANSACTION_STATE (`fromTransactionCheck`). Producers
//! send it oneway; a response is built anyway for callers that wait for one.

use ferromq_net::RequestContext;
use ferromq_remoting::headers::transaction::EndTransactionRequestHeader;
use ferromq_remoting::headers::CustomHeader;
use ferromq_remoting::RemotingCommand;
use tracing::{debug, info};

use super::ok;
use crate::error::BrokerError;
use crate::state::State;
use crate::transaction::end::{self, Decision};

pub(crate) fn end_transaction(
    s: &State,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Result<Option<RemotingCommand>, BrokerError> {
    let h = EndTransactionRequestHeader::from_ext_fields(&req.ext_fields)?;
    let Some(decision) = Decision::from_wire(h.commit_or_rollback) else {
        // Unknown: keep the half message; the check scan asks again later. Java answers nothing.
        debug!(peer = %ctx.peer_addr(), msg_id = %h.msg_id, from_check = h.from_transaction_check, remark = ?req.remark, "transaction state still unknown");
        return Ok(None);
    };
    if h.from_transaction_check {
        info!(peer = %ctx.peer_addr(), msg_id = %h.msg_id, ?decision, "producer answered a transaction check");
    }
    end::end(s, &h, decision)?;
    Ok(Some(ok(req)))
}
