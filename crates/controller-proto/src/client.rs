//! `ControllerClient`: what a broker uses to talk to the controllers.
//!
//! It remembers the leader it last reached. A `CONTROLLER_NOT_LEADER` answer that names the leader
//! sends the request there at once; one that does not (an election is under way), or a controller
//! that cannot be reached, moves on to the next configured address. After a full round without a
//! leader it pauses briefly and tries again, up to `rounds` times.

use std::time::Duration;

use ferromq_auth::Credentials;
use ferromq_net::{ClientConfig, ClientPool, NetError};
use ferromq_remoting::{RemotingCommand, ResponseCode};
use parking_lot::Mutex;
use tracing::debug;

use crate::codes;
use crate::protocol::{
    self, AlterSyncStateSetRequest, HeartbeatRequest, ProtocolError, RegisterRequest,
};
use crate::replica::ReplicaInfo;

/// Why a controller request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No controller accepted the request as leader.
    #[error("no controller leader found among {addrs:?} (last error: {last})")]
    NoLeader { addrs: Vec<String>, last: String },
    /// The leader refused the request (stale epoch, not the master, ...).
    #[error("controller refused: {code}: {remark}")]
    Refused { code: ResponseCode, remark: String },
    /// The leader's answer did not parse.
    #[error("bad controller response: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("cannot encode request: {0}")]
    Encode(#[from] serde_json::Error),
}

impl ClientError {
    /// The response code of a refusal.
    #[must_use]
    pub fn code(&self) -> Option<ResponseCode> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Retry settings of a [`ControllerClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Per request and attempt.
    pub request_timeout: Duration,
    /// Rounds over all addresses before giving up.
    pub rounds: u32,
    /// Pause between rounds (an election takes about one Raft election timeout).
    pub round_pause: Duration,
    /// Signs every request (a broker's `innerClientAuthenticationCredentials`), for controllers
    /// that authenticate brokers.
    pub credentials: Option<Credentials>,
    /// TLS towards the controllers (a broker's `tls.enable`), for controllers whose port takes
    /// TLS; `None`: plaintext.
    pub tls: Option<ferromq_net::ClientTls>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(3),
            rounds: 10,
            round_pause: Duration::from_millis(300),
            credentials: None,
            tls: None,
        }
    }
}

/// A client of the controller group. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct ControllerClient {
    addrs: Vec<String>,
    pool: ClientPool,
    leader: Mutex<Option<String>>,
    options: ClientOptions,
}

impl ControllerClient {
    /// A client for the controllers at `addrs` (`host:port` each).
    #[must_use]
    pub fn new(addrs: Vec<String>) -> Self {
        Self::with_options(addrs, ClientOptions::default())
    }

    #[must_use]
    pub fn with_options(addrs: Vec<String>, options: ClientOptions) -> Self {
        let pool = ClientPool::new(ClientConfig {
            connect_timeout: options.request_timeout,
            tls: options.tls.clone(),
            ..ClientConfig::default()
        });
        Self {
            addrs,
            pool,
            leader: Mutex::new(None),
            options,
        }
    }

    /// The leader address last reached.
    #[must_use]
    pub fn leader(&self) -> Option<String> {
        self.leader.lock().clone()
    }

    /// Registers a broker; the answer names the group's master.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn register(&self, req: &RegisterRequest) -> Result<ReplicaInfo, ClientError> {
        self.call_for_info(&req.to_command()).await
    }

    /// Reports a broker alive; the answer names the group's current master and epoch.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn heartbeat(&self, req: &HeartbeatRequest) -> Result<ReplicaInfo, ClientError> {
        self.call_for_info(&req.to_command()).await
    }

    /// Replaces the sync-state set (from the master of the current epoch only).
    ///
    /// # Errors
    /// [`ClientError`]; a stale epoch is `Refused` with `CONTROLLER_FENCED_*`.
    pub async fn alter_sync_state_set(
        &self,
        req: &AlterSyncStateSetRequest,
    ) -> Result<ReplicaInfo, ClientError> {
        self.call_for_info(&req.to_command()?).await
    }

    /// The group's master, epoch and sync-state set, as the leader knows them.
    ///
    /// # Errors
    /// [`ClientError`].
    pub async fn replica_info(&self, group: &str) -> Result<ReplicaInfo, ClientError> {
        self.call_for_info(&protocol::replica_info_request(group))
            .await
    }

    /// Closes the connections.
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
    }

    async fn call_for_info(&self, cmd: &RemotingCommand) -> Result<ReplicaInfo, ClientError> {
        let resp = self.call(cmd).await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(ClientError::Refused {
                code: resp.response_code(),
                remark: resp.remark.unwrap_or_default(),
            });
        }
        Ok(protocol::read_replica_info(&resp)?)
    }

    /// Sends `cmd` to the leader, following redirects; any answer other than "not leader" is
    /// returned as is.
    async fn call(&self, cmd: &RemotingCommand) -> Result<RemotingCommand, ClientError> {
        let mut signed;
        let cmd = match &self.options.credentials {
            Some(c) => {
                signed = cmd.clone();
                c.sign(&mut signed);
                &signed
            }
            None => cmd,
        };
        let mut last = String::from("no controller address configured");
        for round in 0..self.options.rounds {
            if round > 0 {
                tokio::time::sleep(self.options.round_pause).await;
            }
            let mut queue: Vec<String> = self.leader().into_iter().collect();
            queue.extend(self.addrs.iter().cloned());
            let mut tried = Vec::new();
            while let Some(addr) = queue.first().cloned() {
                queue.remove(0);
                if tried.contains(&addr) {
                    continue;
                }
                tried.push(addr.clone());
                match self.send(&addr, cmd.clone()).await {
                    Ok(resp) if resp.response_code() == ResponseCode::CONTROLLER_NOT_LEADER => {
                        if let Some(leader) = resp.ext(codes::LEADER_ADDRESS_FIELD) {
                            queue.insert(0, leader.to_owned());
                        }
                        last = format!("{addr}: {}", resp.remark.unwrap_or_default());
                    }
                    Ok(resp) => {
                        *self.leader.lock() = Some(addr);
                        return Ok(resp);
                    }
                    Err(e) => {
                        debug!(%addr, error = %e, "controller unreachable");
                        last = format!("{addr}: {e}");
                    }
                }
            }
            *self.leader.lock() = None;
        }
        Err(ClientError::NoLeader {
            addrs: self.addrs.clone(),
            last,
        })
    }

    async fn send(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, NetError> {
        self.pool
            .request(addr, cmd, self.options.request_timeout)
            .await
    }
}
