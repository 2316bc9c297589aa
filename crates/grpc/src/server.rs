//! Starting and stopping the endpoint: an accept loop that sorts connections into TLS and
//! plaintext, and tonic serving the accepted ones. Everything runs under the [`GrpcHandle`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferromq_broker::BrokerService;
use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::config::GrpcConfig;
use crate::conn::{Conn, OPENING_TIMEOUT};
use crate::current::CurrentBroker;
use crate::error::GrpcError;
use crate::messaging::Messaging;
use crate::pb::messaging_service_server::MessagingServiceServer;
use crate::sessions::Sessions;

/// Connections accepted but not yet picked up by the HTTP/2 server.
const ACCEPT_BACKLOG: usize = 64;

/// How long shutdown waits for in-flight calls before dropping them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The gRPC endpoint.
#[derive(Debug)]
pub struct GrpcServer;

/// Owns the endpoint's tasks; [`GrpcHandle::shutdown`] stops them.
#[derive(Debug)]
pub struct GrpcHandle {
    local_addr: SocketAddr,
    advertised: SocketAddr,
    cert_pem: String,
    current: CurrentBroker,
    token: CancellationToken,
    tracker: TaskTracker,
    serve: JoinHandle<()>,
}

impl GrpcServer {
    /// Serves `MessagingService` for `broker` on `listener`, TLS and plaintext on the same port.
    ///
    /// # Errors
    /// The listener's address cannot be read; the TLS certificate cannot be loaded or generated.
    pub fn start(
        config: GrpcConfig,
        broker: BrokerService,
        listener: TcpListener,
    ) -> Result<GrpcHandle, GrpcError> {
        let local_addr = listener.local_addr().map_err(GrpcError::Listener)?;
        let advertised = config.advertised.unwrap_or_else(|| dialable(local_addr));
        let tls = crate::tls::load(config.tls.as_ref())?;
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let (tx, rx) = mpsc::channel::<Conn>(ACCEPT_BACKLOG);
        tracker.spawn(accept_loop(
            listener,
            tls.acceptor,
            tx,
            token.clone(),
            tracker.clone(),
        ));
        let sessions = Arc::new(Sessions::default());
        let relay: Arc<dyn ferromq_broker::service::CheckRelay> =
            Arc::new(crate::transaction::CheckRelay {
                sessions: sessions.clone(),
            });
        let directory: Arc<dyn ferromq_broker::service::ClientDirectory> = sessions.clone();
        let current = CurrentBroker::new(broker, relay, directory, advertised);
        let renewals = Arc::new(crate::renew::Renewals::new(config.renew));
        tracker.spawn(
            renewals
                .clone()
                .run(current.clone(), sessions.clone(), token.clone()),
        );
        let messaging = Messaging::new(
            current.clone(),
            sessions,
            renewals,
            token.clone(),
            tracker.clone(),
        );
        let incoming = ReceiverStream::new(rx).map(Ok::<_, std::io::Error>);
        let stop = token.clone();
        let serve = tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                // v5 clients ping every 5 minutes even when idle; answer, never GOAWAY.
                .http2_keepalive_interval(None)
                .add_service(
                    MessagingServiceServer::new(messaging)
                        .max_decoding_message_size(usize::MAX)
                        .max_encoding_message_size(usize::MAX),
                )
                .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                .await;
            if let Err(e) = result {
                warn!(error = %e, "gRPC server stopped");
            }
        });
        info!(listen = %local_addr, %advertised, "gRPC endpoint (TLS and plaintext) serving");
        Ok(GrpcHandle {
            local_addr,
            advertised,
            cert_pem: tls.cert_pem,
            current,
            token,
            tracker,
            serve,
        })
    }
}

impl GrpcHandle {
    /// The address the listener is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address routes give clients for this broker.
    #[must_use]
    pub fn advertised_addr(&self) -> SocketAddr {
        self.advertised
    }

    /// The certificate TLS connections are served with, as PEM.
    #[must_use]
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Serves `broker` from now on (a broker restarted in place), keeping the port and the
    /// clients' connections and sessions.
    pub fn serve_broker(&self, broker: BrokerService) {
        self.current.replace(broker);
    }

    /// Stops accepting, ends the telemetry streams, lets in-flight calls finish (for a bounded
    /// time) and waits for every task.
    pub async fn shutdown(self) {
        self.token.cancel();
        let mut serve = self.serve;
        if tokio::time::timeout(DRAIN_TIMEOUT, &mut serve)
            .await
            .is_err()
        {
            warn!("gRPC calls still running after the drain timeout; dropping them");
            serve.abort();
            let _ = serve.await;
        }
        self.tracker.close();
        self.tracker.wait().await;
        info!(listen = %self.local_addr, "gRPC endpoint stopped");
    }
}

/// An address a client can dial: loopback in place of an unspecified IP.
fn dialable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: TlsAcceptor,
    tx: mpsc::Sender<Conn>,
    token: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: wait a moment rather than spin.
                warn!(error = %e, "gRPC accept failed");
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (tls, tx, token) = (tls.clone(), tx.clone(), token.clone());
        // The first byte and the TLS handshake are awaited per connection, so a slow peer never
        // holds up the others.
        tracker.spawn(async move {
            let opened = tokio::select! {
                () = token.cancelled() => return,
                opened = tokio::time::timeout(OPENING_TIMEOUT, Conn::open(stream, &tls)) => opened,
            };
            match opened {
                Ok(Ok(Some(conn))) => {
                    let _ = tx.send(conn).await;
                }
                Ok(Ok(None)) => debug!(%peer, "gRPC peer closed before sending anything"),
                Ok(Err(e)) => debug!(%peer, error = %e, "gRPC connection not opened"),
                Err(_) => debug!(%peer, "gRPC peer sent nothing in time"),
            }
        });
    }
}
