//! ACL 2.0 on the endpoint: every RPC is checked, before it does anything, against the broker's
//! users and policies when its `authenticationEnabled` / `authorizationEnabled` are on, as remoting
//! requests are. The metadata (`authorization`, `x-mq-date-time`) and the peer come from the call;
//! the topics and group from the request ([`Names`]); `ferromq_auth` decides what they need. A
//! refusal is a v5 status, as RocketMQ's proxy answers: UNAUTHORIZED (40100) when the caller is not
//! who it says, FORBIDDEN (40300) when it may not do this, the message naming the user and, for a
//! denial, the resource and actions.

use std::net::SocketAddr;

use ferromq_auth::grpc::{AUTHORIZATION, DATE_TIME};
use ferromq_auth::{AuthError, GrpcCall, Named};
use ferromq_broker::BrokerService;
use ferromq_proto::v2::{
    settings::PubSub, telemetry_command::Command, AckMessageRequest,
    ChangeInvisibleDurationRequest, ClientType, EndTransactionRequest,
    ForwardMessageToDeadLetterQueueRequest, GetOffsetRequest, HeartbeatRequest, MessageQueue,
    NotifyClientTerminationRequest, PullMessageRequest, QueryAssignmentRequest, QueryOffsetRequest,
    QueryRouteRequest, RecallMessageRequest, ReceiveMessageRequest, Resource, SendMessageRequest,
    SyncLiteSubscriptionRequest, TelemetryCommand, UpdateOffsetRequest,
};
use ferromq_proto::{Code, Status};
use tonic::metadata::MetadataMap;

/// The topics and group one request names, under the broker's (namespace-qualified) names.
#[derive(Debug, Default)]
pub(crate) struct Names {
    topics: Vec<String>,
    group: Option<String>,
}

impl Names {
    fn of(topics: impl IntoIterator<Item = Option<String>>, group: Option<String>) -> Self {
        Names {
            topics: topics.into_iter().flatten().collect(),
            group,
        }
    }

    fn borrowed(&self) -> Named<'_> {
        Named {
            topics: self.topics.iter().map(String::as_str).collect(),
            group: self.group.as_deref(),
        }
    }
}

/// A request of one RPC: its method name and what it names.
pub(crate) trait Rpc {
    const NAME: &'static str;
    fn names(&self) -> Names;
}

/// Who is calling: the peer and the signing metadata, read before the request is consumed.
#[derive(Debug)]
pub(crate) struct Caller {
    peer: SocketAddr,
    authorization: Option<String>,
    date_time: Option<String>,
    /// Set once a stream's opening passed (see `GrpcCall::continued`).
    continued: bool,
}

impl Caller {
    pub(crate) fn of(metadata: &MetadataMap, peer: SocketAddr) -> Self {
        let text = |key| {
            metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Caller {
            peer,
            authorization: text(AUTHORIZATION),
            date_time: text(DATE_TIME),
            continued: false,
        }
    }

    /// The same caller for the later messages of a stream it opened.
    /// The caller's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn continued(self) -> Self {
        Caller {
            continued: true,
            ..self
        }
    }

    /// Admits `req` or answers why not, as a v5 status.
    pub(crate) fn admit<R: Rpc>(&self, broker: &BrokerService, req: &R) -> Result<(), Status> {
        // With ACL off, a call costs no copy of the names it carries.
        if !broker.acl_enabled() {
            return Ok(());
        }
        self.check(broker, R::NAME, &req.names())
            .map_err(|e| refusal(&e))
    }

    /// Runs the checks for `rpc` naming `names`.
    pub(crate) fn check(
        &self,
        broker: &BrokerService,
        rpc: &str,
        names: &Names,
    ) -> Result<(), AuthError> {
        let call = GrpcCall {
            rpc,
            authorization: self.authorization.as_deref(),
            date_time: self.date_time.as_deref(),
            named: names.borrowed(),
            continued: self.continued,
        };
        broker.check_grpc(self.peer, &call).map(drop)
    }
}

/// The v5 status of a refusal.
pub(crate) fn refusal(e: &AuthError) -> Status {
    let code = if e.is_authentication() {
        Code::Unauthorized
    } else {
        Code::Forbidden
    };
    Status::new(code, e.to_string())
}

/// The gRPC status ending a telemetry stream that was refused (a stream has no v5 status field to
/// carry the answer before the client's settings are accepted).
pub(crate) fn stream_refusal(e: &AuthError) -> tonic::Status {
    if e.is_authentication() {
        tonic::Status::unauthenticated(e.to_string())
    } else {
        tonic::Status::permission_denied(e.to_string())
    }
}

fn name(r: Option<&Resource>) -> Option<String> {
    r.map(Resource::qualified_name)
}

fn queue_topic(q: Option<&MessageQueue>) -> Option<String> {
    name(q.and_then(|q| q.topic.as_ref()))
}

/// Telemetry names nothing until the client's settings: then a publisher's topics, or a
/// subscriber's group and topics.
impl Rpc for TelemetryCommand {
    const NAME: &'static str = "Telemetry";
    fn names(&self) -> Names {
        let Some(Command::Settings(settings)) = &self.command else {
            return Names::default();
        };
        match &settings.pub_sub {
            Some(PubSub::Publishing(p)) => Names::of(p.topics.iter().map(|t| name(Some(t))), None),
            Some(PubSub::Subscription(s)) => Names::of(
                s.subscriptions.iter().map(|e| name(e.topic.as_ref())),
                // A subscription without a group still names one, empty: it is refused.
                Some(name(s.group.as_ref()).unwrap_or_default()),
            ),
            None => Names::default(),
        }
    }
}

macro_rules! rpc {
    ($req:ty, $name:literal, |$r:ident| $names:expr) => {
        impl Rpc for $req {
            const NAME: &'static str = $name;
            fn names(&self) -> Names {
                let $r = self;
                $names
            }
        }
    };
}

rpc!(QueryRouteRequest, "QueryRoute", |r| Names::of(
    [name(r.topic.as_ref())],
    None
));
rpc!(SendMessageRequest, "SendMessage", |r| Names::of(
    r.messages.iter().map(|m| name(m.topic.as_ref())),
    None
));
rpc!(EndTransactionRequest, "EndTransaction", |r| Names::of(
    [name(r.topic.as_ref())],
    None
));
rpc!(RecallMessageRequest, "RecallMessage", |r| Names::of(
    [name(r.topic.as_ref())],
    None
));
rpc!(QueryAssignmentRequest, "QueryAssignment", |r| Names::of(
    [name(r.topic.as_ref())],
    name(r.group.as_ref())
));
rpc!(ReceiveMessageRequest, "ReceiveMessage", |r| Names::of(
    [queue_topic(r.message_queue.as_ref())],
    name(r.group.as_ref())
));
rpc!(AckMessageRequest, "AckMessage", |r| Names::of(
    [name(r.topic.as_ref())],
    name(r.group.as_ref())
));
rpc!(
    ForwardMessageToDeadLetterQueueRequest,
    "ForwardMessageToDeadLetterQueue",
    |r| Names::of([name(r.topic.as_ref())], name(r.group.as_ref()))
);
rpc!(
    ChangeInvisibleDurationRequest,
    "ChangeInvisibleDuration",
    |r| Names::of([name(r.topic.as_ref())], name(r.group.as_ref()))
);
rpc!(PullMessageRequest, "PullMessage", |r| Names::of(
    [queue_topic(r.message_queue.as_ref())],
    name(r.group.as_ref())
));
rpc!(SyncLiteSubscriptionRequest, "SyncLiteSubscription", |r| {
    Names::of([name(r.topic.as_ref())], name(r.group.as_ref()))
});
rpc!(UpdateOffsetRequest, "UpdateOffset", |r| Names::of(
    [queue_topic(r.message_queue.as_ref())],
    name(r.group.as_ref())
));
rpc!(GetOffsetRequest, "GetOffset", |r| Names::of(
    [queue_topic(r.message_queue.as_ref())],
    name(r.group.as_ref())
));
rpc!(QueryOffsetRequest, "QueryOffset", |r| Names::of(
    [queue_topic(r.message_queue.as_ref())],
    None
));
// As Apache: a producer's heartbeat is checked for authentication only; a consumer's for its group.
rpc!(HeartbeatRequest, "Heartbeat", |r| {
    let consumer = matches!(
        r.client_type(),
        ClientType::PushConsumer | ClientType::SimpleConsumer | ClientType::PullConsumer
    );
    Names::of([], name(r.group.as_ref()).filter(|_| consumer))
});
rpc!(
    NotifyClientTerminationRequest,
    "NotifyClientTermination",
    |r| Names::of([], name(r.group.as_ref()).filter(|g| !g.is_empty()))
);

/// The method names of every RPC the endpoint serves, from the service definition it is generated
/// from (for the test that every one is in the authorization table).
pub const SERVED_RPCS: &[&str] = include!(concat!(env!("OUT_DIR"), "/served_rpcs.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    /// A row removed from `ferromq_auth::grpc_access` (or an RPC added to the service definition
    /// without one) is named here.
    #[test]
    fn every_served_rpc_is_in_the_authorization_table() {
        assert!(SERVED_RPCS.contains(&"SendMessage"), "{SERVED_RPCS:?}");
        let missing: Vec<&str> = SERVED_RPCS
            .iter()
            .copied()
            .filter(|rpc| !ferromq_auth::grpc_access::is_mapped(rpc))
            .collect();
        assert!(
            missing.is_empty(),
            "RPCs without an authorization row: {missing:?}"
        );
    }

    /// Each request type's name is a served RPC (a typo would make it unmapped, so refused).
    #[test]
    fn request_types_carry_served_names() {
        for name in [
            QueryRouteRequest::NAME,
            SendMessageRequest::NAME,
            EndTransactionRequest::NAME,
            RecallMessageRequest::NAME,
            QueryAssignmentRequest::NAME,
            ReceiveMessageRequest::NAME,
            AckMessageRequest::NAME,
            ForwardMessageToDeadLetterQueueRequest::NAME,
            ChangeInvisibleDurationRequest::NAME,
            PullMessageRequest::NAME,
            SyncLiteSubscriptionRequest::NAME,
            UpdateOffsetRequest::NAME,
            GetOffsetRequest::NAME,
            QueryOffsetRequest::NAME,
            HeartbeatRequest::NAME,
            NotifyClientTerminationRequest::NAME,
            TelemetryCommand::NAME,
        ] {
            assert!(SERVED_RPCS.contains(&name), "{name}");
        }
        assert_eq!(SERVED_RPCS.len(), 17, "{SERVED_RPCS:?}");
    }
}
