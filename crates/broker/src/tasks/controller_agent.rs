//! Controller mode: the broker's side of automatic failover (RocketMQ 5's `ReplicasManager`).
//!
//! - Registers with the controllers, then heartbeats every `brokerHeartbeatInterval` with its master
//!   epoch and commit-log end. Every answer names the group's master and epoch; a
//!   `NOTIFY_BROKER_ROLE_CHANGED` from a controller only makes the next heartbeat come at once.
//! - Named master: stops following, starts a new epoch in the epoch table at its log end, takes
//!   writes, registers with the name servers as id 0, and keeps the controllers' sync-state set
//!   equal to the replicas that hold everything it acknowledged ([`SyncSet`]).
//! - Another broker named master: refuses writes, compares epoch tables with the new master
//!   (GET_BROKER_EPOCH_CACHE); if its own log holds anything the master never had, it asks to be
//!   restarted with its log cut back there ([`crate::BrokerHandle::restart_requested`]), otherwise it
//!   follows.
//! - Lease: a master takes writes only until `controllerLeaseMs` after sending the last heartbeat a
//!   controller confirmed. The controllers wait longer than that (their master timeout) before they
//!   elect another master, so two brokers of a group never both take writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_controller_proto::protocol::{
    AlterSyncStateSetRequest, HeartbeatRequest, RegisterRequest,
};
use ferromq_controller_proto::{ClientOptions, ControllerClient, ReplicaInfo};
use ferromq_net::{ClientConfig, ClientPool};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::auth::InnerCredentials;
use crate::ha::epochs::{consistent_end, EpochCache};
use crate::state::State;

/// A replica this close to the master's end may join the sync-state set: from then on every send
/// waits for it, and it has a few milliseconds of streaming to catch up.
const JOIN_GAP: u64 = 4 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The replication stream this broker follows.
struct Follower {
    ha_addr: String,
    token: CancellationToken,
    task: JoinHandle<()>,
}

/// The master's view of joining replicas: broker id → the master's log end when it began waiting
/// for that replica; the replica joins the controllers' set once it holds everything below it.
#[derive(Default)]
struct SyncSet {
    joining: BTreeMap<u64, u64>,
}

struct Agent {
    state: Arc<State>,
    controllers: ControllerClient,
    pool: ClientPool,
    own: u64,
    registered: bool,
    info: Option<ReplicaInfo>,
    follower: Option<Follower>,
    sync: SyncSet,
    lease: Duration,
    lease_warned: bool,
}

/// Runs until `token` is cancelled or a restart is requested.
pub(crate) async fn run(state: Arc<State>, token: CancellationToken) {
    let interval = Duration::from_millis(state.config.broker_heartbeat_interval_ms);
    let controllers = ControllerClient::with_options(
        state.config.controller_addrs.clone(),
        ClientOptions {
            request_timeout: interval.max(Duration::from_millis(300)),
            rounds: 1,
            round_pause: Duration::from_millis(50),
            // Controllers that authenticate brokers take only the inner user's requests.
            credentials: state
                .config
                .inner_client_authentication_credentials
                .as_ref()
                .map(InnerCredentials::credentials),
            // As every outgoing connection of the broker (name servers, the master): over TLS
            // when `tls_client` says so, which an enforcing controller requires and a permissive
            // one accepts (Apache's brokers likewise use one TLS setting for all their clients).
            tls: state.outgoing_tls.clone(),
        },
    );
    // Registrations with the name servers and requests to the master go the same way.
    let pool = ClientPool::new(ClientConfig {
        tls: state.outgoing_tls.clone(),
        ..ClientConfig::default()
    });
    let mut agent = Agent {
        own: u64::try_from(state.config.broker_id).unwrap_or_default(),
        lease: Duration::from_millis(state.config.controller_lease_ms),
        state,
        controllers,
        pool,
        registered: false,
        info: None,
        follower: None,
        sync: SyncSet::default(),
        lease_warned: false,
    };
    let wake = agent.state.replication.wake.clone();
    loop {
        if agent.step().await.is_break() {
            break;
        }
        let lease_end = agent
            .state
            .role
            .is_master()
            .then(|| agent.state.role.lease_end())
            .flatten();
        tokio::select! {
            () = token.cancelled() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(interval) => {}
            () = sleep_until(lease_end) => {}
        }
        agent.check_lease();
    }
    agent.stop_following().await;
    agent.controllers.shutdown().await;
    agent.pool.shutdown().await;
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Agent {
    /// One round: (re)register or heartbeat, act on the answer, keep the sync-state set.
    async fn step(&mut self) -> std::ops::ControlFlow<()> {
        let sent = Instant::now();
        let answer = if self.registered {
            let req = HeartbeatRequest {
                cluster: self.state.config.cluster_name.clone(),
                group: self.state.config.broker_name.clone(),
                broker_id: self.own,
                addr: self.state.advertised.to_string(),
                epoch: self.state.role.epoch(),
                max_offset: self.state.store.written_offset(),
            };
            self.controllers.heartbeat(&req).await
        } else {
            let req = RegisterRequest {
                cluster: self.state.config.cluster_name.clone(),
                group: self.state.config.broker_name.clone(),
                broker_id: self.own,
                addr: self.state.advertised.to_string(),
                ha_addr: self
                    .state
                    .replication
                    .advertised
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            };
            self.controllers.register(&req).await
        };
        let info = match answer {
            Ok(info) => info,
            Err(e) => {
                if e.code().is_some() {
                    // Refused (typically: the controllers lost our registration): register again.
                    self.registered = false;
                }
                debug!(error = %e, "no answer from the controllers");
                return std::ops::ControlFlow::Continue(());
            }
        };
        if !self.registered {
            info!(master = ?info.master, epoch = info.master_epoch, "registered with the controllers");
            self.registered = true;
        }
        let flow = self.apply(&info, sent).await;
        self.info = Some(info);
        if flow.is_continue() && self.state.role.is_master() {
            self.keep_sync_set().await;
        }
        flow
    }

    /// Follows the controllers' answer.
    async fn apply(&mut self, info: &ReplicaInfo, sent: Instant) -> std::ops::ControlFlow<()> {
        let role = &self.state.role;
        match info.master {
            Some(id) if id == self.own => {
                if role.is_master() && role.epoch() == info.master_epoch {
                    role.renew_lease(sent + self.lease);
                    self.lease_warned = false;
                } else if info.master_epoch >= role.epoch() {
                    self.promote(info, sent).await;
                }
                std::ops::ControlFlow::Continue(())
            }
            Some(_) => self.follow(info).await,
            None => {
                if role.is_master() {
                    warn!(
                        epoch = info.master_epoch,
                        "the controllers name no master: not taking writes"
                    );
                    role.become_replica(info.master_epoch);
                    self.register_namesrv().await;
                }
                self.stop_following().await;
                std::ops::ControlFlow::Continue(())
            }
        }
    }

    async fn promote(&mut self, info: &ReplicaInfo, sent: Instant) {
        // No replicated append may land after our first own one.
        self.stop_following().await;
        let start = self.state.store.written_offset();
        if let Err(e) = self.state.epochs.begin(info.master_epoch, start) {
            // Without the entry a later comparison would cut too much; do not lead.
            warn!(error = %e, "recording the new epoch failed; not taking the master role");
            return;
        }
        self.sync = SyncSet::default();
        self.wait_for_members(&info.sync_state_set);
        *self.state.replication.master_broker.write() = None;
        self.state
            .role
            .become_master(info.master_epoch, sent + self.lease);
        info!(
            epoch = info.master_epoch,
            log_end = start,
            "now the master of the group"
        );
        self.register_namesrv().await;
    }

    /// Another broker is master: follow it, unless our log has something it does not.
    async fn follow(&mut self, info: &ReplicaInfo) -> std::ops::ControlFlow<()> {
        let (Some(addr), Some(ha_addr)) = (&info.master_addr, &info.master_ha_addr) else {
            return std::ops::ControlFlow::Continue(());
        };
        let role = &self.state.role;
        let already = !role.is_master()
            && role.epoch() == info.master_epoch
            && self
                .follower
                .as_ref()
                .is_some_and(|f| f.ha_addr == *ha_addr);
        if already {
            return std::ops::ControlFlow::Continue(());
        }
        if role.is_master() {
            warn!(master = %addr, epoch = info.master_epoch, "another broker is master now: not taking writes");
        }
        role.become_replica(info.master_epoch);
        self.stop_following().await;
        self.register_namesrv().await;
        let cache = match self.epoch_cache(addr).await {
            Ok(c) => c,
            Err(e) => {
                debug!(master = %addr, error = %e, "reading the master's epochs failed; retrying");
                return std::ops::ControlFlow::Continue(());
            }
        };
        let ours = self.state.epochs.entries();
        let end = self.state.store.written_offset();
        let agreed = consistent_end(&ours, end, &cache.epoch_list, cache.max_offset);
        if agreed < end {
            warn!(master = %addr, log_end = end, cut_to = agreed,
                "this log holds records the new master never had: restarting to cut them");
            self.state.restart.send_replace(Some(agreed));
            return std::ops::ControlFlow::Break(());
        }
        if let Err(e) = self.state.epochs.adopt(&cache.epoch_list) {
            warn!(error = %e, "recording the master's epochs failed; retrying");
            return std::ops::ControlFlow::Continue(());
        }
        *self.state.replication.master_broker.write() = Some(addr.clone());
        let token = CancellationToken::new();
        let task = tokio::spawn(crate::ha::replica::follow(
            Arc::new(parking_lot::RwLock::new(Some(ha_addr.clone()))),
            self.state.store.clone(),
            self.state.replication.master_offset.clone(),
            i64::try_from(self.own).ok(),
            self.state.outgoing_tls.clone(),
            token.clone(),
        ));
        info!(master = %addr, epoch = info.master_epoch, from = end, "following the master");
        self.follower = Some(Follower {
            ha_addr: ha_addr.clone(),
            token,
            task,
        });
        std::ops::ControlFlow::Continue(())
    }

    async fn stop_following(&mut self) {
        if let Some(f) = self.follower.take() {
            f.token.cancel();
            if let Err(e) = f.task.await {
                warn!(error = %e, "the replication task failed");
            }
        }
    }

    async fn epoch_cache(&self, addr: &str) -> Result<EpochCache, String> {
        let resp = self
            .pool
            .request(
                addr,
                // A master with ACL on takes it only signed, like every broker-to-broker request.
                crate::auth::sign_inner(
                    &self.state.config,
                    RemotingCommand::request(RequestCode::GET_BROKER_EPOCH_CACHE),
                ),
                REQUEST_TIMEOUT,
            )
            .await
            .map_err(|e| e.to_string())?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(format!("answered {}: {:?}", resp.code, resp.remark));
        }
        serde_json::from_slice(resp.body.as_deref().unwrap_or_default()).map_err(|e| e.to_string())
    }

    async fn register_namesrv(&self) {
        super::registrar::register_all(&self.state, &self.pool).await;
    }

    /// A master whose lease ran out refuses every write until a controller confirms it again.
    fn check_lease(&mut self) {
        let role = &self.state.role;
        if role.is_master() && role.lease_end().is_none_or(|l| Instant::now() >= l) {
            role.lease_expired();
            if !self.lease_warned {
                warn!("no controller confirmed this master in time: not taking writes");
                self.lease_warned = true;
            }
        }
    }

    /// Sends wait for every replica of `set` and every joining one.
    fn wait_for_members(&self, set: &BTreeSet<u64>) {
        self.state.replication.acks.require(
            set.iter()
                .chain(self.sync.joining.keys())
                .filter(|&&id| id != self.own)
                .filter_map(|&id| i64::try_from(id).ok())
                .collect(),
        );
    }

    /// Master: the controllers' sync-state set follows which replicas hold everything acknowledged.
    /// A replica joins in two steps: sends start waiting for it, then once it holds everything written
    /// before that, the controllers are told. A replica that is gone or out of sync leaves: the
    /// controllers are told first, then sends stop waiting for it.
    async fn keep_sync_set(&mut self) {
        let Some(info) = self.info.clone() else {
            return;
        };
        let acks = &self.state.replication.acks;
        let written = self.state.store.written_offset();
        let replicas = acks.replicas(written);
        let held = |id: u64| {
            replicas
                .iter()
                .find(|r| r.in_sync && r.broker_id.and_then(|b| u64::try_from(b).ok()) == Some(id))
                .map(|r| r.acked)
        };
        let mut next: BTreeSet<u64> = info
            .sync_state_set
            .iter()
            .copied()
            .filter(|&id| id == self.own || held(id).is_some())
            .collect();
        next.insert(self.own);
        // Joining: start waiting for close replicas; admit those that caught up.
        self.sync.joining.retain(|id, _| held(*id).is_some());
        for r in &replicas {
            let Some(id) = r.broker_id.and_then(|b| u64::try_from(b).ok()) else {
                continue;
            };
            if r.in_sync
                && !info.sync_state_set.contains(&id)
                && !self.sync.joining.contains_key(&id)
                && written.saturating_sub(r.acked) <= JOIN_GAP
            {
                self.sync.joining.insert(id, written);
            }
        }
        // Members leave only after the controllers agreed (below); joining ones are waited for now.
        self.wait_for_members(&info.sync_state_set);
        for (&id, &from) in &self.sync.joining {
            if held(id).is_some_and(|acked| acked >= from) {
                next.insert(id);
            }
        }
        if next == info.sync_state_set {
            return;
        }
        let req = AlterSyncStateSetRequest {
            group: self.state.config.broker_name.clone(),
            master_id: self.own,
            master_epoch: info.master_epoch,
            sync_state_set_epoch: info.sync_state_set_epoch,
            new_set: next.clone(),
        };
        match self.controllers.alter_sync_state_set(&req).await {
            Ok(new) => {
                info!(set = ?new.sync_state_set, epoch = new.sync_state_set_epoch, "sync-state set changed");
                for id in &new.sync_state_set {
                    self.sync.joining.remove(id);
                }
                self.wait_for_members(&new.sync_state_set);
                self.info = Some(new);
            }
            Err(e) => warn!(error = %e, wanted = ?next, "changing the sync-state set failed"),
        }
    }
}
