//! RECALL_MESSAGE (370): a producer cancels a timer message by the handle its send answered (see
//! `crate::service::recall`).

use ferromq_net::RequestContext;
use ferromq_remoting::headers::send::{RecallMessageRequestHeader, RecallMessageResponseHeader};
use ferromq_remoting::headers::CustomHeader;
use ferromq_remoting::{RemotingCommand, ResponseCode};

use super::Reply;
use crate::service::{BrokerService, Recall};

pub(crate) async fn recall(
    service: &BrokerService,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Reply {
    let h = RecallMessageRequestHeader::from_ext_fields(&req.ext_fields)?;
    let msg_id = service
        .recall(Recall {
            topic: h.topic,
            handle: h.recall_handle,
            producer_group: h.producer_group,
            born_host: ctx.peer_addr(),
        })
        .await?;
    Ok(
        RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
            .with_header(&RecallMessageResponseHeader { msg_id }),
    )
}
