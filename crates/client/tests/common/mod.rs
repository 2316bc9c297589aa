//! An in-process name server + broker on 127.0.0.1:0 in a temp folder, and small helpers.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use ferromq_broker::{Broker, BrokerConfig, BrokerHandle};
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::pull::{PullConsumer, PullConsumerConfig, PullStatus};
use ferromq_client::{MessageExt, MessageQueue, ProducerConfig};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use tokio::net::TcpListener;

pub struct Cluster {
    pub ns: NameServerHandle,
    pub broker: BrokerHandle,
    pub _dir: tempfile::TempDir,
}

impl Cluster {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut BrokerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ns");
        let ns = NameServer::start(NameServerConfig::default(), listener).expect("ns starts");
        let broker = start_broker(dir.path(), &ns.local_addr().to_string(), tweak).await;
        Cluster {
            ns,
            broker,
            _dir: dir,
        }
    }

    pub fn namesrv(&self) -> String {
        self.ns.local_addr().to_string()
    }

    pub fn producer_config(&self) -> ProducerConfig {
        ProducerConfig {
            namesrv_addrs: vec![self.namesrv()],
            group: "test-producer".into(),
            ..ProducerConfig::default()
        }
    }

    pub async fn pull_consumer(&self, group: &str) -> PullConsumer {
        PullConsumer::start(PullConsumerConfig {
            namesrv_addrs: vec![self.namesrv()],
            group: group.into(),
            ..PullConsumerConfig::default()
        })
        .await
        .expect("pull consumer starts")
    }

    pub async fn shutdown(self) {
        self.broker.shutdown().await;
        self.ns.shutdown().await;
    }
}

async fn start_broker(
    dir: &Path,
    namesrv: &str,
    tweak: impl FnOnce(&mut BrokerConfig),
) -> BrokerHandle {
    let mut config = BrokerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        store_root_dir: dir.join("store"),
        commit_log_file_size: 8 << 20,
        ..BrokerConfig::default()
    };
    tweak(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind broker");
    Broker::start(config, listener)
        .await
        .expect("broker starts")
}

/// Polls `probe` until it returns `Some` (for state other components publish asynchronously,
/// such as a broker's re-registration with the name server).
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// An admin client of `cluster`, after creating `topic` with `queues` read and write queues on
/// every master and waiting until the name server routes it.
pub async fn admin_with_topic(cluster: &Cluster, topic: &str, queues: u32) -> Admin {
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
