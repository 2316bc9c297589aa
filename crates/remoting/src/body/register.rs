//! Broker registration: the `REGISTER_BROKER` (103) body, the topic configs it carries and the
//! `DataVersion` also used by `QUERY_DATA_VERSION` (322).
//!
//! This is the JSON form; `register_compressed` has the compressed one (`compressed=true`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::json::{lenient_enum, lenient_i64, null_as_default, JsonBody};
use super::route::perm;

/// A version stamp of a broker's topic table; the name server re-reads topics when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    #[serde(deserialize_with = "lenient_i64")]
    pub counter: i64,
    #[serde(deserialize_with = "lenient_i64")]
    pub state_version: i64,
    /// Milliseconds since the epoch.
    #[serde(deserialize_with = "lenient_i64")]
    pub timestamp: i64,
}

impl JsonBody for DataVersion {}

/// How tags are matched (`TopicFilterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopicFilterType {
    #[default]
    SingleTag,
    MultiTag,
}

/// One topic as a broker stores and registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// e.g. `message.type` → `NORMAL`.
    #[serde(deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
    pub order: bool,
    /// See [`perm`].
    pub perm: i32,
    pub read_queue_nums: i32,
    /// `None` for a name this version does not know (Java reads it as `null`).
    #[serde(
        deserialize_with = "lenient_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub topic_filter_type: Option<TopicFilterType>,
    pub topic_name: String,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    /// Java's defaults: 16 read and write queues, read+write permission, single tag.
    fn default() -> Self {
        Self {
            attributes: BTreeMap::new(),
            order: false,
            perm: perm::READ | perm::WRITE,
            read_queue_nums: 16,
            topic_filter_type: Some(TopicFilterType::SingleTag),
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl JsonBody for TopicConfig {}

/// `TopicConfigAndMappingSerializeWrapper`: the broker's whole topic table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    pub data_version: DataVersion,
    /// Static-topic mapping version (present from 5.x brokers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
    #[serde(deserialize_with = "null_as_default")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// Static-topic details, carried through unparsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<serde_json::Value>,
    /// Static-topic mappings (their `currIdMap` has integer keys), carried through unparsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<serde_json::Value>,
}

impl JsonBody for TopicConfigSerializeWrapper {}

/// The `REGISTER_BROKER` body (uncompressed form).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    #[serde(deserialize_with = "null_as_default")]
    pub filter_server_list: Vec<String>,
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl JsonBody for RegisterBrokerBody {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Java 5.x broker's registration body (fastjson output).
    const JAVA_REGISTER: &str = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"attributes":{"message.type":"NORMAL"},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4},"TBW102":{"attributes":{},"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"TBW102","topicSysFlag":0,"writeQueueNums":8}},"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{"ST":{"bname":"broker-a","currIdMap":{0:1},"epoch":0,"scope":"__global__","topic":"ST","totalQueues":1}}}}"#;

    #[test]
    fn parses_java_register_body() {
        let b = RegisterBrokerBody::from_json(JAVA_REGISTER.as_bytes()).expect("parses");
        let w = &b.topic_config_serialize_wrapper;
        assert_eq!(w.data_version.counter, 3);
        let tbw = &w.topic_config_table["TBW102"];
        assert_eq!(tbw.perm, perm::READ | perm::WRITE | perm::INHERIT);
        assert_eq!(tbw.topic_filter_type, Some(TopicFilterType::SingleTag));
        assert_eq!(
            w.topic_config_table["TopicTest"]
                .attributes
                .get("message.type")
                .map(String::as_str),
            Some("NORMAL")
        );
        // The unquoted `currIdMap` key was normalised; the mapping is kept as JSON.
        let info = w.topic_queue_mapping_info_map.as_ref().expect("kept");
        assert_eq!(info["ST"]["currIdMap"]["0"], 1);
        assert_eq!(RegisterBrokerBody::from_json(&b.to_json()), Ok(b));
    }

    proptest! {
        #[test]
        fn topic_config_round_trips(
            topic_name in any::<String>(),
            read in any::<i32>(),
            write in any::<i32>(),
            perm_bits in 0..16i32,
            order in any::<bool>(),
            attributes in prop::collection::btree_map(any::<String>(), any::<String>(), 0..3),
        ) {
            let t = TopicConfig {
                topic_name,
                read_queue_nums: read,
                write_queue_nums: write,
                perm: perm_bits,
                order,
                attributes,
                topic_filter_type: Some(TopicFilterType::MultiTag),
                ..TopicConfig::default()
            };
            prop_assert_eq!(TopicConfig::from_json(&t.to_json()), Ok(t));
        }
    }
}
