//! A broker (from the test kit) with the gRPC endpoint on 127.0.0.1:0, tonic clients over TCP
//! (plaintext and TLS), and reading back what the broker stored through its service.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use ferromq_broker::service::{PullAnswer, PullRequest, Subscription};
use ferromq_broker::BrokerService;
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_grpc::{GrpcConfig, GrpcHandle, GrpcServer};
use ferromq_model::properties;
use ferromq_model::record::{self, Entry};
use ferromq_proto::v2::{Message, Resource, SystemProperties};
use ferromq_remoting::body::register::TopicConfig;
use ferromq_remoting::body::route::perm;
use ferromq_testkit::TestCluster;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

pub const CLIENT_ID: &str = "x-mq-client-id";

pub struct Fixture {
    pub cluster: TestCluster,
    pub grpc: GrpcHandle,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Fixture::start_with(|_| {}).await
    }

    pub async fn start_with(
        tweak: impl FnMut(&mut ferromq_broker::BrokerConfig) + Send,
    ) -> Fixture {
        Fixture::start_config(tweak, GrpcConfig::default()).await
    }

    pub async fn start_config(
        tweak: impl FnMut(&mut ferromq_broker::BrokerConfig) + Send,
        config: GrpcConfig,
    ) -> Fixture {
        let cluster = TestCluster::start_with(tweak).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gRPC listener");
        let grpc = GrpcServer::start(config, cluster.broker().service(), listener)
            .expect("start the gRPC endpoint");
        Fixture { cluster, grpc }
    }

    pub fn service(&self) -> BrokerService {
        self.cluster.broker().service()
    }

    /// Creates `name` with `queues` read-write queues and, when given, a `message.type`.
    pub fn create_topic(&self, name: &str, queues: i32, message_type: Option<&str>) {
        let mut config = TopicConfig {
            topic_name: name.to_owned(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: perm::READ | perm::WRITE,
            ..TopicConfig::default()
        };
        if let Some(t) = message_type {
            config
                .attributes
                .insert("message.type".to_owned(), t.to_owned());
        }
        self.service()
            .create_topic(config, "")
            .expect("create topic");
    }

    pub async fn plain(&self) -> MessagingServiceClient<Channel> {
        plain_client(self.grpc.local_addr()).await
    }

    pub async fn tls(&self) -> MessagingServiceClient<Channel> {
        let pem = self.grpc.certificate_pem().to_owned();
        let port = self.grpc.local_addr().port();
        let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
            .expect("endpoint")
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(pem))
                    .domain_name("localhost"),
            )
            .expect("TLS config")
            .connect()
            .await
            .expect("connect over TLS");
        MessagingServiceClient::new(channel)
    }

    pub async fn shutdown(self) {
        self.grpc.shutdown().await;
        self.cluster.shutdown().await;
    }
}

pub async fn plain_client(addr: std::net::SocketAddr) -> MessagingServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect in plaintext");
    MessagingServiceClient::new(channel)
}

/// A request carrying the client id header.
pub fn request<T>(client_id: &str, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert(CLIENT_ID, client_id.parse().expect("ascii client id"));
    r
}

pub fn resource(name: &str) -> Option<Resource> {
    Some(Resource {
        resource_namespace: String::new(),
        name: name.to_owned(),
    })
}

/// A message as a v5 producer builds it.
pub fn message(topic: &str, id: &str, body: &[u8]) -> Message {
    Message {
        topic: resource(topic),
        user_properties: BTreeMap::new(),
        system_properties: Some(SystemProperties {
            message_id: id.to_owned(),
            born_timestamp: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..SystemProperties::default()
        }),
        body: body.to_vec().into(),
    }
}

/// One stored message as a consumer would see it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub queue_id: u32,
    pub queue_offset: u64,
    pub body: Vec<u8>,
    pub properties: BTreeMap<String, String>,
    pub sys_flag: i32,
    pub store_timestamp: i64,
}

/// Everything readable in `topic`, queue by queue, in queue order.
pub async fn read_topic(service: &BrokerService, topic: &str) -> Vec<Stored> {
    let config = service.topic(topic).expect("topic exists");
    let mut out = Vec::new();
    for queue_id in 0..config.read_queue_nums {
        let mut offset = 0;
        loop {
            let pulled = service
                .pull(
                    PullRequest {
                        group: "grpc-test-reader".to_owned(),
                        topic: topic.to_owned(),
                        queue_id,
                        offset,
                        max_messages: 32,
                        max_bytes: None,
                        subscription: Subscription::Expression {
                            expression: Some("*".to_owned()),
                            kind: None,
                        },
                        commit_offset: None,
                        suspend: None,
                        consumer: "127.0.0.1:1".parse().expect("addr"),
                    },
                    std::future::pending(),
                )
                .await
                .expect("pull")
                .expect("answered");
            if pulled.answer != PullAnswer::Found {
                break;
            }
            let records = pulled.records.expect("found records");
            let mut at = 0;
            while at < records.len() {
                match record::read(&records[at..], true).expect("a valid record") {
                    Entry::Message(view) => {
                        out.push(Stored {
                            queue_id: view.queue_id,
                            queue_offset: view.queue_offset,
                            body: view.body.to_vec(),
                            properties: properties::iter(view.properties)
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect(),
                            sys_flag: view.sys_flag,
                            store_timestamp: view.store_timestamp,
                        });
                        at += view.total_size as usize;
                    }
                    Entry::Blank { .. } => break,
                }
            }
            offset = pulled.next_offset;
        }
    }
    out
}

/// Waits until `topic` holds `n` messages, and returns them.
pub async fn wait_for_messages(service: &BrokerService, topic: &str, n: usize) -> Vec<Stored> {
    ferromq_testkit::eventually(Duration::from_secs(20), "messages stored", || async {
        let stored = read_topic(service, topic).await;
        (stored.len() >= n).then_some(stored)
    })
    .await
}
