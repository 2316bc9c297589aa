//! A minimal RocketMQ 5 (v5 gRPC) client for `--protocol grpc` and `bench pop-crash`: what an
//! official SDK does on the wire, without its retries and caches.
//!
//! A [`Session`] is one client: one HTTP/2 connection (plaintext) to one endpoint, the headers every
//! SDK sends (`x-mq-client-id` first of all), and the start-up a real client performs: a route
//! query, a Telemetry stream carrying its settings (an SDK's start fails unless the server answers
//! with its own within the start-up timeout), a Heartbeat every 10 s while it runs, and
//! NotifyClientTermination at the end. Producers then call SendMessage, simple consumers
//! ReceiveMessage and AckMessage.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use ferromq_proto::v2::receive_message_response::Content;
use ferromq_proto::v2::telemetry_command::Command;
use ferromq_proto::v2::{
    settings::PubSub, AckMessageEntry, AckMessageRequest, Address, AddressScheme, ClientType,
    Endpoints, FilterExpression, FilterType, HeartbeatRequest, Language, Message, MessageQueue,
    MessageType, NotifyClientTerminationRequest, Publishing, QueryRouteRequest,
    ReceiveMessageRequest, SendMessageRequest, Settings, Subscription, SubscriptionEntry,
    SystemProperties, TelemetryCommand, Ua,
};
use ferromq_proto::{Code, Resource, Status};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// The `MessagingService` client generated from `ferromq-proto`'s `service.proto` (build.rs).
#[allow(clippy::pedantic, missing_debug_implementations)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/apache.rocketmq.v2.rs"));
}

use pb::messaging_service_client::MessagingServiceClient;

/// How long the server may take to answer the settings (the Java SDK's default start-up wait).
const SETTINGS_WAIT: Duration = Duration::from_secs(5);
/// How often a running client says it is alive (every SDK: 10 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// Deadline of a unary call (the SDKs' default request timeout is 3 s; sends under a saturated
/// broker can take longer, and a bench should report that as latency rather than as an error).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Client = MessagingServiceClient<InterceptedService<Channel, Headers>>;

/// The headers of every call: who the client is, as the SDKs send them.
#[derive(Clone)]
struct Headers {
    client_id: MetadataValue<Ascii>,
}

impl tonic::service::Interceptor for Headers {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let meta = request.metadata_mut();
        meta.insert("x-mq-client-id", self.client_id.clone());
        meta.insert("x-mq-language", MetadataValue::from_static("RUST"));
        meta.insert("x-mq-protocol", MetadataValue::from_static("v2"));
        meta.insert(
            "x-mq-client-version",
            MetadataValue::from_static(env!("CARGO_PKG_VERSION")),
        );
        Ok(request)
    }
}

/// What a session is for.
#[derive(Debug, Clone)]
pub enum Role {
    /// Publishing to these topics.
    Producer { topics: Vec<String> },
    /// Receiving from `topic` (all tags) as a member of `group`.
    SimpleConsumer { group: String, topic: String },
}

/// One started v5 client.
pub struct Session {
    client: Client,
    role: Role,
    id: String,
    token: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// The topic's first queue in the route: what ReceiveMessage names (the server pops from every
    /// queue of the topic on that broker, as RocketMQ's proxy does).
    queue: Option<MessageQueue>,
    /// Per-session message id counter.
    next_id: AtomicU64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A received message: its body and the handle that acks it.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: Bytes,
}

/// Why a v5 call failed: the transport, or the status the server answered.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Boxed: a `tonic::Status` is large, and results carrying it are everywhere here.
    #[error("gRPC call failed: {0}")]
    Transport(Box<tonic::Status>),
    #[error("the server answered {code:?}: {message}")]
    Refused { code: Code, message: String },
}

impl From<tonic::Status> for CallError {
    fn from(status: tonic::Status) -> Self {
        CallError::Transport(Box::new(status))
    }
}

fn checked(status: Option<Status>) -> Result<(), CallError> {
    match status {
        Some(s) if s.is_success() => Ok(()),
        Some(s) => Err(CallError::Refused {
            code: s.code(),
            message: s.message,
        }),
        None => Err(CallError::Refused {
            code: Code::Unspecified,
            message: "the answer carries no status".into(),
        }),
    }
}

impl Session {
    /// Connects to `addr` (`host:port`, plaintext) and starts a client in `role`: route query,
    /// settings over Telemetry (waiting for the server's), first heartbeat.
    pub async fn start(addr: &str, role: Role) -> Result<Session> {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .with_context(|| format!("{addr} is not a gRPC endpoint address"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting to the gRPC endpoint {addr}"))?;
        let id = new_client_id();
        let headers = Headers {
            client_id: MetadataValue::try_from(id.as_str()).context("client id header")?,
        };
        let client = MessagingServiceClient::with_interceptor(channel, headers);
        let mut session = Session {
            client,
            role,
            id,
            token: CancellationToken::new(),
            tasks: Vec::new(),
            queue: None,
            next_id: AtomicU64::new(0),
        };
        let topics = match &session.role {
            Role::Producer { topics } => topics.clone(),
            Role::SimpleConsumer { topic, .. } => vec![topic.clone()],
        };
        for topic in &topics {
            let queue = session.route(topic).await?;
            session.queue.get_or_insert(queue);
        }
        session.open_telemetry(addr).await?;
        session.heartbeat().await.context("first heartbeat")?;
        session.tasks.push(tokio::spawn(heartbeats(
            session.client.clone(),
            session.heartbeat_request(),
            session.token.clone(),
        )));
        Ok(session)
    }

    /// The first queue of `topic`'s route; fails when the server does not know the topic.
    async fn route(&self, topic: &str) -> Result<MessageQueue> {
        let reply = self
            .client
            .clone()
            .query_route(QueryRouteRequest {
                topic: Some(Resource::named(topic)),
                endpoints: None,
            })
            .await
            .with_context(|| format!("route of {topic}"))?
            .into_inner();
        checked(reply.status).with_context(|| format!("route of {topic}"))?;
        reply
            .message_queues
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("the route of {topic} has no queue"))
    }

    fn settings(&self, addr: &str) -> Settings {
        let (client_type, pub_sub) = match &self.role {
            Role::Producer { topics } => (
                ClientType::Producer,
                PubSub::Publishing(Publishing {
                    topics: topics.iter().map(Resource::named).collect(),
                    max_body_size: 0,
                    validate_message_type: true,
                }),
            ),
            Role::SimpleConsumer { group, topic } => (
                ClientType::SimpleConsumer,
                PubSub::Subscription(Subscription {
                    group: Some(Resource::named(group)),
                    subscriptions: vec![SubscriptionEntry {
                        topic: Some(Resource::named(topic)),
                        expression: Some(all_tags()),
                    }],
                    ..Subscription::default()
                }),
            ),
        };
        let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "8081"));
        Settings {
            client_type: Some(client_type as i32),
            access_point: Some(Endpoints {
                scheme: AddressScheme::IPv4 as i32,
                addresses: vec![Address {
                    host: host.to_owned(),
                    port: port.parse().unwrap_or(8081),
                }],
            }),
            request_timeout: Some(prost_duration(CALL_TIMEOUT)),
            pub_sub: Some(pub_sub),
            user_agent: Some(Ua {
                language: Language::Rust as i32,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                platform: std::env::consts::OS.to_owned(),
                hostname: "ferromq-bench".to_owned(),
            }),
            ..Settings::default()
        }
    }

    /// Opens the Telemetry stream, sends the settings and waits for the server's.
    async fn open_telemetry(&mut self, addr: &str) -> Result<()> {
        let (tx, rx) = mpsc::channel::<TelemetryCommand>(4);
        tx.send(TelemetryCommand {
            status: None,
            command: Some(Command::Settings(self.settings(addr))),
        })
        .await
        .map_err(|_| anyhow!("telemetry channel closed"))?;
        let outbound = futures_stream(rx);
        let mut inbound =
            tokio::time::timeout(SETTINGS_WAIT, self.client.clone().telemetry(outbound))
                .await
                .context("no telemetry answer within the start-up time")?
                .context("opening the telemetry stream")?
                .into_inner();
        let first = tokio::time::timeout(SETTINGS_WAIT, inbound.message())
            .await
            .context("the server sent no settings within the start-up time")?
            .context("reading the server's settings")?
            .ok_or_else(|| anyhow!("the telemetry stream ended before the server's settings"))?;
        if let Some(status) = &first.status {
            if !status.is_success() {
                bail!("the server refused the settings: {}", status.message);
            }
        }
        if !matches!(first.command, Some(Command::Settings(_))) {
            bail!("the server's first telemetry command is not its settings: {first:?}");
        }
        // Keep the stream open (the server's session lives while it does), reading and ignoring
        // what the server pushes: this client serves no transaction checks or verifications.
        let token = self.token.clone();
        self.tasks.push(tokio::spawn(async move {
            let _keep_open = tx;
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    next = inbound.message() => if !matches!(next, Ok(Some(_))) { break },
                }
            }
        }));
        Ok(())
    }

    fn heartbeat_request(&self) -> HeartbeatRequest {
        match &self.role {
            Role::Producer { .. } => HeartbeatRequest {
                group: None,
                client_type: ClientType::Producer as i32,
            },
            Role::SimpleConsumer { group, .. } => HeartbeatRequest {
                group: Some(Resource::named(group)),
                client_type: ClientType::SimpleConsumer as i32,
            },
        }
    }

    async fn heartbeat(&self) -> Result<(), CallError> {
        let reply = self
            .client
            .clone()
            .heartbeat(self.heartbeat_request())
            .await?
            .into_inner();
        checked(reply.status)
    }

    /// A new message id in the SDKs' form (`01` then 32 hex digits), unique per process run.
    fn message_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("01{:016X}{n:016X}", process_nonce())
    }

    /// Sends `bodies` to `topic` in one SendMessage (one message, or a batch of normal ones).
    pub async fn send(&self, topic: &str, bodies: Vec<Bytes>) -> Result<(), CallError> {
        let born = prost_timestamp(std::time::SystemTime::now());
        let messages = bodies
            .into_iter()
            .map(|body| Message {
                topic: Some(Resource::named(topic)),
                user_properties: Default::default(),
                system_properties: Some(SystemProperties {
                    message_id: self.message_id(),
                    message_type: MessageType::Normal as i32,
                    born_timestamp: Some(born),
                    born_host: "ferromq-bench".to_owned(),
                    ..SystemProperties::default()
                }),
                body,
            })
            .collect();
        let reply = self
            .client
            .clone()
            .send_message(SendMessageRequest { messages })
            .await?
            .into_inner();
        checked(reply.status)?;
        for entry in reply.entries {
            checked(entry.status)?;
        }
        Ok(())
    }

    /// One ReceiveMessage of this consumer: up to `batch` messages, waiting up to `poll` for the
    /// first, invisible to the group for `invisible`. An empty result: nothing arrived in time.
    pub async fn receive(
        &self,
        batch: u32,
        invisible: Duration,
        poll: Duration,
    ) -> Result<Vec<Received>, CallError> {
        let Role::SimpleConsumer { group, .. } = &self.role else {
            return Err(CallError::Refused {
                code: Code::BadRequest,
                message: "a producer session cannot receive".into(),
            });
        };
        let request = ReceiveMessageRequest {
            group: Some(Resource::named(group)),
            message_queue: self.queue.clone(),
            filter_expression: Some(all_tags()),
            batch_size: i32::try_from(batch).unwrap_or(i32::MAX),
            invisible_duration: Some(prost_duration(invisible)),
            auto_renew: false,
            long_polling_timeout: Some(prost_duration(poll)),
            attempt_id: None,
        };
        let mut call = tonic::Request::new(request);
        // The SDKs give a receive its long-polling time plus the request timeout.
        call.set_timeout(poll + CALL_TIMEOUT);
        let mut stream = self
            .client
            .clone()
            .receive_message(call)
            .await?
            .into_inner();
        let mut out = Vec::new();
        let mut status = None;
        while let Some(item) = stream.message().await? {
            match item.content {
                Some(Content::Message(m)) => {
                    let sys = m.system_properties.unwrap_or_default();
                    out.push(Received {
                        message_id: sys.message_id,
                        receipt_handle: sys.receipt_handle.unwrap_or_default(),
                        body: m.body,
                    });
                }
                Some(Content::Status(s)) => status = Some(s),
                Some(Content::DeliveryTimestamp(_)) | None => {}
            }
        }
        match status {
            Some(s) if s.code() == Code::MessageNotFound => Ok(out),
            other => checked(other).map(|()| out),
        }
    }

    /// Acks `messages` (message id, receipt handle) in one AckMessage; whether each entry was
    /// accepted, in order. `Err`: the call itself failed (no entry is known to be acked).
    pub async fn ack(&self, messages: &[(String, String)]) -> Result<Vec<bool>, CallError> {
        let Role::SimpleConsumer { group, topic } = &self.role else {
            return Err(CallError::Refused {
                code: Code::BadRequest,
                message: "a producer session cannot ack".into(),
            });
        };
        let reply = self
            .client
            .clone()
            .ack_message(AckMessageRequest {
                group: Some(Resource::named(group)),
                topic: Some(Resource::named(topic)),
                entries: messages
                    .iter()
                    .map(|(id, handle)| AckMessageEntry {
                        message_id: id.clone(),
                        receipt_handle: handle.clone(),
                        lite_topic: None,
                    })
                    .collect(),
            })
            .await?
            .into_inner();
        // Entries answer in request order; an answer without entries speaks for all of them.
        if reply.entries.len() == messages.len() {
            return Ok(reply
                .entries
                .into_iter()
                .map(|e| e.status.is_some_and(|s| s.is_success()))
                .collect());
        }
        checked(reply.status)?;
        Ok(vec![true; messages.len()])
    }

    /// Drops the session without a goodbye (its endpoint is gone).
    pub async fn abandon(self) {
        self.token.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Says goodbye and stops the telemetry stream and heartbeats.
    pub async fn shutdown(self) {
        let group = match &self.role {
            Role::Producer { .. } => None,
            Role::SimpleConsumer { group, .. } => Some(Resource::named(group)),
        };
        let _ = tokio::time::timeout(
            SETTINGS_WAIT,
            self.client
                .clone()
                .notify_client_termination(NotifyClientTerminationRequest { group }),
        )
        .await;
        self.token.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn heartbeats(mut client: Client, request: HeartbeatRequest, token: CancellationToken) {
    let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            _ = ticker.tick() => {}
        }
        // A missed heartbeat is not fatal: the next one, or any call, says the client is alive.
        let _ = client.heartbeat(request.clone()).await;
    }
}

fn all_tags() -> FilterExpression {
    FilterExpression {
        r#type: FilterType::Tag as i32,
        expression: "*".to_owned(),
    }
}

fn futures_stream(
    rx: mpsc::Receiver<TelemetryCommand>,
) -> impl tokio_stream::Stream<Item = TelemetryCommand> + Send + 'static {
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn prost_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn prost_timestamp(at: std::time::SystemTime) -> prost_types::Timestamp {
    let since = at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// A random number fixed for this process, in client and message ids.
fn process_nonce() -> u64 {
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NONCE.get_or_init(super::new_run_id)
}

/// A client id unique per session: `ferromq-bench@<pid>#<nonce>#<n>`.
fn new_client_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "ferromq-bench@{}#{:x}#{}",
        std::process::id(),
        process_nonce(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
