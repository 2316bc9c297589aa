//! The state shared by the request handlers and the liveness scan.

use std::collections::HashMap;
use std::time::Duration;

use ferromq_net::{Connection, ConnectionId};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::kv::KvStore;
use crate::routes::RouteTable;

/// Locks are held only for the synchronous table operation, never across an `.await`, and never
/// nested.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) routes: RwLock<RouteTable>,
    pub(crate) kv: KvStore,
    /// Connections brokers registered on, so that an expired broker's connection can be closed.
    pub(crate) broker_conns: Mutex<HashMap<ConnectionId, Connection>>,
    /// Bumped after every change of the route table; lets tests and watchers wait for one.
    pub(crate) changes: watch::Sender<u64>,
    /// Liveness timeout of brokers that do not send their own.
    pub(crate) broker_expiry: Duration,
}

impl State {
    pub(crate) fn new(kv: KvStore, broker_expiry: Duration) -> Self {
        Self {
            routes: RwLock::new(RouteTable::new()),
            kv,
            broker_conns: Mutex::new(HashMap::new()),
            changes: watch::Sender::new(0),
            broker_expiry,
        }
    }

    pub(crate) fn routes_changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }
}
