//! What a client can ask the broker to do, as typed calls independent of any wire protocol: send
//! one message or a batch, hand a message back for a retry, end a transaction, pull, read or commit
//! offsets, pop and ack (POP consumption), queue assignment and request modes, recall a timer
//! message, look messages up, and manage topics. Each call takes a plain request struct and returns a typed answer or one
//! [`BrokerError`]; a protocol adapter (the remoting handlers in `crate::handlers`) only decodes a
//! request into these types, calls, and encodes the answer, so a reader finds what "send" means in
//! `service/send.rs` and nowhere else.
//!
//! The service sits above `crate::state`: it combines the store, the topic table, the offsets and
//! the rest, which themselves never see each other.

mod admin;
mod assignment;
mod checks;
mod cluster_route;
mod console_auth;
mod console_cluster;
mod console_dlq;
mod console_groups;
mod console_messages;
mod console_peers;
mod console_stuck;
mod console_topics;
mod durability;
mod metrics;
mod offsets;
mod pop;
mod pop_ack;
mod pull;
mod pull_source;
mod query;
mod recall;
mod retry;
mod route;
mod send;
mod send_back;
mod stats;
mod transaction;

use std::sync::Arc;

pub use crate::client_directory::{ClientDirectory, DirectoryClient, DirectoryRole};
pub use crate::transaction::relay::{CheckRelay, TransactionCheck};
pub use assignment::AssignmentQuery;
pub use cluster_route::{BrokerQueues, ClusterRoute};
pub use console_auth::{ConsoleAction, ConsoleCredentials, ConsoleDenied};
pub use console_cluster::{role_name, BrokerOverview, ReplicaOverview};
pub use console_dlq::{DeadLetter, DeadLetters, Resent};
pub use console_groups::{
    ConsoleClient, GroupDetail, GroupOverview, GroupQueue, GroupSubscription, ResetTarget,
};
pub use console_messages::{
    BodyPreview, ConsoleMessage, TraceStep, MAX_RANGE_MS, MAX_SEARCH_RESULTS, PREVIEW_HEX_BYTES,
    PREVIEW_TEXT_BYTES,
};
pub use console_peers::{PeerBroker, PeersUnavailable};
pub use console_stuck::StuckQueue;
pub use console_topics::{is_internal_topic, QueueRange, TopicOverview, MAX_CONSOLE_QUEUES};
pub use metrics::{
    FlushStatsSnapshot, HistogramSnapshot, MetricsSnapshot, NodeInfo, NotReady, QueueLag,
    ReplicaLag, StorageInfo,
};
pub use offsets::Boundary;
pub use pop::{PopRequest, PoppedMessage, MAX_INVISIBLE, MAX_POLL, MAX_POP_MESSAGES, POP_CK};
pub use pull::{PullAnswer, PullRequest, Pulled, Subscription};
pub use query::{FoundMessages, KeyQuery};
pub use recall::Recall;
pub use route::{MessageKind, TopicRoute, MESSAGE_TYPE_ATTRIBUTE};
pub(crate) use send::put_message;
pub use send::{BatchEntry, SendMessages, SendReceipt, SendRequest};
pub use send_back::SendBack;
pub use transaction::{Decision, EndTransaction};

use crate::error::BrokerError;
use crate::state::State;

/// The broker's operations (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct BrokerService {
    state: Arc<State>,
}

impl BrokerService {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    /// Whether ACL checks run on this broker at all (authentication or authorization on): when
    /// not, an adapter need not gather what a check would read.
    #[must_use]
    pub fn acl_enabled(&self) -> bool {
        self.state.guard.any_check()
    }

    /// Runs this broker's ACL 2.0 checks (`authenticationEnabled`, `authorizationEnabled`) for a v5
    /// gRPC call, against the users and policies the remoting listener checks, with refusals logged
    /// the same rate-limited way. `Ok(None)` when both checks are off; `Ok(Some(user))` otherwise.
    ///
    /// # Errors
    /// The refusal ([`AuthError::is_authentication`] tells who-failures from what-failures).
    pub fn check_grpc(
        &self,
        peer: std::net::SocketAddr,
        call: &ferromq_auth::GrpcCall<'_>,
    ) -> Result<Option<String>, ferromq_auth::AuthError> {
        self.state.guard.check_grpc(peer, call)
    }

    /// Operations that store messages are refused by a replica (it only writes what its master
    /// sends) and, in controller mode, by a master whose lease the controllers did not renew.
    fn check_writable(&self) -> Result<(), BrokerError> {
        let s = &self.state;
        match s.role.check_writable() {
            Ok(()) => Ok(()),
            Err(crate::role::WriteRefusal::Replica) => Err(BrokerError::ReplicaRefusesWrites(
                s.config.broker_name.clone(),
            )),
            Err(crate::role::WriteRefusal::LeaseExpired) => {
                Err(BrokerError::LeaseExpired(s.config.broker_name.clone()))
            }
        }
    }
}
