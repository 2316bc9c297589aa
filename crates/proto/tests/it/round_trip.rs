//! Encode/decode round trips of representative requests and responses, as the official clients
//! and a server would fill them.

use ferromq_proto::v2::{
    self, pull_message_response, receive_message_response, retry_policy, settings,
    telemetry_command, Address, AddressScheme, Broker, ClientType, Code, CustomizedBackoff, Digest,
    DigestType, Encoding, Endpoints, FilterExpression, FilterType, MessageQueue, MessageType,
    Permission, PullMessageResponse, QueryRouteResponse, ReceiveMessageResponse, Resource,
    RetryPolicy, SendMessageRequest, SendMessageResponse, SendResultEntry, Settings, Status,
    Subscription, SubscriptionEntry, SystemProperties, TelemetryCommand,
};
use prost::bytes::Bytes;
use prost::Message;
use prost_types::{Duration, Timestamp};

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(value: &M) {
    let bytes = value.encode_to_vec();
    assert_eq!(bytes.len(), value.encoded_len());
    assert_eq!(
        &M::decode(bytes.as_slice()).expect("own encoding decodes"),
        value
    );
}

fn endpoints(port: i32) -> Endpoints {
    Endpoints {
        scheme: AddressScheme::IPv4 as i32,
        addresses: vec![Address {
            host: "127.0.0.1".to_owned(),
            port,
        }],
    }
}

fn delivered_message() -> v2::Message {
    v2::Message {
        topic: Some(Resource {
            resource_namespace: "shop".to_owned(),
            name: "orders".to_owned(),
        }),
        user_properties: [
            ("region".to_owned(), "eu".to_owned()),
            ("priority".to_owned(), "high".to_owned()),
        ]
        .into(),
        system_properties: Some(SystemProperties {
            tag: Some("created".to_owned()),
            keys: vec!["order-1".to_owned(), "customer-9".to_owned()],
            message_id: "01AABBCCDDEEFF00010000000100000001".to_owned(),
            body_digest: Some(Digest {
                r#type: DigestType::Md5 as i32,
                checksum: "5D41402ABC4B2A76B9719D911017C592".to_owned(),
            }),
            body_encoding: Encoding::Identity as i32,
            message_type: MessageType::Fifo as i32,
            born_timestamp: Some(Timestamp {
                seconds: 1_765_000_000,
                nanos: 123_000_000,
            }),
            born_host: "10.0.0.7".to_owned(),
            store_timestamp: Some(Timestamp {
                seconds: 1_765_000_001,
                nanos: 0,
            }),
            store_host: "10.0.0.1:10911".to_owned(),
            receipt_handle: Some("0 1765000001000 60000 0 0 broker-a 3 42 4096".to_owned()),
            queue_id: 3,
            queue_offset: Some(42),
            delivery_attempt: Some(1),
            message_group: Some("customer-9".to_owned()),
            trace_context: Some("00-abc-def-01".to_owned()),
            ..SystemProperties::default()
        }),
        body: Bytes::from_static(b"hello"),
    }
}

#[test]
fn send_message_request_with_system_properties() {
    let mut delayed = delivered_message();
    let properties = delayed.system_properties.as_mut().expect("set above");
    properties.message_type = MessageType::Delay as i32;
    properties.delivery_timestamp = Some(Timestamp {
        seconds: 1_765_003_600,
        nanos: 0,
    });
    let mut transactional = delivered_message();
    let properties = transactional.system_properties.as_mut().expect("set above");
    properties.message_type = MessageType::Transaction as i32;
    properties.orphaned_transaction_recovery_duration = Some(Duration {
        seconds: 30,
        nanos: 0,
    });
    round_trip(&SendMessageRequest {
        messages: vec![delivered_message(), delayed, transactional],
    });
    round_trip(&SendMessageResponse {
        status: Some(Status::ok()),
        entries: vec![SendResultEntry {
            status: Some(Status::ok()),
            message_id: "01AABBCCDDEEFF00010000000100000001".to_owned(),
            transaction_id: "7F000001000000000000000000000001".to_owned(),
            offset: 42,
            recall_handle: String::new(),
        }],
    });
}

#[test]
fn receive_message_response_stream_elements() {
    use receive_message_response::Content;
    for content in [
        Content::Status(Status::ok()),
        Content::Message(Box::new(delivered_message())),
        Content::DeliveryTimestamp(Timestamp {
            seconds: 1_765_000_002,
            nanos: 5,
        }),
        Content::Status(Status::new(Code::MessageNotFound, "no new message")),
    ] {
        round_trip(&ReceiveMessageResponse {
            content: Some(content),
        });
    }
    use pull_message_response::Content as Pulled;
    for content in [
        Pulled::Status(Status::ok()),
        Pulled::Message(Box::new(delivered_message())),
        Pulled::NextOffset(43),
    ] {
        round_trip(&PullMessageResponse {
            content: Some(content),
        });
    }
}

#[test]
fn telemetry_commands_both_ways() {
    use telemetry_command::Command;
    let delay_levels = [1, 5, 10, 30, 60, 120]
        .map(|seconds| Duration { seconds, nanos: 0 })
        .to_vec();
    let consumer_settings = Settings {
        client_type: Some(ClientType::PushConsumer as i32),
        access_point: Some(endpoints(8081)),
        backoff_policy: Some(RetryPolicy {
            max_attempts: 17,
            strategy: Some(retry_policy::Strategy::CustomizedBackoff(
                CustomizedBackoff { next: delay_levels },
            )),
        }),
        request_timeout: Some(Duration {
            seconds: 3,
            nanos: 0,
        }),
        pub_sub: Some(settings::PubSub::Subscription(Subscription {
            group: Some(Resource::named("billing")),
            subscriptions: vec![SubscriptionEntry {
                topic: Some(Resource::named("orders")),
                expression: Some(FilterExpression {
                    r#type: FilterType::Tag as i32,
                    expression: "created||paid".to_owned(),
                }),
            }],
            fifo: Some(true),
            receive_batch_size: Some(32),
            long_polling_timeout: Some(Duration {
                seconds: 20,
                nanos: 0,
            }),
            ..Subscription::default()
        })),
        user_agent: Some(v2::Ua {
            language: v2::Language::Java as i32,
            version: "5.0.7".to_owned(),
            platform: "Linux".to_owned(),
            hostname: "host-1".to_owned(),
        }),
        metric: Some(v2::Metric {
            on: false,
            endpoints: None,
        }),
        client_properties: [("zone".to_owned(), "a".to_owned())].into(),
    };
    for command in [
        Command::Settings(consumer_settings),
        Command::RecoverOrphanedTransactionCommand(v2::RecoverOrphanedTransactionCommand {
            message: Some(delivered_message()),
            transaction_id: "7F000001000000000000000000000001".to_owned(),
        }),
        Command::VerifyMessageCommand(v2::VerifyMessageCommand {
            nonce: "n-1".to_owned(),
            message: Some(delivered_message()),
        }),
        Command::ThreadStackTrace(v2::ThreadStackTrace {
            nonce: "n-2".to_owned(),
            thread_stack_trace: Some("main\n  at run".to_owned()),
        }),
    ] {
        round_trip(&TelemetryCommand {
            status: Some(Status::ok()),
            command: Some(command),
        });
    }
}

#[test]
fn query_route_response_with_queues_and_endpoints() {
    let queue = |id, permission: Permission| MessageQueue {
        topic: Some(Resource::named("orders")),
        id,
        permission: permission as i32,
        broker: Some(Broker {
            name: "broker-a".to_owned(),
            id: 0,
            endpoints: Some(endpoints(8081)),
        }),
        accept_message_types: vec![MessageType::Normal as i32, MessageType::Fifo as i32],
    };
    let response = QueryRouteResponse {
        status: Some(Status::ok()),
        message_queues: vec![
            queue(0, Permission::Read),
            queue(1, Permission::Write),
            queue(2, Permission::ReadWrite),
            queue(-1, Permission::ReadWrite),
        ],
    };
    round_trip(&response);
    let decoded = QueryRouteResponse::decode(response.encode_to_vec().as_slice()).expect("decodes");
    let broker = decoded.message_queues[2].broker.as_ref().expect("broker");
    assert_eq!(
        decoded.message_queues[2].permission(),
        Permission::ReadWrite
    );
    assert_eq!(
        broker.endpoints.as_ref().map(Endpoints::scheme),
        Some(AddressScheme::IPv4)
    );
}
