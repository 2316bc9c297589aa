//! RecallMessage: cancel a timer message before it is due, by the handle its send answered.

use std::net::SocketAddr;

use ferromq_broker::service::Recall;
use ferromq_broker::BrokerService;
use ferromq_proto::v2::{RecallMessageRequest, RecallMessageResponse};
use ferromq_proto::{Code, Status};

use crate::status;

pub(crate) async fn recall_message(
    broker: &BrokerService,
    peer: SocketAddr,
    req: &RecallMessageRequest,
) -> RecallMessageResponse {
    let topic = req
        .topic
        .as_ref()
        .map(|t| t.qualified_name())
        .unwrap_or_default();
    if topic.is_empty() {
        return answer(Status::new(
            Code::IllegalTopic,
            "the request names no topic",
        ));
    }
    if req.recall_handle.is_empty() {
        return answer(Status::new(Code::BadRequest, "recall handle is empty"));
    }
    let recall = Recall {
        topic,
        handle: req.recall_handle.clone(),
        // v5 producers have no group of their own (see send.rs).
        producer_group: None,
        born_host: peer,
    };
    match broker.recall(recall).await {
        Ok(message_id) => RecallMessageResponse {
            status: Some(Status::ok()),
            message_id,
        },
        Err(e) => answer(status::from_broker(&e)),
    }
}

fn answer(status: Status) -> RecallMessageResponse {
    RecallMessageResponse {
        status: Some(status),
        message_id: String::new(),
    }
}
