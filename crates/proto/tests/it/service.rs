//! The `MessagingService` in `service.proto`, which this crate does not generate but the gRPC
//! adapter will: every RPC of our notes (section 3) with its request, response and streaming.

use std::path::Path;

#[test]
fn messaging_service_rpcs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let files = protox::compile(["apache/rocketmq/v2/service.proto"], [root])
        .expect("service.proto compiles");
    let service_file = files
        .file
        .iter()
        .find(|file| file.name() == "apache/rocketmq/v2/service.proto")
        .expect("service.proto is in the set");
    assert_eq!(service_file.package(), "apache.rocketmq.v2");
    let [service] = service_file.service.as_slice() else {
        panic!("one service expected");
    };
    assert_eq!(service.name(), "MessagingService");

    let unary = (false, false);
    let server_stream = (false, true);
    let expected = [
        (
            "QueryRoute",
            "QueryRouteRequest",
            "QueryRouteResponse",
            unary,
        ),
        ("Heartbeat", "HeartbeatRequest", "HeartbeatResponse", unary),
        (
            "SendMessage",
            "SendMessageRequest",
            "SendMessageResponse",
            unary,
        ),
        (
            "QueryAssignment",
            "QueryAssignmentRequest",
            "QueryAssignmentResponse",
            unary,
        ),
        (
            "ReceiveMessage",
            "ReceiveMessageRequest",
            "ReceiveMessageResponse",
            server_stream,
        ),
        (
            "AckMessage",
            "AckMessageRequest",
            "AckMessageResponse",
            unary,
        ),
        (
            "ForwardMessageToDeadLetterQueue",
            "ForwardMessageToDeadLetterQueueRequest",
            "ForwardMessageToDeadLetterQueueResponse",
            unary,
        ),
        (
            "PullMessage",
            "PullMessageRequest",
            "PullMessageResponse",
            server_stream,
        ),
        (
            "UpdateOffset",
            "UpdateOffsetRequest",
            "UpdateOffsetResponse",
            unary,
        ),
        ("GetOffset", "GetOffsetRequest", "GetOffsetResponse", unary),
        (
            "QueryOffset",
            "QueryOffsetRequest",
            "QueryOffsetResponse",
            unary,
        ),
        (
            "EndTransaction",
            "EndTransactionRequest",
            "EndTransactionResponse",
            unary,
        ),
        (
            "Telemetry",
            "TelemetryCommand",
            "TelemetryCommand",
            (true, true),
        ),
        (
            "NotifyClientTermination",
            "NotifyClientTerminationRequest",
            "NotifyClientTerminationResponse",
            unary,
        ),
        (
            "ChangeInvisibleDuration",
            "ChangeInvisibleDurationRequest",
            "ChangeInvisibleDurationResponse",
            unary,
        ),
        (
            "RecallMessage",
            "RecallMessageRequest",
            "RecallMessageResponse",
            unary,
        ),
        (
            "SyncLiteSubscription",
            "SyncLiteSubscriptionRequest",
            "SyncLiteSubscriptionResponse",
            unary,
        ),
    ];
    let actual: Vec<_> = service
        .method
        .iter()
        .map(|method| {
            (
                method.name().to_owned(),
                method.input_type().to_owned(),
                method.output_type().to_owned(),
                (method.client_streaming(), method.server_streaming()),
            )
        })
        .collect();
    let expected: Vec<_> = expected
        .iter()
        .map(|&(name, input, output, streaming)| {
            (
                name.to_owned(),
                format!(".apache.rocketmq.v2.{input}"),
                format!(".apache.rocketmq.v2.{output}"),
                streaming,
            )
        })
        .collect();
    assert_eq!(actual, expected);
}
