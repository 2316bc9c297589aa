//! Arbitrary bytes into every message a server decodes from a client never panic, and whatever
//! decodes re-encodes stably (compared as bytes, since a float field may decode to NaN).

use ferromq_proto::v2::{
    AckMessageRequest, ChangeInvisibleDurationRequest, EndTransactionRequest,
    ForwardMessageToDeadLetterQueueRequest, GetOffsetRequest, HeartbeatRequest,
    NotifyClientTerminationRequest, PullMessageRequest, QueryAssignmentRequest, QueryOffsetRequest,
    QueryRouteRequest, RecallMessageRequest, ReceiveMessageRequest, SendMessageRequest,
    SyncLiteSubscriptionRequest, TelemetryCommand, UpdateOffsetRequest,
};
use proptest::prelude::*;
use prost::Message;

fn decode_stably<M: Message + Default>(bytes: &[u8]) {
    if let Ok(value) = M::decode(bytes) {
        let encoded = value.encode_to_vec();
        let again = M::decode(encoded.as_slice()).expect("our own encoding decodes");
        assert_eq!(again.encode_to_vec(), encoded);
    }
}

fn decode_every_request(bytes: &[u8]) {
    decode_stably::<QueryRouteRequest>(bytes);
    decode_stably::<HeartbeatRequest>(bytes);
    decode_stably::<SendMessageRequest>(bytes);
    decode_stably::<QueryAssignmentRequest>(bytes);
    decode_stably::<ReceiveMessageRequest>(bytes);
    decode_stably::<AckMessageRequest>(bytes);
    decode_stably::<ForwardMessageToDeadLetterQueueRequest>(bytes);
    decode_stably::<PullMessageRequest>(bytes);
    decode_stably::<UpdateOffsetRequest>(bytes);
    decode_stably::<GetOffsetRequest>(bytes);
    decode_stably::<QueryOffsetRequest>(bytes);
    decode_stably::<EndTransactionRequest>(bytes);
    decode_stably::<TelemetryCommand>(bytes);
    decode_stably::<NotifyClientTerminationRequest>(bytes);
    decode_stably::<ChangeInvisibleDurationRequest>(bytes);
    decode_stably::<RecallMessageRequest>(bytes);
    decode_stably::<SyncLiteSubscriptionRequest>(bytes);
}

/// Bytes that look like protobuf: valid tags of the field numbers and wire types in use, lengths
/// that are sometimes right, so decoding goes deep instead of failing on the first byte.
fn protobuf_like() -> impl Strategy<Value = Vec<u8>> {
    let wire_type = prop_oneof![Just(0u8), Just(1), Just(2), Just(5)];
    let field = (
        1u8..=22,
        wire_type,
        prop::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(number, wire_type, payload)| {
            let tag = number << 3 | wire_type;
            // Tags from field 16 on take two varint bytes.
            let mut bytes = if tag < 0x80 {
                vec![tag]
            } else {
                vec![tag | 0x80, 0x01]
            };
            if wire_type == 2 {
                bytes.push(u8::try_from(payload.len()).expect("under 24"));
            }
            bytes.extend(payload);
            bytes
        });
    prop::collection::vec(field, 0..8).prop_map(|fields| fields.concat())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_every_request(&bytes);
    }

    #[test]
    fn protobuf_like_bytes_never_panic(bytes in protobuf_like()) {
        decode_every_request(&bytes);
    }
}

#[test]
fn truncated_and_oversized_lengths_are_errors() {
    // Field 1 (messages) claims 100 bytes but has 1.
    assert!(SendMessageRequest::decode(&[0x0A, 0x64, 0x00][..]).is_err());
    // A varint that never ends.
    assert!(HeartbeatRequest::decode(&[0x10, 0xFF, 0xFF, 0xFF][..]).is_err());
    // Field number 0 is invalid.
    assert!(TelemetryCommand::decode(&[0x00, 0x00][..]).is_err());
}
