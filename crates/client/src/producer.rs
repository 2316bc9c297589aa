//! [`Producer`]: sends messages to the brokers of a topic's route.
//!
//! A send picks a write queue round-robin, sends SEND_MESSAGE_V2 (or SEND_BATCH_MESSAGE) to that
//! broker's master and, on a transport failure or one of Java's retry codes, tries again on a queue
//! of another broker (up to `retries_on_failure` more times, all within `send_timeout`), refreshing
//! the topic's route first. Sends to an explicit queue and ordered sends do not fail over: their
//! queue is the point. Oneway sends are tried once, as in Java.
//!
//! Background tasks: route refresh (30 s) and heartbeat to the masters (30 s, producer groups only),
//! both owned by the producer and stopped by [`Producer::shutdown`].

mod request;
mod transaction;

pub use request::{SendResult, SendStatus};
pub use transaction::{LocalTransactionState, TransactionProducer, TransactionSendResult};

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_model::hash::java_string_hash;
use ferromq_net::{ClientConfig, ClientTls, NetError};
use ferromq_remoting::body::heartbeat::HeartbeatData;
use ferromq_remoting::headers::heartbeat::UnregisterClientRequestHeader;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::error::ClientError;
use crate::heartbeat;
use crate::ids::{new_client_id, random_u64};
use crate::message::{Message, MessageQueue};
use crate::remote::Remote;
use crate::routes::{Routes, TopicRoute};
use request::Payload;

/// Producer settings; the defaults are the Java producer's.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `host:port` of the name servers.
    pub namesrv_addrs: Vec<String>,
    /// Producer group (matters for transaction check-backs and admin listings).
    pub group: String,
    /// Budget of one send, retries included (Java `sendMsgTimeout`, 3 s).
    pub send_timeout: Duration,
    /// Extra attempts after a failed synchronous send (Java `retryTimesWhenSendFailed`, 2).
    pub retries_on_failure: u32,
    /// Largest body (or batch) accepted (Java `maxMessageSize`, 4 MiB).
    pub max_message_size: usize,
    /// Queue count asked for when a send creates a topic (Java `defaultTopicQueueNums`, 4).
    pub default_topic_queue_nums: i32,
    /// Java `pollNameServerInterval`, 30 s.
    pub route_refresh_interval: Duration,
    /// Java `heartbeatBrokerInterval`, 30 s.
    pub heartbeat_interval: Duration,
    /// Instance part of the client id (default: `<pid>#<nanos>`).
    pub instance_name: Option<String>,
    /// TLS towards name servers and brokers (RocketMQ's `tls.enable`); `None`: plaintext.
    pub tls: Option<ClientTls>,
    /// Access key and secret key to sign every request with (brokers with ACL on); `None`
    /// sends unsigned requests.
    pub credentials: Option<ferromq_auth::Credentials>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            namesrv_addrs: vec!["127.0.0.1:9876".to_owned()],
            group: "DEFAULT_PRODUCER".to_owned(),
            send_timeout: Duration::from_secs(3),
            retries_on_failure: 2,
            max_message_size: 4 * 1024 * 1024,
            default_topic_queue_nums: 4,
            route_refresh_interval: Duration::from_secs(30),
            heartbeat_interval: heartbeat::DEFAULT_HEARTBEAT_INTERVAL,
            instance_name: None,
            tls: None,
            credentials: None,
        }
    }
}

impl ProducerConfig {
    /// # Errors
    /// `InvalidArgument` naming the unusable setting.
    pub fn validate(&self) -> Result<(), ClientError> {
        if self.namesrv_addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        if self.group.is_empty() {
            return Err(ClientError::InvalidArgument("empty producer group".into()));
        }
        if self.send_timeout.is_zero() || self.max_message_size == 0 {
            return Err(ClientError::InvalidArgument(
                "send_timeout and max_message_size must be positive".into(),
            ));
        }
        if self.route_refresh_interval.is_zero() || self.heartbeat_interval.is_zero() {
            return Err(ClientError::InvalidArgument(
                "intervals must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// What the producer's tasks and sends share.
#[derive(Debug)]
struct Shared {
    config: ProducerConfig,
    client_id: String,
    routes: Routes,
    remote: Remote,
    /// Round-robin position over a route's write queues; starts at random, as Java's.
    next_queue: AtomicUsize,
}

/// A running producer. Methods take `&self`; share it with `Arc` if needed.
#[derive(Debug)]
pub struct Producer {
    shared: Arc<Shared>,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Producer {
    /// Starts the background tasks; no request is sent until the first send (as in Java).
    ///
    /// # Errors
    /// An invalid configuration.
    pub async fn start(config: ProducerConfig) -> Result<Self, ClientError> {
        Self::start_with(config, ClientConfig::default()).await
    }

    /// [`start`](Self::start) with connection settings, e.g. a handler for broker requests.
    pub(crate) async fn start_with(
        config: ProducerConfig,
        client: ClientConfig,
    ) -> Result<Self, ClientError> {
        config.validate()?;
        let remote = Remote::new(ClientConfig {
            tls: config.tls.clone(),
            ..client
        })
        .signing(config.credentials.clone());
        let routes = Routes::new(
            config.namesrv_addrs.clone(),
            remote.clone(),
            config.send_timeout,
        );
        if let Some(ns) = config.namesrv_addrs.first() {
            crate::ids::learn_local_ip(ns);
        }
        let shared = Arc::new(Shared {
            client_id: new_client_id(config.instance_name.as_deref()),
            next_queue: AtomicUsize::new(usize::try_from(random_u64() % 4096).unwrap_or(0)),
            routes,
            remote,
            config,
        });
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        tracker.spawn(
            shared
                .routes
                .clone()
                .refresh_loop(shared.config.route_refresh_interval, token.clone()),
        );
        tracker.spawn(heartbeat_loop(shared.clone(), token.clone()));
        Ok(Self {
            shared,
            token,
            tracker,
        })
    }

    /// The client id this producer registers with.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The producer's route cache.
    #[must_use]
    pub fn routes(&self) -> &Routes {
        &self.shared.routes
    }

    /// Sends and waits for the broker to store the message, failing over to another broker.
    ///
    /// # Errors
    /// An invalid message; the last attempt's failure.
    pub async fn send(&self, msg: Message) -> Result<SendResult, ClientError> {
        send_with_failover(self.shared.clone(), Payload::Single(msg)).await
    }

    /// [`send`](Self::send) as a `'static` future: spawn it, or join many.
    pub fn send_async(
        &self,
        msg: Message,
    ) -> impl Future<Output = Result<SendResult, ClientError>> + Send + 'static {
        send_with_failover(self.shared.clone(), Payload::Single(msg))
    }

    /// Sends without waiting for the broker (no response, no retry).
    ///
    /// # Errors
    /// An invalid message, no route, or a failure to hand the request to the connection.
    pub async fn send_oneway(&self, msg: Message) -> Result<(), ClientError> {
        let mut payload = Payload::Single(msg);
        payload.prepare(self.shared.config.max_message_size)?;
        let route = self.publish_route(payload.topic()).await?;
        let mq = self
            .shared
            .select_queue(&route, None)
            .ok_or_else(|| no_queue(&route))?;
        let addr = self
            .shared
            .routes
            .find_master(&mq.broker_name, &mq.topic)
            .await?;
        let cmd = payload.request(
            &self.shared.config.group,
            &mq,
            self.shared.config.default_topic_queue_nums,
        )?;
        self.shared.remote.oneway(&addr, cmd).await
    }

    /// Sends messages of one topic as one SEND_BATCH_MESSAGE: stored together on one queue, with
    /// consecutive offsets.
    ///
    /// # Errors
    /// Mixed topics, delay levels, a retry topic, an oversized batch; the last attempt's failure.
    pub async fn send_batch(&self, messages: Vec<Message>) -> Result<SendResult, ClientError> {
        let topic = messages
            .first()
            .map(|m| m.topic.clone())
            .ok_or_else(|| ClientError::InvalidMessage("empty batch".into()))?;
        send_with_failover(self.shared.clone(), Payload::Batch { topic, messages }).await
    }

    /// Sends to one queue, without failover.
    ///
    /// # Errors
    /// An invalid message, an unknown broker, the broker's refusal.
    pub async fn send_to_queue(
        &self,
        msg: Message,
        mq: &MessageQueue,
    ) -> Result<SendResult, ClientError> {
        if msg.topic != mq.topic {
            return Err(ClientError::InvalidMessage(format!(
                "message topic {} differs from the queue's {}",
                msg.topic, mq.topic
            )));
        }
        let mut payload = Payload::Single(msg);
        payload.prepare(self.shared.config.max_message_size)?;
        self.shared
            .send_once(&payload, mq, self.shared.config.send_timeout)
            .await
    }

    /// Sends to the queue `hash(key) % n` of the topic's write queues, so that messages with the
    /// same key keep their order (Java's `SelectMessageQueueByHash` with a `String` argument).
    ///
    /// # Errors
    /// As [`send_to_queue`](Self::send_to_queue); no writable queue.
    pub async fn send_ordered(&self, msg: Message, key: &str) -> Result<SendResult, ClientError> {
        let route = self.publish_route(&msg.topic).await?;
        let mq = select_by_hash(&route.write_queues, key).ok_or_else(|| no_queue(&route))?;
        self.send_to_queue(msg, &mq).await
    }

    /// Sends to the write queue `select` picks from the topic's write queues (Java's
    /// `send(msg, MessageQueueSelector, arg)`), without failover: messages that must stay in order
    /// go to the same queue.
    ///
    /// # Errors
    /// As [`send_to_queue`](Self::send_to_queue); no writable queue, or `select` returned `None`.
    pub async fn send_with_selector<F>(
        &self,
        msg: Message,
        select: F,
    ) -> Result<SendResult, ClientError>
    where
        F: FnOnce(&[MessageQueue], &Message) -> Option<MessageQueue>,
    {
        let route = self.publish_route(&msg.topic).await?;
        let mq = select(&route.write_queues, &msg).ok_or_else(|| no_queue(&route))?;
        self.send_to_queue(msg, &mq).await
    }

    async fn publish_route(&self, topic: &str) -> Result<Arc<TopicRoute>, ClientError> {
        self.shared
            .routes
            .publish_route(topic, self.shared.config.default_topic_queue_nums)
            .await
    }

    /// Stops the background tasks, unregisters from every broker and closes the connections.
    pub async fn shutdown(self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        let s = &self.shared;
        let header = UnregisterClientRequestHeader {
            client_id: s.client_id.clone(),
            producer_group: Some(s.config.group.clone()),
            consumer_group: None,
        };
        heartbeat::unregister(&s.remote, &s.routes, &header, s.config.send_timeout).await;
        s.remote.shutdown().await;
    }
}

impl Shared {
    /// The next write queue round-robin, skipping broker `avoid` when another broker has queues.
    fn select_queue(&self, route: &TopicRoute, avoid: Option<&str>) -> Option<MessageQueue> {
        let queues = &route.write_queues;
        if queues.is_empty() {
            return None;
        }
        for _ in 0..queues.len() {
            let q = &queues[self.next_queue.fetch_add(1, Ordering::Relaxed) % queues.len()];
            if Some(q.broker_name.as_str()) != avoid {
                return Some(q.clone());
            }
        }
        Some(queues[self.next_queue.fetch_add(1, Ordering::Relaxed) % queues.len()].clone())
    }

    async fn send_once(
        &self,
        payload: &Payload,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<SendResult, ClientError> {
        let addr = self.routes.find_master(&mq.broker_name, &mq.topic).await?;
        let cmd = payload.request(&self.config.group, mq, self.config.default_topic_queue_nums)?;
        let resp = self.remote.call(&addr, cmd, timeout).await?;
        payload.result(&addr, mq, &resp)
    }
}

async fn send_with_failover(
    shared: Arc<Shared>,
    mut payload: Payload,
) -> Result<SendResult, ClientError> {
    payload.prepare(shared.config.max_message_size)?;
    let deadline = Instant::now() + shared.config.send_timeout;
    let attempts = 1 + shared.config.retries_on_failure;
    let topic = payload.topic().to_owned();
    let mut avoid: Option<String> = None;
    let mut last_error = None;
    for attempt in 1..=attempts {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let route = shared
            .routes
            .publish_route(&topic, shared.config.default_topic_queue_nums)
            .await?;
        let mq = shared
            .select_queue(&route, avoid.as_deref())
            .ok_or_else(|| no_queue(&route))?;
        match shared.send_once(&payload, &mq, remaining).await {
            Ok(result) => return Ok(result),
            Err(e) if e.is_retryable_send() && attempt < attempts => {
                warn!(%topic, queue = %mq, attempt, error = %e, "send failed, retrying on another broker");
                avoid = Some(mq.broker_name.clone());
                if !route.from_default_topic {
                    if let Err(re) = shared.routes.refresh(&topic).await {
                        debug!(%topic, error = %re, "route refresh after a failed send failed");
                    }
                }
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| ClientError::Net {
        addr: String::new(),
        source: NetError::Timeout {
            millis: u64::try_from(shared.config.send_timeout.as_millis()).unwrap_or(u64::MAX),
        },
    }))
}

fn no_queue(route: &TopicRoute) -> ClientError {
    ClientError::NoWritableQueue {
        topic: route.topic.clone(),
    }
}

/// Java's `SelectMessageQueueByHash`: `abs(key.hashCode() % n)`; a selector for
/// [`Producer::send_with_selector`] (`|qs, _| select_by_hash(qs, key)`).
#[must_use]
pub fn select_by_hash(queues: &[MessageQueue], key: &str) -> Option<MessageQueue> {
    let n = i32::try_from(queues.len()).ok().filter(|n| *n > 0)?;
    let idx = (java_string_hash(key) % n).unsigned_abs();
    queues.get(usize::try_from(idx).ok()?).cloned()
}

async fn heartbeat_loop(shared: Arc<Shared>, token: CancellationToken) {
    // Java's first heartbeat is 1 s after start, then every interval.
    let mut wait = Duration::from_secs(1).min(shared.config.heartbeat_interval);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = shared.config.heartbeat_interval;
        let data = HeartbeatData {
            client_id: shared.client_id.clone(),
            producer_data_set: heartbeat::producer_data(&shared.config.group),
            ..HeartbeatData::default()
        };
        heartbeat::send_to_brokers(
            &shared.remote,
            &shared.routes,
            &data,
            true,
            shared.config.send_timeout,
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_selection_matches_java() {
        let qs: Vec<MessageQueue> = (0..4).map(|i| MessageQueue::new("T", "b", i)).collect();
        // Java: `hashCode() % n`, then `Math.abs` when negative.
        let h = java_string_hash("order-1");
        let expected = usize::try_from((h % 4).unsigned_abs()).expect("small");
        assert_eq!(select_by_hash(&qs, "order-1"), Some(qs[expected].clone()));
        let neg = (0..1000)
            .map(|i| format!("a-longer-order-key-{i}"))
            .find(|k| java_string_hash(k) % 4 < 0)
            .expect("some key hashes negative");
        let idx = usize::try_from((java_string_hash(&neg) % 4).unsigned_abs()).expect("small");
        assert_eq!(select_by_hash(&qs, &neg), Some(qs[idx].clone()));
        assert_eq!(select_by_hash(&[], "x"), None);
    }
}
