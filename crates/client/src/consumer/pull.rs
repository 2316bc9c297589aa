//! [`PullConsumer`]: the low-level consumer. The application names the queue and the offset;
//! nothing is rebalanced and nothing is committed unless asked.
//!
//! Pulls carry the SUBSCRIPTION flag with the expression (Java's `DefaultMQPullConsumer`), so the
//! broker needs no heartbeat from this client. Offsets are the broker's consumer offsets of any group.

use std::time::Duration;

use ferromq_net::{ClientConfig, ClientTls};
use ferromq_remoting::body::heartbeat::SubscriptionData;
use ferromq_remoting::body::route::MASTER_ID;
use ferromq_remoting::headers::offset::{
    BoundaryType, GetMaxOffsetRequestHeader, OffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, QueueRequestHeader, SearchOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use ferromq_remoting::headers::pull::{
    sys_flag, PullMessageRequestHeader, PullMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::consumer::subscription::{accepts, subscription_data, MessageSelector};
use crate::error::ClientError;
use crate::message::MessageQueue;
use crate::message_ext::MessageExt;
use crate::read_from::Member;
use crate::remote::{self, Remote};
use crate::routes::Routes;

/// Pull consumer settings.
#[derive(Debug, Clone)]
pub struct PullConsumerConfig {
    pub namesrv_addrs: Vec<String>,
    /// The group pulls are made for (the broker auto-creates it by default).
    pub group: String,
    /// Timeout of requests other than long-polling pulls.
    pub request_timeout: Duration,
    pub route_refresh_interval: Duration,
    /// TLS towards name servers and brokers (RocketMQ's `tls.enable`); `None`: plaintext.
    pub tls: Option<ClientTls>,
    /// Access key and secret key to sign every request with (brokers with ACL on); `None`
    /// sends unsigned requests.
    pub credentials: Option<ferromq_auth::Credentials>,
}

impl Default for PullConsumerConfig {
    fn default() -> Self {
        Self {
            namesrv_addrs: vec!["127.0.0.1:9876".to_owned()],
            group: "DEFAULT_CONSUMER".to_owned(),
            request_timeout: Duration::from_secs(3),
            route_refresh_interval: Duration::from_secs(30),
            tls: None,
            credentials: None,
        }
    }
}

/// How a pull ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStatus {
    /// Messages were read (the list may still be empty after the client-side tag check).
    Found,
    /// No message at or after the offset yet (PULL_NOT_FOUND).
    NoNewMsg,
    /// Messages were examined but none matched the filter (PULL_RETRY_IMMEDIATELY).
    NoMatchedMsg,
    /// The offset is outside the queue (PULL_OFFSET_MOVED); continue from `next_offset`.
    OffsetIllegal,
}

/// The result of one pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullResult {
    pub status: PullStatus,
    /// Where the next pull starts.
    pub next_offset: u64,
    /// The queue's smallest offset.
    pub min_offset: u64,
    /// The queue's next offset to be written.
    pub max_offset: u64,
    pub messages: Vec<MessageExt>,
}

/// One pull's parameters beyond queue and offset.
#[derive(Debug, Clone)]
pub(crate) struct PullSpec<'a> {
    pub group: &'a str,
    pub subscription: &'a SubscriptionData,
    pub max_messages: u32,
    /// `Some(hold)`: let the broker hold the request up to `hold` while nothing is available.
    pub suspend: Option<Duration>,
    /// Consumer offset to commit with the pull.
    pub commit_offset: Option<u64>,
    pub timeout: Duration,
}

/// Sends one PULL_MESSAGE and reads the answer (shared with the push consumer and admin).
///
/// The queue is read from the member of its broker group the last response suggested (the master
/// at first); when that member cannot be reached, once more from another member of the group.
pub(crate) async fn pull_once(
    routes: &Routes,
    remote: &Remote,
    mq: &MessageQueue,
    offset: u64,
    spec: &PullSpec<'_>,
) -> Result<PullResult, ClientError> {
    let wanted = routes.read_from().wanted(mq);
    let (member, resp) = routes
        .call_member(&mq.broker_name, &mq.topic, wanted, |member| {
            let cmd = pull_request(mq, offset, spec, &member);
            async move { remote.call(&member.addr, cmd, spec.timeout).await }
        })
        .await?;
    let addr = &member.addr;
    let status = match resp.response_code() {
        ResponseCode::SUCCESS => PullStatus::Found,
        ResponseCode::PULL_NOT_FOUND => PullStatus::NoNewMsg,
        ResponseCode::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
        ResponseCode::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
        _ => return Err(remote::refusal(addr, &resp)),
    };
    let h: PullMessageResponseHeader = remote::header(addr, &resp)?;
    routes.read_from().suggest(mq, h.suggest_which_broker_id);
    let messages = match (status, &resp.body) {
        (PullStatus::Found, Some(body)) => MessageExt::decode_all(body, &mq.broker_name)
            .map_err(|e| ClientError::decode(addr, e))?
            .into_iter()
            .filter(|m| accepts(spec.subscription, m))
            .collect(),
        _ => Vec::new(),
    };
    Ok(PullResult {
        status,
        next_offset: clamp(h.next_begin_offset),
        min_offset: clamp(h.min_offset),
        max_offset: clamp(h.max_offset),
        messages,
    })
}

/// The PULL_MESSAGE for `member`: offsets are committed with pulls to the master only (a
/// replica's offsets are the master's copy, RocketMQ's client clears the flag too).
fn pull_request(
    mq: &MessageQueue,
    offset: u64,
    spec: &PullSpec<'_>,
    member: &Member,
) -> RemotingCommand {
    let mut flags = sys_flag::SUBSCRIPTION;
    if spec.suspend.is_some() {
        flags |= sys_flag::SUSPEND;
    }
    let commit = spec.commit_offset.filter(|_| !member.is_replica());
    if commit.is_some() {
        flags |= sys_flag::COMMIT_OFFSET;
    }
    let header = PullMessageRequestHeader {
        consumer_group: spec.group.to_owned(),
        topic: mq.topic.clone(),
        queue_id: wire_queue_id(mq),
        queue_offset: wire_offset(offset),
        max_msg_nums: i32::try_from(spec.max_messages).unwrap_or(i32::MAX),
        sys_flag: flags,
        commit_offset: wire_offset(commit.unwrap_or(0)),
        suspend_timeout_millis: spec
            .suspend
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        subscription: Some(spec.subscription.sub_string.clone()),
        sub_version: spec.subscription.sub_version,
        expression_type: Some(spec.subscription.expression_type.clone()),
        max_msg_bytes: None,
        ..PullMessageRequestHeader::default()
    };
    RemotingCommand::request(RequestCode::PULL_MESSAGE)
        .with_header(&header)
        .with_ext("bname", mq.broker_name.clone())
}

fn clamp(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn wire_offset(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn wire_queue_id(mq: &MessageQueue) -> i32 {
    i32::try_from(mq.queue_id).unwrap_or(i32::MAX)
}

/// Offset queries and commits against a queue's master, or another member of its group when the
/// master is not in the route or cannot be reached (shared with the push consumer and admin).
#[derive(Debug, Clone)]
pub(crate) struct Offsets {
    pub routes: Routes,
    pub remote: Remote,
    pub timeout: Duration,
}

impl Offsets {
    async fn offset_call(
        &self,
        mq: &MessageQueue,
        cmd: RemotingCommand,
    ) -> Result<u64, ClientError> {
        let (addr, resp) = self.call_ok(mq, cmd).await?;
        let h: OffsetResponseHeader = remote::header(&addr, &resp)?;
        Ok(clamp(h.offset))
    }

    /// Sends `cmd` to `mq`'s master, or to another member of the group when the master is not
    /// listed or cannot be reached; returns the address that answered and its answer.
    async fn call_ok(
        &self,
        mq: &MessageQueue,
        cmd: RemotingCommand,
    ) -> Result<(String, RemotingCommand), ClientError> {
        let (member, resp) = self
            .routes
            .call_member(&mq.broker_name, &mq.topic, MASTER_ID, |member| {
                let cmd = cmd.clone();
                async move { self.remote.call_ok(&member.addr, cmd, self.timeout).await }
            })
            .await?;
        Ok((member.addr, resp))
    }

    /// The committed offset, `None` when the broker has none (QUERY_NOT_FOUND).
    pub(crate) async fn committed(
        &self,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<u64>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: group.to_owned(),
                topic: mq.topic.clone(),
                queue_id: wire_queue_id(mq),
                set_zero_if_not_found: Some(false),
            },
        );
        match self.offset_call(mq, cmd).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.code() == Some(ResponseCode::QUERY_NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn commit_request(group: &str, mq: &MessageQueue, offset: u64) -> RemotingCommand {
        RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET).with_header(
            &UpdateConsumerOffsetRequestHeader {
                consumer_group: group.to_owned(),
                topic: mq.topic.clone(),
                queue_id: wire_queue_id(mq),
                commit_offset: wire_offset(offset),
            },
        )
    }

    pub(crate) async fn commit(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: u64,
    ) -> Result<(), ClientError> {
        self.call_ok(mq, Self::commit_request(group, mq, offset))
            .await
            .map(drop)
    }

    /// Commits without waiting for the answer (the push consumer's periodic commits, oneway as in
    /// RocketMQ): to the master, or to a replica while the master is not listed or unreachable.
    pub(crate) async fn commit_oneway(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: u64,
    ) -> Result<(), ClientError> {
        let cmd = Self::commit_request(group, mq, offset);
        self.routes
            .call_member(&mq.broker_name, &mq.topic, MASTER_ID, |member| {
                let cmd = cmd.clone();
                async move { self.remote.oneway(&member.addr, cmd).await }
            })
            .await
            .map(drop)
    }

    pub(crate) async fn max(&self, mq: &MessageQueue) -> Result<u64, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_MAX_OFFSET).with_header(
            &GetMaxOffsetRequestHeader {
                topic: mq.topic.clone(),
                queue_id: wire_queue_id(mq),
                committed: true,
            },
        );
        self.offset_call(mq, cmd).await
    }

    pub(crate) async fn min(&self, mq: &MessageQueue) -> Result<u64, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_MIN_OFFSET).with_header(
            &QueueRequestHeader {
                topic: mq.topic.clone(),
                queue_id: wire_queue_id(mq),
            },
        );
        self.offset_call(mq, cmd).await
    }

    pub(crate) async fn by_time(
        &self,
        mq: &MessageQueue,
        timestamp_ms: i64,
        boundary: BoundaryType,
    ) -> Result<u64, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::SEARCH_OFFSET_BY_TIMESTAMP).with_header(
            &SearchOffsetRequestHeader {
                topic: mq.topic.clone(),
                queue_id: wire_queue_id(mq),
                timestamp: timestamp_ms,
                boundary_type: Some(boundary),
            },
        );
        self.offset_call(mq, cmd).await
    }
}

/// A running pull consumer.
#[derive(Debug)]
pub struct PullConsumer {
    config: PullConsumerConfig,
    offsets: Offsets,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl PullConsumer {
    /// Starts the route refresh task; nothing is sent until the first call.
    ///
    /// # Errors
    /// No name server configured, an empty group.
    pub async fn start(config: PullConsumerConfig) -> Result<Self, ClientError> {
        if config.namesrv_addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        if config.group.is_empty() {
            return Err(ClientError::InvalidArgument("empty consumer group".into()));
        }
        let remote = Remote::new(ClientConfig {
            tls: config.tls.clone(),
            ..ClientConfig::default()
        })
        .signing(config.credentials.clone());
        let routes = Routes::new(
            config.namesrv_addrs.clone(),
            remote.clone(),
            config.request_timeout,
        );
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(
            routes
                .clone()
                .refresh_loop(config.route_refresh_interval, token.clone()),
        );
        Ok(Self {
            offsets: Offsets {
                routes,
                remote,
                timeout: config.request_timeout,
            },
            config,
            token,
            tracker,
        })
    }

    #[must_use]
    pub fn routes(&self) -> &Routes {
        &self.offsets.routes
    }

    /// The readable queues of `topic`, from a fresh route.
    ///
    /// # Errors
    /// The name servers' failure or refusal (TOPIC_NOT_EXIST).
    pub async fn fetch_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ClientError> {
        Ok(self
            .offsets
            .routes
            .refresh(topic)
            .await?
            .read_queues
            .clone())
    }

    /// Reads up to `max` messages from `offset` matching a selector (a tag expression such as `*`,
    /// or [`MessageSelector::sql`] evaluated by the broker); answers at once when nothing is there.
    ///
    /// # Errors
    /// Transport failures; broker refusals other than the pull statuses.
    pub async fn pull(
        &self,
        mq: &MessageQueue,
        offset: u64,
        max: u32,
        selector: impl Into<MessageSelector>,
    ) -> Result<PullResult, ClientError> {
        self.pull_inner(mq, offset, max, selector.into(), None)
            .await
    }

    /// As [`pull`](Self::pull), but the broker holds the request up to `hold` (long polling)
    /// until a message arrives.
    ///
    /// # Errors
    /// As [`pull`](Self::pull).
    pub async fn pull_blocking(
        &self,
        mq: &MessageQueue,
        offset: u64,
        max: u32,
        selector: impl Into<MessageSelector>,
        hold: Duration,
    ) -> Result<PullResult, ClientError> {
        self.pull_inner(mq, offset, max, selector.into(), Some(hold))
            .await
    }

    async fn pull_inner(
        &self,
        mq: &MessageQueue,
        offset: u64,
        max: u32,
        selector: MessageSelector,
        hold: Option<Duration>,
    ) -> Result<PullResult, ClientError> {
        let sub = subscription_data(&mq.topic, selector, 0);
        let spec = PullSpec {
            group: &self.config.group,
            subscription: &sub,
            max_messages: max.max(1),
            suspend: hold,
            commit_offset: None,
            timeout: hold.map_or(self.config.request_timeout, |h| {
                h + self.config.request_timeout
            }),
        };
        pull_once(
            &self.offsets.routes,
            &self.offsets.remote,
            mq,
            offset,
            &spec,
        )
        .await
    }

    /// The offset `group` committed for `mq`, `None` when it has none.
    ///
    /// # Errors
    /// Transport failures, broker refusals.
    pub async fn committed_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<u64>, ClientError> {
        self.offsets.committed(group, mq).await
    }

    /// Commits `offset` (the next offset to consume) for `group` on `mq` and waits for the broker.
    ///
    /// # Errors
    /// Transport failures, broker refusals.
    pub async fn commit_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: u64,
    ) -> Result<(), ClientError> {
        self.offsets.commit(group, mq, offset).await
    }

    /// The queue's next offset to be written.
    ///
    /// # Errors
    /// Transport failures, broker refusals.
    pub async fn max_offset(&self, mq: &MessageQueue) -> Result<u64, ClientError> {
        self.offsets.max(mq).await
    }

    /// The queue's smallest offset still stored.
    ///
    /// # Errors
    /// Transport failures, broker refusals.
    pub async fn min_offset(&self, mq: &MessageQueue) -> Result<u64, ClientError> {
        self.offsets.min(mq).await
    }

    /// The first offset stored at or after `timestamp_ms` (the max offset if none).
    ///
    /// # Errors
    /// Transport failures, broker refusals.
    pub async fn offset_by_time(
        &self,
        mq: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<u64, ClientError> {
        self.offsets
            .by_time(mq, timestamp_ms, BoundaryType::Lower)
            .await
    }

    /// Stops the route refresh and closes the connections.
    pub async fn shutdown(self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.offsets.remote.shutdown().await;
    }
}
