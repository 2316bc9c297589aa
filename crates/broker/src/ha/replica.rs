//! The replica's side: connect to the master's HA address, say how much of the log we hold, write
//! what the master streams at the same offsets, and acknowledge each transfer. Reconnects forever
//! (with a pause) until shut down. With `tls.enable` the connection is TLS (the broker's client
//! TLS settings, as for its name-server connections), which a master whose HA port enforces TLS
//! needs.

use std::sync::Arc;
use std::time::Duration;

use ferromq_net::tls::ByteStream;
use ferromq_net::ClientTls;
use ferromq_store::{Store, StoreError};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::wire::{self, MAX_TRANSFER};

/// Pause between connection attempts.
const RETRY: Duration = Duration::from_millis(500);
/// Without a byte from the master for this long the connection is given up (heartbeats come every
/// second).
const SILENCE: Duration = Duration::from_secs(5);

/// Why one connection to the master ended.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("master sent {len} bytes in one transfer (at most {MAX_TRANSFER})")]
    Oversized { len: u32 },
    #[error("master silent for {0:?}")]
    Silent(Duration),
}

/// Follows the master at `master` (a `host:port` of its HA listener) until `token` is cancelled.
/// `seen` publishes the master's offset as last seen, for lag reporting. With `hello` (controller
/// mode) the replica tells the master its broker id.
pub async fn follow(
    master: Arc<parking_lot::RwLock<Option<String>>>,
    store: Store,
    seen: Arc<watch::Sender<u64>>,
    hello: Option<i64>,
    tls: Option<ClientTls>,
    token: CancellationToken,
) {
    loop {
        let addr = master.read().clone();
        if let Some(addr) = addr {
            tokio::select! {
                () = token.cancelled() => return,
                r = follow_once(&addr, tls.as_ref(), &store, &seen, hello) => match r {
                    Ok(()) => {}
                    Err(e) => warn!(master = %addr, error = %e, "replication from the master stopped; reconnecting"),
                },
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

async fn follow_once(
    addr: &str,
    tls: Option<&ClientTls>,
    store: &Store,
    seen: &watch::Sender<u64>,
    hello: Option<i64>,
) -> Result<(), FollowError> {
    let stream = ByteStream::connect(tls, addr).await?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    if let Some(id) = hello {
        wire::write_hello(&mut wr, id).await?;
    }
    let mut at = store.written_offset();
    wire::write_report(&mut wr, at).await?;
    info!(master = %addr, from = at, tls = tls.is_some(), "following the master");
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let header = match tokio::time::timeout(SILENCE, wire::read_header(&mut rd)).await {
            Ok(h) => h?,
            Err(_) => return Err(FollowError::Silent(SILENCE)),
        };
        if header.len > MAX_TRANSFER {
            return Err(FollowError::Oversized { len: header.len });
        }
        if header.len == 0 {
            // Heartbeat: answer it, so the master sees us alive while nothing is written.
            seen.send_replace(header.offset);
            wire::write_report(&mut wr, store.written_offset()).await?;
            continue;
        }
        let start = buf.len();
        buf.resize(start + header.len as usize, 0);
        rd.read_exact(&mut buf[start..]).await?;
        if start == 0 {
            at = header.offset;
        }
        let (done, _durable) = store.append_replicated(at, &buf)?;
        // Keep an incomplete tail for the next transfer (masters send whole entries; be lenient).
        buf.drain(..done.consumed);
        at = done.end_offset;
        seen.send_replace(header.offset + u64::from(header.len));
        wire::write_report(&mut wr, at).await?;
    }
}
