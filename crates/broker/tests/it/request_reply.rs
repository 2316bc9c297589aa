//! Request-reply: a responder's SEND_REPLY_MESSAGE_V2 is pushed to the requesting producer
//! (PUSH_REPLY_MESSAGE_TO_CLIENT) found by `REPLY_TO_CLIENT`, and stored in the reply topic.

use crate::common;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use common::*;
use ferromq_model::properties;
use ferromq_net::{Client, ClientConfig, Handler, RequestContext};
use ferromq_remoting::body::heartbeat::{HeartbeatData, ProducerData};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::send::{ReplyMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::sync::mpsc;

const REQUESTER: &str = "10.0.0.9@requester";

/// The requesting client: answers every pushed reply with SUCCESS and hands it to the test.
struct Requester(mpsc::UnboundedSender<RemotingCommand>);

#[async_trait]
impl Handler for Requester {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        let resp = RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None);
        let _ = self.0.send(req);
        Some(resp)
    }
}

fn reply(to_client: &str, correlation: &str, body: &'static [u8]) -> RemotingCommand {
    let props = properties::encode([
        ("CORRELATION_ID", correlation),
        ("REPLY_TO_CLIENT", to_client),
        ("MSG_TYPE", "reply"),
        ("UNIQ_KEY", correlation),
    ]);
    RemotingCommand::request(RequestCode::SEND_REPLY_MESSAGE_V2)
        .with_header(&SendMessageRequestHeaderV2(send_header(
            "DefaultCluster_REPLY_TOPIC",
            3,
            &props,
        )))
        .with_body(Bytes::from_static(body))
}

#[tokio::test]
async fn a_reply_reaches_its_requester_and_is_stored() {
    let cluster = TestCluster::start().await;
    let (tx, mut pushed) = mpsc::unbounded_channel();
    let requester = Client::connect(
        cluster.broker().local_addr().to_string(),
        ClientConfig {
            handler: Arc::new(Requester(tx)),
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect");
    let heartbeat = HeartbeatData {
        client_id: REQUESTER.into(),
        producer_data_set: vec![ProducerData {
            group_name: "requesters".into(),
        }],
        ..HeartbeatData::default()
    };
    let resp = call(
        &requester,
        RemotingCommand::request(RequestCode::HEART_BEAT).with_body(heartbeat.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");

    let responder = cluster.broker_client().await;
    let resp = call(&responder, reply(REQUESTER, "C1", b"the answer")).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");

    let push = pushed.recv().await.expect("a pushed reply");
    assert_eq!(
        push.request_code(),
        RequestCode::PUSH_REPLY_MESSAGE_TO_CLIENT
    );
    assert_eq!(push.body.as_deref(), Some(&b"the answer"[..]));
    let h: ReplyMessageRequestHeader = push.decode_header().expect("reply header");
    assert_eq!(h.topic, "DefaultCluster_REPLY_TOPIC");
    let p = h.properties.as_deref().unwrap_or("");
    assert_eq!(properties::get(p, "CORRELATION_ID"), Some("C1"));
    assert!(properties::get(p, "PUSH_REPLY_TIME").is_some(), "{p:?}");
    assert_eq!(h.store_host, cluster.broker().advertised_addr().to_string());
    assert!(pushed.try_recv().is_err(), "pushed once");

    // Stored in the reply topic's one queue, whatever queue the responder asked for.
    let stored = pull_all(&responder, "DefaultCluster_REPLY_TOPIC", 0, "*", 1).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, b"the answer");

    // A reply for a client that is not connected: the responder is told, nobody else hears of it.
    let resp = call(&responder, reply("10.0.0.9@gone", "C2", b"lost")).await;
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR, "{resp:?}");
    assert!(
        resp.remark
            .as_deref()
            .is_some_and(|r| r.contains("10.0.0.9@gone")),
        "{resp:?}"
    );
    assert!(
        pushed.try_recv().is_err(),
        "nothing pushed to the requester"
    );
    cluster.shutdown().await;
}
