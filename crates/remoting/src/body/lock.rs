//! Ordered-consumption locks: `LOCK_BATCH_MQ` (41) and `UNLOCK_BATCH_MQ` (42) bodies.

use serde::{Deserialize, Serialize};

use super::json::{null_as_default, JsonBody};

/// A queue of a topic on a broker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

/// `LOCK_BATCH_MQ` and `UNLOCK_BATCH_MQ` request body (Java has two identical classes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    pub client_id: String,
    pub consumer_group: String,
    #[serde(deserialize_with = "null_as_default")]
    pub mq_set: Vec<MessageQueue>,
    pub only_this_broker: bool,
}

impl JsonBody for LockBatchRequestBody {}

/// `UNLOCK_BATCH_MQ` request body.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// `LOCK_BATCH_MQ` response body: the queues now locked by the requesting client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet", default, deserialize_with = "null_as_default")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

impl JsonBody for LockBatchResponseBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_lock_request_and_emits_response() {
        let text = br#"{"clientId":"10.0.0.5@1","consumerGroup":"cg","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"},{"brokerName":"b","queueId":1,"topic":"T"}],"onlyThisBroker":false}"#;
        let req = LockBatchRequestBody::from_json(text).expect("parses");
        assert_eq!(req.mq_set.len(), 2);
        assert_eq!(&req.to_json()[..], &text[..]);
        let resp = LockBatchResponseBody {
            lock_ok_mq_set: req.mq_set[..1].to_vec(),
        };
        assert_eq!(
            &resp.to_json()[..],
            br#"{"lockOKMQSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}"#
        );
    }
}
