//! Transaction checks for producers that are not remoting connections. The check scan asks a
//! remoting producer of the half message's group directly (CHECK_TRANSACTION_STATE); when the
//! group has none, it offers the check to the relays other protocol adapters registered (the v5
//! gRPC endpoint pushes it down a producer's telemetry stream). The producer's answer comes back
//! through `BrokerService::end_transaction` with the offsets given here. The registry is a
//! component (the state holds it); adapters register through `BrokerService::add_check_relay`.

use std::fmt;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;

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
    /// Adds `relay`, held weakly.
    pub(crate) fn add(&self, relay: &Arc<dyn CheckRelay>) {
        self.relays.lock().push(Arc::downgrade(relay));
    }

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl CheckRelay for Counting {
        fn relay(&self, _check: &TransactionCheck) -> bool {
            self.0.fetch_add(1, Ordering::Relaxed);
            true
        }
    }

    #[test]
    fn a_relay_takes_checks_until_its_owner_drops_it() {
        let check = TransactionCheck {
            producer_group: "g".into(),
            commit_log_offset: 1,
            half_queue_offset: 2,
            record: Bytes::new(),
        };
        let relays = CheckRelays::default();
        assert!(!relays.offer(&check), "nobody registered");
        let counting = Arc::new(Counting::default());
        let relay: Arc<dyn CheckRelay> = counting.clone();
        relays.add(&relay);
        assert!(relays.offer(&check));
        assert_eq!(counting.0.load(Ordering::Relaxed), 1);
        drop(relay);
        drop(counting);
        assert!(!relays.offer(&check), "a dropped relay is gone");
    }
}
