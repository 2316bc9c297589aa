//! `ferromq dev --cluster 2` as a user tries it: two replicated broker groups behind one name
//! server. A topic created on the cluster spreads over both groups, a producer uses every queue, a
//! consumer reads back exactly what was sent, and each group's replica holds its master's messages.
//! A v5 client asking any one gRPC endpoint is routed to both groups' masters.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Dev;
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_grpc::pb::messaging_service_client::MessagingServiceClient;
use ferromq_model::msg_id::decode_offset_msg_id;
use ferromq_net::{Client, ClientConfig};
use ferromq_proto::v2::QueryRouteRequest;
use ferromq_proto::{Code, Resource};
use ferromq_remoting::headers::query::ViewMessageRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const T: Duration = Duration::from_secs(10);
const TOPIC: &str = "Spread";

/// `ferromq dev --cluster 2` and its groups from the ready line: (group, master, replica).
fn start(data: &std::path::Path) -> (Dev, Vec<(String, String, String)>) {
    let dev = Dev::start(data, &["--cluster", "2"]);
    let groups: Vec<(String, String, String)> = ["broker-a", "broker-b"]
        .into_iter()
        .map(|g| {
            let addrs = dev.field(g);
            let (m, r) = addrs.split_once('/').expect("master/replica");
            (g.to_owned(), m.to_owned(), r.to_owned())
        })
        .collect();
    (dev, groups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicated_groups_share_a_topic_and_replicas_hold_every_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (dev, groups) = start(dir.path());
    let namesrv_addrs = vec![dev.field("namesrv")];

    let admin = Admin::start(AdminConfig {
        namesrv_addrs: namesrv_addrs.clone(),
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let mut spec = TopicSpec::new(TOPIC);
    spec.read_queue_nums = 4;
    spec.write_queue_nums = 4;
    let written = admin
        .create_topic("DefaultCluster", &spec)
        .await
        .expect("create topic");
    assert_eq!(written.len(), 2, "one master per group: {written:?}");
    // Each broker tells the name server about the new topic on its own schedule: wait until the
    // route lists both groups' queues, as a producer starting later would see it.
    let deadline = std::time::Instant::now() + T;
    loop {
        let route = admin.topic_route(TOPIC).await;
        if route.is_ok_and(|r| r.queue_datas.len() == 2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "route never listed both groups"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.shutdown().await;

    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: namesrv_addrs.clone(),
        group: "spread_producer".into(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    let mut sent = BTreeSet::new();
    let mut ids = Vec::new();
    let mut brokers = BTreeSet::new();
    // Per queue, the offset after its last message: where a reader has seen all of it.
    let mut ends = std::collections::BTreeMap::new();
    for i in 0..200 {
        let body = format!("m{i:03}");
        let r = producer
            .send(Message::new(TOPIC, body.clone()))
            .await
            .expect("send");
        brokers.insert(r.queue.broker_name.clone());
        ends.insert(
            (r.queue.broker_name.clone(), r.queue.queue_id),
            r.queue_offset + 1,
        );
        ids.push((
            r.queue.broker_name.clone(),
            r.offset_msg_id.clone(),
            body.clone(),
        ));
        sent.insert(body);
    }
    producer.shutdown().await;
    assert_eq!(brokers.len(), 2, "sends used both groups: {brokers:?}");

    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs,
        group: "spread_reader".into(),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    let queues = consumer.fetch_queues(TOPIC).await.expect("queues");
    assert_eq!(queues.len(), 8, "{queues:?}");
    // A send is acknowledged once stored; consumers see it once the broker has dispatched it to
    // its queue, a moment later. Read each queue up to where its sends ended, letting the broker
    // hold a pull (long polling) while the rest is not visible yet, then once more to see that
    // nothing follows.
    let mut received = Vec::new();
    for mq in &queues {
        let end = ends
            .get(&(mq.broker_name.clone(), mq.queue_id))
            .copied()
            .unwrap_or(0);
        let deadline = std::time::Instant::now() + T;
        let mut offset = 0;
        loop {
            let r = if offset < end {
                consumer
                    .pull_blocking(mq, offset, 32, "*", Duration::from_millis(500))
                    .await
            } else {
                consumer.pull(mq, offset, 32, "*").await
            }
            .expect("pull");
            received.extend(
                r.messages
                    .iter()
                    .map(|m| String::from_utf8(m.body.to_vec()).expect("utf8")),
            );
            offset = r.next_offset;
            if offset >= end && matches!(r.status, PullStatus::NoNewMsg) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{mq:?}: read up to {offset} of {end}, last status {:?}",
                r.status
            );
        }
    }
    consumer.shutdown().await;
    received.sort();
    assert_eq!(received, sent.into_iter().collect::<Vec<_>>());

    // SYNC_MASTER answered each send after the group's replica held it: read each one back from
    // the replica by its commit-log offset.
    for (group, _master, replica) in &groups {
        let client = Client::connect(replica.clone(), ClientConfig::default())
            .await
            .expect("connect replica");
        for (_, id, body) in ids.iter().filter(|(g, _, _)| g == group) {
            let (_, offset) = decode_offset_msg_id(id).expect("offset id");
            let resp = client
                .request(
                    RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID).with_header(
                        &ViewMessageRequestHeader {
                            topic: None,
                            offset: i64::try_from(offset).expect("offset"),
                        },
                    ),
                    T,
                )
                .await
                .expect("view");
            assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
            let record = resp.body.expect("record");
            let ferromq_model::record::Entry::Message(v) =
                ferromq_model::record::read(&record, true).expect("valid record")
            else {
                panic!("not a message");
            };
            assert_eq!(v.body, body.as_bytes());
        }
    }
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_client_at_any_endpoint_is_routed_to_every_groups_master() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (dev, _) = start(dir.path());
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![dev.field("namesrv")],
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let mut spec = TopicSpec::new(TOPIC);
    spec.read_queue_nums = 4;
    spec.write_queue_nums = 4;
    let written = admin
        .create_topic("DefaultCluster", &spec)
        .await
        .expect("create topic");
    assert_eq!(written.len(), 2, "one master per group: {written:?}");
    admin.shutdown().await;
    assert_v5_route_lists_every_master(&dev).await;
    dev.stop();
}

/// QueryRoute at `grpc=` (broker-a's master) and at broker-b's replica lists TOPIC's 4 queues on
/// each group's master, at the master's own endpoint from the ready line.
async fn assert_v5_route_lists_every_master(dev: &Dev) {
    let masters: BTreeSet<(String, String)> = ["broker-a", "broker-b"]
        .into_iter()
        .map(|g| {
            let grpc = dev.field(&format!("{g}-grpc"));
            let (master, _) = grpc.split_once('/').expect("master/replica");
            (g.to_owned(), master.to_owned())
        })
        .collect();
    let replica_b = dev
        .field("broker-b-grpc")
        .split_once('/')
        .expect("pair")
        .1
        .to_owned();
    assert_eq!(dev.field("grpc"), masters.first().expect("broker-a").1);
    for at in [dev.field("grpc"), replica_b] {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{at}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the gRPC endpoint");
        let mut client = MessagingServiceClient::new(channel);
        let deadline = std::time::Instant::now() + T;
        loop {
            let reply = client
                .query_route(QueryRouteRequest {
                    topic: Some(Resource::named(TOPIC)),
                    endpoints: None,
                })
                .await
                .expect("rpc")
                .into_inner();
            let status = reply.status.expect("status");
            assert_eq!(status.code(), Code::Ok, "{}", status.message);
            let listed: Vec<(String, String)> = reply
                .message_queues
                .iter()
                .map(|q| {
                    let b = q.broker.as_ref().expect("broker");
                    let a = &b.endpoints.as_ref().expect("endpoints").addresses[0];
                    (b.name.clone(), format!("{}:{}", a.host, a.port))
                })
                .collect();
            let brokers: BTreeSet<(String, String)> = listed.iter().cloned().collect();
            if brokers == masters && listed.len() == 8 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the v5 route at {at} never listed both masters: {listed:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
