//! [`PushConsumerConfig`]: the push consumer's settings, with the Java consumer's defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::push::MessageModel;
use crate::error::ClientError;
use crate::heartbeat;

/// Where a queue starts when the group has no offset for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeFrom {
    /// The queue's end (Java's default).
    LastOffset,
    FirstOffset,
    /// The first message stored at or after this time (ms).
    Timestamp(i64),
}

/// Push consumer settings; the defaults are the Java consumer's.
#[derive(Debug, Clone)]
pub struct PushConsumerConfig {
    pub namesrv_addrs: Vec<String>,
    pub group: String,
    /// (topic, tag expression) pairs.
    pub subscriptions: Vec<(String, String)>,
    pub message_model: MessageModel,
    pub consume_from: ConsumeFrom,
    /// Messages per pull (Java `pullBatchSize`, 32).
    pub pull_batch_size: u32,
    /// Messages per callback (Java `consumeMessageBatchMaxSize`, 1).
    pub consume_batch_max: usize,
    /// How long the broker may hold a pull (Java `brokerSuspendMaxTimeMillis`, 15 s).
    pub suspend_timeout: Duration,
    /// Client timeout of a held pull (Java `consumerTimeoutMillisWhenSuspend`, 30 s).
    pub pull_timeout: Duration,
    /// Pause after a failed pull (Java `pullTimeDelayMillsWhenException`, 3 s).
    pub pull_delay_on_error: Duration,
    /// Pause before redelivering a failed batch locally.
    pub reconsume_delay: Duration,
    pub rebalance_interval: Duration,
    pub heartbeat_interval: Duration,
    /// Java `persistConsumerOffsetInterval`, 5 s.
    pub persist_interval: Duration,
    pub route_refresh_interval: Duration,
    pub request_timeout: Duration,
    /// Broadcasting only: offsets go to `<dir>/<group>/offsets.json` (default
    /// `$HOME/.rocketmq_offsets/<client id>`).
    pub offset_store_dir: Option<PathBuf>,
    pub instance_name: Option<String>,
}

impl PushConsumerConfig {
    #[must_use]
    pub fn new(namesrv_addrs: Vec<String>, group: impl Into<String>) -> Self {
        Self {
            namesrv_addrs,
            group: group.into(),
            subscriptions: Vec::new(),
            message_model: MessageModel::Clustering,
            consume_from: ConsumeFrom::LastOffset,
            pull_batch_size: 32,
            consume_batch_max: 1,
            suspend_timeout: Duration::from_secs(15),
            pull_timeout: Duration::from_secs(30),
            pull_delay_on_error: Duration::from_secs(3),
            reconsume_delay: Duration::from_secs(1),
            rebalance_interval: Duration::from_secs(20),
            heartbeat_interval: heartbeat::DEFAULT_HEARTBEAT_INTERVAL,
            persist_interval: Duration::from_secs(5),
            route_refresh_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(3),
            offset_store_dir: None,
            instance_name: None,
        }
    }

    /// Adds a subscription to `topic` with a tag expression (`*` for all).
    #[must_use]
    pub fn subscribe(mut self, topic: impl Into<String>, expression: impl Into<String>) -> Self {
        self.subscriptions.push((topic.into(), expression.into()));
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        if self.namesrv_addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        if self.group.is_empty() || self.subscriptions.is_empty() {
            return Err(ClientError::InvalidArgument(
                "a push consumer needs a group and at least one subscription".into(),
            ));
        }
        if self.consume_batch_max == 0 || self.pull_batch_size == 0 {
            return Err(ClientError::InvalidArgument(
                "batch sizes must be positive".into(),
            ));
        }
        Ok(())
    }
}
