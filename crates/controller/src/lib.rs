//! The failover controller: keeps each broker group's master, master epoch and sync-state set in
//! a Raft group (openraft), and elects a new master when the current one stops heartbeating.
//!
//! Layout:
//!
//! - [`config`]: [`ControllerConfig`] and its validation.
//! - [`state`]: the replicated state and its pure `apply` (registrations, elections, sync-state
//!   set changes, each checked against the current epochs).
//! - [`election`]: the pure election policy.
//! - [`liveness`]: broker heartbeats, in memory on the leader.
//! - [`elector`]: the leader's loop that replaces dead masters.
//! - [`raft_types`], [`log_store`], [`state_machine`], [`network`]: openraft's type config, the
//!   on-disk log, the state machine with snapshots, and Raft RPCs over remoting.
//! - [`handler`], [`codes`]: requests from brokers and peers on one port.
//! - [`auth`]: brokers and peers authenticated with the inner credentials, when on.
//! - [`protocol`], [`client`]: the broker-facing requests and [`ControllerClient`], re-exported
//!   from `ferromq-controller-proto`, which brokers depend on instead of this crate (and openraft).
//! - [`files`]: small JSON files, replaced atomically.
#![forbid(unsafe_code)]

pub mod auth;
pub mod codes;
pub mod config;
pub mod election;
pub mod elector;
mod files;
pub mod handler;
pub mod liveness;
pub mod log_store;
pub mod network;
pub mod node;
pub mod raft_types;
pub mod state;
pub mod state_machine;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferromq_net::{
    ClientConfig, ClientPool, ClientTls, ConnectionConfig, ServerHandle, ServerTls, ServiceHandle,
};
use openraft::{BasicNode, RaftMetrics, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::info;

pub use config::{ConfigError, ControllerConfig, Peer};
pub use ferromq_controller_proto::{client, protocol};
pub use ferromq_controller_proto::{ClientError, ClientOptions, ControllerClient};
pub use state::{BrokerId, ReplicaInfo};

use crate::elector::ElectionStats;
use crate::handler::ControllerHandler;
use crate::liveness::Liveness;
use crate::log_store::LogStore;
use crate::network::Network;
use crate::node::Node;
use crate::raft_types::{NodeId, Raft};
use crate::state_machine::StateMachine;

/// Why a controller did not start.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("invalid controller configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("controller data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("raft: {0}")]
    Raft(String),
    /// The `tls` or `tls_client` settings cannot be used (files, modes).
    #[error("controller TLS: {0}")]
    Tls(#[from] ferromq_net::tls::TlsError),
}

/// A running controller; [`shutdown`](Self::shutdown) stops everything it started.
#[derive(Debug)]
pub struct ControllerHandle {
    node: Arc<Node>,
    stats: Arc<ElectionStats>,
    server: ServerHandle,
    tasks: ServiceHandle,
    pool: ClientPool,
}

/// Entry point.
#[derive(Debug)]
pub struct Controller;

impl Controller {
    /// Starts a controller on `listener` with the peers and data directory of `config`.
    ///
    /// When the data directory holds no Raft state and this node has the lowest id among the peers
    /// (or runs alone), it initialises the group with the configured membership; the others wait
    /// to be contacted by a leader.
    ///
    /// # Errors
    /// An invalid config, an unreadable data directory, or openraft refusing to start.
    pub async fn start(
        config: ControllerConfig,
        listener: TcpListener,
    ) -> Result<ControllerHandle, ControllerError> {
        config.validate()?;
        let local_addr = listener.local_addr()?;
        let members = config.members(&local_addr.to_string());
        let auth = Arc::new(auth::PeerAuth::new(
            config.authentication_enabled,
            config.inner_client_authentication_credentials.as_ref(),
        )?);
        let log_store = LogStore::open(&config.data_dir)?;
        let state_machine = StateMachine::open(&config.data_dir)?;
        let applied = state_machine.applied();
        let server_tls = ServerTls::from_config(&config.tls)?.map(Arc::new);
        let client_tls = config
            .tls_client
            .as_ref()
            .map(ClientTls::from_config)
            .transpose()?;
        let pool = ClientPool::new(ClientConfig {
            // A peer that does not accept quickly is treated as down; Raft retries it.
            connect_timeout: config.raft_election_timeout,
            tls: client_tls,
            ..ClientConfig::default()
        });
        let raft_config = openraft::Config {
            cluster_name: "ferromq-controller".to_owned(),
            heartbeat_interval: millis(config.raft_heartbeat_interval),
            election_timeout_min: millis(config.raft_election_timeout),
            election_timeout_max: millis(config.raft_election_timeout) * 2,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every),
            max_in_snapshot_log_to_keep: config.snapshot_every,
            ..openraft::Config::default()
        }
        .validate()
        .map_err(|e| ControllerError::Raft(e.to_string()))?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            Network::new(pool.clone(), auth.clone()),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ControllerError::Raft(e.to_string()))?;
        let node = Arc::new(Node {
            id: config.node_id,
            raft: raft.clone(),
            applied,
            liveness: Liveness::new(Instant::now()),
            peers: members.iter().map(|p| (p.id, p.addr.clone())).collect(),
            config: config.clone(),
            pool: pool.clone(),
            auth,
        });
        let server = ferromq_net::serve_tls(
            listener,
            Arc::new(ControllerHandler::new(node.clone())),
            ConnectionConfig::default(),
            server_tls,
        )?;
        let lowest = members.iter().map(|p| p.id).min();
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ControllerError::Raft(e.to_string()))?;
        if !initialized && lowest == Some(config.node_id) {
            let nodes: BTreeMap<NodeId, BasicNode> = members
                .iter()
                .map(|p| (p.id, BasicNode::new(&p.addr)))
                .collect();
            info!(
                node = config.node_id,
                ?nodes,
                "initialising the controller group"
            );
            raft.initialize(nodes)
                .await
                .map_err(|e| ControllerError::Raft(e.to_string()))?;
        }
        let stats = Arc::new(ElectionStats::default());
        let tasks = ServiceHandle::new();
        tasks.spawn(elector::run(
            node.clone(),
            stats.clone(),
            tasks.token().clone(),
        ));
        info!(node = config.node_id, addr = %local_addr, "controller started");
        Ok(ControllerHandle {
            node,
            stats,
            server,
            tasks,
            pool,
        })
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ControllerHandle {
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.node.id
    }

    /// The Raft leader as this controller sees it.
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.node.leader()
    }

    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.node.is_leader()
    }

    /// openraft's metrics (term, leader, last applied, membership, ...).
    #[must_use]
    pub fn metrics(&self) -> watch::Receiver<RaftMetrics<NodeId, BasicNode>> {
        self.node.raft.metrics()
    }

    /// The group as this controller has applied it (possibly behind the leader).
    #[must_use]
    pub fn replica_info(&self, group: &str) -> Option<ReplicaInfo> {
        self.node.replica_info(group)
    }

    /// Master changes this controller committed as leader.
    #[must_use]
    pub fn elections_committed(&self) -> u64 {
        self.stats.committed.load(Ordering::Relaxed)
    }

    /// Elections this controller decided but could not commit.
    #[must_use]
    pub fn elections_failed(&self) -> u64 {
        self.stats.failed.load(Ordering::Relaxed)
    }

    /// Stops the election loop, the Raft node, the server and the peer connections, in that order.
    pub async fn shutdown(self) {
        self.tasks.shutdown().await;
        if let Err(e) = self.node.raft.shutdown().await {
            tracing::warn!(error = %e, "raft did not stop cleanly");
        }
        self.server.shutdown().await;
        self.pool.shutdown().await;
        info!(node = self.node.id, "controller stopped");
    }
}
