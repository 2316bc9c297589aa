//! `ControllerConfig`: one typed struct for a controller process, with `validate()`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use ferromq_auth::inner::InnerCredentials;
use ferromq_net::{TlsClientConfig, TlsServerConfig};
use serde::{Deserialize, Serialize};

/// One member of the controller Raft group: `id@host:port` (also in config files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Peer {
    pub id: u64,
    pub addr: String,
}

impl FromStr for Peer {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ConfigError::BadPeer(s.to_owned());
        let (id, addr) = s.split_once('@').ok_or_else(bad)?;
        let id = id.trim().parse().map_err(|_| bad())?;
        let addr = addr.trim();
        if addr.is_empty() || !addr.contains(':') {
            return Err(bad());
        }
        Ok(Self {
            id,
            addr: addr.to_owned(),
        })
    }
}

impl TryFrom<String> for Peer {
    type Error = ConfigError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Peer> for String {
    fn from(p: Peer) -> Self {
        p.to_string()
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id, self.addr)
    }
}

/// Settings of one controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// This controller's Raft node id; must appear in `controller_peers` unless that is empty.
    pub node_id: u64,
    /// Every member of the Raft group, this one included (`["1@10.0.0.1:9878", ...]`). Empty means
    /// a single-node group of this controller alone.
    pub controller_peers: Vec<Peer>,
    /// Raft log, vote and snapshot files.
    pub data_dir: PathBuf,
    /// A master that has not heartbeated for this long is replaced.
    #[serde(with = "millis")]
    pub master_timeout: Duration,
    /// How often the leader looks for masters that timed out.
    #[serde(with = "millis")]
    pub check_interval: Duration,
    /// Elect an out-of-sync replica when no in-sync one is alive (loses acknowledged messages).
    pub enable_elect_unclean_master: bool,
    /// Raft leader heartbeat to followers.
    #[serde(with = "millis")]
    pub raft_heartbeat_interval: Duration,
    /// A follower that hears no leader for a random time in [min, 2 * min) starts an election.
    #[serde(with = "millis")]
    pub raft_election_timeout: Duration,
    /// How long a write waits to be committed; a leader without quorum fails it after this.
    #[serde(with = "millis")]
    pub write_timeout: Duration,
    /// Build a snapshot (and drop the log before it) every this many applied entries.
    pub snapshot_every: u64,
    /// Broker registrations, heartbeats, sync-state-set changes and Raft messages must be signed
    /// with [`Self::inner_client_authentication_credentials`] (see `crate::auth`).
    #[serde(alias = "authenticationEnabled")]
    pub authentication_enabled: bool,
    /// The cluster's inner user (the brokers' `innerClientAuthenticationCredentials`); this
    /// controller also signs its own Raft messages and role-change notifications with it.
    #[serde(alias = "innerClientAuthenticationCredentials")]
    pub inner_client_authentication_credentials: Option<InnerCredentials>,
    /// TLS on this controller's port (a `[tls]` table, as the name server's): `mode`
    /// `disabled` (the default), `permissive` or `enforcing`, the certificate files (a
    /// self-signed certificate without them) and client-certificate verification.
    pub tls: TlsServerConfig,
    /// TLS of this controller's own connections: Raft messages to the other controllers (which
    /// an enforcing peer needs) and role-change notifications to brokers. `None`: plaintext.
    pub tls_client: Option<TlsClientConfig>,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            node_id: 1,
            controller_peers: Vec::new(),
            data_dir: PathBuf::from("controller-data"),
            master_timeout: Duration::from_secs(3),
            check_interval: Duration::from_millis(500),
            enable_elect_unclean_master: false,
            raft_heartbeat_interval: Duration::from_millis(100),
            raft_election_timeout: Duration::from_millis(500),
            write_timeout: Duration::from_secs(2),
            snapshot_every: 1000,
            authentication_enabled: false,
            inner_client_authentication_credentials: None,
            tls: TlsServerConfig::default(),
            tls_client: None,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("controller peer {0:?} is not of the form id@host:port")]
    BadPeer(String),
    #[error("node id {0} is not among controller_peers")]
    NotAPeer(u64),
    #[error("controller peer id {0} appears more than once")]
    DuplicatePeer(u64),
    #[error("{field} must be greater than zero")]
    Zero { field: &'static str },
    #[error(
        "raft_election_timeout ({election_ms} ms) must be at least 3 times raft_heartbeat_interval ({heartbeat_ms} ms)"
    )]
    ElectionTooShort {
        election_ms: u128,
        heartbeat_ms: u128,
    },
    #[error("authentication_enabled needs inner_client_authentication_credentials (the brokers' innerClientAuthenticationCredentials)")]
    MissingInnerCredentials,
    #[error("inner_client_authentication_credentials: {0}")]
    Credentials(String),
}

impl ControllerConfig {
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, d) in [
            ("master_timeout", self.master_timeout),
            ("check_interval", self.check_interval),
            ("raft_heartbeat_interval", self.raft_heartbeat_interval),
            ("raft_election_timeout", self.raft_election_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Zero { field });
            }
        }
        if self.snapshot_every == 0 {
            return Err(ConfigError::Zero {
                field: "snapshot_every",
            });
        }
        // A follower must not time out between two heartbeats of a healthy leader.
        if self.raft_election_timeout < self.raft_heartbeat_interval * 3 {
            return Err(ConfigError::ElectionTooShort {
                election_ms: self.raft_election_timeout.as_millis(),
                heartbeat_ms: self.raft_heartbeat_interval.as_millis(),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.controller_peers {
            if !seen.insert(p.id) {
                return Err(ConfigError::DuplicatePeer(p.id));
            }
        }
        if !self.controller_peers.is_empty() && !seen.contains(&self.node_id) {
            return Err(ConfigError::NotAPeer(self.node_id));
        }
        crate::auth::PeerAuth::new(
            self.authentication_enabled,
            self.inner_client_authentication_credentials.as_ref(),
        )?;
        Ok(())
    }

    /// The peers, or this node alone when none are configured (`own_addr` is where it listens).
    #[must_use]
    pub fn members(&self, own_addr: &str) -> Vec<Peer> {
        if self.controller_peers.is_empty() {
            vec![Peer {
                id: self.node_id,
                addr: own_addr.to_owned(),
            }]
        } else {
            self.controller_peers.clone()
        }
    }
}

/// Durations as integer milliseconds in config files.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peers() {
        let p: Peer = "2@127.0.0.1:9878".parse().expect("peer");
        assert_eq!((p.id, p.addr.as_str()), (2, "127.0.0.1:9878"));
        for bad in ["127.0.0.1:9878", "x@h:1", "1@", "1@host"] {
            assert!(bad.parse::<Peer>().is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_rejects_what_cannot_work() {
        assert_eq!(ControllerConfig::default().validate(), Ok(()));
        let peers = |ids: &[u64]| {
            ids.iter()
                .map(|id| Peer {
                    id: *id,
                    addr: format!("h:{id}"),
                })
                .collect()
        };
        let mut c = ControllerConfig {
            node_id: 4,
            controller_peers: peers(&[1, 2, 3]),
            ..ControllerConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::NotAPeer(4)));
        c.controller_peers = peers(&[1, 4, 4]);
        assert_eq!(c.validate(), Err(ConfigError::DuplicatePeer(4)));
        c.controller_peers = peers(&[4]);
        c.master_timeout = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::Zero { .. })));
        c.master_timeout = Duration::from_secs(3);
        c.raft_election_timeout = Duration::from_millis(200);
        assert!(matches!(
            c.validate(),
            Err(ConfigError::ElectionTooShort { .. })
        ));
    }
}
