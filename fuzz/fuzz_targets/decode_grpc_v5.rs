//! Arbitrary bytes into every v5 gRPC message a server decodes from a client; the first byte picks
//! the type. Whatever decodes must re-encode and decode to the same bytes (compared as bytes: a
//! float field may hold NaN).
#![no_main]

use ferromq_proto::v2::{
    AckMessageRequest, ChangeInvisibleDurationRequest, EndTransactionRequest,
    ForwardMessageToDeadLetterQueueRequest, GetOffsetRequest, HeartbeatRequest,
    NotifyClientTerminationRequest, PullMessageRequest, QueryAssignmentRequest,
    QueryOffsetRequest, QueryRouteRequest, RecallMessageRequest, ReceiveMessageRequest,
    SendMessageRequest, SyncLiteSubscriptionRequest, TelemetryCommand, UpdateOffsetRequest,
};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn decode_stably<M: Message + Default>(bytes: &[u8]) {
    if let Ok(value) = M::decode(bytes) {
        let encoded = value.encode_to_vec();
        let again = M::decode(encoded.as_slice()).expect("our own encoding decodes");
        assert_eq!(again.encode_to_vec(), encoded, "re-encoding is not stable");
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 17 {
        0 => decode_stably::<QueryRouteRequest>(data),
        1 => decode_stably::<HeartbeatRequest>(data),
        2 => decode_stably::<SendMessageRequest>(data),
        3 => decode_stably::<QueryAssignmentRequest>(data),
        4 => decode_stably::<ReceiveMessageRequest>(data),
        5 => decode_stably::<AckMessageRequest>(data),
        6 => decode_stably::<ForwardMessageToDeadLetterQueueRequest>(data),
        7 => decode_stably::<PullMessageRequest>(data),
        8 => decode_stably::<UpdateOffsetRequest>(data),
        9 => decode_stably::<GetOffsetRequest>(data),
        10 => decode_stably::<QueryOffsetRequest>(data),
        11 => decode_stably::<EndTransactionRequest>(data),
        12 => decode_stably::<TelemetryCommand>(data),
        13 => decode_stably::<NotifyClientTerminationRequest>(data),
        14 => decode_stably::<ChangeInvisibleDurationRequest>(data),
        15 => decode_stably::<RecallMessageRequest>(data),
        _ => decode_stably::<SyncLiteSubscriptionRequest>(data),
    }
});
