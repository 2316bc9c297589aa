//! `BATCH_ACK_MESSAGE` (200151) request body: acks grouped by the queue and pop they came from.

use serde::{Deserialize, Serialize};

use super::json::{null_as_default, JsonBody};

/// `BatchAckMessageRequestBody`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchAckMessageRequestBody {
    pub broker_name: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub acks: Vec<BatchAck>,
}

impl JsonBody for BatchAckMessageRequestBody {}

/// The acks of one pop of one queue: the message at `start_offset + i` is acked for each bit `i`
/// set in `bits`. Java names the fields with one or two letters (and accepts the long names).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchAck {
    #[serde(rename = "c", alias = "consumerGroup")]
    pub consumer_group: String,
    #[serde(rename = "t", alias = "topic")]
    pub topic: String,
    /// `"1"` for a POP retry topic.
    #[serde(rename = "r", alias = "retry")]
    pub retry: Option<String>,
    #[serde(rename = "so", alias = "startOffset")]
    pub start_offset: i64,
    #[serde(rename = "q", alias = "queueId")]
    pub queue_id: i32,
    #[serde(rename = "rq", alias = "reviveQueueId")]
    pub revive_queue_id: i32,
    #[serde(rename = "pt", alias = "popTime")]
    pub pop_time: i64,
    #[serde(rename = "it", alias = "invisibleTime")]
    pub invisible_time: i64,
    /// `java.util.BitSet.toByteArray()` as fastjson writes a byte array: signed bytes, bit `i`
    /// in byte `i / 8` at position `i % 8`.
    #[serde(rename = "b", alias = "bitSet", deserialize_with = "null_as_default")]
    pub bits: Vec<i16>,
}

impl BatchAck {
    /// The offsets this entry acks, in ascending order. Bits beyond what an `i64` offset can hold
    /// are dropped.
    #[must_use]
    pub fn acked_offsets(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for (byte_index, byte) in self.bits.iter().enumerate() {
            // Signed Java bytes: only the low eight bits carry flags.
            let byte = byte.to_le_bytes()[0];
            for bit in 0..8u32 {
                if byte & (1 << bit) == 0 {
                    continue;
                }
                let index = i64::try_from(byte_index)
                    .ok()
                    .and_then(|b| b.checked_mul(8))
                    .and_then(|b| b.checked_add(i64::from(bit)));
                if let Some(offset) = index.and_then(|i| self.start_offset.checked_add(i)) {
                    out.push(offset);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_java_short_names_and_bits() {
        let json = br#"{"brokerName":"b","acks":[{"c":"g","t":"T","r":"0","so":10,"q":2,"rq":7,"pt":5,"it":6,"b":[5,-128]}]}"#;
        let body = BatchAckMessageRequestBody::from_json(json).expect("decodes");
        let ack = &body.acks[0];
        assert_eq!((ack.consumer_group.as_str(), ack.queue_id), ("g", 2));
        assert_eq!(ack.acked_offsets(), [10, 12, 25]);
    }

    #[test]
    fn accepts_long_names_and_null_bits() {
        let json = br#"{"acks":[{"consumerGroup":"g","topic":"T","startOffset":1,"bitSet":null}]}"#;
        let body = BatchAckMessageRequestBody::from_json(json).expect("decodes");
        assert!(body.acks[0].acked_offsets().is_empty());
    }
}
