//! Producing: `SEND_MESSAGE` (10, long names), `SEND_MESSAGE_V2` (310) and `SEND_BATCH_MESSAGE` (320)
//! (one-letter names), their response, `CONSUMER_SEND_MSG_BACK` (36), `RECALL_MESSAGE` (370) and
//! the reply push of request-reply, `PUSH_REPLY_MESSAGE_TO_CLIENT` (326).
//!
//! Both request encodings carry the same fields, so there is one struct,
//! [`SendMessageRequestHeader`], whose own `CustomHeader` impl uses the long names, and a wrapper,
//! [`SendMessageRequestHeaderV2`], that reads and writes the letters `a`..`n`. The broker picks the
//! encoding by request code: [`SendMessageRequestHeader::decode_for`].

use super::{ext_header, get, put, CustomHeader};
use crate::codes::RequestCode;
use crate::command::ExtFields;
use crate::error::DecodeError;

ext_header! {
    /// A send request with the long field names (`SEND_MESSAGE`, `SEND_REPLY_MESSAGE`).
    pub struct SendMessageRequestHeader {
        pub producer_group: String = "producerGroup",
        pub topic: String = "topic",
        /// Template topic for auto-creation, normally `TBW102`.
        pub default_topic: String = "defaultTopic",
        /// Queue count for auto-creation.
        pub default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Negative: the broker picks a writable queue.
        pub queue_id: i32 = "queueId",
        pub sys_flag: i32 = "sysFlag",
        /// Milliseconds since the epoch.
        pub born_timestamp: i64 = "bornTimestamp",
        pub flag: i32 = "flag",
        /// The `name\x01value\x02` property string.
        pub properties: Option<String> = "properties",
        pub reconsume_times: Option<i32> = "reconsumeTimes",
        pub unit_mode: Option<bool> = "unitMode",
        /// True: the body is a batch of encoded messages.
        pub batch: Option<bool> = "batch",
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// Target broker name; the long form sends it as the routing field `bname`.
        pub broker_name: Option<String> = "bname",
    }
}

ext_header! {
    /// `PUSH_REPLY_MESSAGE_TO_CLIENT` (326): a reply the broker pushes to the client that sent the
    /// request (request-reply); the body is the reply's body.
    pub struct ReplyMessageRequestHeader {
        pub producer_group: String = "producerGroup",
        pub topic: String = "topic",
        pub default_topic: String = "defaultTopic",
        pub default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        pub queue_id: i32 = "queueId",
        pub sys_flag: i32 = "sysFlag",
        /// Milliseconds since the epoch.
        pub born_timestamp: i64 = "bornTimestamp",
        pub flag: i32 = "flag",
        pub properties: Option<String> = "properties",
        pub reconsume_times: Option<i32> = "reconsumeTimes",
        pub unit_mode: Option<bool> = "unitMode",
        /// The responder's address, `ip:port`.
        pub born_host: String = "bornHost",
        /// The broker's address, `ip:port`.
        pub store_host: String = "storeHost",
        pub store_timestamp: i64 = "storeTimestamp",
    }
}

impl SendMessageRequestHeader {
    /// Reads the header in the encoding the request code implies: one-letter keys for
    /// `SEND_MESSAGE_V2`, `SEND_BATCH_MESSAGE` and `SEND_REPLY_MESSAGE_V2`, long names otherwise.
    ///
    /// # Errors
    /// `MissingField`/`BadField` naming the wire key.
    pub fn decode_for(code: RequestCode, fields: &ExtFields) -> Result<Self, DecodeError> {
        match code {
            RequestCode::SEND_MESSAGE_V2
            | RequestCode::SEND_BATCH_MESSAGE
            | RequestCode::SEND_REPLY_MESSAGE_V2 => {
                SendMessageRequestHeaderV2::from_ext_fields(fields).map(|v2| v2.0)
            }
            _ => Self::from_ext_fields(fields),
        }
    }

    /// Whether the body is a batch (`SEND_BATCH_MESSAGE` always sets it).
    #[must_use]
    pub fn is_batch(&self) -> bool {
        self.batch == Some(true)
    }
}

/// The same header with the compact keys of `SendMessageRequestHeaderV2`:
/// `a` producerGroup, `b` topic, `c` defaultTopic, `d` defaultTopicQueueNums, `e` queueId,
/// `f` sysFlag, `g` bornTimestamp, `h` flag, `i` properties, `j` reconsumeTimes, `k` unitMode,
/// `l` maxReconsumeTimes, `m` batch, `n` brokerName.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageRequestHeaderV2(pub SendMessageRequestHeader);

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        Self(v1)
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        v2.0
    }
}

impl CustomHeader for SendMessageRequestHeaderV2 {
    fn write_ext_fields(&self, out: &mut ExtFields) {
        let h = &self.0;
        put(out, "a", &h.producer_group);
        put(out, "b", &h.topic);
        put(out, "c", &h.default_topic);
        put(out, "d", &h.default_topic_queue_nums);
        put(out, "e", &h.queue_id);
        put(out, "f", &h.sys_flag);
        put(out, "g", &h.born_timestamp);
        put(out, "h", &h.flag);
        put(out, "i", &h.properties);
        put(out, "j", &h.reconsume_times);
        put(out, "k", &h.unit_mode);
        put(out, "l", &h.max_reconsume_times);
        put(out, "m", &h.batch);
        put(out, "n", &h.broker_name);
    }

    fn from_ext_fields(f: &ExtFields) -> Result<Self, DecodeError> {
        Ok(Self(SendMessageRequestHeader {
            producer_group: get(f, "a")?,
            topic: get(f, "b")?,
            default_topic: get(f, "c")?,
            default_topic_queue_nums: get(f, "d")?,
            queue_id: get(f, "e")?,
            sys_flag: get(f, "f")?,
            born_timestamp: get(f, "g")?,
            flag: get(f, "h")?,
            properties: get(f, "i")?,
            reconsume_times: get(f, "j")?,
            unit_mode: get(f, "k")?,
            max_reconsume_times: get(f, "l")?,
            batch: get(f, "m")?,
            broker_name: get(f, "n")?,
        }))
    }
}

ext_header! {
    /// Send response. Java clients also dereference `MSG_REGION` and `TRACE_ON` unconditionally, so
    /// they are always written (with the Java broker defaults unless set).
    pub struct SendMessageResponseHeader {
        /// The offset message id of the stored record; comma-joined for batches.
        pub msg_id: String = "msgId",
        /// The queue actually used.
        pub queue_id: i32 = "queueId",
        /// Queue offset of the (first) stored message.
        pub queue_offset: i64 = "queueOffset",
        /// The message's `UNIQ_KEY`.
        pub transaction_id: Option<String> = "transactionId",
        pub batch_uniq_id: Option<String> = "batchUniqId",
        /// Only for timer messages.
        pub recall_handle: Option<String> = "recallHandle",
        pub msg_region: String = "MSG_REGION" [default: String::from(DEFAULT_REGION)],
        pub trace_on: bool = "TRACE_ON" [default: true],
    }
}

/// The Java broker's default `regionId`.
pub const DEFAULT_REGION: &str = "DefaultRegion";

ext_header! {
    /// `CONSUMER_SEND_MSG_BACK` (36): a consumer hands a failed message back for retry.
    pub struct ConsumerSendMsgBackRequestHeader {
        /// Commit-log offset of the failed message.
        pub offset: i64 = "offset",
        pub group: String = "group",
        /// 0: the broker chooses; negative: straight to the DLQ; positive: explicit level.
        pub delay_level: i32 = "delayLevel",
        pub origin_msg_id: Option<String> = "originMsgId",
        pub origin_topic: Option<String> = "originTopic",
        pub unit_mode: bool = "unitMode" [default: false],
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        pub broker_name: Option<String> = "bname",
    }
}

ext_header! {
    /// `RECALL_MESSAGE` (370): cancel a timer message.
    pub struct RecallMessageRequestHeader {
        pub producer_group: Option<String> = "producerGroup",
        pub topic: String = "topic",
        pub recall_handle: String = "recallHandle",
    }
}

ext_header! {
    /// Response to `RECALL_MESSAGE`.
    pub struct RecallMessageResponseHeader {
        pub msg_id: String = "msgId",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::{assert_round_trip, round_trip_tests};
    use proptest::prelude::*;

    round_trip_tests!(
        send_v1: SendMessageRequestHeader,
        send_response: SendMessageResponseHeader,
        send_back: ConsumerSendMsgBackRequestHeader,
        recall: RecallMessageRequestHeader,
        recall_response: RecallMessageResponseHeader,
    );

    proptest! {
        #[test]
        fn send_v2_round_trips_and_agrees_with_v1(h in any::<SendMessageRequestHeader>()) {
            let v2 = SendMessageRequestHeaderV2::from(h.clone());
            assert_round_trip(&v2);
            let letters = v2.to_ext_fields();
            prop_assert!(letters.keys().all(|k| k.len() == 1));
            let decoded = SendMessageRequestHeader::decode_for(RequestCode::SEND_MESSAGE_V2, &letters);
            prop_assert_eq!(decoded, Ok(h.clone()));
            let long = h.to_ext_fields();
            prop_assert_eq!(SendMessageRequestHeader::decode_for(RequestCode::SEND_MESSAGE, &long), Ok(h));
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// What a Java producer puts in extFields for a plain `send(msg)`.
    #[test]
    fn decodes_a_java_v2_header() {
        let f = fields(&[
            ("a", "pg1"),
            ("b", "TopicTest"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "2"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "UNIQ_KEY\u{1}ABC\u{2}WAIT\u{1}true\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-a"),
            ("bname", "broker-a"),
        ]);
        let h = SendMessageRequestHeader::decode_for(RequestCode::SEND_MESSAGE_V2, &f)
            .expect("Java header decodes");
        assert_eq!(h.producer_group, "pg1");
        assert_eq!(h.queue_id, 2);
        assert_eq!(h.born_timestamp, 1_700_000_000_000);
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
        assert!(!h.is_batch());
        assert_eq!(h.max_reconsume_times, None);
    }

    #[test]
    fn missing_letter_is_named() {
        let f = fields(&[("a", "pg"), ("b", "T"), ("c", "TBW102"), ("d", "4")]);
        assert_eq!(
            SendMessageRequestHeader::decode_for(RequestCode::SEND_MESSAGE_V2, &f),
            Err(DecodeError::MissingField("e"))
        );
    }

    #[test]
    fn response_always_carries_region_and_trace() {
        let h = SendMessageResponseHeader {
            msg_id: "0A000001000027110000000000000000".into(),
            queue_id: 1,
            queue_offset: 7,
            msg_region: DEFAULT_REGION.into(),
            trace_on: true,
            ..Default::default()
        };
        let f = h.to_ext_fields();
        assert_eq!(
            f.get("MSG_REGION").map(String::as_str),
            Some("DefaultRegion")
        );
        assert_eq!(f.get("TRACE_ON").map(String::as_str), Some("true"));
        assert_eq!(f.get("queueOffset").map(String::as_str), Some("7"));
        assert!(!f.contains_key("transactionId"));
    }
}
