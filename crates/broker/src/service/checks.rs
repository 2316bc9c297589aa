//! Transaction checks for producers that are not remoting connections. The check scan asks a
//! remoting producer of the half message's group directly (CHECK_TRANSACTION_STATE); when the
//! group has none, it offers the check to the relays other protocol adapters registered (the v5
//! gRPC endpoint pushes it down a producer's telemetry stream). The producer's answer comes back
//! through [`BrokerService::end_transaction`] with the offsets given here.

use std::fmt;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;

use super::BrokerService;

/// A question about one half message.
#[derive(Debug, Clone)]
pub struct TransactionCheck {
    pub producer_group: String,
    /// Where the copy of the half message the answer must name is stored.
    pub commit_log_offset: u64,
    pub half_queue_offset: u64,
    /// The half message as a stored record under its real topic and queue.
    pub record: Bytes,
}

/// Something that can put a check before a producer of the group.
pub trait CheckRelay: Send + Sync + fmt::Debug {
    /// Whether a producer was asked.
    fn relay(&self, check: &TransactionCheck) -> bool;
}

/// The registered relays. Held weakly: a stopped adapter drops out by itself.
#[derive(Debug, Default)]
pub struct CheckRelays {
    relays: Mutex<Vec<Weak<dyn CheckRelay>>>,
}

impl CheckRelays {
    /// Offers `check` to each live relay until one asks a producer; whether one did.
    pub(crate) fn offer(&self, check: &TransactionCheck) -> bool {
        let live: Vec<Arc<dyn CheckRelay>> = {
            let mut relays = self.relays.lock();
            relays.retain(|r| r.strong_count() > 0);
            relays.iter().filter_map(Weak::upgrade).collect()
        };
        live.iter().any(|r| r.relay(check))
    }
}

impl BrokerService {
    /// Registers `relay` for transaction checks no remoting producer can take; it stays
    /// registered while the caller keeps the `Arc`.
    pub fn add_check_relay(&self, relay: &Arc<dyn CheckRelay>) {
        self.state
            .check_relays
            .relays
            .lock()
            .push(Arc::downgrade(relay));
    }
}
