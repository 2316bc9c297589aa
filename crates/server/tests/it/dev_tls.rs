//! `ferromq dev --tls enforcing` as a user runs it: the ready line says so, `ferromq admin --tls`
//! reaches the cluster, plaintext does not, and a TLS client sends and pulls a message; with
//! `--cluster` the brokers of every group reach the name server and the controller over TLS too.

use crate::common;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::Dev;
use ferromq_net::{Client, ClientConfig, ClientTls, TlsClientConfig};
use ferromq_remoting::body::records;
use ferromq_remoting::headers::pull::{sys_flag, PullMessageRequestHeader};
use ferromq_remoting::headers::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const T: Duration = Duration::from_secs(10);

fn admin(namesrv: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["admin", "-n", namesrv, "--timeout-ms", "3000"])
        .args(args)
        .output()
        .expect("run ferromq admin");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_enforcing_tls_serves_tls_clients_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(dir.path(), &["--tls", "enforcing"]);
    assert_eq!(dev.field("tls"), "enforcing", "{}", dev.ready);
    let ns = dev.field("namesrv");
    let broker = dev.field("broker");

    // The broker registered over TLS: admin over TLS lists it.
    let (code, out) = admin(&ns, &["--tls", "--tls-insecure", "clusterList"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&broker), "{out}");
    let (code, out) = admin(&ns, &["clusterList"]);
    assert_eq!(code, 4, "plaintext is refused: {out}");
    let (code, out) = admin(&ns, &["--tls", "clusterList"]);
    assert_eq!(
        code, 2,
        "--tls without a trust choice is a usage error: {out}"
    );

    let tls = ClientTls::from_config(&TlsClientConfig::insecure_trust_all()).expect("tls");
    let client = Client::connect(
        broker.clone(),
        ClientConfig {
            tls: Some(tls),
            ..ClientConfig::default()
        },
    )
    .await
    .expect("TLS connects");
    let send = RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
        .with_header(&SendMessageRequestHeaderV2(SendMessageRequestHeader {
            producer_group: "pg".into(),
            topic: "TlsSmoke".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            born_timestamp: 1,
            properties: Some("UNIQ_KEY\u{1}TLS1\u{2}".into()),
            ..SendMessageRequestHeader::default()
        }))
        .with_body(Bytes::from_static(b"over tls"));
    let resp = client.request(send, T).await.expect("send");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let pull = RemotingCommand::request(RequestCode::PULL_MESSAGE).with_header(
        &PullMessageRequestHeader {
            consumer_group: "tls-smoke".into(),
            topic: "TlsSmoke".into(),
            queue_id: 0,
            queue_offset: 0,
            max_msg_nums: 32,
            sys_flag: sys_flag::SUBSCRIPTION | sys_flag::SUSPEND,
            suspend_timeout_millis: 5_000,
            subscription: Some("*".into()),
            ..PullMessageRequestHeader::default()
        },
    );
    let resp = client.request(pull, T).await.expect("pull");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let body = resp.body.expect("body");
    let got = records::decode(&body, true).expect("records");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"over tls");

    let plain = Client::new(broker, ClientConfig::default());
    assert!(
        plain
            .request(
                RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO),
                T
            )
            .await
            .is_err(),
        "plaintext is closed"
    );
    client.shutdown().await;
    dev.stop();
}

/// `dev --cluster 1 --tls enforcing`: the brokers in controller mode register with the enforcing
/// name server and the enforcing controller over TLS, so the cluster becomes ready (the controller
/// elected a master and took the replica into its sync-state set) and lists master and replica.
#[tokio::test(flavor = "multi_thread")]
async fn dev_cluster_with_enforcing_tls_registers_every_broker_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(dir.path(), &["--cluster", "1", "--tls", "enforcing"]);
    let ns = dev.field("namesrv");
    let group = dev.field("broker-a");
    let (master, replica) = group.split_once('/').expect("master/replica");
    let (code, out) = admin(&ns, &["--tls", "--tls-insecure", "clusterList"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(master) && out.contains(replica), "{out}");

    // The controller's port takes TLS only: the brokers' registrations above came that way.
    let controller = dev.field("controller");
    let metadata = || RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO);
    let tls = ClientTls::from_config(&TlsClientConfig::insecure_trust_all()).expect("tls");
    let client = Client::new(
        controller.clone(),
        ClientConfig {
            tls: Some(tls),
            ..ClientConfig::default()
        },
    );
    let resp = client.request(metadata(), T).await.expect("over TLS");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let plain = Client::new(controller, ClientConfig::default());
    assert!(
        plain.request(metadata(), T).await.is_err(),
        "plaintext to the controller is closed"
    );
    client.shutdown().await;
    dev.stop();
}
