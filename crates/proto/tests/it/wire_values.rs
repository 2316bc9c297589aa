//! Enum numbers and the service's shape, table by table from our protocol notes (section 3 and
//! 4.1): the numbers are what travels, the names are what JSON and method paths use.

use ferromq_proto::v2::{
    offset_option, AddressScheme, ClientType, Code, DigestType, Encoding, FilterType, Language,
    LiteSubscriptionAction, MessageType, Permission, QueryOffsetPolicy, TransactionResolution,
    TransactionSource,
};

/// Every (number, name) pair maps both ways, and the table covers the whole enum.
macro_rules! enum_table {
    ($enum:ty, [$(($number:expr, $name:expr)),* $(,)?]) => {{
        let table: &[(i32, &str)] = &[$(($number, $name)),*];
        for &(number, name) in table {
            let value = <$enum>::try_from(number)
                .unwrap_or_else(|_| panic!("{} has no {number}", stringify!($enum)));
            assert_eq!(value.as_str_name(), name, "{} {number}", stringify!($enum));
            assert_eq!(<$enum>::from_str_name(name), Some(value));
        }
        // No value beyond the table: the numbers in between and after decode as unknown.
        let known = (-1..=70_000).filter(|n| <$enum>::try_from(*n).is_ok()).count();
        assert_eq!(known, table.len(), "{} has values not in the table", stringify!($enum));
    }};
}

#[test]
fn codes() {
    enum_table!(
        Code,
        [
            (0, "CODE_UNSPECIFIED"),
            (20000, "OK"),
            (30000, "MULTIPLE_RESULTS"),
            (40000, "BAD_REQUEST"),
            (40001, "ILLEGAL_ACCESS_POINT"),
            (40002, "ILLEGAL_TOPIC"),
            (40003, "ILLEGAL_CONSUMER_GROUP"),
            (40004, "ILLEGAL_MESSAGE_TAG"),
            (40005, "ILLEGAL_MESSAGE_KEY"),
            (40006, "ILLEGAL_MESSAGE_GROUP"),
            (40007, "ILLEGAL_MESSAGE_PROPERTY_KEY"),
            (40008, "INVALID_TRANSACTION_ID"),
            (40009, "ILLEGAL_MESSAGE_ID"),
            (40010, "ILLEGAL_FILTER_EXPRESSION"),
            (40011, "ILLEGAL_INVISIBLE_TIME"),
            (40012, "ILLEGAL_DELIVERY_TIME"),
            (40013, "INVALID_RECEIPT_HANDLE"),
            (40014, "MESSAGE_PROPERTY_CONFLICT_WITH_TYPE"),
            (40015, "UNRECOGNIZED_CLIENT_TYPE"),
            (40016, "MESSAGE_CORRUPTED"),
            (40017, "CLIENT_ID_REQUIRED"),
            (40018, "ILLEGAL_POLLING_TIME"),
            (40019, "ILLEGAL_OFFSET"),
            (40020, "ILLEGAL_LITE_TOPIC"),
            (40021, "INVALID_CLIENT_PROPERTIES"),
            (40100, "UNAUTHORIZED"),
            (40200, "PAYMENT_REQUIRED"),
            (40300, "FORBIDDEN"),
            (40400, "NOT_FOUND"),
            (40401, "MESSAGE_NOT_FOUND"),
            (40402, "TOPIC_NOT_FOUND"),
            (40403, "CONSUMER_GROUP_NOT_FOUND"),
            (40404, "OFFSET_NOT_FOUND"),
            (40800, "REQUEST_TIMEOUT"),
            (41300, "PAYLOAD_TOO_LARGE"),
            (41301, "MESSAGE_BODY_TOO_LARGE"),
            (41302, "MESSAGE_BODY_EMPTY"),
            (42800, "PRECONDITION_FAILED"),
            (42900, "TOO_MANY_REQUESTS"),
            (42901, "LITE_TOPIC_QUOTA_EXCEEDED"),
            (42902, "LITE_SUBSCRIPTION_QUOTA_EXCEEDED"),
            (43100, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
            (43101, "MESSAGE_PROPERTIES_TOO_LARGE"),
            (50000, "INTERNAL_ERROR"),
            (50001, "INTERNAL_SERVER_ERROR"),
            (50002, "HA_NOT_AVAILABLE"),
            (50100, "NOT_IMPLEMENTED"),
            (50400, "PROXY_TIMEOUT"),
            (50401, "MASTER_PERSISTENCE_TIMEOUT"),
            (50402, "SLAVE_PERSISTENCE_TIMEOUT"),
            (50500, "UNSUPPORTED"),
            (50501, "VERSION_UNSUPPORTED"),
            (50502, "VERIFY_FIFO_MESSAGE_UNSUPPORTED"),
            (60000, "FAILED_TO_CONSUME_MESSAGE"),
        ]
    );
}

#[test]
fn other_enums() {
    enum_table!(
        TransactionResolution,
        [
            (0, "TRANSACTION_RESOLUTION_UNSPECIFIED"),
            (1, "COMMIT"),
            (2, "ROLLBACK")
        ]
    );
    enum_table!(
        TransactionSource,
        [
            (0, "SOURCE_UNSPECIFIED"),
            (1, "SOURCE_CLIENT"),
            (2, "SOURCE_SERVER_CHECK")
        ]
    );
    enum_table!(
        Permission,
        [
            (0, "PERMISSION_UNSPECIFIED"),
            (1, "NONE"),
            (2, "READ"),
            (3, "WRITE"),
            (4, "READ_WRITE"),
        ]
    );
    enum_table!(
        FilterType,
        [(0, "FILTER_TYPE_UNSPECIFIED"), (1, "TAG"), (2, "SQL")]
    );
    enum_table!(
        AddressScheme,
        [
            (0, "ADDRESS_SCHEME_UNSPECIFIED"),
            (1, "IPv4"),
            (2, "IPv6"),
            (3, "DOMAIN_NAME"),
        ]
    );
    enum_table!(
        MessageType,
        [
            (0, "MESSAGE_TYPE_UNSPECIFIED"),
            (1, "NORMAL"),
            (2, "FIFO"),
            (3, "DELAY"),
            (4, "TRANSACTION"),
            (5, "LITE"),
            (6, "PRIORITY"),
        ]
    );
    enum_table!(
        DigestType,
        [
            (0, "DIGEST_TYPE_UNSPECIFIED"),
            (1, "CRC32"),
            (2, "MD5"),
            (3, "SHA1")
        ]
    );
    enum_table!(
        ClientType,
        [
            (0, "CLIENT_TYPE_UNSPECIFIED"),
            (1, "PRODUCER"),
            (2, "PUSH_CONSUMER"),
            (3, "SIMPLE_CONSUMER"),
            (4, "PULL_CONSUMER"),
            (5, "LITE_PUSH_CONSUMER"),
            (6, "LITE_SIMPLE_CONSUMER"),
        ]
    );
    enum_table!(
        Encoding,
        [(0, "ENCODING_UNSPECIFIED"), (1, "IDENTITY"), (2, "GZIP")]
    );
    enum_table!(
        Language,
        [
            (0, "LANGUAGE_UNSPECIFIED"),
            (1, "JAVA"),
            (2, "CPP"),
            (3, "DOT_NET"),
            (4, "GOLANG"),
            (5, "RUST"),
            (6, "PYTHON"),
            (7, "PHP"),
            (8, "NODE_JS"),
            (9, "RUBY"),
            (10, "OBJECTIVE_C"),
            (11, "DART"),
            (12, "KOTLIN"),
        ]
    );
    enum_table!(
        QueryOffsetPolicy,
        [(0, "BEGINNING"), (1, "END"), (2, "TIMESTAMP")]
    );
    enum_table!(
        LiteSubscriptionAction,
        [
            (0, "PARTIAL_ADD"),
            (1, "PARTIAL_REMOVE"),
            (2, "COMPLETE_ADD"),
            (3, "COMPLETE_REMOVE"),
        ]
    );
    enum_table!(offset_option::Policy, [(0, "LAST"), (1, "MIN"), (2, "MAX")]);
}
