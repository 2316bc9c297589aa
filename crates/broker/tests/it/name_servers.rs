//! Several name servers, each independent, any one enough: a broker registers with every one of them
//! (also with those that start after it, at its next period), each serves the full route alone, and
//! clients that list them all keep producing and consuming when any one is down.

use crate::common;

use std::time::Duration;

use common::read_topic;
use ferromq_broker::Broker;
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_testkit::{broker_config, eventually};
use tokio::net::TcpListener;

const TOPIC: &str = "EveryNs";

async fn name_server(listener: TcpListener) -> NameServerHandle {
    NameServer::start(NameServerConfig::default(), listener).expect("ns starts")
}

/// Whether the name server at `addr` answers a route for `TOPIC`.
async fn has_route(addr: &str) -> bool {
    let Ok(c) = Client::connect(addr.to_owned(), ClientConfig::default()).await else {
        return false;
    };
    let req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
        &GetRouteInfoRequestHeader {
            topic: TOPIC.into(),
            accept_standard_json_only: None,
        },
    );
    matches!(c.request(req, Duration::from_secs(5)).await, Ok(r) if r.response_code() == ResponseCode::SUCCESS)
}

async fn eventually_routed(addr: &str) {
    let what = format!("{addr} to serve the route");
    eventually(Duration::from_secs(15), &what, || async {
        has_route(addr).await.then_some(())
    })
    .await;
}

async fn produce(addrs: &[String], bodies: &[String]) {
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: addrs.to_vec(),
        group: "every_ns_producer".into(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    for b in bodies {
        producer
            .send(Message::new(TOPIC, b.clone()))
            .await
            .expect("send");
    }
    producer.shutdown().await;
}

async fn consume_all(addrs: &[String]) -> Vec<String> {
    let mut got: Vec<String> = read_topic(addrs, TOPIC)
        .await
        .into_iter()
        .map(|(_, body)| body)
        .collect();
    got.sort();
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_one_name_server_is_enough() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let l2 = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addrs: Vec<String> = [&l1, &l2]
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    // The second name server is not up yet when the broker starts.
    let addr2 = l2.local_addr().expect("addr");
    drop(l2);
    let ns1 = name_server(l1).await;
    let mut config = broker_config(dir.path(), &addrs);
    config.register_name_server_period_ms = 200;
    let broker = Broker::start(
        config,
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
    .expect("broker");
    let first: Vec<String> = (0..20).map(|i| format!("a{i:02}")).collect();
    produce(&addrs, &first).await;
    eventually_routed(&addrs[0]).await;

    // The late name server learns everything from the broker's next registration.
    let ns2 = name_server(TcpListener::bind(addr2).await.expect("rebind")).await;
    eventually_routed(&addrs[1]).await;

    // Without the first one, clients listing both still work through the second.
    ns1.shutdown().await;
    let second: Vec<String> = (0..20).map(|i| format!("b{i:02}")).collect();
    produce(&addrs, &second).await;
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    assert!(broker.wait_readable(Duration::from_secs(30)).await);
    assert_eq!(consume_all(&addrs).await, all);
    // The second one alone is enough, too.
    assert_eq!(consume_all(&addrs[1..]).await, all);

    broker.shutdown().await;
    ns2.shutdown().await;
}
