//! A name server with `authenticationEnabled` takes route changes only signed with the cluster's
//! inner credentials: a broker that signs its registration with them is routed and clients use
//! it; a broker with a wrong secret, and an unsigned REGISTER_BROKER, are refused with
//! NO_PERMISSION and never appear in routes.

use crate::common;

use std::time::Duration;

use common::{create_topic_on_cluster, read_topic};
use ferromq_auth::Credentials;
use ferromq_broker::config::auth::InnerCredentials as BrokerCredentials;
use ferromq_broker::{Broker, BrokerConfig};
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_namesrv::config::InnerCredentials;
use ferromq_namesrv::{NameServer, NameServerConfig};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::register::RegisterBrokerBody;
use ferromq_remoting::body::route::ClusterInfo;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::kv::PutKvConfigRequestHeader;
use ferromq_remoting::headers::route::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_testkit::{broker_config, start_broker};
use tokio::net::TcpListener;

const INNER: (&str, &str) = ("cluster-inner", "inner-secret");
const TOPIC: &str = "SignedRoutes";

fn signing(dir: &std::path::Path, ns: &str, name: &str, secret: &str) -> BrokerConfig {
    let mut c = broker_config(dir, &[ns.to_owned()]);
    c.broker_name = name.into();
    c.inner_client_authentication_credentials = Some(BrokerCredentials {
        access_key: INNER.0.into(),
        secret_key: secret.into(),
    });
    c
}

async fn cluster_info(ns: &Client) -> ClusterInfo {
    let resp = common::call(
        ns,
        RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    ClusterInfo::from_json(resp.body.as_deref().expect("body")).expect("cluster info")
}

/// A REGISTER_BROKER for `broker-x` at an address nobody listens on, signed by `who` if given.
fn forged_registration(who: Option<(&str, &str)>) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER)
        .with_header(&RegisterBrokerRequestHeader {
            broker_name: "broker-x".into(),
            broker_addr: "127.0.0.1:1".into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: "127.0.0.1:2".into(),
            broker_id: 0,
            ..RegisterBrokerRequestHeader::default()
        })
        .with_body(RegisterBrokerBody::default().to_json());
    if let Some((ak, sk)) = who {
        Credentials::new(ak, sk).sign(&mut cmd);
    }
    cmd
}

fn remark_of(resp: &RemotingCommand) -> String {
    resp.remark.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticating_name_server_routes_only_brokers_signed_with_the_inner_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ns");
    let ns = NameServer::start(
        NameServerConfig {
            authentication_enabled: true,
            inner_client_authentication_credentials: Some(InnerCredentials {
                access_key: INNER.0.into(),
                secret_key: INNER.1.into(),
            }),
            ..NameServerConfig::default()
        },
        listener,
    )
    .expect("ns starts");
    let ns_addr = ns.local_addr().to_string();

    // Returns once the name server lists it.
    let good = start_broker(signing(
        &dir.path().join("a"),
        &ns_addr,
        "broker-a",
        INNER.1,
    ))
    .await;
    // Its first registration has been answered when `start` returns.
    let bad = Broker::start(
        signing(&dir.path().join("b"), &ns_addr, "broker-b", "a-guess"),
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
    .expect("broker b starts");

    let client = Client::connect(ns_addr.clone(), ClientConfig::default())
        .await
        .expect("connect ns");
    let unsigned = common::call(&client, forged_registration(None)).await;
    assert_eq!(unsigned.response_code(), ResponseCode::NO_PERMISSION);
    assert!(
        remark_of(&unsigned).contains("not signed")
            && remark_of(&unsigned).contains("innerClientAuthenticationCredentials"),
        "{unsigned:?}"
    );
    let wrong = common::call(&client, forged_registration(Some((INNER.0, "a-guess")))).await;
    assert_eq!(wrong.response_code(), ResponseCode::NO_PERMISSION);
    assert!(
        remark_of(&wrong).contains("check signature failed"),
        "{wrong:?}"
    );
    let kv = RemotingCommand::request(RequestCode::PUT_KV_CONFIG).with_header(
        &PutKvConfigRequestHeader {
            namespace: "ORDER_TOPIC_CONFIG".into(),
            key: TOPIC.into(),
            value: "broker-x:8".into(),
        },
    );
    let resp = common::call(&client, kv).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::NO_PERMISSION,
        "{resp:?}"
    );

    // Only the signed broker is known: neither broker-b nor the forged broker-x.
    let info = cluster_info(&client).await;
    let names: Vec<&String> = info.broker_addr_table.keys().collect();
    assert_eq!(names, vec!["broker-a"]);

    // Clients, which sign nothing, read routes and use the signed broker.
    assert_eq!(create_topic_on_cluster(&ns_addr, TOPIC, 2).await, 1);
    // The topic reaches the name server with the (signed) registration it triggers.
    ferromq_testkit::eventually(common::T, "the topic's route", || async {
        let req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
            &GetRouteInfoRequestHeader {
                topic: TOPIC.into(),
                accept_standard_json_only: None,
            },
        );
        let resp = client.request(req, common::T).await.ok()?;
        (resp.response_code() == ResponseCode::SUCCESS).then_some(())
    })
    .await;
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: vec![ns_addr.clone()],
        group: "signed_routes_producer".into(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    let mut sent = Vec::new();
    for i in 0..10 {
        let body = format!("m{i}");
        producer
            .send(Message::new(TOPIC, body.clone()))
            .await
            .expect("send");
        sent.push(("broker-a".to_owned(), body));
    }
    producer.shutdown().await;
    assert!(good.wait_readable(Duration::from_secs(10)).await);
    let mut got = read_topic(std::slice::from_ref(&ns_addr), TOPIC).await;
    got.sort();
    sent.sort();
    assert_eq!(got, sent);
    let info = cluster_info(&client).await;
    assert!(!info.broker_addr_table.contains_key("broker-b"));

    drop(client);
    bad.shutdown().await;
    good.shutdown().await;
    ns.shutdown().await;
}
