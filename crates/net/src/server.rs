//! The accept loop: one reader task and one writer task per connection, requests dispatched to a
//! [`Handler`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::connection::{self, ConnectionConfig};
use crate::handler::Handler;
use crate::service::ServiceHandle;

/// Pause after a failed `accept` (typically out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections on `listener` until `shutdown` is cancelled, then closes the listener and
/// every connection and returns once all their tasks (handlers included) have finished.
pub async fn run(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: ConnectionConfig,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "listening");
    }
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Err(e) =
                    connection::spawn(stream, handler.clone(), &config, &tracker, &shutdown)
                {
                    debug!(%peer, error = %e, "connection lost before it was set up");
                }
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
    debug!("server stopped");
}

/// A server started by [`serve`].
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    service: ServiceHandle,
}

/// Spawns [`run`] on `listener`; the returned handle stops it.
///
/// # Errors
/// When the listener's local address cannot be read.
pub fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: ConnectionConfig,
) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let service = ServiceHandle::new();
    service.spawn(run(listener, handler, config, service.token().clone()));
    Ok(ServerHandle {
        local_addr,
        service,
    })
}

impl ServerHandle {
    /// The address the server listens on (useful after binding port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every connection and waits for all tasks.
    pub async fn shutdown(self) {
        self.service.shutdown().await;
    }
}
