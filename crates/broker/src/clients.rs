//! Who is connected: consumer groups (members, subscriptions, consume type/model) and producer
//! groups, fed by heartbeats and emptied by unregistration, closed connections and expiry.
//!
//! Every mutating call returns the consumer groups whose membership or subscribed topics changed;
//! the caller notifies their members (NOTIFY_CONSUMER_IDS_CHANGED) so they rebalance.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use ferromq_net::{Connection, ConnectionId};
use ferromq_remoting::body::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, MessageModel, SubscriptionData,
};
use ferromq_remoting::LanguageCode;
use parking_lot::Mutex;
use tokio::time::Instant;

/// One client connection registered in a group.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    pub client_id: String,
    pub connection: Connection,
    pub language: LanguageCode,
    pub version: i32,
    pub last_seen: Instant,
}

/// A consumer group as its latest heartbeats describe it.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    pub channels: HashMap<ConnectionId, ClientChannel>,
    /// Per topic; replaced when a heartbeat brings a newer `subVersion`.
    pub subscriptions: BTreeMap<String, SubscriptionData>,
    pub consume_type: Option<ConsumeType>,
    pub message_model: Option<MessageModel>,
    pub consume_from_where: Option<ConsumeFromWhere>,
}

impl ConsumerGroup {
    fn is_clustering(&self) -> bool {
        self.message_model != Some(MessageModel::Broadcasting)
    }
}

/// Consumer and producer registrations.
#[derive(Debug, Default)]
pub struct Clients {
    consumers: Mutex<HashMap<String, ConsumerGroup>>,
    producers: Mutex<HashMap<String, HashMap<ConnectionId, ClientChannel>>>,
}

impl Clients {
    /// Registers or refreshes a consumer; true when the group must be told to rebalance (a new
    /// member of a clustering group, or a topic added or removed).
    pub fn register_consumer(
        &self,
        channel: ClientChannel,
        data: &ConsumerData,
        without_sub: bool,
    ) -> bool {
        let mut groups = self.consumers.lock();
        let group = groups.entry(data.group_name.clone()).or_default();
        group.consume_type = data.consume_type;
        group.message_model = data.message_model;
        group.consume_from_where = data.consume_from_where;
        let joined = group
            .channels
            .insert(channel.connection.id(), channel)
            .is_none();
        let mut topics_changed = false;
        if !without_sub {
            let wanted: BTreeSet<&str> = data
                .subscription_data_set
                .iter()
                .map(|s| s.topic.as_str())
                .collect();
            let before = group.subscriptions.len();
            group
                .subscriptions
                .retain(|topic, _| wanted.contains(topic.as_str()));
            topics_changed |= group.subscriptions.len() != before;
            for sub in &data.subscription_data_set {
                match group.subscriptions.get(&sub.topic) {
                    Some(old) if old.sub_version >= sub.sub_version => {}
                    Some(_) => {
                        group.subscriptions.insert(sub.topic.clone(), sub.clone());
                    }
                    None => {
                        topics_changed = true;
                        group.subscriptions.insert(sub.topic.clone(), sub.clone());
                    }
                }
            }
        }
        (joined || topics_changed) && group.is_clustering()
    }

    pub fn register_producer(&self, group: &str, channel: ClientChannel) {
        self.producers
            .lock()
            .entry(group.to_owned())
            .or_default()
            .insert(channel.connection.id(), channel);
    }

    /// Removes a client from a consumer group; true when the group must rebalance.
    pub fn unregister_consumer(&self, group: &str, client_id: &str) -> bool {
        let mut groups = self.consumers.lock();
        let Some(g) = groups.get_mut(group) else {
            return false;
        };
        let before = g.channels.len();
        g.channels.retain(|_, c| c.client_id != client_id);
        let changed = g.channels.len() != before && g.is_clustering();
        if g.channels.is_empty() {
            groups.remove(group);
        }
        changed
    }

    pub fn unregister_producer(&self, group: &str, client_id: &str) {
        let mut groups = self.producers.lock();
        if let Some(g) = groups.get_mut(group) {
            g.retain(|_, c| c.client_id != client_id);
            if g.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// Drops every registration of a closed connection; returns the consumer groups to notify.
    pub fn remove_connection(&self, id: ConnectionId) -> Vec<String> {
        self.remove_where(|c| c.connection.id() == id)
    }

    /// Drops clients not heard from within `timeout` (closing their connections); returns the
    /// consumer groups to notify.
    pub fn expire(&self, now: Instant, timeout: Duration) -> Vec<String> {
        self.remove_where(|c| {
            let stale = now.saturating_duration_since(c.last_seen) > timeout;
            if stale {
                tracing::info!(client = %c.client_id, peer = %c.connection.peer_addr(), "client expired");
                c.connection.close();
            }
            stale
        })
    }

    fn remove_where(&self, mut gone: impl FnMut(&ClientChannel) -> bool) -> Vec<String> {
        let mut notify = Vec::new();
        let mut groups = self.consumers.lock();
        groups.retain(|name, g| {
            let before = g.channels.len();
            g.channels.retain(|_, c| !gone(c));
            if g.channels.len() != before && g.is_clustering() && !g.channels.is_empty() {
                notify.push(name.clone());
            }
            !g.channels.is_empty()
        });
        drop(groups);
        self.producers.lock().retain(|_, g| {
            g.retain(|_, c| !gone(c));
            !g.is_empty()
        });
        notify
    }

    /// Client ids of a consumer group, sorted.
    #[must_use]
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        let groups = self.consumers.lock();
        let mut ids: Vec<String> = groups
            .get(group)
            .map(|g| g.channels.values().map(|c| c.client_id.clone()).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Live connections of a consumer group.
    #[must_use]
    pub fn consumer_connections(&self, group: &str) -> Vec<Connection> {
        self.consumers.lock().get(group).map_or_else(Vec::new, |g| {
            g.channels.values().map(|c| c.connection.clone()).collect()
        })
    }

    /// A snapshot of a consumer group.
    #[must_use]
    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroup> {
        self.consumers.lock().get(group).cloned()
    }

    /// The group's registered subscription to `topic`.
    #[must_use]
    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.consumers
            .lock()
            .get(group)
            .and_then(|g| g.subscriptions.get(topic).cloned())
    }

    /// Consumer groups with a live subscription to `topic`.
    #[must_use]
    pub fn groups_subscribed_to(&self, topic: &str) -> BTreeSet<String> {
        self.consumers
            .lock()
            .iter()
            .filter(|(_, g)| g.subscriptions.contains_key(topic))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The connection of the producer with client id `client_id`, in any group.
    #[must_use]
    pub fn producer_by_client_id(&self, client_id: &str) -> Option<ClientChannel> {
        self.producers
            .lock()
            .values()
            .flat_map(HashMap::values)
            .find(|c| c.client_id == client_id && !c.connection.is_closed())
            .cloned()
    }

    /// Connections of a producer group.
    #[must_use]
    pub fn producer_channels(&self, group: &str) -> Vec<ClientChannel> {
        self.producers
            .lock()
            .get(group)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default()
    }
}
