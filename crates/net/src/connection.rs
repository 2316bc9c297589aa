//! One TCP connection, either side: a reader task, a writer task, and the [`Connection`] handle.
//!
//! ```text
//!            frames                 requests: spawned, up to max_in_flight at once
//!  socket ─────────▶ reader task ──────────────────────────▶ Handler::handle ─┐
//!                        │ responses: matched by opaque                        │ response
//!                        ▼                                                     ▼
//!                 pending requests ◀── Connection::request ──▶ mpsc ──▶ writer task ──▶ socket
//! ```
//!
//! Both directions carry requests: the broker calls its clients back on their own connection, so
//! the same machinery serves server connections and client connections. Commands are encoded by the
//! sender (an encoding error goes back to it) and the writer only writes bytes, batching what is
//! queued into one flush.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt as _, StreamExt as _};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, warn};

use ferromq_remoting::{
    Limits, RemotingCommand, ResponseCode, SerializeType, FLAG_ONEWAY, FLAG_RESPONSE,
};

use crate::codec::{encode_command, RemotingCodec};
use crate::error::NetError;
use crate::handler::{Handler, RequestContext};

/// How long a closing connection may spend flushing what it already queued.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
/// Writes are coalesced in a buffer of this size; larger frames go straight to the socket.
const WRITE_BUFFER: usize = 64 * 1024;

/// Identifies a connection for its whole life; never reused within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// Settings of every connection, server or client side.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionConfig {
    /// Frames beyond these limits close the connection.
    pub limits: Limits,
    /// Header encoding of the frames we send. JSON is understood by every Java peer.
    pub serialize_type: SerializeType,
    /// Requests of one connection handled at the same time. When reached, the connection stops
    /// reading until one finishes (so responses to our own requests on it wait too).
    pub max_in_flight: usize,
    /// Encoded frames queued for the writer before senders wait.
    pub write_queue: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            serialize_type: SerializeType::Json,
            max_in_flight: 1024,
            write_queue: 4096,
        }
    }
}

/// A handle to a live (or closed) connection. Cheap to clone; all clones are the same connection.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    id: ConnectionId,
    peer_addr: SocketAddr,
    local_addr: SocketAddr,
    serialize_type: SerializeType,
    out: mpsc::Sender<Bytes>,
    /// Our requests waiting for their response, by opaque.
    pending: Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>,
    next_opaque: AtomicI32,
    /// Cancelled exactly when the connection is closed, whoever closes it.
    closed: CancellationToken,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.shared.id)
            .field("peer_addr", &self.shared.peer_addr)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    #[must_use]
    pub fn id(&self) -> ConnectionId {
        self.shared.id
    }

    #[must_use]
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer_addr
    }

    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }

    /// Resolves once the connection is closed (immediately if it already is).
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shared.closed.clone().cancelled_owned()
    }

    /// Closes the connection: pending requests fail with `ConnectionClosed`, frames not yet written
    /// are dropped, the peer sees the socket close.
    pub fn close(&self) {
        self.shared.closed.cancel();
    }

    /// Sends `cmd` as a oneway request (the peer will not answer). Resolves once the frame is
    /// queued for writing.
    ///
    /// # Errors
    /// `Encode` when the command cannot be represented, `ConnectionClosed`.
    pub async fn send_oneway(&self, mut cmd: RemotingCommand) -> Result<(), NetError> {
        cmd.opaque = self.next_opaque();
        cmd.flag = (cmd.flag | FLAG_ONEWAY) & !FLAG_RESPONSE;
        self.send(&cmd).await
    }

    /// Sends `cmd` as a request with a fresh opaque and waits for the matching response.
    ///
    /// # Errors
    /// `Timeout` when no response arrived within `timeout` (a late one is discarded), `Encode`,
    /// `ConnectionClosed`.
    pub async fn request(
        &self,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        tokio::time::timeout(timeout, self.call(cmd))
            .await
            .map_err(|_| NetError::timeout(timeout))?
    }

    /// `request` without a time limit; dropping the future forgets the request.
    pub(crate) async fn call(&self, mut cmd: RemotingCommand) -> Result<RemotingCommand, NetError> {
        cmd.opaque = self.next_opaque();
        cmd.flag &= !(FLAG_ONEWAY | FLAG_RESPONSE);
        let frame = encode_command(&cmd, self.shared.serialize_type)?;
        let (tx, rx) = oneshot::channel();
        let _guard = PendingGuard::insert(&self.shared, cmd.opaque, tx);
        // Checked after inserting: `fail_pending` runs after the token is cancelled, so either it
        // sees our entry or we see the token.
        if self.is_closed() {
            return Err(NetError::ConnectionClosed);
        }
        self.send_frame(frame).await?;
        rx.await.map_err(|_| NetError::ConnectionClosed)
    }

    /// Encodes and queues one command as it is: a response in its own header encoding (the
    /// request's, see `RemotingCommand::response_to`), anything else in the connection's.
    pub(crate) async fn send(&self, cmd: &RemotingCommand) -> Result<(), NetError> {
        let encoding = if cmd.is_response() {
            cmd.serialize_type
        } else {
            self.shared.serialize_type
        };
        let frame = encode_command(cmd, encoding)?;
        self.send_frame(frame).await
    }

    async fn send_frame(&self, frame: Bytes) -> Result<(), NetError> {
        tokio::select! {
            biased;
            () = self.shared.closed.cancelled() => Err(NetError::ConnectionClosed),
            sent = self.shared.out.send(frame) => sent.map_err(|_| NetError::ConnectionClosed),
        }
    }

    fn next_opaque(&self) -> i32 {
        // Wraps after 2^32 requests; an opaque still pending by then is not a realistic concern.
        self.shared.next_opaque.fetch_add(1, Ordering::Relaxed)
    }

    /// Hands a response to the request waiting for it.
    fn complete(&self, resp: RemotingCommand) {
        let waiter = self.shared.pending.lock().remove(&resp.opaque);
        match waiter {
            // The requester may have given up in the meantime; nothing to do then.
            Some(tx) => drop(tx.send(resp)),
            None => debug!(
                conn = %self.shared.id,
                opaque = resp.opaque,
                code = resp.code,
                "response for no pending request (timed out?), dropped"
            ),
        }
    }

    fn fail_pending(&self) {
        let pending = std::mem::take(&mut *self.shared.pending.lock());
        drop(pending); // Each waiter sees its sender dropped: ConnectionClosed.
    }
}

/// Removes a pending entry when the request finishes, times out or is cancelled.
struct PendingGuard<'a> {
    shared: &'a Shared,
    opaque: i32,
}

impl<'a> PendingGuard<'a> {
    fn insert(shared: &'a Shared, opaque: i32, tx: oneshot::Sender<RemotingCommand>) -> Self {
        shared.pending.lock().insert(opaque, tx);
        Self { shared, opaque }
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.pending.lock().remove(&self.opaque);
    }
}

/// Starts the reader and writer tasks of `stream` on `tracker`. The connection closes when `parent`
/// is cancelled.
pub(crate) fn spawn(
    stream: TcpStream,
    handler: Arc<dyn Handler>,
    config: &ConnectionConfig,
    tracker: &TaskTracker,
    parent: &CancellationToken,
) -> std::io::Result<Connection> {
    let ends = Ends::of(&stream)?;
    // Owned halves of a TCP stream share no lock between reader and writer.
    let (rd, wr) = stream.into_split();
    Ok(spawn_halves(rd, wr, ends, handler, config, tracker, parent))
}

/// [`spawn`] over a TLS stream (server or client side) on the TCP stream `ends` describes.
pub(crate) fn spawn_tls<S>(
    stream: S,
    ends: Ends,
    handler: Arc<dyn Handler>,
    config: &ConnectionConfig,
    tracker: &TaskTracker,
    parent: &CancellationToken,
) -> Connection
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    // A TLS session is one state machine for both directions: its halves share it under a lock.
    let (rd, wr) = tokio::io::split(stream);
    spawn_halves(rd, wr, ends, handler, config, tracker, parent)
}

/// The two addresses of a TCP connection, read (and Nagle turned off) before it is wrapped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ends {
    peer: SocketAddr,
    local: SocketAddr,
}

impl Ends {
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn of(stream: &TcpStream) -> std::io::Result<Self> {
        // Request/response traffic: Nagle would only add latency.
        stream.set_nodelay(true)?;
        Ok(Self {
            peer: stream.peer_addr()?,
            local: stream.local_addr()?,
        })
    }
}

fn spawn_halves<R, W>(
    rd: R,
    wr: W,
    ends: Ends,
    handler: Arc<dyn Handler>,
    config: &ConnectionConfig,
    tracker: &TaskTracker,
    parent: &CancellationToken,
) -> Connection
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, rx) = mpsc::channel(config.write_queue.max(1));
    let conn = Connection {
        shared: Arc::new(Shared {
            id: ConnectionId::next(),
            peer_addr: ends.peer,
            local_addr: ends.local,
            serialize_type: config.serialize_type,
            out,
            pending: Mutex::new(HashMap::new()),
            next_opaque: AtomicI32::new(0),
            closed: parent.child_token(),
        }),
    };
    tracker.spawn(write_loop(wr, rx, conn.shared.closed.clone()));
    let codec = RemotingCodec::new(config.limits, config.serialize_type);
    let permits = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    tracker.spawn(read_loop(
        conn.clone(),
        FramedRead::new(rd, codec),
        handler,
        permits,
        tracker.clone(),
    ));
    conn
}

async fn read_loop<R: AsyncRead + Unpin>(
    conn: Connection,
    mut frames: FramedRead<R, RemotingCodec>,
    handler: Arc<dyn Handler>,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
) {
    let id = conn.id();
    let peer = conn.peer_addr();
    debug!(conn = %id, %peer, "connection open");
    handler.on_connect(&conn);
    let closed = conn.shared.closed.clone();
    loop {
        let next = tokio::select! {
            () = closed.cancelled() => break,
            next = frames.next() => next,
        };
        let cmd = match next {
            None => {
                debug!(conn = %id, %peer, "peer closed the connection");
                break;
            }
            Some(Err(e)) => {
                warn!(conn = %id, %peer, error = %e, "closing connection after a bad frame");
                break;
            }
            Some(Ok(cmd)) => cmd,
        };
        if cmd.is_response() {
            conn.complete(cmd);
            continue;
        }
        let permit = tokio::select! {
            () = closed.cancelled() => break,
            permit = permits.clone().acquire_owned() => permit,
        };
        let Ok(permit) = permit else {
            break; // The semaphore is never closed.
        };
        tracker.spawn(dispatch(conn.clone(), handler.clone(), cmd, permit));
    }
    closed.cancel();
    conn.fail_pending();
    handler.on_disconnect(&conn);
    debug!(conn = %id, %peer, "connection closed");
}

/// Runs the handler for one request and sends its response, if any.
async fn dispatch(
    conn: Connection,
    handler: Arc<dyn Handler>,
    req: RemotingCommand,
    _permit: OwnedSemaphorePermit,
) {
    let (code, opaque, oneway) = (req.code, req.opaque, req.is_oneway());
    let ctx = RequestContext::new(conn.clone());
    let outcome = AssertUnwindSafe(handler.handle(&ctx, req))
        .catch_unwind()
        .await;
    let resp = match outcome {
        Ok(resp) => resp,
        Err(_) => {
            error!(conn = %conn.id(), code, opaque, "request handler panicked");
            Some(RemotingCommand {
                code: ResponseCode::SYSTEM_ERROR.0,
                remark: Some(format!("internal error while handling request code {code}")),
                ..RemotingCommand::default()
            })
        }
    };
    if oneway {
        return; // Never answer a oneway request, whatever the handler returned.
    }
    let Some(mut resp) = resp else {
        return;
    };
    resp.opaque = opaque;
    resp.flag = (resp.flag | FLAG_RESPONSE) & !FLAG_ONEWAY;
    if let Err(e) = conn.send(&resp).await {
        debug!(conn = %conn.id(), code, opaque, error = %e, "response not sent");
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    wr: W,
    mut rx: mpsc::Receiver<Bytes>,
    closed: CancellationToken,
) {
    let mut w = BufWriter::with_capacity(WRITE_BUFFER, wr);
    loop {
        let frame = tokio::select! {
            biased;
            frame = rx.recv() => frame,
            () = closed.cancelled() => None,
        };
        let Some(frame) = frame else {
            break;
        };
        let written = tokio::select! {
            written = write_batch(&mut w, frame, &mut rx) => written,
            () = closed.cancelled() => break,
        };
        if let Err(e) = written {
            debug!(error = %e, "write failed, closing connection");
            break;
        }
    }
    closed.cancel();
    // Shuts down the write side so the peer sees the close; bounded, the peer may not be reading.
    let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, w.shutdown()).await;
}

/// Writes `first` and whatever else is already queued, then flushes once.
async fn write_batch<W: AsyncWrite + Unpin>(
    w: &mut BufWriter<W>,
    first: Bytes,
    rx: &mut mpsc::Receiver<Bytes>,
) -> std::io::Result<()> {
    w.write_all(&first).await?;
    while let Ok(frame) = rx.try_recv() {
        w.write_all(&frame).await?;
    }
    w.flush().await
}
