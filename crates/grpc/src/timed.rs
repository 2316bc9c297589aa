//! `rocketmq_rpc_latency` for the v5 endpoint: each unary call's answer time, by method and the
//! v5 status code its response carries, into the broker's statistics (`protocol_type="grpc"`).
//! Streaming calls (ReceiveMessage, PullMessage, Telemetry) are not timed: their duration is the
//! client's long poll or session, not the broker's work.

use std::future::Future;
use std::time::Instant;

use ferromq_broker::rpc_latency::GrpcAnswer;
use ferromq_broker::BrokerService;
use ferromq_proto::v2::{
    AckMessageResponse, ChangeInvisibleDurationResponse, Code, EndTransactionResponse,
    ForwardMessageToDeadLetterQueueResponse, GetOffsetResponse, HeartbeatResponse,
    NotifyClientTerminationResponse, QueryAssignmentResponse, QueryOffsetResponse,
    QueryRouteResponse, RecallMessageResponse, SendMessageResponse, SyncLiteSubscriptionResponse,
    UpdateOffsetResponse,
};
use tonic::Response;

/// A v5 response: its status's code.
pub(crate) trait Answered {
    fn v5_code(&self) -> i32;
}

macro_rules! answered {
    ($($t:ty),* $(,)?) => {
        $(impl Answered for $t {
            fn v5_code(&self) -> i32 {
                // A status-less response is one clients fail: count it as unspecified.
                self.status.as_ref().map_or(Code::Unspecified as i32, |s| s.code)
            }
        })*
    };
}

answered!(
    AckMessageResponse,
    ChangeInvisibleDurationResponse,
    EndTransactionResponse,
    ForwardMessageToDeadLetterQueueResponse,
    GetOffsetResponse,
    HeartbeatResponse,
    NotifyClientTerminationResponse,
    QueryAssignmentResponse,
    QueryOffsetResponse,
    QueryRouteResponse,
    RecallMessageResponse,
    SendMessageResponse,
    SyncLiteSubscriptionResponse,
    UpdateOffsetResponse,
);

/// Runs `call`, the body of RPC `method`, and records how long it took to answer into `broker`.
pub(crate) async fn timed<T: Answered>(
    broker: &BrokerService,
    method: &'static str,
    call: impl Future<Output = Result<Response<T>, tonic::Status>>,
) -> Result<Response<T>, tonic::Status> {
    let start = Instant::now();
    let reply = call.await;
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let answer = match &reply {
        Ok(r) => GrpcAnswer::Code(r.get_ref().v5_code()),
        Err(status) => GrpcAnswer::Transport(status.code() as i32),
    };
    broker.record_grpc_latency(method, answer, micros);
    reply
}
