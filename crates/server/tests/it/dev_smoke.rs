//! `ferromq dev` as a user runs it: start the binary, wait for its ready line, send and pull one
//! message over the raw protocol, read its counter on the HTTP listener, stop it with SIGTERM,
//! start it again on the same folder.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::Dev;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::records;
use ferromq_remoting::headers::pull::{sys_flag, PullMessageRequestHeader};
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const T: Duration = Duration::from_secs(10);

fn pull(offset: i64) -> RemotingCommand {
    RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: "smoke".into(),
        topic: "Smoke".into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: sys_flag::SUBSCRIPTION | sys_flag::SUSPEND,
        suspend_timeout_millis: 5_000,
        subscription: Some("*".into()),
        ..PullMessageRequestHeader::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_serves_sends_and_pulls_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(dir.path(), &[]);
    assert!(dev.ready.contains("namesrv=127.0.0.1:"), "{}", dev.ready);
    let client = Client::connect(dev.field("broker"), ClientConfig::default())
        .await
        .expect("connect broker");
    let send = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&SendMessageRequestHeaderV2(SendMessageRequestHeader {
            producer_group: "pg".into(),
            topic: "Smoke".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            born_timestamp: 1,
            properties: Some("UNIQ_KEY\u{1}SMOKE1\u{2}".into()),
            ..SendMessageRequestHeader::default()
        }))
        .with_body(Bytes::from_static(b"hello"));
    let resp = client.request(send, T).await.expect("send");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let resp = client.request(pull(0), T).await.expect("pull");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let body = resp.body.expect("body");
    let got = records::decode(&body, true).expect("records");
    assert_eq!(got[0].body, b"hello");
    // The HTTP listener on the ready line: ready, and the send counted.
    let http = dev.field("http");
    assert!(http.starts_with("127.0.0.1:"), "{}", dev.ready);
    assert!(http_get(&http, "/readyz").await.starts_with("HTTP/1.1 200"));
    let metrics = http_get(&http, "/metrics").await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("rocketmq_messages_in_total{") && l.contains("topic=\"Smoke\""))
        .unwrap_or_else(|| panic!("no Smoke counter in {metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    client.shutdown().await;
    dev.stop();

    // Same folder: the message is still there.
    let dev = Dev::start(dir.path(), &[]);
    let client = Client::connect(dev.field("broker"), ClientConfig::default())
        .await
        .expect("connect broker");
    let resp = client.request(pull(0), T).await.expect("pull");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    client.shutdown().await;
    dev.stop();
}

/// The whole answer (status line, headers, body) to `GET path`.
async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect http");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}
