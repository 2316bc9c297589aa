//! What the request handler and the election loop share: the Raft node, the applied state, the
//! heartbeat table, and the way to propose a command.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferromq_net::ClientPool;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::ServerState;
use parking_lot::RwLock;

use crate::config::ControllerConfig;
use crate::liveness::Liveness;
use crate::raft_types::{NodeId, Raft};
use crate::state::{Command, Outcome, ReplicaInfo};
use crate::state_machine::Applied;

/// Why a proposal was not committed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProposeError {
    /// This node is not the Raft leader; the leader, when known, is where to go.
    #[error("not the controller leader (leader: {leader_addr:?})")]
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    /// This node was leader but could not reach a quorum of controllers just now: it may have been
    /// replaced on the other side of a partition, so it must not speak for the group.
    #[error("lost touch with a quorum of controllers")]
    NoQuorum,
    /// Not committed in time: typically a leader cut off from a quorum of controllers.
    #[error("not committed within {millis} ms (no quorum of controllers?)")]
    Timeout { millis: u128 },
    /// The Raft node stopped.
    #[error("raft: {0}")]
    Raft(String),
}

/// The shared core of one controller.
pub struct Node {
    pub id: NodeId,
    pub raft: Raft,
    pub applied: Arc<RwLock<Applied>>,
    pub liveness: Liveness,
    /// Node id → remoting address of every member.
    pub peers: BTreeMap<NodeId, String>,
    pub config: ControllerConfig,
    /// Connections to peers (Raft) and to brokers (role-change notifications).
    pub pool: ClientPool,
    /// Checks incoming broker and Raft requests, signs outgoing ones (see `crate::auth`).
    pub auth: Arc<crate::auth::PeerAuth>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // openraft's `Raft` has no `Debug`.
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// The Raft leader as this node sees it.
    #[must_use]
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    #[must_use]
    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    /// `NotLeader` pointing at the current leader.
    #[must_use]
    pub fn not_leader(&self) -> ProposeError {
        let leader_id = self.leader().filter(|l| *l != self.id);
        ProposeError::NotLeader {
            leader_id,
            leader_addr: leader_id.and_then(|l| self.peers.get(&l).cloned()),
        }
    }

    /// The group as this node has applied it.
    #[must_use]
    pub fn replica_info(&self, group: &str) -> Option<ReplicaInfo> {
        self.applied.read().groups.replica_info(group)
    }

    /// Confirms that this node is still the leader by a round of heartbeats to a quorum, and
    /// waits until everything committed before is applied: what it then reads is current.
    ///
    /// A leader isolated with some brokers would otherwise keep telling its old master that it is
    /// master while the rest of the controllers elect another one.
    ///
    /// # Errors
    /// `NotLeader` (with the leader when known) or `NoQuorum`.
    pub async fn confirm_leader(&self) -> Result<(), ProposeError> {
        let timeout = self.config.write_timeout;
        match tokio::time::timeout(timeout, self.raft.ensure_linearizable()).await {
            Err(_) | Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))) => {
                Err(ProposeError::NoQuorum)
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(fwd)))) => {
                Err(ProposeError::NotLeader {
                    leader_id: fwd.leader_id,
                    leader_addr: fwd.leader_node.map(|n| n.addr),
                })
            }
            Ok(Err(e)) => Err(ProposeError::Raft(e.to_string())),
        }
    }

    /// Commits `command` through Raft and returns what applying it gave.
    ///
    /// # Errors
    /// [`ProposeError`]; the command may still commit later after a `Timeout`.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ProposeError> {
        let timeout: Duration = self.config.write_timeout;
        let written = tokio::time::timeout(timeout, self.raft.client_write(command))
            .await
            .map_err(|_| ProposeError::Timeout {
                millis: timeout.as_millis(),
            })?;
        match written {
            Ok(resp) => Ok(resp.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(fwd))) => {
                Err(ProposeError::NotLeader {
                    leader_id: fwd.leader_id,
                    leader_addr: fwd.leader_node.map(|n| n.addr),
                })
            }
            Err(e) => Err(ProposeError::Raft(e.to_string())),
        }
    }
}
