//! The ferromq name server: brokers register their topics here; clients ask it for topic routes.
//!
//! Layout:
//!
//! - [`routes`]: the route table (topics → queues, brokers, clusters, liveness); pure logic.
//! - `liveness`: the periodic expiry scan.
//! - [`handlers`]: request code → handler function, and broker connection tracking.
//! - [`kv`]: KV config, the only persisted state.
//! - [`config`]: the settings, [`NameServerConfig`].
//! - [`auth`]: brokers authenticated with the inner credentials (`authenticationEnabled`).
//! - `state`: what the handlers and the scan share.
//! - here: [`NameServer::start`] and the [`NameServerHandle`] that owns the tasks.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod handlers;
pub mod kv;
mod liveness;
pub mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_net::{ConnectionConfig, ServerTls, ServiceHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

pub use config::{ConfigError, NameServerConfig};
pub use kv::KvError;

use handlers::NameServerHandler;
use kv::KvStore;
use state::State;

/// Why the name server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NameServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Kv(#[from] KvError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The name server service.
#[derive(Debug)]
pub struct NameServer;

impl NameServer {
    /// Starts serving on `listener` (so the caller chooses the port, 0 in tests); `config.listen`
    /// is for the binary that binds it. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// An invalid configuration, an unreadable KV file, or a listener without an address.
    pub fn start(
        config: NameServerConfig,
        listener: TcpListener,
    ) -> Result<NameServerHandle, NameServerError> {
        config.validate()?;
        let kv = KvStore::open(config.kv_config_path.clone())?;
        let local_addr = listener.local_addr()?;
        let state = Arc::new(State::new(kv, config.broker_expiry));
        let service = ServiceHandle::new();
        let auth = auth::BrokerAuth::new(
            config.authentication_enabled,
            config.inner_client_authentication_credentials.as_ref(),
        )?;
        let handler = Arc::new(NameServerHandler::new(state.clone(), auth));
        let tls = ServerTls::from_config(&config.tls)
            .map_err(ConfigError::Tls)?
            .map(Arc::new);
        service.spawn(ferromq_net::server::run(
            listener,
            handler,
            ConnectionConfig::default(),
            tls,
            service.token().clone(),
        ));
        service.spawn(liveness::run(
            state.clone(),
            config.scan_interval,
            service.token().clone(),
        ));
        info!(%local_addr, tls = %config.tls.mode, authentication = config.authentication_enabled, ?config, "name server started");
        Ok(NameServerHandle {
            local_addr,
            service,
            changes: state.changes.subscribe(),
            state,
        })
    }
}

/// Owns the running name server.
#[derive(Debug)]
pub struct NameServerHandle {
    local_addr: SocketAddr,
    service: ServiceHandle,
    changes: watch::Receiver<u64>,
    state: Arc<State>,
}

impl NameServerHandle {
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A counter bumped after every change of the route table (registration, expiry, closed broker
    /// connection, ...): wait on it instead of polling.
    #[must_use]
    pub fn route_changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    /// The registered brokers now, as GET_BROKER_CLUSTER_INFO answers it: lets an embedding
    /// process wait until its brokers are reachable through the name server.
    #[must_use]
    pub fn cluster_info(&self) -> ferromq_remoting::body::route::ClusterInfo {
        self.state.routes.read().cluster_info()
    }

    /// Stops accepting, closes every connection, stops the expiry scan and waits for all tasks.
    pub async fn shutdown(self) {
        self.service.shutdown().await;
        info!(local_addr = %self.local_addr, "name server stopped");
    }
}
