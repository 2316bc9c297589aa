//! A topic's queues across the cluster, as the name servers route them: what queue assignment
//! shares out, since a client asks one broker for its queues on every broker of the topic
//! (Apache's `TopicRouteInfoManager`, asked on each use rather than cached: a client asks every
//! twenty seconds or so per topic).

use std::time::Duration;

use ferromq_net::{ClientConfig, ClientPool, ClientTls};
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::route::{perm, TopicRouteData};
use ferromq_remoting::body::JsonBody;
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::debug;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Connections to the name servers for route lookups; closed by [`TopicRoutes::shutdown`].
#[derive(Debug)]
pub struct TopicRoutes {
    pool: ClientPool,
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
        }
    }

    /// The readable queues of `topic` on every broker the first answering name server routes it
    /// to, sorted; `None` when none of `namesrv_addrs` knows the topic or answers.
    pub async fn readable_queues(
        &self,
        namesrv_addrs: &[String],
        topic: &str,
    ) -> Option<Vec<MessageQueue>> {
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
            let Some(route) = resp
                .body
                .as_deref()
                .and_then(|b| TopicRouteData::from_json(b).ok())
            else {
                continue;
            };
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
            return Some(queues);
        }
        None
    }

    /// Closes the connections.
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
    }
}
