//! [`PushConsumer`]: a consumer group member that gets queues assigned by rebalancing, long-polls
//! each of them and hands the messages to a callback.
//!
//! Follows the Java `DefaultMQPushConsumer` sequence (§18.3): subscriptions (plus `%RETRY%<group>`
//! when clustering), routes, heartbeat to every broker, rebalance (every 20 s and on
//! NOTIFY_CONSUMER_IDS_CHANGED), one long-polling pull loop per assigned queue (15 s hold, 30 s
//! timeout), offsets committed with pulls and every 5 s. Pulls post the subscription with every
//! request (Java's `postSubscriptionWhenPull`), so they never race the heartbeat.
//!
//! Concurrency model: one task per queue consumes its messages in order, a batch at a time, on the
//! blocking pool; the queue's offset advances only after the callback succeeded. A failed batch
//! (`ReconsumeLater`) is sent back for retry (`send_back`: CONSUMER_SEND_MSG_BACK, else a direct
//! send to `%RETRY%<group>`); only when both fail is it redelivered locally after `reconsume_delay`.
//! With `ConsumeMode::Orderly` each queue is consumed only under its broker lock (`orderly`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferromq_net::ClientConfig;
use ferromq_remoting::body::heartbeat::ConsumerListByGroupResponseBody;
use ferromq_remoting::body::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, SubscriptionData,
};
use ferromq_remoting::body::route::MASTER_ID;
use ferromq_remoting::headers::heartbeat::{
    GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader,
};
use ferromq_remoting::headers::offset::BoundaryType;
use ferromq_remoting::{RemotingCommand, RequestCode};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub use ferromq_remoting::body::heartbeat::MessageModel;

use super::locks::{self, QueueLocks};
use super::notify::ConsumerHandler;
use super::offset_store::OffsetStore;
use super::pull::Offsets;
use super::queue_loop;
use super::subscription::subscription_data;
use crate::consumer::retry_topic;
use crate::error::ClientError;
use crate::heartbeat;
use crate::ids::{new_client_id, now_ms};
use crate::message::MessageQueue;
use crate::message_ext::MessageExt;
use crate::read_from::Member;
use crate::remote::{self, Remote};
use crate::routes::Routes;

/// What the callback says about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeStatus {
    ConsumeSuccess,
    /// Deliver the batch again later.
    ReconsumeLater,
}

pub use super::push_config::{ConsumeFrom, ConsumeMode, PushConsumerConfig};

/// The callback type.
pub(crate) type Listener = Arc<dyn Fn(Vec<MessageExt>) -> ConsumeStatus + Send + Sync>;

/// State shared by the consumer's tasks.
pub(crate) struct Core {
    pub(crate) config: PushConsumerConfig,
    pub(crate) client_id: String,
    pub(crate) routes: Routes,
    pub(crate) remote: Remote,
    pub(crate) offsets: Offsets,
    pub(crate) store: OffsetStore,
    pub(crate) listener: Listener,
    /// Topic → subscription (with its current version).
    subscriptions: Mutex<BTreeMap<String, SubscriptionData>>,
    /// Assigned queues and the token that stops each one's pull loop.
    assigned: Mutex<HashMap<MessageQueue, CancellationToken>>,
    /// Per queue, cancelled when its latest pull loop has returned (an offset reset waits for it).
    loops_done: Mutex<HashMap<MessageQueue, CancellationToken>>,
    /// Orderly mode: the local view of the broker queue locks.
    pub(crate) queue_locks: QueueLocks,
    rebalance_now: Notify,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("group", &self.config.group)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A running push consumer.
#[derive(Debug)]
pub struct PushConsumer {
    core: Arc<Core>,
}

impl PushConsumer {
    /// Registers with the brokers, takes its share of the queues and starts consuming; `listener`
    /// runs on tokio's blocking pool, one batch of one queue at a time per queue.
    ///
    /// # Errors
    /// An invalid configuration; an unreadable local offset file (broadcasting).
    pub async fn start<F>(config: PushConsumerConfig, listener: F) -> Result<Self, ClientError>
    where
        F: Fn(Vec<MessageExt>) -> ConsumeStatus + Send + Sync + 'static,
    {
        config.validate()?;
        let handler = ConsumerHandler::default();
        let remote = Remote::new(ClientConfig {
            handler: Arc::new(handler.clone()),
            tls: config.tls.clone(),
            ..ClientConfig::default()
        })
        .signing(config.credentials.clone());
        let routes = Routes::new(
            config.namesrv_addrs.clone(),
            remote.clone(),
            config.request_timeout,
        );
        if let Some(ns) = config.namesrv_addrs.first() {
            crate::ids::learn_local_ip(ns);
        }
        let client_id = new_client_id(config.instance_name.as_deref());
        let offsets = Offsets {
            routes: routes.clone(),
            remote: remote.clone(),
            timeout: config.request_timeout,
        };
        let store = match config.message_model {
            MessageModel::Clustering => OffsetStore::broker(&config.group, offsets.clone()),
            MessageModel::Broadcasting => {
                let dir = config.offset_store_dir.clone().unwrap_or_else(|| {
                    let home =
                        std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
                    home.join(".rocketmq_offsets").join(&client_id)
                });
                OffsetStore::file(&config.group, dir).await?
            }
        };
        let version = now_ms();
        let mut subs: BTreeMap<String, SubscriptionData> = config
            .subscriptions
            .iter()
            .map(|(t, e)| (t.clone(), subscription_data(t, e, version)))
            .collect();
        if config.message_model == MessageModel::Clustering {
            let retry = retry_topic(&config.group);
            subs.insert(retry.clone(), subscription_data(&retry, "*", version));
        }
        let core = Arc::new(Core {
            client_id,
            routes,
            remote,
            offsets,
            store,
            listener: Arc::new(listener),
            subscriptions: Mutex::new(subs),
            assigned: Mutex::new(HashMap::new()),
            loops_done: Mutex::new(HashMap::new()),
            queue_locks: QueueLocks::new(config.lock_max_live),
            rebalance_now: Notify::new(),
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
            config,
        });
        handler.bind(&core);
        for topic in core.topics() {
            if let Err(e) = core.routes.refresh(&topic).await {
                // The retry topic appears after the first heartbeat; user topics may come later.
                debug!(%topic, error = %e, "no route yet");
            }
        }
        core.heartbeat().await;
        core.rebalance().await;
        core.spawn_background();
        info!(group = %core.config.group, client_id = %core.client_id, "push consumer started");
        Ok(Self { core })
    }

    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.core.client_id
    }

    /// The queues this consumer currently pulls, sorted.
    #[must_use]
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut qs: Vec<MessageQueue> = self.core.assigned.lock().keys().cloned().collect();
        qs.sort();
        qs
    }

    /// Rebalances now (as a NOTIFY_CONSUMER_IDS_CHANGED would).
    pub async fn rebalance(&self) {
        self.core.rebalance().await;
    }

    /// Stops pulling (waiting for callbacks in progress), commits the offsets, unregisters from
    /// every broker and closes the connections.
    pub async fn shutdown(self) {
        let core = self.core;
        core.token.cancel();
        core.tracker.close();
        core.tracker.wait().await;
        let queues: Vec<MessageQueue> = core.assigned.lock().drain().map(|(q, _)| q).collect();
        if let Err(e) = core.store.persist(&queues).await {
            warn!(error = %e, "persisting offsets at shutdown failed");
        }
        if core.config.message_model == MessageModel::Clustering {
            let header = UnregisterClientRequestHeader {
                client_id: core.client_id.clone(),
                producer_group: None,
                consumer_group: Some(core.config.group.clone()),
            };
            heartbeat::unregister(
                &core.remote,
                &core.routes,
                &header,
                core.config.request_timeout,
            )
            .await;
        }
        core.remote.shutdown().await;
    }
}

impl Core {
    fn topics(&self) -> Vec<String> {
        self.subscriptions.lock().keys().cloned().collect()
    }

    pub(crate) fn subscription(&self, topic: &str) -> Option<SubscriptionData> {
        self.subscriptions.lock().get(topic).cloned()
    }

    pub(crate) fn request_rebalance(&self) {
        self.rebalance_now.notify_one();
    }

    fn spawn_background(self: &Arc<Self>) {
        let c = &self.config;
        self.tracker.spawn(
            self.routes
                .clone()
                .refresh_loop(c.route_refresh_interval, self.token.clone()),
        );
        let core = self.clone();
        self.tracker.spawn(async move {
            while core.tick(core.config.heartbeat_interval).await {
                core.heartbeat().await;
            }
        });
        let core = self.clone();
        self.tracker.spawn(async move {
            loop {
                tokio::select! {
                    () = core.token.cancelled() => return,
                    () = tokio::time::sleep(core.config.rebalance_interval) => {}
                    () = core.rebalance_now.notified() => {}
                }
                core.rebalance().await;
            }
        });
        if c.consume_mode == ConsumeMode::Orderly {
            let core = self.clone();
            self.tracker.spawn(async move {
                while core.tick(core.config.lock_renew_interval).await {
                    locks::renew_all(&core).await;
                }
            });
        }
        let core = self.clone();
        self.tracker.spawn(async move {
            while core.tick(core.config.persist_interval).await {
                let queues: Vec<MessageQueue> = core.assigned.lock().keys().cloned().collect();
                if let Err(e) = core.store.persist(&queues).await {
                    warn!(error = %e, "persisting offsets failed");
                }
            }
        });
    }

    /// Sleeps `d`; false when the consumer is shutting down.
    pub(crate) async fn tick(&self, d: Duration) -> bool {
        tokio::select! {
            () = self.token.cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    fn heartbeat_data(&self) -> HeartbeatData {
        let c = &self.config;
        HeartbeatData {
            client_id: self.client_id.clone(),
            consumer_data_set: vec![ConsumerData {
                consume_from_where: Some(match c.consume_from {
                    ConsumeFrom::LastOffset => ConsumeFromWhere::ConsumeFromLastOffset,
                    ConsumeFrom::FirstOffset => ConsumeFromWhere::ConsumeFromFirstOffset,
                    ConsumeFrom::Timestamp(_) => ConsumeFromWhere::ConsumeFromTimestamp,
                }),
                consume_type: Some(ConsumeType::ConsumePassively),
                group_name: c.group.clone(),
                message_model: Some(c.message_model),
                subscription_data_set: self.subscriptions.lock().values().cloned().collect(),
                unit_mode: false,
            }],
            producer_data_set: vec![ferromq_remoting::body::heartbeat::ProducerData {
                group_name: heartbeat::CLIENT_INNER_PRODUCER.to_owned(),
            }],
            ..HeartbeatData::default()
        }
    }

    async fn heartbeat(&self) {
        let data = self.heartbeat_data();
        heartbeat::send_to_brokers(
            &self.remote,
            &self.routes,
            &data,
            false,
            self.config.request_timeout,
        )
        .await;
    }

    /// One rebalance of every subscribed topic; heartbeats again when the assignment changed.
    pub(crate) async fn rebalance(self: &Arc<Self>) {
        let mut changed = false;
        for topic in self.topics() {
            if self.token.is_cancelled() {
                return;
            }
            if let Some(target) = self.target_queues(&topic).await {
                if self.apply_assignment(&topic, &target).await {
                    changed = true;
                    if let Some(sub) = self.subscriptions.lock().get_mut(&topic) {
                        sub.sub_version = now_ms();
                    }
                }
            }
        }
        if changed {
            self.heartbeat().await;
        }
    }

    /// This consumer's queues of `topic`, or `None` when they cannot be worked out now (keep the
    /// current ones).
    async fn target_queues(&self, topic: &str) -> Option<Vec<MessageQueue>> {
        let route = match self.routes.cached(topic) {
            Some(r) => r,
            None => self.routes.refresh(topic).await.ok()?,
        };
        match self.config.message_model {
            MessageModel::Broadcasting => Some(route.read_queues.clone()),
            MessageModel::Clustering => {
                // Any broker knows the group's members: a master if one is up, else a replica.
                let members: Vec<Member> = route
                    .data
                    .broker_datas
                    .iter()
                    .filter_map(|b| self.routes.member(&b.broker_name, MASTER_ID, false))
                    .collect();
                let addr = members
                    .iter()
                    .find(|m| !m.is_replica())
                    .or(members.first())?
                    .addr
                    .clone();
                let cids = self.consumer_ids(&addr).await?;
                Some(
                    self.config
                        .allocation
                        .allocate(&route.read_queues, &cids, &self.client_id),
                )
            }
        }
    }

    async fn consumer_ids(&self, addr: &str) -> Option<Vec<String>> {
        let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_LIST_BY_GROUP).with_header(
            &GetConsumerListByGroupRequestHeader {
                consumer_group: self.config.group.clone(),
            },
        );
        let result = async {
            let resp = self
                .remote
                .call_ok(addr, cmd, self.config.request_timeout)
                .await?;
            remote::json_body::<ConsumerListByGroupResponseBody>(addr, &resp)
        }
        .await;
        match result {
            Ok(b) if !b.consumer_id_list.is_empty() => Some(b.consumer_id_list),
            Ok(_) => None,
            Err(e) => {
                debug!(broker = %addr, error = %e, "consumer list unavailable");
                None
            }
        }
    }

    /// Stops the pull loops of queues no longer assigned and starts the new ones; true when the
    /// assignment of `topic` changed.
    async fn apply_assignment(self: &Arc<Self>, topic: &str, target: &[MessageQueue]) -> bool {
        let mut changed = false;
        {
            let mut assigned = self.assigned.lock();
            assigned.retain(|mq, token| {
                let keep = mq.topic != topic || target.contains(mq);
                if !keep {
                    token.cancel();
                    changed = true;
                }
                keep
            });
        }
        for mq in target {
            if self.assigned.lock().contains_key(mq) {
                continue;
            }
            // An orderly queue reads its start offset only once its broker lock is granted.
            let start = if self.config.consume_mode == ConsumeMode::Orderly {
                0
            } else {
                match self.start_offset(mq).await {
                    Ok(o) => o,
                    Err(e) => {
                        warn!(queue = %mq, error = %e, "cannot compute the start offset; retrying at the next rebalance");
                        continue;
                    }
                }
            };
            if self.config.consume_mode == ConsumeMode::Concurrently {
                self.store.update(mq, start, false);
            }
            let token = self.token.child_token();
            self.assigned.lock().insert(mq.clone(), token.clone());
            let done = CancellationToken::new();
            self.loops_done.lock().insert(mq.clone(), done.clone());
            let pull_loop = queue_loop::run(self.clone(), mq.clone(), start, token);
            self.tracker.spawn(async move {
                pull_loop.await;
                done.cancel();
            });
            changed = true;
        }
        changed
    }

    /// Java's `computePullFromWhere`: the stored offset, else the consume-from policy.
    pub(crate) async fn start_offset(&self, mq: &MessageQueue) -> Result<u64, ClientError> {
        if let Some(o) = self.store.read_stored(mq).await? {
            return Ok(o);
        }
        let is_retry = mq.topic.starts_with("%RETRY%");
        match self.config.consume_from {
            ConsumeFrom::FirstOffset => Ok(0),
            ConsumeFrom::LastOffset if is_retry => Ok(0),
            ConsumeFrom::LastOffset => self.offsets.max(mq).await,
            ConsumeFrom::Timestamp(_) if is_retry => self.offsets.max(mq).await,
            ConsumeFrom::Timestamp(ts) => self.offsets.by_time(mq, ts, BoundaryType::Lower).await,
        }
    }

    /// Applies an offset reset pushed by a broker: stop the queues' pull loops (dropping pulls in
    /// flight) and wait until they have returned, so none of them commits its old position over
    /// the new one; then overwrite, persist and restart the queues there.
    pub(crate) async fn reset_offsets(self: &Arc<Self>, offsets: Vec<(MessageQueue, u64)>) {
        let queues: Vec<MessageQueue> = offsets.iter().map(|(q, _)| q.clone()).collect();
        let (mut stopping, mut owned) = (Vec::new(), Vec::new());
        {
            let mut assigned = self.assigned.lock();
            let done = self.loops_done.lock();
            for mq in &queues {
                if let Some(token) = assigned.remove(mq) {
                    token.cancel();
                    stopping.extend(done.get(mq).cloned());
                    owned.push(mq.clone());
                }
            }
        }
        for done in stopping {
            done.cancelled().await;
        }
        for (mq, o) in &offsets {
            self.store.update(mq, *o, false);
        }
        // The broker has committed the new offsets already; committing again matters only for the
        // queues this consumer pulled (its stopped loops may have committed their old position).
        if let Err(e) = self.store.persist(&owned).await {
            warn!(error = %e, "persisting reset offsets failed");
        }
        if self.config.consume_mode == ConsumeMode::Orderly || self.token.is_cancelled() {
            // Orderly queues read their start offset under the broker lock, at the rebalance.
            self.request_rebalance();
            return;
        }
        // Restart right at the new offsets rather than re-reading them from the broker, where a
        // pull that left before the reset arrived may still commit the old position.
        for (mq, start) in offsets.into_iter().filter(|(q, _)| owned.contains(q)) {
            let token = self.token.child_token();
            self.assigned.lock().insert(mq.clone(), token.clone());
            let done = CancellationToken::new();
            self.loops_done.lock().insert(mq.clone(), done.clone());
            let pull_loop = queue_loop::run(self.clone(), mq, start, token);
            self.tracker.spawn(async move {
                pull_loop.await;
                done.cancel();
            });
        }
    }
}
