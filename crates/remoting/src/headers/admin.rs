//! Admin-tool requests to brokers (topics, groups, statistics) and the broker → client offset reset.

use super::ext_header;

ext_header! {
    /// `UPDATE_AND_CREATE_TOPIC` (17).
    pub struct CreateTopicRequestHeader {
        pub topic: String = "topic",
        /// Normally `TBW102`.
        pub default_topic: String = "defaultTopic",
        pub read_queue_nums: i32 = "readQueueNums",
        pub write_queue_nums: i32 = "writeQueueNums",
        /// Permission bits (see `body::route::perm`).
        pub perm: i32 = "perm",
        /// `SINGLE_TAG` or `MULTI_TAG`; a string in Java's header as well.
        pub topic_filter_type: String = "topicFilterType",
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        pub order: bool = "order" [default: false],
        /// `+key=value,+key2=value2`, or empty.
        pub attributes: Option<String> = "attributes",
        pub force: Option<bool> = "force",
    }
}

ext_header! {
    /// Requests whose only field is a topic: `DELETE_TOPIC_IN_BROKER` (215), `GET_TOPIC_CONFIG`
    /// (351), `GET_TOPIC_STATS_INFO` (202), `QUERY_TOPIC_CONSUME_BY_WHO` (300).
    pub struct TopicRequestHeader {
        pub topic: String = "topic",
    }
}

/// `DELETE_TOPIC_IN_BROKER` (215).
pub type DeleteTopicRequestHeader = TopicRequestHeader;
/// `GET_TOPIC_CONFIG` (351).
pub type GetTopicConfigRequestHeader = TopicRequestHeader;
/// `GET_TOPIC_STATS_INFO` (202).
pub type GetTopicStatsInfoRequestHeader = TopicRequestHeader;
/// `QUERY_TOPIC_CONSUME_BY_WHO` (300).
pub type QueryTopicConsumeByWhoRequestHeader = TopicRequestHeader;

ext_header! {
    /// `GET_CONSUMER_CONNECTION_LIST` (203).
    pub struct GetConsumerConnectionListRequestHeader {
        pub consumer_group: String = "consumerGroup",
    }
}

ext_header! {
    /// `GET_PRODUCER_CONNECTION_LIST` (204).
    pub struct GetProducerConnectionListRequestHeader {
        pub producer_group: String = "producerGroup",
    }
}

ext_header! {
    /// `GET_CONSUME_STATS` (208).
    pub struct GetConsumeStatsRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: Option<String> = "topic",
        /// Comma-separated topics.
        pub topic_list: Option<String> = "topicList",
    }
}

ext_header! {
    /// `DELETE_SUBSCRIPTIONGROUP` (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        pub group_name: String = "groupName",
        pub clean_offset: bool = "cleanOffset" [default: false],
    }
}

ext_header! {
    /// `GET_SUBSCRIPTIONGROUP_CONFIG` (352).
    pub struct GetSubscriptionGroupConfigRequestHeader {
        pub group: String = "group",
    }
}

ext_header! {
    /// `INVOKE_BROKER_TO_RESET_OFFSET` (222, admin → broker) and `RESET_CONSUMER_CLIENT_OFFSET`
    /// (220, broker → client; body `ResetOffsetBody`).
    pub struct ResetOffsetRequestHeader {
        pub group: String = "group",
        pub topic: String = "topic",
        /// -1: every queue.
        pub queue_id: i32 = "queueId" [default: -1],
        pub offset: Option<i64> = "offset",
        /// -1: the max offset; otherwise a store time to search for.
        pub timestamp: i64 = "timestamp",
        /// Spelled `isForce` on the wire (the Java field name).
        pub is_force: bool = "isForce",
    }
}

ext_header! {
    /// `GET_CONSUMER_RUNNING_INFO` (307), relayed admin → broker → client.
    pub struct GetConsumerRunningInfoRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub client_id: String = "clientId",
        pub jstack_enable: bool = "jstackEnable" [default: false],
    }
}

ext_header! {
    /// `GET_CONSUMER_STATUS_FROM_CLIENT` (221) and `INVOKE_BROKER_TO_GET_CONSUMER_STATUS` (223).
    pub struct GetConsumerStatusRequestHeader {
        pub topic: String = "topic",
        pub group: String = "group",
        pub client_addr: Option<String> = "clientAddr",
    }
}

ext_header! {
    /// `VIEW_BROKER_STATS_DATA` (315): one statistic (`TOPIC_PUT_NUMS`, `GROUP_GET_NUMS`, ...) of
    /// one key (a topic, or `topic@group`).
    pub struct ViewBrokerStatsDataRequestHeader {
        pub stats_name: String = "statsName",
        pub stats_key: String = "statsKey",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;
    use crate::headers::CustomHeader;

    round_trip_tests!(
        create_topic: CreateTopicRequestHeader,
        topic: TopicRequestHeader,
        consumer_connections: GetConsumerConnectionListRequestHeader,
        producer_connections: GetProducerConnectionListRequestHeader,
        consume_stats: GetConsumeStatsRequestHeader,
        delete_group: DeleteSubscriptionGroupRequestHeader,
        get_group: GetSubscriptionGroupConfigRequestHeader,
        reset_offset: ResetOffsetRequestHeader,
        running_info: GetConsumerRunningInfoRequestHeader,
        consumer_status: GetConsumerStatusRequestHeader,
        view_stats: ViewBrokerStatsDataRequestHeader,
    );

    /// `mqadmin updateTopic -t T` as the tool sends it.
    #[test]
    fn decodes_mqadmin_update_topic() {
        let f = [
            ("topic", "T"),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "8"),
            ("writeQueueNums", "8"),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
            ("topicSysFlag", "0"),
            ("order", "false"),
            ("attributes", ""),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let h = CreateTopicRequestHeader::from_ext_fields(&f).expect("decodes");
        assert_eq!(h.read_queue_nums, 8);
        assert_eq!(h.attributes.as_deref(), Some(""));
        assert_eq!(h.force, None);
    }

    #[test]
    fn reset_offset_queue_defaults_to_all() {
        let f = [
            ("group", "g"),
            ("topic", "T"),
            ("timestamp", "-1"),
            ("isForce", "true"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let h = ResetOffsetRequestHeader::from_ext_fields(&f).expect("decodes");
        assert_eq!(h.queue_id, -1);
        assert!(h.is_force);
    }
}
