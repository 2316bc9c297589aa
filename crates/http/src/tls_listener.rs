//! [`TlsListener`]: HTTPS on the HTTP listener, with the remoting listener's [`ServerTls`] (same
//! certificate and key files, reloaded when they change; same modes).
//!
//! A connection is sorted by its first byte as on the remoting port: `0x16` opens a TLS handshake;
//! anything else is plaintext HTTP, served in `permissive` mode and closed without an answer in
//! `enforcing` mode. The sorting and the handshake of each connection run in a task of its own,
//! bounded to 10 s (`ByteStream::accept`), so a silent client or a garbage handshake delays no
//! other; axum only ever sees finished connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_net::tls::ByteStream;
use ferromq_net::ServerTls;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Opened connections waiting for axum; the handshakes in flight are bounded by the accept rate
/// and their own timeout, not by this.
const READY_QUEUE: usize = 64;

/// An [`axum::serve::Listener`] of connections that finished their TLS handshake (or plaintext
/// ones, in permissive mode).
pub(crate) struct TlsListener {
    local_addr: SocketAddr,
    opened: mpsc::Receiver<(ByteStream, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener`; the returned task (owned by the `HttpHandle`) accepts and
    /// opens connections until `stop` is cancelled, then drops the handshakes still running.
    pub(crate) fn start(
        listener: TcpListener,
        tls: Arc<ServerTls>,
        stop: CancellationToken,
    ) -> io::Result<(Self, JoinHandle<()>)> {
        let local_addr = listener.local_addr()?;
        let (ready, opened) = mpsc::channel(READY_QUEUE);
        let task = tokio::spawn(accept_loop(listener, tls, ready, stop));
        Ok((Self { local_addr, opened }, task))
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Arc<ServerTls>,
    ready: mpsc::Sender<(ByteStream, SocketAddr)>,
    stop: CancellationToken,
) {
    let mut opening = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = opening.join_next(), if !opening.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let tls = tls.clone();
                    let ready = ready.clone();
                    opening.spawn(async move {
                        match ByteStream::accept(Some(&tls), stream).await {
                            Ok(Some(stream)) => {
                                // Closed receiver: the listener is shutting down.
                                let _ = ready.send((stream, peer)).await;
                            }
                            Ok(None) => debug!(%peer, "HTTP: plaintext refused (TLS enforcing) or closed"),
                            Err(e) => debug!(%peer, error = %e, "HTTP: TLS handshake failed"),
                        }
                    });
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    debug!(error = %e, "HTTP: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    opening.shutdown().await;
}

impl axum::serve::Listener for TlsListener {
    type Io = ByteStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.opened.recv().await {
            Some(opened) => opened,
            // The accept loop ended, which it does only at shutdown: axum's graceful shutdown
            // returns without another connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
