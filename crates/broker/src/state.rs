//! What the request handlers and the background tasks share.

use std::net::SocketAddr;
use std::sync::Arc;

use ferromq_remoting::headers::heartbeat::NotifyConsumerIdsChangedRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode};
use ferromq_store::Store;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::clients::Clients;
use crate::config::BrokerConfig;
use crate::live_config::LiveConfig;
use crate::locks::QueueLocks;
use crate::long_poll::LongPoll;
use crate::offsets::ConsumerOffsets;
use crate::stats::Stats;
use crate::subscriptions::Subscriptions;
use crate::topics::Topics;

/// The broker's shared state.
#[derive(Debug)]
pub struct State {
    pub config: BrokerConfig,
    /// Published to name servers and written into every stored record as the store host.
    pub advertised: SocketAddr,
    pub store: Store,
    pub topics: Topics,
    pub offsets: ConsumerOffsets,
    /// Consumer group settings (`config/subscriptionGroup.json`).
    pub subscriptions: Subscriptions,
    /// Per (topic, group) PULL or POP (`config/messageRequestMode.json`).
    pub request_modes: crate::request_modes::RequestModes,
    /// Name-server route lookups (queue assignment, v5 routes across brokers).
    pub topic_routes: crate::topic_routes::TopicRoutes,
    /// TLS of the broker's own connections (`tls.enable`); `None`: plaintext.
    pub outgoing_tls: Option<ferromq_net::ClientTls>,
    /// The RocketMQ 5 gRPC endpoint serving this broker, as clients dial it: registered with the
    /// name servers, so that every broker's v5 routes can send clients here. Set by the endpoint
    /// when it starts serving this broker; a change re-registers at once.
    pub grpc_endpoint: tokio::sync::watch::Sender<Option<SocketAddr>>,
    /// Settings changeable at run time (`UPDATE_BROKER_CONFIG`).
    pub live: LiveConfig,
    pub clients: Clients,
    /// Queue locks of orderly consumers.
    pub locks: QueueLocks,
    /// Recently ended transactions.
    pub transactions: crate::transaction::Ended,
    pub long_poll: Arc<LongPoll>,
    /// POP consumption's in-flight deliveries (see `crate::pop`).
    pub pop: crate::pop::Leases,
    /// Compiled SQL92 subscription filters.
    pub filters: crate::filter::FilterCache,
    /// Master/replica replication (see `crate::ha`).
    pub replication: crate::ha::Replication,
    /// Master or replica, now (see `crate::role`).
    pub role: crate::role::Role,
    /// Where each master epoch began in the log (controller mode).
    pub epochs: crate::ha::epochs::EpochTable,
    /// Set (controller mode) when this broker must restart with its log cut back to the offset.
    pub restart: tokio::sync::watch::Sender<Option<u64>>,
    /// Server-side message trace; `None` when `brokerTraceEnable` is off or on a replica.
    pub trace: Option<Arc<crate::trace::Recorder>>,
    /// Delay levels and timer settings used by the send path.
    pub schedule: Arc<crate::schedule::Schedule>,
    pub stats: Stats,
    /// Short tasks spawned outside a request (rebalance notifications); waited for at shutdown.
    pub tasks: TaskTracker,
    /// Milliseconds since the epoch when the broker started.
    pub started_ms: i64,
    /// Where transaction checks go when no remoting producer of the group is connected.
    pub check_relays: crate::transaction::relay::CheckRelays,
    /// Clients of other protocols (v5 gRPC sessions), for views of who is connected.
    pub client_directories: crate::client_directory::ClientDirectories,
    /// Users, ACLs and the checks on (ACL 2.0): the remoting handlers' and the gRPC endpoint's.
    pub(crate) guard: Arc<crate::auth::Guard>,
}

impl State {
    /// Sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every member of each group, in the background.
    pub fn notify_groups(self: &Arc<Self>, groups: Vec<String>) {
        for group in groups {
            let connections = self.clients.consumer_connections(&group);
            if connections.is_empty() {
                continue;
            }
            self.tasks.spawn(async move {
                for conn in connections {
                    let cmd = RemotingCommand::request(RequestCode::NOTIFY_CONSUMER_IDS_CHANGED)
                        .with_header(&NotifyConsumerIdsChangedRequestHeader {
                            consumer_group: group.clone(),
                        });
                    if let Err(e) = conn.send_oneway(cmd).await {
                        debug!(%group, peer = %conn.peer_addr(), error = %e, "rebalance notification not sent");
                    }
                }
            });
        }
    }
}
