//! [`PushConsumerConfig`]: the push consumer's settings, with the Java consumer's defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::allocate::Allocation;
use super::push::MessageModel;
use super::subscription::MessageSelector;
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

/// How the messages of one queue reach the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsumeMode {
    /// Java's `MessageListenerConcurrently`: a failed batch goes to the retry topic.
    #[default]
    Concurrently,
    /// Java's `MessageListenerOrderly`: a queue is consumed only under its broker lock, strictly
    /// in order; a failed batch is retried in place (see `docs/ordering.md`).
    Orderly,
}

/// Push consumer settings; the defaults are the Java consumer's.
#[derive(Debug, Clone)]
pub struct PushConsumerConfig {
    pub namesrv_addrs: Vec<String>,
    pub group: String,
    /// (topic, selector) pairs: tag expressions or SQL92 conditions.
    pub subscriptions: Vec<(String, MessageSelector)>,
    pub message_model: MessageModel,
    pub consume_mode: ConsumeMode,
    /// How the group's members split the queues; all members must use the same.
    pub allocation: Allocation,
    /// Orderly: how often held queue locks are renewed (Java's `lockAll`, 20 s).
    pub lock_renew_interval: Duration,
    /// Orderly: how long a granted lock is trusted without renewal (Java client, 30 s); keep it
    /// below the broker's lock lifetime (60 s).
    pub lock_max_live: Duration,
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
    /// Pause before redelivering a failed batch locally (orderly: Java's
    /// `suspendCurrentQueueTimeMillis`, 1 s).
    pub reconsume_delay: Duration,
    /// Deliveries through the retry topic before a failed message goes to `%DLQ%<group>` (Java
    /// `maxReconsumeTimes`, 16 for concurrent consumers); sent with every send-back.
    pub max_reconsume_times: i32,
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
    /// TLS towards name servers and brokers (RocketMQ's `tls.enable`); `None`: plaintext.
    pub tls: Option<ferromq_net::ClientTls>,
    /// Access key and secret key to sign every request with (brokers with ACL on).
    pub credentials: Option<ferromq_auth::Credentials>,
}

impl PushConsumerConfig {
    #[must_use]
    pub fn new(namesrv_addrs: Vec<String>, group: impl Into<String>) -> Self {
        Self {
            namesrv_addrs,
            group: group.into(),
            subscriptions: Vec::new(),
            message_model: MessageModel::Clustering,
            consume_mode: ConsumeMode::Concurrently,
            allocation: Allocation::Averagely,
            lock_renew_interval: Duration::from_secs(20),
            lock_max_live: Duration::from_secs(30),
            consume_from: ConsumeFrom::LastOffset,
            pull_batch_size: 32,
            consume_batch_max: 1,
            suspend_timeout: Duration::from_secs(15),
            pull_timeout: Duration::from_secs(30),
            pull_delay_on_error: Duration::from_secs(3),
            reconsume_delay: Duration::from_secs(1),
            max_reconsume_times: 16,
            rebalance_interval: Duration::from_secs(20),
            heartbeat_interval: heartbeat::DEFAULT_HEARTBEAT_INTERVAL,
            persist_interval: Duration::from_secs(5),
            route_refresh_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(3),
            offset_store_dir: None,
            instance_name: None,
            tls: None,
            credentials: None,
        }
    }

    /// Adds a subscription to `topic`: a tag expression (`*` for all) or
    /// [`MessageSelector::sql`].
    #[must_use]
    pub fn subscribe(
        mut self,
        topic: impl Into<String>,
        selector: impl Into<MessageSelector>,
    ) -> Self {
        self.subscriptions.push((topic.into(), selector.into()));
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        if self.namesrv_addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        for (topic, selector) in &self.subscriptions {
            selector.check().map_err(|e| {
                ClientError::InvalidArgument(format!("subscription of {topic}: {e}"))
            })?;
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
        if self.consume_mode == ConsumeMode::Orderly
            && (self.lock_renew_interval.is_zero()
                || self.lock_max_live <= self.lock_renew_interval)
        {
            return Err(ClientError::InvalidArgument(
                "lock_max_live must exceed a positive lock_renew_interval".into(),
            ));
        }
        Ok(())
    }
}
