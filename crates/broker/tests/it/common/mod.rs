//! Raw-protocol helpers for tests over an in-process [`TestCluster`]: requests are built from the
//! typed headers a Java client fills.
#![allow(dead_code)] // each test file uses a different part

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use ferromq_broker::{BrokerConfig, BrokerHandle};
use ferromq_model::properties;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::batch;
use ferromq_remoting::body::records;
use ferromq_remoting::headers::admin::CreateTopicRequestHeader;
use ferromq_remoting::headers::pull::{sys_flag, PullMessageRequestHeader};
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
#[allow(unused_imports)] // not every test file starts a cluster
pub use ferromq_testkit::TestCluster;

pub const T: Duration = Duration::from_secs(10);

pub async fn call(client: &Client, cmd: RemotingCommand) -> RemotingCommand {
    client.request(cmd, T).await.expect("response")
}

pub fn send_header(topic: &str, queue_id: i32, props: &str) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 7,
        properties: Some(props.to_owned()),
        ..SendMessageRequestHeader::default()
    }
}

pub fn props(tag: Option<&str>, keys: Option<&str>, uniq: &str) -> String {
    let mut entries = vec![("UNIQ_KEY", uniq), ("WAIT", "true")];
    if let Some(t) = tag {
        entries.push(("TAGS", t));
    }
    if let Some(k) = keys {
        entries.push(("KEYS", k));
    }
    properties::encode(entries)
}

/// SEND_MESSAGE_V2 of one message; returns the response.
pub async fn send_v2(
    client: &Client,
    topic: &str,
    queue_id: i32,
    tag: Option<&str>,
    body: &[u8],
) -> RemotingCommand {
    let uniq = format!("UNIQ-{}", String::from_utf8_lossy(body));
    let h = send_header(topic, queue_id, &props(tag, None, &uniq));
    call(
        client,
        RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&SendMessageRequestHeaderV2(h))
            .with_body(Bytes::copy_from_slice(body)),
    )
    .await
}

pub fn batch_body(messages: &[(&[u8], &str)]) -> Bytes {
    let list: Vec<batch::BatchMessage<'_>> = messages
        .iter()
        .map(|(body, props)| batch::BatchMessage {
            flag: 3,
            body,
            properties: props,
        })
        .collect();
    let mut out = bytes::BytesMut::new();
    batch::encode(&list, &mut out).expect("encodes");
    out.freeze()
}

pub async fn create_topic(client: &Client, topic: &str, queues: i32) {
    let resp = call(
        client,
        RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(
            &CreateTopicRequestHeader {
                topic: topic.into(),
                default_topic: "TBW102".into(),
                read_queue_nums: queues,
                write_queue_nums: queues,
                perm: 6,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_sys_flag: Some(0),
                order: false,
                attributes: Some(String::new()),
                force: None,
            },
        ),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

/// A lite-pull style request: subscription in the request, optional suspend.
pub fn pull_request(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
    expression: &str,
    suspend_ms: Option<i64>,
) -> RemotingCommand {
    let mut flag = sys_flag::SUBSCRIPTION;
    if suspend_ms.is_some() {
        flag |= sys_flag::SUSPEND;
    }
    RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: group.into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: flag,
        commit_offset: 0,
        suspend_timeout_millis: suspend_ms.unwrap_or(0),
        subscription: Some(expression.into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        ..PullMessageRequestHeader::default()
    })
}

/// Decoded records of a pull/query body: (queue offset, body, properties, topic).
pub fn decode(body: &[u8]) -> Vec<(u64, Vec<u8>, String, String)> {
    records::decode(body, true)
        .expect("valid records")
        .into_iter()
        .map(|r| {
            (
                r.queue_offset,
                r.body.to_vec(),
                r.properties.to_owned(),
                r.topic.to_owned(),
            )
        })
        .collect()
}

/// Pulls (long-polling up to 5 s) until `count` messages of the queue were read from `offset`.
pub async fn pull_all(
    client: &Client,
    topic: &str,
    queue_id: i32,
    expression: &str,
    count: usize,
) -> Vec<(u64, Vec<u8>, String, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while out.len() < count {
        let resp = call(
            client,
            pull_request("cg", topic, queue_id, offset, expression, Some(5_000)),
        )
        .await;
        let h: ferromq_remoting::headers::pull::PullMessageResponseHeader =
            resp.decode_header().expect("pull header");
        match resp.response_code() {
            ResponseCode::SUCCESS => {
                out.extend(decode(resp.body.as_deref().expect("body")));
            }
            ResponseCode::PULL_RETRY_IMMEDIATELY | ResponseCode::PULL_NOT_FOUND => {}
            other => panic!("unexpected pull response {other:?}: {resp:?}"),
        }
        assert!(h.next_begin_offset >= offset);
        offset = h.next_begin_offset;
    }
    out
}

/// Creates `topic` with `queues` read and write queues on every master of `DefaultCluster`, through
/// our admin client; returns how many brokers took it.
pub async fn create_topic_on_cluster(namesrv: &str, topic: &str, queues: u32) -> usize {
    use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let mut spec = TopicSpec::new(topic);
    spec.read_queue_nums = queues;
    spec.write_queue_nums = queues;
    let written = admin
        .create_topic("DefaultCluster", &spec)
        .await
        .expect("create topic");
    admin.shutdown().await;
    written.len()
}

/// Every message of every queue of `topic`, read from offset 0 with our pull consumer:
/// (broker name, body) in queue order.
pub async fn read_topic(namesrv_addrs: &[String], topic: &str) -> Vec<(String, String)> {
    use ferromq_client::consumer::{PullConsumer, PullConsumerConfig, PullStatus};
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: namesrv_addrs.to_vec(),
        group: format!("{topic}_reader"),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    let mut got = Vec::new();
    for mq in consumer.fetch_queues(topic).await.expect("queues") {
        let mut offset = 0;
        loop {
            let r = consumer.pull(&mq, offset, 64, "*").await.expect("pull");
            got.extend(r.messages.iter().map(|m| {
                (
                    mq.broker_name.clone(),
                    String::from_utf8(m.body.to_vec()).expect("utf8"),
                )
            }));
            offset = r.next_offset;
            if matches!(r.status, PullStatus::NoNewMsg) {
                break;
            }
        }
    }
    consumer.shutdown().await;
    got
}

/// A replica (SLAVE, brokerId `id`) of the group in `dir`, registered with `namesrv`.
pub async fn start_replica(
    dir: &Path,
    namesrv: &str,
    id: i64,
    tweak: impl FnOnce(&mut BrokerConfig),
) -> BrokerHandle {
    let mut config = ferromq_testkit::broker_config(dir, &[namesrv.to_owned()]);
    config.broker_role = ferromq_broker::BrokerRole::Slave;
    config.broker_id = id;
    tweak(&mut config);
    ferromq_testkit::start_broker(config).await
}

/// A client connected to `broker`.
pub async fn client_of(broker: &BrokerHandle) -> Client {
    Client::connect(broker.local_addr().to_string(), ClientConfig::default())
        .await
        .expect("connect")
}

/// Runs this test binary's test `test` (its full name, as `pop::crash_child`) as a child process
/// (a broker to SIGKILL), with `env` naming its data folder `dir`; returns the child and the
/// broker address it printed on its `READY <addr>` line. The child's stdin is piped so it also
/// ends when the test does.
pub async fn spawn_crash_child(test: &str, env: &str, dir: &Path) -> (std::process::Child, String) {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child broker");
    let stdout = child.stdout.take().expect("stdout");
    let addr = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("child output").expect("line");
            // libtest may print its "test crash_child ..." prefix on the same line.
            if let Some((_, a)) = line.split_once("READY ") {
                return a.trim().to_owned();
            }
        }
    })
    .await
    .expect("reader");
    (child, addr)
}
