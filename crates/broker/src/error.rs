//! `BrokerError`: why the broker refused or failed a request (or could not start). Each variant maps
//! to exactly one response code in [`crate::responses`].

use std::path::PathBuf;

use ferromq_remoting::DecodeError;
use ferromq_store::StoreError;

use crate::config::ConfigError;

/// Everything the broker can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A custom header field is missing or unparsable.
    #[error("bad request header: {0}")]
    BadHeader(#[from] DecodeError),
    /// A body is missing or not what the request code requires.
    #[error("bad request body: {0}")]
    BadBody(String),
    /// A topic or group name breaks the naming rules (RocketMQ `TopicValidator`).
    #[error("{reason}")]
    InvalidName { name: String, reason: &'static str },
    /// Clients may not send to this system topic.
    #[error("Sending message to topic[{0}] is forbidden.")]
    SendForbidden(String),
    /// Refused by broker policy (e.g. transactional messages).
    #[error("{0}")]
    Forbidden(String),
    #[error("topic[{0}] not exist, apply first please!")]
    TopicNotExist(String),
    /// The topic (or the broker) lacks the permission the request needs.
    #[error("the topic[{topic}] is not {action}able")]
    NoPermission { topic: String, action: &'static str },
    #[error("queueId[{queue_id}] is illegal, topic:[{topic}] queueNums:[{queues}]")]
    BadQueueId {
        topic: String,
        queue_id: i32,
        queues: i32,
    },
    #[error("{0}")]
    MessageIllegal(String),
    #[error("parse the consumer's subscription[{expression}] failed: {reason}")]
    SubscriptionParse { expression: String, reason: String },
    #[error("the consumer's subscription not exist, group: {group} topic: {topic}")]
    SubscriptionNotExist { group: String, topic: String },
    #[error("subscription group [{0}] does not exist")]
    SubscriptionGroupNotExist(String),
    /// Features this broker does not implement.
    #[error("{0}")]
    Unsupported(String),
    #[error("no consumer for this group, {0}")]
    NoConsumer(String),
    #[error("the consumer group[{0}] not online")]
    ConsumerNotOnline(String),
    /// Offset and key lookups that found nothing.
    #[error("{0}")]
    NotFound(String),
    /// Lookups that Java answers with `SYSTEM_ERROR` when nothing is found.
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A request argument outside what the broker accepts (e.g. a POP invisible time).
    #[error("{0}")]
    InvalidArgument(String),
    /// A POP receipt handle that is not one this broker writes.
    #[error("{0}")]
    BadReceiptHandle(#[from] crate::pop::MalformedHandle),
    /// A POP receipt handle that no longer names the message's current delivery.
    #[error("stale receipt handle: {0}")]
    StaleReceiptHandle(String),
    /// A timer message recall the broker cannot carry out.
    #[error("{0}")]
    Recall(#[from] RecallError),
    /// A write request reached a replica (brokerRole SLAVE).
    #[error("the broker[{0}] is a slave: sending is forbidden, send to its master")]
    ReplicaRefusesWrites(String),
    /// Controller mode: a master no controller confirmed within its lease (it may have been replaced).
    #[error(
        "the broker[{0}] is not confirmed as master by the controllers: sending is refused for now"
    )]
    LeaseExpired(String),
    /// SYNC_MASTER: the message is stored on the master but not (yet) on enough replicas.
    #[error("{0}")]
    Replication(#[from] ReplicaWaitError),
    /// Persisting broker metadata (topics, offsets) failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A persisted metadata file does not parse.
    #[error("corrupt file {path}: {detail}")]
    CorruptFile { path: PathBuf, detail: String },
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
}

impl BrokerError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BrokerError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why a SYNC_MASTER wait failed (see `crate::ha::acks`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaWaitError {
    #[error("{in_sync} replica(s) in sync, {needed} needed")]
    NotEnoughReplicas { in_sync: usize, needed: usize },
    #[error("no replica acknowledged offset {offset} within {millis} ms")]
    Timeout { offset: u64, millis: u64 },
}

/// Why a recall of a timer message is refused (`schedule::recall`). Here rather than there so
/// the timer can use the broker's error without the two importing each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecallError {
    #[error("recall handle is invalid: {0}")]
    Malformed(&'static str),
    #[error("recall failed, the handle is for topic {handle} but the request names {request}")]
    TopicMismatch { handle: String, request: String },
    #[error("recall failed, the handle is for broker {0}, not this one")]
    OtherBroker(String),
    #[error("recall failed, the message was due at {0} ms and is already delivered")]
    AlreadyDue(i64),
    #[error("recall failed, delivery time {0} ms is beyond the maximum timer delay")]
    TooFar(i64),
    #[error("recall failed, no timer message {uniq_key} of topic {topic} waits on this broker")]
    NoSuchMessage { topic: String, uniq_key: String },
}
