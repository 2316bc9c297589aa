//! The master's side: accept replicas on the HA listener and stream each one the commit log from the
//! offset it reports, then keep it current as appends arrive.
//!
//! The listener takes TLS by the broker's own `tls.server.*` settings (mode and certificate), sorted
//! by the first byte as on the remoting port: an enforcing broker closes a plaintext replica.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_net::tls::ByteStream;
use ferromq_net::ServerTls;
use ferromq_store::Store;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::acks::Acks;
use super::wire::{self, Header};

/// Bytes per transfer: large enough to stream at disk speed, small enough to keep heartbeats timely.
const CHUNK: usize = 1 << 20;
/// An idle stream sends a heartbeat this often, so a replica notices a dead master.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Serves replicas on `listener` (with `tls` when the broker has it) until `token` is cancelled.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    store: Store,
    acks: Arc<Acks>,
    written: Arc<Notify>,
    token: CancellationToken,
) {
    let tasks = TaskTracker::new();
    let ids = AtomicU64::new(0);
    loop {
        let accepted = tokio::select! {
            () = token.cancelled() => break,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                let id = ids.fetch_add(1, Ordering::Relaxed);
                let conn = Stream {
                    id,
                    peer,
                    store: store.clone(),
                    acks: acks.clone(),
                    written: written.clone(),
                    token: token.clone(),
                };
                let tls = tls.clone();
                tasks.spawn(async move {
                    let Some(stream) = open(tls.as_deref(), stream, peer).await else {
                        return;
                    };
                    if let Err(e) = conn.run(stream).await {
                        debug!(%peer, error = %e, "replica connection ended");
                    }
                    conn.acks.disconnected(id);
                    info!(%peer, "replica disconnected");
                });
            }
            Err(e) => {
                warn!(error = %e, "accepting a replica failed");
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
    tasks.close();
    tasks.wait().await;
}

/// The connection by the TLS mode; `None` when it is closed before replication starts.
async fn open(tls: Option<&ServerTls>, stream: TcpStream, peer: SocketAddr) -> Option<ByteStream> {
    if let Err(e) = stream.set_nodelay(true) {
        debug!(%peer, error = %e, "replica connection lost before it was set up");
        return None;
    }
    match ByteStream::accept(tls, stream).await {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            warn!(%peer, "closed a replica connection: plaintext to an HA port that enforces TLS, or nothing sent");
            None
        }
        Err(e) => {
            warn!(%peer, error = %e, "closed a replica connection: TLS handshake failed");
            None
        }
    }
}

/// One replica's connection.
struct Stream {
    id: u64,
    peer: SocketAddr,
    store: Store,
    acks: Arc<Acks>,
    written: Arc<Notify>,
    token: CancellationToken,
}

impl Stream {
    async fn run(&self, stream: ByteStream) -> std::io::Result<()> {
        let tls = stream.is_tls();
        let (mut rd, mut wr) = tokio::io::split(stream);
        let (broker_id, reported) = wire::read_opening(&mut rd).await?;
        let mut next = self.start_offset(reported)?;
        info!(peer = %self.peer, ?broker_id, reported, from = next, tls, "replica connected");
        self.acks.connected(self.id, self.peer, broker_id, reported);

        // Reports arrive independently of what we send.
        let reader = {
            let acks = self.acks.clone();
            let id = self.id;
            async move {
                loop {
                    let offset = wire::read_report(&mut rd).await?;
                    acks.reported(id, offset);
                }
            }
        };
        let writer = async {
            loop {
                // Registered before reading the offset, so an append in between still wakes us.
                let appended = self.written.notified();
                // A read of recent pages, from the page cache in the common case, as pulls do.
                let (bytes, after) = self
                    .store
                    .replication_chunk(next, CHUNK)
                    .map_err(std::io::Error::other)?;
                if bytes.is_empty() {
                    tokio::select! {
                        () = appended => {}
                        () = tokio::time::sleep(HEARTBEAT) => {
                            wr.write_all(&Header { offset: next, len: 0 }.encode()).await?;
                            // TLS holds what it encrypted until flushed.
                            wr.flush().await?;
                        }
                    }
                    continue;
                }
                #[allow(clippy::cast_possible_truncation)] // About CHUNK, or one record.
                let header = Header {
                    offset: next,
                    len: bytes.len() as u32,
                };
                wr.write_all(&header.encode()).await?;
                wr.write_all(&bytes).await?;
                wr.flush().await?;
                next = after;
            }
        };
        tokio::select! {
            () = self.token.cancelled() => Ok(()),
            r = reader => r,
            r = writer => r,
        }
    }

    /// Where to start for a replica that holds everything below `reported`.
    fn start_offset(&self, reported: u64) -> std::io::Result<u64> {
        let min = self.store.min_physical_offset();
        let written = self.store.written_offset();
        if reported > written {
            // The replica holds bytes we never wrote: it followed another master. It must be cut back
            // before it can follow us.
            return Err(std::io::Error::other(format!(
                "replica reports offset {reported} past our written offset {written}"
            )));
        }
        if reported < min {
            if reported == 0 {
                // An empty replica starts at our oldest segment.
                return Ok(min);
            }
            return Err(std::io::Error::other(format!(
                "replica at {reported} is behind our oldest segment {min}; empty its store to resync"
            )));
        }
        Ok(reported)
    }
}
