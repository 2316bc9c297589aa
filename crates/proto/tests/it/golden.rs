//! Golden bytes: small messages encoded by hand, byte by byte, from the field numbers and types in
//! our protocol notes (tag = field_number << 3 | wire_type; wire types 0 varint, 1 I64, 2 length-
//! delimited, 5 I32). prost must produce exactly these bytes and decode them back: this is what
//! holds our hand-written `.proto` files to the wire contract of the official clients.

use ferromq_proto::v2::{
    self, receive_message_response, retry_policy, settings, telemetry_command, AckMessageEntry,
    AckMessageRequest, Address, AddressScheme, Broker, ChangeInvisibleDurationRequest, ClientType,
    Code, DeadLetterQueue, Digest, DigestType, Encoding, EndTransactionRequest, Endpoints,
    ExponentialBackoff, ForwardMessageToDeadLetterQueueRequest, HeartbeatRequest, MessageQueue,
    MessageType, Permission, Publishing, QueryRouteRequest, ReceiveMessageRequest,
    ReceiveMessageResponse, RecoverOrphanedTransactionCommand, Resource, RetryPolicy,
    SendMessageRequest, SendResultEntry, Settings, Status, SystemProperties, TelemetryCommand,
    TransactionResolution, TransactionSource,
};
use prost::bytes::Bytes;
use prost::Message;
use prost_types::{Duration, Timestamp};

/// `value` encodes to exactly `bytes`, and `bytes` decode to exactly `value`.
fn golden<M: Message + Default + PartialEq + std::fmt::Debug>(value: &M, bytes: &[u8]) {
    assert_eq!(
        value.encode_to_vec(),
        bytes,
        "encoding of {value:?} (left: prost, right: hand-encoded)"
    );
    assert_eq!(&M::decode(bytes).expect("golden bytes decode"), value);
}

fn named(name: &str) -> Resource {
    Resource::named(name)
}

fn seconds(seconds: i64) -> Duration {
    Duration { seconds, nanos: 0 }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

#[test]
fn status_code_is_field_1_varint_message_field_2() {
    // 20000 = 0x20 + 0x1C << 7 + 0x01 << 14 → A0 9C 01.
    golden(
        &Status::new(Code::Ok, "ok"),
        &[0x08, 0xA0, 0x9C, 0x01, 0x12, 0x02, b'o', b'k'],
    );
    // 40401 → D1 BB 02; an empty message is not written.
    golden(
        &Status::new(Code::MessageNotFound, ""),
        &[0x08, 0xD1, 0xBB, 0x02],
    );
}

#[test]
fn resource_namespace_1_name_2() {
    golden(
        &Resource {
            resource_namespace: "ns".to_owned(),
            name: "t".to_owned(),
        },
        &[0x0A, 0x02, b'n', b's', 0x12, 0x01, b't'],
    );
}

#[test]
fn query_route_request_with_endpoints() {
    let request = QueryRouteRequest {
        topic: Some(named("t")),
        endpoints: Some(Endpoints {
            scheme: AddressScheme::IPv4 as i32,
            addresses: vec![Address {
                host: "h".to_owned(),
                port: 8081,
            }],
        }),
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x03, 0x12, 0x01, b't',                    // 1 topic { 2 name }
        0x12, 0x0A,                                      // 2 endpoints, 10 bytes
        0x08, 0x01,                                      //   1 scheme = IPv4
        0x12, 0x06,                                      //   2 addresses, 6 bytes
        0x0A, 0x01, b'h',                                //     1 host
        0x10, 0x91, 0x3F,                                //     2 port = 8081
    ];
    golden(&request, &bytes);
}

#[test]
fn message_queue_id_is_int32_and_types_are_packed() {
    let queue = MessageQueue {
        topic: Some(named("t")),
        id: -1,
        permission: Permission::ReadWrite as i32,
        broker: Some(Broker {
            name: "b".to_owned(),
            id: 0,
            endpoints: None,
        }),
        accept_message_types: vec![MessageType::Normal as i32, MessageType::Fifo as i32],
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x03, 0x12, 0x01, b't',                    // 1 topic
        // 2 id = -1: int32 (not sint32) sign-extends to a ten-byte varint.
        0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
        0x18, 0x04,                                      // 3 permission = READ_WRITE
        0x22, 0x03, 0x0A, 0x01, b'b',                    // 4 broker { 1 name }, id 0 omitted
        0x2A, 0x02, 0x01, 0x02,                          // 5 accept_message_types, packed [NORMAL, FIFO]
    ];
    golden(&queue, &bytes);
}

#[test]
fn system_properties_every_field() {
    let properties = SystemProperties {
        tag: Some("t".to_owned()),
        keys: vec!["k".to_owned()],
        message_id: "m".to_owned(),
        body_digest: Some(Digest {
            r#type: DigestType::Md5 as i32,
            checksum: "C".to_owned(),
        }),
        body_encoding: Encoding::Gzip as i32,
        message_type: MessageType::Delay as i32,
        born_timestamp: Some(at(1)),
        born_host: "b".to_owned(),
        store_timestamp: Some(at(2)),
        store_host: "s".to_owned(),
        delivery_timestamp: Some(at(3)),
        receipt_handle: Some("r".to_owned()),
        queue_id: 4,
        // Explicit presence: a zero that is set is written.
        queue_offset: Some(0),
        invisible_duration: Some(seconds(5)),
        delivery_attempt: Some(1),
        message_group: Some("g".to_owned()),
        trace_context: Some("x".to_owned()),
        orphaned_transaction_recovery_duration: Some(seconds(6)),
        dead_letter_queue: Some(DeadLetterQueue {
            topic: "d".to_owned(),
            message_id: "i".to_owned(),
        }),
        lite_topic: Some("l".to_owned()),
        priority: Some(7),
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x01, b't',                                // 1 tag
        0x12, 0x01, b'k',                                // 2 keys
        0x1A, 0x01, b'm',                                // 3 message_id
        0x22, 0x05, 0x08, 0x02, 0x12, 0x01, b'C',        // 4 body_digest { 1 type = MD5, 2 checksum }
        0x28, 0x02,                                      // 5 body_encoding = GZIP
        0x30, 0x03,                                      // 6 message_type = DELAY
        0x3A, 0x02, 0x08, 0x01,                          // 7 born_timestamp { 1 seconds }
        0x42, 0x01, b'b',                                // 8 born_host
        0x4A, 0x02, 0x08, 0x02,                          // 9 store_timestamp
        0x52, 0x01, b's',                                // 10 store_host
        0x5A, 0x02, 0x08, 0x03,                          // 11 delivery_timestamp
        0x62, 0x01, b'r',                                // 12 receipt_handle
        0x68, 0x04,                                      // 13 queue_id
        0x70, 0x00,                                      // 14 queue_offset = Some(0)
        0x7A, 0x02, 0x08, 0x05,                          // 15 invisible_duration { 1 seconds }
        0x80, 0x01, 0x01,                                // 16 delivery_attempt: tag 128 is two bytes
        0x8A, 0x01, 0x01, b'g',                          // 17 message_group
        0x92, 0x01, 0x01, b'x',                          // 18 trace_context
        0x9A, 0x01, 0x02, 0x08, 0x06,                    // 19 orphaned_transaction_recovery_duration
        0xA2, 0x01, 0x06, 0x0A, 0x01, b'd', 0x12, 0x01, b'i', // 20 dead_letter_queue { topic, message_id }
        0xAA, 0x01, 0x01, b'l',                          // 21 lite_topic
        0xB0, 0x01, 0x07,                                // 22 priority
    ];
    golden(&properties, &bytes);
}

#[test]
fn send_message_request_with_properties_and_body() {
    let request = SendMessageRequest {
        messages: vec![v2::Message {
            topic: Some(named("t")),
            user_properties: [("a".to_owned(), "b".to_owned())].into(),
            system_properties: Some(SystemProperties {
                message_id: "m".to_owned(),
                ..SystemProperties::default()
            }),
            body: Bytes::from_static(b"hi"),
        }],
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x16,                                      // 1 messages, 22 bytes
        0x0A, 0x03, 0x12, 0x01, b't',                    //   1 topic
        0x12, 0x06, 0x0A, 0x01, b'a', 0x12, 0x01, b'b',  //   2 user_properties entry { 1 key, 2 value }
        0x1A, 0x03, 0x1A, 0x01, b'm',                    //   3 system_properties { 3 message_id }
        0x22, 0x02, b'h', b'i',                          //   4 body
    ];
    golden(&request, &bytes);
}

#[test]
fn send_result_entry() {
    let entry = SendResultEntry {
        status: Some(Status::new(Code::Ok, "")),
        message_id: "m".to_owned(),
        transaction_id: "x".to_owned(),
        offset: 7,
        recall_handle: "h".to_owned(),
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x04, 0x08, 0xA0, 0x9C, 0x01,              // 1 status { OK }
        0x12, 0x01, b'm',                                // 2 message_id
        0x1A, 0x01, b'x',                                // 3 transaction_id
        0x20, 0x07,                                      // 4 offset
        0x2A, 0x01, b'h',                                // 5 recall_handle
    ];
    golden(&entry, &bytes);
}

#[test]
fn receive_message_request() {
    let request = ReceiveMessageRequest {
        group: Some(named("g")),
        message_queue: None,
        filter_expression: None,
        batch_size: 32,
        invisible_duration: Some(seconds(30)),
        auto_renew: true,
        long_polling_timeout: Some(seconds(20)),
        attempt_id: Some("a".to_owned()),
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x03, 0x12, 0x01, b'g',                    // 1 group
        0x20, 0x20,                                      // 4 batch_size = 32
        0x2A, 0x02, 0x08, 0x1E,                          // 5 invisible_duration = 30 s
        0x30, 0x01,                                      // 6 auto_renew
        0x3A, 0x02, 0x08, 0x14,                          // 7 long_polling_timeout = 20 s
        0x42, 0x01, b'a',                                // 8 attempt_id
    ];
    golden(&request, &bytes);
}

#[test]
fn receive_message_response_oneof_members() {
    use receive_message_response::Content;
    let response = |content| ReceiveMessageResponse {
        content: Some(content),
    };
    golden(
        &response(Content::Status(Status::new(Code::MessageNotFound, ""))),
        &[0x0A, 0x04, 0x08, 0xD1, 0xBB, 0x02],
    );
    // A oneof member is written even when it holds only defaults.
    golden(&response(Content::Status(Status::default())), &[0x0A, 0x00]);
    golden(&response(Content::Message(Box::default())), &[0x12, 0x00]);
    golden(
        &response(Content::DeliveryTimestamp(at(1))),
        &[0x1A, 0x02, 0x08, 0x01],
    );
    golden(&ReceiveMessageResponse::default(), &[]);
}

#[test]
fn ack_message_request() {
    let request = AckMessageRequest {
        group: Some(named("g")),
        topic: Some(named("t")),
        entries: vec![AckMessageEntry {
            message_id: "m".to_owned(),
            receipt_handle: "r".to_owned(),
            lite_topic: Some("l".to_owned()),
        }],
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x03, 0x12, 0x01, b'g',                    // 1 group
        0x12, 0x03, 0x12, 0x01, b't',                    // 2 topic
        0x1A, 0x09,                                      // 3 entries
        0x0A, 0x01, b'm', 0x12, 0x01, b'r', 0x1A, 0x01, b'l', // 1 message_id, 2 receipt_handle, 3 lite_topic
    ];
    golden(&request, &bytes);
}

#[test]
fn change_invisible_duration_request() {
    let request = ChangeInvisibleDurationRequest {
        group: None,
        topic: None,
        receipt_handle: "r".to_owned(),
        invisible_duration: Some(seconds(10)),
        message_id: "m".to_owned(),
        lite_topic: Some("l".to_owned()),
        suspend: Some(false),
    };
    #[rustfmt::skip]
    let bytes = [
        0x1A, 0x01, b'r',                                // 3 receipt_handle
        0x22, 0x02, 0x08, 0x0A,                          // 4 invisible_duration = 10 s
        0x2A, 0x01, b'm',                                // 5 message_id
        0x32, 0x01, b'l',                                // 6 lite_topic
        0x38, 0x00,                                      // 7 suspend = Some(false)
    ];
    golden(&request, &bytes);
}

#[test]
fn forward_to_dead_letter_queue_and_end_transaction_and_heartbeat() {
    golden(
        &ForwardMessageToDeadLetterQueueRequest {
            receipt_handle: "r".to_owned(),
            message_id: "m".to_owned(),
            delivery_attempt: 3,
            max_delivery_attempts: 16,
            ..ForwardMessageToDeadLetterQueueRequest::default()
        },
        &[0x1A, 0x01, b'r', 0x22, 0x01, b'm', 0x28, 0x03, 0x30, 0x10],
    );
    golden(
        &EndTransactionRequest {
            topic: None,
            message_id: "m".to_owned(),
            transaction_id: "x".to_owned(),
            resolution: TransactionResolution::Rollback as i32,
            source: TransactionSource::SourceServerCheck as i32,
            trace_context: "c".to_owned(),
        },
        &[
            0x12, 0x01, b'm', 0x1A, 0x01, b'x', 0x20, 0x02, 0x28, 0x02, 0x32, 0x01, b'c',
        ],
    );
    golden(
        &HeartbeatRequest {
            group: Some(named("g")),
            client_type: ClientType::SimpleConsumer as i32,
        },
        &[0x0A, 0x03, 0x12, 0x01, b'g', 0x10, 0x03],
    );
}

#[test]
fn telemetry_settings_with_backoff_and_publishing() {
    let command = TelemetryCommand {
        status: Some(Status::new(Code::Ok, "")),
        command: Some(telemetry_command::Command::Settings(Settings {
            client_type: Some(ClientType::Producer as i32),
            backoff_policy: Some(RetryPolicy {
                max_attempts: 3,
                strategy: Some(retry_policy::Strategy::ExponentialBackoff(
                    ExponentialBackoff {
                        initial: Some(Duration {
                            seconds: 0,
                            nanos: 10_000_000,
                        }),
                        max: Some(seconds(1)),
                        multiplier: 2.0,
                    },
                )),
            }),
            pub_sub: Some(settings::PubSub::Publishing(Publishing {
                topics: vec![named("t")],
                max_body_size: 4 * 1024 * 1024,
                validate_message_type: true,
            })),
            ..Settings::default()
        })),
    };
    #[rustfmt::skip]
    let bytes = [
        0x0A, 0x04, 0x08, 0xA0, 0x9C, 0x01,              // 1 status { OK }
        0x12, 0x26,                                      // 2 settings, 38 bytes
        0x08, 0x01,                                      //   1 client_type = PRODUCER
        0x1A, 0x14,                                      //   3 backoff_policy, 20 bytes
        0x08, 0x03,                                      //     1 max_attempts
        0x12, 0x10,                                      //     2 exponential_backoff, 16 bytes
        0x0A, 0x05, 0x10, 0x80, 0xAD, 0xE2, 0x04,        //       1 initial { 2 nanos = 10^7 }
        0x12, 0x02, 0x08, 0x01,                          //       2 max { 1 seconds }
        0x1D, 0x00, 0x00, 0x00, 0x40,                    //       3 multiplier: float (I32) 2.0
        0x2A, 0x0C,                                      //   5 publishing, 12 bytes
        0x0A, 0x03, 0x12, 0x01, b't',                    //     1 topics
        0x10, 0x80, 0x80, 0x80, 0x02,                    //     2 max_body_size = 4 MiB
        0x18, 0x01,                                      //     3 validate_message_type
    ];
    golden(&command, &bytes);
}

#[test]
fn telemetry_server_commands() {
    use telemetry_command::Command;
    let command = |command| TelemetryCommand {
        status: None,
        command: Some(command),
    };
    golden(
        &command(Command::RecoverOrphanedTransactionCommand(
            RecoverOrphanedTransactionCommand {
                message: None,
                transaction_id: "x".to_owned(),
            },
        )),
        &[0x2A, 0x03, 0x12, 0x01, b'x'],
    );
    golden(
        &command(Command::PrintThreadStackTraceCommand(
            v2::PrintThreadStackTraceCommand {
                nonce: "n".to_owned(),
            },
        )),
        &[0x32, 0x03, 0x0A, 0x01, b'n'],
    );
    golden(
        &command(Command::ReconnectEndpointsCommand(
            v2::ReconnectEndpointsCommand {
                nonce: "n".to_owned(),
            },
        )),
        &[0x42, 0x03, 0x0A, 0x01, b'n'],
    );
    golden(
        &command(Command::NotifyUnsubscribeLiteCommand(
            v2::NotifyUnsubscribeLiteCommand {
                lite_topic: "l".to_owned(),
            },
        )),
        &[0x4A, 0x03, 0x0A, 0x01, b'l'],
    );
    golden(
        &command(Command::ThreadStackTrace(v2::ThreadStackTrace {
            nonce: "n".to_owned(),
            thread_stack_trace: Some(String::new()),
        })),
        &[0x1A, 0x05, 0x0A, 0x01, b'n', 0x12, 0x00],
    );
    golden(
        &command(Command::VerifyMessageResult(v2::VerifyMessageResult {
            nonce: "n".to_owned(),
        })),
        &[0x22, 0x03, 0x0A, 0x01, b'n'],
    );
    golden(
        &command(Command::VerifyMessageCommand(v2::VerifyMessageCommand {
            nonce: "n".to_owned(),
            message: Some(v2::Message::default()),
        })),
        &[0x3A, 0x05, 0x0A, 0x01, b'n', 0x12, 0x00],
    );
}

#[test]
fn settings_fields_after_the_oneof_decode_from_canonical_order() {
    // prost writes oneof members last; official clients write fields in number order. Decoding
    // must not care: 5 subscription comes before 7 user_agent, 8 metric and 9 client_properties.
    #[rustfmt::skip]
    let bytes = [
        0x08, 0x02,                                      // 1 client_type = PUSH_CONSUMER
        0x22, 0x02, 0x08, 0x03,                          // 4 request_timeout = 3 s
        0x32, 0x0B,                                      // 6 subscription, 11 bytes
        0x0A, 0x03, 0x12, 0x01, b'g',                    //   1 group
        0x18, 0x01,                                      //   3 fifo
        0x2A, 0x02, 0x08, 0x14,                          //   5 long_polling_timeout = 20 s
        0x3A, 0x06, 0x08, 0x01, 0x12, 0x02, b'5', b'1',  // 7 user_agent { JAVA, "51" }
        0x42, 0x02, 0x08, 0x00,                          // 8 metric { on = false }
        0x4A, 0x06, 0x0A, 0x01, b'k', 0x12, 0x01, b'v',  // 9 client_properties { k: v }
    ];
    let settings = Settings::decode(&bytes[..]).expect("canonical order decodes");
    assert_eq!(settings.client_type(), ClientType::PushConsumer);
    assert_eq!(settings.request_timeout, Some(seconds(3)));
    let Some(settings::PubSub::Subscription(subscription)) = &settings.pub_sub else {
        panic!("subscription expected, got {:?}", settings.pub_sub);
    };
    assert_eq!(subscription.group, Some(named("g")));
    assert_eq!(subscription.fifo, Some(true));
    assert_eq!(subscription.long_polling_timeout, Some(seconds(20)));
    let user_agent = settings.user_agent.as_ref().expect("user agent");
    assert_eq!(user_agent.language(), v2::Language::Java);
    assert_eq!(user_agent.version, "51");
    assert_eq!(settings.metric, Some(v2::Metric::default()));
    assert_eq!(
        settings.client_properties.get("k").map(String::as_str),
        Some("v")
    );
}
