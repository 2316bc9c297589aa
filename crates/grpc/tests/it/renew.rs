//! Push consumers (`auto_renew`): the endpoint keeps their messages invisible while the client
//! lives, takes acks by the handle the client received, and lets the messages go when the client
//! says goodbye. A short renewal slice (1 s) is configured, so a message not renewed would come
//! back to the group within a second.

use crate::common;

use std::time::Duration;

use common::{message, request, resource, Fixture};
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_grpc::{GrpcConfig, RenewConfig};
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::telemetry_command::Command;
use ferromq_proto::v2::{
    settings::PubSub, AckMessageEntry, AckMessageRequest, ClientType, Message, MessageQueue,
    NotifyClientTerminationRequest, ReceiveMessageRequest, SendMessageRequest, Settings,
    Subscription, TelemetryCommand,
};
use ferromq_proto::{Code, Status};
use tonic::transport::Channel;

const TOPIC: &str = "push-topic";
const GROUP: &str = "push-group";

fn pb_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).expect("fits"),
        nanos: i32::try_from(d.subsec_nanos()).expect("fits"),
    }
}

async fn receive(
    client: &mut MessagingServiceClient<Channel>,
    client_id: &str,
    auto_renew: bool,
    poll: Duration,
) -> (Vec<Message>, Status) {
    let req = ReceiveMessageRequest {
        group: resource(GROUP),
        message_queue: Some(MessageQueue {
            topic: resource(TOPIC),
            id: -1,
            ..MessageQueue::default()
        }),
        filter_expression: None,
        batch_size: 32,
        invisible_duration: (!auto_renew).then(|| pb_duration(Duration::from_secs(30))),
        auto_renew,
        long_polling_timeout: Some(pb_duration(poll)),
        attempt_id: None,
    };
    let mut stream = client
        .receive_message(request(client_id, req))
        .await
        .expect("rpc")
        .into_inner();
    let mut messages = Vec::new();
    let mut status = None;
    while let Some(item) = stream.message().await.expect("stream") {
        match item.content.expect("content") {
            Content::Message(m) => messages.push(*m),
            Content::Status(s) => status = Some(s),
            Content::DeliveryTimestamp(_) => {}
        }
    }
    (messages, status.expect("a status ends every receive"))
}

fn body(m: &Message) -> String {
    String::from_utf8(m.body.to_vec()).expect("utf8")
}

/// When the broker delivered the message: a receipt handle's second field.
fn pop_time_ms(handle: &str) -> u64 {
    handle
        .split(' ')
        .nth(1)
        .and_then(|t| t.parse().ok())
        .expect("a pop time in the handle")
}

fn handle(m: &Message) -> String {
    m.system_properties
        .as_ref()
        .and_then(|s| s.receipt_handle.clone())
        .expect("a receipt handle")
}

async fn ack(client: &mut MessagingServiceClient<Channel>, client_id: &str, m: &Message) -> Status {
    client
        .ack_message(request(
            client_id,
            AckMessageRequest {
                group: resource(GROUP),
                topic: resource(TOPIC),
                entries: vec![AckMessageEntry {
                    message_id: String::new(),
                    receipt_handle: handle(m),
                    ..AckMessageEntry::default()
                }],
            },
        ))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status")
}

/// The push client's session: its settings over a telemetry stream, open while the returned
/// sender lives.
async fn open_session(f: &Fixture, client_id: &str) -> tokio::sync::mpsc::Sender<TelemetryCommand> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(Command::Settings(Settings {
            client_type: Some(ClientType::PushConsumer as i32),
            pub_sub: Some(PubSub::Subscription(Subscription {
                group: resource(GROUP),
                ..Subscription::default()
            })),
            ..Settings::default()
        })),
    })
    .await
    .expect("queue the settings");
    let mut telemetry = f
        .plain()
        .await
        .telemetry(request(
            client_id,
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .await
        .expect("telemetry")
        .into_inner();
    telemetry
        .message()
        .await
        .expect("answer")
        .expect("settings answered");
    tx
}

fn short_renewal(max: Duration) -> GrpcConfig {
    GrpcConfig {
        renew: RenewConfig {
            slice: Duration::from_secs(1),
            ahead: Duration::from_millis(600),
            period: Duration::from_millis(100),
            max,
        },
        ..GrpcConfig::default()
    }
}

async fn send(client: &mut MessagingServiceClient<Channel>, messages: &[(&str, &str)]) {
    for (id, text) in messages {
        let reply = client
            .send_message(request(
                "producer",
                SendMessageRequest {
                    messages: vec![message(TOPIC, id, text.as_bytes())],
                },
            ))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(reply.status.expect("status").code(), Code::Ok);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_delivery_stays_invisible_while_its_client_lives() {
    let config = short_renewal(Duration::from_secs(3600));
    let f = Fixture::start_config(|_| {}, config).await;
    f.create_topic(TOPIC, 1, None);
    let mut client = f.plain().await;

    let tx = open_session(&f, "push-a").await;

    send(
        &mut client,
        &[
            ("00000000000000000000000000000001", "held"),
            ("00000000000000000000000000000002", "acked"),
        ],
    )
    .await;
    assert!(
        f.cluster
            .broker()
            .wait_readable(Duration::from_secs(10))
            .await,
        "sends indexed"
    );

    let (got, status) = receive(&mut client, "push-a", true, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    let mut bodies: Vec<String> = got.iter().map(body).collect();
    bodies.sort();
    assert_eq!(bodies, ["acked", "held"]);

    // Three slices later, another consumer of the group still gets nothing.
    let (other, status) = receive(&mut client, "push-b", false, Duration::from_secs(3)).await;
    assert!(other.is_empty(), "delivered again while held: {other:?}");
    assert_eq!(status.code(), Code::MessageNotFound, "{}", status.message);

    // The handle the client received still acks, though renewals replaced the broker's.
    let acked = got.iter().find(|m| body(m) == "acked").expect("acked");
    let status = ack(&mut client, "push-a", acked).await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message);

    // The client says goodbye: what it held goes to the others, what it acked does not.
    let status = client
        .notify_client_termination(request(
            "push-a",
            NotifyClientTerminationRequest {
                group: resource(GROUP),
            },
        ))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    let (again, status) = receive(&mut client, "push-b", false, Duration::from_secs(10)).await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(again.iter().map(body).collect::<Vec<_>>(), ["held"]);
    assert_eq!(ack(&mut client, "push-b", &again[0]).await.code(), Code::Ok);
    let (rest, status) = receive(&mut client, "push-b", false, Duration::from_secs(2)).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(status.code(), Code::MessageNotFound);
    drop(tx);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_maximum_renewal_time_a_push_delivery_comes_back() {
    let f = Fixture::start_config(|_| {}, short_renewal(Duration::from_millis(1500))).await;
    f.create_topic(TOPIC, 1, None);
    let mut client = f.plain().await;
    let tx = open_session(&f, "push-a").await;
    send(&mut client, &[("00000000000000000000000000000001", "slow")]).await;
    let (got, status) = receive(&mut client, "push-a", true, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(got.iter().map(body).collect::<Vec<_>>(), ["slow"]);
    // The client lives on, but its listener took too long: the endpoint gives the delivery up as
    // a failed attempt, and the group gets the message again after the first attempt's backoff
    // (1 s), not as soon as the last renewal ends.
    let (again, status) = receive(&mut client, "push-b", false, Duration::from_secs(10)).await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(again.iter().map(body).collect::<Vec<_>>(), ["slow"]);
    let attempt = |m: &Message| {
        m.system_properties
            .as_ref()
            .and_then(|s| s.delivery_attempt)
    };
    assert_eq!(attempt(&again[0]), Some(2));
    let first = pop_time_ms(&handle(&got[0]));
    let second = pop_time_ms(&handle(&again[0]));
    assert!(
        second >= first + 1500 + 1000,
        "delivered again {} ms after the first delivery: before the maximum renewal time and the backoff",
        second - first
    );
    drop(tx);
    f.shutdown().await;
}
