//! The transport over real TCP on 127.0.0.1:0: a test server, our client, and raw sockets for what
//! a well-behaved client cannot do.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::codec::FramedRead;

use ferromq_net::codec::encode_command;
use ferromq_net::{
    not_supported, serve, Client, ClientConfig, ClientPool, Connection, ConnectionConfig,
    ConnectionId, Handler, NetError, RemotingCodec, RequestContext, ServerHandle,
};
use ferromq_remoting::{
    Limits, RemotingCommand, RequestCode, ResponseCode, SerializeType, FLAG_ONEWAY,
};

const ECHO: i32 = 1;
/// Answered once the test notifies `gate`.
const WAIT: i32 = 2;
/// Carries `i`; answered when `order` reaches `i`, which it then lowers: the last request sent is
/// answered first.
const ORDERED: i32 = 3;
/// The server asks the client (code `PING`) and returns the client's remark.
const CALLBACK: i32 = 4;
/// The server closes the connection instead of answering.
const DROP: i32 = 5;
/// Waits until the connection closes, as a long poll should.
const FOREVER: i32 = 6;
const PANIC: i32 = 7;
/// Server → client.
const PING: i32 = 100;
const T: Duration = Duration::from_secs(5);

struct TestHandler {
    gate: Notify,
    order: watch::Sender<i32>,
    oneways: mpsc::UnboundedSender<RemotingCommand>,
    connects: mpsc::UnboundedSender<Connection>,
    disconnects: mpsc::UnboundedSender<ConnectionId>,
}

fn success(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
}

#[async_trait]
impl Handler for TestHandler {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.is_oneway() {
            let _ = self.oneways.send(req.clone());
            // The transport must not send this.
            return Some(success(&req));
        }
        match req.code {
            ECHO => {
                let mut resp = success(&req);
                resp.ext_fields = req.ext_fields.clone();
                resp.body = req.body.clone();
                Some(resp)
            }
            WAIT => {
                self.gate.notified().await;
                Some(success(&req).with_remark("waited"))
            }
            ORDERED => {
                let i: i32 = req.ext_parse("i").ok().flatten()?;
                let mut rx = self.order.subscribe();
                rx.wait_for(|&turn| turn == i).await.ok()?;
                self.order.send_replace(i - 1);
                Some(success(&req).with_ext("i", i.to_string()))
            }
            CALLBACK => {
                let ping = RemotingCommand::request(PING);
                let answer = ctx.connection().request(ping, T).await;
                Some(match answer {
                    Ok(a) => success(&req).with_remark(a.remark.unwrap_or_default()),
                    Err(e) => RemotingCommand::response_to(
                        &req,
                        ResponseCode::SYSTEM_ERROR,
                        Some(e.to_string()),
                    ),
                })
            }
            DROP => {
                ctx.connection().close();
                None
            }
            FOREVER => {
                ctx.connection().closed().await;
                None
            }
            PANIC => panic!("handler bug"),
            _ => Some(not_supported(&req)),
        }
    }

    fn on_connect(&self, conn: &Connection) {
        let _ = self.connects.send(conn.clone());
    }

    fn on_disconnect(&self, conn: &Connection) {
        let _ = self.disconnects.send(conn.id());
    }
}

/// The client side's handler for server-initiated requests.
struct ClientSide {
    oneways: mpsc::UnboundedSender<RemotingCommand>,
}

#[async_trait]
impl Handler for ClientSide {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        if req.is_oneway() {
            let _ = self.oneways.send(req);
            return None;
        }
        Some(success(&req).with_remark("pong"))
    }
}

struct Harness {
    server: ServerHandle,
    handler: Arc<TestHandler>,
    oneways: mpsc::UnboundedReceiver<RemotingCommand>,
    connects: mpsc::UnboundedReceiver<Connection>,
    disconnects: mpsc::UnboundedReceiver<ConnectionId>,
}

impl Harness {
    async fn start(config: ConnectionConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (oneways_tx, oneways) = mpsc::unbounded_channel();
        let (connects_tx, connects) = mpsc::unbounded_channel();
        let (disconnects_tx, disconnects) = mpsc::unbounded_channel();
        let handler = Arc::new(TestHandler {
            gate: Notify::new(),
            order: watch::Sender::new(-1),
            oneways: oneways_tx,
            connects: connects_tx,
            disconnects: disconnects_tx,
        });
        let server = serve(listener, handler.clone(), config).expect("serve");
        Self {
            server,
            handler,
            oneways,
            connects,
            disconnects,
        }
    }

    fn addr(&self) -> String {
        self.server.local_addr().to_string()
    }

    async fn client(&self) -> Client {
        Client::connect(self.addr(), ClientConfig::default())
            .await
            .expect("connect")
    }

    async fn raw(
        &self,
    ) -> (
        FramedRead<tokio::net::tcp::OwnedReadHalf, RemotingCodec>,
        tokio::net::tcp::OwnedWriteHalf,
    ) {
        let stream = TcpStream::connect(self.server.local_addr())
            .await
            .expect("connect");
        let (rd, wr) = stream.into_split();
        (FramedRead::new(rd, RemotingCodec::default()), wr)
    }
}

fn echo(tag: &str) -> RemotingCommand {
    RemotingCommand::request(ECHO)
        .with_ext("tag", tag)
        .with_body(Bytes::from(format!("body of {tag}")))
}

async fn assert_echo(client: &Client, tag: &str) {
    let resp = client.request(echo(tag), T).await.expect("echo");
    assert!(resp.is_response());
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_eq!(resp.ext("tag"), Some(tag));
    assert_eq!(
        resp.body.as_deref(),
        Some(format!("body of {tag}").as_bytes())
    );
}

async fn write_frame(wr: &mut tokio::net::tcp::OwnedWriteHalf, cmd: &RemotingCommand) {
    let frame = encode_command(cmd, SerializeType::Json).expect("encode");
    wr.write_all(&frame).await.expect("write");
}

/// The peer closed the socket: EOF or a reset.
async fn assert_closed_by_peer(mut stream: TcpStream) {
    let mut buf = [0u8; 64];
    match stream.read(&mut buf).await {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the server to close, got {n} bytes"),
    }
}

#[tokio::test]
async fn request_response_in_both_header_encodings() {
    let h = Harness::start(ConnectionConfig::default()).await;
    let json = h.client().await;
    assert_echo(&json, "json").await;

    let binary = Client::connect(
        h.addr(),
        ClientConfig {
            connection: ConnectionConfig {
                serialize_type: SerializeType::RocketMq,
                ..ConnectionConfig::default()
            },
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect");
    assert_echo(&binary, "binary").await;
    // Each is answered in the header encoding it asked in.
    for (client, encoding) in [
        (&json, SerializeType::Json),
        (&binary, SerializeType::RocketMq),
    ] {
        let resp = client.request(echo("encoding"), T).await.expect("echo");
        assert_eq!(resp.serialize_type, encoding);
    }

    let unknown = json
        .request(RemotingCommand::request(RequestCode(9999)), T)
        .await
        .expect("answered");
    assert_eq!(
        unknown.response_code(),
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED
    );
    assert_eq!(
        unknown.remark.as_deref(),
        Some(" request type 9999 not supported by ferromq")
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_slow_request_does_not_block_the_next_one_on_the_same_connection() {
    let h = Harness::start(ConnectionConfig::default()).await;
    let client = h.client().await;
    let slow = tokio::spawn({
        let client = client.clone();
        async move { client.request(RemotingCommand::request(WAIT), T).await }
    });
    // Answered while the first request is still waiting.
    assert_echo(&client, "fast").await;
    assert!(!slow.is_finished());
    h.handler.gate.notify_one();
    let resp = slow.await.expect("task").expect("slow answered");
    assert_eq!(resp.remark.as_deref(), Some("waited"));
    h.server.shutdown().await;
}

#[tokio::test]
async fn responses_are_written_out_of_order_and_carry_the_request_opaque() {
    let h = Harness::start(ConnectionConfig::default()).await;
    let (mut frames, mut wr) = h.raw().await;
    write_frame(&mut wr, &RemotingCommand::request(WAIT).with_opaque(41)).await;
    write_frame(&mut wr, &echo("second").with_opaque(42)).await;
    let first = frames.next().await.expect("frame").expect("valid");
    assert_eq!(first.opaque, 42);
    assert!(first.is_response());
    h.handler.gate.notify_one();
    let second = frames.next().await.expect("frame").expect("valid");
    assert_eq!(second.opaque, 41);
    h.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_on_one_connection_are_matched_by_opaque() {
    const N: i32 = 64;
    let h = Harness::start(ConnectionConfig::default()).await;
    h.handler.order.send_replace(N - 1);
    let client = h.client().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let client = client.clone();
        tasks.spawn(async move {
            let req = RemotingCommand::request(ORDERED).with_ext("i", i.to_string());
            (i, client.request(req, T).await)
        });
    }
    let mut seen = 0;
    while let Some(done) = tasks.join_next().await {
        let (i, resp) = done.expect("task");
        let resp = resp.expect("answered");
        assert_eq!(resp.ext("i"), Some(i.to_string().as_str()));
        seen += 1;
    }
    assert_eq!(seen, N);
    h.server.shutdown().await;
}

#[tokio::test]
async fn oneway_requests_are_handled_but_never_answered() {
    let mut h = Harness::start(ConnectionConfig::default()).await;
    let (mut frames, mut wr) = h.raw().await;
    let mut oneway = echo("oneway").with_opaque(7);
    oneway.flag |= FLAG_ONEWAY;
    write_frame(&mut wr, &oneway).await;
    let got = h.oneways.recv().await.expect("handled");
    assert_eq!(got.ext("tag"), Some("oneway"));
    // The next frame on the wire is the answer to the next request, not to the oneway one.
    write_frame(&mut wr, &echo("after").with_opaque(8)).await;
    let next = frames.next().await.expect("frame").expect("valid");
    assert_eq!(next.opaque, 8);

    let client = h.client().await;
    client.oneway(echo("via client")).await.expect("sent");
    let got = h.oneways.recv().await.expect("handled");
    assert_eq!(got.ext("tag"), Some("via client"));
    assert!(got.is_oneway());
    h.server.shutdown().await;
}

#[tokio::test]
async fn server_sends_requests_to_a_connected_client() {
    let mut h = Harness::start(ConnectionConfig::default()).await;
    let (tx, mut client_oneways) = mpsc::unbounded_channel();
    let client = Client::connect(
        h.addr(),
        ClientConfig {
            handler: Arc::new(ClientSide { oneways: tx }),
            ..ClientConfig::default()
        },
    )
    .await
    .expect("connect");

    // Inside a handler, on the request's connection.
    let resp = client
        .request(RemotingCommand::request(CALLBACK), T)
        .await
        .expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
    assert_eq!(resp.remark.as_deref(), Some("pong"));

    // From outside, on a connection remembered at connect time.
    let conn = h.connects.recv().await.expect("connected");
    let pong = conn
        .request(RemotingCommand::request(PING), T)
        .await
        .expect("client answers");
    assert_eq!(pong.remark.as_deref(), Some("pong"));
    conn.send_oneway(RemotingCommand::request(
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED,
    ))
    .await
    .expect("sent");
    let note = client_oneways.recv().await.expect("client got it");
    assert_eq!(
        note.request_code(),
        RequestCode::NOTIFY_CONSUMER_IDS_CHANGED
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_malformed_frame_closes_only_its_connection() {
    let mut h = Harness::start(ConnectionConfig::default()).await;
    let good = h.client().await;
    let good_conn = h.connects.recv().await.expect("good connected");
    assert_echo(&good, "before").await;

    let mut bad = TcpStream::connect(h.server.local_addr())
        .await
        .expect("connect");
    let bad_conn = h.connects.recv().await.expect("bad connected");
    // Serialize type 9 does not exist.
    bad.write_all(&[0, 0, 0, 8, 9, 0, 0, 0])
        .await
        .expect("write");
    assert_closed_by_peer(bad).await;
    assert_eq!(h.disconnects.recv().await, Some(bad_conn.id()));

    assert_echo(&good, "after").await;
    assert!(!good_conn.is_closed());
    h.server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_the_connection_before_it_is_buffered() {
    let mut h = Harness::start(ConnectionConfig {
        limits: Limits {
            max_frame_len: 1024,
            ..Limits::default()
        },
        ..ConnectionConfig::default()
    })
    .await;
    let mut bad = TcpStream::connect(h.server.local_addr())
        .await
        .expect("connect");
    // Announces 1 MiB and sends only the prefix.
    bad.write_all(&[0, 0x10, 0, 0, 0, 0, 0, 10])
        .await
        .expect("write");
    assert_closed_by_peer(bad).await;
    assert!(h.disconnects.recv().await.is_some());

    // A well-formed request that is simply too big is refused the same way.
    let client = h.client().await;
    let big = echo("big").with_body(vec![0u8; 4096]);
    assert!(matches!(
        client.request(big, T).await,
        Err(NetError::ConnectionClosed)
    ));
    // The client reconnects for the next, small, request.
    assert_echo(&client, "small").await;
    h.server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn requests_time_out_and_late_responses_are_dropped() {
    let h = Harness::start(ConnectionConfig::default()).await;
    let client = h.client().await;
    let err = client
        .request(RemotingCommand::request(FOREVER), Duration::from_secs(3))
        .await
        .expect_err("never answered");
    assert!(matches!(err, NetError::Timeout { millis: 3000 }), "{err:?}");

    let err = client
        .request(RemotingCommand::request(WAIT), Duration::from_millis(500))
        .await
        .expect_err("answered too late");
    assert!(matches!(err, NetError::Timeout { millis: 500 }), "{err:?}");
    h.handler.gate.notify_one(); // The late answer arrives and is dropped.
    assert_echo(&client, "still fine").await;
    h.server.shutdown().await;
}

#[tokio::test]
async fn the_client_reconnects_after_the_server_drops_the_connection() {
    let mut h = Harness::start(ConnectionConfig::default()).await;
    let client = h.client().await;
    let first = h.connects.recv().await.expect("connected");
    let err = client
        .request(RemotingCommand::request(DROP), T)
        .await
        .expect_err("dropped");
    assert!(matches!(err, NetError::ConnectionClosed), "{err:?}");
    assert_eq!(h.disconnects.recv().await, Some(first.id()));

    assert_echo(&client, "again").await;
    let second = h.connects.recv().await.expect("reconnected");
    assert_ne!(first.id(), second.id());
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_answers_system_error() {
    let h = Harness::start(ConnectionConfig::default()).await;
    let client = h.client().await;
    let resp = client
        .request(RemotingCommand::request(PANIC), T)
        .await
        .expect("answered");
    assert_eq!(resp.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_echo(&client, "alive").await;
    h.server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_waits_for_handlers() {
    let mut h = Harness::start(ConnectionConfig::default()).await;
    let addr = h.server.local_addr();
    let client = h.client().await;
    let conn = h.connects.recv().await.expect("connected");
    let long_poll = tokio::spawn({
        let client = client.clone();
        async move { client.request(RemotingCommand::request(FOREVER), T).await }
    });
    // Make sure the long poll is being handled before shutting down.
    assert_echo(&client, "ready").await;
    h.server.shutdown().await;
    assert!(conn.is_closed());
    assert_eq!(h.disconnects.recv().await, Some(conn.id()));
    let err = long_poll.await.expect("task").expect_err("closed");
    assert!(matches!(err, NetError::ConnectionClosed), "{err:?}");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    client.shutdown().await;
    assert!(matches!(
        client.request(echo("late"), T).await,
        Err(NetError::Shutdown)
    ));
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = Client::connect(addr.to_string(), ClientConfig::default())
        .await
        .expect_err("refused");
    assert!(matches!(err, NetError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn the_pool_keeps_one_client_per_address() {
    let a = Harness::start(ConnectionConfig::default()).await;
    let mut b = Harness::start(ConnectionConfig::default()).await;
    let pool = ClientPool::new(ClientConfig::default());
    for _ in 0..3 {
        for h in [&a, &b] {
            let resp = pool
                .request(&h.addr(), echo("pooled"), T)
                .await
                .expect("echo");
            assert_eq!(resp.ext("tag"), Some("pooled"));
        }
    }
    pool.oneway(&b.addr(), echo("pooled oneway"))
        .await
        .expect("sent");
    assert!(b.oneways.recv().await.is_some());
    // One connection per server.
    assert!(b.connects.try_recv().is_ok());
    assert!(b.connects.try_recv().is_err());
    pool.shutdown().await;
    assert!(matches!(pool.client(&a.addr()), Err(NetError::Shutdown)));
    a.server.shutdown().await;
    b.server.shutdown().await;
}
