//! One TCP connection, either side: a reader task, a writer task, and the [`Connection`] handle.
//!
//! ```text
//!            frames                 requests: run inline; spawned when they have to wait,
//!                                   up to max_in_flight at once; inline answers batched
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
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
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

use crate::codec::{encode_command, encode_into, RemotingCodec};
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
    /// The socket's write side, shared by the writer task and [`Connection::write_now`].
    writer: SocketWriter,
    /// Frames given to `out` and not yet written: while there are any, nobody writes past them.
    queued: AtomicUsize,
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
        let frame = match self.write_now(frame).await {
            WriteNow::Written => return Ok(()),
            WriteNow::Failed => return Err(NetError::ConnectionClosed),
            // Queued as an empty frame: the writer task finishes the flush.
            WriteNow::Unflushed => Bytes::new(),
            WriteNow::Busy(frame) => frame,
        };
        // Counted before it is queued, so no `write_now` can overtake it; uncounted again if it
        // never reaches the queue (closed, or this future dropped while the queue is full).
        let queued = Queued::count(&self.shared.queued);
        tokio::select! {
            biased;
            () = self.shared.closed.cancelled() => Err(NetError::ConnectionClosed),
            sent = self.shared.out.send(frame) => match sent {
                Ok(()) => {
                    queued.keep();
                    Ok(())
                }
                Err(_) => Err(NetError::ConnectionClosed),
            },
        }
    }

    /// Writes `frame` from the calling task when nobody else is writing, nothing is queued before
    /// it and it fits in the write buffer; `Busy` gives it back otherwise. Handing every frame to
    /// the writer task costs a wake-up of that task (often on another thread) per frame; most
    /// frames find the socket idle and need none. Nothing here waits, so a cancelled send can
    /// never leave half a frame behind.
    async fn write_now(&self, frame: Bytes) -> WriteNow {
        let Ok(mut w) = self.shared.writer.try_lock() else {
            return WriteNow::Busy(frame);
        };
        // Strictly less than the spare room: then `BufWriter` only copies, it never writes to the
        // socket in the middle of a frame.
        let spare = WRITE_BUFFER.saturating_sub(w.buffer().len());
        if self.is_closed()
            || self.shared.queued.load(Ordering::Acquire) > 0
            || frame.len() >= spare
        {
            return WriteNow::Busy(frame);
        }
        match poll_once(std::pin::pin!(w.write_all(&frame))).await {
            Some(Ok(())) => {}
            // Copying into a buffer with room neither waits nor fails.
            _ => return WriteNow::Failed,
        }
        match poll_once(std::pin::pin!(w.flush())).await {
            Some(Ok(())) => WriteNow::Written,
            Some(Err(e)) => {
                debug!(conn = %self.shared.id, error = %e, "write failed, closing connection");
                self.close();
                WriteNow::Failed
            }
            None => WriteNow::Unflushed,
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

/// The write side of a connection's socket, buffered.
type SocketWriter = Arc<tokio::sync::Mutex<BufWriter<Box<dyn AsyncWrite + Send + Unpin>>>>;

/// One frame counted in `Shared::queued` on its way into the queue; uncounted when dropped before
/// [`Queued::keep`] (the writer task uncounts the frames it writes).
struct Queued<'a>(Option<&'a AtomicUsize>);

impl<'a> Queued<'a> {
    fn count(queued: &'a AtomicUsize) -> Self {
        queued.fetch_add(1, Ordering::AcqRel);
        Self(Some(queued))
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if let Some(q) = self.0 {
            q.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// How [`Connection::write_now`] ended.
enum WriteNow {
    /// Written to the socket.
    Written,
    /// In the buffer, but the socket is full: the writer task must finish the flush.
    Unflushed,
    /// The connection is closed or failed.
    Failed,
    /// Not written: the writer task must write it.
    Busy(Bytes),
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
    let boxed: Box<dyn AsyncWrite + Send + Unpin> = Box::new(wr);
    let writer = Arc::new(tokio::sync::Mutex::new(BufWriter::with_capacity(
        WRITE_BUFFER,
        boxed,
    )));
    let conn = Connection {
        shared: Arc::new(Shared {
            id: ConnectionId::next(),
            peer_addr: ends.peer,
            local_addr: ends.local,
            serialize_type: config.serialize_type,
            out,
            writer: writer.clone(),
            queued: AtomicUsize::new(0),
            pending: Mutex::new(HashMap::new()),
            next_opaque: AtomicI32::new(0),
            closed: parent.child_token(),
        }),
    };
    tracker.spawn(write_loop(writer, rx, conn.clone()));
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
    // Responses of the requests answered inline since the last wait for the socket: they go to
    // the writer as one write (one wake-up of the writer task, one `write`) once every frame
    // already read is handled.
    let mut replies = BytesMut::new();
    loop {
        let next = match poll_once(frames.next()).await {
            Some(next) => next,
            None => {
                if !replies.is_empty() && conn.send_frame(replies.split().freeze()).await.is_err() {
                    break;
                }
                tokio::select! {
                    () = closed.cancelled() => break,
                    next = frames.next() => next,
                }
            }
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
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the limit: what is answered so far must not wait for the others.
                if !replies.is_empty() && conn.send_frame(replies.split().freeze()).await.is_err() {
                    break;
                }
                let permit = tokio::select! {
                    () = closed.cancelled() => break,
                    permit = permits.clone().acquire_owned() => permit,
                };
                let Ok(permit) = permit else {
                    break; // The semaphore is never closed.
                };
                permit
            }
        };
        // Most requests finish without waiting for anything (a send under ASYNC_FLUSH, an offset
        // commit, a pull that finds messages): run the handler here first, and give it a task of
        // its own only when it has to wait (a long poll, a flush, a replica). A spawn per request
        // costs a task and, on a multi-threaded runtime, usually a wake-up of another worker
        // thread, more than the handler itself.
        let (code, opaque) = (cmd.code, cmd.opaque);
        let mut request = Box::pin(respond(conn.clone(), handler.clone(), cmd, permit));
        match poll_once(request.as_mut()).await {
            Some(Some(resp)) => {
                if let Err(e) = encode_into(&resp, resp.serialize_type, &mut replies) {
                    debug!(conn = %id, code, opaque, error = %e, "response not sent");
                }
                if replies.len() >= WRITE_BUFFER
                    && conn.send_frame(replies.split().freeze()).await.is_err()
                {
                    break;
                }
            }
            Some(None) => {}
            None => {
                let conn = conn.clone();
                tracker.spawn(async move {
                    if let Some(resp) = request.await {
                        if let Err(e) = conn.send(&resp).await {
                            debug!(conn = %conn.id(), code, opaque, error = %e, "response not sent");
                        }
                    }
                });
            }
        }
    }
    closed.cancel();
    conn.fail_pending();
    handler.on_disconnect(&conn);
    debug!(conn = %id, %peer, "connection closed");
}

/// Polls `fut` once: its output if it is ready now, `None` if it has to wait (it keeps whatever
/// it registered to be woken, so it can be polled again or awaited later).
async fn poll_once<F: Future + Unpin>(mut fut: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match Pin::new(&mut fut).poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Runs the handler for one request; the response to send, if any, with the request's opaque.
async fn respond(
    conn: Connection,
    handler: Arc<dyn Handler>,
    req: RemotingCommand,
    _permit: OwnedSemaphorePermit,
) -> Option<RemotingCommand> {
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
        return None; // Never answer a oneway request, whatever the handler returned.
    }
    let mut resp = resp?;
    resp.opaque = opaque;
    resp.flag = (resp.flag | FLAG_RESPONSE) & !FLAG_ONEWAY;
    Some(resp)
}

async fn write_loop(writer: SocketWriter, mut rx: mpsc::Receiver<Bytes>, conn: Connection) {
    let closed = conn.shared.closed.clone();
    loop {
        let frame = tokio::select! {
            biased;
            frame = rx.recv() => frame,
            () = closed.cancelled() => None,
        };
        let Some(frame) = frame else {
            break;
        };
        let mut w = writer.lock().await;
        let written = tokio::select! {
            written = write_batch(&mut w, frame, &mut rx, &conn.shared.queued) => written,
            () = closed.cancelled() => break,
        };
        drop(w);
        if let Err(e) = written {
            debug!(error = %e, "write failed, closing connection");
            break;
        }
    }
    closed.cancel();
    // Shuts down the write side so the peer sees the close; bounded, the peer may not be reading.
    let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, async {
        writer.lock().await.shutdown().await
    })
    .await;
}

/// Writes `first` and whatever else is already queued, then flushes once. `queued` counts the
/// frames taken off the queue as written: only then may [`Connection::write_now`] write past them.
async fn write_batch<W: AsyncWrite + Unpin>(
    w: &mut BufWriter<W>,
    first: Bytes,
    rx: &mut mpsc::Receiver<Bytes>,
    queued: &AtomicUsize,
) -> std::io::Result<()> {
    let mut taken = 1;
    let result = async {
        w.write_all(&first).await?;
        while let Ok(frame) = rx.try_recv() {
            taken += 1;
            w.write_all(&frame).await?;
        }
        w.flush().await
    }
    .await;
    queued.fetch_sub(taken, Ordering::AcqRel);
    result
}
