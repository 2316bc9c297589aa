//! The RocketMQ 5 gRPC endpoint as `ferromq dev` and `ferromq broker` serve it: the address on the
//! ready line answers a v5 route query, and the process still stops cleanly.

use crate::common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use common::Dev;
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_proto::v2::{Permission, QueryRouteRequest};
use ferromq_proto::{Code, Resource};

/// Asks `addr` (plaintext) for the route of the default topic `TBW102`, which every broker has.
async fn route_of_default_topic(addr: &str) -> Vec<ferromq_proto::v2::MessageQueue> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the gRPC endpoint");
    let mut client = MessagingServiceClient::new(channel);
    let reply = client
        .query_route(QueryRouteRequest {
            topic: Some(Resource::named("TBW102")),
            endpoints: None,
        })
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    reply.message_queues
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_serves_grpc_at_the_address_on_its_ready_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(dir.path(), &[]);
    // New fields go at the end: scripts parse `namesrv=` and `broker=` as before.
    assert!(dev.ready.contains(" grpc=127.0.0.1:"), "{}", dev.ready);
    let grpc = dev.field("grpc");
    let queues = route_of_default_topic(&grpc).await;
    assert!(!queues.is_empty());
    let endpoints = queues[0]
        .broker
        .as_ref()
        .and_then(|b| b.endpoints.clone())
        .expect("endpoints");
    let advertised = format!(
        "{}:{}",
        endpoints.addresses[0].host, endpoints.addresses[0].port
    );
    assert_eq!(advertised, grpc, "routes send clients to this endpoint");
    dev.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_serves_grpc_when_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerName=grpc-broker\nlistenPort=0\ngrpcListenPort=0\nstorePathRootDir={}\n",
            dir.path().join("store").display()
        ),
    )
    .expect("write broker.conf");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferromq"))
        .args(["--log-level", "warn", "broker", "--config"])
        .arg(&conf)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ferromq broker");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("read the ready line");
    let grpc = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("grpc="))
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("no grpc= in {ready:?}")
        })
        .to_owned();
    let queues = route_of_default_topic(&grpc).await;
    assert!(queues
        .iter()
        .all(|q| q.broker.as_ref().is_some_and(|b| b.name == "grpc-broker")));
    assert!(queues.iter().any(|q| q.permission() != Permission::None));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "ferromq broker exited with {exit}");
}
