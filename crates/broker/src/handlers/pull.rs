//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361): the header becomes a [`PullRequest`]; reading and
//! long polling are in `crate::service`.

use std::time::Duration;

use ferromq_net::RequestContext;
use ferromq_remoting::headers::pull::{
    sys_flag, PullMessageRequestHeader, PullMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, ResponseCode};

use crate::error::BrokerError;
use crate::service::{BrokerService, PullAnswer, PullRequest, Subscription};

fn wire(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) async fn pull(
    service: &BrokerService,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Result<Option<RemotingCommand>, BrokerError> {
    let h: PullMessageRequestHeader = req.decode_header()?;
    let subscription = if h.has_flag(sys_flag::SUBSCRIPTION) {
        Subscription::Expression {
            expression: h.subscription.clone(),
            kind: h.expression_type.clone(),
        }
    } else {
        Subscription::Registered
    };
    let request = PullRequest {
        offset: u64::try_from(h.queue_offset).unwrap_or(0),
        max_messages: u32::try_from(h.max_msg_nums).unwrap_or(1),
        max_bytes: h.max_msg_bytes.and_then(|b| u32::try_from(b).ok()),
        commit_offset: h
            .has_flag(sys_flag::COMMIT_OFFSET)
            .then(|| u64::try_from(h.commit_offset).ok())
            .flatten(),
        suspend: h
            .has_flag(sys_flag::SUSPEND)
            .then(|| Duration::from_millis(u64::try_from(h.suspend_timeout_millis).unwrap_or(0))),
        subscription,
        consumer: ctx.peer_addr(),
        queue_id: h.queue_id,
        group: h.consumer_group,
        topic: h.topic,
    };
    let Some(pulled) = service.pull(request, ctx.connection().closed()).await? else {
        return Ok(None);
    };
    let code = match pulled.answer {
        PullAnswer::Found => ResponseCode::SUCCESS,
        PullAnswer::RetryImmediately => ResponseCode::PULL_RETRY_IMMEDIATELY,
        PullAnswer::NotFound => ResponseCode::PULL_NOT_FOUND,
        PullAnswer::OffsetMoved => ResponseCode::PULL_OFFSET_MOVED,
    };
    let mut resp = RemotingCommand::response_to(req, code, Some(pulled.reason.to_owned()))
        .with_header(&PullMessageResponseHeader {
            suggest_which_broker_id: pulled.suggest_broker_id,
            next_begin_offset: wire(pulled.next_offset),
            min_offset: wire(pulled.min_offset),
            max_offset: wire(pulled.max_offset),
            ..PullMessageResponseHeader::default()
        });
    resp.body = pulled.records;
    Ok(Some(resp))
}
