//! Extension fields of a `CONTROLLER_NOT_LEADER` response, which the client follows to the leader.

/// Where the leader listens, when known.
pub const LEADER_ADDRESS_FIELD: &str = "controllerLeaderAddress";
/// The leader's node id, when known.
pub const LEADER_ID_FIELD: &str = "controllerLeaderId";
