//! The console's cluster view of this broker: who it is, its role and epoch, its replicas as the
//! master sees them, and how much the commit log holds.

use serde::Serialize;

use super::BrokerService;
use crate::config::BrokerRole;

/// One replica following this broker (master side only).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaOverview {
    pub addr: String,
    pub broker_id: Option<i64>,
    /// Commit-log bytes the replica confirmed.
    pub acked: u64,
    /// Close enough to count towards the in-sync set.
    pub in_sync: bool,
}

/// This broker, as the console's cluster page shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerOverview {
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
    /// The address clients reach it at.
    pub addr: String,
    /// `ASYNC_MASTER`, `SYNC_MASTER` or `SLAVE`.
    pub role: &'static str,
    /// The controller-assigned master epoch; 0 outside controller mode.
    pub epoch: u64,
    /// Whether the role is assigned by controllers.
    pub controlled: bool,
    pub replicas: Vec<ReplicaOverview>,
    /// Bytes the commit log holds (its end less the oldest offset kept).
    pub log_bytes: u64,
    /// Milliseconds since the epoch when the broker started.
    pub started_ms: i64,
    pub topics: usize,
    pub trace_enabled: bool,
}

/// The wire name of a role, as RocketMQ's `brokerRole`.
#[must_use]
pub fn role_name(role: BrokerRole) -> &'static str {
    match role {
        BrokerRole::AsyncMaster => "ASYNC_MASTER",
        BrokerRole::SyncMaster => "SYNC_MASTER",
        BrokerRole::Slave => "SLAVE",
    }
}

impl BrokerService {
    /// This broker's identity, role and storage now.
    #[must_use]
    pub fn console_broker(&self) -> BrokerOverview {
        let s = &*self.state;
        let written = s.store.written_offset();
        let replicas = s
            .replication
            .acks
            .replicas(written)
            .into_iter()
            .map(|r| ReplicaOverview {
                addr: r.addr.to_string(),
                broker_id: r.broker_id,
                acked: r.acked,
                in_sync: r.in_sync,
            })
            .collect();
        BrokerOverview {
            cluster: s.config.cluster_name.clone(),
            broker_name: s.config.broker_name.clone(),
            broker_id: s.config.broker_id,
            addr: s.advertised.to_string(),
            role: role_name(s.role.current()),
            epoch: s.role.epoch(),
            controlled: s.role.is_controlled(),
            replicas,
            log_bytes: written.saturating_sub(s.store.min_physical_offset()),
            started_ms: s.started_ms,
            topics: s.topics.len(),
            trace_enabled: s.trace.is_some(),
        }
    }
}
