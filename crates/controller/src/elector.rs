//! The election loop: on the Raft leader, every `check_interval`, replace masters that stopped
//! heartbeating.
//!
//! A decision is a proposal carrying the epoch it was taken at; the state machine applies it only
//! if the group is still at that epoch, so a decision taken on a stale view (say, by a deposed
//! leader) cannot override a newer one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferromq_remoting::{RemotingCommand, RequestCode};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::election;
use crate::node::Node;
use crate::protocol;
use crate::state::{BrokerId, Command, GroupState, ReplicaInfo};

/// Counts kept for observation (metrics, tests).
#[derive(Debug, Default)]
pub struct ElectionStats {
    /// Master changes (or losses) committed by this node.
    pub committed: AtomicU64,
    /// Decisions this node took but could not commit (no quorum, lost leadership, fenced).
    pub failed: AtomicU64,
}

/// What to do about one group, if anything.
fn decide(node: &Node, group: &str, state: &GroupState, now: Instant) -> Option<Command> {
    let timeout = node.config.master_timeout;
    let unclean = node.config.enable_elect_unclean_master;
    let others = |skip: Option<BrokerId>| {
        state
            .brokers
            .keys()
            .copied()
            .filter(move |id| Some(*id) != skip)
    };
    let new_master = match state.master {
        Some(m) if node.liveness.presumed_alive(group, m, timeout, now) => return None,
        Some(m) => {
            let alive = node
                .liveness
                .candidates(group, others(Some(m)), timeout, now);
            election::choose_master(&state.sync_state_set, &alive, unclean)
        }
        None => {
            let alive = node.liveness.candidates(group, others(None), timeout, now);
            // Nothing to record while nobody is eligible: the group already has no master.
            Some(election::choose_master(
                &state.sync_state_set,
                &alive,
                unclean,
            )?)
        }
    };
    Some(Command::ElectMaster {
        group: group.to_owned(),
        new_master,
        expected_epoch: state.master_epoch,
    })
}

/// Tells every broker of the group about a new master (`NOTIFY_BROKER_ROLE_CHANGED`, oneway,
/// the replica info as in a heartbeat answer), so they need not wait for their next heartbeat.
/// Best effort: a broker that misses it learns the same from its heartbeat.
async fn notify_brokers(node: &Node, info: &ReplicaInfo) {
    let addrs: Vec<String> = node
        .applied
        .read()
        .groups
        .groups
        .get(&info.group)
        .map(|g| g.brokers.values().map(|b| b.addr.clone()).collect())
        .unwrap_or_default();
    let request = RemotingCommand::request(RequestCode::NOTIFY_BROKER_ROLE_CHANGED);
    let cmd = match protocol::write_replica_info(request, info) {
        // Brokers with ACL on take it only signed.
        Ok(cmd) => node.auth.sign(cmd),
        Err(e) => {
            warn!(error = %e, "cannot encode a role change");
            return;
        }
    };
    let sends = addrs.iter().map(|addr| {
        let cmd = cmd.clone();
        async move {
            if let Err(e) = node.pool.oneway(addr, cmd).await {
                debug!(%addr, error = %e, "role change not delivered");
            }
        }
    });
    // A dead broker (the old master, typically) must not hold up the next decisions.
    let all = futures_util::future::join_all(sends);
    if tokio::time::timeout(node.config.check_interval, all)
        .await
        .is_err()
    {
        debug!(group = %info.group, "some role-change notifications timed out");
    }
}

/// Runs until `shutdown`.
pub async fn run(node: Arc<Node>, stats: Arc<ElectionStats>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(node.config.check_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut was_leader = false;
    // Leadership changes are watched as they happen, not at the next tick: the grace period of
    // a new leader starts when it really became leader.
    let mut metrics = node.raft.metrics();
    loop {
        let checking = tokio::select! {
            () = shutdown.cancelled() => return,
            changed = metrics.changed() => {
                if changed.is_err() {
                    return; // Raft stopped.
                }
                false
            }
            _ = tick.tick() => true,
        };
        let leader = node.is_leader();
        if leader && !was_leader {
            info!(
                node = node.id,
                "became controller leader; broker liveness starts afresh"
            );
            node.liveness.reset(Instant::now());
        }
        was_leader = leader;
        if !leader || !checking {
            continue;
        }
        let decisions: Vec<Command> = {
            let applied = node.applied.read();
            let now = Instant::now();
            applied
                .groups
                .groups
                .iter()
                .filter_map(|(name, state)| decide(&node, name, state, now))
                .collect()
        };
        for command in decisions {
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                r = node.propose(command.clone()) => r,
            };
            match result {
                Ok(Ok(info)) => {
                    stats.committed.fetch_add(1, Ordering::Relaxed);
                    info!(
                        group = %info.group,
                        master = ?info.master,
                        epoch = info.master_epoch,
                        "master changed"
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = notify_brokers(&node, &info) => {}
                    }
                }
                Ok(Err(rejected)) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    warn!(?command, %rejected, "election rejected");
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    warn!(?command, error = %e, "election not committed");
                }
            }
        }
    }
}
