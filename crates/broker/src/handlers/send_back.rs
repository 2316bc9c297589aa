//! CONSUMER_SEND_MSG_BACK (36): a consumer hands back a message it failed to consume (see
//! `crate::service` for what happens to it).

use ferromq_net::RequestContext;
use ferromq_remoting::headers::send::ConsumerSendMsgBackRequestHeader;
use ferromq_remoting::headers::CustomHeader;
use ferromq_remoting::RemotingCommand;

use super::{ok, Reply};
use crate::service::{BrokerService, SendBack};

pub(crate) fn send_back(
    service: &BrokerService,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Reply {
    let h = ConsumerSendMsgBackRequestHeader::from_ext_fields(&req.ext_fields)?;
    service.send_back(&SendBack {
        group: h.group,
        offset: h.offset,
        delay_level: h.delay_level,
        max_reconsume_times: h.max_reconsume_times,
        origin_topic: h.origin_topic,
        consumer: ctx.peer_addr(),
    })?;
    Ok(ok(req))
}
