//! A logging TCP proxy: forwards bytes unchanged and decodes the remoting frames passing through,
//! so a test can say exactly what a foreign client sent and what ferromq answered.
//!
//! Every decoded frame is logged at `debug` on target `ferromq_compat::wire` and kept in a
//! [`WireLog`] that tests can inspect (`frames()`) or dump (`dump()`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use ferromq_remoting::{decode_frame_buf, Limits, RemotingCommand, RequestCode, ResponseCode};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::debug;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the connecting side (the client) to the upstream server.
    ToServer,
    /// From the upstream server back to the client.
    ToClient,
}

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct WireFrame {
    /// Which proxy saw it (`namesrv`, `broker`).
    pub via: &'static str,
    /// Connection number within that proxy.
    pub conn: u64,
    pub direction: Direction,
    /// For responses, the request code the same opaque was sent with (if it was seen).
    pub request_code: Option<i32>,
    pub cmd: RemotingCommand,
}

impl WireFrame {
    /// One line: direction, code name, opaque, flag, remark, ext fields and a body preview.
    #[must_use]
    pub fn describe(&self) -> String {
        let arrow = match self.direction {
            Direction::ToServer => "->",
            Direction::ToClient => "<-",
        };
        let cmd = &self.cmd;
        let mut s = format!("[{} #{}] {arrow} ", self.via, self.conn);
        if cmd.is_response() {
            let req = self.request_code.map_or_else(|| "?".to_owned(), code_name);
            let _ = write!(
                s,
                "RESPONSE to {req}: {} ({})",
                ResponseCode(cmd.code).name().unwrap_or("?"),
                cmd.code
            );
        } else {
            let _ = write!(s, "{}", code_name(cmd.code));
            if cmd.is_oneway() {
                s.push_str(" oneway");
            }
        }
        let _ = write!(
            s,
            " opaque={} v={} lang={:?}",
            cmd.opaque, cmd.version, cmd.language
        );
        if let Some(r) = &cmd.remark {
            let _ = write!(s, " remark={r:?}");
        }
        if !cmd.ext_fields.is_empty() {
            let _ = write!(s, " ext={:?}", cmd.ext_fields);
        }
        if let Some(body) = &cmd.body {
            let _ = write!(s, " body[{}]", body.len());
            if body.first().is_some_and(|b| *b == b'{' || *b == b'[') {
                let text = String::from_utf8_lossy(body);
                let cut: String = text.chars().take(600).collect();
                let _ = write!(s, "={cut}");
            }
        }
        s
    }
}

fn code_name(code: i32) -> String {
    match RequestCode(code).name() {
        Some(name) => format!("{name}({code})"),
        None => format!("code {code}"),
    }
}

/// The frames every proxy of one cluster saw, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct WireLog {
    frames: Arc<Mutex<Vec<WireFrame>>>,
}

impl WireLog {
    #[must_use]
    pub fn frames(&self) -> Vec<WireFrame> {
        self.frames.lock().clone()
    }

    /// All frames, one line each.
    #[must_use]
    pub fn dump(&self) -> String {
        self.frames
            .lock()
            .iter()
            .map(WireFrame::describe)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Requests with `code` and the responses to them.
    #[must_use]
    pub fn exchanges(&self, code: RequestCode) -> Vec<WireFrame> {
        self.frames
            .lock()
            .iter()
            .filter(|f| {
                if f.cmd.is_response() {
                    f.request_code == Some(code.0)
                } else {
                    f.cmd.code == code.0
                }
            })
            .cloned()
            .collect()
    }

    fn push(&self, frame: WireFrame) {
        debug!(target: "ferromq_compat::wire", "{}", frame.describe());
        self.frames.lock().push(frame);
    }
}

/// A running proxy; dropping it stops accepting and closes every proxied connection.
#[derive(Debug)]
pub struct Proxy {
    local_addr: SocketAddr,
    tasks: JoinSet<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1:0 and forwards every connection to `upstream`.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start(
        via: &'static str,
        upstream: SocketAddr,
        log: WireLog,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Self::start_on(via, listener, upstream, log)
    }

    /// Forwards every connection accepted on `listener` to `upstream`.
    ///
    /// # Errors
    /// When the listener has no local address.
    pub fn start_on(
        via: &'static str,
        listener: TcpListener,
        upstream: SocketAddr,
        log: WireLog,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(via, listener, upstream, log));
        Ok(Self { local_addr, tasks })
    }

    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes every proxied connection.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn accept_loop(via: &'static str, listener: TcpListener, upstream: SocketAddr, log: WireLog) {
    // Connection tasks live in this set, so aborting the accept loop closes them too.
    let mut conns = JoinSet::new();
    let mut next_conn = 0_u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                next_conn += 1;
                conns.spawn(proxy_connection(via, next_conn, client, upstream, log.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Opaques of requests seen in each direction, to name the request a response answers.
type Pending = Arc<Mutex<HashMap<(bool, i32), i32>>>;

async fn proxy_connection(
    via: &'static str,
    conn: u64,
    client: TcpStream,
    upstream: SocketAddr,
    log: WireLog,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        debug!(target: "ferromq_compat::wire", "[{via} #{conn}] upstream {upstream} refused");
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_rd, client_wr) = client.into_split();
    let (server_rd, server_wr) = server.into_split();
    let pending = Pending::default();
    let meta = PumpMeta {
        via,
        conn,
        log,
        pending,
    };
    let up = pump(client_rd, server_wr, Direction::ToServer, meta.clone());
    let down = pump(server_rd, client_wr, Direction::ToClient, meta);
    // When either side closes, close both.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

#[derive(Clone)]
struct PumpMeta {
    via: &'static str,
    conn: u64,
    log: WireLog,
    pending: Pending,
}

async fn pump(
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    direction: Direction,
    meta: PumpMeta,
) {
    let mut buf = vec![0_u8; 64 * 1024];
    let mut frames = BytesMut::new();
    let mut decoding = true;
    let limits = Limits::default();
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if wr.write_all(chunk).await.is_err() {
            break;
        }
        if !decoding {
            continue;
        }
        frames.extend_from_slice(chunk);
        loop {
            match decode_frame_buf(&mut frames, &limits) {
                Ok(Some(cmd)) => record(&meta, direction, cmd),
                Ok(None) => break,
                Err(e) => {
                    debug!(target: "ferromq_compat::wire", "[{} #{}] undecodable frame: {e}", meta.via, meta.conn);
                    decoding = false;
                    frames.clear();
                    break;
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}

fn record(meta: &PumpMeta, direction: Direction, cmd: RemotingCommand) {
    let from_client = direction == Direction::ToServer;
    let request_code = if cmd.is_response() {
        // A response answers a request that went the other way.
        meta.pending.lock().remove(&(!from_client, cmd.opaque))
    } else {
        if !cmd.is_oneway() {
            meta.pending
                .lock()
                .insert((from_client, cmd.opaque), cmd.code);
        }
        None
    };
    meta.log.push(WireFrame {
        via: meta.via,
        conn: meta.conn,
        direction,
        request_code,
        cmd,
    });
}
