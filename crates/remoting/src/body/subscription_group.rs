//! Consumer group settings: `SubscriptionGroupConfig`, the body of
//! `UPDATE_AND_CREATE_SUBSCRIPTIONGROUP` (200) and `GET_SUBSCRIPTIONGROUP_CONFIG` (352), and the
//! `SubscriptionGroupWrapper` of `GET_ALL_SUBSCRIPTIONGROUP_CONFIG` (201), which is also the
//! broker's `config/subscriptionGroup.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::json::{null_as_default, JsonBody};
use super::register::DataVersion;

/// One consumer group's settings, with Java's field names and defaults.
#[allow(clippy::struct_excessive_bools)] // the wire format's flags, one JSON field each
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    pub consume_message_orderly: bool,
    pub retry_queue_nums: i32,
    /// Deliveries through the retry topic before a message goes to `%DLQ%<group>`.
    pub retry_max_times: i32,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
    pub group_sys_flag: i32,
    pub consume_timeout_minute: i32,
    #[serde(deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            consume_message_orderly: false,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
            group_sys_flag: 0,
            consume_timeout_minute: 15,
            attributes: BTreeMap::new(),
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with Java's defaults.
    #[must_use]
    pub fn named(group: impl Into<String>) -> Self {
        Self {
            group_name: group.into(),
            ..Self::default()
        }
    }
}

impl JsonBody for SubscriptionGroupConfig {}

/// Every group of a broker, versioned like the topic table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    pub data_version: DataVersion,
}

impl JsonBody for SubscriptionGroupWrapper {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a Java 5.x broker answers to 201 (abridged to one group).
    #[test]
    fn parses_java_wrapper() {
        let text = br#"{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"subscriptionGroupTable":{"cg":{"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"cg","groupRetryPolicy":{"type":"CUSTOMIZED"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":3,"retryQueueNums":1,"subscriptionDataSet":null,"whichBrokerWhenConsumeSlowly":1,"attributes":{}}}}"#;
        let w = SubscriptionGroupWrapper::from_json(text).expect("parses");
        assert_eq!(w.data_version.counter, 3);
        let g = &w.subscription_group_table["cg"];
        assert_eq!(g.retry_max_times, 3);
        assert!(g.consume_enable);
        assert_eq!(SubscriptionGroupWrapper::from_json(&w.to_json()), Ok(w));
    }

    #[test]
    fn missing_fields_take_java_defaults() {
        let g = SubscriptionGroupConfig::from_json(br#"{"groupName":"g"}"#).expect("parses");
        assert_eq!(g, SubscriptionGroupConfig::named("g"));
        assert_eq!(g.retry_max_times, 16);
    }
}
