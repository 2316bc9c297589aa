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

/// Pause after a failed `accept` (typically out of file descriptors) before trying again: the
/// pending connection stays in the backlog, so retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// While `accept` keeps failing, one warning per this period (with the count since the last one).
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

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
    let mut failures = AcceptFailures::default();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                failures.recovered();
                if let Err(e) =
                    connection::spawn(stream, handler.clone(), &config, &tracker, &shutdown)
                {
                    debug!(%peer, error = %e, "connection lost before it was set up");
                }
            }
            Err(e) => {
                failures.failed(&e);
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

/// Rate-limited reporting of `accept` failures: existing connections keep being served meanwhile.
#[derive(Debug, Default)]
struct AcceptFailures {
    /// Failures since the last warning.
    unreported: u64,
    last_warning: Option<tokio::time::Instant>,
}

impl AcceptFailures {
    fn failed(&mut self, e: &std::io::Error) {
        self.unreported += 1;
        let now = tokio::time::Instant::now();
        if self
            .last_warning
            .is_some_and(|at| now.duration_since(at) < ACCEPT_WARN_EVERY)
        {
            return;
        }
        // EMFILE (24) and ENFILE (23): the process or the system is out of file descriptors.
        let out_of_descriptors = matches!(e.raw_os_error(), Some(23 | 24));
        warn!(error = %e, failures = self.unreported, out_of_descriptors,
            "accept failing; existing connections are still served, retrying every 100 ms");
        self.unreported = 0;
        self.last_warning = Some(now);
    }

    fn recovered(&mut self) {
        if self.last_warning.take().is_some() {
            info!(
                failures = self.unreported,
                "accept works again after failures"
            );
        }
        self.unreported = 0;
    }
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
