//! Helpers for tests of our clients over an in-process [`TestCluster`].
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeSet;

use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::pull::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{MessageExt, MessageQueue, ProducerConfig};

pub use ferromq_testkit::TestCluster;

/// The clients these tests build from a cluster.
pub trait ClusterExt {
    /// A producer of group `test-producer` that finds brokers through the name server.
    fn producer_config(&self) -> ProducerConfig;
    /// A started pull consumer of `group`.
    async fn pull_consumer(&self, group: &str) -> PullConsumer;
}

impl ClusterExt for TestCluster {
    fn producer_config(&self) -> ProducerConfig {
        ProducerConfig {
            namesrv_addrs: vec![self.namesrv()],
            group: "test-producer".into(),
            ..ProducerConfig::default()
        }
    }

    async fn pull_consumer(&self, group: &str) -> PullConsumer {
        PullConsumer::start(PullConsumerConfig {
            namesrv_addrs: vec![self.namesrv()],
            group: group.into(),
            ..PullConsumerConfig::default()
        })
        .await
        .expect("pull consumer starts")
    }
}

/// Polls `probe` until it returns `Some` (for state other components publish asynchronously,
/// such as a broker's re-registration with the name server); fails the test after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    ferromq_testkit::eventually(ferromq_testkit::DEFAULT_DEADLINE, what, probe).await
}

/// An admin client of `cluster`, after creating `topic` with `queues` read and write queues on
/// every master and waiting until the name server routes it.
pub async fn admin_with_topic(cluster: &TestCluster, topic: &str, queues: u32) -> Admin {
    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![cluster.namesrv()],
        ..AdminConfig::default()
    })
    .await
    .expect("admin");
    let spec = TopicSpec {
        read_queue_nums: queues,
        write_queue_nums: queues,
        ..TopicSpec::new(topic)
    };
    admin
        .create_topic("DefaultCluster", &spec)
        .await
        .expect("create topic");
    eventually("route", || async { admin.topic_route(topic).await.ok() }).await;
    admin
}

/// The readable queues of `topic`, once the name server lists them.
pub async fn queues_of(consumer: &PullConsumer, topic: &str) -> Vec<MessageQueue> {
    eventually(&format!("route of {topic}"), || async {
        consumer
            .fetch_queues(topic)
            .await
            .ok()
            .filter(|q| !q.is_empty())
    })
    .await
}

/// Every message of every queue of `topic`, pulled from offset 0, per queue in order.
pub async fn pull_all(consumer: &PullConsumer, topic: &str) -> Vec<MessageExt> {
    let mut out = Vec::new();
    for mq in queues_of(consumer, topic).await {
        let mut offset = 0;
        loop {
            let r = consumer.pull(&mq, offset, 32, "*").await.expect("pull");
            match r.status {
                PullStatus::Found => {
                    out.extend(r.messages);
                    offset = r.next_offset;
                }
                PullStatus::NoNewMsg => break,
                other => panic!("unexpected pull status {other:?} on {mq}"),
            }
        }
    }
    out
}

pub fn bodies(msgs: &[MessageExt]) -> BTreeSet<String> {
    msgs.iter()
        .map(|m| String::from_utf8(m.body.to_vec()).expect("utf8 body"))
        .collect()
}
