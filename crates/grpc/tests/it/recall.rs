//! RecallMessage over a real TCP connection: a recalled timer message is never delivered, and every
//! recall that cannot be carried out gets a status saying why.

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{message, request, resource, wait_for_messages, Fixture};
use ferromq_broker::schedule::recall::RecallHandle;
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_proto::v2::{
    MessageType, RecallMessageRequest, RecallMessageResponse, SendMessageRequest, SendResultEntry,
};
use ferromq_proto::Code;
use tonic::transport::Channel;

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("millis fit")
}

/// Sends one message to `topic`, due at `deliver_at` when given; returns its result entry.
async fn send(
    client: &mut MessagingServiceClient<Channel>,
    topic: &str,
    id: &str,
    deliver_at: Option<i64>,
) -> SendResultEntry {
    let mut m = message(topic, id, id.as_bytes());
    if let Some(at) = deliver_at {
        let sys = m.system_properties.as_mut().expect("set");
        sys.message_type = MessageType::Delay as i32;
        sys.delivery_timestamp = Some(prost_types::Timestamp {
            seconds: at / 1000,
            nanos: i32::try_from(at % 1000).expect("fits") * 1_000_000,
        });
    }
    let reply = client
        .send_message(request("p", SendMessageRequest { messages: vec![m] }))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    reply.entries.into_iter().next().expect("one entry")
}

async fn recall(
    client: &mut MessagingServiceClient<Channel>,
    topic: &str,
    handle: &str,
) -> RecallMessageResponse {
    client
        .recall_message(request(
            "p",
            RecallMessageRequest {
                topic: resource(topic),
                recall_handle: handle.to_owned(),
            },
        ))
        .await
        .expect("rpc")
        .into_inner()
}

fn bodies(stored: &[common::Stored]) -> Vec<String> {
    stored
        .iter()
        .map(|s| String::from_utf8(s.body.clone()).expect("utf8"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recalled_timer_message_is_never_delivered() {
    let f = Fixture::start().await;
    f.create_topic("delayed", 1, Some("DELAY"));
    let mut client = f.plain().await;
    let due = now_ms() + 2_000;
    let recalled = send(&mut client, "delayed", "recall-me", Some(due)).await;
    assert!(
        !recalled.recall_handle.is_empty(),
        "a timer message comes with a recall handle"
    );
    // Due at the same time, and one just after: both come out of the timer after the recalled
    // one would have.
    let same_time = send(&mut client, "delayed", "same-time", Some(due)).await;
    let reply = recall(&mut client, "delayed", &recalled.recall_handle).await;
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(reply.message_id, "recall-me");
    assert_ne!(same_time.recall_handle, recalled.recall_handle);
    send(&mut client, "delayed", "control", Some(due + 1)).await;

    let stored = wait_for_messages(&f.service(), "delayed", 2).await;
    assert_eq!(
        bodies(&stored),
        vec!["same-time", "control"],
        "only what was not recalled, once each"
    );
    assert!(stored.iter().all(|s| s.store_timestamp >= due));
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_recalls_get_a_status_saying_why() {
    let f = Fixture::start().await;
    f.create_topic("delayed", 1, Some("DELAY"));
    f.create_topic("other", 1, Some("DELAY"));
    f.create_topic("plain", 1, None);
    let mut client = f.plain().await;

    // A normal message has nothing to recall.
    let normal = send(&mut client, "plain", "normal", None).await;
    assert!(normal.recall_handle.is_empty());

    let pending = send(&mut client, "delayed", "pending", Some(now_ms() + 60_000)).await;
    let handle = RecallHandle::decode(&pending.recall_handle).expect("a v1 handle");
    assert_eq!(handle.topic, "delayed");
    assert_eq!(handle.uniq_key, "pending");

    let refused = |reply: RecallMessageResponse, code: Code, says: &str| {
        let status = reply.status.expect("status");
        assert_eq!(status.code(), code, "{}", status.message);
        assert!(
            status.message.contains(says),
            "{:?} should say {says:?}",
            status.message
        );
        assert!(reply.message_id.is_empty());
    };
    refused(
        recall(&mut client, "delayed", "not-a-handle!").await,
        Code::BadRequest,
        "recall handle is invalid",
    );
    let reply = client
        .recall_message(request("p", RecallMessageRequest::default()))
        .await
        .expect("rpc")
        .into_inner();
    refused(reply, Code::IllegalTopic, "no topic");
    refused(
        recall(&mut client, "delayed", "").await,
        Code::BadRequest,
        "empty",
    );
    // Well formed, but naming a message that was never sent.
    let forged = RecallHandle {
        uniq_key: "never-sent".into(),
        ..handle.clone()
    };
    refused(
        recall(&mut client, "delayed", &forged.encode()).await,
        Code::NotFound,
        "no timer message never-sent",
    );
    // The right message with another delivery time is not it either.
    let moved = RecallHandle {
        deliver_ms: handle.deliver_ms + 1,
        ..handle.clone()
    };
    refused(
        recall(&mut client, "delayed", &moved.encode()).await,
        Code::NotFound,
        "no timer message",
    );
    refused(
        recall(&mut client, "other", &pending.recall_handle).await,
        Code::BadRequest,
        "topic",
    );
    refused(
        recall(&mut client, "missing", &pending.recall_handle).await,
        Code::TopicNotFound,
        "missing",
    );
    let elsewhere = RecallHandle {
        broker_name: "some-other-broker".into(),
        ..handle.clone()
    };
    refused(
        recall(&mut client, "delayed", &elsewhere.encode()).await,
        Code::BadRequest,
        "broker",
    );

    // Delivered already: too late to recall.
    let soon = send(&mut client, "delayed", "soon", Some(now_ms() + 300)).await;
    let stored = wait_for_messages(&f.service(), "delayed", 1).await;
    assert_eq!(bodies(&stored), vec!["soon"]);
    refused(
        recall(&mut client, "delayed", &soon.recall_handle).await,
        Code::NotFound,
        "already delivered",
    );

    // None of the refusals touched the pending message: it can still be recalled.
    let reply = recall(&mut client, "delayed", &pending.recall_handle).await;
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    assert_eq!(reply.message_id, "pending");
    f.shutdown().await;
}
