//! Routes, assignments, the telemetry settings exchange, heartbeats, RPCs not served yet, and bad
//! input on the port: each answered with a status, the server serving others throughout.

use crate::common;

use std::time::Duration;

use common::{plain_client, request, resource, Fixture};
use ferromq_proto::v2::{
    pull_message_response, receive_message_response, retry_policy::Strategy, settings::PubSub,
    telemetry_command::Command, AckMessageRequest, AddressScheme, ClientType, HeartbeatRequest,
    MessageType, NotifyClientTerminationRequest, Permission, Publishing, PullMessageRequest,
    QueryAssignmentRequest, QueryRouteRequest, ReceiveMessageRequest, Settings, Subscription,
    TelemetryCommand,
};
use ferromq_proto::Code;
use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn route_request(topic: &str) -> QueryRouteRequest {
    QueryRouteRequest {
        topic: resource(topic),
        endpoints: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_names_every_queue_at_this_endpoint_with_the_topic_message_type() {
    let f = Fixture::start().await;
    f.create_topic("normal-topic", 4, None);
    f.create_topic("fifo-topic", 2, Some("FIFO"));
    f.create_topic("mixed-topic", 1, Some("MIXED"));
    let mut client = f.plain().await;

    let reply = client
        .query_route(request("c", route_request("normal-topic")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    let ids: Vec<i32> = reply.message_queues.iter().map(|q| q.id).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    let advertised = f.grpc.advertised_addr();
    for q in &reply.message_queues {
        assert_eq!(q.permission(), Permission::ReadWrite);
        assert_eq!(q.accept_message_types, [MessageType::Normal as i32]);
        assert_eq!(q.topic.as_ref().expect("topic").name, "normal-topic");
        let broker = q.broker.as_ref().expect("broker");
        assert_eq!(broker.id, 0);
        assert!(!broker.name.is_empty());
        let endpoints = broker.endpoints.as_ref().expect("endpoints");
        assert_eq!(endpoints.scheme(), AddressScheme::IPv4);
        assert_eq!(endpoints.addresses.len(), 1);
        assert_eq!(endpoints.addresses[0].host, advertised.ip().to_string());
        assert_eq!(endpoints.addresses[0].port, i32::from(advertised.port()));
    }

    let reply = client
        .query_route(request("c", route_request("fifo-topic")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.message_queues.len(), 2);
    assert_eq!(
        reply.message_queues[0].accept_message_types,
        [MessageType::Fifo as i32]
    );

    let reply = client
        .query_route(request("c", route_request("mixed-topic")))
        .await
        .expect("rpc")
        .into_inner();
    let mut types = reply.message_queues[0].accept_message_types.clone();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            MessageType::Normal,
            MessageType::Fifo,
            MessageType::Delay,
            MessageType::Transaction
        ]
        .map(|t| t as i32)
    );

    let reply = client
        .query_route(request("c", route_request("missing-topic")))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::TopicNotFound);
    assert!(
        status.message.contains("missing-topic"),
        "{}",
        status.message
    );
    assert!(reply.message_queues.is_empty());
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_plaintext_share_one_port() {
    let f = Fixture::start().await;
    f.create_topic("t", 1, None);
    let mut tls = f.tls().await;
    let mut plain = f.plain().await;
    for client in [&mut tls, &mut plain] {
        let reply = client
            .query_route(request("c", route_request("t")))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(reply.status.expect("status").code(), Code::Ok);
        assert_eq!(reply.message_queues.len(), 1);
    }
    f.shutdown().await;
}

fn producer_settings(topic: &str) -> Settings {
    Settings {
        client_type: Some(ClientType::Producer as i32),
        request_timeout: Some(prost_types::Duration {
            seconds: 3,
            nanos: 0,
        }),
        pub_sub: Some(PubSub::Publishing(Publishing {
            topics: vec![resource(topic).expect("resource")],
            max_body_size: 0,
            validate_message_type: false,
        })),
        ..Settings::default()
    }
}

/// Opens a telemetry stream, sends `settings`, returns the first answer.
async fn exchange(
    f: &Fixture,
    client_id: &str,
    settings: Settings,
) -> Result<TelemetryCommand, tonic::Status> {
    let mut client = f.plain().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(TelemetryCommand {
        status: None,
        command: Some(Command::Settings(settings)),
    })
    .await
    .expect("queue the settings");
    let mut inbound = client
        .telemetry(request(
            client_id,
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .await?
        .into_inner();
    let first = inbound.message().await?.expect("an answer");
    // Keep the stream open until the answer is read, then let it go.
    drop(tx);
    Ok(first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_answers_settings_and_heartbeats_need_them() {
    let f = Fixture::start().await;
    f.create_topic("t", 1, None);
    f.service()
        .create_group(SubscriptionGroupConfig {
            group_name: "orderly-group".to_owned(),
            consume_message_orderly: true,
            retry_max_times: 5,
            ..SubscriptionGroupConfig::default()
        })
        .expect("create group");
    let mut client = f.plain().await;

    // Before its settings, a client is unknown; without an id, the request is refused.
    let hb = |group: Option<&str>| HeartbeatRequest {
        group: group.and_then(resource),
        client_type: ClientType::Producer as i32,
    };
    let s = client
        .heartbeat(request("producer-1", hb(None)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::UnrecognizedClientType);
    let s = client
        .heartbeat(tonic::Request::new(hb(None)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::ClientIdRequired);

    let answer = exchange(&f, "producer-1", producer_settings("t"))
        .await
        .expect("settings answered");
    assert_eq!(answer.status.expect("status").code(), Code::Ok);
    let Some(Command::Settings(ours)) = answer.command else {
        panic!("not settings: {:?}", answer.command);
    };
    let Some(PubSub::Publishing(p)) = ours.pub_sub else {
        panic!("not publishing");
    };
    assert_eq!(p.max_body_size, 4 * 1024 * 1024);
    assert!(p.validate_message_type);
    let backoff = ours.backoff_policy.expect("backoff");
    assert_eq!(backoff.max_attempts, 3);
    assert!(matches!(
        backoff.strategy,
        Some(Strategy::ExponentialBackoff(_))
    ));

    let s = client
        .heartbeat(request("producer-1", hb(None)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::Ok, "{}", s.message);

    let consumer = Settings {
        client_type: Some(ClientType::PushConsumer as i32),
        pub_sub: Some(PubSub::Subscription(Subscription {
            group: resource("orderly-group"),
            ..Subscription::default()
        })),
        ..Settings::default()
    };
    let answer = exchange(&f, "consumer-1", consumer)
        .await
        .expect("answered");
    let Some(Command::Settings(ours)) = answer.command else {
        panic!("not settings");
    };
    let Some(PubSub::Subscription(sub)) = ours.pub_sub else {
        panic!("not subscription");
    };
    assert_eq!(sub.fifo, Some(true));
    assert_eq!(sub.receive_batch_size, Some(32));
    assert_eq!(sub.long_polling_timeout.expect("long polling").seconds, 20);
    let backoff = ours.backoff_policy.expect("backoff");
    assert_eq!(backoff.max_attempts, 6);
    assert!(
        matches!(backoff.strategy, Some(Strategy::CustomizedBackoff(ref c)) if c.next.len() == 18)
    );

    // Settings that are neither publishing nor subscription fail the stream with a reason.
    let err = exchange(&f, "odd-1", Settings::default())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(!err.message().is_empty());

    let s = client
        .notify_client_termination(request(
            "producer-1",
            NotifyClientTerminationRequest { group: None },
        ))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::Ok);
    let s = client
        .heartbeat(request("producer-1", hb(None)))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(
        s.code(),
        Code::UnrecognizedClientType,
        "forgotten after termination"
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_is_the_whole_broker_or_each_queue_for_orderly_groups() {
    let f = Fixture::start().await;
    f.create_topic("t", 3, None);
    f.service()
        .create_group(SubscriptionGroupConfig {
            group_name: "orderly".to_owned(),
            consume_message_orderly: true,
            ..SubscriptionGroupConfig::default()
        })
        .expect("create group");
    let mut client = f.plain().await;
    let ask = |group: &str| QueryAssignmentRequest {
        topic: resource("t"),
        group: resource(group),
        endpoints: None,
    };
    let reply = client
        .query_assignment(request("c", ask("concurrent")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    let ids: Vec<i32> = reply
        .assignments
        .iter()
        .map(|a| a.message_queue.as_ref().expect("queue").id)
        .collect();
    assert_eq!(ids, [-1]);
    let reply = client
        .query_assignment(request("c", ask("orderly")))
        .await
        .expect("rpc")
        .into_inner();
    let ids: Vec<i32> = reply
        .assignments
        .iter()
        .map(|a| a.message_queue.as_ref().expect("queue").id)
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    f.shutdown().await;
}

/// A pull that names no group is refused with a status, and its stream ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_without_a_group_is_refused_at_once() {
    let f = Fixture::start().await;
    let mut client = f.plain().await;
    let mut stream = client
        .pull_message(request("c", PullMessageRequest::default()))
        .await
        .expect("rpc")
        .into_inner();
    let first = stream.message().await.expect("element").expect("a status");
    let Some(pull_message_response::Content::Status(s)) = first.content else {
        panic!("not a status: {first:?}");
    };
    assert_eq!(s.code(), Code::IllegalConsumerGroup, "{}", s.message);
    assert!(
        stream.message().await.expect("end").is_none(),
        "the stream ends"
    );
    f.shutdown().await;
}

/// A receive or ack that names no group is refused with a status, not served or hung.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_and_acks_without_a_group_are_refused() {
    let f = Fixture::start().await;
    let mut client = f.plain().await;
    let mut stream = client
        .receive_message(request("c", ReceiveMessageRequest::default()))
        .await
        .expect("rpc")
        .into_inner();
    let first = stream.message().await.expect("element").expect("a status");
    let Some(receive_message_response::Content::Status(s)) = first.content else {
        panic!("not a status: {first:?}");
    };
    assert_eq!(s.code(), Code::IllegalConsumerGroup, "{}", s.message);
    assert!(stream.message().await.expect("end").is_none());
    let s = client
        .ack_message(request("c", AckMessageRequest::default()))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(s.code(), Code::IllegalConsumerGroup, "{}", s.message);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_port_is_dropped_and_others_are_served() {
    let f = Fixture::start().await;
    f.create_topic("t", 1, None);
    let addr = f.grpc.local_addr();
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        // Looks like TLS for one byte, then is not.
        &[
            0x16, 0xff, 0xff, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        ],
        &[0u8; 64],
    ];
    for bytes in garbage {
        let mut raw = tokio::net::TcpStream::connect(addr).await.expect("connect");
        raw.write_all(bytes).await.expect("write");
        // The server closes the connection (possibly after an HTTP/2 GOAWAY or a TLS alert).
        let mut sink = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), raw.read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "the server should close a garbage connection");
    }
    let mut client = plain_client(addr).await;
    let reply = client
        .query_route(request("c", route_request("t")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    let mut tls = f.tls().await;
    let reply = tls
        .query_route(request("c", route_request("t")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_certificate_is_served_for_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).expect("write cert");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
    let config = ferromq_grpc::GrpcConfig {
        advertised: None,
        tls: Some(ferromq_grpc::TlsFiles { cert, key }),
        ..ferromq_grpc::GrpcConfig::default()
    };
    let f = Fixture::start_config(|_| {}, config).await;
    f.create_topic("t", 1, None);
    // The served certificate is the configured one, and a client trusting only it connects.
    assert_eq!(f.grpc.certificate_pem(), generated.cert.pem());
    let mut tls = f.tls().await;
    let reply = tls
        .query_route(request("c", route_request("t")))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_without_a_client_id_is_refused() {
    let f = Fixture::start().await;
    let mut client = f.plain().await;
    let (_tx, rx) = tokio::sync::mpsc::channel::<TelemetryCommand>(1);
    let err = client
        .telemetry(tonic::Request::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("x-mq-client-id"),
        "{}",
        err.message()
    );
    f.shutdown().await;
}
