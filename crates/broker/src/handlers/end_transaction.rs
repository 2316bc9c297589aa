//! END_TRANSACTION (37): a producer commits or rolls back a half message, either right after its
//! local transaction or in answer to CHECK_TRANSACTION_STATE (`fromTransactionCheck`). Producers
//! send it oneway; a response is built anyway for callers that wait for one.

use ferromq_net::RequestContext;
use ferromq_remoting::headers::transaction::EndTransactionRequestHeader;
use ferromq_remoting::headers::CustomHeader;
use ferromq_remoting::RemotingCommand;

use super::ok;
use crate::error::BrokerError;
use crate::service::{BrokerService, Decision, EndTransaction};

pub(crate) fn end_transaction(
    service: &BrokerService,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Result<Option<RemotingCommand>, BrokerError> {
    let h = EndTransactionRequestHeader::from_ext_fields(&req.ext_fields)?;
    let decision = Decision::from_wire(h.commit_or_rollback);
    service.end_transaction(&EndTransaction {
        producer_group: h.producer_group,
        commit_log_offset: h.commit_log_offset,
        half_queue_offset: h.tran_state_table_offset,
        msg_id: h.msg_id,
        decision,
        from_check: h.from_transaction_check,
        producer: ctx.peer_addr(),
    })?;
    // Unknown: the half message stays and the check scan asks again later; Java answers nothing.
    Ok(decision.map(|_| ok(req)))
}
