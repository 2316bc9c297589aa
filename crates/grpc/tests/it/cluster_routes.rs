//! Routes across brokers: a name server and two brokers, each serving gRPC, with one topic on
//! both. Any endpoint routes a v5 client to every broker's queues at that broker's own endpoint,
//! and messages sent through the route are all received there, each once.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use common::{message, plain_client, request, resource};
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_grpc::{GrpcConfig, GrpcHandle, GrpcServer};
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::{
    AckMessageEntry, AckMessageRequest, Message, MessageQueue, QueryAssignmentRequest,
    QueryRouteRequest, ReceiveMessageRequest, SendMessageRequest,
};
use ferromq_proto::Code;
use ferromq_remoting::body::register::TopicConfig;
use ferromq_remoting::body::route::perm;
use ferromq_testkit::{eventually, TestCluster};
use tonic::transport::Channel;

const TOPIC: &str = "spread-topic";
const GROUP: &str = "spread-group";
const DEADLINE: Duration = Duration::from_secs(20);

struct Fixture {
    cluster: TestCluster,
    /// broker name → its endpoint.
    endpoints: BTreeMap<String, GrpcHandle>,
}

impl Fixture {
    /// A name server and brokers `broker-a` (4 queues of TOPIC) and `broker-b` (2 queues), each
    /// with its gRPC endpoint on 127.0.0.1:0.
    async fn start() -> Fixture {
        let cluster = TestCluster::builder()
            .brokers(["broker-a", "broker-b"])
            .start()
            .await;
        let mut endpoints = BTreeMap::new();
        for (i, queues) in [(0, 4), (1, 2)] {
            let broker = cluster.broker_at(i);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the gRPC listener");
            let grpc = GrpcServer::start(GrpcConfig::default(), broker.service(), listener)
                .expect("start the gRPC endpoint");
            broker
                .service()
                .create_topic(
                    TopicConfig {
                        topic_name: TOPIC.to_owned(),
                        read_queue_nums: queues,
                        write_queue_nums: queues,
                        perm: perm::READ | perm::WRITE,
                        ..TopicConfig::default()
                    },
                    "",
                )
                .expect("create topic");
            endpoints.insert(cluster.broker_config(i).broker_name.clone(), grpc);
        }
        Fixture { cluster, endpoints }
    }

    fn endpoint(&self, broker: &str) -> SocketAddr {
        self.endpoints[broker].advertised_addr()
    }

    async fn shutdown(self) {
        for (_, g) in self.endpoints {
            g.shutdown().await;
        }
        self.cluster.shutdown().await;
    }
}

/// The queue's broker name and endpoint.
fn owner(q: &MessageQueue) -> (String, SocketAddr) {
    let broker = q.broker.as_ref().expect("a broker");
    let addr = &broker.endpoints.as_ref().expect("endpoints").addresses[0];
    let endpoint = format!("{}:{}", addr.host, addr.port)
        .parse()
        .expect("an address");
    (broker.name.clone(), endpoint)
}

async fn query_route(client: &mut MessagingServiceClient<Channel>) -> Vec<MessageQueue> {
    let reply = client
        .query_route(request(
            "producer",
            QueryRouteRequest {
                topic: resource(TOPIC),
                endpoints: None,
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
    reply.message_queues
}

/// Queue ids by (broker, endpoint), once the route lists both brokers.
async fn route_by_broker(
    client: &mut MessagingServiceClient<Channel>,
) -> BTreeMap<(String, SocketAddr), Vec<i32>> {
    eventually(DEADLINE, "a route listing both brokers", || {
        let mut client = client.clone();
        async move {
            let mut by_broker: BTreeMap<(String, SocketAddr), Vec<i32>> = BTreeMap::new();
            for q in query_route(&mut client).await {
                by_broker.entry(owner(&q)).or_default().push(q.id);
            }
            (by_broker.len() == 2).then_some(by_broker)
        }
    })
    .await
}

async fn send(endpoint: SocketAddr, queue: &MessageQueue, id: usize, body: &str) {
    let mut m = message(TOPIC, &format!("{id:032X}"), body.as_bytes());
    m.system_properties.as_mut().expect("set").queue_id = queue.id;
    let reply = plain_client(endpoint)
        .await
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

/// Receives and acks at `endpoint` until `want` bodies came, and a little longer to catch extras.
async fn receive_all(endpoint: SocketAddr, want: usize) -> Vec<String> {
    let mut client = plain_client(endpoint).await;
    let mut got = Vec::new();
    let mut empty_after_all = 0;
    let end = tokio::time::Instant::now() + DEADLINE;
    while empty_after_all < 2 {
        assert!(
            tokio::time::Instant::now() < end,
            "only {got:?} of {want} at {endpoint}"
        );
        let messages = receive(&mut client).await;
        if messages.is_empty() && got.len() >= want {
            empty_after_all += 1;
        }
        let handles: Vec<String> = messages
            .iter()
            .map(|m| {
                m.system_properties
                    .as_ref()
                    .and_then(|s| s.receipt_handle.clone())
                    .expect("a receipt handle")
            })
            .collect();
        got.extend(
            messages
                .iter()
                .map(|m| String::from_utf8(m.body.to_vec()).expect("utf-8")),
        );
        if !handles.is_empty() {
            ack(&mut client, handles).await;
        }
    }
    got
}

async fn receive(client: &mut MessagingServiceClient<Channel>) -> Vec<Message> {
    let req = ReceiveMessageRequest {
        group: resource(GROUP),
        message_queue: Some(MessageQueue {
            topic: resource(TOPIC),
            id: -1,
            ..MessageQueue::default()
        }),
        filter_expression: None,
        batch_size: 32,
        invisible_duration: Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        auto_renew: false,
        long_polling_timeout: Some(prost_types::Duration {
            seconds: 0,
            nanos: 300_000_000,
        }),
        attempt_id: None,
    };
    let mut stream = client
        .receive_message(request("consumer", req))
        .await
        .expect("rpc")
        .into_inner();
    let mut messages = Vec::new();
    while let Some(item) = stream.message().await.expect("stream") {
        if let Content::Message(m) = item.content.expect("content") {
            messages.push(*m);
        }
    }
    messages
}

async fn ack(client: &mut MessagingServiceClient<Channel>, handles: Vec<String>) {
    let reply = client
        .ack_message(request(
            "consumer",
            AckMessageRequest {
                group: resource(GROUP),
                topic: resource(TOPIC),
                entries: handles
                    .into_iter()
                    .map(|h| AckMessageEntry {
                        message_id: String::new(),
                        receipt_handle: h,
                        lite_topic: None,
                    })
                    .collect(),
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    let status = reply.status.expect("status");
    assert_eq!(status.code(), Code::Ok, "{}", status.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_routes_to_every_brokers_queues_at_its_own_endpoint() {
    let f = Fixture::start().await;
    let (a, b) = (f.endpoint("broker-a"), f.endpoint("broker-b"));
    let expected = BTreeMap::from([
        (("broker-a".to_owned(), a), vec![0, 1, 2, 3]),
        (("broker-b".to_owned(), b), vec![0, 1]),
    ]);
    for at in [a, b] {
        let mut client = plain_client(at).await;
        assert_eq!(
            route_by_broker(&mut client).await,
            expected,
            "route at {at}"
        );
    }
    // A consumer is told to receive at each broker.
    let reply = plain_client(a)
        .await
        .query_assignment(request(
            "consumer",
            QueryAssignmentRequest {
                topic: resource(TOPIC),
                group: resource(GROUP),
                endpoints: None,
            },
        ))
        .await
        .expect("rpc")
        .into_inner();
    assert_eq!(reply.status.expect("status").code(), Code::Ok);
    let assigned: BTreeSet<(String, SocketAddr)> = reply
        .assignments
        .iter()
        .map(|x| owner(x.message_queue.as_ref().expect("a queue")))
        .collect();
    assert_eq!(
        assigned,
        BTreeSet::from([("broker-a".to_owned(), a), ("broker-b".to_owned(), b)])
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_through_the_route_are_all_received_at_their_brokers() {
    let f = Fixture::start().await;
    let mut client = plain_client(f.endpoint("broker-a")).await;
    route_by_broker(&mut client).await;
    let route = query_route(&mut client).await;
    // Three messages to every queue, each to the endpoint the route names for it.
    let mut sent: BTreeMap<SocketAddr, Vec<String>> = BTreeMap::new();
    for q in &route {
        let (broker, endpoint) = owner(q);
        for n in 0..3 {
            let body = format!("{broker}-q{}-m{n}", q.id);
            send(endpoint, q, sent.values().map(Vec::len).sum(), &body).await;
            sent.entry(endpoint).or_default().push(body);
        }
    }
    assert_eq!(sent.values().map(Vec::len).sum::<usize>(), 3 * 6);
    for (endpoint, mut bodies) in sent {
        let mut got = receive_all(endpoint, bodies.len()).await;
        got.sort();
        bodies.sort();
        assert_eq!(got, bodies, "received at {endpoint}: every body, once");
    }
    f.shutdown().await;
}
