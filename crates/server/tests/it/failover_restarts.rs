//! Repeated crashes that must not move the master: the replica and then the leading controller
//! (of three) are SIGKILLed and started again, three times each, under continuous synchronous
//! sends. Sends keep succeeding, no acknowledged message is lost, the master stays master at epoch
//! 1, and both brokers end with the same commit log, byte for byte.
//!
//! Times are printed as `failover: ...` lines (run with `--nocapture` to see them).

use crate::cluster;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use cluster::group::{Group, SETTLE};
use cluster::traffic::{self, Sender};
use cluster::{wait_for, BrokerSpec, GROUP};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ROUNDS: usize = 3;

/// Waits until `n` attempts sent after `since` were acknowledged (or only stored, with
/// `stored_counts`) by `addr`; returns how long after `since` the first of them completed.
async fn wait_writes(
    sender: &Sender,
    what: &str,
    addr: &str,
    since: Instant,
    n: usize,
    stored_counts: bool,
) -> Duration {
    wait_for(what, SETTLE, || {
        let done: Vec<Instant> = sender
            .attempts()
            .iter()
            .filter(|a| a.sent_at >= since)
            .filter(|a| a.acked_by(addr) || (stored_counts && a.writer() == Some(addr)))
            .map(|a| a.done_at)
            .collect();
        let first = done.first().map(|t| t.duration_since(since));
        async move { first.filter(|_| done.len() >= n) }
    })
    .await
}

/// The longest time without a SEND_OK from `addr`, from `since` to the last one so far.
fn longest_ack_gap(sender: &Sender, addr: &str, since: Instant) -> Duration {
    let mut last = since;
    let mut longest = Duration::ZERO;
    for a in sender.attempts().iter().filter(|a| a.acked_by(addr)) {
        if a.done_at > last {
            longest = longest.max(a.done_at - last);
            last = a.done_at;
        }
    }
    longest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_and_controller_restarts_lose_nothing_and_keep_the_master() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = "FailoverRestarts";
    let mut group = Group::start(
        dir.path(),
        LOOPBACK,
        3,
        [BrokerSpec::loopback(1), BrokerSpec::loopback(2)],
        topic,
    )
    .await;
    let master = group.broker(1).addr.clone();
    let sender = Sender::start(&group.namesrv.addr, topic).await;
    wait_writes(
        &sender,
        "first SEND_OKs",
        &master,
        Instant::now(),
        100,
        false,
    )
    .await;

    for round in 1..=ROUNDS {
        group.broker_mut(2).kill9();
        let killed = Instant::now();
        // SYNC_MASTER without its replica answers SLAVE_NOT_AVAILABLE or FLUSH_SLAVE_TIMEOUT:
        // stored, not acknowledged. It must keep storing.
        wait_writes(
            &sender,
            "writes while the replica is down",
            &master,
            killed,
            50,
            true,
        )
        .await;
        group.broker_mut(2).restart();
        let restarted = Instant::now();
        group.wait_role(2, "SLAVE", SETTLE).await;
        let ok = wait_writes(
            &sender,
            "SEND_OK with the replica back",
            &master,
            restarted,
            50,
            false,
        )
        .await;
        eprintln!(
            "failover: replica restart {round}: restart -> first SEND_OK {} ms; longest time \
             without SEND_OK since the kill {} ms",
            ok.as_millis(),
            longest_ack_gap(&sender, &master, killed).as_millis()
        );
    }

    for round in 1..=ROUNDS {
        let ctl = &group.controllers;
        let leader = wait_for("a controller leader", SETTLE, || ctl.leader(GROUP)).await;
        group.controllers.kill9(leader);
        let killed = Instant::now();
        let ok = wait_writes(
            &sender,
            "SEND_OK after a controller died",
            &master,
            killed,
            100,
            false,
        )
        .await;
        let ctl = &group.controllers;
        let new_leader = wait_for("a new controller leader", SETTLE, || ctl.leader(GROUP)).await;
        assert_ne!(new_leader, leader);
        let elected = killed.elapsed();
        // Writes pause if the master's lease runs out before the new leader confirms it.
        wait_writes(
            &sender,
            "SEND_OK after the new leader",
            &master,
            Instant::now(),
            50,
            false,
        )
        .await;
        eprintln!(
            "failover: controller leader {leader} killed (round {round}): new leader {new_leader} \
             after {} ms; longest time without SEND_OK {} ms (first after {} ms)",
            elected.as_millis(),
            longest_ack_gap(&sender, &master, killed).as_millis(),
            ok.as_millis()
        );
        group.controllers.start_one(leader);
    }

    let since = Instant::now();
    wait_writes(&sender, "SEND_OK at the end", &master, since, 50, false).await;
    assert_eq!(
        group.wait_master(1).await,
        1,
        "broker 1 stayed master, epoch 1"
    );
    group.wait_route(1, 2).await;
    let attempts = sender.stop().await;
    let bodies = traffic::read_topic(&group.namesrv.addr, topic).await;
    let tally = traffic::check_against(&attempts, &bodies);
    eprintln!("failover: failed sends by kind: {:?}", tally.failures);
    eprintln!(
        "failover: restarts: {} attempts: {} SEND_OK (all present), {} stored unacknowledged, \
         {} failed; {} bodies read",
        attempts.len(),
        tally.acked,
        tally.stored_unacked,
        tally.failed,
        bodies.len()
    );
    let end = group.wait_converged().await;
    group.stop_and_compare(end);
}
