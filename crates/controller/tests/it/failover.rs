//! Master failover through three controllers: election from the sync-state set, epochs, fencing.

use crate::common;

use std::time::Duration;

use ferromq_controller::protocol::AlterSyncStateSetRequest;
use ferromq_remoting::ResponseCode;
use tokio::time::Instant;

use common::{set, test_config, wait_until, BrokerSim, Cluster, GROUP};

/// Registers brokers 0 (the first, so master), 1 and 2, starts their heartbeats, and puts
/// `in_sync` into the sync-state set.
async fn group_with_replicas(
    cluster: &Cluster,
    offsets: [u64; 3],
    in_sync: &[u64],
) -> Vec<Option<BrokerSim>> {
    let client = cluster.client();
    let first = client
        .register(&cluster.register_request(0))
        .await
        .expect("register 0");
    assert_eq!((first.master, first.master_epoch), (Some(0), 1));
    for id in 1..3 {
        let info = client
            .register(&cluster.register_request(id))
            .await
            .expect("register");
        assert_eq!(info.master, Some(0));
    }
    let sims: Vec<Option<BrokerSim>> = (0..3u64)
        .map(|id| {
            Some(BrokerSim::start(
                cluster.addr_strings(),
                id,
                offsets[usize::try_from(id).expect("small")],
            ))
        })
        .collect();
    // The leader accepts only live replicas into the set: wait for their heartbeats to land.
    let info = loop {
        let alter = AlterSyncStateSetRequest {
            group: GROUP.into(),
            master_id: 0,
            master_epoch: 1,
            new_set: set(in_sync),
            sync_state_set_epoch: 1,
        };
        match client.alter_sync_state_set(&alter).await {
            Ok(info) => break info,
            Err(e) if e.code() == Some(ResponseCode::CONTROLLER_BROKER_NOT_ALIVE) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("alter sync-state set: {e}"),
        }
    };
    assert_eq!(info.sync_state_set, set(in_sync));
    assert_eq!(info.sync_state_set_epoch, 2);
    client.shutdown().await;
    sims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_master_is_replaced_by_the_best_in_sync_replica_and_old_epochs_are_fenced() {
    let cluster = Cluster::start(3, test_config()).await;
    cluster.leader().await;
    // Replica 2 has the most data but is not in sync; replica 1 is.
    let mut sims = group_with_replicas(&cluster, [500, 400, 900], &[0, 1]).await;
    let client = cluster.client();

    let started = Instant::now();
    sims[0].take().expect("master").stop().await;
    let mut info = client.replica_info(GROUP).await.expect("info");
    let deadline = started + Duration::from_secs(10);
    while info.master == Some(0) {
        assert!(Instant::now() < deadline, "no failover within 10 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
        info = client.replica_info(GROUP).await.expect("info");
    }
    println!(
        "failover: new master {:?} after {} ms (master timeout 3000 ms)",
        info.master,
        started.elapsed().as_millis()
    );
    assert_eq!(
        info.master,
        Some(1),
        "the in-sync replica wins, not the longer one"
    );
    assert_eq!(info.master_epoch, 2);
    assert_eq!(
        info.master_addr.as_deref(),
        Some(cluster.register_request(1).addr.as_str())
    );
    assert_eq!(
        info.master_ha_addr.as_deref(),
        Some(cluster.register_request(1).ha_addr.as_str())
    );
    assert_eq!(info.sync_state_set, set(&[1]));

    // Every controller applies the same outcome.
    wait_until("all controllers agree", Duration::from_secs(5), || {
        cluster
            .nodes
            .iter()
            .flatten()
            .all(|n| n.replica_info(GROUP).as_ref() == Some(&info))
    })
    .await;

    // The controller pushes the change to every registered broker of the group (the stopped
    // master's port is still open here, so it hears it too).
    wait_until("role-change notifications", Duration::from_secs(5), || {
        [0, 1, 2]
            .iter()
            .all(|id| cluster.brokers.notifications(*id) == vec![info.clone()])
    })
    .await;

    // The heartbeat answer tells the brokers: the surviving replicas move to epoch 2.
    let sim1_epoch = sims[1].as_ref().expect("sim").epoch.clone();
    wait_until("replica 1 hears epoch 2", Duration::from_secs(5), || {
        sim1_epoch.load(std::sync::atomic::Ordering::Relaxed) == 2
    })
    .await;

    // The old master, back with its old epoch, is fenced.
    let stale = AlterSyncStateSetRequest {
        group: GROUP.into(),
        master_id: 0,
        master_epoch: 1,
        new_set: set(&[0, 1]),
        sync_state_set_epoch: 2,
    };
    let err = client
        .alter_sync_state_set(&stale)
        .await
        .expect_err("stale master");
    assert_eq!(
        err.code(),
        Some(ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH)
    );
    // A replica that is not the master cannot change the set either.
    let not_master = AlterSyncStateSetRequest {
        master_id: 2,
        master_epoch: 2,
        sync_state_set_epoch: info.sync_state_set_epoch,
        ..stale.clone()
    };
    let err = client
        .alter_sync_state_set(&not_master)
        .await
        .expect_err("not master");
    assert_eq!(err.code(), Some(ResponseCode::CONTROLLER_INVALID_MASTER));
    // The new master with an outdated sync-state-set epoch is fenced too.
    let old_set_epoch = AlterSyncStateSetRequest {
        master_id: 1,
        master_epoch: 2,
        new_set: set(&[1, 2]),
        sync_state_set_epoch: info.sync_state_set_epoch - 1,
        ..stale.clone()
    };
    let err = client
        .alter_sync_state_set(&old_set_epoch)
        .await
        .expect_err("old set epoch");
    assert_eq!(
        err.code(),
        Some(ResponseCode::CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH)
    );
    // The current one goes through.
    let current = AlterSyncStateSetRequest {
        sync_state_set_epoch: info.sync_state_set_epoch,
        ..old_set_epoch
    };
    let after = client
        .alter_sync_state_set(&current)
        .await
        .expect("current master");
    assert_eq!(after.sync_state_set, set(&[1, 2]));
    assert_eq!(after.master_epoch, 2);

    client.shutdown().await;
    for sim in sims.into_iter().flatten() {
        sim.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_sync_replicas_are_never_elected_and_the_old_master_comes_back() {
    let cluster = Cluster::start(3, test_config()).await;
    cluster.leader().await;
    let mut sims = group_with_replicas(&cluster, [100, 900, 900], &[0]).await;
    let client = cluster.client();

    sims[0].take().expect("master").stop().await;
    // The leader records that the group lost its master without electing anyone.
    let mut info = client.replica_info(GROUP).await.expect("info");
    let deadline = Instant::now() + Duration::from_secs(10);
    while info.master.is_some() {
        assert!(
            Instant::now() < deadline,
            "master loss not recorded within 10 s"
        );
        assert_eq!(info.master, Some(0), "an out-of-sync replica was elected");
        tokio::time::sleep(Duration::from_millis(25)).await;
        info = client.replica_info(GROUP).await.expect("info");
    }
    assert_eq!(info.master_epoch, 1, "no new epoch without a new master");
    assert_eq!(info.sync_state_set, set(&[0]));
    // Several more liveness checks pass while the replicas keep heartbeating: still nobody.
    let leader = cluster.leader().await;
    let checks_before = cluster.node(leader).elections_committed();
    let recheck_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < recheck_until {
        let info = client.replica_info(GROUP).await.expect("info");
        assert_eq!(info.master, None, "an out-of-sync replica was elected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(cluster.node(leader).elections_committed(), checks_before);

    // The old master returns: it is the only in-sync broker, so it is master again, in a new epoch.
    let back = BrokerSim::start(cluster.addr_strings(), 0, 100);
    wait_until(
        "the old master is re-elected",
        Duration::from_secs(10),
        || {
            cluster
                .node(leader)
                .replica_info(GROUP)
                .is_some_and(|i| i.master == Some(0) && i.master_epoch == 2)
        },
    )
    .await;

    back.stop().await;
    client.shutdown().await;
    for sim in sims.into_iter().flatten() {
        sim.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_code_and_a_remark() {
    let cluster = Cluster::start(3, test_config()).await;
    let leader = cluster.leader().await;
    let pool = ferromq_net::ClientPool::new(ferromq_net::ClientConfig::default());
    let addr = cluster.addrs[leader].to_string();
    let req = ferromq_remoting::RemotingCommand::request(
        ferromq_remoting::RequestCode::CONTROLLER_REGISTER_BROKER,
    )
    .with_ext("brokerName", GROUP);
    let resp = pool
        .request(&addr, req, Duration::from_secs(2))
        .await
        .expect("answer");
    assert_eq!(
        resp.response_code(),
        ResponseCode::CONTROLLER_INVALID_REQUEST
    );
    assert!(resp.remark.expect("remark").contains("clusterName"));
    // A follower redirects to the leader.
    let follower = (0..3).find(|i| *i != leader).expect("follower");
    let req = ferromq_controller::protocol::replica_info_request(GROUP);
    let resp = pool
        .request(
            &cluster.addrs[follower].to_string(),
            req,
            Duration::from_secs(2),
        )
        .await
        .expect("answer");
    assert_eq!(resp.response_code(), ResponseCode::CONTROLLER_NOT_LEADER);
    assert_eq!(
        resp.ext(ferromq_controller::codes::LEADER_ADDRESS_FIELD),
        Some(addr.as_str())
    );
    // Any controller says who leads.
    let req = ferromq_remoting::RemotingCommand::request(
        ferromq_remoting::RequestCode::CONTROLLER_GET_METADATA_INFO,
    );
    let resp = pool
        .request(
            &cluster.addrs[follower].to_string(),
            req,
            Duration::from_secs(2),
        )
        .await
        .expect("answer");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_eq!(resp.ext("isLeader"), Some("false"));
    assert_eq!(
        resp.ext(ferromq_controller::codes::LEADER_ADDRESS_FIELD),
        Some(addr.as_str())
    );
    // A group nobody registered.
    let err = cluster
        .client()
        .replica_info("nobody")
        .await
        .expect_err("unknown group");
    assert_eq!(
        err.code(),
        Some(ResponseCode::CONTROLLER_BROKER_METADATA_NOT_EXIST)
    );
    pool.shutdown().await;
    cluster.shutdown().await;
}
