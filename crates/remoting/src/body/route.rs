//! Routes: `TopicRouteData` (the `GET_ROUTEINFO_BY_TOPIC` body) and its parts, plus `ClusterInfo`
//! (`GET_BROKER_CLUSTER_INFO`).
//!
//! `brokerAddrs` is keyed by broker id (0 = master). Java's legacy output writes those keys unquoted;
//! we parse both forms and always write quoted keys, which every Java client accepts.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::json::{null_as_default, JsonBody};

/// Topic permission bits (`PermName`), used in `QueueData.perm` and `TopicConfig.perm`.
pub mod perm {
    pub const PRIORITY: i32 = 0x8;
    /// Queues may be consumed.
    pub const READ: i32 = 0x4;
    /// Queues may be produced to.
    pub const WRITE: i32 = 0x2;
    /// A template topic: others may be auto-created from it (`TBW102`).
    pub const INHERIT: i32 = 0x1;
}

/// The broker id of a master.
pub const MASTER_ID: i64 = 0;

/// One broker's queues of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    pub broker_name: String,
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

/// The addresses of one broker group (a master and its slaves).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// Broker id → `ip:port`.
    #[serde(deserialize_with = "null_as_default")]
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
    pub enable_acting_master: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    /// Broker id → `ip:port` of its v5 gRPC endpoint, for the ids that serve one (a
    /// ferromq extension, absent when empty; remoting clients ignore members they do not know).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub grpc_addrs: BTreeMap<i64, String>,
}

impl BrokerData {
    /// The master's address (id 0), which producers send to.
    #[must_use]
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// The route of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    #[serde(deserialize_with = "null_as_default")]
    pub broker_datas: Vec<BrokerData>,
    /// Legacy filter servers; always present (and empty) in Java output.
    #[serde(deserialize_with = "null_as_default")]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `broker:queueCount;…` for ordered topics configured in the name server's KV store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub queue_datas: Vec<QueueData>,
    /// Static-topic mappings, carried through unparsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<serde_json::Value>,
}

impl JsonBody for TopicRouteData {}

/// `GET_BROKER_CLUSTER_INFO` body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// Broker name → its addresses.
    #[serde(deserialize_with = "null_as_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name → broker names.
    #[serde(deserialize_with = "null_as_default")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

impl JsonBody for ClusterInfo {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Legacy fastjson output of a Java name server (unquoted broker ids, as for clients older than
    /// `V4_9_4`), with an ordered-topic config and an unknown member.
    const JAVA_LEGACY: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"orderTopicConf":"broker-a:4","queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}],"somethingNew":1}"#;

    #[test]
    fn parses_legacy_java_route() {
        let r = TopicRouteData::from_json(JAVA_LEGACY.as_bytes()).expect("parses");
        assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
        assert_eq!(
            r.broker_datas[0].broker_addrs.get(&1).map(String::as_str),
            Some("10.0.0.2:10911")
        );
        assert_eq!(r.queue_datas[0].perm, perm::READ | perm::WRITE);
        assert_eq!(r.order_topic_conf.as_deref(), Some("broker-a:4"));
    }

    #[test]
    fn emits_standard_json_like_java_browser_compatible() {
        let r = TopicRouteData::from_json(JAVA_LEGACY.as_bytes()).expect("parses");
        let out = String::from_utf8(r.to_json().to_vec()).expect("utf8");
        assert_eq!(
            out,
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"orderTopicConf":"broker-a:4","queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
    }

    #[test]
    fn grpc_addrs_are_written_only_when_known() {
        let mut r = TopicRouteData::from_json(JAVA_LEGACY.as_bytes()).expect("parses");
        r.broker_datas[0]
            .grpc_addrs
            .insert(MASTER_ID, "10.0.0.1:8081".to_owned());
        let out = String::from_utf8(r.to_json().to_vec()).expect("utf8");
        assert!(
            out.contains(r#""enableActingMaster":false,"grpcAddrs":{"0":"10.0.0.1:8081"}}"#),
            "{out}"
        );
        assert_eq!(TopicRouteData::from_json(out.as_bytes()), Ok(r));
    }

    #[test]
    fn parses_legacy_cluster_info() {
        let text = r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false,"zoneName":"z1"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#;
        let c = ClusterInfo::from_json(text.as_bytes()).expect("parses");
        assert_eq!(
            c.broker_addr_table["broker-a"].zone_name.as_deref(),
            Some("z1")
        );
        assert!(c.cluster_addr_table["DefaultCluster"].contains("broker-a"));
        assert_eq!(ClusterInfo::from_json(&c.to_json()), Ok(c));
    }

    fn broker_data() -> impl Strategy<Value = BrokerData> {
        (
            prop::collection::btree_map(any::<i64>(), any::<String>(), 0..4),
            any::<String>(),
            any::<String>(),
            any::<bool>(),
            any::<Option<String>>(),
            prop::collection::btree_map(any::<i64>(), any::<String>(), 0..2),
        )
            .prop_map(
                |(
                    broker_addrs,
                    broker_name,
                    cluster,
                    enable_acting_master,
                    zone_name,
                    grpc_addrs,
                )| {
                    BrokerData {
                        broker_addrs,
                        broker_name,
                        cluster,
                        enable_acting_master,
                        zone_name,
                        grpc_addrs,
                    }
                },
            )
    }

    fn queue_data() -> impl Strategy<Value = QueueData> {
        (
            any::<String>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
        )
            .prop_map(
                |(broker_name, perm, read_queue_nums, topic_sys_flag, write_queue_nums)| {
                    QueueData {
                        broker_name,
                        perm,
                        read_queue_nums,
                        topic_sys_flag,
                        write_queue_nums,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn route_round_trips(
            broker_datas in prop::collection::vec(broker_data(), 0..3),
            queue_datas in prop::collection::vec(queue_data(), 0..3),
            order_topic_conf in any::<Option<String>>(),
        ) {
            let r = TopicRouteData { broker_datas, order_topic_conf, queue_datas, ..Default::default() };
            prop_assert_eq!(TopicRouteData::from_json(&r.to_json()), Ok(r));
        }
    }
}
