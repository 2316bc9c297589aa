//! Request codes the controllers use among themselves for Raft, and the fields of a "not leader"
//! answer (defined with the broker-facing protocol, in `ferromq-controller-proto`).
//!
//! `RocketMQ` runs its controllers on `JRaft` with a transport of its own; ours carry openraft's
//! messages as remoting requests on the same port as the broker-facing API, with codes in a range
//! `RocketMQ` does not use (its controller codes stop at 1015). Bodies are openraft's request types
//! as JSON; the response body is JSON of `Result<response, RaftError>`.

use ferromq_remoting::RequestCode;

pub use ferromq_controller_proto::codes::{LEADER_ADDRESS_FIELD, LEADER_ID_FIELD};

/// openraft `AppendEntriesRequest` (also the Raft heartbeat).
pub const RAFT_APPEND_ENTRIES: RequestCode = RequestCode(1101);
/// openraft `VoteRequest`.
pub const RAFT_VOTE: RequestCode = RequestCode(1102);
/// openraft `InstallSnapshotRequest` (one chunk of a snapshot).
pub const RAFT_INSTALL_SNAPSHOT: RequestCode = RequestCode(1103);
