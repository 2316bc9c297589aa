//! The part this broker plays in its group right now: master (sync or async) or replica, the master
//! epoch it is in, and the id it registers under with the name servers.
//!
//! Without a controller the role is the configured `brokerRole` for the broker's whole life. In
//! controller mode (`crate::tasks::controller_agent`) it starts as replica and follows the controllers' decisions:
//! a master registers as id 0, a replica as its own `brokerId`, and a master holds a *lease*: it takes
//! sends only while a controller confirmed it recently, so that a master cut off from the controllers
//! has stopped writing before they can elect another one.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::time::Instant;

use ferromq_store::Store;
use parking_lot::Mutex;

use crate::config::{BrokerConfig, BrokerRole};

const REPLICA: u8 = 0;
const ASYNC_MASTER: u8 = 1;
const SYNC_MASTER: u8 = 2;

/// Why a write request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRefusal {
    /// A replica: the master takes writes.
    Replica,
    /// A master whose lease ran out: no controller confirmed it in time, another may be elected.
    LeaseExpired,
}

/// See the module documentation. Shared by handlers and background tasks.
#[derive(Debug)]
pub struct Role {
    kind: AtomicU8,
    epoch: AtomicU64,
    namesrv_id: AtomicI64,
    /// Controller mode only: a master takes writes until then.
    lease: Mutex<Option<Instant>>,
    controlled: bool,
    /// The kind of master this broker is when it is one.
    master_kind: u8,
    own_id: i64,
    store: Store,
}

fn encode(role: BrokerRole) -> u8 {
    match role {
        BrokerRole::Slave => REPLICA,
        BrokerRole::AsyncMaster => ASYNC_MASTER,
        BrokerRole::SyncMaster => SYNC_MASTER,
    }
}

impl Role {
    /// The starting role: the configured one, or (controller mode) a replica at `epoch` until the
    /// controllers say otherwise. Sets the store read-only for a replica.
    #[must_use]
    pub fn new(config: &BrokerConfig, store: Store, epoch: u64) -> Self {
        let start = if config.enable_controller_mode {
            BrokerRole::Slave
        } else {
            config.broker_role
        };
        store.set_read_only(start == BrokerRole::Slave);
        Self {
            kind: AtomicU8::new(encode(start)),
            epoch: AtomicU64::new(epoch),
            namesrv_id: AtomicI64::new(config.broker_id),
            lease: Mutex::new(None),
            controlled: config.enable_controller_mode,
            master_kind: encode(config.broker_role),
            own_id: config.broker_id,
            store,
        }
    }

    /// The role now.
    #[must_use]
    pub fn current(&self) -> BrokerRole {
        match self.kind.load(Ordering::Acquire) {
            ASYNC_MASTER => BrokerRole::AsyncMaster,
            SYNC_MASTER => BrokerRole::SyncMaster,
            _ => BrokerRole::Slave,
        }
    }

    #[must_use]
    pub fn is_master(&self) -> bool {
        self.kind.load(Ordering::Acquire) != REPLICA
    }

    #[must_use]
    pub fn is_sync_master(&self) -> bool {
        self.kind.load(Ordering::Acquire) == SYNC_MASTER
    }

    /// Whether a controller decides the role (`enableControllerMode`).
    #[must_use]
    pub fn is_controlled(&self) -> bool {
        self.controlled
    }

    /// The master epoch this broker is in (0 without a controller).
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The id to register with the name servers: 0 for a master.
    #[must_use]
    pub fn namesrv_id(&self) -> i64 {
        self.namesrv_id.load(Ordering::Acquire)
    }

    /// Whether a send may be taken now; the reason when not.
    ///
    /// # Errors
    /// The [`WriteRefusal`].
    pub fn check_writable(&self) -> Result<(), WriteRefusal> {
        if !self.is_master() {
            return Err(WriteRefusal::Replica);
        }
        if self.controlled && !self.lease.lock().is_some_and(|l| Instant::now() < l) {
            return Err(WriteRefusal::LeaseExpired);
        }
        Ok(())
    }

    /// Controller mode: the lease of a master, renewed on each confirmation.
    pub fn renew_lease(&self, until: Instant) {
        let mut lease = self.lease.lock();
        if lease.is_none_or(|l| l < until) {
            *lease = Some(until);
        }
        if self.is_master() {
            self.store.set_read_only(false);
        }
    }

    /// When the lease ends (controller mode, master).
    #[must_use]
    pub fn lease_end(&self) -> Option<Instant> {
        *self.lease.lock()
    }

    /// The lease ran out: no new records at all (background writers included) until renewed.
    pub fn lease_expired(&self) {
        self.store.set_read_only(true);
    }

    /// Becomes master of `epoch`. The caller has stopped following the previous master first, so
    /// that no replicated append can land after the first own one.
    pub fn become_master(&self, epoch: u64, lease_until: Instant) {
        self.epoch.store(epoch, Ordering::Release);
        *self.lease.lock() = Some(lease_until);
        self.namesrv_id.store(0, Ordering::Release);
        self.kind.store(self.master_kind, Ordering::Release);
        self.store.set_read_only(false);
    }

    /// Becomes a replica in `epoch`: refuses writes at once.
    pub fn become_replica(&self, epoch: u64) {
        self.store.set_read_only(true);
        self.kind.store(REPLICA, Ordering::Release);
        *self.lease.lock() = None;
        self.namesrv_id.store(self.own_id, Ordering::Release);
        self.epoch.store(epoch, Ordering::Release);
    }
}
