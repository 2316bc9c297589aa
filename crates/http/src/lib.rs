//! ferromq's HTTP listener: `/metrics` in the Prometheus text format, `/healthz` (the process
//! answers), `/readyz` (it serves: registered, store recovered, role known), and a broker's web
//! console: pages under `/console/` over a JSON API under `/api/`.
//!
//! Layout:
//!
//! - here: [`HttpServer::start`] (plaintext), [`HttpServer::start_tls`] (HTTPS) and the
//!   [`HttpHandle`] that owns the listener's tasks.
//! - `tls_listener`: the connections of an HTTPS listener, opened with the remoting listener's
//!   TLS settings.
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
mod tls_listener;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt as _;
use ferromq_broker::BrokerService;
use ferromq_net::ServerTls;
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
    /// Serves `target` over plaintext HTTP on `listener` until the handle is shut down.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    pub fn start(listener: TcpListener, target: Target) -> std::io::Result<HttpHandle> {
        Self::start_with(listener, target, None)
    }

    /// Serves `target` over HTTPS on `listener`, with `tls`: the certificate and mode of the
    /// remoting listener (`permissive` also answers plaintext HTTP on the same port, `enforcing`
    /// closes it unanswered).
    ///
    /// # Errors
    /// The listener's address cannot be read.
    pub fn start_tls(
        listener: TcpListener,
        target: Target,
        tls: ServerTls,
    ) -> std::io::Result<HttpHandle> {
        Self::start_with(listener, target, Some(Arc::new(tls)))
    }

    fn start_with(
        listener: TcpListener,
        target: Target,
        tls: Option<Arc<ServerTls>>,
    ) -> std::io::Result<HttpHandle> {
        let local_addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let stop = token.clone();
        let target = Arc::new(RwLock::new(target));
        let ring = Arc::new(charts::Charts::default());
        let app = routes::router(routes::AppState {
            target: target.clone(),
            charts: ring.clone(),
        });
        // The peer address: state-changing console calls are authorized for it (ACL IP rules).
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let (task, acceptor) = match &tls {
            None => {
                let task = tokio::spawn(async move {
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(async move { stop.cancelled().await })
                        .await;
                    if let Err(e) = served {
                        warn!(error = %e, "HTTP listener stopped");
                    }
                });
                (task, None)
            }
            Some(tls) => {
                let (listener, acceptor) =
                    tls_listener::TlsListener::start(listener, tls.clone(), token.clone())?;
                // `tap_io` does nothing to a connection: axum gives the peer address to handlers
                // of a listener wrapped in it (as of a `TcpListener`), not of any other.
                let listener = listener.tap_io(|_| {});
                let task = tokio::spawn(async move {
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(async move { stop.cancelled().await })
                        .await;
                    if let Err(e) = served {
                        warn!(error = %e, "HTTPS listener stopped");
                    }
                });
                (task, Some(acceptor))
            }
        };
        let sampler = charts::spawn(target.clone(), ring, charts::INTERVAL, token.clone());
        let scheme = if tls.is_some() { "https" } else { "http" };
        info!(%local_addr, scheme, "HTTP listener (metrics, health, console) started");
        Ok(HttpHandle {
            local_addr,
            tls: tls.is_some(),
            target,
            token,
            task,
            acceptor,
            sampler,
        })
    }
}

/// Owns a running HTTP listener.
#[derive(Debug)]
pub struct HttpHandle {
    local_addr: SocketAddr,
    tls: bool,
    target: Arc<RwLock<Target>>,
    token: CancellationToken,
    task: JoinHandle<()>,
    /// HTTPS: the task that accepts connections and runs their handshakes.
    acceptor: Option<JoinHandle<()>>,
    /// The console charts' sampler.
    sampler: JoinHandle<()>,
}

impl HttpHandle {
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the listener serves HTTPS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls
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
        if let Some(acceptor) = self.acceptor {
            if let Err(e) = acceptor.await {
                warn!(error = %e, "HTTPS accept task failed");
            }
        }
        if let Err(e) = self.sampler.await {
            warn!(error = %e, "console chart sampler failed");
        }
    }
}
