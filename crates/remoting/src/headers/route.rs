//! Name-server routing and broker registration headers.

use super::ext_header;

ext_header! {
    /// `GET_ROUTEINFO_BY_TOPIC` (105).
    pub struct GetRouteInfoRequestHeader {
        pub topic: String = "topic",
        /// Ask for standard JSON even from an old-version client.
        pub accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

ext_header! {
    /// `REGISTER_BROKER` (103), broker → name server.
    pub struct RegisterBrokerRequestHeader {
        pub broker_name: String = "brokerName",
        /// `ip:port` clients will use.
        pub broker_addr: String = "brokerAddr",
        pub cluster_name: String = "clusterName",
        pub ha_server_addr: String = "haServerAddr",
        /// 0 = master.
        pub broker_id: i64 = "brokerId",
        /// Liveness timeout to apply; the name server uses 120 s when absent.
        pub heartbeat_timeout_millis: Option<i64> = "heartbeatTimeoutMillis",
        /// Absent for old brokers.
        pub enable_acting_master: Option<bool> = "enableActingMaster",
        /// True: the body is the zlib-compressed binary form.
        pub compressed: bool = "compressed" [default: false],
        /// Non-zero: `crc32(body) & 0x7FFFFFFF` must match.
        pub body_crc32: i32 = "bodyCrc32" [default: 0],
        /// `ip:port` of the broker's v5 gRPC endpoint, when it serves one (a ferromq
        /// extension: Java name servers ignore header fields they do not declare).
        pub grpc_addr: Option<String> = "grpcAddr",
    }
}

ext_header! {
    /// Response to `REGISTER_BROKER`; filled only for slaves.
    pub struct RegisterBrokerResponseHeader {
        pub ha_server_addr: Option<String> = "haServerAddr",
        pub master_addr: Option<String> = "masterAddr",
    }
}

ext_header! {
    /// `UNREGISTER_BROKER` (104).
    pub struct UnregisterBrokerRequestHeader {
        pub broker_name: String = "brokerName",
        pub broker_addr: String = "brokerAddr",
        pub cluster_name: String = "clusterName",
        pub broker_id: i64 = "brokerId",
    }
}

ext_header! {
    /// `QUERY_DATA_VERSION` (322); the body is the broker's `DataVersion`.
    pub struct QueryDataVersionRequestHeader {
        pub broker_name: String = "brokerName",
        pub broker_addr: String = "brokerAddr",
        pub cluster_name: String = "clusterName",
        pub broker_id: i64 = "brokerId",
    }
}

ext_header! {
    /// Response to `QUERY_DATA_VERSION`.
    pub struct QueryDataVersionResponseHeader {
        pub changed: bool = "changed",
    }
}

ext_header! {
    /// `DELETE_TOPIC_IN_NAMESRV` (216).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        pub topic: String = "topic",
        /// Only remove the queues of this cluster's brokers.
        pub cluster_name: Option<String> = "clusterName",
    }
}

ext_header! {
    /// `REGISTER_TOPIC_IN_NAMESRV` (217); the body is a `TopicRouteData`.
    pub struct RegisterTopicRequestHeader {
        pub topic: String = "topic",
    }
}

ext_header! {
    /// `WIPE_WRITE_PERM_OF_BROKER` (205) and `ADD_WRITE_PERM_OF_BROKER` (327).
    pub struct BrokerPermRequestHeader {
        pub broker_name: String = "brokerName",
    }
}

ext_header! {
    /// Response to `WIPE_WRITE_PERM_OF_BROKER`.
    pub struct WipeWritePermOfBrokerResponseHeader {
        pub wipe_topic_count: i32 = "wipeTopicCount",
    }
}

ext_header! {
    /// Response to `ADD_WRITE_PERM_OF_BROKER`.
    pub struct AddWritePermOfBrokerResponseHeader {
        pub add_topic_count: i32 = "addTopicCount",
    }
}

ext_header! {
    /// `GET_TOPICS_BY_CLUSTER` (224).
    pub struct GetTopicsByClusterRequestHeader {
        pub cluster: String = "cluster",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::testing::round_trip_tests;
    use crate::headers::CustomHeader;

    round_trip_tests!(
        get_route: GetRouteInfoRequestHeader,
        register: RegisterBrokerRequestHeader,
        register_response: RegisterBrokerResponseHeader,
        unregister: UnregisterBrokerRequestHeader,
        query_data_version: QueryDataVersionRequestHeader,
        query_data_version_response: QueryDataVersionResponseHeader,
        delete_topic: DeleteTopicFromNamesrvRequestHeader,
        register_topic: RegisterTopicRequestHeader,
        broker_perm: BrokerPermRequestHeader,
        wipe_response: WipeWritePermOfBrokerResponseHeader,
        add_response: AddWritePermOfBrokerResponseHeader,
        topics_by_cluster: GetTopicsByClusterRequestHeader,
    );

    #[test]
    fn register_defaults_match_java() {
        let f = [
            ("brokerName", "broker-a"),
            ("brokerAddr", "10.0.0.1:10911"),
            ("clusterName", "DefaultCluster"),
            ("haServerAddr", "10.0.0.1:10912"),
            ("brokerId", "0"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let h = RegisterBrokerRequestHeader::from_ext_fields(&f).expect("decodes");
        assert!(!h.compressed);
        assert_eq!(h.body_crc32, 0);
        assert_eq!(h.heartbeat_timeout_millis, None);
        // Java always sends `compressed` and `bodyCrc32`; so do we.
        let out = h.to_ext_fields();
        assert_eq!(out.get("compressed").map(String::as_str), Some("false"));
        assert_eq!(out.get("bodyCrc32").map(String::as_str), Some("0"));
    }
}
