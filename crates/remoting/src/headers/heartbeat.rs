//! Client registration and group membership: `UNREGISTER_CLIENT` (35),
//! `GET_CONSUMER_LIST_BY_GROUP` (38), `NOTIFY_CONSUMER_IDS_CHANGED` (40, broker → client).
//! `HEART_BEAT` (34) itself has no custom header; its payload is the `HeartbeatData` body.

use super::ext_header;

ext_header! {
    /// `UNREGISTER_CLIENT` (35), sent once per group at client shutdown.
    pub struct UnregisterClientRequestHeader {
        /// Spelled `clientID` on the wire.
        pub client_id: String = "clientID",
        pub producer_group: Option<String> = "producerGroup",
        pub consumer_group: Option<String> = "consumerGroup",
    }
}

ext_header! {
    /// `GET_CONSUMER_LIST_BY_GROUP` (38); the response body lists the client ids.
    pub struct GetConsumerListByGroupRequestHeader {
        pub consumer_group: String = "consumerGroup",
    }
}

ext_header! {
    /// `NOTIFY_CONSUMER_IDS_CHANGED` (40): oneway, makes the consumers rebalance.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        pub consumer_group: String = "consumerGroup",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;

    round_trip_tests!(
        unregister_client: UnregisterClientRequestHeader,
        consumer_list: GetConsumerListByGroupRequestHeader,
        notify_ids_changed: NotifyConsumerIdsChangedRequestHeader,
    );
}
