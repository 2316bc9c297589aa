//! The broker-facing requests and responses, in `RocketMQ`'s field names where it has them.
//!
//! | request | code | header fields | body |
//! |---|---|---|---|
//! | register | `CONTROLLER_REGISTER_BROKER` (1003) | `clusterName`, `brokerName`, `brokerId`, `brokerAddress`, `brokerHaAddress` | - |
//! | heartbeat | `BROKER_HEARTBEAT` (904) | `clusterName`, `brokerName`, `brokerId`, `brokerAddr`, `epoch`, `maxOffset` | - |
//! | alter sync-state set | `CONTROLLER_ALTER_SYNC_STATE_SET` (1001) | `brokerName`, `masterBrokerId`, `masterEpoch` | `{"syncStateSet":[..],"syncStateSetEpoch":n}` |
//! | replica info | `CONTROLLER_GET_REPLICA_INFO` (1004) | `brokerName` | - |
//! | role changed (to brokers, oneway) | `NOTIFY_BROKER_ROLE_CHANGED` (1008) | replica info (below) | sync-state set |
//!
//! Every successful answer carries the group's replica info: header fields `brokerName`,
//! `masterBrokerId`, `masterAddress`, `masterHaAddress` (the three absent when the group has no
//! master), `masterEpoch`, `syncStateSetEpoch`, and the sync-state set as the body above.

use std::collections::BTreeSet;
use std::str::FromStr;

use ferromq_remoting::{RemotingCommand, RequestCode};
use serde::{Deserialize, Serialize};

use crate::replica::{BrokerId, ReplicaInfo};

/// A request that is missing a field or carries one that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("the field {0} is missing")]
    Missing(&'static str),
    #[error("the field {field} has the invalid value {value:?}")]
    Invalid { field: &'static str, value: String },
    #[error("the body is not a sync-state set: {0}")]
    Body(String),
}

fn text(cmd: &RemotingCommand, field: &'static str) -> Result<String, ProtocolError> {
    match cmd.ext(field) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(ProtocolError::Missing(field)),
    }
}

fn number<T: FromStr>(cmd: &RemotingCommand, field: &'static str) -> Result<T, ProtocolError> {
    let v = text(cmd, field)?;
    v.parse()
        .map_err(|_| ProtocolError::Invalid { field, value: v })
}

/// The body of sync-state-set requests and responses (`SyncStateSet.java`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStateSetBody {
    pub sync_state_set: BTreeSet<BrokerId>,
    pub sync_state_set_epoch: u64,
}

fn decode_set(cmd: &RemotingCommand) -> Result<SyncStateSetBody, ProtocolError> {
    let body = cmd.body.as_deref().unwrap_or_default();
    serde_json::from_slice(body).map_err(|e| ProtocolError::Body(e.to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    pub cluster: String,
    pub group: String,
    pub broker_id: BrokerId,
    pub addr: String,
    pub ha_addr: String,
}

impl RegisterRequest {
    #[must_use]
    pub fn to_command(&self) -> RemotingCommand {
        RemotingCommand::request(RequestCode::CONTROLLER_REGISTER_BROKER)
            .with_ext("clusterName", &self.cluster)
            .with_ext("brokerName", &self.group)
            .with_ext("brokerId", self.broker_id.to_string())
            .with_ext("brokerAddress", &self.addr)
            .with_ext("brokerHaAddress", &self.ha_addr)
    }

    /// # Errors
    /// A missing or invalid field.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        Ok(Self {
            cluster: text(cmd, "clusterName")?,
            group: text(cmd, "brokerName")?,
            broker_id: number(cmd, "brokerId")?,
            addr: text(cmd, "brokerAddress")?,
            ha_addr: text(cmd, "brokerHaAddress")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    pub cluster: String,
    pub group: String,
    pub broker_id: BrokerId,
    pub addr: String,
    /// The master epoch the broker is in.
    pub epoch: u64,
    /// The end of its commit log.
    pub max_offset: u64,
}

impl HeartbeatRequest {
    #[must_use]
    pub fn to_command(&self) -> RemotingCommand {
        RemotingCommand::request(RequestCode::BROKER_HEARTBEAT)
            .with_ext("clusterName", &self.cluster)
            .with_ext("brokerName", &self.group)
            .with_ext("brokerId", self.broker_id.to_string())
            .with_ext("brokerAddr", &self.addr)
            .with_ext("epoch", self.epoch.to_string())
            .with_ext("maxOffset", self.max_offset.to_string())
    }

    /// # Errors
    /// A missing or invalid field.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        Ok(Self {
            cluster: text(cmd, "clusterName")?,
            group: text(cmd, "brokerName")?,
            broker_id: number(cmd, "brokerId")?,
            addr: text(cmd, "brokerAddr")?,
            epoch: number(cmd, "epoch")?,
            max_offset: number(cmd, "maxOffset")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterSyncStateSetRequest {
    pub group: String,
    pub master_id: BrokerId,
    pub master_epoch: u64,
    pub new_set: BTreeSet<BrokerId>,
    /// The sync-state-set epoch the master last saw; the change applies only on top of it.
    pub sync_state_set_epoch: u64,
}

impl AlterSyncStateSetRequest {
    /// # Errors
    /// Never in practice: the body is our own JSON.
    pub fn to_command(&self) -> Result<RemotingCommand, serde_json::Error> {
        let body = serde_json::to_vec(&SyncStateSetBody {
            sync_state_set: self.new_set.clone(),
            sync_state_set_epoch: self.sync_state_set_epoch,
        })?;
        Ok(
            RemotingCommand::request(RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET)
                .with_ext("brokerName", &self.group)
                .with_ext("masterBrokerId", self.master_id.to_string())
                .with_ext("masterEpoch", self.master_epoch.to_string())
                .with_body(body),
        )
    }

    /// # Errors
    /// A missing or invalid field or body.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        let body = decode_set(cmd)?;
        Ok(Self {
            group: text(cmd, "brokerName")?,
            master_id: number(cmd, "masterBrokerId")?,
            master_epoch: number(cmd, "masterEpoch")?,
            new_set: body.sync_state_set,
            sync_state_set_epoch: body.sync_state_set_epoch,
        })
    }
}

/// `CONTROLLER_GET_REPLICA_INFO` for `group`.
#[must_use]
pub fn replica_info_request(group: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::CONTROLLER_GET_REPLICA_INFO).with_ext("brokerName", group)
}

/// The group named by a replica-info request.
///
/// # Errors
/// When `brokerName` is missing.
pub fn replica_info_group(cmd: &RemotingCommand) -> Result<String, ProtocolError> {
    text(cmd, "brokerName")
}

/// Puts `info` into a response.
///
/// # Errors
/// Never in practice: the body is our own JSON.
pub fn write_replica_info(
    mut resp: RemotingCommand,
    info: &ReplicaInfo,
) -> Result<RemotingCommand, serde_json::Error> {
    resp = resp
        .with_ext("brokerName", &info.group)
        .with_ext("masterEpoch", info.master_epoch.to_string())
        .with_ext("syncStateSetEpoch", info.sync_state_set_epoch.to_string());
    if let Some(id) = info.master {
        resp = resp.with_ext("masterBrokerId", id.to_string());
    }
    if let Some(addr) = &info.master_addr {
        resp = resp.with_ext("masterAddress", addr);
    }
    if let Some(addr) = &info.master_ha_addr {
        resp = resp.with_ext("masterHaAddress", addr);
    }
    let body = serde_json::to_vec(&SyncStateSetBody {
        sync_state_set: info.sync_state_set.clone(),
        sync_state_set_epoch: info.sync_state_set_epoch,
    })?;
    Ok(resp.with_body(body))
}

/// Reads what [`write_replica_info`] wrote.
///
/// # Errors
/// A missing or invalid field or body.
pub fn read_replica_info(resp: &RemotingCommand) -> Result<ReplicaInfo, ProtocolError> {
    let set = decode_set(resp)?;
    let master = match resp.ext("masterBrokerId") {
        Some(_) => Some(number(resp, "masterBrokerId")?),
        None => None,
    };
    Ok(ReplicaInfo {
        group: text(resp, "brokerName")?,
        master,
        master_addr: resp.ext("masterAddress").map(str::to_owned),
        master_ha_addr: resp.ext("masterHaAddress").map(str::to_owned),
        master_epoch: number(resp, "masterEpoch")?,
        sync_state_set: set.sync_state_set,
        sync_state_set_epoch: set.sync_state_set_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_remoting::ResponseCode;

    #[test]
    fn requests_round_trip_through_commands() {
        let reg = RegisterRequest {
            cluster: "c".into(),
            group: "g".into(),
            broker_id: 2,
            addr: "a:1".into(),
            ha_addr: "a:2".into(),
        };
        assert_eq!(RegisterRequest::from_command(&reg.to_command()), Ok(reg));
        let hb = HeartbeatRequest {
            cluster: "c".into(),
            group: "g".into(),
            broker_id: 3,
            addr: "a:1".into(),
            epoch: 4,
            max_offset: 1 << 40,
        };
        assert_eq!(HeartbeatRequest::from_command(&hb.to_command()), Ok(hb));
        let alter = AlterSyncStateSetRequest {
            group: "g".into(),
            master_id: 1,
            master_epoch: 2,
            new_set: BTreeSet::from([1, 2]),
            sync_state_set_epoch: 5,
        };
        let cmd = alter.to_command().expect("encode");
        assert_eq!(AlterSyncStateSetRequest::from_command(&cmd), Ok(alter));
    }

    #[test]
    fn replica_info_round_trips_with_and_without_master() {
        let req = replica_info_request("g");
        for master in [None, Some(2)] {
            let info = ReplicaInfo {
                group: "g".into(),
                master,
                master_addr: master.map(|m| format!("b{m}:1")),
                master_ha_addr: master.map(|m| format!("b{m}:2")),
                master_epoch: 3,
                sync_state_set: BTreeSet::from([2, 3]),
                sync_state_set_epoch: 7,
            };
            let resp = RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None);
            let resp = write_replica_info(resp, &info).expect("encode");
            assert_eq!(read_replica_info(&resp), Ok(info));
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let cmd = RemotingCommand::request(RequestCode::BROKER_HEARTBEAT)
            .with_ext("clusterName", "c")
            .with_ext("brokerName", "g")
            .with_ext("brokerId", "x");
        assert_eq!(
            HeartbeatRequest::from_command(&cmd),
            Err(ProtocolError::Invalid {
                field: "brokerId",
                value: "x".into()
            })
        );
        let cmd = RemotingCommand::request(RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET)
            .with_ext("brokerName", "g");
        assert!(matches!(
            AlterSyncStateSetRequest::from_command(&cmd),
            Err(ProtocolError::Body(_))
        ));
    }
}
