//! Requests to a controller: Raft RPCs from its peers and the broker-facing API.
//!
//! Broker requests are served by the Raft leader only; any other controller answers
//! `CONTROLLER_NOT_LEADER` with the leader's address in `controllerLeaderAddress` (absent while no
//! leader is known) so the caller can go there. `CONTROLLER_GET_METADATA_INFO` is answered by
//! every controller: it says who the leader is.

use std::sync::Arc;

use async_trait::async_trait;
use ferromq_net::{not_supported, Handler, RequestContext};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;
use tracing::debug;

use crate::codes;
use crate::liveness::Beat;
use crate::node::{Node, ProposeError};
use crate::protocol::{self, AlterSyncStateSetRequest, HeartbeatRequest, RegisterRequest};
use crate::state::{Command, Rejection, ReplicaInfo};

/// The controller's [`Handler`].
#[derive(Debug, Clone)]
pub struct ControllerHandler {
    node: Arc<Node>,
}

impl ControllerHandler {
    #[must_use]
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

fn reply(req: &RemotingCommand, code: ResponseCode, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req, code, Some(remark.into()))
}

/// The one place a [`Rejection`] becomes a response code.
fn rejection_code(r: &Rejection) -> ResponseCode {
    match r {
        Rejection::UnknownGroup { .. } | Rejection::UnknownBroker { .. } => {
            ResponseCode::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED
        }
        Rejection::FencedMasterEpoch { .. } => ResponseCode::CONTROLLER_FENCED_MASTER_EPOCH,
        Rejection::FencedSyncStateSetEpoch { .. } => {
            ResponseCode::CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH
        }
        Rejection::NotMaster { .. } => ResponseCode::CONTROLLER_INVALID_MASTER,
        Rejection::InvalidSyncStateSet => ResponseCode::CONTROLLER_INVALID_REPLICAS,
        Rejection::ClusterMismatch { .. } => ResponseCode::CONTROLLER_INVALID_REQUEST,
    }
}

fn propose_failed(req: &RemotingCommand, e: &ProposeError) -> RemotingCommand {
    match e {
        ProposeError::NotLeader {
            leader_id,
            leader_addr,
        } => {
            let mut resp = reply(req, ResponseCode::CONTROLLER_NOT_LEADER, e.to_string());
            if let (Some(id), Some(addr)) = (leader_id, leader_addr) {
                resp = resp
                    .with_ext(codes::LEADER_ID_FIELD, id.to_string())
                    .with_ext(codes::LEADER_ADDRESS_FIELD, addr);
            }
            resp
        }
        // Sends the caller on to the other controllers, one of which leads the majority.
        ProposeError::NoQuorum => reply(req, ResponseCode::CONTROLLER_NOT_LEADER, e.to_string()),
        ProposeError::Timeout { .. } | ProposeError::Raft(_) => reply(
            req,
            ResponseCode::CONTROLLER_JRAFT_INTERNAL_ERROR,
            e.to_string(),
        ),
    }
}

fn success(req: &RemotingCommand, info: &ReplicaInfo) -> RemotingCommand {
    let resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
    protocol::write_replica_info(resp, info).unwrap_or_else(|e| {
        reply(
            req,
            ResponseCode::SYSTEM_ERROR,
            format!("cannot encode: {e}"),
        )
    })
}

/// Decodes an openraft request, runs it, and answers JSON of its `Result`.
async fn raft_rpc<Req, Resp, Fut>(
    req: &RemotingCommand,
    run: impl FnOnce(Req) -> Fut,
) -> RemotingCommand
where
    Req: DeserializeOwned,
    Resp: Serialize,
    Fut: std::future::Future<Output = Resp>,
{
    let body = req.body.as_deref().unwrap_or_default();
    let rpc: Req = match serde_json::from_slice(body) {
        Ok(rpc) => rpc,
        Err(e) => {
            return reply(
                req,
                ResponseCode::CONTROLLER_INVALID_REQUEST,
                format!("bad raft message: {e}"),
            )
        }
    };
    let result = run(rpc).await;
    match serde_json::to_vec(&result) {
        Ok(json) => RemotingCommand::response_to(req, ResponseCode::SUCCESS, None).with_body(json),
        Err(e) => reply(
            req,
            ResponseCode::SYSTEM_ERROR,
            format!("cannot encode: {e}"),
        ),
    }
}

impl ControllerHandler {
    async fn register(&self, req: &RemotingCommand) -> RemotingCommand {
        let r = match RegisterRequest::from_command(req) {
            Ok(r) => r,
            Err(e) => return reply(req, ResponseCode::CONTROLLER_INVALID_REQUEST, e.to_string()),
        };
        let (group, id) = (r.group.clone(), r.broker_id);
        let command = Command::RegisterBroker {
            cluster: r.cluster,
            group: r.group,
            broker_id: r.broker_id,
            addr: r.addr,
            ha_addr: r.ha_addr,
        };
        match self.node.propose(command).await {
            Ok(Ok(info)) => {
                // Registering is a sign of life; the offset comes with the first heartbeat.
                let heard = self.node.liveness.heard_from(
                    &group,
                    id,
                    self.node.config.master_timeout,
                    Instant::now(),
                );
                if !heard {
                    self.node.liveness.record(
                        &group,
                        id,
                        Beat {
                            at: Instant::now(),
                            max_offset: 0,
                            epoch: info.master_epoch,
                        },
                    );
                }
                success(req, &info)
            }
            Ok(Err(rejected)) => reply(req, rejection_code(&rejected), rejected.to_string()),
            Err(e) => propose_failed(req, &e),
        }
    }

    async fn heartbeat(&self, req: &RemotingCommand) -> RemotingCommand {
        let hb = match HeartbeatRequest::from_command(req) {
            Ok(hb) => hb,
            Err(e) => return reply(req, ResponseCode::CONTROLLER_INVALID_REQUEST, e.to_string()),
        };
        // The broker was alive when it sent this, not when leadership was confirmed.
        let arrived = Instant::now();
        if let Err(e) = self.node.confirm_leader().await {
            return propose_failed(req, &e);
        }
        let known = self
            .node
            .applied
            .read()
            .groups
            .groups
            .get(&hb.group)
            .is_some_and(|g| g.brokers.contains_key(&hb.broker_id));
        if !known {
            return reply(
                req,
                ResponseCode::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED,
                format!(
                    "broker {} of group {} is not registered",
                    hb.broker_id, hb.group
                ),
            );
        }
        self.node.liveness.record(
            &hb.group,
            hb.broker_id,
            Beat {
                at: arrived,
                max_offset: hb.max_offset,
                epoch: hb.epoch,
            },
        );
        match self.node.replica_info(&hb.group) {
            Some(info) => success(req, &info),
            None => reply(
                req,
                ResponseCode::CONTROLLER_BROKER_NEED_TO_BE_REGISTERED,
                format!("group {} is not registered", hb.group),
            ),
        }
    }

    async fn alter_sync_state_set(&self, req: &RemotingCommand) -> RemotingCommand {
        let a = match AlterSyncStateSetRequest::from_command(req) {
            Ok(a) => a,
            Err(e) => return reply(req, ResponseCode::CONTROLLER_INVALID_REQUEST, e.to_string()),
        };
        if !self.node.is_leader() {
            return propose_failed(req, &self.node.not_leader());
        }
        let command = Command::AlterSyncStateSet {
            group: a.group.clone(),
            master_id: a.master_id,
            master_epoch: a.master_epoch,
            sync_state_set_epoch: a.sync_state_set_epoch,
            new_set: a.new_set.clone(),
        };
        // Refuse a stale or foreign request before looking at liveness, as the state would at
        // apply time (the state is a few groups: trying it on a copy is cheap).
        let probe = self.node.applied.read().groups.clone().apply(&command);
        if let Err(rejected) = probe {
            return reply(req, rejection_code(&rejected), rejected.to_string());
        }
        // A replica joins the set only while it is alive, as in RocketMQ: a dead one could be
        // elected and would not hold what the master acknowledged after it died.
        let now = Instant::now();
        let timeout = self.node.config.master_timeout;
        if let Some(dead) = a.new_set.iter().find(|id| {
            **id != a.master_id && !self.node.liveness.heard_from(&a.group, **id, timeout, now)
        }) {
            return reply(
                req,
                ResponseCode::CONTROLLER_BROKER_NOT_ALIVE,
                format!("broker {dead} of group {} is not alive", a.group),
            );
        }
        match self.node.propose(command).await {
            Ok(Ok(info)) => success(req, &info).with_ext(
                "newSyncStateSetEpoch",
                info.sync_state_set_epoch.to_string(),
            ),
            Ok(Err(rejected)) => reply(req, rejection_code(&rejected), rejected.to_string()),
            Err(e) => propose_failed(req, &e),
        }
    }

    async fn replica_info(&self, req: &RemotingCommand) -> RemotingCommand {
        let group = match protocol::replica_info_group(req) {
            Ok(g) => g,
            Err(e) => return reply(req, ResponseCode::CONTROLLER_INVALID_REQUEST, e.to_string()),
        };
        if let Err(e) = self.node.confirm_leader().await {
            return propose_failed(req, &e);
        }
        match self.node.replica_info(&group) {
            Some(info) => success(req, &info),
            None => reply(
                req,
                ResponseCode::CONTROLLER_BROKER_METADATA_NOT_EXIST,
                format!("group {group} is not registered"),
            ),
        }
    }

    fn metadata(&self, req: &RemotingCommand) -> RemotingCommand {
        let mut resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
            .with_ext("isLeader", self.node.is_leader().to_string())
            .with_ext(
                "peers",
                self.node
                    .peers
                    .iter()
                    .map(|(id, addr)| format!("{id}@{addr}"))
                    .collect::<Vec<_>>()
                    .join(";"),
            );
        if let Some(leader) = self.node.leader() {
            resp = resp.with_ext(codes::LEADER_ID_FIELD, leader.to_string());
            if let Some(addr) = self.node.peers.get(&leader) {
                resp = resp.with_ext(codes::LEADER_ADDRESS_FIELD, addr);
            }
        }
        resp
    }
}

#[async_trait]
impl Handler for ControllerHandler {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        if let Err(refusal) = self.node.auth.check(ctx.peer_addr(), &req) {
            return refusal;
        }
        let raft = &self.node.raft;
        let resp = match req.request_code() {
            codes::RAFT_APPEND_ENTRIES => raft_rpc(&req, |r| raft.append_entries(r)).await,
            codes::RAFT_VOTE => raft_rpc(&req, |r| raft.vote(r)).await,
            codes::RAFT_INSTALL_SNAPSHOT => raft_rpc(&req, |r| raft.install_snapshot(r)).await,
            RequestCode::CONTROLLER_REGISTER_BROKER => self.register(&req).await,
            RequestCode::BROKER_HEARTBEAT => self.heartbeat(&req).await,
            RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET => self.alter_sync_state_set(&req).await,
            RequestCode::CONTROLLER_GET_REPLICA_INFO => self.replica_info(&req).await,
            RequestCode::CONTROLLER_GET_METADATA_INFO => self.metadata(&req),
            code => {
                debug!(%code, "unsupported request to the controller");
                not_supported(&req)
            }
        };
        Some(resp)
    }
}
