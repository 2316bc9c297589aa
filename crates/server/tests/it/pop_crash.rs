//! POP consumption across `kill -9` of `ferromq dev`, through the v5 gRPC endpoint: messages sent,
//! some received and acked, some received and left in flight, the process killed with SIGKILL and
//! started again over the same folder; then every message must still be received, byte for byte,
//! and acked. Duplicates are counted: only the messages in flight at the kill may come again.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::Dev;
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::{
    AckMessageEntry, AckMessageRequest, FilterExpression, FilterType, Message, MessageQueue,
    MessageType, ReceiveMessageRequest, SendMessageRequest, SystemProperties,
};
use ferromq_proto::{Code, Resource};
use tonic::transport::Channel;

const TOPIC: &str = "PopCrash";
const GROUP: &str = "pop_crash_group";
const MESSAGES: u64 = 300;
/// Received and acked before the crash.
const ACKED_BEFORE: usize = 100;
/// Received and left unacked (in flight) at the crash.
const IN_FLIGHT: usize = 50;
/// Invisible time of the deliveries before the crash: they come back this long after them.
const SHORT_INVISIBLE: Duration = Duration::from_secs(10);
/// Invisible time after the restart: longer than any ack here takes, so nothing first received
/// after the restart is delivered twice.
const LONG_INVISIBLE: Duration = Duration::from_secs(120);
/// The whole receive phase after the restart must end within this.
const DEADLINE: Duration = Duration::from_secs(120);

/// 64 MiB commit-log segments: the test writes little.
fn start_dev(data: &Path) -> Dev {
    let config = data.join("broker.conf");
    if !config.exists() {
        std::fs::write(&config, "mapedFileSizeCommitLog=67108864\n").expect("write broker.conf");
    }
    let store = data.join("store");
    Dev::start(&store, &["--config", config.to_str().expect("utf-8 path")])
}

fn body(seq: u64) -> Vec<u8> {
    let mut b = format!("pop-crash message {seq:05} ").into_bytes();
    // Distinct bytes per message after the header, so a mixed-up body cannot pass.
    b.extend((0..200u64).map(|i| (seq.wrapping_mul(31).wrapping_add(i * 7) % 251) as u8));
    b
}

fn seq_of(b: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(b.get(..24)?).ok()?;
    let seq = text
        .strip_prefix("pop-crash message ")?
        .trim()
        .parse()
        .ok()?;
    (seq < MESSAGES && body(seq) == b).then_some(seq)
}

async fn client(grpc: &str) -> MessagingServiceClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the gRPC endpoint");
    MessagingServiceClient::new(channel)
}

fn with_id<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-mq-client-id", "pop-crash-test".parse().expect("header"));
    request
}

async fn send(c: &mut MessagingServiceClient<Channel>, seq: u64) {
    let message = Message {
        topic: Some(Resource::named(TOPIC)),
        user_properties: BTreeMap::new(),
        system_properties: Some(SystemProperties {
            message_id: format!("01POPCRASH{seq:024}"),
            message_type: MessageType::Normal as i32,
            ..SystemProperties::default()
        }),
        body: body(seq).into(),
    };
    let reply = c
        .send_message(with_id(SendMessageRequest {
            messages: vec![message],
        }))
        .await
        .expect("send rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "send {seq}: {}", status.message);
}

/// One receive: (seq, message id, receipt handle) of each message; panics on a body that is not
/// one of the sent ones.
async fn receive(
    c: &mut MessagingServiceClient<Channel>,
    batch: i32,
    invisible: Duration,
) -> Vec<(u64, String, String)> {
    let request = ReceiveMessageRequest {
        group: Some(Resource::named(GROUP)),
        message_queue: Some(MessageQueue {
            topic: Some(Resource::named(TOPIC)),
            ..MessageQueue::default()
        }),
        filter_expression: Some(FilterExpression {
            r#type: FilterType::Tag as i32,
            expression: "*".into(),
        }),
        batch_size: batch,
        invisible_duration: Some(prost_duration(invisible)),
        auto_renew: false,
        long_polling_timeout: Some(prost_duration(Duration::from_secs(5))),
        attempt_id: None,
    };
    let mut stream = c
        .receive_message(with_id(request))
        .await
        .expect("receive rpc")
        .into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.message().await.expect("receive stream") {
        match item.content {
            Some(Content::Message(m)) => {
                let seq = seq_of(&m.body).unwrap_or_else(|| {
                    panic!(
                        "a body that was never sent: {:?}",
                        String::from_utf8_lossy(&m.body)
                    )
                });
                let sys = m.system_properties.expect("system properties");
                out.push((
                    seq,
                    sys.message_id,
                    sys.receipt_handle.expect("receipt handle"),
                ));
            }
            Some(Content::Status(s)) => assert!(
                matches!(s.code(), Code::Ok | Code::MessageNotFound),
                "receive: {s:?}"
            ),
            _ => {}
        }
    }
    out
}

async fn ack(c: &mut MessagingServiceClient<Channel>, got: &[(u64, String, String)]) {
    let reply = c
        .ack_message(with_id(AckMessageRequest {
            group: Some(Resource::named(GROUP)),
            topic: Some(Resource::named(TOPIC)),
            entries: got
                .iter()
                .map(|(_, id, handle)| AckMessageEntry {
                    message_id: id.clone(),
                    receipt_handle: handle.clone(),
                    lite_topic: None,
                })
                .collect(),
        }))
        .await
        .expect("ack rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "ack: {}", status.message);
}

fn prost_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).expect("seconds"),
        nanos: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pop_loses_nothing_across_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = start_dev(dir.path());
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![dev.field("namesrv")],
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    admin
        .create_topic_on_broker(
            &dev.field("broker"),
            &TopicSpec {
                read_queue_nums: 4,
                write_queue_nums: 4,
                ..TopicSpec::new(TOPIC)
            },
        )
        .await
        .expect("create topic");
    admin.shutdown().await;

    let mut c = client(&dev.field("grpc")).await;
    for seq in 0..MESSAGES {
        send(&mut c, seq).await;
    }
    // Before the crash: some deliveries acked, some left in flight.
    let mut deliveries: BTreeMap<u64, u32> = BTreeMap::new();
    let mut before: Vec<(u64, String, String)> = Vec::new();
    while before.len() < ACKED_BEFORE + IN_FLIGHT {
        let want = (ACKED_BEFORE + IN_FLIGHT - before.len()).min(32);
        let got = receive(&mut c, i32::try_from(want).expect("batch"), SHORT_INVISIBLE).await;
        assert!(
            !got.is_empty(),
            "300 messages were sent; a receive found none"
        );
        before.extend(got);
    }
    for (seq, _, _) in &before {
        *deliveries.entry(*seq).or_default() += 1;
    }
    for chunk in before[..ACKED_BEFORE].chunks(16) {
        ack(&mut c, chunk).await;
    }
    drop(c);
    dev.kill9();

    let dev = start_dev(dir.path());
    let mut c = client(&dev.field("grpc")).await;
    let mut acked: BTreeMap<u64, ()> = before[..ACKED_BEFORE]
        .iter()
        .map(|(s, _, _)| (*s, ()))
        .collect();
    let started = tokio::time::Instant::now();
    // Receive (long polling on the broker, no sleeps) until every message is acked.
    while acked.len() < MESSAGES as usize {
        assert!(
            started.elapsed() < DEADLINE,
            "after the restart only {} of {MESSAGES} messages were acked; never delivered: {:?}",
            acked.len(),
            (0..MESSAGES)
                .filter(|s| !deliveries.contains_key(s))
                .collect::<Vec<_>>()
        );
        let got = receive(&mut c, 32, LONG_INVISIBLE).await;
        if got.is_empty() {
            continue;
        }
        for (seq, _, _) in &got {
            *deliveries.entry(*seq).or_default() += 1;
            acked.insert(*seq, ());
        }
        ack(&mut c, &got).await;
    }
    let duplicates: u32 = deliveries.values().map(|n| n - 1).sum();
    eprintln!(
        "{MESSAGES} messages: {} delivered, {duplicates} delivered again after the kill",
        deliveries.len()
    );
    assert_eq!(deliveries.len() as u64, MESSAGES, "every message delivered");
    // What docs/pop.md promises after a kill -9: only what was in flight comes again, once.
    let in_flight: Vec<u64> = before[ACKED_BEFORE..].iter().map(|(s, _, _)| *s).collect();
    for (seq, n) in &deliveries {
        let expected = if in_flight.contains(seq) { 2 } else { 1 };
        assert_eq!(
            *n,
            expected,
            "message {seq} (in flight at the kill: {}) was delivered {n} times",
            in_flight.contains(seq)
        );
    }
    assert_eq!(duplicates as usize, IN_FLIGHT);
    drop(c);
    dev.stop();
}
