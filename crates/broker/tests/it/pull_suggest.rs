//! The member of the group a pull response suggests reading from next (`suggestWhichBrokerId`):
//! with `slaveReadEnable`, a consumer that lags the commit log's end by more than
//! `accessMessageInMemoryMaxRatio` percent of memory is sent to its group's
//! `whichBrokerWhenConsumeSlowly`; everyone else, and everyone when it is off, to the master.
//! Ratio 0 makes any lag count, which is how these tests make a consumer "far behind".

use crate::common;

use std::time::{Duration, Instant};

use common::{call, client_of, decode, pull_request, send_v2, start_replica, TestCluster, T};
use ferromq_broker::BrokerConfig;
use ferromq_net::Client;
use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::pull::PullMessageResponseHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};

const TOPIC: &str = "SuggestTopic";

fn reads_from_replicas(c: &mut BrokerConfig) {
    c.slave_read_enable = true;
    c.access_message_in_memory_max_ratio = 0;
}

async fn send_bodies(client: &Client, n: usize) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    for i in 0..n {
        let body = format!("s{i:03}").into_bytes();
        let resp = send_v2(client, TOPIC, 0, None, &body).await;
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
        bodies.push(body);
    }
    bodies
}

/// One pull without holding: (code, header, bodies).
async fn pull(
    client: &Client,
    group: &str,
    offset: i64,
) -> (ResponseCode, PullMessageResponseHeader, Vec<Vec<u8>>) {
    let resp = call(client, pull_request(group, TOPIC, 0, offset, "*", None)).await;
    let code = resp.response_code();
    // A replica answers TOPIC_NOT_EXIST until it has mirrored its master's topics.
    let header = if code == ResponseCode::TOPIC_NOT_EXIST {
        PullMessageResponseHeader::default()
    } else {
        resp.decode_header().expect("pull header")
    };
    let bodies = resp
        .body
        .as_deref()
        .map(|b| decode(b).into_iter().map(|(_, body, _, _)| body).collect())
        .unwrap_or_default();
    (code, header, bodies)
}

/// Pulls from offset 0 until `count` messages were read (sends are dispatched to the queue in the
/// background, and a replica may still be copying); returns the bodies and the suggestion of every
/// response that carried messages. Fails after `T`.
async fn pull_all(client: &Client, group: &str, count: usize) -> (Vec<Vec<u8>>, Vec<i64>) {
    let deadline = Instant::now() + T;
    let (mut bodies, mut suggestions) = (Vec::new(), Vec::new());
    let mut offset = 0;
    while bodies.len() < count {
        let (code, header, got) = pull(client, group, offset).await;
        if code == ResponseCode::SUCCESS {
            bodies.extend(got);
            suggestions.push(header.suggest_which_broker_id);
            offset = header.next_begin_offset;
        } else {
            assert!(
                Instant::now() < deadline,
                "{} of {count} read: {code:?}",
                bodies.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    (bodies, suggestions)
}

async fn create_group(client: &Client, config: &SubscriptionGroupConfig) {
    let resp = call(
        client,
        RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(config.to_json()),
    )
    .await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_sends_a_consumer_far_behind_to_its_groups_slow_reader() {
    let cluster = TestCluster::start_with(reads_from_replicas).await;
    let m = cluster.broker_client().await;
    let sent = send_bodies(&m, 10).await;

    // Behind: told to read from whichBrokerWhenConsumeSlowly (1 by default), with the messages.
    let (bodies, suggested) = pull_all(&m, "cg", sent.len()).await;
    assert!(suggested.iter().all(|id| *id == 1), "{suggested:?}");
    assert_eq!(bodies, sent);

    // The group's own choice of slow reader is honoured.
    create_group(
        &m,
        &SubscriptionGroupConfig {
            which_broker_when_consume_slowly: 2,
            ..SubscriptionGroupConfig::named("cg2")
        },
    )
    .await;
    let (code, h, _) = pull(&m, "cg2", 0).await;
    assert_eq!(code, ResponseCode::SUCCESS);
    assert_eq!(h.suggest_which_broker_id, 2);

    // Caught up: nothing read, so nothing read from disk; back to the group's brokerId.
    let (code, h, _) = pull(&m, "cg", 10).await;
    assert_eq!(code, ResponseCode::PULL_NOT_FOUND);
    assert_eq!(h.suggest_which_broker_id, 0);
    create_group(
        &m,
        &SubscriptionGroupConfig {
            broker_id: 3,
            ..SubscriptionGroupConfig::named("cg3")
        },
    )
    .await;
    let (_, h, _) = pull(&m, "cg3", 10).await;
    assert_eq!(h.suggest_which_broker_id, 3);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_keeps_readers_from_memory_and_everyone_without_slave_reads() {
    // The default ratio (40% of this machine's memory) is far more than a few messages.
    let cluster = TestCluster::start_with(|c| c.slave_read_enable = true).await;
    let m = cluster.broker_client().await;
    let sent = send_bodies(&m, 5).await;
    let (bodies, suggested) = pull_all(&m, "cg", sent.len()).await;
    assert!(suggested.iter().all(|id| *id == 0), "{suggested:?}");
    assert_eq!(bodies, sent);
    cluster.shutdown().await;

    // slaveReadEnable off (RocketMQ's default): the master, however far behind.
    let cluster = TestCluster::start_with(|c| {
        c.access_message_in_memory_max_ratio = 0;
    })
    .await;
    let m = cluster.broker_client().await;
    let sent = send_bodies(&m, 5).await;
    let (bodies, suggested) = pull_all(&m, "cg", sent.len()).await;
    assert!(suggested.iter().all(|id| *id == 0), "{suggested:?}");
    assert_eq!(bodies, sent);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_slave_reads_sends_consumers_to_the_master() {
    let master = TestCluster::start_with(|c| {
        c.ha_listen_port = Some(0);
        reads_from_replicas(c);
    })
    .await;
    let ns = master.ns().local_addr().to_string();
    let m = master.broker_client().await;
    let sent = send_bodies(&m, 20).await;
    // Two replicas with the same lag threshold, one with slave reads and one without.
    let closed = start_replica(&master.dir().join("r1"), &ns, 1, |c| {
        c.access_message_in_memory_max_ratio = 0;
    })
    .await;
    let open = start_replica(&master.dir().join("r2"), &ns, 2, reads_from_replicas).await;
    let (rc, ro) = (client_of(&closed).await, client_of(&open).await);

    let (bodies, suggested) = pull_all(&rc, "cg", sent.len()).await;
    assert!(
        suggested.iter().all(|id| *id == 0),
        "slaveReadEnable=false: {suggested:?}"
    );
    assert_eq!(bodies, sent, "it still serves the messages");
    let (bodies, suggested) = pull_all(&ro, "cg", sent.len()).await;
    assert_eq!(bodies, sent);
    // Ratio 0 counts any lag, and a batch's last record always starts before the log's end.
    assert!(
        suggested.iter().all(|id| *id == 1),
        "slaveReadEnable=true: {suggested:?}"
    );
    let (_, h, _) = pull(&m, "cg", 0).await;
    assert_eq!(h.suggest_which_broker_id, 1, "the master agrees");

    // Caught up on a replica with slave reads: back to the master.
    let (code, h, _) = pull(&ro, "cg", 20).await;
    assert_eq!(
        (code, h.suggest_which_broker_id),
        (ResponseCode::PULL_NOT_FOUND, 0)
    );

    // An offset past a replica's end is not moved (its log may only lag); the master moves it.
    let (code, h, _) = pull(&rc, "cg", 1_000).await;
    assert_eq!(code, ResponseCode::PULL_NOT_FOUND);
    assert_eq!(h.next_begin_offset, 1_000);
    let (code, h, _) = pull(&m, "cg", 1_000).await;
    assert_eq!(code, ResponseCode::PULL_OFFSET_MOVED);
    assert_eq!(h.next_begin_offset, 20);

    closed.shutdown().await;
    open.shutdown().await;
    master.shutdown().await;
}

#[test]
fn broker_conf_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broker.conf");
    std::fs::write(
        &path,
        "slaveReadEnable=true\naccessMessageInMemoryMaxRatio=25\n",
    )
    .expect("write");
    let c = BrokerConfig::load(&path).expect("loads");
    assert!(c.slave_read_enable);
    assert_eq!(c.access_message_in_memory_max_ratio, 25);
    assert_eq!(c.validate(), Ok(()));
    let d = BrokerConfig::default();
    assert!(!d.slave_read_enable);
    assert_eq!(d.access_message_in_memory_max_ratio, 40);

    std::fs::write(&path, "accessMessageInMemoryMaxRatio=101\n").expect("write");
    let c = BrokerConfig::load(&path).expect("loads");
    let err = c.validate().expect_err("over 100%");
    assert!(
        err.to_string().contains("accessMessageInMemoryMaxRatio"),
        "{err}"
    );
    std::fs::write(&path, "slaveReadEnable=yes\n").expect("write");
    let err = BrokerConfig::load(&path).expect_err("not a boolean");
    assert!(err.to_string().contains("slaveReadEnable"), "{err}");
}
