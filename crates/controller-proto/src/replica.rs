//! What a broker learns about its group from the controllers.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A broker id inside its group (`brokerId`; 0 is not special here: the master is whichever id the
/// controller names).
pub type BrokerId = u64;

/// What a client learns about a group after a command (or a read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaInfo {
    pub group: String,
    pub master: Option<BrokerId>,
    pub master_addr: Option<String>,
    pub master_ha_addr: Option<String>,
    pub master_epoch: u64,
    pub sync_state_set: BTreeSet<BrokerId>,
    pub sync_state_set_epoch: u64,
}
