//! What other protocol adapters register with the broker: a relay for transaction checks no
//! remoting producer can take (see `crate::transaction::relay`), how the v5 gRPC endpoint gets the
//! checks for its producers; and a directory of their connected clients (see
//! `crate::client_directory`), how views of a group list v5 clients.

use std::sync::Arc;

use super::BrokerService;
use crate::client_directory::ClientDirectory;
use crate::transaction::relay::CheckRelay;

impl BrokerService {
    /// Registers `relay` for transaction checks no remoting producer can take; it stays
    /// registered while the caller keeps the `Arc`.
    pub fn add_check_relay(&self, relay: &Arc<dyn CheckRelay>) {
        self.state.check_relays.add(relay);
    }

    /// Registers `directory` as a source of connected clients of another protocol (see
    /// `crate::client_directory`); it stays registered while the caller keeps the `Arc`.
    pub fn add_client_directory(&self, directory: &Arc<dyn ClientDirectory>) {
        self.state.client_directories.add(directory);
    }
}
