//! Registering a relay for transaction checks no remoting producer can take (see
//! `crate::transaction::relay`): how the v5 gRPC endpoint gets the checks for its producers.

use std::sync::Arc;

use super::BrokerService;
use crate::transaction::relay::CheckRelay;

impl BrokerService {
    /// Registers `relay` for transaction checks no remoting producer can take; it stays
    /// registered while the caller keeps the `Arc`.
    pub fn add_check_relay(&self, relay: &Arc<dyn CheckRelay>) {
        self.state.check_relays.add(relay);
    }
}
