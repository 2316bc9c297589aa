//! The replicated state: per broker group, its brokers, its master and epochs, its sync-state set.
//!
//! Pure data and a pure `apply`: every controller applies the same committed commands in the same
//! order and reaches the same state. Checks that depend on the current state (is the epoch still
//! current? is the caller the master?) run here, at apply time, so two decisions taken concurrently
//! on stale reads cannot both win: the second one is rejected by the state the first one left.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use ferromq_controller_proto::{BrokerId, ReplicaInfo};

/// One broker as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// The remoting address clients use (`brokerAddress`).
    pub addr: String,
    /// Where the broker serves replicas when it is master (`haListenPort` side).
    pub ha_addr: String,
}

/// Everything the controllers agree on about one broker group (`brokerName`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    pub cluster: String,
    pub brokers: BTreeMap<BrokerId, BrokerInfo>,
    /// `None` before the first election and after a master was lost with nobody eligible.
    pub master: Option<BrokerId>,
    /// Increments on every change of master; 0 means the group never had one.
    pub master_epoch: u64,
    /// The replicas known to hold everything the master acknowledged. Kept as it was when the
    /// master is lost without a successor, so that one of them can still be elected on return.
    pub sync_state_set: BTreeSet<BrokerId>,
    pub sync_state_set_epoch: u64,
}

/// The whole replicated state machine (also the snapshot content).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    pub groups: BTreeMap<String, GroupState>,
}

/// A state change, as written to the Raft log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Adds or updates a broker. The first broker of a group that never had a master becomes its
    /// master (epoch 1) — there is nobody it could be missing data from.
    RegisterBroker {
        cluster: String,
        group: String,
        broker_id: BrokerId,
        addr: String,
        ha_addr: String,
    },
    /// Names a new master (or none), valid only if the group is still at `expected_epoch`.
    ElectMaster {
        group: String,
        new_master: Option<BrokerId>,
        expected_epoch: u64,
    },
    /// Replaces the sync-state set; only the current master of the current epoch may.
    AlterSyncStateSet {
        group: String,
        master_id: BrokerId,
        master_epoch: u64,
        sync_state_set_epoch: u64,
        new_set: BTreeSet<BrokerId>,
    },
}

/// Why a command changed nothing. Each maps to a `ResponseCode` in the request handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error("broker group {group} is not registered")]
    UnknownGroup { group: String },
    #[error("broker {broker_id} of group {group} is not registered")]
    UnknownBroker { group: String, broker_id: BrokerId },
    #[error("master epoch {given} is not the current epoch {current}")]
    FencedMasterEpoch { given: u64, current: u64 },
    #[error("sync-state-set epoch {given} is not the current epoch {current}")]
    FencedSyncStateSetEpoch { given: u64, current: u64 },
    #[error("broker {broker_id} is not the master of group {group}")]
    NotMaster { group: String, broker_id: BrokerId },
    #[error("the new sync-state set must contain the master and only registered brokers")]
    InvalidSyncStateSet,
    #[error("broker group {group} is registered in cluster {existing}, not {given}")]
    ClusterMismatch {
        group: String,
        existing: String,
        given: String,
    },
}

/// The result of applying one command (the Raft `R` type).
pub type Outcome = Result<ReplicaInfo, Rejection>;

impl GroupState {
    #[must_use]
    pub fn replica_info(&self, group: &str) -> ReplicaInfo {
        let master_info = self.master.and_then(|id| self.brokers.get(&id));
        ReplicaInfo {
            group: group.to_owned(),
            master: self.master,
            master_addr: master_info.map(|b| b.addr.clone()),
            master_ha_addr: master_info.map(|b| b.ha_addr.clone()),
            master_epoch: self.master_epoch,
            sync_state_set: self.sync_state_set.clone(),
            sync_state_set_epoch: self.sync_state_set_epoch,
        }
    }
}

impl Groups {
    #[must_use]
    pub fn replica_info(&self, group: &str) -> Option<ReplicaInfo> {
        self.groups.get(group).map(|g| g.replica_info(group))
    }

    /// Applies one committed command.
    ///
    /// # Errors
    /// A [`Rejection`] when the command is not valid against the current state; the state is then
    /// unchanged.
    pub fn apply(&mut self, command: &Command) -> Outcome {
        match command {
            Command::RegisterBroker {
                cluster,
                group,
                broker_id,
                addr,
                ha_addr,
            } => {
                let state = self
                    .groups
                    .entry(group.clone())
                    .or_insert_with(|| GroupState {
                        cluster: cluster.clone(),
                        ..GroupState::default()
                    });
                if state.cluster != *cluster {
                    return Err(Rejection::ClusterMismatch {
                        group: group.clone(),
                        existing: state.cluster.clone(),
                        given: cluster.clone(),
                    });
                }
                state.brokers.insert(
                    *broker_id,
                    BrokerInfo {
                        addr: addr.clone(),
                        ha_addr: ha_addr.clone(),
                    },
                );
                if state.master.is_none() && state.master_epoch == 0 {
                    state.master = Some(*broker_id);
                    state.master_epoch = 1;
                    state.sync_state_set = BTreeSet::from([*broker_id]);
                    state.sync_state_set_epoch += 1;
                }
                Ok(state.replica_info(group))
            }
            Command::ElectMaster {
                group,
                new_master,
                expected_epoch,
            } => {
                let state = self.group_mut(group)?;
                if state.master_epoch != *expected_epoch {
                    return Err(Rejection::FencedMasterEpoch {
                        given: *expected_epoch,
                        current: state.master_epoch,
                    });
                }
                match new_master {
                    Some(id) => {
                        if !state.brokers.contains_key(id) {
                            return Err(Rejection::UnknownBroker {
                                group: group.clone(),
                                broker_id: *id,
                            });
                        }
                        state.master = Some(*id);
                        state.master_epoch += 1;
                        state.sync_state_set = BTreeSet::from([*id]);
                        state.sync_state_set_epoch += 1;
                    }
                    // Losing the master without a successor does not start an epoch: nobody
                    // writes in it, and the sync-state set stays so its members remain eligible.
                    None => state.master = None,
                }
                Ok(state.replica_info(group))
            }
            Command::AlterSyncStateSet {
                group,
                master_id,
                master_epoch,
                sync_state_set_epoch,
                new_set,
            } => {
                let state = self.group_mut(group)?;
                if *master_epoch != state.master_epoch {
                    return Err(Rejection::FencedMasterEpoch {
                        given: *master_epoch,
                        current: state.master_epoch,
                    });
                }
                if state.master != Some(*master_id) {
                    return Err(Rejection::NotMaster {
                        group: group.clone(),
                        broker_id: *master_id,
                    });
                }
                if *sync_state_set_epoch != state.sync_state_set_epoch {
                    return Err(Rejection::FencedSyncStateSetEpoch {
                        given: *sync_state_set_epoch,
                        current: state.sync_state_set_epoch,
                    });
                }
                if !new_set.contains(master_id)
                    || new_set.iter().any(|id| !state.brokers.contains_key(id))
                {
                    return Err(Rejection::InvalidSyncStateSet);
                }
                state.sync_state_set.clone_from(new_set);
                state.sync_state_set_epoch += 1;
                Ok(state.replica_info(group))
            }
        }
    }

    fn group_mut(&mut self, group: &str) -> Result<&mut GroupState, Rejection> {
        self.groups
            .get_mut(group)
            .ok_or_else(|| Rejection::UnknownGroup {
                group: group.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(id: BrokerId) -> Command {
        Command::RegisterBroker {
            cluster: "c".into(),
            group: "g".into(),
            broker_id: id,
            addr: format!("b{id}:10911"),
            ha_addr: format!("b{id}:10912"),
        }
    }

    fn alter(master: BrokerId, epoch: u64, sse: u64, set: &[BrokerId]) -> Command {
        Command::AlterSyncStateSet {
            group: "g".into(),
            master_id: master,
            master_epoch: epoch,
            sync_state_set_epoch: sse,
            new_set: set.iter().copied().collect(),
        }
    }

    #[test]
    fn first_broker_becomes_master_at_epoch_one_later_ones_do_not() {
        let mut s = Groups::default();
        let first = s.apply(&register(1)).expect("register");
        assert_eq!(
            (
                first.master,
                first.master_epoch,
                first.master_addr.as_deref()
            ),
            (Some(1), 1, Some("b1:10911"))
        );
        let second = s.apply(&register(2)).expect("register");
        assert_eq!((second.master, second.master_epoch), (Some(1), 1));
        assert_eq!(second.sync_state_set, BTreeSet::from([1]));
    }

    #[test]
    fn alter_sync_state_set_checks_master_and_both_epochs() {
        let mut s = Groups::default();
        for id in 1..=3 {
            s.apply(&register(id)).expect("register");
        }
        let ok = s.apply(&alter(1, 1, 1, &[1, 2, 3])).expect("alter");
        assert_eq!(ok.sync_state_set, BTreeSet::from([1, 2, 3]));
        assert_eq!(ok.sync_state_set_epoch, 2);
        // The same request again carries a stale sync-state-set epoch.
        assert!(matches!(
            s.apply(&alter(1, 1, 1, &[1, 2])),
            Err(Rejection::FencedSyncStateSetEpoch {
                given: 1,
                current: 2
            })
        ));
        assert!(matches!(
            s.apply(&alter(1, 0, 2, &[1, 2])),
            Err(Rejection::FencedMasterEpoch { .. })
        ));
        assert!(matches!(
            s.apply(&alter(2, 1, 2, &[1, 2])),
            Err(Rejection::NotMaster { .. })
        ));
        assert_eq!(
            s.apply(&alter(1, 1, 2, &[2, 3])),
            Err(Rejection::InvalidSyncStateSet)
        );
        assert_eq!(
            s.apply(&alter(1, 1, 2, &[1, 9])),
            Err(Rejection::InvalidSyncStateSet)
        );
        assert_eq!(
            s.replica_info("g").expect("group").sync_state_set,
            BTreeSet::from([1, 2, 3])
        );
    }

    #[test]
    fn elect_master_bumps_epoch_and_is_fenced_by_it() {
        let mut s = Groups::default();
        for id in 1..=3 {
            s.apply(&register(id)).expect("register");
        }
        let elect = |to, expected| Command::ElectMaster {
            group: "g".into(),
            new_master: to,
            expected_epoch: expected,
        };
        let info = s.apply(&elect(Some(2), 1)).expect("elect");
        assert_eq!((info.master, info.master_epoch), (Some(2), 2));
        assert_eq!(info.sync_state_set, BTreeSet::from([2]));
        assert!(matches!(
            s.apply(&elect(Some(3), 1)),
            Err(Rejection::FencedMasterEpoch {
                given: 1,
                current: 2
            })
        ));
        // Losing the master keeps the epoch and the sync-state set.
        let lost = s.apply(&elect(None, 2)).expect("clear");
        assert_eq!(
            (lost.master, lost.master_epoch, lost.sync_state_set),
            (None, 2, BTreeSet::from([2]))
        );
        // A group that once had a master does not hand it to the next registrant.
        let again = s.apply(&register(4)).expect("register");
        assert_eq!(again.master, None);
    }

    #[test]
    fn unknown_group_and_cluster_mismatch_are_rejected() {
        let mut s = Groups::default();
        assert!(matches!(
            s.apply(&alter(1, 1, 1, &[1])),
            Err(Rejection::UnknownGroup { .. })
        ));
        s.apply(&register(1)).expect("register");
        let other = Command::RegisterBroker {
            cluster: "other".into(),
            group: "g".into(),
            broker_id: 2,
            addr: "x".into(),
            ha_addr: "y".into(),
        };
        assert!(matches!(
            s.apply(&other),
            Err(Rejection::ClusterMismatch { .. })
        ));
    }
}
