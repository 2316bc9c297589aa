//! Consumers reading from replicas: a consumer far behind follows the master's suggestion to its
//! replica; when the master stops, pull and push consumers carry on from the replica, and offsets
//! are committed there; when the master is back, pulls return to it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_broker::{Broker, BrokerConfig, BrokerHandle, BrokerRole};
use ferromq_client::admin::{Admin, AdminConfig, TopicSpec};
use ferromq_client::consumer::{
    ConsumeFrom, ConsumeStatus, PullConsumer, PullConsumerConfig, PullStatus, PushConsumer,
    PushConsumerConfig,
};
use ferromq_client::{Message, MessageExt, MessageQueue, Producer, ProducerConfig};
use ferromq_namesrv::{NameServer, NameServerConfig, NameServerHandle};
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::headers::admin::TopicRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use parking_lot::{Condvar, Mutex};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(20);

/// A name server, a master with a replication listener and one replica (id 1) following it.
struct Pair {
    ns: NameServerHandle,
    master: Option<BrokerHandle>,
    replica: BrokerHandle,
    dir: tempfile::TempDir,
    tweak: fn(&mut BrokerConfig),
}

fn keep_defaults(_: &mut BrokerConfig) {}

fn reads_from_replicas(c: &mut BrokerConfig) {
    c.slave_read_enable = true;
    // Any lag counts as far behind, so a few messages are enough.
    c.access_message_in_memory_max_ratio = 0;
}

fn config(dir: &Path, namesrv: &str, tweak: fn(&mut BrokerConfig)) -> BrokerConfig {
    let mut c = BrokerConfig {
        namesrv_addrs: vec![namesrv.to_owned()],
        store_root_dir: dir.join("store"),
        commit_log_file_size: 8 << 20,
        // Re-registration brings a restarted master back into the routes quickly.
        register_name_server_period_ms: 200,
        ..BrokerConfig::default()
    };
    tweak(&mut c);
    c
}

async fn start(config: BrokerConfig) -> BrokerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Broker::start(config, listener)
        .await
        .expect("broker starts")
}

impl Pair {
    async fn start(tweak: fn(&mut BrokerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ns");
        let ns = NameServer::start(NameServerConfig::default(), listener).expect("ns starts");
        let mut pair = Pair {
            replica: start(Self::replica_config(dir.path(), &ns, tweak)).await,
            ns,
            master: None,
            dir,
            tweak,
        };
        pair.start_master().await;
        pair
    }

    fn replica_config(
        dir: &Path,
        ns: &NameServerHandle,
        tweak: fn(&mut BrokerConfig),
    ) -> BrokerConfig {
        let mut c = config(&dir.join("replica"), &ns.local_addr().to_string(), tweak);
        c.broker_role = BrokerRole::Slave;
        c.broker_id = 1;
        c
    }

    fn master_dir(&self) -> PathBuf {
        self.dir.path().join("master")
    }

    /// Starts (or restarts, on the same folder) the master, on new ports.
    async fn start_master(&mut self) {
        let mut c = config(&self.master_dir(), &self.namesrv(), self.tweak);
        c.ha_listen_port = Some(0);
        self.master = Some(start(c).await);
    }

    async fn stop_master(&mut self) {
        if let Some(m) = self.master.take() {
            m.shutdown().await;
        }
    }

    fn master(&self) -> &BrokerHandle {
        self.master.as_ref().expect("master running")
    }

    fn namesrv(&self) -> String {
        self.ns.local_addr().to_string()
    }

    fn master_addr(&self) -> String {
        self.master().advertised_addr().to_string()
    }

    fn replica_addr(&self) -> String {
        self.replica.advertised_addr().to_string()
    }

    async fn admin(&self) -> Admin {
        Admin::start(AdminConfig {
            namesrv_addrs: vec![self.namesrv()],
            ..AdminConfig::default()
        })
        .await
        .expect("admin")
    }

    /// Creates `topic` on the master and waits until its route lists both members.
    async fn create_topic(&self, topic: &str, queues: u32) {
        let admin = self.admin().await;
        let spec = TopicSpec {
            read_queue_nums: queues,
            write_queue_nums: queues,
            ..TopicSpec::new(topic)
        };
        admin
            .create_topic("DefaultCluster", &spec)
            .await
            .expect("create topic");
        poll("a route with master and replica", || async {
            let route = admin.topic_route(topic).await.ok()?;
            let addrs = &route.broker_datas.first()?.broker_addrs;
            (addrs.len() == 2).then_some(())
        })
        .await;
        admin.shutdown().await;
    }

    /// Sends `n` messages to `topic` and waits until the replica holds them.
    async fn produce(&self, topic: &str, n: usize) -> Vec<String> {
        let producer = Producer::start(ProducerConfig {
            namesrv_addrs: vec![self.namesrv()],
            group: "replica-reads-producer".into(),
            ..ProducerConfig::default()
        })
        .await
        .expect("producer");
        let mut sent = Vec::new();
        for i in 0..n {
            let body = format!("{topic}-{i:03}");
            producer
                .send(Message::new(topic, body.clone()))
                .await
                .expect("send");
            sent.push(body);
        }
        producer.shutdown().await;
        let end = self.master().commit_log_end();
        poll("the replica caught up", || async {
            (self.replica.commit_log_end() >= end).then_some(())
        })
        .await;
        // It serves a topic once it has mirrored its master's topic table (every second).
        let replica = Client::connect(self.replica_addr(), ClientConfig::default())
            .await
            .expect("connect the replica");
        poll("the replica knows the topic", || async {
            let cmd = RemotingCommand::request(RequestCode::GET_TOPIC_CONFIG).with_header(
                &TopicRequestHeader {
                    topic: topic.to_owned(),
                },
            );
            let resp = replica.request(cmd, DEADLINE).await.ok()?;
            (resp.response_code() == ResponseCode::SUCCESS).then_some(())
        })
        .await;
        sent
    }

    async fn pull_consumer(&self, group: &str, route_refresh: Duration) -> PullConsumer {
        PullConsumer::start(PullConsumerConfig {
            namesrv_addrs: vec![self.namesrv()],
            group: group.into(),
            route_refresh_interval: route_refresh,
            ..PullConsumerConfig::default()
        })
        .await
        .expect("pull consumer")
    }

    async fn shutdown(mut self) {
        self.stop_master().await;
        self.replica.shutdown().await;
        self.ns.shutdown().await;
    }
}

/// Polls `probe` until it returns `Some`, failing after [`DEADLINE`].
async fn poll<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    ferromq_testkit::eventually(DEADLINE, what, probe).await
}

/// Messages a broker has handed out to consumers since it started.
async fn served(admin: &Admin, addr: &str) -> u64 {
    let info = admin.broker_runtime_info(addr).await.expect("runtime info");
    info["msgGetTotalTodayNow"].parse().expect("a count")
}

fn body(m: &MessageExt) -> String {
    String::from_utf8(m.body.to_vec()).expect("utf8 body")
}

/// Pulls `mq` from `offset` until `count` messages were read, tolerating empty answers while a
/// member catches up; returns them and the next offset.
async fn pull_n(
    consumer: &PullConsumer,
    mq: &MessageQueue,
    mut offset: u64,
    count: usize,
) -> (Vec<MessageExt>, u64) {
    let deadline = Instant::now() + DEADLINE;
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} pulled from {mq} at {offset}",
            out.len()
        );
        match consumer.pull(mq, offset, 32, "*").await {
            Ok(r) => {
                assert_ne!(r.status, PullStatus::OffsetIllegal, "{r:?}");
                assert!(r.next_offset >= offset);
                out.extend(r.messages);
                offset = r.next_offset;
            }
            // A replica mirrors its master's topics about once a second.
            Err(e) if e.code() == Some(ResponseCode::TOPIC_NOT_EXIST) => {}
            Err(e) => panic!("pull failed: {e}"),
        }
        if out.len() < count {
            tokio::task::yield_now().await;
        }
    }
    (out, offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_far_behind_is_sent_to_the_replica_and_reads_everything_there() {
    let pair = Pair::start(reads_from_replicas).await;
    let topic = "FarBehind";
    pair.create_topic(topic, 1).await;
    let sent = pair.produce(topic, 100).await;

    let consumer = pair
        .pull_consumer("far-behind", Duration::from_millis(200))
        .await;
    let queues = consumer.fetch_queues(topic).await.expect("queues");
    assert_eq!(queues.len(), 1);
    let (got, next) = pull_n(&consumer, &queues[0], 0, sent.len()).await;
    assert_eq!(next, 100);
    let bodies: Vec<String> = got.iter().map(body).collect();
    assert_eq!(bodies, sent, "every message once, in order");
    let offsets: Vec<u64> = got.iter().map(|m| m.queue_offset).collect();
    assert_eq!(offsets, (0..100).collect::<Vec<u64>>());

    // The first pull went to the master and was told to move; all the others went to the replica.
    let admin = pair.admin().await;
    assert_eq!(served(&admin, &pair.master_addr()).await, 32);
    assert_eq!(served(&admin, &pair.replica_addr()).await, 68);
    admin.shutdown().await;
    consumer.shutdown().await;
    pair.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_master_stopped_a_pull_consumer_reads_from_the_replica_and_returns_later() {
    let mut pair = Pair::start(keep_defaults).await;
    let topic = "MasterStops";
    pair.create_topic(topic, 2).await;
    let sent = pair.produce(topic, 40).await;
    // No route refresh during the test: the route keeps naming the master after it stopped.
    let consumer = pair
        .pull_consumer("pull-failover", Duration::from_secs(60))
        .await;
    let queues = consumer.fetch_queues(topic).await.expect("queues");
    assert_eq!(queues.len(), 2);

    // Queue 0 from the master (one pull reads all 20), with the offset committed there.
    let (first, next0) = pull_n(&consumer, &queues[0], 0, 1).await;
    consumer
        .commit_offset("pull-failover", &queues[0], next0)
        .await
        .expect("commit on the master");
    pair.stop_master().await;

    // The route still names the stopped master: the failed connection sends the pulls to the replica.
    let mut got = first;
    let per_queue = sent.len() / 2;
    assert_eq!((got.len(), next0), (per_queue, 20));
    let (all1, end1) = pull_n(&consumer, &queues[1], 0, per_queue).await;
    got.extend(all1);
    assert_eq!(end1, 20);
    let mut bodies: Vec<String> = got.iter().map(body).collect();
    bodies.sort();
    let mut want = sent.clone();
    want.sort();
    assert_eq!(bodies, want, "all 40, each once");

    // Offsets: committed to the replica while the master is away, and read back from it.
    let admin = pair.admin().await;
    let from_replica = served(&admin, &pair.replica_addr()).await;
    assert_eq!(from_replica, 20);
    consumer
        .commit_offset("pull-failover", &queues[1], end1)
        .await
        .expect("commit falls back on the replica");
    let committed = consumer
        .committed_offset("pull-failover", &queues[1])
        .await
        .expect("query falls back on the replica");
    assert_eq!(committed, Some(end1));

    // The master comes back (new ports): once the route lists it, pulls go to it again.
    pair.start_master().await;
    let master = pair.master_addr();
    poll("the route lists the master again", || async {
        let route = consumer.routes().refresh(topic).await.ok()?;
        let listed = route.data.broker_datas.first()?.master_addr()? == master;
        listed.then_some(())
    })
    .await;
    let (again, _) = pull_n(&consumer, &queues[1], 0, per_queue).await;
    assert_eq!(again.len(), per_queue);
    assert_eq!(served(&admin, &master).await, per_queue as u64);
    assert_eq!(served(&admin, &pair.replica_addr()).await, from_replica);
    admin.shutdown().await;
    consumer.shutdown().await;
    pair.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_consumer_keeps_consuming_from_the_replica_when_the_master_stops() {
    let mut pair = Pair::start(keep_defaults).await;
    let topic = "PushFailover";
    pair.create_topic(topic, 2).await;
    let sent = pair.produce(topic, 100).await;

    // The callback holds each queue's first batch until the master is gone, so most messages are
    // still unread when it stops.
    let gate: Arc<(Mutex<bool>, Condvar)> = Arc::default();
    let held = gate.clone();
    let received: Arc<Mutex<Vec<MessageExt>>> = Arc::default();
    let sink = received.clone();
    let mut config =
        PushConsumerConfig::new(vec![pair.namesrv()], "push-failover").subscribe(topic, "*");
    config.consume_from = ConsumeFrom::FirstOffset;
    config.persist_interval = Duration::from_millis(100);
    config.route_refresh_interval = Duration::from_millis(200);
    config.pull_delay_on_error = Duration::from_millis(100);
    config.suspend_timeout = Duration::from_millis(500);
    config.pull_timeout = Duration::from_secs(3);
    let consumer = PushConsumer::start(config, move |msgs| {
        let (open, opened) = &*held;
        let mut open = open.lock();
        while !*open {
            assert!(
                !opened.wait_for(&mut open, DEADLINE).timed_out(),
                "gate never opened"
            );
        }
        sink.lock().extend(msgs);
        ConsumeStatus::ConsumeSuccess
    })
    .await
    .expect("push consumer");
    let own: Vec<MessageQueue> = consumer
        .assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect();
    assert_eq!(own.len(), 2);
    // Each queue's first pull (32 of its 50) reached the master; the callbacks are now held.
    let admin = pair.admin().await;
    let master_addr = pair.master_addr();
    poll("the first pulls", || async {
        (served(&admin, &master_addr).await == 64).then_some(())
    })
    .await;
    pair.stop_master().await;
    *gate.0.lock() = true;
    gate.1.notify_all();

    poll("every message", || async {
        (received.lock().len() >= sent.len()).then_some(())
    })
    .await;
    let got = received.lock().clone();
    let mut bodies: Vec<String> = got.iter().map(body).collect();
    bodies.sort();
    let mut want = sent.clone();
    want.sort();
    assert_eq!(bodies, want, "all 100, each once");
    for q in 0..2 {
        let offsets: Vec<u64> = got
            .iter()
            .filter(|m| m.queue_id == q)
            .map(|m| m.queue_offset)
            .collect();
        assert_eq!(offsets, (0..50).collect::<Vec<u64>>(), "queue {q} in order");
    }
    assert_eq!(served(&admin, &pair.replica_addr()).await, 100 - 64);

    // The consumer's offsets reach the replica (the master is gone).
    let reader = pair
        .pull_consumer("offset-reader", Duration::from_millis(200))
        .await;
    for mq in reader.fetch_queues(topic).await.expect("queues") {
        poll("offset committed to the replica", || async {
            let o = reader.committed_offset("push-failover", &mq).await.ok()??;
            (o == 50).then_some(())
        })
        .await;
    }
    reader.shutdown().await;
    consumer.shutdown().await;

    // A consumer that starts while the master is away registers with the replica, takes its
    // queues there and reads everything from it.
    let late: Arc<Mutex<Vec<MessageExt>>> = Arc::default();
    let sink = late.clone();
    let mut config =
        PushConsumerConfig::new(vec![pair.namesrv()], "push-late").subscribe(topic, "*");
    config.consume_from = ConsumeFrom::FirstOffset;
    let consumer = PushConsumer::start(config, move |msgs| {
        sink.lock().extend(msgs);
        ConsumeStatus::ConsumeSuccess
    })
    .await
    .expect("push consumer without a master");
    poll("every message again", || async {
        (late.lock().len() >= sent.len()).then_some(())
    })
    .await;
    let mut bodies: Vec<String> = late.lock().iter().map(body).collect();
    bodies.sort();
    assert_eq!(bodies, want, "all 100, each once");
    assert_eq!(served(&admin, &pair.replica_addr()).await, 36 + 100);
    admin.shutdown().await;
    consumer.shutdown().await;
    pair.shutdown().await;
}
