//! ferromq's HTTP listener: `/metrics` in the Prometheus text format, `/healthz` (the process
//! answers), `/readyz` (it serves: registered, store recovered, role known), and a broker's web
//! console: pages under `/console/` over a JSON API under `/api/`.
//!
//! Layout:
//!
//! - here: [`HttpServer::start`] and the [`HttpHandle`] that owns the listener's task.
//! - `routes`: the axum router, path → answer.
//! - `broker_metrics`: a broker's [`ferromq_broker::service::MetricsSnapshot`] as metric
//!   families in RocketMQ 5's names and labels.
//! - `process`: CPU time, resident memory and descriptors of this process, from `/proc`.
//! - [`exposition`]: the text format itself.
//! - `console`: the console's page, script and style, compiled into the binary.
//! - `api`: the console's JSON API; `api_error`: its error answers.
//! - `charts`: the sampler that keeps an hour of rates and lag for the console's charts.
//!
//! It reads a broker only through its service layer ([`ferromq_broker::BrokerService`]).
#![forbid(unsafe_code)]

mod api;
mod api_error;
mod broker_metrics;
pub mod charts;
mod console;
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
        let ring = Arc::new(charts::Charts::default());
        let app = routes::router(routes::AppState {
            target: target.clone(),
            charts: ring.clone(),
        });
        let sampler = charts::spawn(target.clone(), ring, charts::INTERVAL, token.clone());
        let task = tokio::spawn(async move {
            // The peer address: state-changing console calls are authorized for it (ACL IP rules).
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                warn!(error = %e, "HTTP listener stopped");
            }
        });
        info!(%local_addr, "HTTP listener (metrics, health, console) started");
        Ok(HttpHandle {
            local_addr,
            target,
            token,
            task,
            sampler,
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
    /// The console charts' sampler.
    sampler: JoinHandle<()>,
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

    /// Stops accepting, lets requests in progress finish, and waits for the listener's task and
    /// the charts' sampler.
    pub async fn shutdown(self) {
        self.token.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "HTTP listener task failed");
        }
        if let Err(e) = self.sampler.await {
            warn!(error = %e, "console chart sampler failed");
        }
    }
}
