//! Consumer offsets and queue offsets: codes 14, 15, 29, 30, 31, 32.

use super::ext_header;
use super::field::name_enum_field;

ext_header! {
    /// `QUERY_CONSUMER_OFFSET` (14).
    pub struct QueryConsumerOffsetRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// Explicit `false`: answer `QUERY_NOT_FOUND` rather than 0 when nothing is stored.
        pub set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
    }
}

ext_header! {
    /// Response to `QUERY_CONSUMER_OFFSET`, `GET_MAX_OFFSET`, `GET_MIN_OFFSET` and
    /// `SEARCH_OFFSET_BY_TIMESTAMP`: Java has one class per code, all with the single field `offset`.
    pub struct OffsetResponseHeader {
        pub offset: i64 = "offset",
    }
}

ext_header! {
    /// `UPDATE_CONSUMER_OFFSET` (15), usually oneway.
    pub struct UpdateConsumerOffsetRequestHeader {
        pub consumer_group: String = "consumerGroup",
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// The next offset to consume.
        pub commit_offset: i64 = "commitOffset",
    }
}

ext_header! {
    /// `GET_MAX_OFFSET` (30).
    pub struct GetMaxOffsetRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// Java primitive with initialiser `true`.
        pub committed: bool = "committed" [default: true],
    }
}

ext_header! {
    /// `GET_MIN_OFFSET` (31) and `GET_EARLIEST_MSG_STORETIME` (32): a queue.
    pub struct QueueRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
    }
}

/// Which side of a timestamp `SEARCH_OFFSET_BY_TIMESTAMP` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoundaryType {
    /// First offset whose store time is at or after the timestamp.
    #[default]
    Lower,
    /// Last offset whose store time is at or before the timestamp.
    Upper,
}

name_enum_field!(BoundaryType { Lower = "LOWER", Upper = "UPPER" });

#[cfg(test)]
impl proptest::arbitrary::Arbitrary for BoundaryType {
    type Parameters = ();
    type Strategy = proptest::sample::Select<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        proptest::sample::select(vec![Self::Lower, Self::Upper])
    }
}

ext_header! {
    /// `SEARCH_OFFSET_BY_TIMESTAMP` (29).
    pub struct SearchOffsetRequestHeader {
        pub topic: String = "topic",
        pub queue_id: i32 = "queueId",
        /// Milliseconds since the epoch.
        pub timestamp: i64 = "timestamp",
        /// `LOWER` when absent.
        pub boundary_type: Option<BoundaryType> = "boundaryType",
    }
}

ext_header! {
    /// Response to `GET_EARLIEST_MSG_STORETIME`.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        pub timestamp: i64 = "timestamp",
    }
}

/// Response to `QUERY_CONSUMER_OFFSET` (14).
pub type QueryConsumerOffsetResponseHeader = OffsetResponseHeader;
/// Response to `GET_MAX_OFFSET` (30).
pub type GetMaxOffsetResponseHeader = OffsetResponseHeader;
/// Response to `GET_MIN_OFFSET` (31).
pub type GetMinOffsetResponseHeader = OffsetResponseHeader;
/// Response to `SEARCH_OFFSET_BY_TIMESTAMP` (29).
pub type SearchOffsetResponseHeader = OffsetResponseHeader;
/// `GET_MIN_OFFSET` (31) request.
pub type GetMinOffsetRequestHeader = QueueRequestHeader;
/// `GET_EARLIEST_MSG_STORETIME` (32) request.
pub type GetEarliestMsgStoretimeRequestHeader = QueueRequestHeader;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError;
    use crate::headers::testing::round_trip_tests;
    use crate::headers::CustomHeader;

    round_trip_tests!(
        query_consumer_offset: QueryConsumerOffsetRequestHeader,
        offset_response: OffsetResponseHeader,
        update_consumer_offset: UpdateConsumerOffsetRequestHeader,
        get_max_offset: GetMaxOffsetRequestHeader,
        queue: QueueRequestHeader,
        search_offset: SearchOffsetRequestHeader,
        earliest_response: GetEarliestMsgStoretimeResponseHeader,
    );

    fn fields(pairs: &[(&str, &str)]) -> crate::command::ExtFields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn committed_defaults_to_true() {
        let h = GetMaxOffsetRequestHeader::from_ext_fields(&fields(&[
            ("topic", "T"),
            ("queueId", "1"),
        ]))
        .expect("decodes");
        assert!(h.committed);
    }

    #[test]
    fn boundary_type_is_a_java_enum_name() {
        let f = fields(&[
            ("topic", "T"),
            ("queueId", "0"),
            ("timestamp", "5"),
            ("boundaryType", "UPPER"),
        ]);
        let h = SearchOffsetRequestHeader::from_ext_fields(&f).expect("decodes");
        assert_eq!(h.boundary_type, Some(BoundaryType::Upper));
        let bad = fields(&[
            ("topic", "T"),
            ("queueId", "0"),
            ("timestamp", "5"),
            ("boundaryType", "upper"),
        ]);
        assert_eq!(
            SearchOffsetRequestHeader::from_ext_fields(&bad),
            Err(DecodeError::BadField {
                name: "boundaryType",
                value: "upper".into()
            })
        );
    }
}
