//! A topic's queues on every broker that serves it, each with the address of the broker's own
//! RocketMQ 5 gRPC endpoint: what a v5 client is given when it asks any one broker for a route,
//! so that it sends to and receives from each broker directly (as Apache's proxy routes in
//! cluster mode).
//!
//! The other brokers come from the name servers' route (briefly cached, see
//! [`crate::topic_routes::TopicRoutes::cached`]), which carries the gRPC endpoint each broker
//! registered with; masters (id 0) only, and only those that serve gRPC. This broker's own queues
//! come from its topic table, so they are exact and need no name server: with none configured, or
//! none answering, the route is this broker's alone.

use std::net::SocketAddr;

use ferromq_remoting::body::route::{TopicRouteData, MASTER_ID};
use tracing::debug;

use super::{BrokerService, MessageKind};
use crate::error::BrokerError;

/// A topic across the brokers that serve it over gRPC.
#[derive(Debug, Clone)]
pub struct ClusterRoute {
    /// Sorted by broker name.
    pub brokers: Vec<BrokerQueues>,
}

/// One broker's queues of a topic, and where v5 clients reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerQueues {
    pub broker_name: String,
    /// The broker's gRPC endpoint, as clients dial it.
    pub grpc_addr: SocketAddr,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    /// `perm` bits of the topic on that broker.
    pub perm: i32,
    /// The message kinds the topic takes there. Known exactly for this broker; for another one,
    /// this broker's view of the topic when it has it, else every kind (the name servers do not
    /// carry topic attributes, and the owning broker refuses a kind it does not take on send).
    pub accepts: Vec<MessageKind>,
}

impl BrokerService {
    /// Announces the gRPC endpoint serving this broker; the name servers learn it with the next
    /// registration, which starts at once.
    pub fn announce_grpc_endpoint(&self, addr: SocketAddr) {
        self.state.grpc_endpoint.send_if_modified(|current| {
            let changed = *current != Some(addr);
            *current = Some(addr);
            changed
        });
    }

    /// The queues of `topic` on every broker that serves it over gRPC (see the module
    /// documentation).
    ///
    /// # Errors
    /// `TopicNotExist` when neither this broker nor any broker the name servers route has the
    /// topic.
    pub async fn cluster_route(&self, topic: &str) -> Result<ClusterRoute, BrokerError> {
        let s = &self.state;
        let local = self.route(topic);
        let here = *s.grpc_endpoint.borrow();
        let own_name = s.config.broker_name.as_str();
        let remote = if s.config.namesrv_addrs.is_empty() {
            None
        } else {
            s.topic_routes.cached(&s.config.namesrv_addrs, topic).await
        };
        let other_accepts = local
            .as_ref()
            .map_or_else(|_| MessageKind::ALL.to_vec(), |l| l.accepts.clone());
        // A master answers for itself from its own table; a replica sends clients to its master,
        // as the name servers route it.
        let local_entry = match (&local, here) {
            (Ok(route), Some(addr)) => Some(BrokerQueues {
                broker_name: own_name.to_owned(),
                grpc_addr: addr,
                read_queue_nums: route.config.read_queue_nums,
                write_queue_nums: route.config.write_queue_nums,
                perm: route.config.perm,
                accepts: route.accepts.clone(),
            }),
            _ => None,
        };
        let answer_for_self = local_entry.is_some() && s.role.is_master();
        let mut brokers: Vec<BrokerQueues> = remote
            .as_ref()
            .map(|r| masters_with_grpc(r, &other_accepts))
            .unwrap_or_default()
            .into_iter()
            .filter(|b| !(answer_for_self && b.broker_name == own_name))
            .collect();
        if let Some(entry) = local_entry {
            if !brokers.iter().any(|b| b.broker_name == own_name) {
                brokers.push(entry);
            }
        }
        if let (true, Err(e)) = (brokers.is_empty(), local) {
            // The topic is unknown here, and no broker that serves gRPC has it.
            return Err(e);
        }
        brokers.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        Ok(ClusterRoute { brokers })
    }
}

/// The queues of `route` on masters that registered a gRPC endpoint.
fn masters_with_grpc(route: &TopicRouteData, accepts: &[MessageKind]) -> Vec<BrokerQueues> {
    route
        .queue_datas
        .iter()
        .filter_map(|q| {
            let broker = route
                .broker_datas
                .iter()
                .find(|b| b.broker_name == q.broker_name)?;
            broker.master_addr()?;
            let grpc = broker.grpc_addrs.get(&MASTER_ID)?;
            let grpc_addr = grpc
                .parse()
                .inspect_err(|e| {
                    debug!(broker = %q.broker_name, %grpc, error = %e, "unusable gRPC address in route");
                })
                .ok()?;
            Some(BrokerQueues {
                broker_name: q.broker_name.clone(),
                grpc_addr,
                read_queue_nums: q.read_queue_nums,
                write_queue_nums: q.write_queue_nums,
                perm: q.perm,
                accepts: accepts.to_vec(),
            })
        })
        .collect()
}
