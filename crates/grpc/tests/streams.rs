//! Many idle long polls on one endpoint, and a client that vanishes in the middle of one.

// Its own test binary, not a module of `it`: it counts the process's open descriptors, which
// tests running beside it in one process would change.
#[path = "it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{message, plain_client, request, resource, Fixture};
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::{
    AckMessageEntry, AckMessageRequest, Message, MessageQueue, ReceiveMessageRequest,
    SendMessageRequest,
};
use ferromq_proto::{Code, Status};
use tonic::transport::Channel;

const STREAMS: usize = 1_000;
const CONNECTIONS: usize = 10;

/// The descriptor and task counts are process-wide: one test of this file at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn pb_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).expect("fits"),
        nanos: i32::try_from(d.subsec_nanos()).expect("fits"),
    }
}

fn receive_request(topic: &str, group: &str, poll: Duration) -> ReceiveMessageRequest {
    ReceiveMessageRequest {
        group: resource(group),
        message_queue: Some(MessageQueue {
            topic: resource(topic),
            id: -1,
            ..MessageQueue::default()
        }),
        filter_expression: None,
        batch_size: 32,
        invisible_duration: Some(pb_duration(Duration::from_secs(2))),
        auto_renew: false,
        long_polling_timeout: Some(pb_duration(poll)),
        attempt_id: None,
    }
}

async fn receive(
    mut client: MessagingServiceClient<Channel>,
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

async fn send(client: &mut MessagingServiceClient<Channel>, topic: &str, body: &str) {
    let id = format!(
        "{:032X}",
        body.len() + body.bytes().map(usize::from).sum::<usize>()
    );
    let reply = client
        .send_message(request(
            "producer",
            SendMessageRequest {
                messages: vec![message(topic, &id, body.as_bytes())],
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
}

fn bodies(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| String::from_utf8(m.body.to_vec()).expect("utf8"))
        .collect()
}

/// Open sockets, pipes and event descriptors of this process (the broker runs in it too). Files
/// are left out: the store opens them as data arrives (a consume queue of the trace topic, say),
/// which is not a leak.
fn open_fds() -> usize {
    fd_targets().iter().filter(|t| !t.starts_with('/')).count()
}

/// What the open descriptors are, for a failure message.
fn fd_targets() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_long_polls_leave_others_served_and_all_get_an_answer() {
    let _serial = SERIAL.lock().await;
    let f = Fixture::start().await;
    f.create_topic("idle", 4, None);
    f.create_topic("busy", 1, None);
    let addr = f.grpc.local_addr();
    let mut client = f.plain().await;
    // Warm up the normal client's path before taking the baseline.
    send(&mut client, "busy", "warm-up").await;
    let (got, _) = receive(
        client.clone(),
        receive_request("busy", "busy-group", Duration::from_secs(10)),
    )
    .await;
    assert_eq!(bodies(&got), ["warm-up"]);
    let fds_before = open_fds();
    let tasks_before = alive_tasks();
    let listing_before = fd_targets();

    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        connections.push(plain_client(addr).await);
    }
    let poll = Duration::from_secs(5);
    let started = Instant::now();
    let mut idle = tokio::task::JoinSet::new();
    for i in 0..STREAMS {
        let c = connections[i % CONNECTIONS].clone();
        idle.spawn(receive(c, receive_request("idle", "idle-group", poll)));
    }

    // Meanwhile a normal client sends and receives.
    send(&mut client, "busy", "while-idle").await;
    let (got, status) = receive(
        client.clone(),
        receive_request("busy", "busy-group", Duration::from_secs(10)),
    )
    .await;
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    assert_eq!(bodies(&got), ["while-idle"]);
    let served_after = started.elapsed();

    // Every idle stream is answered when its long poll ends: no message, a status saying so.
    let mut answered = 0;
    while let Some(joined) = idle.join_next().await {
        let (messages, status) = joined.expect("receive task");
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(status.code(), Code::MessageNotFound, "{}", status.message);
        answered += 1;
    }
    assert_eq!(answered, STREAMS);
    println!(
        "normal send+receive done {served_after:?} after opening {STREAMS} long polls; all answered after {:?}",
        started.elapsed()
    );

    drop(connections);
    back_to(fds_before, &listing_before).await;
    tasks_back_to(tasks_before).await;
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_mid_poll_loses_no_message() {
    let _serial = SERIAL.lock().await;
    let f = Fixture::start().await;
    f.create_topic("vanish", 1, None);
    let addr = f.grpc.local_addr();
    let fds_before = open_fds();
    let tasks_before = alive_tasks();
    let listing_before = fd_targets();

    // A client starts a long poll and its connection goes away while it waits.
    let gone = plain_client(addr).await;
    let waiting = tokio::spawn(receive(
        gone,
        receive_request("vanish", "vanish-group", Duration::from_secs(20)),
    ));
    // Both ends of the connection are open (the client's socket and the one the endpoint
    // accepted); dropping the task drops the client's channel and with it the connection. If the
    // drop comes before the poll reached the broker, the message below is simply received first
    // time: nothing is lost either way.
    ferromq_testkit::eventually(Duration::from_secs(10), "poll connection open", || async {
        (open_fds() >= fds_before + 2).then_some(())
    })
    .await;
    waiting.abort();
    let _ = waiting.await;

    // A message sent now may be popped by the vanished poll: it comes back after its invisible
    // time (2 s) to the group's next consumer.
    let mut client = f.plain().await;
    send(&mut client, "vanish", "not-lost").await;
    let got = ferromq_testkit::eventually(Duration::from_secs(20), "message received", || {
        let c = client.clone();
        async move {
            let (got, _) = receive(
                c,
                receive_request("vanish", "vanish-group", Duration::from_secs(3)),
            )
            .await;
            (!got.is_empty()).then_some(got)
        }
    })
    .await;
    assert_eq!(bodies(&got), ["not-lost"]);
    let handle = got[0]
        .system_properties
        .as_ref()
        .and_then(|s| s.receipt_handle.clone())
        .expect("handle");
    let status = client
        .ack_message(request(
            "consumer",
            AckMessageRequest {
                group: resource("vanish-group"),
                topic: resource("vanish"),
                entries: vec![AckMessageEntry {
                    receipt_handle: handle,
                    ..AckMessageEntry::default()
                }],
            },
        ))
        .await
        .expect("rpc")
        .into_inner()
        .status
        .expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    drop(client);
    back_to(fds_before, &listing_before).await;
    tasks_back_to(tasks_before).await;
    f.shutdown().await;
}

/// Waits until no more descriptors are open than `before`; fails listing them.
async fn back_to(before: usize, listing: &[String]) {
    let end = Instant::now() + Duration::from_secs(30);
    while open_fds() > before {
        assert!(
            Instant::now() < end,
            "{} descriptors open, {before} before: {:?}, before: {listing:?}",
            open_fds(),
            fd_targets()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Tasks alive on the runtime the broker and the endpoint run on.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits until no more tasks are alive than `before`.
async fn tasks_back_to(before: usize) {
    let end = Instant::now() + Duration::from_secs(30);
    while alive_tasks() > before {
        assert!(
            Instant::now() < end,
            "{} tasks alive, {before} before",
            alive_tasks()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
