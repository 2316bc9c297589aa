//! Server-side queue assignment: the bodies of `QUERY_ASSIGNMENT` (400),
//! `SET_MESSAGE_REQUEST_MODE` (401) and `GET_ALL_MESSAGE_REQUEST_MODE` (402). The last is also the
//! broker's `config/messageRequestMode.json`, as Java's `MessageRequestModeManager` writes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::heartbeat::MessageModel;
use super::json::{lenient_enum, null_as_default, JsonBody};
use super::lock::MessageQueue;

/// How a group consumes a topic: pulling offsets itself, or popping (`MessageRequestMode`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageRequestMode {
    #[default]
    Pull,
    Pop,
}

/// `SetMessageRequestModeRequestBody`: one (topic, group)'s mode. `pop_share_queue_num` is how
/// many following consumers' queues a POP consumer also serves (0 or less: every queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetMessageRequestModeRequestBody {
    pub topic: String,
    pub consumer_group: String,
    /// `PULL` when absent (Java's initialiser); an unknown name reads as `None`, as Java reads it
    /// as `null`, and the broker refuses it.
    #[serde(deserialize_with = "lenient_enum")]
    pub mode: Option<MessageRequestMode>,
    pub pop_share_queue_num: i32,
}

impl Default for SetMessageRequestModeRequestBody {
    fn default() -> Self {
        Self {
            topic: String::new(),
            consumer_group: String::new(),
            mode: Some(MessageRequestMode::Pull),
            pop_share_queue_num: 0,
        }
    }
}

impl JsonBody for SetMessageRequestModeRequestBody {}

/// `GET_ALL_MESSAGE_REQUEST_MODE` response body and the persisted table: topic → group → mode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageRequestModeWrapper {
    #[serde(deserialize_with = "null_as_default")]
    pub message_request_mode_map:
        BTreeMap<String, BTreeMap<String, SetMessageRequestModeRequestBody>>,
}

impl JsonBody for MessageRequestModeWrapper {}

/// `QueryAssignmentRequestBody`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryAssignmentRequestBody {
    pub topic: String,
    pub consumer_group: String,
    pub client_id: String,
    /// The client's allocation strategy: `AVG` or `AVG_BY_CIRCLE`.
    pub strategy_name: String,
    #[serde(
        deserialize_with = "lenient_enum",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_model: Option<MessageModel>,
}

impl JsonBody for QueryAssignmentRequestBody {}

/// One assigned queue and how to consume it (`MessageQueueAssignment`). A POP assignment with
/// queue id −1 means "pop any queue of that broker".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueueAssignment {
    pub message_queue: MessageQueue,
    pub mode: MessageRequestMode,
    #[serde(deserialize_with = "null_as_default")]
    pub attachments: BTreeMap<String, String>,
}

/// `QueryAssignmentResponseBody`. `None` (the field absent) tells the client the answer is not
/// usable and to keep what it has; an empty list, to drop every queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryAssignmentResponseBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_queue_assignments: Option<Vec<MessageQueueAssignment>>,
}

impl JsonBody for QueryAssignmentResponseBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_java_sends() {
        let set = br#"{"consumerGroup":"g","mode":"POP","popShareQueueNum":1,"topic":"T"}"#;
        let body = SetMessageRequestModeRequestBody::from_json(set).expect("decodes");
        assert_eq!(body.mode, Some(MessageRequestMode::Pop));
        assert_eq!(body.pop_share_queue_num, 1);
        let odd = SetMessageRequestModeRequestBody::from_json(br#"{"topic":"T","mode":"PUSH"}"#)
            .expect("decodes");
        assert_eq!(odd.mode, None, "an unknown mode reads as null");
        let bare = SetMessageRequestModeRequestBody::from_json(br#"{"topic":"T"}"#).expect("ok");
        assert_eq!(
            bare.mode,
            Some(MessageRequestMode::Pull),
            "PULL when absent"
        );

        let q = br#"{"clientId":"10.0.0.1@1","consumerGroup":"g","messageModel":"CLUSTERING","strategyName":"AVG","topic":"T"}"#;
        let q = QueryAssignmentRequestBody::from_json(q).expect("decodes");
        assert_eq!(q.message_model, Some(MessageModel::Clustering));
        assert_eq!(q.strategy_name, "AVG");
    }

    #[test]
    fn encodes_the_shapes_java_reads() {
        let resp = QueryAssignmentResponseBody {
            message_queue_assignments: Some(vec![MessageQueueAssignment {
                message_queue: MessageQueue {
                    broker_name: "b".into(),
                    queue_id: -1,
                    topic: "T".into(),
                },
                mode: MessageRequestMode::Pop,
                attachments: BTreeMap::new(),
            }]),
        };
        assert_eq!(
            &resp.to_json()[..],
            br#"{"messageQueueAssignments":[{"messageQueue":{"brokerName":"b","queueId":-1,"topic":"T"},"mode":"POP","attachments":{}}]}"#
        );
        assert_eq!(&QueryAssignmentResponseBody::default().to_json()[..], b"{}");

        let mut wrapper = MessageRequestModeWrapper::default();
        wrapper
            .message_request_mode_map
            .entry("T".into())
            .or_default()
            .insert(
                "g".into(),
                SetMessageRequestModeRequestBody {
                    topic: "T".into(),
                    consumer_group: "g".into(),
                    mode: Some(MessageRequestMode::Pop),
                    pop_share_queue_num: 0,
                },
            );
        let json = wrapper.to_json();
        assert_eq!(
            &json[..],
            br#"{"messageRequestModeMap":{"T":{"g":{"topic":"T","consumerGroup":"g","mode":"POP","popShareQueueNum":0}}}}"#
        );
        assert_eq!(
            MessageRequestModeWrapper::from_json(&json).expect("round trip"),
            wrapper
        );
    }
}
