//! `HEART_BEAT` (34) body: who the client is and which groups and subscriptions it has; plus the
//! `GET_CONSUMER_LIST_BY_GROUP` (38) response body.
//!
//! Java sets (`Set<ProducerData>`, `Set<String>` …) are JSON arrays; they are `Vec`s here so that a
//! round trip keeps the order the client chose.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::json::{lenient_enum, lenient_i64, null_as_default, JsonBody};

/// How a consumer fetches (`ConsumeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeType {
    /// Pull and lite-pull consumers.
    ConsumeActively,
    /// Push consumers.
    ConsumePassively,
    ConsumePop,
}

/// `MessageModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageModel {
    /// Every consumer of the group gets every message; offsets are kept by the client.
    Broadcasting,
    /// Queues are shared out among the group's consumers.
    Clustering,
}

/// Where a new consumer group starts (`ConsumeFromWhere`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeFromWhere {
    ConsumeFromLastOffset,
    /// Deprecated in Java.
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    /// Deprecated in Java.
    ConsumeFromMinOffset,
    /// Deprecated in Java.
    ConsumeFromMaxOffset,
    ConsumeFromFirstOffset,
    ConsumeFromTimestamp,
}

/// Subscription expression types (`ExpressionType`; a plain string in Java).
pub mod expression_type {
    pub const TAG: &str = "TAG";
    pub const SQL92: &str = "SQL92";
}

/// The "subscribe to everything" expression.
pub const SUB_ALL: &str = "*";

/// One topic subscription of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    pub class_filter_mode: bool,
    /// Java hashes of the tags (`String.hashCode`). Java writes numbers, the Go client strings.
    #[serde(deserialize_with = "lenient_codes")]
    pub code_set: Vec<i32>,
    /// [`expression_type::TAG`] or [`expression_type::SQL92`].
    pub expression_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_class_source: Option<String>,
    /// The expression: `*`, `TagA || TagB`, or SQL92 text.
    pub sub_string: String,
    /// Version (ms timestamp); a newer heartbeat replaces an older subscription.
    #[serde(deserialize_with = "lenient_i64")]
    pub sub_version: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub tags_set: Vec<String>,
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        Self {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: expression_type::TAG.to_owned(),
            filter_class_source: None,
            sub_string: SUB_ALL.to_owned(),
            sub_version: 0,
            tags_set: Vec::new(),
            topic: String::new(),
        }
    }
}

/// A consumer group the client belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// `None` when absent or a name this version does not know (Java reads it as `null`).
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
    pub group_name: String,
    #[serde(
        deserialize_with = "lenient_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
    #[serde(deserialize_with = "null_as_default")]
    pub subscription_data_set: Vec<SubscriptionData>,
    pub unit_mode: bool,
}

/// A producer group the client belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    pub group_name: String,
}

/// The `HEART_BEAT` body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    /// `<ip>@<instanceName>[@<unitName>]`; spelled `clientID` on the wire.
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// Heartbeat v2: a hash of the subscriptions (0 when unused).
    pub heartbeat_fingerprint: i32,
    #[serde(deserialize_with = "null_as_default")]
    pub producer_data_set: Vec<ProducerData>,
    /// Heartbeat v2: subscriptions unchanged and omitted; keep the previous ones. Java's
    /// `isWithoutSub` getter makes the name `withoutSub`.
    pub without_sub: bool,
}

impl JsonBody for HeartbeatData {}

/// `GET_CONSUMER_LIST_BY_GROUP` response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerListByGroupResponseBody {
    #[serde(deserialize_with = "null_as_default")]
    pub consumer_id_list: Vec<String>,
}

impl JsonBody for ConsumerListByGroupResponseBody {}

/// `#[serde(deserialize_with)]` for `codeSet`: numbers (Java) or decimal strings
/// (rocketmq-client-go, whose set type writes `["2598919"]`); `null` reads as empty.
fn lenient_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    #[derive(Deserialize)]
    struct Code(#[serde(deserialize_with = "lenient_i64")] i64);
    Option::<Vec<Code>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|Code(c)| {
            i32::try_from(c).map_err(|_| D::Error::custom(format!("tag code {c} is not an int")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A Java push consumer's heartbeat, members as fastjson writes them.
    const JAVA_HEARTBEAT: &str = r#"{"clientID":"10.0.0.5@12345#81731234567","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg1","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"TopicTest"},{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000001,"tagsSet":[],"topic":"%RETRY%cg1"}],"unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"},{"groupName":"pg1"}],"withoutSub":false}"#;

    /// rocketmq-client-go writes the tag codes as strings.
    #[test]
    fn parses_go_heartbeat_with_string_tag_codes() {
        let h = HeartbeatData::from_json(
            br#"{"clientID":"10.0.0.6@1","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"TagA || TagB","tagsSet":["TagA","TagB"],"codeSet":["2598919","2598920"],"subVersion":1,"expressionType":"TAG"}],"unitMode":false}]}"#,
        )
        .expect("parses");
        let s = &h.consumer_data_set[0].subscription_data_set[0];
        assert_eq!(s.code_set, vec![2_598_919, 2_598_920]);
        assert_eq!(s.tags_set, ["TagA", "TagB"]);
        assert!(HeartbeatData::from_json(
            br#"{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["x"]}]}]}"#
        )
        .is_err());
    }

    #[test]
    fn parses_java_heartbeat() {
        let h = HeartbeatData::from_json(JAVA_HEARTBEAT.as_bytes()).expect("parses");
        assert_eq!(h.client_id, "10.0.0.5@12345#81731234567");
        let c = &h.consumer_data_set[0];
        assert_eq!(c.consume_type, Some(ConsumeType::ConsumePassively));
        assert_eq!(c.message_model, Some(MessageModel::Clustering));
        assert_eq!(
            c.consume_from_where,
            Some(ConsumeFromWhere::ConsumeFromLastOffset)
        );
        assert_eq!(c.subscription_data_set[0].code_set, vec![2_598_919]);
        assert_eq!(c.subscription_data_set[1].sub_string, SUB_ALL);
        assert_eq!(h.producer_data_set.len(), 2);
        // Emitted back byte for byte: same members, same (sorted) order.
        assert_eq!(h.to_json(), JAVA_HEARTBEAT.as_bytes());
    }

    #[test]
    fn tolerates_unknown_enums_nulls_and_missing_members() {
        let text = r#"{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_SOMEHOW","messageModel":null,"subscriptionDataSet":null}],"producerDataSet":null}"#;
        let h = HeartbeatData::from_json(text.as_bytes()).expect("parses");
        assert_eq!(h.consumer_data_set[0].consume_type, None);
        assert_eq!(h.consumer_data_set[0].message_model, None);
        assert!(h.consumer_data_set[0].subscription_data_set.is_empty());
        assert!(h.producer_data_set.is_empty());
        assert!(!h.without_sub);
    }

    #[test]
    fn parses_consumer_list() {
        let b = ConsumerListByGroupResponseBody::from_json(br#"{"consumerIdList":["a@1","b@2"]}"#)
            .expect("parses");
        assert_eq!(b.consumer_id_list, ["a@1", "b@2"]);
    }

    fn subscription() -> impl Strategy<Value = SubscriptionData> {
        (
            any::<String>(),
            any::<String>(),
            any::<i64>(),
            prop::collection::vec(any::<i32>(), 0..3),
        )
            .prop_map(
                |(topic, sub_string, sub_version, code_set)| SubscriptionData {
                    code_set,
                    sub_string,
                    sub_version,
                    topic,
                    ..SubscriptionData::default()
                },
            )
    }

    proptest! {
        #[test]
        fn heartbeat_round_trips(
            client_id in any::<String>(),
            groups in prop::collection::vec((any::<String>(), prop::collection::vec(subscription(), 0..3)), 0..3),
            producers in prop::collection::vec(any::<String>(), 0..3),
            without_sub in any::<bool>(),
        ) {
            let h = HeartbeatData {
                client_id,
                consumer_data_set: groups
                    .into_iter()
                    .map(|(group_name, subscription_data_set)| ConsumerData {
                        group_name,
                        subscription_data_set,
                        consume_type: Some(ConsumeType::ConsumeActively),
                        message_model: Some(MessageModel::Broadcasting),
                        consume_from_where: Some(ConsumeFromWhere::ConsumeFromTimestamp),
                        unit_mode: false,
                    })
                    .collect(),
                producer_data_set: producers.into_iter().map(|group_name| ProducerData { group_name }).collect(),
                heartbeat_fingerprint: 7,
                without_sub,
            };
            prop_assert_eq!(HeartbeatData::from_json(&h.to_json()), Ok(h));
        }
    }
}
