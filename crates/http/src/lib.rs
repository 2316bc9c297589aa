//! ferromq's HTTP listener: `/metrics` in the Prometheus text format, `/healthz` (the process
//! answers) and `/readyz` (it serves: registered, store recovered, role known).
//!
//! Layout:
//!
//! - here: [`HttpServer::start`] and the [`HttpHandle`] that owns the listener's task.
//! - `routes`: the axum router, path → answer.
//! - `broker_metrics`: a broker's [`ferromq_broker::service::MetricsSnapshot`] as metric
//!   families in RocketMQ 5's names and labels.
//! - `process`: CPU time, resident memory and descriptors of this process, from `/proc`.
//! - [`exposition`]: the text format itself.
//!
//! It reads a broker only through its service layer ([`ferromq_broker::BrokerService`]).
#![forbid(unsafe_code)]

mod broker_metrics;
pub mod exposition;
mod process;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_broker::BrokerService;
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// What the listener reports on.
#[derive(Debug, Clone)]
pub enum Target {
    /// A broker: its metrics and readiness.
    Broker(BrokerService),
    /// A process with nothing to report but itself (a name server, a controller): process metrics,
    /// always ready once it answers.
    Process,
}

/// Starts HTTP listeners.
#[derive(Debug)]
pub struct HttpServer;

impl HttpServer {
    /// Serves `target` on `listener` until the handle is shut down.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    pub fn start(listener: TcpListener, target: Target) -> std::io::Result<HttpHandle> {
        let local_addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let stop = token.clone();
        let target = Arc::new(RwLock::new(target));
        let app = routes::router(target.clone());
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                warn!(error = %e, "HTTP listener stopped");
            }
        });
        info!(%local_addr, "HTTP listener (metrics, health) started");
        Ok(HttpHandle {
            local_addr,
            target,
            token,
            task,
        })
    }
}

/// Owns a running HTTP listener.
#[derive(Debug)]
pub struct HttpHandle {
    local_addr: SocketAddr,
    target: Arc<RwLock<Target>>,
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl HttpHandle {
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Reports on `target` from now on: a broker restarted in place (controller mode) keeps its
    /// HTTP address.
    pub fn serve(&self, target: Target) {
        *self.target.write() = target;
    }

    /// Stops accepting, lets requests in progress finish, and waits for the listener's task.
    pub async fn shutdown(self) {
        self.token.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "HTTP listener task failed");
        }
    }
}
