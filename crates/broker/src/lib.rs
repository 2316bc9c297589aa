//! The ferromq broker: stores messages sent by producers and serves them to consumers, speaking
//! RocketMQ's remoting protocol.
//!
//! Layout:
//!
//! - here: [`Broker::start`] and the [`BrokerHandle`] that owns every task and the store.
//! - [`config`] / [`java_conf`]: [`BrokerConfig`], from TOML or a Java `broker.conf`.
//! - `handlers/`: request code → handler (`send`, `pull`, `heartbeat`, `offsets`, `query`, `admin`).
//! - [`topics`]: topic table, auto-creation, `config/topics.json`.
//! - [`offsets`]: consumer offsets, `config/consumerOffset.json`.
//! - [`clients`]: consumer and producer groups (heartbeats, expiry).
//! - [`long_poll`]: parked pulls, woken by the store's dispatcher.
//! - [`filter`]: tag subscriptions.
//! - `registrar`: registration with the name servers.
//! - [`names`]: topic and group naming rules.
//! - [`responses`]: [`BrokerError`] → response code, in one place.
//! - `state`, `stats`, `persist`, `uniq_key`, `housekeeping`: shared state and small helpers.
#![forbid(unsafe_code)]

pub mod clients;
pub mod config;
pub mod error;
pub mod filter;
mod handlers;
mod housekeeping;
pub mod java_conf;
pub mod long_poll;
pub mod names;
pub mod offsets;
mod persist;
mod registrar;
pub mod responses;
mod state;
mod stats;
pub mod topics;
mod uniq_key;

use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_net::{ClientConfig, ClientPool, ConnectionConfig, ServerHandle, ServiceHandle};
use ferromq_store::StoreHandle;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

pub use config::{BrokerConfig, BrokerRole, ConfigError};
pub use error::BrokerError;

use handlers::BrokerHandler;
use offsets::ConsumerOffsets;
use state::State;
use topics::Topics;

/// The broker service.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// Opens the store under `config.store_root_dir` (recovering it if needed), serves on
    /// `listener` and registers with the configured name servers. `config.listen` is for the binary
    /// that binds the listener; the advertised address uses the listener's actual port.
    ///
    /// # Errors
    /// An invalid configuration, a store that cannot open, corrupt metadata files.
    pub async fn start(
        config: BrokerConfig,
        listener: TcpListener,
    ) -> Result<BrokerHandle, BrokerError> {
        config.validate()?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| BrokerError::io("listener", e))?;
        let advertised = config.advertised_addr(local_addr);
        let store_config = config.store_config();
        let store = tokio::task::spawn_blocking(move || StoreHandle::open(store_config))
            .await
            .map_err(|e| BrokerError::Missing(format!("store open task failed: {e}")))??;
        let dir = config.config_dir();
        let topics = Topics::open(dir.join("topics.json"), &config)?;
        let offsets = ConsumerOffsets::open(dir.join("consumerOffset.json"))?;
        let state = Arc::new(State {
            advertised,
            store: store.store().clone(),
            topics,
            offsets,
            clients: clients::Clients::default(),
            long_poll: Arc::default(),
            stats: stats::Stats::default(),
            tasks: TaskTracker::new(),
            started_ms: topics::now_ms(),
            config,
        });
        let long_poll = state.long_poll.clone();
        state
            .store
            .add_arrival_listener(Arc::new(move |topic: &str, queue_id: u32, _max: u64| {
                long_poll.notify(topic, queue_id);
            }));

        let pool = ClientPool::new(ClientConfig::default());
        registrar::register_all(&state, &pool).await;
        let service = ServiceHandle::new();
        service.spawn(registrar::run(state.clone(), pool, service.token().clone()));
        service.spawn(housekeeping::persist_offsets(
            state.clone(),
            service.token().clone(),
        ));
        service.spawn(housekeeping::expire_clients(
            state.clone(),
            service.token().clone(),
        ));
        let server = ferromq_net::serve(
            listener,
            Arc::new(BrokerHandler::new(state.clone())),
            ConnectionConfig::default(),
        )
        .map_err(|e| BrokerError::io("listener", e))?;
        info!(%local_addr, %advertised, broker = %state.config.broker_name, cluster = %state.config.cluster_name, "broker started");
        Ok(BrokerHandle {
            local_addr,
            advertised,
            server,
            service,
            state,
            store,
        })
    }
}

/// Owns the running broker: its server, background tasks and store.
#[derive(Debug)]
pub struct BrokerHandle {
    local_addr: SocketAddr,
    advertised: SocketAddr,
    server: ServerHandle,
    service: ServiceHandle,
    state: Arc<State>,
    store: StoreHandle,
}

impl BrokerHandle {
    /// The address the broker listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address published to name servers and embedded in message ids.
    #[must_use]
    pub fn advertised_addr(&self) -> SocketAddr {
        self.advertised
    }

    /// Number of pulls currently parked by long polling.
    #[must_use]
    pub fn parked_pulls(&self) -> usize {
        self.state.long_poll.parked()
    }

    /// Stops in order: unregister from the name servers and stop the background tasks, stop
    /// accepting and close every connection (answering nothing more), flush and close the store,
    /// then write consumer offsets and topics.
    pub async fn shutdown(self) {
        let BrokerHandle {
            local_addr,
            server,
            service,
            state,
            store,
            ..
        } = self;
        service.shutdown().await;
        server.shutdown().await;
        state.tasks.close();
        state.tasks.wait().await;
        let s = state.clone();
        let closed = tokio::task::spawn_blocking(move || {
            let store_result = store.shutdown();
            (store_result, s.offsets.persist())
        })
        .await;
        match closed {
            Ok((store_result, offsets_result)) => {
                if let Err(e) = store_result {
                    warn!(error = %e, "store shutdown failed");
                }
                if let Err(e) = offsets_result {
                    warn!(error = %e, "persisting consumer offsets failed");
                }
            }
            Err(e) => warn!(error = %e, "shutdown task failed"),
        }
        info!(%local_addr, "broker stopped");
    }
}
