//! POP_MESSAGE (200050), ACK_MESSAGE (200051), BATCH_ACK_MESSAGE (200151) and
//! CHANGE_MESSAGE_INVISIBLETIME (200053): headers become service calls (`service/pop.rs`,
//! `service/pop_ack.rs`).

use std::time::Duration;

use bytes::BytesMut;
use ferromq_net::RequestContext;
use ferromq_remoting::body::pop::BatchAckMessageRequestBody;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::pop::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    PopMessageRequestHeader, PopMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, ResponseCode};

use super::{ok, Reply};
use crate::error::BrokerError;
use crate::pop::ReceiptHandle;
use crate::service::{BrokerService, PopRequest, PoppedMessage, Subscription};

fn wire(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn millis(name: &str, v: i64) -> Result<Duration, BrokerError> {
    u64::try_from(v)
        .map(Duration::from_millis)
        .map_err(|_| BrokerError::InvalidArgument(format!("{name} {v} is negative")))
}

pub(crate) async fn pop_message(
    service: &BrokerService,
    ctx: &RequestContext,
    req: &RemotingCommand,
) -> Result<Option<RemotingCommand>, BrokerError> {
    let h: PopMessageRequestHeader = req.decode_header()?;
    let request = PopRequest {
        queue_id: u32::try_from(h.queue_id).ok(),
        max_messages: u32::try_from(h.max_msg_nums).unwrap_or(0),
        invisible: millis("invisibleTime", h.invisible_time)?,
        poll: (h.poll_time > 0)
            .then(|| millis("pollTime", h.poll_time))
            .transpose()?,
        subscription: Subscription::Expression {
            expression: h.exp,
            kind: h.exp_type,
        },
        fifo: h.order.unwrap_or(false),
        client: ctx.peer_addr(),
        group: h.consumer_group,
        topic: h.topic,
    };
    let invisible_time = h.invisible_time;
    // A consumer gone while its pop waits is answered by nobody; nothing was handed out yet, as a
    // pop only waits when it found nothing.
    let popped = tokio::select! {
        popped = service.pop(request) => popped?,
        () = ctx.connection().closed() => return Ok(None),
    };
    Ok(Some(pop_response(req, &popped, invisible_time)))
}

/// The response: every record back to back, and the header Java clients require even when empty.
fn pop_response(
    req: &RemotingCommand,
    popped: &[PoppedMessage],
    invisible_time: i64,
) -> RemotingCommand {
    let Some(first) = popped.first() else {
        return RemotingCommand::response_to(
            req,
            ResponseCode::PULL_NOT_FOUND,
            Some("no new message".into()),
        )
        .with_header(&PopMessageResponseHeader {
            pop_time: crate::topics::now_ms(),
            invisible_time,
            ..PopMessageResponseHeader::default()
        });
    };
    // Per queue: `0 <queue> <first offset>` and `0 <queue> <offset>,<offset>...` (topic kind 0).
    let mut queues: Vec<(u32, Vec<u64>)> = Vec::new();
    for m in popped {
        match queues.iter_mut().find(|(q, _)| *q == m.queue_id) {
            Some((_, offsets)) => offsets.push(m.queue_offset),
            None => queues.push((m.queue_id, vec![m.queue_offset])),
        }
    }
    let start_offset_info = queues
        .iter()
        .map(|(q, o)| format!("0 {q} {}", o[0]))
        .collect::<Vec<_>>()
        .join(";");
    let msg_offset_info = queues
        .iter()
        .map(|(q, o)| {
            let list: Vec<String> = o.iter().map(u64::to_string).collect();
            format!("0 {q} {}", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(";");
    let handle = ReceiptHandle::parse(&first.handle).ok();
    let mut body = BytesMut::with_capacity(popped.iter().map(|m| m.record.len()).sum());
    for m in popped {
        body.extend_from_slice(&m.record);
    }
    let mut resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_header(
        &PopMessageResponseHeader {
            pop_time: wire(first.pop_time_ms),
            invisible_time,
            revive_qid: handle
                .and_then(|h| i32::try_from(h.token).ok())
                .unwrap_or(0),
            rest_num: 0,
            start_offset_info: Some(start_offset_info),
            msg_offset_info: Some(msg_offset_info),
            order_count_info: None,
        },
    );
    resp.body = Some(body.freeze());
    resp
}

pub(crate) fn ack_message(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: AckMessageRequestHeader = req.decode_header()?;
    service.ack(&h.consumer_group, &h.topic, &h.extra_info)?;
    Ok(ok(req))
}

/// Acks every offset of every entry; answers the first refusal after trying them all.
pub(crate) fn batch_ack(
    service: &BrokerService,
    broker_name: &str,
    req: &RemotingCommand,
) -> Reply {
    let body = req
        .body
        .as_deref()
        .ok_or_else(|| BrokerError::BadBody("batch ack without a body".into()))?;
    let batch = BatchAckMessageRequestBody::from_json(body)?;
    let mut first_error = None;
    for ack in &batch.acks {
        for offset in ack.acked_offsets() {
            let handle = ReceiptHandle {
                broker_name: batch
                    .broker_name
                    .clone()
                    .unwrap_or_else(|| broker_name.to_owned()),
                queue_id: u32::try_from(ack.queue_id).unwrap_or(u32::MAX),
                offset: u64::try_from(offset).unwrap_or(u64::MAX),
                pop_time_ms: u64::try_from(ack.pop_time).unwrap_or(u64::MAX),
                invisible_ms: u64::try_from(ack.invisible_time).unwrap_or(u64::MAX),
                token: u32::try_from(ack.revive_queue_id).unwrap_or(u32::MAX),
            };
            if let Err(e) = service.ack(&ack.consumer_group, &ack.topic, &handle.to_string()) {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(ok(req)),
        Some(e) => Err(e),
    }
}

pub(crate) fn change_invisible(service: &BrokerService, req: &RemotingCommand) -> Reply {
    let h: ChangeInvisibleTimeRequestHeader = req.decode_header()?;
    let invisible = millis("invisibleTime", h.invisible_time)?;
    let new = service.change_invisible(&h.consumer_group, &h.topic, &h.extra_info, invisible)?;
    let new = ReceiptHandle::parse(&new)?;
    Ok(
        RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_header(
            &ChangeInvisibleTimeResponseHeader {
                pop_time: wire(new.pop_time_ms),
                invisible_time: wire(new.invisible_ms),
                revive_qid: i32::try_from(new.token).unwrap_or(0),
            },
        ),
    )
}
