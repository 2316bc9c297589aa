//! QueryRoute and QueryAssignment: the queues of a topic on every broker that serves it over
//! gRPC, each named with its broker and that broker's own endpoint, so a v5 client sends to and
//! receives from each broker directly (the service's `cluster_route`; with no name server, this
//! broker's queues alone).

use std::net::SocketAddr;

use ferromq_broker::service::{BrokerQueues, MessageKind};
use ferromq_broker::BrokerService;
use ferromq_proto::v2::{
    AddressScheme, Assignment, Broker, Endpoints, MessageQueue, MessageType, Permission,
    QueryAssignmentRequest, QueryAssignmentResponse, QueryRouteRequest, QueryRouteResponse,
};
use ferromq_proto::{Code, Resource, Status};
use ferromq_remoting::body::route::perm;

use crate::status;

/// The master's broker id in v5 routes: clients only send to and receive from id 0.
const MASTER_ID: i32 = 0;

/// In an assignment, "any queue of this broker": the broker balances pops over its queues.
const ANY_QUEUE: i32 = -1;

pub(crate) async fn query_route(
    broker: &BrokerService,
    req: &QueryRouteRequest,
) -> QueryRouteResponse {
    let Some(topic) = req.topic.as_ref().filter(|t| !t.name.is_empty()) else {
        return QueryRouteResponse {
            status: Some(Status::new(
                Code::IllegalTopic,
                "the request names no topic",
            )),
            message_queues: Vec::new(),
        };
    };
    match broker.cluster_route(&topic.qualified_name()).await {
        Ok(route) => QueryRouteResponse {
            status: Some(Status::ok()),
            message_queues: route
                .brokers
                .iter()
                .flat_map(|b| queues(b, topic))
                .collect(),
        },
        Err(e) => QueryRouteResponse {
            status: Some(status::from_broker(&e)),
            message_queues: Vec::new(),
        },
    }
}

pub(crate) async fn query_assignment(
    broker: &BrokerService,
    req: &QueryAssignmentRequest,
) -> QueryAssignmentResponse {
    let failed = |status: Status| QueryAssignmentResponse {
        status: Some(status),
        assignments: Vec::new(),
    };
    let Some(topic) = req.topic.as_ref().filter(|t| !t.name.is_empty()) else {
        return failed(Status::new(
            Code::IllegalTopic,
            "the request names no topic",
        ));
    };
    let Some(group) = req.group.as_ref().filter(|g| !g.name.is_empty()) else {
        return failed(Status::new(
            Code::IllegalConsumerGroup,
            "the request names no consumer group",
        ));
    };
    let route = match broker.cluster_route(&topic.qualified_name()).await {
        Ok(r) => r,
        Err(e) => return failed(status::from_broker(&e)),
    };
    // An orderly (FIFO) group is given each queue, so one receive loop keeps one queue's order;
    // any other group one entry per broker, which balances pops over its own queues.
    let orderly = broker
        .group(&group.qualified_name())
        .is_ok_and(|g| g.consume_message_orderly);
    let mut assigned = Vec::new();
    for b in &route.brokers {
        let readable: Vec<MessageQueue> = queues(b, topic)
            .into_iter()
            .filter(|q| {
                q.permission() == Permission::Read || q.permission() == Permission::ReadWrite
            })
            .collect();
        if orderly {
            assigned.extend(readable);
        } else if let Some(first) = readable.into_iter().next() {
            assigned.push(MessageQueue {
                id: ANY_QUEUE,
                ..first
            });
        }
    }
    if assigned.is_empty() {
        return failed(Status::new(
            Code::Forbidden,
            format!("topic {topic} has no readable queue"),
        ));
    }
    QueryAssignmentResponse {
        status: Some(Status::ok()),
        assignments: assigned
            .into_iter()
            .map(|q| Assignment {
                message_queue: Some(q),
            })
            .collect(),
    }
}

/// One entry per queue id of the topic on broker `b`: ids below both counts take the topic's
/// permission, the surplus of the larger count only its side.
fn queues(b: &BrokerQueues, topic: &Resource) -> Vec<MessageQueue> {
    let (read, write) = (b.read_queue_nums.max(0), b.write_queue_nums.max(0));
    let topic_read = b.perm & perm::READ != 0;
    let topic_write = b.perm & perm::WRITE != 0;
    let broker = Broker {
        name: b.broker_name.clone(),
        id: MASTER_ID,
        endpoints: Some(endpoints(b.grpc_addr)),
    };
    let accept: Vec<i32> = b.accepts.iter().map(|k| message_type(*k) as i32).collect();
    (0..read.max(write))
        .map(|id| {
            let permission = match (topic_read && id < read, topic_write && id < write) {
                (true, true) => Permission::ReadWrite,
                (true, false) => Permission::Read,
                (false, true) => Permission::Write,
                (false, false) => Permission::None,
            };
            MessageQueue {
                topic: Some(topic.clone()),
                id,
                permission: permission as i32,
                broker: Some(broker.clone()),
                accept_message_types: accept.clone(),
            }
        })
        .collect()
}

pub(crate) fn endpoints(addr: SocketAddr) -> Endpoints {
    Endpoints {
        scheme: if addr.is_ipv4() {
            AddressScheme::IPv4
        } else {
            AddressScheme::IPv6
        } as i32,
        addresses: vec![ferromq_proto::v2::Address {
            host: addr.ip().to_string(),
            port: i32::from(addr.port()),
        }],
    }
}

pub(crate) fn message_type(kind: MessageKind) -> MessageType {
    match kind {
        MessageKind::Normal => MessageType::Normal,
        MessageKind::Fifo => MessageType::Fifo,
        MessageKind::Delay => MessageType::Delay,
        MessageKind::Transaction => MessageType::Transaction,
    }
}
