//! A send that fails on one broker is retried on another.

use crate::common;

use std::time::Duration;

use common::*;
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::register::{RegisterBrokerBody, TopicConfig};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::route::RegisterBrokerRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

/// Registers a broker that nobody listens for (`127.0.0.1:1` refuses connections), serving `topic`.
/// The name server forgets it when the returned connection closes.
async fn register_dead_broker(namesrv: &str, topic: &str) -> Client {
    let mut body = RegisterBrokerBody::default();
    body.topic_config_serialize_wrapper
        .topic_config_table
        .insert(
            topic.to_owned(),
            TopicConfig {
                topic_name: topic.to_owned(),
                read_queue_nums: 4,
                write_queue_nums: 4,
                ..TopicConfig::default()
            },
        );
    // A one-topic registration reads as incremental; a first registration must be complete.
    body.topic_config_serialize_wrapper
        .topic_config_table
        .insert(
            "DeadBrokerOnly".to_owned(),
            TopicConfig {
                topic_name: "DeadBrokerOnly".to_owned(),
                ..TopicConfig::default()
            },
        );
    let cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER)
        .with_header(&RegisterBrokerRequestHeader {
            // Sorts before "broker-a", so it comes first in the route.
            broker_name: "broker-0".into(),
            broker_addr: "127.0.0.1:1".into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: "127.0.0.1:2".into(),
            broker_id: 0,
            ..RegisterBrokerRequestHeader::default()
        })
        .with_body(body.to_json());
    let client = Client::connect(namesrv, ClientConfig::default())
        .await
        .expect("connect ns");
    let resp = client
        .request(cmd, Duration::from_secs(5))
        .await
        .expect("register");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sends_fail_over_from_an_unreachable_broker() {
    let cluster = TestCluster::start().await;
    let topic = "Failover";
    let seeder = Producer::start(cluster.producer_config())
        .await
        .expect("producer");
    seeder
        .send(Message::new(topic, "seed"))
        .await
        .expect("seed creates the topic");
    seeder.shutdown().await;
    let registration = register_dead_broker(&cluster.namesrv(), topic).await;

    let producer = Producer::start(ProducerConfig {
        send_timeout: Duration::from_secs(5),
        ..cluster.producer_config()
    })
    .await
    .expect("producer");
    let route = eventually("route with both brokers", || async {
        let r = producer.routes().refresh(topic).await.ok()?;
        (r.data.broker_datas.len() == 2).then_some(r)
    })
    .await;
    assert_eq!(route.write_queues[0].broker_name, "broker-0");
    // Every send either picks broker-a directly or fails on broker-0 and is retried on broker-a.
    for i in 0..8 {
        let r = producer
            .send(Message::new(topic, format!("m{i}")))
            .await
            .expect("send fails over");
        assert_eq!(r.queue.broker_name, "broker-a");
    }
    // Without retries, a send that picks the dead broker fails.
    let strict = Producer::start(ProducerConfig {
        retries_on_failure: 0,
        ..cluster.producer_config()
    })
    .await
    .expect("producer");
    let mut failures = 0;
    for i in 0..8 {
        if let Err(e) = strict.send(Message::new(topic, format!("s{i}"))).await {
            assert!(e.is_retryable_send(), "{e}");
            failures += 1;
        }
    }
    assert_eq!(failures, 4, "round-robin over 4 dead and 4 live queues");

    let consumer = cluster.pull_consumer("failover").await;
    let msgs = eventually("all stored", || async {
        let m = pull_all_of_broker(&consumer, topic, "broker-a").await;
        (m.len() >= 13).then_some(m)
    })
    .await;
    let got = bodies(&msgs);
    for i in 0..8 {
        assert!(got.contains(&format!("m{i}")), "m{i} missing");
    }
    registration.shutdown().await;
    consumer.shutdown().await;
    strict.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

async fn pull_all_of_broker(
    consumer: &ferromq_client::consumer::PullConsumer,
    topic: &str,
    broker: &str,
) -> Vec<ferromq_client::MessageExt> {
    let mut out = Vec::new();
    for mq in queues_of(consumer, topic).await {
        if mq.broker_name != broker {
            continue;
        }
        let r = consumer.pull(&mq, 0, 64, "*").await.expect("pull");
        out.extend(r.messages);
    }
    out
}
