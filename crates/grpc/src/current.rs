//! The broker the endpoint serves. A broker under a controller may restart in place (log cut,
//! new state) while the gRPC port and its clients' connections stay: the endpoint is pointed at
//! the new broker's service, and every RPC reads the current one when it starts. Each broker
//! served is told the endpoint's address, which it registers with the name servers so that other
//! brokers' routes lead v5 clients here.

use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_broker::service::{CheckRelay, ClientDirectory};
use ferromq_broker::BrokerService;
use parking_lot::RwLock;

/// The served broker, shared by every RPC.
#[derive(Debug, Clone)]
pub(crate) struct CurrentBroker {
    inner: Arc<RwLock<BrokerService>>,
    /// Registered with each broker served, for transaction checks of v5 producers.
    relay: Arc<dyn CheckRelay>,
    /// Registered with each broker served, so that its views of a group list v5 clients.
    directory: Arc<dyn ClientDirectory>,
    /// The endpoint's address as clients dial it.
    advertised: SocketAddr,
}

impl CurrentBroker {
    pub(crate) fn new(
        broker: BrokerService,
        relay: Arc<dyn CheckRelay>,
        directory: Arc<dyn ClientDirectory>,
        advertised: SocketAddr,
    ) -> Self {
        broker.add_check_relay(&relay);
        broker.add_client_directory(&directory);
        broker.announce_grpc_endpoint(advertised);
        CurrentBroker {
            inner: Arc::new(RwLock::new(broker)),
            relay,
            directory,
            advertised,
        }
    }

    /// The broker to use for one RPC (a cheap clone; the lock is not held across awaits).
    pub(crate) fn get(&self) -> BrokerService {
        self.inner.read().clone()
    }

    pub(crate) fn replace(&self, broker: BrokerService) {
        broker.add_check_relay(&self.relay);
        broker.add_client_directory(&self.directory);
        broker.announce_grpc_endpoint(self.advertised);
        *self.inner.write() = broker;
    }
}
