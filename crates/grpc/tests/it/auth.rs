//! ACL 2.0 on the v5 endpoint over real TCP: a broker with authentication and authorization on,
//! users created at run time through its remoting admin requests (signed by the super user), and
//! v5 calls signed as the official clients sign them (`authorization`, `x-mq-date-time`).

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{message, read_topic, request, resource, wait_for_messages, Fixture};
use ferromq_auth::grpc::{authorization_value, format_date_time, AUTHORIZATION, DATE_TIME};
use ferromq_auth::wire::{AclInfo, PolicyEntryInfo, PolicyInfo, UserInfo};
use ferromq_auth::Credentials;
use ferromq_broker::config::auth::InitUser;
use ferromq_broker::BrokerConfig;
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_proto::v2::{
    receive_message_response, settings::PubSub, telemetry_command::Command, AckMessageEntry,
    AckMessageRequest, ChangeInvisibleDurationRequest, ClientType, EndTransactionRequest,
    FilterExpression, ForwardMessageToDeadLetterQueueRequest, GetOffsetRequest, HeartbeatRequest,
    Message, MessageQueue, NotifyClientTerminationRequest, Publishing, PullMessageRequest,
    QueryAssignmentRequest, QueryOffsetRequest, QueryRouteRequest, RecallMessageRequest,
    ReceiveMessageRequest, SendMessageRequest, Settings, Subscription, SubscriptionEntry,
    SyncLiteSubscriptionRequest, TelemetryCommand, UpdateOffsetRequest,
};
use ferromq_proto::{Code, Status};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tonic::transport::Channel;

const ROOT: (&str, &str) = ("root", "root-secret");
const ALICE: (&str, &str) = ("alice", "alice-secret");
/// A user with no ACL at all.
const BOB: (&str, &str) = ("bob", "bob-secret");
const GROUP: &str = "alice-consumers";

fn secured(c: &mut BrokerConfig) {
    c.authentication_enabled = true;
    c.authorization_enabled = true;
    c.init_authentication_user = Some(InitUser {
        username: ROOT.0.into(),
        password: ROOT.1.into(),
    });
}

fn now_secs() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_secs()).expect("fits")
}

/// Sends one admin request signed by root over the broker's remoting port.
async fn admin(f: &Fixture, code: RequestCode, field: (&str, &str), body: Vec<u8>) {
    let mut cmd = RemotingCommand::request(code)
        .with_ext(field.0, field.1)
        .with_body(body);
    Credentials::new(ROOT.0, ROOT.1).sign(&mut cmd);
    let client = f.cluster.broker_client().await;
    let resp = client
        .request(cmd, Duration::from_secs(10))
        .await
        .expect("admin request");
    assert_eq!(resp.code, ResponseCode::SUCCESS.0, "{:?}", resp.remark);
}

fn entry(resource: &str, actions: &[&str]) -> PolicyEntryInfo {
    PolicyEntryInfo {
        resource: resource.into(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        source_ips: Vec::new(),
        decision: "Allow".into(),
    }
}

/// A secured broker with topics `allowed` and `secret`; alice may publish and subscribe `allowed`
/// with groups `alice-*`; bob exists with no ACL.
async fn secured_fixture() -> Fixture {
    let f = Fixture::start_with(secured).await;
    f.create_topic("allowed", 2, None);
    f.create_topic("secret", 2, None);
    for (name, password) in [ALICE, BOB] {
        let user = UserInfo {
            username: Some(name.into()),
            password: Some(password.into()),
            user_type: Some("Normal".into()),
            user_status: None,
        };
        let body = serde_json::to_vec(&user).expect("json");
        admin(&f, RequestCode::AUTH_CREATE_USER, ("username", name), body).await;
    }
    let acl = AclInfo {
        subject: Some("User:alice".into()),
        policies: vec![PolicyInfo {
            policy_type: Some("Custom".into()),
            entries: vec![
                entry("Topic:allowed", &["Pub", "Sub"]),
                entry("Group:alice-*", &["Sub"]),
            ],
        }],
    };
    let body = serde_json::to_vec(&acl).expect("json");
    admin(
        &f,
        RequestCode::AUTH_CREATE_ACL,
        ("subject", "User:alice"),
        body,
    )
    .await;
    f
}

/// How a call is signed.
#[derive(Clone, Copy)]
enum Signing<'a> {
    Unsigned,
    /// As a client with these credentials signs, `skew` seconds off the broker's clock.
    As((&'a str, &'a str), i64),
    /// Signed by `who`, then one hex digit of the signature changed.
    Tampered((&'a str, &'a str)),
}

fn signed<T>(signing: Signing<'_>, message: T) -> tonic::Request<T> {
    let mut r = request("auth-test-client", message);
    let (header, date) = match signing {
        Signing::Unsigned => return r,
        Signing::As((ak, sk), skew) => {
            let date = format_date_time(now_secs() + skew);
            (authorization_value(ak, sk, &date), date)
        }
        Signing::Tampered((ak, sk)) => {
            let date = format_date_time(now_secs());
            let mut header = authorization_value(ak, sk, &date);
            let last = header.pop().expect("a signature");
            header.push(if last == '0' { '1' } else { '0' });
            (header, date)
        }
    };
    let m = r.metadata_mut();
    m.insert(AUTHORIZATION, header.parse().expect("ascii"));
    m.insert(DATE_TIME, date.parse().expect("ascii"));
    r
}

fn alice() -> Signing<'static> {
    Signing::As(ALICE, 0)
}

async fn send(
    client: &mut MessagingServiceClient<Channel>,
    signing: Signing<'_>,
    topic: &str,
    body: &str,
) -> Status {
    // Distinct bodies, distinct ids.
    let hash = body.bytes().fold(0u128, |h, b| {
        h.wrapping_mul(131).wrapping_add(u128::from(b))
    });
    let id = format!("{hash:032X}");
    client
        .send_message(signed(
            signing,
            SendMessageRequest {
                messages: vec![message(topic, &id, body.as_bytes())],
            },
        ))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status")
}

fn queue(topic: &str) -> Option<MessageQueue> {
    Some(MessageQueue {
        topic: resource(topic),
        id: -1,
        ..MessageQueue::default()
    })
}

fn receive_request(topic: &str, group: &str) -> ReceiveMessageRequest {
    ReceiveMessageRequest {
        group: resource(group),
        message_queue: queue(topic),
        filter_expression: None,
        batch_size: 32,
        invisible_duration: Some(prost_types::Duration {
            seconds: 30,
            nanos: 0,
        }),
        auto_renew: false,
        long_polling_timeout: Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        }),
        attempt_id: None,
    }
}

async fn receive(
    client: &mut MessagingServiceClient<Channel>,
    signing: Signing<'_>,
    topic: &str,
    group: &str,
) -> (Vec<Message>, Status) {
    let mut stream = client
        .receive_message(signed(signing, receive_request(topic, group)))
        .await
        .expect("rpc")
        .into_inner();
    let (mut messages, mut status) = (Vec::new(), None);
    while let Some(item) = stream.message().await.expect("stream") {
        match item.content.expect("content") {
            receive_message_response::Content::Message(m) => messages.push(*m),
            receive_message_response::Content::Status(s) => status = Some(s),
            receive_message_response::Content::DeliveryTimestamp(_) => {}
        }
    }
    (messages, status.expect("a status ends every receive"))
}

fn body(m: &Message) -> String {
    String::from_utf8(m.body.to_vec()).expect("utf-8")
}

fn receipt(m: &Message) -> String {
    m.system_properties
        .as_ref()
        .and_then(|s| s.receipt_handle.clone())
        .expect("a receipt handle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_user_sends_and_receives_every_body() {
    let f = secured_fixture().await;
    let mut client = f.plain().await;
    let route = client
        .query_route(signed(
            alice(),
            QueryRouteRequest {
                topic: resource("allowed"),
                endpoints: None,
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = route.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert!(!route.message_queues.is_empty());

    let sent: BTreeSet<String> = (0..10).map(|i| format!("order-{i}")).collect();
    for b in &sent {
        let s = send(&mut client, alice(), "allowed", b).await;
        assert_eq!(s.code(), Code::Ok, "{}", s.message);
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < sent.len() && Instant::now() < deadline {
        let (messages, status) = receive(&mut client, alice(), "allowed", GROUP).await;
        assert!(
            matches!(status.code(), Code::Ok | Code::MessageNotFound),
            "{status:?}"
        );
        if !messages.is_empty() {
            let ack = client
                .ack_message(signed(
                    alice(),
                    AckMessageRequest {
                        group: resource(GROUP),
                        topic: resource("allowed"),
                        entries: messages
                            .iter()
                            .map(|m| AckMessageEntry {
                                message_id: String::new(),
                                receipt_handle: receipt(m),
                                lite_topic: None,
                            })
                            .collect(),
                    },
                ))
                .await
                .expect("rpc")
                .into_inner()
                .status
                .expect("status");
            assert_eq!(ack.code(), Code::Ok, "{}", ack.message);
        }
        got.extend(messages);
    }
    assert_eq!(got.len(), sent.len(), "nothing lost, nothing twice");
    assert_eq!(got.iter().map(body).collect::<BTreeSet<_>>(), sent);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_calls_are_refused_and_store_nothing() {
    let f = secured_fixture().await;
    let mut client = f.plain().await;
    let cases = [
        ("no header", Signing::Unsigned, "no authorization metadata"),
        (
            "wrong secret",
            Signing::As(("alice", "not-the-secret"), 0),
            "check signature failed",
        ),
        (
            "unknown user",
            Signing::As(("mallory", "x"), 0),
            "user mallory is not found",
        ),
        (
            "stale x-mq-date-time",
            Signing::As(ALICE, -3600),
            "away from the broker's clock",
        ),
        (
            "tampered signature",
            Signing::Tampered(ALICE),
            "check signature failed",
        ),
    ];
    for (case, signing, says) in cases {
        let s = send(&mut client, signing, "allowed", case).await;
        assert_eq!(s.code(), Code::Unauthorized, "{case}: {}", s.message);
        assert!(s.message.contains(says), "{case}: {}", s.message);
        let (messages, s) = receive(&mut client, signing, "allowed", GROUP).await;
        assert!(messages.is_empty(), "{case}");
        assert_eq!(s.code(), Code::Unauthorized, "{case}: {}", s.message);
    }
    // The refused callers did not disturb anyone: alice's one message is all the topic holds.
    let s = send(&mut client, alice(), "allowed", "the only one").await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    let stored = wait_for_messages(&f.service(), "allowed", 1).await;
    let bodies: Vec<&[u8]> = stored.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(bodies, [b"the only one".as_slice()]);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_allowed_on_one_topic_is_forbidden_on_another() {
    let f = secured_fixture().await;
    let mut client = f.plain().await;
    let s = send(&mut client, alice(), "secret", "leak").await;
    assert_eq!(s.code(), Code::Forbidden, "{}", s.message);
    for part in ["User:alice", "Pub", "Topic:secret"] {
        assert!(s.message.contains(part), "{part} in {}", s.message);
    }
    let (messages, s) = receive(&mut client, alice(), "secret", GROUP).await;
    assert!(messages.is_empty());
    assert_eq!(s.code(), Code::Forbidden, "{}", s.message);
    assert!(s.message.contains("Sub on Topic:secret"), "{}", s.message);
    // The topic is allowed but the group is not.
    let (_, s) = receive(&mut client, alice(), "allowed", "other-group").await;
    assert_eq!(s.code(), Code::Forbidden, "{}", s.message);
    assert!(
        s.message.contains("Sub on Group:other-group"),
        "{}",
        s.message
    );
    // A batch with one forbidden topic is refused whole.
    let reply = client
        .send_message(signed(
            alice(),
            SendMessageRequest {
                messages: vec![
                    message("allowed", &format!("{:032X}", 1), b"fine"),
                    message("secret", &format!("{:032X}", 2), b"leak"),
                ],
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Forbidden);
    assert!(read_topic(&f.service(), "secret").await.is_empty());
    assert!(read_topic(&f.service(), "allowed").await.is_empty());
    f.shutdown().await;
}

fn settings_command(pub_sub: PubSub) -> TelemetryCommand {
    TelemetryCommand {
        status: None,
        command: Some(Command::Settings(Settings {
            client_type: Some(match pub_sub {
                PubSub::Publishing(_) => ClientType::Producer as i32,
                _ => ClientType::SimpleConsumer as i32,
            }),
            pub_sub: Some(pub_sub),
            ..Settings::default()
        })),
    }
}

/// Opens a telemetry stream signed as `signing`, sends `command`, and returns the first answer.
async fn telemetry(
    client: &mut MessagingServiceClient<Channel>,
    signing: Signing<'_>,
    command: TelemetryCommand,
) -> Result<TelemetryCommand, tonic::Status> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(command).await.expect("queued");
    let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut inbound = client
        .telemetry(signed(signing, outbound))
        .await?
        .into_inner();
    let first = inbound.message().await?;
    drop(tx);
    Ok(first.expect("an answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_settings_are_authenticated_and_authorized() {
    let f = secured_fixture().await;
    let mut client = f.plain().await;
    let publishing = |topic: &str| {
        settings_command(PubSub::Publishing(Publishing {
            topics: vec![resource(topic).expect("set")],
            ..Publishing::default()
        }))
    };
    let subscribing = |topic: &str, group: &str| {
        settings_command(PubSub::Subscription(Subscription {
            group: resource(group),
            subscriptions: vec![SubscriptionEntry {
                topic: resource(topic),
                expression: Some(FilterExpression {
                    expression: "*".into(),
                    ..FilterExpression::default()
                }),
            }],
            ..Subscription::default()
        }))
    };
    let ok = telemetry(&mut client, alice(), publishing("allowed"))
        .await
        .expect("settings accepted");
    assert_eq!(ok.status.expect("status").code(), Code::Ok);
    let ok = telemetry(&mut client, alice(), subscribing("allowed", GROUP))
        .await
        .expect("settings accepted");
    assert_eq!(ok.status.expect("status").code(), Code::Ok);

    let e = telemetry(&mut client, Signing::Unsigned, publishing("allowed"))
        .await
        .expect_err("unsigned");
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    let e = telemetry(&mut client, Signing::Tampered(ALICE), publishing("allowed"))
        .await
        .expect_err("tampered");
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    let e = telemetry(&mut client, alice(), publishing("secret"))
        .await
        .expect_err("denied topic");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e}");
    assert!(e.message().contains("Pub on Topic:secret"), "{e}");
    let e = telemetry(&mut client, alice(), subscribing("allowed", "other-group"))
        .await
        .expect_err("denied group");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e}");
    assert!(e.message().contains("User:alice"), "{e}");
    f.shutdown().await;
}

/// bob has no ACL: every RPC the endpoint serves, each naming topic `allowed` and a group, must
/// come back FORBIDDEN by a policy decision (not UNAUTHORIZED, not "not covered", not served).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_is_checked_against_the_table() {
    let f = secured_fixture().await;
    let mut c = f.plain().await;
    let bob = Signing::As(BOB, 0);
    let group = resource("bob-group");
    let topic = resource("allowed");
    let mut answers: Vec<(&str, Status)> = Vec::new();
    macro_rules! unary {
        ($name:literal, $method:ident, $req:expr) => {{
            let reply = c
                .$method(signed(bob, $req))
                .await
                .expect("rpc")
                .into_inner();
            answers.push(($name, reply.status.expect("status")));
        }};
    }
    unary!(
        "QueryRoute",
        query_route,
        QueryRouteRequest {
            topic: topic.clone(),
            endpoints: None
        }
    );
    unary!(
        "Heartbeat",
        heartbeat,
        HeartbeatRequest {
            group: group.clone(),
            client_type: ClientType::SimpleConsumer as i32
        }
    );
    unary!(
        "SendMessage",
        send_message,
        SendMessageRequest {
            messages: vec![message("allowed", &format!("{:032X}", 9), b"bob")]
        }
    );
    unary!(
        "QueryAssignment",
        query_assignment,
        QueryAssignmentRequest {
            topic: topic.clone(),
            group: group.clone(),
            endpoints: None
        }
    );
    unary!(
        "AckMessage",
        ack_message,
        AckMessageRequest {
            group: group.clone(),
            topic: topic.clone(),
            entries: Vec::new()
        }
    );
    unary!(
        "ForwardMessageToDeadLetterQueue",
        forward_message_to_dead_letter_queue,
        ForwardMessageToDeadLetterQueueRequest {
            group: group.clone(),
            topic: topic.clone(),
            ..ForwardMessageToDeadLetterQueueRequest::default()
        }
    );
    unary!(
        "UpdateOffset",
        update_offset,
        UpdateOffsetRequest {
            group: group.clone(),
            message_queue: queue("allowed"),
            offset: 0
        }
    );
    unary!(
        "GetOffset",
        get_offset,
        GetOffsetRequest {
            group: group.clone(),
            message_queue: queue("allowed")
        }
    );
    unary!(
        "QueryOffset",
        query_offset,
        QueryOffsetRequest {
            message_queue: queue("allowed"),
            ..QueryOffsetRequest::default()
        }
    );
    unary!(
        "EndTransaction",
        end_transaction,
        EndTransactionRequest {
            topic: topic.clone(),
            ..EndTransactionRequest::default()
        }
    );
    unary!(
        "NotifyClientTermination",
        notify_client_termination,
        NotifyClientTerminationRequest {
            group: group.clone()
        }
    );
    unary!(
        "ChangeInvisibleDuration",
        change_invisible_duration,
        ChangeInvisibleDurationRequest {
            group: group.clone(),
            topic: topic.clone(),
            ..ChangeInvisibleDurationRequest::default()
        }
    );
    unary!(
        "RecallMessage",
        recall_message,
        RecallMessageRequest {
            topic: topic.clone(),
            recall_handle: String::new()
        }
    );
    unary!(
        "SyncLiteSubscription",
        sync_lite_subscription,
        SyncLiteSubscriptionRequest {
            topic: topic.clone(),
            group: group.clone(),
            ..SyncLiteSubscriptionRequest::default()
        }
    );
    let (_, s) = receive(&mut c, bob, "allowed", "bob-group").await;
    answers.push(("ReceiveMessage", s));
    let mut pull = c
        .pull_message(signed(
            bob,
            PullMessageRequest {
                group: group.clone(),
                message_queue: queue("allowed"),
                ..PullMessageRequest::default()
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let first = pull.message().await.expect("stream").expect("an answer");
    let Some(ferromq_proto::v2::pull_message_response::Content::Status(s)) = first.content else {
        panic!("PullMessage answered {first:?}");
    };
    answers.push(("PullMessage", s));
    let e = telemetry(
        &mut c,
        bob,
        settings_command(PubSub::Publishing(Publishing {
            topics: vec![resource("allowed").expect("set")],
            ..Publishing::default()
        })),
    )
    .await
    .expect_err("bob may not publish");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "Telemetry: {e}");
    assert!(
        e.message().contains("no matched acl policy"),
        "Telemetry: {e}"
    );
    answers.push(("Telemetry", Status::new(Code::Forbidden, e.message())));

    for (rpc, s) in &answers {
        assert_eq!(s.code(), Code::Forbidden, "{rpc}: {}", s.message);
        assert!(
            s.message.contains("User:bob") && s.message.contains("no matched acl policy"),
            "{rpc}: {}",
            s.message
        );
    }
    let called: BTreeSet<&str> = answers.iter().map(|(rpc, _)| *rpc).collect();
    let served: BTreeSet<&str> = ferromq_grpc::SERVED_RPCS.iter().copied().collect();
    assert_eq!(called, served, "this test calls every served RPC");
    assert!(read_topic(&f.service(), "allowed").await.is_empty());
    f.shutdown().await;
}
