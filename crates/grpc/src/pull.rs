//! PullMessage (the newer SDKs' pull consumer): the broker's pull of one queue from an offset,
//! streamed as the status, the messages, then the offset to pull from next.

use std::net::SocketAddr;
use std::time::Duration;

use ferromq_broker::service::{PullAnswer, PullRequest, Subscription, MAX_POLL};
use ferromq_broker::BrokerService;
use ferromq_model::record::{self, Entry};
use ferromq_proto::v2::pull_message_response::Content;
use ferromq_proto::v2::{FilterType, PullMessageRequest, PullMessageResponse};
use ferromq_proto::{Code, Status};

use crate::receive::stored_message;
use crate::status;

pub(crate) async fn pull_message(
    broker: &BrokerService,
    peer: SocketAddr,
    req: &PullMessageRequest,
) -> Vec<PullMessageResponse> {
    let status_only = |status| {
        vec![PullMessageResponse {
            content: Some(Content::Status(status)),
        }]
    };
    let pull = match pull_request(peer, req) {
        Ok(p) => p,
        Err(s) => return status_only(s),
    };
    let pulled = match broker.pull(pull, std::future::pending()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return status_only(Status::new(
                Code::MessageNotFound,
                "no new message within the long-polling time",
            ))
        }
        Err(e) => return status_only(status::from_broker(&e)),
    };
    let next = PullMessageResponse {
        content: Some(Content::NextOffset(
            i64::try_from(pulled.next_offset).unwrap_or(i64::MAX),
        )),
    };
    let status = match pulled.answer {
        PullAnswer::Found => Status::ok(),
        PullAnswer::RetryImmediately | PullAnswer::NotFound => {
            Status::new(Code::MessageNotFound, "no new message")
        }
        PullAnswer::OffsetMoved => Status::new(
            Code::IllegalOffset,
            format!(
                "offset {} is outside the queue ({}..{}): pull from the next offset",
                req.offset, pulled.min_offset, pulled.max_offset
            ),
        ),
    };
    let mut out = vec![PullMessageResponse {
        content: Some(Content::Status(status)),
    }];
    let records = pulled.records.unwrap_or_default();
    let mut at = 0;
    while at < records.len() {
        match record::read(&records[at..], true) {
            Ok(Entry::Message(view)) => {
                at += view.total_size as usize;
                out.push(PullMessageResponse {
                    content: Some(Content::Message(Box::new(stored_message(&view).0))),
                });
            }
            _ => break,
        }
    }
    out.push(next);
    out
}

fn pull_request(peer: SocketAddr, req: &PullMessageRequest) -> Result<PullRequest, Status> {
    let group = match &req.group {
        Some(g) if !g.name.is_empty() => g.qualified_name(),
        _ => {
            return Err(Status::new(
                Code::IllegalConsumerGroup,
                "a group name is required",
            ))
        }
    };
    let q = req
        .message_queue
        .as_ref()
        .ok_or_else(|| Status::new(Code::BadRequest, "message_queue is required"))?;
    let topic = match &q.topic {
        Some(t) if !t.name.is_empty() => t.qualified_name(),
        _ => return Err(Status::new(Code::IllegalTopic, "a topic name is required")),
    };
    let offset = u64::try_from(req.offset)
        .map_err(|_| Status::new(Code::IllegalOffset, "offset must not be negative"))?;
    let max_messages = u32::try_from(req.batch_size)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| Status::new(Code::BadRequest, "batch_size must be positive"))?;
    let subscription = Subscription::Expression {
        expression: Some(
            req.filter_expression
                .as_ref()
                .map_or_else(|| "*".to_owned(), |f| f.expression.clone()),
        ),
        kind: Some(
            match req.filter_expression.as_ref().map(|f| f.r#type()) {
                Some(FilterType::Sql) => "SQL92",
                _ => "TAG",
            }
            .into(),
        ),
    };
    let suspend = req.long_polling_timeout.as_ref().and_then(|d| {
        let ms = d
            .seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(d.nanos / 1_000_000));
        u64::try_from(ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(|ms| Duration::from_millis(ms).min(MAX_POLL))
    });
    Ok(PullRequest {
        group,
        topic,
        queue_id: q.id,
        offset,
        max_messages,
        max_bytes: None,
        subscription,
        commit_offset: None,
        suspend,
        consumer: peer,
    })
}
