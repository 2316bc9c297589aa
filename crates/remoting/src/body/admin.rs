//! Admin and statistics bodies: connections (203, 204), topic and consume statistics (202, 208),
//! offset resets (220, 222), consumer status (221, 223) and `CHECK_CLIENT_CONFIG` (46).
//!
//! Several Java maps here are keyed by `MessageQueue`. fastjson writes such a key as a raw JSON
//! object (`{{"brokerName":"b","queueId":0,"topic":"T"}:5}`), which is not JSON; Java also accepts
//! the key as a string holding that object, and that is what we emit. On input, the fastjson
//! normalisation turns raw object keys into such strings, so one key parser handles both.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::heartbeat::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use super::json::{lenient_enum, null_as_default, JsonBody};
use super::lock::MessageQueue;
use crate::language::LanguageCode;

/// `#[serde(with = "mq_keyed")]` for `BTreeMap<MessageQueue, V>`.
mod mq_keyed {
    use super::{BTreeMap, Deserialize, Deserializer, MessageQueue, Serialize, Serializer};
    use serde::de::Error as _;
    use serde::ser::Error as _;

    pub(super) fn serialize<S: Serializer, V: Serialize>(
        map: &BTreeMap<MessageQueue, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut keyed = Vec::with_capacity(map.len());
        for (mq, v) in map {
            keyed.push((serde_json::to_string(mq).map_err(S::Error::custom)?, v));
        }
        s.collect_map(keyed)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<BTreeMap<MessageQueue, V>, D::Error> {
        let raw = Option::<BTreeMap<String, V>>::deserialize(d)?.unwrap_or_default();
        raw.into_iter()
            .map(|(k, v)| {
                serde_json::from_str::<MessageQueue>(&k)
                    .map(|mq| (mq, v))
                    .map_err(|e| D::Error::custom(format!("bad MessageQueue key {k:?}: {e}")))
            })
            .collect()
    }
}

/// `#[serde(with = "language_name")]`: a [`LanguageCode`] as Java's constant name.
mod language_name {
    use super::{Deserialize, Deserializer, LanguageCode, Serializer};
    use serde::de::Error as _;

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` passes fields by reference
    pub(super) fn serialize<S: Serializer>(l: &LanguageCode, s: S) -> Result<S::Ok, S::Error> {
        match l.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u8(l.code()),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LanguageCode, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(name) => {
                Ok(LanguageCode::from_name(&name).unwrap_or(LanguageCode::Other))
            }
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|c| u8::try_from(c).ok())
                .map(LanguageCode::from)
                .ok_or_else(|| D::Error::custom("language code out of range")),
            serde_json::Value::Null => Ok(LanguageCode::default()),
            other => Err(D::Error::custom(format!("bad language {other}"))),
        }
    }
}

/// One client connection as listed by the admin tool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// `ip:port` of the client socket.
    pub client_addr: String,
    pub client_id: String,
    #[serde(with = "language_name")]
    pub language: LanguageCode,
    pub version: i32,
}

/// `GET_CONSUMER_CONNECTION_LIST` (203) response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    #[serde(deserialize_with = "null_as_default")]
    pub connection_set: Vec<Connection>,
    #[serde(
        deserialize_with = "lenient_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_from_where: Option<ConsumeFromWhere>,
    #[serde(
        deserialize_with = "lenient_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub consume_type: Option<ConsumeType>,
    #[serde(
        deserialize_with = "lenient_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
    /// Topic → subscription.
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

impl JsonBody for ConsumerConnection {}

/// `GET_PRODUCER_CONNECTION_LIST` (204) response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    #[serde(deserialize_with = "null_as_default")]
    pub connection_set: Vec<Connection>,
}

impl JsonBody for ProducerConnection {}

/// Offsets of one queue in `TopicStatsTable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// Store time (ms) of the newest message.
    pub last_update_timestamp: i64,
    pub max_offset: i64,
    pub min_offset: i64,
}

/// `GET_TOPIC_STATS_INFO` (202) response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    #[serde(with = "mq_keyed")]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
    pub topic_put_tps: f64,
}

impl JsonBody for TopicStatsTable {}

/// Progress of a consumer group on one queue, in `ConsumeStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// The queue's max offset.
    pub broker_offset: i64,
    /// The committed offset (0 if none).
    pub consumer_offset: i64,
    /// Store time (ms) of the last consumed message (0 if none).
    pub last_timestamp: i64,
    /// Max of the committed offset and the last pull's next offset.
    pub pull_offset: i64,
}

/// `GET_CONSUME_STATS` (208) response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    pub consume_tps: f64,
    #[serde(with = "mq_keyed")]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl JsonBody for ConsumeStats {}

/// `RESET_CONSUMER_CLIENT_OFFSET` (220) body and `INVOKE_BROKER_TO_RESET_OFFSET` (222) reply.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResetOffsetBody {
    #[serde(with = "mq_keyed")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

impl JsonBody for ResetOffsetBody {}

/// A queue → offset table, as a value of another map ([`GetConsumerStatusBody::consumer_table`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueOffsets(#[serde(with = "mq_keyed")] pub BTreeMap<MessageQueue, i64>);

/// `GET_CONSUMER_STATUS_FROM_CLIENT` (221) reply from a consumer (its own offsets in
/// `message_queue_table`) and `INVOKE_BROKER_TO_GET_CONSUMER_STATUS` (223) reply from the broker
/// (every asked consumer's table in `consumer_table`, by client id).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerStatusBody {
    #[serde(with = "mq_keyed")]
    pub message_queue_table: BTreeMap<MessageQueue, i64>,
    #[serde(deserialize_with = "null_as_default")]
    pub consumer_table: BTreeMap<String, QueueOffsets>,
}

impl JsonBody for GetConsumerStatusBody {}

/// One window of [`BrokerStatsData`]: the sum, per second, and per add (e.g. messages per send).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsItem {
    pub sum: i64,
    pub tps: f64,
    pub avgpt: f64,
}

/// `VIEW_BROKER_STATS_DATA` (315) reply: one statistic over the last minute, hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsData {
    pub stats_minute: BrokerStatsItem,
    pub stats_hour: BrokerStatsItem,
    pub stats_day: BrokerStatsItem,
}

impl JsonBody for BrokerStatsData {}

/// `CHECK_CLIENT_CONFIG` (46) request body: validate a non-TAG subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    pub client_id: String,
    pub group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub subscription_data: SubscriptionData,
}

impl JsonBody for CheckClientRequestBody {}

impl CheckClientRequestBody {
    /// The subscription's expression type, `TAG` when empty.
    #[must_use]
    pub fn expression_type(&self) -> &str {
        match self.subscription_data.expression_type.as_str() {
            "" => super::heartbeat::expression_type::TAG,
            t => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(queue_id: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".into(),
            queue_id,
            topic: "T".into(),
        }
    }

    #[test]
    fn mq_keys_are_emitted_as_json_strings() {
        let body = ResetOffsetBody {
            offset_table: [(mq(0), 5), (mq(1), 7)].into_iter().collect(),
        };
        let text = String::from_utf8(body.to_json().to_vec()).expect("utf8");
        assert_eq!(
            text,
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":5,"{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"T\"}":7}}"#
        );
        assert_eq!(ResetOffsetBody::from_json(text.as_bytes()), Ok(body));
    }

    /// fastjson's default output: raw object keys.
    #[test]
    fn parses_raw_object_keys_from_java() {
        let text = br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":1700000000000,"pullOffset":6}}}"#;
        let stats = ConsumeStats::from_json(text).expect("parses");
        assert_eq!(stats.offset_table[&mq(0)].broker_offset, 10);
        assert!((stats.consume_tps - 1.5).abs() < f64::EPSILON);
        assert_eq!(ConsumeStats::from_json(&stats.to_json()), Ok(stats));

        let t = TopicStatsTable::from_json(
            br#"{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":3,"minOffset":0}},"topicPutTps":0.0}"#,
        )
        .expect("parses");
        assert_eq!(t.offset_table[&mq(1)].max_offset, 3);
    }

    /// A Java consumer's answer to 221 (fastjson, raw object keys, no consumer table) and the
    /// broker's 223 reply nesting such tables by client id.
    #[test]
    fn consumer_status_bodies_round_trip() {
        let from_client = GetConsumerStatusBody::from_json(
            br#"{"consumerTable":null,"messageQueueTable":{{"brokerName":"b","queueId":0,"topic":"T"}:12,{"brokerName":"b","queueId":1,"topic":"T"}:3}}"#,
        )
        .expect("parses");
        assert_eq!(from_client.message_queue_table[&mq(0)], 12);
        assert_eq!(from_client.message_queue_table[&mq(1)], 3);
        assert!(from_client.consumer_table.is_empty());

        let reply = GetConsumerStatusBody {
            consumer_table: [(
                "10.0.0.5@1".to_owned(),
                QueueOffsets(from_client.message_queue_table),
            )]
            .into_iter()
            .collect(),
            ..GetConsumerStatusBody::default()
        };
        let text = String::from_utf8(reply.to_json().to_vec()).expect("utf8");
        assert!(
            text.contains(r#""consumerTable":{"10.0.0.5@1":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":12"#),
            "{text}"
        );
        assert_eq!(GetConsumerStatusBody::from_json(text.as_bytes()), Ok(reply));
    }

    /// Java's field names, which `StatsAllSubCommand` reads.
    #[test]
    fn broker_stats_data_uses_java_field_names() {
        let d = BrokerStatsData {
            stats_minute: BrokerStatsItem {
                sum: 10,
                tps: 0.5,
                avgpt: 1.0,
            },
            ..BrokerStatsData::default()
        };
        let text = String::from_utf8(d.to_json().to_vec()).expect("utf8");
        assert!(
            text.starts_with(r#"{"statsMinute":{"sum":10,"tps":0.5,"avgpt":1.0},"statsHour":"#),
            "{text}"
        );
        assert_eq!(BrokerStatsData::from_json(text.as_bytes()), Ok(d));
    }

    #[test]
    fn connection_lists_use_language_names() {
        let c = ConsumerConnection {
            connection_set: vec![Connection {
                client_addr: "10.0.0.5:51234".into(),
                client_id: "10.0.0.5@1".into(),
                language: LanguageCode::Java,
                version: 479,
            }],
            consume_type: Some(ConsumeType::ConsumePassively),
            ..ConsumerConnection::default()
        };
        let text = String::from_utf8(c.to_json().to_vec()).expect("utf8");
        assert!(text.contains(r#""language":"JAVA""#), "{text}");
        assert_eq!(ConsumerConnection::from_json(text.as_bytes()), Ok(c));
    }

    #[test]
    fn parses_check_client_config() {
        let b = CheckClientRequestBody::from_json(
            br#"{"clientId":"c","group":"g","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 1","subVersion":1,"tagsSet":[],"topic":"T"}}"#,
        )
        .expect("parses");
        assert_eq!(b.expression_type(), "SQL92");
        assert_eq!(b.subscription_data.sub_string, "a > 1");
    }
}
