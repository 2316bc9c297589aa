//! Request codes the controllers use among themselves for Raft.
//!
//! `RocketMQ` runs its controllers on `JRaft` with a transport of its own; ours carry openraft's
//! messages as remoting requests on the same port as the broker-facing API, with codes in a range
//! `RocketMQ` does not use (its controller codes stop at 1015). Bodies are openraft's request types
//! as JSON; the response body is JSON of `Result<response, RaftError>`.

use ferromq_remoting::RequestCode;

/// openraft `AppendEntriesRequest` (also the Raft heartbeat).
pub const RAFT_APPEND_ENTRIES: RequestCode = RequestCode(1101);
/// openraft `VoteRequest`.
pub const RAFT_VOTE: RequestCode = RequestCode(1102);
/// openraft `InstallSnapshotRequest` (one chunk of a snapshot).
pub const RAFT_INSTALL_SNAPSHOT: RequestCode = RequestCode(1103);

/// Extension field of a `CONTROLLER_NOT_LEADER` response: where the leader listens, when known.
pub const LEADER_ADDRESS_FIELD: &str = "controllerLeaderAddress";
/// Extension field of a `CONTROLLER_NOT_LEADER` response: the leader's node id, when known.
pub const LEADER_ID_FIELD: &str = "controllerLeaderId";
