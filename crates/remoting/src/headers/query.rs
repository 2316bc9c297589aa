//! Message lookup: `QUERY_MESSAGE` (12, by key through the index) and `VIEW_MESSAGE_BY_ID`
//! (33, by commit-log offset). Both answer with stored records as the body.

use super::ext_header;

/// Extra `extFields` key of `QUERY_MESSAGE`: "true" means the key is a `UNIQ_KEY` and the broker
/// caps `maxNum` at 32.
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

ext_header! {
    /// `QUERY_MESSAGE` (12).
    pub struct QueryMessageRequestHeader {
        pub topic: String = "topic",
        pub key: String = "key",
        pub max_num: i32 = "maxNum",
        pub begin_timestamp: i64 = "beginTimestamp",
        pub end_timestamp: i64 = "endTimestamp",
        /// See [`UNIQUE_KEY_QUERY`].
        pub unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

ext_header! {
    /// Response to `QUERY_MESSAGE`.
    pub struct QueryMessageResponseHeader {
        pub index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        pub index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

ext_header! {
    /// `VIEW_MESSAGE_BY_ID` (33).
    pub struct ViewMessageRequestHeader {
        pub topic: Option<String> = "topic",
        /// Commit-log offset of the record.
        pub offset: i64 = "offset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;

    round_trip_tests!(
        query_message: QueryMessageRequestHeader,
        query_message_response: QueryMessageResponseHeader,
        view_message: ViewMessageRequestHeader,
    );
}
