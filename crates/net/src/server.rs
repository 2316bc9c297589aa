//! The accept loop: one reader task and one writer task per connection, requests dispatched to a
//! [`Handler`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::connection::{self, ConnectionConfig, Ends};
use crate::handler::Handler;
use crate::service::ServiceHandle;
use crate::tls::{Opened, ServerTls};

/// Pause after a failed `accept` (typically out of file descriptors) before trying again: the
/// pending connection stays in the backlog, so retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// While `accept` keeps failing, one warning per this period (with the count since the last one).
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(10);

/// How long a connection to a TLS listener may take to send its first byte and, for TLS, finish
/// the handshake: a silent or stuck peer must not hold a task forever.
const OPENING_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` until `shutdown` is cancelled, then closes the listener and
/// every connection and returns once all their tasks (handlers included) have finished. With
/// `tls`, each connection is sorted by its first byte (see [`ServerTls`]) in a task of its own, so
/// a slow or broken handshake delays no other client.
pub async fn run(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: ConnectionConfig,
    tls: Option<Arc<ServerTls>>,
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
                if let Some(tls) = &tls {
                    tracker.spawn(open(
                        stream,
                        tls.clone(),
                        handler.clone(),
                        config,
                        tracker.clone(),
                        shutdown.clone(),
                    ));
                } else if let Err(e) =
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

/// Sorts a new connection to a TLS listener into TLS or plaintext, then serves it.
async fn open(
    stream: TcpStream,
    tls: Arc<ServerTls>,
    handler: Arc<dyn Handler>,
    config: ConnectionConfig,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let ends = match Ends::of(&stream) {
        Ok(ends) => ends,
        Err(e) => {
            debug!(error = %e, "connection lost before it was set up");
            return;
        }
    };
    let opened = tokio::select! {
        () = shutdown.cancelled() => return,
        opened = tokio::time::timeout(OPENING_TIMEOUT, tls.open(stream)) => opened,
    };
    let peer = ends.peer();
    match opened {
        Err(_) => debug!(%peer, "closed: no first byte or TLS handshake within 10 s"),
        Ok(Err(e)) => debug!(%peer, error = %e, "closed: TLS handshake failed"),
        Ok(Ok(Opened::Gone)) => debug!(%peer, "peer closed before sending anything"),
        Ok(Ok(Opened::Refused)) => {
            debug!(%peer, "closed: plaintext connection to a listener that enforces TLS");
        }
        Ok(Ok(Opened::Plain(stream))) => {
            if let Err(e) = connection::spawn(stream, handler, &config, &tracker, &shutdown) {
                debug!(%peer, error = %e, "connection lost before it was set up");
            }
        }
        Ok(Ok(Opened::Tls(stream))) => {
            connection::spawn_tls(*stream, ends, handler, &config, &tracker, &shutdown);
        }
    }
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

/// Spawns [`run`] on `listener`, plaintext only; the returned handle stops it.
///
/// # Errors
/// When the listener's local address cannot be read.
pub fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: ConnectionConfig,
) -> std::io::Result<ServerHandle> {
    serve_tls(listener, handler, config, None)
}

/// [`serve`] with TLS as `tls` says (`None`: plaintext only).
///
/// # Errors
/// When the listener's local address cannot be read.
pub fn serve_tls(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    config: ConnectionConfig,
    tls: Option<Arc<ServerTls>>,
) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let service = ServiceHandle::new();
    service.spawn(run(listener, handler, config, tls, service.token().clone()));
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
