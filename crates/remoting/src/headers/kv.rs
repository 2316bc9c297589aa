//! Name-server KV configuration: codes 100, 101, 102, 219.

use super::ext_header;

ext_header! {
    /// `PUT_KV_CONFIG` (100).
    pub struct PutKvConfigRequestHeader {
        pub namespace: String = "namespace",
        pub key: String = "key",
        pub value: String = "value",
    }
}

ext_header! {
    /// `GET_KV_CONFIG` (101) and `DELETE_KV_CONFIG` (102).
    pub struct KvConfigKeyRequestHeader {
        pub namespace: String = "namespace",
        pub key: String = "key",
    }
}

ext_header! {
    /// Response to `GET_KV_CONFIG`.
    pub struct GetKvConfigResponseHeader {
        pub value: Option<String> = "value",
    }
}

ext_header! {
    /// `GET_KVLIST_BY_NAMESPACE` (219).
    pub struct GetKvListByNamespaceRequestHeader {
        pub namespace: String = "namespace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;

    round_trip_tests!(
        put_kv: PutKvConfigRequestHeader,
        kv_key: KvConfigKeyRequestHeader,
        get_kv_response: GetKvConfigResponseHeader,
        kv_list: GetKvListByNamespaceRequestHeader,
    );
}
