//! ReceiveMessage, AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue over a
//! real TCP connection: what a v5 SimpleConsumer does, checked message by message.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{message, request, resource, Fixture};
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::{
    AckMessageEntry, AckMessageRequest, ChangeInvisibleDurationRequest, FilterExpression,
    FilterType, ForwardMessageToDeadLetterQueueRequest, Message, MessageQueue,
    ReceiveMessageRequest, SendMessageRequest,
};
use ferromq_proto::{Code, Status};
use tonic::transport::Channel;

const GROUP: &str = "simple-group";

fn pb_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).expect("fits"),
        nanos: i32::try_from(d.subsec_nanos()).expect("fits"),
    }
}

async fn send(client: &mut MessagingServiceClient<Channel>, topic: &str, bodies: &[&str]) {
    for (i, body) in bodies.iter().enumerate() {
        let mut m = message(topic, &format!("{:032X}", i + 1), body.as_bytes());
        m.system_properties.as_mut().expect("set").tag =
            Some(if i % 2 == 0 { "even" } else { "odd" }.into());
        let reply = client
            .send_message(request(
                "producer",
                SendMessageRequest { messages: vec![m] },
            ))
            .await
            .expect("rpc")
            .into_inner();
        let status = reply.status.expect("status");
        assert_eq!(status.code(), Code::Ok, "{}", status.message);
    }
}

/// The receive a SimpleConsumer of GROUP sends: any queue of `topic`, batch 32.
fn receive_request(
    topic: &str,
    filter: Option<FilterExpression>,
    invisible: Duration,
    poll: Duration,
) -> ReceiveMessageRequest {
    ReceiveMessageRequest {
        group: resource(GROUP),
        message_queue: Some(MessageQueue {
            topic: resource(topic),
            id: -1,
            ..MessageQueue::default()
        }),
        filter_expression: filter,
        batch_size: 32,
        invisible_duration: Some(pb_duration(invisible)),
        auto_renew: false,
        long_polling_timeout: Some(pb_duration(poll)),
        attempt_id: None,
    }
}

/// One receive: the messages and the final status.
async fn receive(
    client: &mut MessagingServiceClient<Channel>,
    topic: &str,
    filter: Option<FilterExpression>,
    invisible: Duration,
    poll: Duration,
) -> (Vec<Message>, Status) {
    run_receive(client, receive_request(topic, filter, invisible, poll)).await
}

async fn run_receive(
    client: &mut MessagingServiceClient<Channel>,
    req: ReceiveMessageRequest,
) -> (Vec<Message>, Status) {
    let mut stream = client
        .receive_message(request("consumer", req))
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

fn handle(m: &Message) -> String {
    m.system_properties
        .as_ref()
        .and_then(|s| s.receipt_handle.clone())
        .expect("a receipt handle")
}

fn attempt(m: &Message) -> i32 {
    m.system_properties
        .as_ref()
        .and_then(|s| s.delivery_attempt)
        .expect("a delivery attempt")
}

async fn ack(
    client: &mut MessagingServiceClient<Channel>,
    topic: &str,
    handles: &[String],
) -> Status {
    client
        .ack_message(request(
            "consumer",
            AckMessageRequest {
                group: resource(GROUP),
                topic: resource(topic),
                entries: handles
                    .iter()
                    .map(|h| AckMessageEntry {
                        message_id: String::new(),
                        receipt_handle: h.clone(),
                        lite_topic: None,
                    })
                    .collect(),
            },
        ))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status")
}

fn bodies(messages: &[Message]) -> BTreeSet<String> {
    messages
        .iter()
        .map(|m| String::from_utf8(m.body.to_vec()).expect("utf-8"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_received_once_and_acked() {
    let f = Fixture::start().await;
    f.create_topic("pop-orders", 4, None);
    let mut client = f.plain().await;
    let sent: Vec<String> = (0..10).map(|i| format!("order-{i}")).collect();
    send(
        &mut client,
        "pop-orders",
        &sent.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;

    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < sent.len() && Instant::now() < deadline {
        let (messages, status) = receive(
            &mut client,
            "pop-orders",
            None,
            Duration::from_secs(30),
            Duration::from_secs(1),
        )
        .await;
        assert!(
            matches!(status.code(), Code::Ok | Code::MessageNotFound),
            "{status:?}"
        );
        for m in &messages {
            assert_eq!(attempt(m), 1, "first delivery");
        }
        let handles: Vec<String> = messages.iter().map(handle).collect();
        if !handles.is_empty() {
            let s = ack(&mut client, "pop-orders", &handles).await;
            assert_eq!(s.code(), Code::Ok, "{}", s.message);
        }
        got.extend(messages);
    }
    assert_eq!(got.len(), sent.len(), "nothing lost, nothing twice");
    assert_eq!(bodies(&got), sent.iter().cloned().collect());
    // Every message carries the id it was sent with and its tag.
    for m in &got {
        let sys = m.system_properties.as_ref().expect("system properties");
        assert_eq!(sys.message_id.len(), 32, "{sys:?}");
        assert!(sys.tag.is_some());
    }
    // All acked: nothing comes back.
    let (again, status) = receive(
        &mut client,
        "pop-orders",
        None,
        Duration::from_secs(30),
        Duration::from_millis(200),
    )
    .await;
    assert!(
        again.is_empty(),
        "acked messages came back: {:?}",
        bodies(&again)
    );
    assert_eq!(status.code(), Code::MessageNotFound);
    // An ack of a handle already acked is refused, with a message.
    let s = ack(&mut client, "pop-orders", &[handle(&got[0])]).await;
    assert_eq!(s.code(), Code::InvalidReceiptHandle, "{}", s.message);
    assert!(!s.message.is_empty());
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacked_message_comes_back_after_its_invisible_time_with_attempt_two() {
    let f = Fixture::start().await;
    f.create_topic("pop-redeliver", 1, None);
    let mut client = f.plain().await;
    send(&mut client, "pop-redeliver", &["once"]).await;

    let invisible = Duration::from_secs(2);
    let (first, _) = receive(
        &mut client,
        "pop-redeliver",
        None,
        invisible,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(bodies(&first), BTreeSet::from(["once".to_owned()]));
    let received_at = Instant::now();
    // Not acked: it comes back, never before its invisible time, as attempt 2.
    let mut second = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.is_empty() && Instant::now() < deadline {
        second = receive(
            &mut client,
            "pop-redeliver",
            None,
            Duration::from_secs(30),
            Duration::from_secs(5),
        )
        .await
        .0;
    }
    assert!(
        received_at.elapsed() >= invisible - Duration::from_millis(100),
        "came back early"
    );
    assert_eq!(bodies(&second), BTreeSet::from(["once".to_owned()]));
    assert_eq!(attempt(&second[0]), 2);
    // The first delivery's handle is stale now.
    let s = ack(&mut client, "pop-redeliver", &[handle(&first[0])]).await;
    assert_eq!(s.code(), Code::InvalidReceiptHandle, "{}", s.message);
    let s = ack(&mut client, "pop-redeliver", &[handle(&second[0])]).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_invisible_duration_gives_a_new_handle_and_forged_handles_are_refused() {
    let f = Fixture::start().await;
    f.create_topic("pop-change", 1, None);
    let mut client = f.plain().await;
    send(&mut client, "pop-change", &["a"]).await;
    let (got, _) = receive(
        &mut client,
        "pop-change",
        None,
        Duration::from_secs(30),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(got.len(), 1);
    let old = handle(&got[0]);
    let changed = client
        .change_invisible_duration(request(
            "consumer",
            ChangeInvisibleDurationRequest {
                group: resource(GROUP),
                topic: resource("pop-change"),
                receipt_handle: old.clone(),
                invisible_duration: Some(pb_duration(Duration::from_secs(60))),
                message_id: String::new(),
                lite_topic: None,
                suspend: None,
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(
        changed.status.as_ref().map(Status::code),
        Some(Code::Ok),
        "{changed:?}"
    );
    assert_ne!(changed.receipt_handle, old);
    assert_eq!(
        ack(&mut client, "pop-change", std::slice::from_ref(&old))
            .await
            .code(),
        Code::InvalidReceiptHandle
    );
    for forged in ["", "garbage", &old.replace('1', "2")] {
        let s = ack(&mut client, "pop-change", &[forged.to_owned()]).await;
        assert_eq!(
            s.code(),
            Code::InvalidReceiptHandle,
            "{forged:?}: {}",
            s.message
        );
    }
    let s = ack(&mut client, "pop-change", &[changed.receipt_handle]).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    f.shutdown().await;
}

/// A push consumer whose listener failed a message and that has no backoff of its own (the
/// Node.js client with a customized backoff policy) changes the invisible time to zero: the
/// message must come back at once, as RocketMQ's proxy allows, not be refused (the client would
/// retry the refused change forever and never see the message again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_zero_makes_the_message_due_again_at_once() {
    let f = Fixture::start().await;
    f.create_topic("pop-zero", 1, None);
    let mut client = f.plain().await;
    send(&mut client, "pop-zero", &["again"]).await;
    let long = Duration::from_secs(120);
    let (got, _) = receive(&mut client, "pop-zero", None, long, Duration::from_secs(5)).await;
    assert_eq!(bodies(&got), BTreeSet::from(["again".to_owned()]));
    let changed = client
        .change_invisible_duration(request(
            "consumer",
            ChangeInvisibleDurationRequest {
                group: resource(GROUP),
                topic: resource("pop-zero"),
                receipt_handle: handle(&got[0]),
                invisible_duration: Some(pb_duration(Duration::ZERO)),
                message_id: String::new(),
                lite_topic: None,
                suspend: None,
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = changed.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    // well within the 120 s it was first hidden for
    let (again, _) = receive(&mut client, "pop-zero", None, long, Duration::from_secs(20)).await;
    assert_eq!(bodies(&again), BTreeSet::from(["again".to_owned()]));
    assert_eq!(attempt(&again[0]), 2);
    let s = ack(&mut client, "pop-zero", &[handle(&again[0])]).await;
    assert_eq!(s.code(), Code::Ok, "{}", s.message);
    f.shutdown().await;
}

/// A client whose call deadline equals its long-polling time (the crates.io Rust client does
/// this) gets the empty poll's status in time, not a deadline error, and a message sent during the
/// poll is delivered to it rather than popped for nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_within_the_calls_deadline() {
    let f = Fixture::start().await;
    f.create_topic("pop-deadline", 1, None);
    let mut client = f.plain().await;
    let poll = Duration::from_secs(2);
    let call = |client: &mut MessagingServiceClient<Channel>| {
        let mut r = request(
            "consumer",
            receive_request("pop-deadline", None, Duration::from_secs(30), poll),
        );
        r.set_timeout(poll);
        let mut client = client.clone();
        async move {
            let mut stream = client.receive_message(r).await?.into_inner();
            let mut items = Vec::new();
            while let Some(item) = stream.message().await? {
                items.push(item.content.expect("content"));
            }
            Ok::<_, tonic::Status>(items)
        }
    };
    let items = call(&mut client)
        .await
        .expect("answered before the deadline");
    match items.as_slice() {
        [Content::Status(s)] => assert_eq!(s.code(), Code::MessageNotFound, "{}", s.message),
        other => panic!("{other:?}"),
    }
    send(&mut client, "pop-deadline", &["in-time"]).await;
    let items = call(&mut client)
        .await
        .expect("answered before the deadline");
    let got: Vec<Message> = items
        .into_iter()
        .filter_map(|c| match c {
            Content::Message(m) => Some(*m),
            _ => None,
        })
        .collect();
    assert_eq!(bodies(&got), BTreeSet::from(["in-time".to_owned()]));
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_filters_and_dead_lettering_on_request() {
    let f = Fixture::start().await;
    f.create_topic("pop-filter", 2, None);
    let mut client = f.plain().await;
    send(&mut client, "pop-filter", &["m0", "m1", "m2", "m3"]).await;
    let even = FilterExpression {
        r#type: FilterType::Tag as i32,
        expression: "even".into(),
    };
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 2 && Instant::now() < deadline {
        got.extend(
            receive(
                &mut client,
                "pop-filter",
                Some(even.clone()),
                Duration::from_secs(30),
                Duration::from_secs(1),
            )
            .await
            .0,
        );
    }
    assert_eq!(
        bodies(&got),
        BTreeSet::from(["m0".to_owned(), "m2".to_owned()])
    );

    let forwarded = client
        .forward_message_to_dead_letter_queue(request(
            "consumer",
            ForwardMessageToDeadLetterQueueRequest {
                group: resource(GROUP),
                topic: resource("pop-filter"),
                receipt_handle: handle(&got[0]),
                message_id: String::new(),
                delivery_attempt: 1,
                max_delivery_attempts: 16,
                lite_topic: None,
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(
        forwarded.status.as_ref().map(Status::code),
        Some(Code::Ok),
        "{forwarded:?}"
    );
    let dlq = common::wait_for_messages(&f.service(), &format!("%DLQ%{GROUP}"), 1).await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].body, got[0].body.to_vec());
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_receives_get_a_status_with_a_message() {
    let f = Fixture::start().await;
    f.create_topic("pop-bad", 1, None);
    let mut client = f.plain().await;
    // No invisible duration and no auto renew.
    let mut req = receive_request("pop-bad", None, Duration::from_secs(10), Duration::ZERO);
    req.batch_size = 8;
    req.invisible_duration = None;
    req.long_polling_timeout = None;
    let status = first_status(&mut client, req.clone()).await;
    assert_eq!(
        status.code(),
        Code::IllegalInvisibleTime,
        "{}",
        status.message
    );
    req.invisible_duration = Some(pb_duration(Duration::from_secs(10)));
    req.batch_size = 0;
    assert_eq!(
        first_status(&mut client, req.clone()).await.code(),
        Code::BadRequest
    );
    req.batch_size = 8;
    req.message_queue.as_mut().expect("set").topic = resource("no-such-topic");
    let status = first_status(&mut client, req.clone()).await;
    assert_eq!(status.code(), Code::TopicNotFound, "{}", status.message);
    req.message_queue.as_mut().expect("set").topic = resource("pop-bad");
    req.filter_expression = Some(FilterExpression {
        r#type: FilterType::Sql as i32,
        expression: "a >".into(),
    });
    let status = first_status(&mut client, req).await;
    assert_ne!(status.code(), Code::Ok, "bad SQL accepted");
    assert!(!status.message.is_empty());
    f.shutdown().await;
}

async fn first_status(
    client: &mut MessagingServiceClient<Channel>,
    req: ReceiveMessageRequest,
) -> Status {
    run_receive(client, req).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_receive_is_answered_by_a_send() {
    let f = Fixture::start().await;
    f.create_topic("pop-wait", 4, None);
    let mut consumer = f.plain().await;
    let mut producer = f.plain().await;
    let waiting = tokio::spawn(async move {
        receive(
            &mut consumer,
            "pop-wait",
            None,
            Duration::from_secs(30),
            Duration::from_secs(50),
        )
        .await
    });
    // Sent once the receive waits in the broker (a pop parks where a pull does).
    let broker = f.cluster.broker();
    ferromq_testkit::eventually(
        ferromq_testkit::DEFAULT_DEADLINE,
        "the receive to wait",
        || async { (broker.parked_pulls() > 0).then_some(()) },
    )
    .await;
    send(&mut producer, "pop-wait", &["woken"]).await;
    let (messages, status) = waiting.await.expect("receive task");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(bodies(&messages), BTreeSet::from(["woken".to_owned()]));
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_message_is_received_as_delay_with_its_delivery_time() {
    let f = Fixture::start().await;
    f.create_topic("pop-delay", 1, Some("DELAY"));
    let mut client = f.plain().await;
    let deliver_at = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits")
        + 1_000;
    let mut m = message("pop-delay", "delay-1", b"later");
    let sys = m.system_properties.as_mut().expect("set");
    sys.message_type = ferromq_proto::v2::MessageType::Delay as i32;
    sys.delivery_timestamp = Some(prost_types::Timestamp {
        seconds: i64::try_from(deliver_at / 1000).expect("fits"),
        nanos: i32::try_from(deliver_at % 1000 * 1_000_000).expect("fits"),
    });
    let reply = client
        .send_message(request(
            "producer",
            SendMessageRequest { messages: vec![m] },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.is_empty() && Instant::now() < deadline {
        got = receive(
            &mut client,
            "pop-delay",
            None,
            Duration::from_secs(30),
            Duration::from_secs(5),
        )
        .await
        .0;
    }
    assert_eq!(bodies(&got), BTreeSet::from(["later".to_owned()]));
    let sys = got[0]
        .system_properties
        .as_ref()
        .expect("system properties");
    assert_eq!(
        sys.message_type,
        ferromq_proto::v2::MessageType::Delay as i32
    );
    let at = sys
        .delivery_timestamp
        .as_ref()
        .expect("a delivery timestamp");
    assert_eq!(
        (at.seconds, at.nanos),
        (
            i64::try_from(deliver_at / 1000).expect("fits"),
            i32::try_from(deliver_at % 1000 * 1_000_000).expect("fits")
        )
    );
    assert!(!got[0].user_properties.contains_key("TIMER_DEQUEUE_MS"));
    // The body digest is MD5 in upper-case hex, as RocketMQ's proxy sends it.
    let digest = sys.body_digest.as_ref().expect("a digest");
    assert_eq!(digest.r#type, ferromq_proto::v2::DigestType::Md5 as i32);
    // md5("later")
    assert_eq!(digest.checksum, "C18788C2F274C779DA72D9854EA4BFBF");
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_naming_one_queue_gets_the_messages_of_every_queue() {
    let f = Fixture::start().await;
    f.create_topic("pop-spread", 4, None);
    let mut client = f.plain().await;
    let sent: Vec<String> = (0..8).map(|i| format!("spread-{i}")).collect();
    send(
        &mut client,
        "pop-spread",
        &sent.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    // Sends pick queues round robin: all four hold messages once the broker indexed them.
    assert!(
        f.cluster
            .broker()
            .wait_readable(Duration::from_secs(10))
            .await,
        "sends indexed"
    );
    // Name queue 2 only.
    let mut req = receive_request(
        "pop-spread",
        None,
        Duration::from_secs(30),
        Duration::from_secs(1),
    );
    req.message_queue.as_mut().expect("set").id = 2;
    let (got, _) = run_receive(&mut client, req).await;
    assert_eq!(
        bodies(&got),
        sent.iter().cloned().collect(),
        "one receive, every queue"
    );
    let queues: BTreeSet<i32> = got
        .iter()
        .map(|m| m.system_properties.as_ref().expect("set").queue_id)
        .collect();
    assert!(queues.len() > 1, "all from one queue: {queues:?}");
    f.shutdown().await;
}
