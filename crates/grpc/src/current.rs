//! The broker the endpoint serves. A broker under a controller may restart in place (log cut,
//! new state) while the gRPC port and its clients' connections stay: the endpoint is pointed at
//! the new broker's service, and every RPC reads the current one when it starts.

use std::sync::Arc;

use ferromq_broker::service::CheckRelay;
use ferromq_broker::BrokerService;
use parking_lot::RwLock;

/// The served broker, shared by every RPC.
#[derive(Debug, Clone)]
pub(crate) struct CurrentBroker {
    inner: Arc<RwLock<BrokerService>>,
    /// Registered with each broker served, for transaction checks of v5 producers.
    relay: Arc<dyn CheckRelay>,
}

impl CurrentBroker {
    pub(crate) fn new(broker: BrokerService, relay: Arc<dyn CheckRelay>) -> Self {
        broker.add_check_relay(&relay);
        CurrentBroker {
            inner: Arc::new(RwLock::new(broker)),
            relay,
        }
    }

    /// The broker to use for one RPC (a cheap clone; the lock is not held across awaits).
    pub(crate) fn get(&self) -> BrokerService {
        self.inner.read().clone()
    }

    pub(crate) fn replace(&self, broker: BrokerService) {
        broker.add_check_relay(&self.relay);
        *self.inner.write() = broker;
    }
}
