//! `TestCluster` itself: every broker registered with every name server once `start` returns, a
//! restart on the same folder, and nothing left on disk afterwards.

use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_testkit::{wait_registered, TestCluster};

#[tokio::test]
async fn every_broker_is_registered_with_every_name_server() {
    let cluster = TestCluster::builder()
        .name_servers(2)
        .brokers(["broker-a", "broker-b"])
        .start()
        .await;
    assert_eq!(cluster.namesrv_addrs().len(), 2);
    assert_eq!(cluster.namesrv(), cluster.namesrv_addrs()[0]);
    assert_eq!(cluster.broker_count(), 2);
    for ns in cluster.namesrv_addrs() {
        for i in 0..cluster.broker_count() {
            let config = cluster.broker_config(i);
            assert_eq!(config.namesrv_addrs, cluster.namesrv_addrs());
            assert!(config.store_root_dir.starts_with(cluster.dir()));
            wait_registered(&ns, &config.broker_name, cluster.broker_at(i)).await;
        }
    }
    let dir = cluster.dir().to_owned();
    cluster.shutdown().await;
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[tokio::test]
async fn a_restarted_broker_keeps_its_data_and_registers_again() {
    let mut cluster = TestCluster::start_with(|c| c.broker_name = "restarted".into()).await;
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    producer
        .send(Message::new("Kept", "before the restart"))
        .await
        .expect("send");
    producer.shutdown().await;
    let end = cluster.broker().commit_log_end();
    assert!(end > 0);

    cluster.restart_broker(0).await;
    // The log is still there (a started broker may append records of its own after it).
    assert!(cluster.broker().commit_log_end() >= end);
    wait_registered(&cluster.namesrv(), "restarted", cluster.broker()).await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_dropped_cluster_removes_its_folder() {
    let cluster = TestCluster::start().await;
    let dir = cluster.dir().to_owned();
    assert!(cluster.broker_config(0).store_root_dir.exists());
    drop(cluster);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
