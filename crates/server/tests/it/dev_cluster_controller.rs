//! `ferromq dev --cluster 1` runs its brokers under a failover controller: the ready line names the
//! controller, which answers for the group with broker 1 as master (epoch 1) and both brokers in
//! the sync-state set, and the name servers route to that master as broker id 0.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Dev;
use ferromq_client::admin::{Admin, AdminConfig};
use ferromq_controller::ControllerClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_cluster_names_its_controller_and_the_controller_its_master() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = Dev::start(dir.path(), &["--cluster", "1", "--master-role", "async"]);
    let controller = dev.field("controller");
    let (master, replica) = {
        let group = dev.field("broker-a");
        let (m, r) = group.split_once('/').expect("master/replica");
        (m.to_owned(), r.to_owned())
    };

    let client = ControllerClient::new(vec![controller]);
    let info = client.replica_info("broker-a").await.expect("replica info");
    client.shutdown().await;
    assert_eq!(info.master, Some(1));
    assert_eq!(info.master_epoch, 1);
    assert_eq!(info.master_addr.as_deref(), Some(master.as_str()));
    assert_eq!(info.sync_state_set, BTreeSet::from([1, 2]));

    let admin = Admin::start(AdminConfig {
        namesrv_addrs: vec![dev.field("namesrv")],
        timeout: Duration::from_secs(3),
        tls: None,
    })
    .await
    .expect("admin");
    let cluster = admin.cluster_info().await.expect("cluster info");
    let addrs = &cluster.broker_addr_table["broker-a"].broker_addrs;
    assert_eq!(addrs.get(&0), Some(&master), "{addrs:?}");
    assert!(addrs.values().any(|a| *a == replica), "{addrs:?}");
    let runtime = admin.broker_runtime_info(&master).await.expect("runtime");
    assert_eq!(runtime["brokerRole"], "ASYNC_MASTER");
    let runtime = admin.broker_runtime_info(&replica).await.expect("runtime");
    assert_eq!(runtime["brokerRole"], "SLAVE");
    admin.shutdown().await;
    dev.stop();
}
