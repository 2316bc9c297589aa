//! The controller group itself: losing its leader, restarting members, losing its quorum.

use crate::common;

use std::time::Duration;

use ferromq_controller::protocol::{AlterSyncStateSetRequest, HeartbeatRequest};
use ferromq_controller::{Controller, ControllerConfig};
use ferromq_remoting::ResponseCode;
use tokio::net::TcpListener;
use tokio::time::Instant;

use common::{set, test_config, wait_until, BrokerSim, Cluster, FakeBrokers, GROUP};

async fn register_all(cluster: &Cluster, ids: &[u64]) {
    let client = cluster.client();
    for id in ids {
        client
            .register(&cluster.register_request(*id))
            .await
            .expect("register");
    }
    client.shutdown().await;
}

/// Alters the sync-state set as master 0 of epoch 1, retrying while the replicas' first
/// heartbeats have not reached the leader yet.
async fn put_in_sync(cluster: &Cluster, ids: &[u64]) {
    let client = cluster.client();
    let info =
        ferromq_testkit::eventually_ok(Duration::from_secs(10), "alter sync-state set", || async {
            let epoch = client
                .replica_info(GROUP)
                .await
                .expect("info")
                .sync_state_set_epoch;
            let alter = AlterSyncStateSetRequest {
                group: GROUP.into(),
                master_id: 0,
                master_epoch: 1,
                new_set: set(ids),
                sync_state_set_epoch: epoch,
            };
            client.alter_sync_state_set(&alter).await
        })
        .await;
    assert_eq!(info.sync_state_set, set(ids));
    client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_raft_leader_keeps_the_state_and_elections_still_work() {
    let mut cluster = Cluster::start(3, test_config()).await;
    cluster.leader().await;
    register_all(&cluster, &[0, 1, 2]).await;
    let mut sims: Vec<Option<BrokerSim>> = (0..3)
        .map(|id| Some(BrokerSim::start(cluster.addr_strings(), id, 100 * (id + 1))))
        .collect();
    put_in_sync(&cluster, &[0, 1, 2]).await;
    let before = cluster.client().replica_info(GROUP).await.expect("info");

    let old_leader = cluster.leader().await;
    cluster.stop(old_leader).await;
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, old_leader);
    let client = cluster.client();
    let after = client
        .replica_info(GROUP)
        .await
        .expect("info from the new leader");
    assert_eq!(
        after, before,
        "the new leader has the same master, epoch and set"
    );

    // Two controllers of three still elect: the master dies, the best in-sync replica (2,
    // offset 300) takes over.
    let started = Instant::now();
    sims[0].take().expect("master").stop().await;
    wait_until("a new master", Duration::from_secs(10), || {
        cluster
            .node(new_leader)
            .replica_info(GROUP)
            .is_some_and(|i| i.master == Some(2))
    })
    .await;
    println!(
        "failover after a controller leader change: {} ms",
        started.elapsed().as_millis()
    );
    let info = client.replica_info(GROUP).await.expect("info");
    assert_eq!((info.master, info.master_epoch), (Some(2), 2));

    client.shutdown().await;
    for sim in sims.into_iter().flatten() {
        sim.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_rejoins_with_its_state_and_catches_up() {
    // Snapshots every few entries, so the log is purged and a restart goes through snapshots.
    let config = ControllerConfig {
        snapshot_every: 3,
        ..test_config()
    };
    let mut cluster = Cluster::start(3, config).await;
    let leader = cluster.leader().await;
    register_all(&cluster, &[0, 1]).await;
    let follower = (0..3).find(|i| *i != leader).expect("follower");
    let registered = cluster.node(leader).replica_info(GROUP).expect("group");
    wait_until("the follower has the group", Duration::from_secs(5), || {
        cluster.node(follower).replica_info(GROUP).as_ref() == Some(&registered)
    })
    .await;

    cluster.stop(follower).await;
    // Changes while it is away.
    register_all(&cluster, &[2, 3, 4, 5]).await;
    let sims: Vec<BrokerSim> = (1..3)
        .map(|id| BrokerSim::start(cluster.addr_strings(), id, 0))
        .collect();
    put_in_sync(&cluster, &[0, 1, 2]).await;
    let current = cluster.client().replica_info(GROUP).await.expect("info");

    // The leader has snapshotted and dropped the log the follower missed.
    let leader_metrics = cluster.node(leader).metrics();
    wait_until(
        "a snapshot and a purged log",
        Duration::from_secs(5),
        || {
            let m = leader_metrics.borrow();
            m.snapshot.is_some() && m.purged.is_some()
        },
    )
    .await;

    cluster.restart(follower).await;
    wait_until(
        "the restarted controller catches up",
        Duration::from_secs(10),
        || cluster.node(follower).replica_info(GROUP).as_ref() == Some(&current),
    )
    .await;

    // Restart it once more with nothing changed: its own files give back the state, with no
    // leader needed (the other two are stopped first).
    for i in (0..3).filter(|i| *i != follower) {
        cluster.stop(i).await;
    }
    cluster.stop(follower).await;
    cluster.restart(follower).await;
    wait_until(
        "state recovered from disk alone",
        Duration::from_secs(10),
        || cluster.node(follower).replica_info(GROUP).as_ref() == Some(&current),
    )
    .await;

    for sim in sims {
        sim.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_without_quorum_changes_nothing() {
    let mut cluster = Cluster::start(3, test_config()).await;
    let leader = cluster.leader().await;
    register_all(&cluster, &[0, 1]).await;
    let sims: Vec<BrokerSim> = (0..2)
        .map(|id| BrokerSim::start(cluster.addr_strings(), id, 10))
        .collect();
    put_in_sync(&cluster, &[0, 1]).await;
    let before = cluster.node(leader).replica_info(GROUP).expect("group");

    for i in (0..3).filter(|i| *i != leader) {
        cluster.stop(i).await;
    }
    let mut sims = sims.into_iter();
    sims.next().expect("master").stop().await;
    // The lone leader sees the master die and tries to elect broker 1, but cannot commit.
    let lone = cluster.node(leader);
    wait_until("an election attempt", Duration::from_secs(15), || {
        lone.elections_failed() >= 1
    })
    .await;
    assert_eq!(lone.elections_committed(), 0);
    assert_eq!(lone.replica_info(GROUP), Some(before));
    let err = cluster
        .client()
        .register(&cluster.register_request(7))
        .await
        .expect_err("no quorum, no registration");
    println!("register without quorum: {err}");
    // Nor does it speak for the group: a broker's heartbeat is sent on to find a real leader.
    let pool = ferromq_net::ClientPool::new(ferromq_net::ClientConfig::default());
    let hb = HeartbeatRequest {
        cluster: common::CLUSTER.into(),
        group: GROUP.into(),
        broker_id: 0,
        addr: cluster.register_request(0).addr,
        epoch: 1,
        max_offset: 10,
    };
    let resp = pool
        .request(
            &cluster.addrs[leader].to_string(),
            hb.to_command(),
            Duration::from_secs(5),
        )
        .await
        .expect("answer");
    assert_eq!(resp.response_code(), ResponseCode::CONTROLLER_NOT_LEADER);
    pool.shutdown().await;
    assert_eq!(lone.replica_info(GROUP).map(|g| g.master), Some(Some(0)));

    for sim in sims {
        sim.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_controller_works_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = ControllerConfig {
        data_dir: dir.path().to_owned(),
        ..test_config()
    };
    let handle = Controller::start(config, listener).await.expect("start");
    let addr = handle.local_addr().to_string();
    let client = ferromq_controller::ControllerClient::new(vec![addr]);
    let brokers = FakeBrokers::start(1).await;
    let info = client
        .register(&brokers.request(0))
        .await
        .expect("register");
    assert_eq!((info.master, info.master_epoch), (Some(0), 1));
    assert_eq!(client.replica_info(GROUP).await.expect("info"), info);
    client.shutdown().await;
    handle.shutdown().await;
    brokers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_and_replicas_restarted_repeatedly_keep_the_master_and_still_fail_over() {
    let mut cluster = Cluster::start(3, test_config()).await;
    cluster.leader().await;
    register_all(&cluster, &[0, 1, 2]).await;
    let mut sims: Vec<Option<BrokerSim>> = (0..3)
        .map(|id| Some(BrokerSim::start(cluster.addr_strings(), id, 1000 + id)))
        .collect();
    put_in_sync(&cluster, &[0, 1, 2]).await;
    let expected = cluster.client().replica_info(GROUP).await.expect("info");

    for round in 0..4 {
        // Alternate between the Raft leader and a follower.
        let leader = cluster.leader().await;
        let victim = if round % 2 == 0 {
            leader
        } else {
            (leader + 1) % 3
        };
        cluster.stop(victim).await;
        // A replica dies and comes back meanwhile.
        let replica = 1 + round % 2;
        sims[replica].take().expect("replica").stop().await;
        cluster.leader().await;
        sims[replica] = Some(BrokerSim::start(
            cluster.addr_strings(),
            u64::try_from(replica).expect("small"),
            1000,
        ));
        cluster.restart(victim).await;
        let client = cluster.client();
        let info = client.replica_info(GROUP).await.expect("info");
        assert_eq!(info, expected, "round {round}: the master must not change");
        client.shutdown().await;
    }
    // Every controller holds the same state.
    wait_until("all controllers agree", Duration::from_secs(10), || {
        cluster
            .nodes
            .iter()
            .flatten()
            .all(|n| n.replica_info(GROUP).as_ref() == Some(&expected))
    })
    .await;

    // And a failover still happens.
    sims[0].take().expect("master").stop().await;
    let leader = cluster.leader().await;
    wait_until("a new master", Duration::from_secs(10), || {
        cluster
            .node(leader)
            .replica_info(GROUP)
            .is_some_and(|i| matches!(i.master, Some(1 | 2)) && i.master_epoch == 2)
    })
    .await;

    for sim in sims.into_iter().flatten() {
        sim.stop().await;
    }
    cluster.shutdown().await;
}
