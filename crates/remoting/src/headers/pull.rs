//! Pulling: `PULL_MESSAGE` (11) and `LITE_PULL_MESSAGE` (361).

use super::ext_header;

/// Bits of [`PullMessageRequestHeader::sys_flag`] (`PullSysFlag`).
pub mod sys_flag {
    /// Also commit `commitOffset` for the queue.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// The broker may hold the request (long polling) while no message is available.
    pub const SUSPEND: i32 = 0x2;
    /// Use the request's `subscription`/`expressionType` instead of the heartbeat's.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Legacy filter-server mode.
    pub const CLASS_FILTER: i32 = 0x8;
    /// Sent by the lite pull consumer.
    pub const LITE_PULL: i32 = 0x10;
}

/// Values of [`PullMessageResponseHeader::forbidden_type`] on `NO_PERMISSION`.
pub mod forbidden_type {
    pub const BROKER_FORBIDDEN: i32 = 1;
    pub const GROUP_FORBIDDEN: i32 = 2;
    pub const TOPIC_FORBIDDEN: i32 = 3;
    pub const BROADCASTING_DISABLE_FORBIDDEN: i32 = 4;
    pub const SUBSCRIPTION_FORBIDDEN: i32 = 5;
}

ext_header! {
    /// Pull request.
    pub struct PullMessageRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// Logical offset to start from.
        pub queue_offset: i64 = "queueOffset",
        pub max_msg_nums: i32 = "maxMsgNums",
        /// See [`sys_flag`].
        pub sys_flag: i32 = "sysFlag",
        /// Consumer offset to commit (only with [`sys_flag::COMMIT_OFFSET`]).
        pub commit_offset: i64 = "commitOffset",
        /// Long-poll hold time.
        pub suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        /// Subscription expression (only with [`sys_flag::SUBSCRIPTION`]).
        pub subscription: Option<String> = "subscription",
        pub sub_version: i64 = "subVersion",
        /// `TAG` when absent or empty, or `SQL92`.
        pub expression_type: Option<String> = "expressionType",
        pub max_msg_bytes: Option<i32> = "maxMsgBytes",
        pub request_source: Option<i32> = "requestSource",
        /// Spelled as in Java.
        pub proxy_forward_client_id: Option<String> = "proxyFrowardClientId",
    }
}

impl PullMessageRequestHeader {
    #[must_use]
    pub fn has_flag(&self, bit: i32) -> bool {
        self.sys_flag & bit != 0
    }
}

ext_header! {
    /// Pull response; the body (on success) is the concatenated stored records.
    pub struct PullMessageResponseHeader {
        /// Broker id to pull from next (0 = master).
        pub suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        pub next_begin_offset: i64 = "nextBeginOffset",
        pub min_offset: i64 = "minOffset",
        pub max_offset: i64 = "maxOffset",
        /// Static topics only.
        pub offset_delta: Option<i64> = "offsetDelta",
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        pub group_sys_flag: Option<i32> = "groupSysFlag",
        /// See [`forbidden_type`].
        pub forbidden_type: Option<i32> = "forbiddenType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;
    use crate::headers::CustomHeader;

    round_trip_tests!(
        pull_request: PullMessageRequestHeader,
        pull_response: PullMessageResponseHeader,
    );

    /// A push consumer's pull as a Java client sends it (sysFlag 3, no subscription).
    #[test]
    fn decodes_a_java_push_pull() {
        let f = [
            ("consumerGroup", "cg1"),
            ("topic", "TopicTest"),
            ("queueId", "0"),
            ("queueOffset", "12"),
            ("maxMsgNums", "32"),
            ("sysFlag", "3"),
            ("commitOffset", "10"),
            ("suspendTimeoutMillis", "15000"),
            ("subVersion", "1700000000000"),
            ("expressionType", "TAG"),
            ("maxMsgBytes", "262144"),
            ("bname", "broker-a"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let h = PullMessageRequestHeader::from_ext_fields(&f).expect("decodes");
        assert!(h.has_flag(sys_flag::COMMIT_OFFSET) && h.has_flag(sys_flag::SUSPEND));
        assert!(!h.has_flag(sys_flag::SUBSCRIPTION));
        assert_eq!(h.subscription, None);
        assert_eq!(h.max_msg_bytes, Some(262_144));
    }
}
