//! Failover of a broker group in controller mode, with every server a separate `ferromq` process:
//! the master is SIGKILLed under continuous synchronous sends, the controller elects the replica,
//! sends resume through it, no acknowledged message is lost, and the old master, started again on
//! its data, rejoins as replica and ends with the same commit log, byte for byte.
//!
//! Times are printed as `failover: ...` lines (run with `--nocapture` to see them).

use crate::cluster;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use cluster::group::{Group, SETTLE};
use cluster::traffic::{self, Attempt, Sender};
use cluster::{wait_for, BrokerSpec};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Sends must go through the new master within this long after the kill (the goal is 5 s).
const RESUME: Duration = Duration::from_secs(15);

/// Waits until `sender` has an attempt after `since` that satisfies `pred`; returns it.
async fn wait_attempt(
    sender: &Sender,
    what: &str,
    limit: Duration,
    since: Instant,
    pred: impl Fn(&Attempt) -> bool,
) -> Attempt {
    wait_for(what, limit, || {
        let found = sender
            .attempts()
            .into_iter()
            .find(|a| a.sent_at >= since && pred(a));
        async move { found }
    })
    .await
}

/// Waits until `n` more attempts after `since` satisfy `pred`.
async fn wait_count(
    sender: &Sender,
    what: &str,
    since: Instant,
    n: usize,
    pred: impl Fn(&Attempt) -> bool,
) {
    wait_for(what, SETTLE, || {
        let count = sender
            .attempts()
            .iter()
            .filter(|a| a.sent_at >= since && pred(a))
            .count();
        async move { (count >= n).then_some(()) }
    })
    .await;
}

async fn kill_master_under_sync_sends(controllers: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = "FailoverSync";
    let mut group = Group::start(
        dir.path(),
        LOOPBACK,
        controllers,
        [BrokerSpec::loopback(1), BrokerSpec::loopback(2)],
        topic,
    )
    .await;
    assert_eq!(group.wait_master(1).await, 1, "first master, epoch 1");
    let (old, new) = (group.broker(1).addr.clone(), group.broker(2).addr.clone());

    let sender = Sender::start(&group.namesrv.addr, topic).await;
    let start = Instant::now();
    wait_count(
        &sender,
        "200 sends acknowledged by the first master",
        start,
        200,
        |a| a.acked_by(&old),
    )
    .await;

    group.broker_mut(1).kill9();
    let killed = Instant::now();
    let stored = wait_attempt(
        &sender,
        "a write taken by the new master",
        RESUME,
        killed,
        |a| a.writer() == Some(new.as_str()),
    )
    .await;
    eprintln!(
        "failover: {controllers} controller(s): SIGKILL -> first send stored by the new master: {} ms",
        stored.done_at.duration_since(killed).as_millis()
    );
    let epoch = group.wait_master(2).await;
    assert_eq!(epoch, 2, "one election, epoch 2");
    // Broker 2 is master alone: whether it acknowledges with itself as the whole sync-state set or
    // answers SLAVE_NOT_AVAILABLE until a replica is back, it must keep taking writes.
    let after_first = Instant::now();
    wait_count(
        &sender,
        "more writes through the new master",
        after_first,
        100,
        |a| a.writer() == Some(new.as_str()),
    )
    .await;
    let acked_alone = sender
        .attempts()
        .iter()
        .find(|a| a.sent_at >= killed && a.acked_by(&new))
        .map(|a| a.done_at.duration_since(killed));
    match acked_alone {
        Some(t) => eprintln!(
            "failover: SIGKILL -> first SEND_OK by the new master (no replica yet): {} ms",
            t.as_millis()
        ),
        None => eprintln!("failover: the new master answered no SEND_OK while alone"),
    }

    let restarted = Instant::now();
    group.broker_mut(1).restart();
    group.wait_role(1, "SLAVE", SETTLE).await;
    eprintln!(
        "failover: old master started again -> runtime info SLAVE: {} ms (process start included)",
        restarted.elapsed().as_millis()
    );
    group.wait_in_sync(1).await;
    let in_sync = restarted.elapsed();
    group.wait_route(2, 1).await;
    wait_count(
        &sender,
        "SEND_OK through the new master with its replica back",
        restarted,
        100,
        |a| a.acked_by(&new),
    )
    .await;
    eprintln!(
        "failover: old master restarted -> back in the sync-state set: {} ms",
        in_sync.as_millis()
    );
    assert_eq!(group.wait_master(2).await, 2, "no further election");

    let attempts = sender.stop().await;
    let bodies = traffic::read_topic(&group.namesrv.addr, topic).await;
    let tally = traffic::check_against(&attempts, &bodies);
    eprintln!("failover: failed sends by kind: {:?}", tally.failures);
    eprintln!(
        "failover: {} attempts: {} SEND_OK (all present), {} stored unacknowledged, {} failed, \
         {} unacknowledged present; {} bodies read",
        attempts.len(),
        tally.acked,
        tally.stored_unacked,
        tally.failed,
        tally.unacked_present,
        bodies.len()
    );
    // 200 before the kill, 100 after the restart, whatever came between.
    assert!(tally.acked >= 300, "{tally:?}");

    let end = group.wait_converged().await;
    group.stop_and_compare(end);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_master_under_sync_sends_one_controller() {
    kill_master_under_sync_sends(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_master_under_sync_sends_three_controllers() {
    kill_master_under_sync_sends(3).await;
}
