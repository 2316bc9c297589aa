//! A topic's queues across the cluster, as the name servers route them: what queue assignment
//! shares out, since a client asks one broker for its queues on every broker of the topic
//! (Apache's `TopicRouteInfoManager`, asked on each use rather than cached: a client asks every
//! twenty seconds or so per topic), and what v5 routes list (briefly cached, see
//! [`TopicRoutes::cached`]).

use std::collections::HashMap;
use std::time::Duration;

use ferromq_net::{ClientConfig, ClientPool, ClientTls};
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::route::{perm, TopicRouteData};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use parking_lot::Mutex;
use tokio::time::Instant;
use tracing::debug;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// How long [`TopicRoutes::cached`] reuses a route (or its absence): long enough that a busy
/// endpoint asks the name servers about a topic a few times a minute at most, short enough that a
/// broker joining or leaving shows within a client's next route refresh (v5 clients refresh every
/// 30 s).
pub const CACHE_FOR: Duration = Duration::from_secs(3);

/// Topics [`TopicRoutes::cached`] remembers at most; past it, expired entries are dropped and new
/// topics go uncached until room frees up.
const CACHE_MAX_TOPICS: usize = 10_000;

/// Connections to the name servers for route lookups, and recent routes; closed by
/// [`TopicRoutes::shutdown`].
#[derive(Debug)]
pub struct TopicRoutes {
    pool: ClientPool,
    /// topic → when it was looked up, and the route found.
    cache: Mutex<HashMap<String, (Instant, Option<TopicRouteData>)>>,
}

impl TopicRoutes {
    /// Lookups over TLS when `tls` is given (`tls.enable`).
    #[must_use]
    pub fn new(tls: Option<ClientTls>) -> Self {
        Self {
            pool: ClientPool::new(ClientConfig {
                tls,
                ..ClientConfig::default()
            }),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The readable queues of `topic` on every broker the first answering name server routes it
    /// to, sorted; `None` when none of `namesrv_addrs` knows the topic or answers.
    pub async fn readable_queues(
        &self,
        namesrv_addrs: &[String],
        topic: &str,
    ) -> Option<Vec<MessageQueue>> {
        let route = self.lookup(namesrv_addrs, topic).await?;
        let mut queues: Vec<MessageQueue> = route
            .queue_datas
            .iter()
            .filter(|q| q.perm & perm::READ != 0)
            .flat_map(|q| {
                (0..q.read_queue_nums.max(0)).map(|queue_id| MessageQueue {
                    broker_name: q.broker_name.clone(),
                    queue_id,
                    topic: topic.to_owned(),
                })
            })
            .collect();
        queues.sort();
        queues.dedup();
        Some(queues)
    }

    /// The route of `topic` as [`TopicRoutes::lookup`] finds it, reused for [`CACHE_FOR`]: v5
    /// clients ask a broker for routes often, and none of those asks should cost a round trip.
    pub async fn cached(&self, namesrv_addrs: &[String], topic: &str) -> Option<TopicRouteData> {
        let now = Instant::now();
        if let Some((at, route)) = self.cache.lock().get(topic) {
            if now.duration_since(*at) < CACHE_FOR {
                return route.clone();
            }
        }
        let route = self.lookup(namesrv_addrs, topic).await;
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_MAX_TOPICS {
            cache.retain(|_, (at, _)| now.duration_since(*at) < CACHE_FOR);
        }
        if cache.len() < CACHE_MAX_TOPICS {
            cache.insert(topic.to_owned(), (now, route.clone()));
        }
        route
    }

    /// The route of `topic` from the first name server that answers with one; `None` when none
    /// of `namesrv_addrs` knows the topic or answers.
    pub async fn lookup(&self, namesrv_addrs: &[String], topic: &str) -> Option<TopicRouteData> {
        for addr in namesrv_addrs {
            let req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
                &GetRouteInfoRequestHeader {
                    topic: topic.to_owned(),
                    accept_standard_json_only: Some(true),
                },
            );
            let resp = match self.pool.request(addr, req, REQUEST_TIMEOUT).await {
                Ok(resp) => resp,
                Err(e) => {
                    debug!(namesrv = %addr, %topic, error = %e, "route lookup failed");
                    continue;
                }
            };
            if resp.response_code() != ResponseCode::SUCCESS {
                debug!(namesrv = %addr, %topic, code = resp.code, "no route");
                continue;
            }
            if let Some(route) = resp
                .body
                .as_deref()
                .and_then(|b| TopicRouteData::from_json(b).ok())
            {
                return Some(route);
            }
        }
        None
    }

    /// Closes the connections.
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
    }
}
