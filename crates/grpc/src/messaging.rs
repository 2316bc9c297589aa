//! The generated `MessagingService` trait, one method per RPC: read the request (and the client
//! id header where the RPC is about a session), hand it to the file that translates it, answer.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use ferromq_broker::BrokerService;
use ferromq_proto::v2::{
    pull_message_response, receive_message_response, AckMessageRequest, AckMessageResponse,
    ChangeInvisibleDurationRequest, ChangeInvisibleDurationResponse, EndTransactionRequest,
    EndTransactionResponse, ForwardMessageToDeadLetterQueueRequest,
    ForwardMessageToDeadLetterQueueResponse, GetOffsetRequest, GetOffsetResponse, HeartbeatRequest,
    HeartbeatResponse, NotifyClientTerminationRequest, NotifyClientTerminationResponse,
    PullMessageRequest, PullMessageResponse, QueryAssignmentRequest, QueryAssignmentResponse,
    QueryOffsetRequest, QueryOffsetResponse, QueryRouteRequest, QueryRouteResponse,
    RecallMessageRequest, RecallMessageResponse, ReceiveMessageRequest, ReceiveMessageResponse,
    SendMessageRequest, SendMessageResponse, SyncLiteSubscriptionRequest,
    SyncLiteSubscriptionResponse, TelemetryCommand, UpdateOffsetRequest, UpdateOffsetResponse,
};
use ferromq_proto::{Code, Status};
use futures_util::Stream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Streaming};

use crate::access::{Caller, Rpc};
use crate::current::CurrentBroker;
use crate::pb::messaging_service_server::MessagingService;
use crate::renew::Renewals;
use crate::sessions::Sessions;
use crate::telemetry::{self, TelemetryStream};
use crate::{offsets, pull, recall, receive, route, send, transaction};

/// The header naming the client session a request belongs to.
const CLIENT_ID: &str = "x-mq-client-id";

type Reply<T> = Result<Response<T>, tonic::Status>;
type ServerStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send + 'static>>;

/// The service tonic calls.
#[derive(Debug, Clone)]
pub(crate) struct Messaging {
    broker: CurrentBroker,
    telemetry: telemetry::Context,
    /// Push consumers' deliveries kept invisible.
    renewals: Arc<Renewals>,
}

impl Messaging {
    pub(crate) fn new(
        broker: CurrentBroker,
        sessions: Arc<Sessions>,
        renewals: Arc<Renewals>,
        token: CancellationToken,
        tracker: TaskTracker,
    ) -> Self {
        Messaging {
            telemetry: telemetry::Context {
                broker: broker.clone(),
                sessions,
                token,
                tracker,
            },
            broker,
            renewals,
        }
    }
}

fn client_id<T>(request: &Request<T>) -> Option<String> {
    request
        .metadata()
        .get(CLIENT_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn no_client_id() -> Status {
    Status::new(
        Code::ClientIdRequired,
        format!("the {CLIENT_ID} header is required"),
    )
}

/// Runs the ACL checks for `request` (see `crate::access`); `Err` is the refusal status.
fn admit<R: Rpc>(broker: &BrokerService, request: &Request<R>) -> Result<(), Status> {
    Caller::of(request.metadata(), peer(request)).admit(broker, request.get_ref())
}

/// The peer's address (a placeholder when tonic does not know it, e.g. in-process transports).
fn peer<T>(request: &Request<T>) -> SocketAddr {
    request
        .remote_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

#[tonic::async_trait]
impl MessagingService for Messaging {
    async fn query_route(&self, request: Request<QueryRouteRequest>) -> Reply<QueryRouteResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "QueryRoute", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(QueryRouteResponse {
                    status: Some(status),
                    ..QueryRouteResponse::default()
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(route::query_route(&broker, &req).await))
        })
        .await
    }

    async fn heartbeat(&self, request: Request<HeartbeatRequest>) -> Reply<HeartbeatResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "Heartbeat", async move {
            if let Err(status) = admit(&self.broker.get(), &request) {
                return Ok(Response::new(HeartbeatResponse {
                    status: Some(status),
                }));
            }
            let status = match client_id(&request) {
                None => no_client_id(),
                Some(id) if self.telemetry.sessions.touch(&id) => Status::ok(),
                // As RocketMQ's proxy: a client that has not sent its settings is not known yet.
                Some(id) => Status::new(
                    Code::UnrecognizedClientType,
                    format!("client {id} has not sent its settings over telemetry yet"),
                ),
            };
            Ok(Response::new(HeartbeatResponse {
                status: Some(status),
            }))
        })
        .await
    }

    async fn send_message(
        &self,
        request: Request<SendMessageRequest>,
    ) -> Reply<SendMessageResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "SendMessage", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(SendMessageResponse {
                    status: Some(status),
                    ..SendMessageResponse::default()
                }));
            }
            let peer = peer(&request);
            let req = request.into_inner();
            Ok(Response::new(send::send_message(&broker, peer, &req).await))
        })
        .await
    }

    async fn query_assignment(
        &self,
        request: Request<QueryAssignmentRequest>,
    ) -> Reply<QueryAssignmentResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "QueryAssignment", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(QueryAssignmentResponse {
                    status: Some(status),
                    ..QueryAssignmentResponse::default()
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(route::query_assignment(&broker, &req).await))
        })
        .await
    }

    type ReceiveMessageStream = ServerStream<ReceiveMessageResponse>;

    async fn receive_message(
        &self,
        request: Request<ReceiveMessageRequest>,
    ) -> Reply<Self::ReceiveMessageStream> {
        let broker = self.broker.get();
        if let Err(status) = admit(&broker, &request) {
            let refusal = ReceiveMessageResponse {
                content: Some(receive_message_response::Content::Status(status)),
            };
            return Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(
                refusal,
            )]))));
        }
        let peer = peer(&request);
        let client = client_id(&request);
        let deadline = crate::deadline::remaining(request.metadata());
        let req = request.into_inner();
        let push = client.as_deref().map(|id| (&*self.renewals, id));
        let answer = receive::receive_message(&broker, peer, push, deadline, &req).await;
        Ok(Response::new(Box::pin(futures_util::stream::iter(
            answer.into_iter().map(Ok),
        ))))
    }

    async fn ack_message(&self, request: Request<AckMessageRequest>) -> Reply<AckMessageResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "AckMessage", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(AckMessageResponse {
                    status: Some(status),
                    ..AckMessageResponse::default()
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(receive::ack_message(
                &broker,
                &self.renewals,
                &req,
            )))
        })
        .await
    }

    async fn forward_message_to_dead_letter_queue(
        &self,
        request: Request<ForwardMessageToDeadLetterQueueRequest>,
    ) -> Reply<ForwardMessageToDeadLetterQueueResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(
            &timer_broker,
            "ForwardMessageToDeadLetterQueue",
            async move {
                let broker = self.broker.get();
                if let Err(status) = admit(&broker, &request) {
                    return Ok(Response::new(ForwardMessageToDeadLetterQueueResponse {
                        status: Some(status),
                    }));
                }
                let req = request.into_inner();
                Ok(Response::new(receive::forward_to_dead_letter_queue(
                    &broker,
                    &self.renewals,
                    &req,
                )))
            },
        )
        .await
    }

    type PullMessageStream = ServerStream<PullMessageResponse>;

    async fn pull_message(
        &self,
        request: Request<PullMessageRequest>,
    ) -> Reply<Self::PullMessageStream> {
        let broker = self.broker.get();
        if let Err(status) = admit(&broker, &request) {
            let refusal = PullMessageResponse {
                content: Some(pull_message_response::Content::Status(status)),
            };
            return Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(
                refusal,
            )]))));
        }
        let peer = peer(&request);
        let req = request.into_inner();
        let answer = pull::pull_message(&broker, peer, &req).await;
        Ok(Response::new(Box::pin(futures_util::stream::iter(
            answer.into_iter().map(Ok),
        ))))
    }

    async fn update_offset(
        &self,
        request: Request<UpdateOffsetRequest>,
    ) -> Reply<UpdateOffsetResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "UpdateOffset", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(UpdateOffsetResponse {
                    status: Some(status),
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(offsets::update_offset(&broker, &req)))
        })
        .await
    }

    async fn get_offset(&self, request: Request<GetOffsetRequest>) -> Reply<GetOffsetResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "GetOffset", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(GetOffsetResponse {
                    status: Some(status),
                    ..GetOffsetResponse::default()
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(offsets::get_offset(&broker, &req)))
        })
        .await
    }

    async fn query_offset(
        &self,
        request: Request<QueryOffsetRequest>,
    ) -> Reply<QueryOffsetResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "QueryOffset", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(QueryOffsetResponse {
                    status: Some(status),
                    ..QueryOffsetResponse::default()
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(offsets::query_offset(&broker, &req)))
        })
        .await
    }

    async fn end_transaction(
        &self,
        request: Request<EndTransactionRequest>,
    ) -> Reply<EndTransactionResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "EndTransaction", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(EndTransactionResponse {
                    status: Some(status),
                }));
            }
            let peer = peer(&request);
            let req = request.into_inner();
            Ok(Response::new(transaction::end_transaction(
                &broker, peer, &req,
            )))
        })
        .await
    }

    type TelemetryStream = TelemetryStream;

    async fn telemetry(
        &self,
        request: Request<Streaming<TelemetryCommand>>,
    ) -> Reply<Self::TelemetryStream> {
        // Telemetry reports bad input as a gRPC status, as RocketMQ's proxy does.
        let Some(id) = client_id(&request) else {
            return Err(tonic::Status::invalid_argument(format!(
                "the {CLIENT_ID} header is required"
            )));
        };
        // Who the caller is shows at the stream's start; what it may do, in each settings it sends.
        let caller = Caller::of(request.metadata(), peer(&request));
        let opening = crate::access::Names::default();
        if let Err(e) = caller.check(&self.broker.get(), TelemetryCommand::NAME, &opening) {
            // Authentication failures only: nothing is named yet, so nothing can be denied.
            return Err(crate::access::stream_refusal(&e));
        }
        Ok(Response::new(telemetry::open(
            &self.telemetry,
            id,
            caller,
            request.into_inner(),
        )))
    }

    async fn notify_client_termination(
        &self,
        request: Request<NotifyClientTerminationRequest>,
    ) -> Reply<NotifyClientTerminationResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "NotifyClientTermination", async move {
            if let Err(status) = admit(&self.broker.get(), &request) {
                return Ok(Response::new(NotifyClientTerminationResponse {
                    status: Some(status),
                }));
            }
            let status = match client_id(&request) {
                None => no_client_id(),
                Some(id) if self.telemetry.sessions.remove(&id) => {
                    self.renewals.release_client(&self.broker.get(), &id);
                    Status::ok()
                }
                Some(id) => Status::new(
                    Code::UnrecognizedClientType,
                    format!("client {id} is not known"),
                ),
            };
            Ok(Response::new(NotifyClientTerminationResponse {
                status: Some(status),
            }))
        })
        .await
    }

    async fn change_invisible_duration(
        &self,
        request: Request<ChangeInvisibleDurationRequest>,
    ) -> Reply<ChangeInvisibleDurationResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "ChangeInvisibleDuration", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(ChangeInvisibleDurationResponse {
                    status: Some(status),
                    ..ChangeInvisibleDurationResponse::default()
                }));
            }
            let req = request.into_inner();
            Ok(Response::new(receive::change_invisible_duration(
                &broker,
                &self.renewals,
                &req,
            )))
        })
        .await
    }

    async fn recall_message(
        &self,
        request: Request<RecallMessageRequest>,
    ) -> Reply<RecallMessageResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "RecallMessage", async move {
            let broker = self.broker.get();
            if let Err(status) = admit(&broker, &request) {
                return Ok(Response::new(RecallMessageResponse {
                    status: Some(status),
                    ..RecallMessageResponse::default()
                }));
            }
            let peer = peer(&request);
            let req = request.into_inner();
            Ok(Response::new(
                recall::recall_message(&broker, peer, &req).await,
            ))
        })
        .await
    }

    async fn sync_lite_subscription(
        &self,
        request: Request<SyncLiteSubscriptionRequest>,
    ) -> Reply<SyncLiteSubscriptionResponse> {
        let timer_broker = self.broker.get();
        crate::timed::timed(&timer_broker, "SyncLiteSubscription", async move {
            if let Err(status) = admit(&self.broker.get(), &request) {
                return Ok(Response::new(SyncLiteSubscriptionResponse {
                    status: Some(status),
                }));
            }
            Ok(Response::new(SyncLiteSubscriptionResponse {
                status: Some(Status::new(
                    Code::Unsupported,
                    "lite topics are not supported by this ferromq broker",
                )),
            }))
        })
        .await
    }
}
