//! The console's consumer groups: lag per queue (messages and age) for pull and POP groups alike,
//! the connected remoting clients with their subscriptions, and moving a group's offsets of a topic
//! to a point in time or to the end.

use std::collections::{BTreeMap, BTreeSet};

use ferromq_remoting::body::admin::ResetOffsetBody;
use ferromq_remoting::body::heartbeat::{ConsumeType, MessageModel};
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::admin::ResetOffsetRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};
use serde::Serialize;
use tracing::{debug, info};

use super::{BrokerService, QueueLag};
use crate::client_directory::DirectoryRole;
use crate::error::BrokerError;
use crate::names;

/// A group in the console's list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOverview {
    pub group: String,
    /// Topics it has positions in (retry topic included).
    pub topics: Vec<String>,
    pub lag_messages: u64,
    /// Age of the oldest message not yet consumed, over all its queues (ms).
    pub lag_ms: u64,
    /// POP deliveries in flight.
    pub inflight: u64,
    /// Connected remoting clients.
    pub clients: usize,
    /// `PULL`, `PUSH`, `POP`, or `UNKNOWN` with no client connected and no POP state.
    pub consume_type: &'static str,
}

/// One queue of a group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupQueue {
    pub topic: String,
    pub queue_id: u32,
    /// The queue's end.
    pub broker_offset: u64,
    /// Where the group continues.
    pub consumer_offset: u64,
    pub lag_messages: u64,
    pub lag_ms: u64,
    pub inflight: u64,
}

/// A connected client of a group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleClient {
    pub client_id: String,
    pub addr: String,
    /// `remoting` or `gRPC`.
    pub protocol: &'static str,
    pub language: String,
    /// A remoting client's `MQVersion` ordinal, a v5 client's release.
    pub version: String,
}

/// A topic a group's clients subscribe to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSubscription {
    pub topic: String,
    pub expression_type: String,
    pub expression: String,
}

/// Everything the console shows about one group.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDetail {
    pub group: String,
    pub consume_type: &'static str,
    pub message_model: &'static str,
    /// Deliveries through the retry topic before the dead-letter queue (`retryMaxTimes`).
    pub retry_max_times: Option<i32>,
    pub lag_messages: u64,
    pub lag_ms: u64,
    pub queues: Vec<GroupQueue>,
    pub clients: Vec<ConsoleClient>,
    pub subscriptions: Vec<GroupSubscription>,
}

/// Where a reset moves a group's offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTarget {
    /// The first message stored at or after this time (ms since the epoch).
    Time(i64),
    /// The end of every queue: skip everything stored so far.
    End,
}

/// Groups the broker runs itself; listed only when asked for.
fn is_system_group(group: &str) -> bool {
    group.starts_with("CID_RMQ_SYS_")
        || group.starts_with("CID_ONSAPI_")
        || matches!(
            group,
            "TOOLS_CONSUMER"
                | "FILTERSRV_CONSUMER"
                | "SELF_TEST_C_GROUP"
                | "CID_ONS-HTTP-PROXY"
                | "CID_ONSAPI_PERMISSION"
                | "CID_ONSAPI_OWNER"
                | "CID_ONSAPI_PULL"
                | "CID_RMQ_SYS_TRANS"
                | "CID_SYS_RMQ_TRANS"
        )
}

impl BrokerService {
    /// Every group name the broker knows: configured, with offsets, with POP state, or with a
    /// connected client.
    fn console_group_names(&self, with_system: bool) -> BTreeSet<String> {
        let s = &*self.state;
        let mut names: BTreeSet<String> = s
            .subscriptions
            .all()
            .subscription_group_table
            .into_keys()
            .collect();
        names.extend(s.offsets.all_committed().into_iter().map(|(_, g, _, _)| g));
        names.extend(s.pop.all().into_iter().map(|((g, _, _), _)| g));
        names.extend(
            s.client_directories
                .clients()
                .into_iter()
                .filter_map(|c| match c.role {
                    DirectoryRole::Consumer { group, .. } => Some(group),
                    DirectoryRole::Producer { .. } => None,
                }),
        );
        names.retain(|g| with_system || !is_system_group(g));
        names
    }

    fn consume_type_of(&self, group: &str, lags: &[&QueueLag]) -> &'static str {
        let s = &*self.state;
        match s.clients.consumer_group(group).and_then(|g| g.consume_type) {
            Some(ConsumeType::ConsumeActively) => "PULL",
            Some(ConsumeType::ConsumePassively) => "PUSH",
            Some(ConsumeType::ConsumePop) => "POP",
            // v5 consumers (simple and push) receive by POP.
            None if !s.client_directories.consumers_of(group).is_empty() => "POP",
            None if lags.iter().any(|l| {
                s.pop
                    .existing(&(l.group.clone(), l.topic.clone(), l.queue_id))
                    .is_some()
            }) =>
            {
                "POP"
            }
            None => "UNKNOWN",
        }
    }

    /// Every group (system groups with `with_system`) with its total lag.
    #[must_use]
    pub fn console_groups(&self, with_system: bool) -> Vec<GroupOverview> {
        let s = &*self.state;
        let lags = self.metrics().lags;
        self.console_group_names(with_system)
            .into_iter()
            .map(|group| {
                let mine: Vec<&QueueLag> = lags.iter().filter(|l| l.group == group).collect();
                let topics: BTreeSet<String> = mine.iter().map(|l| l.topic.clone()).collect();
                GroupOverview {
                    consume_type: self.consume_type_of(&group, &mine),
                    topics: topics.into_iter().collect(),
                    lag_messages: mine.iter().map(|l| l.lag_messages).sum(),
                    lag_ms: mine.iter().map(|l| l.lag_ms).max().unwrap_or(0),
                    inflight: mine.iter().map(|l| l.inflight).sum(),
                    clients: s.clients.consumer_ids(&group).len()
                        + s.client_directories.consumers_of(&group).len(),
                    group,
                }
            })
            .collect()
    }

    /// Whether the broker knows `group` at all.
    fn knows_group(&self, group: &str) -> bool {
        let s = &*self.state;
        s.subscriptions.get(group).is_some()
            || !s.offsets.topics_of_group(group).is_empty()
            || s.clients.consumer_group(group).is_some()
            || !s.client_directories.consumers_of(group).is_empty()
            || s.pop.all().iter().any(|((g, _, _), _)| g == group)
    }

    /// One group's queues, clients and subscriptions.
    ///
    /// # Errors
    /// A bad name; `SubscriptionGroupNotExist` for a group the broker does not know.
    pub fn console_group(&self, group: &str) -> Result<GroupDetail, BrokerError> {
        names::validate_group(group)?;
        if !self.knows_group(group) {
            return Err(BrokerError::SubscriptionGroupNotExist(group.to_owned()));
        }
        let s = &*self.state;
        let lags = self.metrics().lags;
        let mine: Vec<&QueueLag> = lags.iter().filter(|l| l.group == group).collect();
        let queues = mine
            .iter()
            .map(|l| {
                let end = s.store.max_queue_offset(&l.topic, l.queue_id);
                GroupQueue {
                    topic: l.topic.clone(),
                    queue_id: l.queue_id,
                    broker_offset: end,
                    consumer_offset: end.saturating_sub(l.lag_messages),
                    lag_messages: l.lag_messages,
                    lag_ms: l.lag_ms,
                    inflight: l.inflight,
                }
            })
            .collect();
        let registered = s.clients.consumer_group(group);
        let mut clients: Vec<ConsoleClient> = registered
            .as_ref()
            .map(|g| {
                g.channels
                    .values()
                    .map(|c| ConsoleClient {
                        client_id: c.client_id.clone(),
                        addr: c.connection.peer_addr().to_string(),
                        protocol: "remoting",
                        language: c.language.to_string(),
                        version: c.version.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let v5 = s.client_directories.consumers_of(group);
        clients.extend(v5.iter().map(|c| ConsoleClient {
            client_id: c.client_id.clone(),
            addr: c.addr.to_string(),
            protocol: c.protocol,
            language: c.language.clone(),
            version: c.version.clone(),
        }));
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let mut subscriptions: Vec<GroupSubscription> = registered
            .as_ref()
            .map(|g| {
                g.subscriptions
                    .iter()
                    .map(|(topic, d)| GroupSubscription {
                        topic: topic.clone(),
                        expression_type: d.expression_type.clone(),
                        expression: d.sub_string.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        // A v5 client's subscriptions, where no remoting client of the group named the topic.
        for c in &v5 {
            if let DirectoryRole::Consumer {
                subscriptions: subs,
                ..
            } = &c.role
            {
                for (topic, kind, expression) in subs {
                    if !subscriptions.iter().any(|g| &g.topic == topic) {
                        subscriptions.push(GroupSubscription {
                            topic: topic.clone(),
                            expression_type: kind.clone(),
                            expression: expression.clone(),
                        });
                    }
                }
            }
        }
        subscriptions.sort_by(|a, b| a.topic.cmp(&b.topic));
        let message_model = match registered.as_ref().and_then(|g| g.message_model) {
            Some(MessageModel::Broadcasting) => "BROADCASTING",
            Some(MessageModel::Clustering) => "CLUSTERING",
            // v5 consumers share a group's messages.
            None if !v5.is_empty() => "CLUSTERING",
            None => "UNKNOWN",
        };
        Ok(GroupDetail {
            group: group.to_owned(),
            consume_type: self.consume_type_of(group, &mine),
            message_model,
            retry_max_times: s.subscriptions.get(group).map(|c| c.retry_max_times),
            lag_messages: mine.iter().map(|l| l.lag_messages).sum(),
            lag_ms: mine.iter().map(|l| l.lag_ms).max().unwrap_or(0),
            queues,
            clients,
            subscriptions,
        })
    }

    /// Moves `group`'s offsets of every queue of `topic` to `target` (forwards or backwards), and
    /// tells its connected remoting consumers to restart there (RESET_CONSUMER_CLIENT_OFFSET, as
    /// the admin request does). Returns the new offset per queue.
    ///
    /// # Errors
    /// Bad names, an unknown topic, a negative time, store failures.
    pub async fn console_reset_offsets(
        &self,
        group: &str,
        topic: &str,
        target: ResetTarget,
    ) -> Result<BTreeMap<u32, u64>, BrokerError> {
        names::validate_group(group)?;
        let s = &*self.state;
        let config = self.topic(topic)?;
        if let ResetTarget::Time(t) = target {
            if t < 0 {
                return Err(BrokerError::BadBody(format!("timestamp {t} is negative")));
            }
        }
        let queues =
            u32::try_from(config.write_queue_nums.max(config.read_queue_nums)).unwrap_or(0);
        let mut moved = BTreeMap::new();
        let mut table = BTreeMap::new();
        for q in 0..queues {
            let (min, max) = (
                s.store.min_queue_offset(topic, q),
                s.store.max_queue_offset(topic, q),
            );
            let to = match target {
                ResetTarget::End => max,
                ResetTarget::Time(t) => s.store.queue_offset_by_time(topic, q, t)?.clamp(min, max),
            };
            // A POP group's next pop starts there too (its bookkeeping first, as in the
            // admin request's reset).
            s.pop.reset(&(group.to_owned(), topic.to_owned(), q), to);
            s.offsets.commit(group, topic, q, to);
            moved.insert(q, to);
            table.insert(
                MessageQueue {
                    broker_name: s.config.broker_name.clone(),
                    queue_id: i32::try_from(q).unwrap_or(i32::MAX),
                    topic: topic.to_owned(),
                },
                i64::try_from(to).unwrap_or(i64::MAX),
            );
        }
        let body = ResetOffsetBody {
            offset_table: table,
        }
        .to_json();
        let timestamp = match target {
            ResetTarget::End => -1,
            ResetTarget::Time(t) => t,
        };
        let consumers = s.clients.consumer_connections(group);
        info!(%group, %topic, timestamp, consumers = consumers.len(), "consumer offsets reset from the console");
        for conn in consumers {
            let cmd = RemotingCommand::request(RequestCode::RESET_CONSUMER_CLIENT_OFFSET)
                .with_header(&ResetOffsetRequestHeader {
                    group: group.to_owned(),
                    topic: topic.to_owned(),
                    queue_id: -1,
                    offset: None,
                    timestamp,
                    is_force: true,
                })
                .with_body(body.clone());
            if let Err(e) = conn.send_oneway(cmd).await {
                debug!(%group, peer = %conn.peer_addr(), error = %e, "offset reset not delivered");
            }
        }
        Ok(moved)
    }
}
