//! v5 client sessions, keyed by the `x-mq-client-id` header: the settings a client sent over its
//! telemetry stream, the stream to push commands down (transaction checks), and when it was last
//! heard from. A remoting client's registration lives in the broker's `clients`; a v5 client's
//! lives here because it is made of v5 concepts (settings, telemetry streams).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferromq_broker::service::{ClientDirectory, DirectoryClient, DirectoryRole};
use ferromq_proto::v2::{settings::PubSub, FilterType, Language, Settings, TelemetryCommand};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A session not heard from for this long (no heartbeat, no open stream) is forgotten, as the
/// broker expires remoting clients.
const EXPIRY: Duration = Duration::from_secs(120);

/// Where commands for a client go: its telemetry stream's sending side, with a number that tells
/// this stream from a later one of the same client.
#[derive(Debug, Clone)]
pub(crate) struct CommandSink {
    pub stream: u64,
    pub tx: mpsc::Sender<Result<TelemetryCommand, tonic::Status>>,
}

#[derive(Debug)]
struct Session {
    settings: Option<Settings>,
    /// Where its telemetry stream comes from.
    addr: SocketAddr,
    commands: Option<CommandSink>,
    last_seen: Instant,
}

/// The sessions of every v5 client.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
    next_stream: std::sync::atomic::AtomicU64,
}

impl Sessions {
    /// A number for a new telemetry stream.
    pub(crate) fn stream_id(&self) -> u64 {
        self.next_stream
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Records `settings` and the stream they came on, from `addr`.
    pub(crate) fn attach(
        &self,
        client_id: &str,
        settings: Settings,
        sink: CommandSink,
        addr: SocketAddr,
    ) {
        let now = Instant::now();
        let mut sessions = self.inner.lock();
        sessions.retain(|_, s| s.commands.is_some() || now.duration_since(s.last_seen) < EXPIRY);
        let session = sessions
            .entry(client_id.to_owned())
            .or_insert_with(|| Session {
                settings: None,
                addr,
                commands: None,
                last_seen: now,
            });
        session.settings = Some(settings);
        session.addr = addr;
        session.commands = Some(sink);
        session.last_seen = now;
    }

    /// Forgets the stream `stream` of `client_id` (ended or failed); a newer one stays.
    pub(crate) fn detach(&self, client_id: &str, stream: u64) {
        if let Some(s) = self.inner.lock().get_mut(client_id) {
            if s.commands.as_ref().is_some_and(|c| c.stream == stream) {
                s.commands = None;
            }
        }
    }

    /// A heartbeat: whether the client is known (has sent its settings).
    pub(crate) fn touch(&self, client_id: &str) -> bool {
        match self.inner.lock().get_mut(client_id) {
            Some(s) => {
                s.last_seen = Instant::now();
                s.settings.is_some()
            }
            None => false,
        }
    }

    /// Whether the client is still there: known, and with an open telemetry stream or heard from
    /// within the session expiry.
    pub(crate) fn is_alive(&self, client_id: &str) -> bool {
        self.inner.lock().get(client_id).is_some_and(|s| {
            s.commands.is_some() || Instant::now().duration_since(s.last_seen) < EXPIRY
        })
    }

    /// The client said goodbye; whether it was known.
    pub(crate) fn remove(&self, client_id: &str) -> bool {
        self.inner.lock().remove(client_id).is_some()
    }

    /// The command streams of producers publishing to `topic`, for transaction checks.
    pub(crate) fn producers_of(&self, topic: &str) -> Vec<CommandSink> {
        self.inner
            .lock()
            .values()
            .filter(|s| {
                matches!(
                    s.settings.as_ref().and_then(|st| st.pub_sub.as_ref()),
                    Some(PubSub::Publishing(p)) if p.topics.iter().any(|t| t.qualified_name() == topic)
                )
            })
            .filter_map(|s| s.commands.clone())
            .collect()
    }
}

/// The console's view of v5 clients: those alive (an open telemetry stream, or heard from within
/// the expiry) that sent their settings.
impl ClientDirectory for Sessions {
    fn clients(&self) -> Vec<DirectoryClient> {
        let now = Instant::now();
        self.inner
            .lock()
            .iter()
            .filter(|(_, s)| s.commands.is_some() || now.duration_since(s.last_seen) < EXPIRY)
            .filter_map(|(id, s)| {
                let settings = s.settings.as_ref()?;
                let role = match settings.pub_sub.as_ref()? {
                    PubSub::Publishing(p) => DirectoryRole::Producer {
                        topics: p.topics.iter().map(|t| t.qualified_name()).collect(),
                    },
                    PubSub::Subscription(sub) => DirectoryRole::Consumer {
                        group: sub.group.as_ref()?.qualified_name(),
                        subscriptions: sub
                            .subscriptions
                            .iter()
                            .filter_map(|e| {
                                let topic = e.topic.as_ref()?.qualified_name();
                                let (kind, expression) = e.expression.as_ref().map_or_else(
                                    || ("TAG", "*".to_owned()),
                                    |x| {
                                        let kind = match FilterType::try_from(x.r#type) {
                                            Ok(FilterType::Sql) => "SQL92",
                                            _ => "TAG",
                                        };
                                        (kind, x.expression.clone())
                                    },
                                );
                                Some((topic, kind.to_owned(), expression))
                            })
                            .collect(),
                    },
                };
                let (language, version) = settings.user_agent.as_ref().map_or_else(
                    || ("UNKNOWN".to_owned(), String::new()),
                    |ua| {
                        let language =
                            Language::try_from(ua.language).map_or("UNKNOWN", |l| l.as_str_name());
                        (language.to_owned(), ua.version.clone())
                    },
                );
                Some(DirectoryClient {
                    client_id: id.clone(),
                    addr: s.addr,
                    protocol: "gRPC",
                    language,
                    version,
                    role,
                })
            })
            .collect()
    }
}
