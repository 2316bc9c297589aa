//! [`Admin`]: the typed admin API the CLI and the dashboard share. Each call issues the requests
//! the Java `mqadmin` command of the same name issues (§16), and returns typed results.
//!
//! Calls the broker does not implement yet come back as [`ClientError::Server`] with
//! REQUEST_CODE_NOT_SUPPORTED.

mod groups;
mod messages;
mod trace;
mod users;

pub use trace::TRACE_TOPIC;

use std::collections::BTreeMap;
use std::time::Duration;

use ferromq_net::{ClientConfig, ClientTls};
use ferromq_remoting::body::admin::{
    ConsumeStats, ConsumerConnection, ProducerConnection, TopicStatsTable,
};
use ferromq_remoting::body::lists::{KvTable, TopicList};
use ferromq_remoting::body::route::{perm, ClusterInfo, TopicRouteData};
use ferromq_remoting::body::subscription_group::SubscriptionGroupConfig;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::{
    CreateTopicRequestHeader, GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    GetProducerConnectionListRequestHeader, TopicRequestHeader,
};
use ferromq_remoting::headers::route::DeleteTopicFromNamesrvRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};

use crate::error::ClientError;
use crate::message::MessageQueue;
use crate::remote::{self, Remote};
use crate::routes::{Routes, DEFAULT_TOPIC};

/// Admin settings.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub namesrv_addrs: Vec<String>,
    pub timeout: Duration,
    /// TLS towards name servers and brokers (RocketMQ's `tls.enable`); `None`: plaintext.
    pub tls: Option<ClientTls>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            namesrv_addrs: vec!["127.0.0.1:9876".to_owned()],
            timeout: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// A topic to create or update (mqadmin `updateTopic` defaults: 8/8 queues, perm RW).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub read_queue_nums: u32,
    pub write_queue_nums: u32,
    /// [`perm`] bits.
    pub perm: i32,
    pub order: bool,
    /// `+key=value` pairs, comma-separated, or empty.
    pub attributes: String,
}

impl TopicSpec {
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            read_queue_nums: 8,
            write_queue_nums: 8,
            perm: perm::READ | perm::WRITE,
            order: false,
            attributes: String::new(),
        }
    }
}

/// A consumer group to create or update (`SubscriptionGroupConfig` with Java's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: String,
    pub consume_enable: bool,
    pub consume_broadcast_enable: bool,
    pub consume_message_orderly: bool,
    pub retry_queue_nums: u32,
    pub retry_max_times: u32,
}

impl GroupSpec {
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            consume_enable: true,
            consume_broadcast_enable: true,
            consume_message_orderly: false,
            retry_queue_nums: 1,
            retry_max_times: 16,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        let clamp = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        SubscriptionGroupConfig {
            consume_enable: self.consume_enable,
            consume_broadcast_enable: self.consume_broadcast_enable,
            consume_message_orderly: self.consume_message_orderly,
            retry_queue_nums: clamp(self.retry_queue_nums),
            retry_max_times: clamp(self.retry_max_times),
            ..SubscriptionGroupConfig::named(self.name.clone())
        }
        .to_json()
        .to_vec()
    }
}

/// One broker of `clusterList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerStatus {
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub addr: String,
    /// `GET_BROKER_RUNTIME_INFO`, or why it could not be read.
    pub runtime: Result<BTreeMap<String, String>, String>,
}

/// One queue of `topicStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStatus {
    pub min_offset: i64,
    pub max_offset: i64,
    /// Store time (ms) of the newest message, 0 when empty.
    pub last_update_timestamp: i64,
}

/// One queue of `consumerProgress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueProgress {
    /// The queue's max offset.
    pub broker_offset: i64,
    /// The group's committed offset (0 when none).
    pub consumer_offset: i64,
    /// Max of the committed offset and the last pull's next offset.
    pub pull_offset: i64,
    /// Store time (ms) of the last consumed message, 0 when none.
    pub last_timestamp: i64,
}

impl QueueProgress {
    /// Messages not yet consumed (mqadmin's "Diff").
    #[must_use]
    pub fn lag(&self) -> i64 {
        (self.broker_offset - self.consumer_offset).max(0)
    }
}

/// `consumerProgress` of a group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumerProgress {
    pub queues: BTreeMap<MessageQueue, QueueProgress>,
    pub consume_tps: f64,
}

impl ConsumerProgress {
    #[must_use]
    pub fn total_lag(&self) -> i64 {
        self.queues.values().map(QueueProgress::lag).sum()
    }
}

/// A connection to the cluster for admin calls.
#[derive(Debug)]
pub struct Admin {
    routes: Routes,
    remote: Remote,
    timeout: Duration,
}

impl Admin {
    /// Ready to call; no background task, nothing is sent yet.
    ///
    /// # Errors
    /// No name server configured.
    pub async fn start(config: AdminConfig) -> Result<Self, ClientError> {
        Self::start_signed(config, None).await
    }

    /// [`start`](Self::start) signing every request with `credentials` (brokers with ACL on).
    ///
    /// # Errors
    /// No name server configured.
    pub async fn start_signed(
        config: AdminConfig,
        credentials: Option<ferromq_auth::Credentials>,
    ) -> Result<Self, ClientError> {
        if config.namesrv_addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        let remote = Remote::new(ClientConfig {
            tls: config.tls,
            ..ClientConfig::default()
        })
        .signing(credentials);
        Ok(Self {
            routes: Routes::new(config.namesrv_addrs, remote.clone(), config.timeout),
            remote,
            timeout: config.timeout,
        })
    }

    /// `GET_BROKER_CLUSTER_INFO` (106).
    ///
    /// # Errors
    /// Transport failures, refusal, a malformed body.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO);
        let (addr, resp) = self.routes.namesrv_call_ok(cmd).await?;
        remote::json_body(&addr, &resp)
    }

    /// `GET_BROKER_RUNTIME_INFO` (28) of one broker.
    ///
    /// # Errors
    /// Transport failures, refusal, a malformed body.
    pub async fn broker_runtime_info(
        &self,
        addr: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO);
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        Ok(remote::json_body::<KvTable>(addr, &resp)?.table)
    }

    /// `clusterList`: every broker address with its runtime info (failures per broker kept).
    ///
    /// # Errors
    /// The cluster info's failure.
    pub async fn cluster_list(&self) -> Result<Vec<BrokerStatus>, ClientError> {
        let info = self.cluster_info().await?;
        let mut out = Vec::new();
        for (cluster, names) in &info.cluster_addr_table {
            for name in names {
                let Some(b) = info.broker_addr_table.get(name) else {
                    continue;
                };
                for (id, addr) in &b.broker_addrs {
                    let runtime = self
                        .broker_runtime_info(addr)
                        .await
                        .map_err(|e| e.to_string());
                    out.push(BrokerStatus {
                        cluster: cluster.clone(),
                        broker_name: name.clone(),
                        broker_id: *id,
                        addr: addr.clone(),
                        runtime,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Master addresses of `cluster`'s brokers.
    async fn cluster_masters(&self, cluster: &str) -> Result<Vec<String>, ClientError> {
        let info = self.cluster_info().await?;
        let names = info
            .cluster_addr_table
            .get(cluster)
            .ok_or_else(|| ClientError::InvalidArgument(format!("no cluster named {cluster}")))?;
        Ok(names
            .iter()
            .filter_map(|n| {
                info.broker_addr_table
                    .get(n)?
                    .master_addr()
                    .map(str::to_owned)
            })
            .collect())
    }

    /// `updateTopic -c`: UPDATE_AND_CREATE_TOPIC (17) to every master of `cluster`. Returns the
    /// addresses written to.
    ///
    /// # Errors
    /// An unknown cluster; the first broker refusal.
    pub async fn create_topic(
        &self,
        cluster: &str,
        spec: &TopicSpec,
    ) -> Result<Vec<String>, ClientError> {
        let masters = self.cluster_masters(cluster).await?;
        for addr in &masters {
            self.create_topic_on_broker(addr, spec).await?;
        }
        Ok(masters)
    }

    /// `updateTopic -b`: UPDATE_AND_CREATE_TOPIC (17) to one broker.
    ///
    /// # Errors
    /// Transport failures, refusal.
    pub async fn create_topic_on_broker(
        &self,
        addr: &str,
        spec: &TopicSpec,
    ) -> Result<(), ClientError> {
        let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC).with_header(
            &CreateTopicRequestHeader {
                topic: spec.name.clone(),
                default_topic: DEFAULT_TOPIC.to_owned(),
                read_queue_nums: i32::try_from(spec.read_queue_nums).unwrap_or(i32::MAX),
                write_queue_nums: i32::try_from(spec.write_queue_nums).unwrap_or(i32::MAX),
                perm: spec.perm,
                topic_filter_type: "SINGLE_TAG".to_owned(),
                topic_sys_flag: Some(0),
                order: spec.order,
                attributes: Some(spec.attributes.clone()),
                force: None,
            },
        );
        self.remote.call_ok(addr, cmd, self.timeout).await.map(drop)
    }

    /// `deleteTopic -c`: DELETE_TOPIC_IN_BROKER (215) on every master of `cluster`, then
    /// DELETE_TOPIC_IN_NAMESRV (216) on every name server.
    ///
    /// # Errors
    /// An unknown cluster; the first refusal.
    pub async fn delete_topic(&self, cluster: &str, topic: &str) -> Result<(), ClientError> {
        for addr in self.cluster_masters(cluster).await? {
            let cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER).with_header(
                &TopicRequestHeader {
                    topic: topic.to_owned(),
                },
            );
            self.remote.call_ok(&addr, cmd, self.timeout).await?;
        }
        for addr in self.routes.namesrv_addrs() {
            let cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV).with_header(
                &DeleteTopicFromNamesrvRequestHeader {
                    topic: topic.to_owned(),
                    cluster_name: Some(cluster.to_owned()),
                },
            );
            self.remote.call_ok(addr, cmd, self.timeout).await?;
        }
        self.routes.forget(topic);
        Ok(())
    }

    /// `topicList`: GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), sorted.
    ///
    /// # Errors
    /// Transport failures, refusal, a malformed body.
    pub async fn topic_list(&self) -> Result<Vec<String>, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
        let (addr, resp) = self.routes.namesrv_call_ok(cmd).await?;
        let mut topics = remote::json_body::<TopicList>(&addr, &resp)?.topic_list;
        topics.sort();
        Ok(topics)
    }

    /// `topicRoute`: GET_ROUTEINFO_BY_TOPIC (105).
    ///
    /// # Errors
    /// TOPIC_NOT_EXIST and other failures.
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        self.routes.fetch(topic).await
    }

    /// `topicStatus`: the route, then GET_TOPIC_STATS_INFO (202) on each broker's master.
    ///
    /// # Errors
    /// The route's failure; the first broker refusal.
    pub async fn topic_status(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<MessageQueue, QueueStatus>, ClientError> {
        let route = self.routes.refresh(topic).await?;
        let mut out = BTreeMap::new();
        for b in &route.data.broker_datas {
            let Some(addr) = b.master_addr() else {
                continue;
            };
            let cmd = RemotingCommand::request(RequestCode::GET_TOPIC_STATS_INFO).with_header(
                &TopicRequestHeader {
                    topic: topic.to_owned(),
                },
            );
            let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
            let stats: TopicStatsTable = remote::json_body(addr, &resp)?;
            for (q, o) in stats.offset_table {
                if let Some(mq) = MessageQueue::from_wire(&q) {
                    out.insert(
                        mq,
                        QueueStatus {
                            min_offset: o.min_offset,
                            max_offset: o.max_offset,
                            last_update_timestamp: o.last_update_timestamp,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// `updateSubGroup -c`: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) to every master of
    /// `cluster`.
    ///
    /// # Errors
    /// An unknown cluster; the first refusal.
    pub async fn create_consumer_group(
        &self,
        cluster: &str,
        spec: &GroupSpec,
    ) -> Result<(), ClientError> {
        for addr in self.cluster_masters(cluster).await? {
            let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
                .with_body(spec.to_json());
            self.remote.call_ok(&addr, cmd, self.timeout).await?;
        }
        Ok(())
    }

    /// Master addresses of the brokers serving `group`'s retry topic (where its offsets live),
    /// as `consumerProgress` finds them.
    async fn group_brokers(&self, group: &str) -> Result<Vec<String>, ClientError> {
        let route = self.routes.refresh(&retry_topic(group)).await?;
        Ok(route
            .data
            .broker_datas
            .iter()
            .filter_map(|b| b.master_addr().map(str::to_owned))
            .collect())
    }

    /// `consumerProgress -g`: GET_CONSUME_STATS (208) on every broker of the group's retry
    /// topic, merged. `topic` restricts it to one topic.
    ///
    /// # Errors
    /// The retry topic's route (the group never connected); the first refusal.
    pub async fn consumer_progress(
        &self,
        group: &str,
        topic: Option<&str>,
    ) -> Result<ConsumerProgress, ClientError> {
        let mut out = ConsumerProgress::default();
        for addr in self.group_brokers(group).await? {
            let cmd = RemotingCommand::request(RequestCode::GET_CONSUME_STATS).with_header(
                &GetConsumeStatsRequestHeader {
                    consumer_group: group.to_owned(),
                    topic: topic.map(str::to_owned),
                    topic_list: None,
                },
            );
            let resp = self.remote.call_ok(&addr, cmd, self.timeout).await?;
            let stats: ConsumeStats = remote::json_body(&addr, &resp)?;
            out.consume_tps += stats.consume_tps;
            for (q, o) in stats.offset_table {
                if let Some(mq) = MessageQueue::from_wire(&q) {
                    out.queues.insert(
                        mq,
                        QueueProgress {
                            broker_offset: o.broker_offset,
                            consumer_offset: o.consumer_offset,
                            pull_offset: o.pull_offset,
                            last_timestamp: o.last_timestamp,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// `consumerConnection -g`: GET_CONSUMER_CONNECTION_LIST (203) on a broker of the group.
    ///
    /// # Errors
    /// CONSUMER_NOT_ONLINE when no consumer of the group is connected; other failures.
    pub async fn consumer_connection(
        &self,
        group: &str,
    ) -> Result<ConsumerConnection, ClientError> {
        let brokers = self.group_brokers(group).await?;
        let addr = brokers.first().ok_or_else(|| ClientError::BrokerNotFound {
            broker_name: format!("any broker of {}", retry_topic(group)),
        })?;
        let cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_CONNECTION_LIST).with_header(
            &GetConsumerConnectionListRequestHeader {
                consumer_group: group.to_owned(),
            },
        );
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        remote::json_body(addr, &resp)
    }

    /// `producerConnection -g -t`: GET_PRODUCER_CONNECTION_LIST (204) on the master of the
    /// first broker of `topic` (producers heartbeat to every broker they send to).
    ///
    /// # Errors
    /// The topic's route; SYSTEM_ERROR when the group has no connection there.
    pub async fn producer_connection(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<ProducerConnection, ClientError> {
        let route = self.routes.refresh(topic).await?;
        let addr = route
            .data
            .broker_datas
            .iter()
            .find_map(|b| b.master_addr())
            .ok_or_else(|| ClientError::BrokerNotFound {
                broker_name: format!("any broker of {topic}"),
            })?;
        let cmd = RemotingCommand::request(RequestCode::GET_PRODUCER_CONNECTION_LIST).with_header(
            &GetProducerConnectionListRequestHeader {
                producer_group: group.to_owned(),
            },
        );
        let resp = self.remote.call_ok(addr, cmd, self.timeout).await?;
        remote::json_body(addr, &resp)
    }

    /// Closes the connections.
    pub async fn shutdown(self) {
        self.remote.shutdown().await;
    }
}

/// `%RETRY%<group>` (a consumer-side name, kept here for admin callers).
pub use crate::consumer::retry_topic;
