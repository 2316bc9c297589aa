//! Routing fields that Java's `RpcRequestHeader`/`TopicRequestHeader` add to many requests.
//!
//! They may appear in any request; a simple server can ignore them. Decode them separately from the
//! same `extFields` when needed: `cmd.decode_header::<RpcRequestFields>()`.

use super::ext_header;

ext_header! {
    /// `ns`, `nsd`, `bname`, `oway`, `lo`.
    pub struct RpcRequestFields {
        /// Namespace of the client.
        pub namespace: Option<String> = "ns",
        /// Names are already prefixed with the namespace.
        pub namespaced: Option<bool> = "nsd",
        /// Target broker name (clients set it to the queue's broker).
        pub broker_name: Option<String> = "bname",
        /// Oneway hint.
        pub oneway: Option<bool> = "oway",
        /// Logical (static) topic.
        pub logical: Option<bool> = "lo",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;

    round_trip_tests!(rpc_fields: RpcRequestFields);
}
