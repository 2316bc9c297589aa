//! openraft's network: Raft RPCs as remoting requests over a shared [`ClientPool`].

use std::error::Error;
use std::sync::Arc;

use ferromq_net::{ClientPool, NetError};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use openraft::error::{
    Infallible, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::PeerAuth;
use crate::codes;
use crate::raft_types::{NodeId, TypeConfig};

/// Creates one [`PeerLink`] per peer; all share the pool's connections.
#[derive(Debug, Clone)]
pub struct Network {
    pool: ClientPool,
    /// Signs each Raft message with the inner credentials, when set.
    auth: Arc<PeerAuth>,
}

impl Network {
    #[must_use]
    pub fn new(pool: ClientPool, auth: Arc<PeerAuth>) -> Self {
        Self { pool, auth }
    }
}

/// The way to one peer.
#[derive(Debug)]
pub struct PeerLink {
    pool: ClientPool,
    auth: Arc<PeerAuth>,
    target: NodeId,
    addr: String,
}

/// A failure to parse what a peer answered; the peer is then treated as unreachable.
#[derive(Debug, thiserror::Error)]
enum PeerReplyError {
    #[error("peer answered {code}: {remark}")]
    Refused { code: ResponseCode, remark: String },
    #[error("peer answered without a body")]
    NoBody,
    #[error("bad peer message: {0}")]
    Json(#[from] serde_json::Error),
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl PeerLink {
    async fn call<Req, Resp, E>(
        &self,
        code: RequestCode,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let cmd = self
            .auth
            .sign(RemotingCommand::request(code).with_body(body));
        let resp = match self.pool.request(&self.addr, cmd, option.hard_ttl()).await {
            Ok(resp) => resp,
            // A peer that is down or stuck: openraft backs off before the next try.
            Err(
                e @ (NetError::Connect { .. }
                | NetError::ConnectTimeout { .. }
                | NetError::Timeout { .. }
                | NetError::Shutdown),
            ) => return Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(e) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        let parsed = decode_reply::<Resp, E>(&resp)
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
        parsed.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

fn decode_reply<Resp, E>(
    resp: &RemotingCommand,
) -> Result<Result<Resp, RaftError<NodeId, E>>, PeerReplyError>
where
    Resp: DeserializeOwned,
    E: Error + DeserializeOwned,
{
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(PeerReplyError::Refused {
            code: resp.response_code(),
            remark: resp.remark.clone().unwrap_or_default(),
        });
    }
    let body = resp.body.as_ref().ok_or(PeerReplyError::NoBody)?;
    Ok(serde_json::from_slice(body)?)
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerLink;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerLink {
        PeerLink {
            pool: self.pool.clone(),
            auth: self.auth.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerLink {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, Infallible> {
        self.call(codes::RAFT_APPEND_ENTRIES, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(codes::RAFT_INSTALL_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, Infallible> {
        self.call(codes::RAFT_VOTE, &rpc, &option).await
    }
}
