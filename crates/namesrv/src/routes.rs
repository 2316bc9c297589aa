//! The route table: what brokers exist, which queues of which topic each one serves, and when each
//! broker was last heard from. Pure state: no I/O, time passed in by the caller.
//!
//! Semantics follow the Java name server (`RouteInfoManager`, 5.x): a master's registration (or an
//! acting master's, when the master is gone) publishes its topics; routes are rebuilt only when the
//! broker's `DataVersion` changes; a broker group disappears with its last address, taking its
//! queues with it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferromq_net::ConnectionId;
use ferromq_remoting::body::lists::TopicList;
use ferromq_remoting::body::register::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use ferromq_remoting::body::route::{
    perm, BrokerData, ClusterInfo, QueueData, TopicRouteData, MASTER_ID,
};
use tokio::time::Instant;
use tracing::{info, warn};

/// `TopicSysFlag`: the topic belongs to a unit.
pub const FLAG_UNIT: i32 = 0x1;
/// `TopicSysFlag`: the topic has unit subscriptions.
pub const FLAG_UNIT_SUB: i32 = 0x2;

/// A broker process: the liveness table is keyed by cluster and address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddrKey {
    pub cluster: String,
    pub addr: String,
}

/// What the name server knows about a broker's liveness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerLive {
    pub last_update: Instant,
    /// The broker is expired after this long without a registration or heartbeat.
    pub timeout: Duration,
    pub data_version: DataVersion,
    /// The connection it registered on; closing it unregisters the broker.
    pub conn: Option<ConnectionId>,
    pub ha_server_addr: String,
    /// Its RocketMQ 5 gRPC endpoint, when it serves one.
    pub grpc_addr: Option<String>,
}

/// One `REGISTER_BROKER`.
#[derive(Debug, Clone)]
pub struct Registration {
    pub cluster: String,
    pub broker_addr: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    pub heartbeat_timeout: Duration,
    /// `None` for brokers older than 5.0, which do not send the field.
    pub enable_acting_master: Option<bool>,
    pub zone_name: Option<String>,
    /// `grpcAddr`: the broker's RocketMQ 5 gRPC endpoint (a ferromq extension).
    pub grpc_addr: Option<String>,
    pub topics: TopicConfigSerializeWrapper,
    pub conn: Option<ConnectionId>,
}

/// The reply to a slave's registration: where its master is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registered {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A single-topic (incremental) registration from a broker that never registered in full.
    #[error("broker {broker_name} id {broker_id} has not registered in full yet")]
    NotRegisteredYet { broker_name: String, broker_id: i64 },
}

/// Identifies the broker to remove (`UNREGISTER_BROKER`, or found from a closed connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unregistration {
    pub cluster: String,
    pub broker_addr: String,
    pub broker_name: String,
    pub broker_id: i64,
}

/// Topics, brokers, clusters and liveness.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// topic → broker name → its queues of the topic.
    topics: BTreeMap<String, BTreeMap<String, QueueData>>,
    /// broker name → addresses by broker id.
    brokers: BTreeMap<String, BrokerData>,
    /// cluster → broker names.
    clusters: BTreeMap<String, BTreeSet<String>>,
    live: BTreeMap<BrokerAddrKey, BrokerLive>,
}

impl RouteTable {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or refreshes) a broker and, for a master, publishes its topics.
    ///
    /// # Errors
    /// [`RegisterError::NotRegisteredYet`] as Java refuses it.
    pub fn register(
        &mut self,
        reg: Registration,
        now: Instant,
    ) -> Result<Registered, RegisterError> {
        self.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let mut register_first = !self.brokers.contains_key(&reg.broker_name);
        let old_version_broker = reg.enable_acting_master.is_none();
        let broker = self
            .brokers
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster.clone(),
                broker_name: reg.broker_name.clone(),
                ..BrokerData::default()
            });
        broker.enable_acting_master = reg.enable_acting_master.unwrap_or(false);
        broker.zone_name.clone_from(&reg.zone_name);
        // One address has one id: a slave promoted to master re-registers under id 0.
        broker
            .broker_addrs
            .retain(|&id, addr| id == reg.broker_id || *addr != reg.broker_addr);
        let old_addr = broker.broker_addrs.get(&reg.broker_id).cloned();
        if let Some(old) = old_addr.as_ref().filter(|a| **a != reg.broker_addr) {
            let old_key = key(&reg.cluster, old);
            let old_state = self
                .live
                .get(&old_key)
                .map(|l| l.data_version.state_version);
            if old_state.is_some_and(|s| s > reg.topics.data_version.state_version) {
                warn!(broker = %reg.broker_name, addr = %reg.broker_addr, old = %old,
                    "registration with an older state version than the current broker, ignored");
                self.live.remove(&key(&reg.cluster, &reg.broker_addr));
                return Ok(Registered::default());
            }
        }
        let broker = self
            .brokers
            .get_mut(&reg.broker_name)
            .expect("inserted above");
        if old_addr.is_none() && reg.topics.topic_config_table.len() == 1 {
            return Err(RegisterError::NotRegisteredYet {
                broker_name: reg.broker_name,
                broker_id: reg.broker_id,
            });
        }
        broker
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());
        register_first |= old_addr.is_none();

        let is_master = reg.broker_id == MASTER_ID;
        let min_id = broker.broker_addrs.keys().next().copied();
        let is_prime_slave = !old_version_broker && !is_master && min_id == Some(reg.broker_id);
        let wipe_write = is_prime_slave && broker.enable_acting_master;
        let live_key = key(&reg.cluster, &reg.broker_addr);
        if is_master || is_prime_slave {
            let version_changed = self
                .live
                .get(&live_key)
                .is_none_or(|l| l.data_version != reg.topics.data_version);
            for config in reg.topics.topic_config_table.values() {
                if register_first || version_changed || !self.serves(&reg.broker_name, config) {
                    self.put_queue_data(&reg.broker_name, config, wipe_write);
                }
            }
        }

        let previous = self.live.insert(
            live_key,
            BrokerLive {
                last_update: now,
                timeout: reg.heartbeat_timeout,
                data_version: reg.topics.data_version,
                conn: reg.conn,
                ha_server_addr: reg.ha_server_addr.clone(),
                grpc_addr: reg.grpc_addr.clone(),
            },
        );
        if previous.is_none() {
            info!(broker = %reg.broker_name, addr = %reg.broker_addr, id = reg.broker_id,
                cluster = %reg.cluster, "new broker registered");
        }
        Ok(self.master_of(&reg))
    }

    fn serves(&self, broker_name: &str, config: &TopicConfig) -> bool {
        self.topics
            .get(&config.topic_name)
            .is_some_and(|q| q.contains_key(broker_name))
    }

    fn put_queue_data(&mut self, broker_name: &str, config: &TopicConfig, wipe_write: bool) {
        let mut perm_bits = config.perm;
        if wipe_write {
            perm_bits &= !perm::WRITE;
        }
        let queue_data = QueueData {
            broker_name: broker_name.to_owned(),
            perm: perm_bits,
            read_queue_nums: config.read_queue_nums,
            topic_sys_flag: config.topic_sys_flag,
            write_queue_nums: config.write_queue_nums,
        };
        let queues = self.topics.entry(config.topic_name.clone()).or_default();
        if queues.get(broker_name) != Some(&queue_data) {
            info!(topic = %config.topic_name, broker = broker_name, "topic route updated");
            queues.insert(broker_name.to_owned(), queue_data);
        }
    }

    /// For a slave: its master's address and HA address, when the master is alive.
    fn master_of(&self, reg: &Registration) -> Registered {
        if reg.broker_id == MASTER_ID {
            return Registered::default();
        }
        let master = self
            .brokers
            .get(&reg.broker_name)
            .and_then(BrokerData::master_addr);
        let Some(master) = master else {
            return Registered::default();
        };
        match self.live.get(&key(&reg.cluster, master)) {
            Some(live) => Registered {
                master_addr: Some(master.to_owned()),
                ha_server_addr: Some(live.ha_server_addr.clone()),
            },
            None => Registered::default(),
        }
    }

    /// Removes one broker address; the broker group goes with its last address, and its queues
    /// with it.
    pub fn unregister(&mut self, u: &Unregistration) {
        let removed_live = self.live.remove(&key(&u.cluster, &u.broker_addr)).is_some();
        info!(broker = %u.broker_name, addr = %u.broker_addr, id = u.broker_id, removed_live,
            "unregister broker");
        let Some(broker) = self.brokers.get_mut(&u.broker_name) else {
            return;
        };
        if broker.broker_addrs.get(&u.broker_id) == Some(&u.broker_addr) {
            broker.broker_addrs.remove(&u.broker_id);
        }
        if broker.broker_addrs.is_empty() {
            self.brokers.remove(&u.broker_name);
            if let Some(names) = self.clusters.get_mut(&u.cluster) {
                names.remove(&u.broker_name);
                if names.is_empty() {
                    self.clusters.remove(&u.cluster);
                }
            }
            self.topics.retain(|_, queues| {
                queues.remove(&u.broker_name);
                !queues.is_empty()
            });
        } else if broker.enable_acting_master && broker.master_addr().is_none() {
            // The master is gone: its slaves' queues stay readable, not writable.
            for queues in self.topics.values_mut() {
                if let Some(q) = queues.get_mut(&u.broker_name) {
                    q.perm &= !perm::WRITE;
                }
            }
        }
    }

    /// The broker id and name of `k`, found through the broker groups of its cluster.
    fn unregistration_for(&self, k: &BrokerAddrKey) -> Option<Unregistration> {
        self.brokers
            .values()
            .filter(|b| b.cluster == k.cluster)
            .find_map(|b| {
                b.broker_addrs
                    .iter()
                    .find(|(_, addr)| **addr == k.addr)
                    .map(|(&id, _)| Unregistration {
                        cluster: k.cluster.clone(),
                        broker_addr: k.addr.clone(),
                        broker_name: b.broker_name.clone(),
                        broker_id: id,
                    })
            })
    }

    fn remove_live(&mut self, keys: &[BrokerAddrKey]) {
        for k in keys {
            match self.unregistration_for(k) {
                Some(u) => self.unregister(&u),
                None => {
                    self.live.remove(k);
                }
            }
        }
    }

    /// Removes the brokers not heard from within their timeout; returns them with their
    /// connections, which the caller closes.
    pub fn expire(&mut self, now: Instant) -> Vec<(BrokerAddrKey, Option<ConnectionId>)> {
        let expired: Vec<_> = self
            .live
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_update) > l.timeout)
            .map(|(k, l)| (k.clone(), l.conn))
            .collect();
        for (k, _) in &expired {
            warn!(cluster = %k.cluster, addr = %k.addr, "broker expired");
        }
        let keys: Vec<_> = expired.iter().map(|(k, _)| k.clone()).collect();
        self.remove_live(&keys);
        expired
    }

    /// Removes the brokers registered on a connection that has closed; returns them.
    pub fn disconnect(&mut self, conn: ConnectionId) -> Vec<BrokerAddrKey> {
        let keys: Vec<_> = self
            .live
            .iter()
            .filter(|(_, l)| l.conn == Some(conn))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            info!(cluster = %k.cluster, addr = %k.addr, "broker connection closed");
        }
        self.remove_live(&keys);
        keys
    }

    /// Marks a broker as alive now (heartbeat, data-version query). False when unknown.
    pub fn touch(&mut self, cluster: &str, addr: &str, now: Instant) -> bool {
        match self.live.get_mut(&key(cluster, addr)) {
            Some(l) => {
                l.last_update = now;
                true
            }
            None => false,
        }
    }

    /// The data version the broker last registered with.
    #[must_use]
    pub fn data_version(&self, cluster: &str, addr: &str) -> Option<DataVersion> {
        self.live.get(&key(cluster, addr)).map(|l| l.data_version)
    }

    #[must_use]
    pub fn live(&self, cluster: &str, addr: &str) -> Option<&BrokerLive> {
        self.live.get(&key(cluster, addr))
    }

    /// The route of `topic`, or `None` when no live broker serves it.
    #[must_use]
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topics.get(topic).filter(|q| !q.is_empty())?;
        let broker_datas: Vec<BrokerData> = queues
            .keys()
            .filter_map(|name| self.brokers.get(name))
            .map(|b| self.with_grpc_addrs(acting_master_view(b)))
            .collect();
        if broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            broker_datas,
            queue_datas: queues.values().cloned().collect(),
            ..TopicRouteData::default()
        })
    }

    /// Fills `grpc_addrs` from what each listed address registered with, under the ids the view
    /// gives them (an acting master's endpoint appears under id 0 with its address).
    fn with_grpc_addrs(&self, mut b: BrokerData) -> BrokerData {
        b.grpc_addrs = b
            .broker_addrs
            .iter()
            .filter_map(|(&id, addr)| {
                let grpc = self.live.get(&key(&b.cluster, addr))?.grpc_addr.clone()?;
                Some((id, grpc))
            })
            .collect();
        b
    }

    #[must_use]
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.brokers.clone(),
            cluster_addr_table: self.clusters.clone(),
        }
    }

    #[must_use]
    pub fn topic_list(&self) -> TopicList {
        TopicList {
            broker_addr: None,
            topic_list: self.topics.keys().cloned().collect(),
        }
    }

    /// Topics with queues on any broker of `cluster` (empty for an unknown cluster).
    #[must_use]
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let names = self.clusters.get(cluster);
        let topic_list = self
            .topics
            .iter()
            .filter(|(_, q)| names.is_some_and(|n| q.keys().any(|b| n.contains(b))))
            .map(|(t, _)| t.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// `GET_SYSTEM_TOPIC_LIST_FROM_NS`: every cluster name and broker name, plus one broker address.
    #[must_use]
    pub fn system_topic_list(&self) -> TopicList {
        let mut topic_list = Vec::new();
        for (cluster, names) in &self.clusters {
            topic_list.push(cluster.clone());
            topic_list.extend(names.iter().cloned());
        }
        let broker_addr = self
            .brokers
            .values()
            .find_map(|b| b.broker_addrs.values().next().cloned());
        TopicList {
            broker_addr,
            topic_list,
        }
    }

    /// Topics whose `topicSysFlag` matches `pred` (unit-topic lists 311–313).
    #[must_use]
    pub fn topics_with_flag(&self, pred: impl Fn(i32) -> bool) -> TopicList {
        let topic_list = self
            .topics
            .iter()
            .filter(|(_, q)| q.values().next().is_some_and(|qd| pred(qd.topic_sys_flag)))
            .map(|(t, _)| t.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// Removes a topic, or only its queues on the brokers of `cluster`.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) {
        let Some(cluster) = cluster else {
            self.topics.remove(topic);
            return;
        };
        let (Some(names), Some(queues)) = (self.clusters.get(cluster), self.topics.get_mut(topic))
        else {
            return;
        };
        queues.retain(|broker, _| !names.contains(broker));
        if queues.is_empty() {
            self.topics.remove(topic);
        }
    }

    /// `REGISTER_TOPIC_IN_NAMESRV`: adds queues on existing brokers. All or nothing: false (and no
    /// change) when a queue names an unknown broker.
    pub fn register_topic(&mut self, topic: &str, queue_datas: Vec<QueueData>) -> bool {
        if queue_datas
            .iter()
            .any(|q| !self.brokers.contains_key(&q.broker_name))
        {
            return false;
        }
        if queue_datas.is_empty() {
            return true;
        }
        let queues = self.topics.entry(topic.to_owned()).or_default();
        for q in queue_datas {
            queues.insert(q.broker_name.clone(), q);
        }
        true
    }

    /// Clears the write permission of every queue of `broker_name`; returns how many topics.
    pub fn wipe_write_perm(&mut self, broker_name: &str) -> i32 {
        self.update_perm(broker_name, |p| p & !perm::WRITE)
    }

    /// Makes every queue of `broker_name` readable and writable again; returns how many topics.
    pub fn add_write_perm(&mut self, broker_name: &str) -> i32 {
        self.update_perm(broker_name, |_| perm::READ | perm::WRITE)
    }

    fn update_perm(&mut self, broker_name: &str, f: impl Fn(i32) -> i32) -> i32 {
        let mut count = 0i32;
        for queues in self.topics.values_mut() {
            if let Some(q) = queues.get_mut(broker_name) {
                q.perm = f(q.perm);
                count = count.saturating_add(1);
            }
        }
        count
    }
}

fn key(cluster: &str, addr: &str) -> BrokerAddrKey {
    BrokerAddrKey {
        cluster: cluster.to_owned(),
        addr: addr.to_owned(),
    }
}

/// A broker group as clients should see it: with acting master enabled and the master gone, the
/// slave with the smallest id is presented as id 0.
fn acting_master_view(b: &BrokerData) -> BrokerData {
    let mut b = b.clone();
    if b.enable_acting_master && b.master_addr().is_none() {
        if let Some((_, addr)) = b.broker_addrs.pop_first() {
            b.broker_addrs.insert(MASTER_ID, addr);
        }
    }
    b
}

#[cfg(test)]
mod tests;
