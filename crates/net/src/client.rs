//! `Client`: requests to one address over one lazily (re)connected connection; `ClientPool`: one
//! client per address.
//!
//! Requests are pipelined on the connection and matched by opaque. After the connection breaks the
//! next request reconnects. The peer may also send requests on the connection (a broker calling a
//! producer or consumer back); they go to the configured [`Handler`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use ferromq_remoting::RemotingCommand;

use crate::connection::{self, Connection, ConnectionConfig, Ends};
use crate::error::NetError;
use crate::handler::{Handler, NotSupported};
use crate::tls::ClientTls;

/// Settings of a client or pool.
#[derive(Clone)]
pub struct ClientConfig {
    pub connection: ConnectionConfig,
    /// Covers the TCP connection and, with `tls`, the handshake.
    pub connect_timeout: Duration,
    /// Handles requests the server sends to us.
    pub handler: Arc<dyn Handler>,
    /// Connect with TLS (RocketMQ's `tls.enable`); `None`: plaintext.
    pub tls: Option<ClientTls>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            connection: ConnectionConfig::default(),
            connect_timeout: Duration::from_secs(3),
            handler: Arc::new(NotSupported),
            tls: None,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("connection", &self.connection)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A request/response client to one address. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    addr: String,
    config: ClientConfig,
    current: Mutex<Option<Connection>>,
    /// Serialises reconnection so concurrent requests share one new connection.
    connecting: tokio::sync::Mutex<()>,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        // The last handle is gone: close the connection so its tasks end.
        self.token.cancel();
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.inner.addr)
            .field("connection", &*self.inner.current.lock())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `addr` (`host:port`) that connects on first use.
    #[must_use]
    pub fn new(addr: impl Into<String>, config: ClientConfig) -> Self {
        Self::with_parent(addr.into(), config, &CancellationToken::new())
    }

    fn with_parent(addr: String, config: ClientConfig, parent: &CancellationToken) -> Self {
        Self {
            inner: Arc::new(ClientInner {
                addr,
                config,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                token: parent.child_token(),
                tracker: TaskTracker::new(),
            }),
        }
    }

    /// A client for `addr`, connected now.
    ///
    /// # Errors
    /// `Connect` or `ConnectTimeout`.
    pub async fn connect(addr: impl Into<String>, config: ClientConfig) -> Result<Self, NetError> {
        let client = Self::new(addr, config);
        client.connection().await?;
        Ok(client)
    }

    #[must_use]
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The live connection, reconnecting if there is none.
    ///
    /// # Errors
    /// `Shutdown`, `Connect`, `ConnectTimeout`.
    pub async fn connection(&self) -> Result<Connection, NetError> {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _connecting = self.inner.connecting.lock().await;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let conn = self.open().await?;
        *self.inner.current.lock() = Some(conn.clone());
        Ok(conn)
    }

    fn live(&self) -> Option<Connection> {
        self.inner
            .current
            .lock()
            .as_ref()
            .filter(|c| !c.is_closed())
            .cloned()
    }

    async fn open(&self) -> Result<Connection, NetError> {
        let inner = &*self.inner;
        if inner.token.is_cancelled() {
            return Err(NetError::Shutdown);
        }
        let timeout = inner.config.connect_timeout;
        let conn = tokio::select! {
            () = inner.token.cancelled() => return Err(NetError::Shutdown),
            conn = tokio::time::timeout(timeout, self.dial()) => conn,
        };
        let conn = conn.map_err(|_| NetError::ConnectTimeout {
            addr: inner.addr.clone(),
            millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        })??;
        debug!(addr = %inner.addr, conn = %conn.id(), "connected");
        Ok(conn)
    }

    /// Connects, runs the TLS handshake if configured, and starts the connection's tasks.
    async fn dial(&self) -> Result<Connection, NetError> {
        let inner = &*self.inner;
        let stream = TcpStream::connect(inner.addr.as_str())
            .await
            .map_err(|source| NetError::Connect {
                addr: inner.addr.clone(),
                source,
            })?;
        let Some(tls) = &inner.config.tls else {
            return Ok(connection::spawn(
                stream,
                inner.config.handler.clone(),
                &inner.config.connection,
                &inner.tracker,
                &inner.token,
            )?);
        };
        let ends = Ends::of(&stream)?;
        let stream = tls
            .connect(&inner.addr, stream)
            .await
            .map_err(|source| NetError::Tls {
                addr: inner.addr.clone(),
                source,
            })?;
        Ok(connection::spawn_tls(
            stream,
            ends,
            inner.config.handler.clone(),
            &inner.config.connection,
            &inner.tracker,
            &inner.token,
        ))
    }

    /// Sends a request and waits for its response; `timeout` covers connecting too.
    ///
    /// # Errors
    /// `Timeout`, `ConnectionClosed` (the next request reconnects), `Connect`, `Encode`, `Shutdown`.
    pub async fn request(
        &self,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        tokio::time::timeout(timeout, async {
            let conn = self.connection().await?;
            conn.call(cmd).await
        })
        .await
        .map_err(|_| NetError::timeout(timeout))?
    }

    /// Sends a oneway request.
    ///
    /// # Errors
    /// `ConnectionClosed`, `Connect`, `Encode`, `Shutdown`.
    pub async fn oneway(&self, cmd: RemotingCommand) -> Result<(), NetError> {
        self.connection().await?.send_oneway(cmd).await
    }

    /// Closes the current connection; the next request opens a new one.
    pub fn close_connection(&self) {
        if let Some(conn) = self.inner.current.lock().take() {
            conn.close();
        }
    }

    /// Closes the connection for good and waits for its tasks; later requests fail with `Shutdown`.
    pub async fn shutdown(&self) {
        self.inner.token.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

/// One [`Client`] per address, created on first use.
#[derive(Clone, Debug)]
pub struct ClientPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    config: ClientConfig,
    clients: Mutex<HashMap<String, Client>>,
    token: CancellationToken,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

impl ClientPool {
    #[must_use]
    pub fn new(config: ClientConfig) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                config,
                clients: Mutex::new(HashMap::new()),
                token: CancellationToken::new(),
            }),
        }
    }

    /// The client for `addr`, created (unconnected) if needed.
    ///
    /// # Errors
    /// `Shutdown` after [`shutdown`](Self::shutdown).
    pub fn client(&self, addr: &str) -> Result<Client, NetError> {
        if self.inner.token.is_cancelled() {
            return Err(NetError::Shutdown);
        }
        let mut clients = self.inner.clients.lock();
        let client = clients.entry(addr.to_owned()).or_insert_with(|| {
            Client::with_parent(
                addr.to_owned(),
                self.inner.config.clone(),
                &self.inner.token,
            )
        });
        Ok(client.clone())
    }

    /// [`Client::request`] to `addr`.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub async fn request(
        &self,
        addr: &str,
        cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, NetError> {
        self.client(addr)?.request(cmd, timeout).await
    }

    /// [`Client::oneway`] to `addr`.
    ///
    /// # Errors
    /// As [`Client::oneway`].
    pub async fn oneway(&self, addr: &str, cmd: RemotingCommand) -> Result<(), NetError> {
        self.client(addr)?.oneway(cmd).await
    }

    /// Forgets the client of `addr` and closes its connection (e.g. a broker left the route).
    pub async fn remove(&self, addr: &str) {
        let client = self.inner.clients.lock().remove(addr);
        if let Some(client) = client {
            client.shutdown().await;
        }
    }

    /// Closes every connection and waits for their tasks; later requests fail with `Shutdown`.
    pub async fn shutdown(&self) {
        self.inner.token.cancel();
        let clients: Vec<Client> = self.inner.clients.lock().drain().map(|(_, c)| c).collect();
        for client in clients {
            client.shutdown().await;
        }
    }
}
