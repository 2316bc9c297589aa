//! POP consumption (5.x): `POP_MESSAGE` (200050), `ACK_MESSAGE` (200051),
//! `CHANGE_MESSAGE_INVISIBLETIME` (200053). Their codes do not fit the 16-bit code field of the
//! `ROCKETMQ` header encoding, so these travel in JSON headers only.
//!
//! Each popped message carries a receipt handle, Java's "extra info": the client reads it from the
//! message property `POP_CK` and sends it back as `extraInfo`.

use super::ext_header;

/// Values of [`PopMessageRequestHeader::init_mode`]: where a group without a committed offset
/// starts.
pub mod init_mode {
    /// The queue's first message.
    pub const MIN: i32 = 0;
    /// The queue's end.
    pub const MAX: i32 = 1;
}

ext_header! {
    /// `POP_MESSAGE` request.
    pub struct PopMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        /// −1: any queue of this broker.
        pub queue_id: i32 = "queueId",
        pub max_msg_nums: i32 = "maxMsgNums",
        /// Milliseconds the popped messages stay invisible to the group.
        pub invisible_time: i64 = "invisibleTime",
        /// Milliseconds the broker may hold the request while nothing is there.
        pub poll_time: i64 = "pollTime",
        /// Client clock at sending (ms).
        pub born_time: i64 = "bornTime",
        /// See [`init_mode`].
        pub init_mode: i32 = "initMode",
        /// `TAG` or `SQL92`.
        pub exp_type: Option<String> = "expType",
        pub exp: Option<String> = "exp",
        /// FIFO: the next message of a queue only after the previous one was acked.
        pub order: Option<bool> = "order",
        pub attempt_id: Option<String> = "attemptId",
    }
}

ext_header! {
    /// `POP_MESSAGE` response; the body is the popped messages as stored records.
    pub struct PopMessageResponseHeader {
        /// When the broker popped the messages (ms since the epoch).
        pub pop_time: i64 = "popTime",
        pub invisible_time: i64 = "invisibleTime",
        pub revive_qid: i32 = "reviveQid",
        /// Messages left in the popped queues.
        pub rest_num: i64 = "restNum",
        /// `topicType queueId startOffset` entries joined by `;`.
        pub start_offset_info: Option<String> = "startOffsetInfo",
        /// `topicType queueId offset,offset,...` entries joined by `;`.
        pub msg_offset_info: Option<String> = "msgOffsetInfo",
        /// `topicType queueId count` entries joined by `;` (FIFO redelivery counts).
        pub order_count_info: Option<String> = "orderCountInfo",
    }
}

ext_header! {
    /// `ACK_MESSAGE` request.
    pub struct AckMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// The receipt handle.
        pub extra_info: String = "extraInfo",
        /// The message's queue offset.
        pub offset: i64 = "offset",
        pub broker_name: Option<String> = "bname",
    }
}

ext_header! {
    /// `CHANGE_MESSAGE_INVISIBLETIME` request.
    pub struct ChangeInvisibleTimeRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// The receipt handle.
        pub extra_info: String = "extraInfo",
        pub offset: i64 = "offset",
        /// Milliseconds from now the message stays invisible.
        pub invisible_time: i64 = "invisibleTime",
        pub broker_name: Option<String> = "bname",
    }
}

ext_header! {
    /// `CHANGE_MESSAGE_INVISIBLETIME` response: the client builds the message's new handle from
    /// these and the request's offset, queue and topic.
    pub struct ChangeInvisibleTimeResponseHeader {
        pub pop_time: i64 = "popTime",
        pub invisible_time: i64 = "invisibleTime",
        pub revive_qid: i32 = "reviveQid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;
    use crate::headers::CustomHeader;

    round_trip_tests!(
        pop_request: PopMessageRequestHeader,
        pop_response: PopMessageResponseHeader,
        ack_request: AckMessageRequestHeader,
        change_invisible_request: ChangeInvisibleTimeRequestHeader,
        change_invisible_response: ChangeInvisibleTimeResponseHeader,
    );

    #[test]
    fn java_field_names() {
        let h = PopMessageRequestHeader {
            consumer_group: "g".into(),
            topic: "T".into(),
            queue_id: -1,
            max_msg_nums: 32,
            invisible_time: 60_000,
            poll_time: 20_000,
            born_time: 1,
            init_mode: init_mode::MAX,
            exp_type: Some("TAG".into()),
            exp: Some("*".into()),
            order: Some(false),
            attempt_id: None,
        };
        let map = h.to_ext_fields();
        for key in [
            "consumerGroup",
            "topic",
            "queueId",
            "maxMsgNums",
            "invisibleTime",
            "pollTime",
            "bornTime",
            "initMode",
            "expType",
            "exp",
            "order",
        ] {
            assert!(map.contains_key(key), "{key} missing from {map:?}");
        }
        assert_eq!(map["queueId"], "-1");
    }
}
