//! Master/replica replication of the commit log (RocketMQ's master/slave HA).
//!
//! A master (ASYNC_MASTER or SYNC_MASTER) listens on its HA port; a replica (SLAVE) connects to its
//! master's HA address, reports the offset it holds, and receives the log from there on, written at
//! the same offsets ([`ferromq_store::Store::append_replicated`]); its own dispatcher builds its consume
//! queues and index. Under SYNC_MASTER a send is answered only once `min_in_sync_replicas` replicas
//! acknowledged its bytes; with fewer replicas in sync it is answered SLAVE_NOT_AVAILABLE at once, and
//! FLUSH_SLAVE_TIMEOUT when the acknowledgement does not come in time (the message is stored on the
//! master either way, as in RocketMQ).
//!
//! - [`wire`]: the stream's framing. [`master`]: serving replicas. [`replica`]: following a master.
//! - [`acks`]: replicas' acknowledged offsets, the in-sync set, waiting for a quorum.
//! - [`epochs`]: where each master epoch began in the log, to cut a former master back to what the
//!   new one has (controller mode).
//!
//! The tasks that drive replication over the whole broker (mirroring the master's metadata, following
//! the controllers' choice of master) live in `crate::tasks`.

pub mod acks;
pub mod epochs;
pub mod master;
pub mod replica;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::{watch, Notify};

pub use acks::{Acks, DepartedReplica, ReplicaInfo, ReplicaWaitError};

/// The replication state a broker shares with its handlers.
#[derive(Debug)]
pub struct Replication {
    /// Master side: replicas and their acknowledgements.
    pub acks: Arc<Acks>,
    /// Notified after every append, to wake the streams to replicas.
    pub written: Arc<Notify>,
    /// Replica side: the master's HA address to follow (from the configuration or the name server).
    pub master: Arc<RwLock<Option<String>>>,
    /// Replica side: the master's broker (remoting) address, from the name servers.
    pub master_broker: Arc<RwLock<Option<String>>>,
    /// Replica side: the master's offset as last seen.
    pub master_offset: Arc<watch::Sender<u64>>,
    /// Master side: the HA address published to the name servers.
    pub advertised: Option<SocketAddr>,
    /// Controller mode: a controller announced a role change; heartbeat now.
    pub wake: Arc<Notify>,
}

impl Replication {
    #[must_use]
    pub fn new(
        min_in_sync: usize,
        max_gap: u64,
        timeout: Duration,
        master: Option<String>,
        advertised: Option<SocketAddr>,
    ) -> Self {
        Replication {
            advertised,
            acks: Arc::new(Acks::new(min_in_sync, max_gap, timeout)),
            written: Arc::new(Notify::new()),
            master: Arc::new(RwLock::new(master)),
            master_broker: Arc::new(RwLock::new(None)),
            master_offset: Arc::new(watch::Sender::new(0)),
            wake: Arc::new(Notify::new()),
        }
    }
}
