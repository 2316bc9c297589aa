//! The route cache: topic routes fetched from the name servers, the brokers' addresses they list,
//! and the queues a producer may write to and a consumer may read from.
//!
//! Name servers are tried in turn, starting with the last one that answered; only a transport
//! failure moves on to the next (an answer such as TOPIC_NOT_EXIST is the answer). Routes are
//! refreshed by [`Routes::refresh_all`], which the owning client runs periodically (30 s, as Java),
//! and by the producer after a failed send.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_remoting::body::route::{perm, BrokerData, TopicRouteData, MASTER_ID};
use ferromq_remoting::headers::route::GetRouteInfoRequestHeader;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::error::ClientError;
use crate::message::MessageQueue;
use crate::read_from::{Member, ReadFrom};
use crate::remote::{self, Remote};

/// The template topic brokers auto-create topics from.
pub const DEFAULT_TOPIC: &str = "TBW102";

/// One topic's route with its queues worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRoute {
    pub topic: String,
    pub data: TopicRouteData,
    /// Queues of brokers with a master (id 0) and write permission, by broker name then queue id.
    pub write_queues: Vec<MessageQueue>,
    /// Queues with read permission, sorted as Java sorts them for rebalancing.
    pub read_queues: Vec<MessageQueue>,
    /// Built from [`DEFAULT_TOPIC`]'s route because the topic does not exist yet; sending to it
    /// makes the broker create it.
    pub from_default_topic: bool,
}

impl TopicRoute {
    /// Works out the queues of `data`.
    #[must_use]
    pub fn new(topic: &str, data: TopicRouteData) -> Self {
        let has_master = |name: &str| {
            data.broker_datas
                .iter()
                .any(|b| b.broker_name == name && b.master_addr().is_some())
        };
        let mut queue_datas = data.queue_datas.clone();
        queue_datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        let mut write_queues = Vec::new();
        let mut read_queues = Vec::new();
        for qd in &queue_datas {
            if qd.perm & perm::WRITE != 0 && has_master(&qd.broker_name) {
                for id in 0..u32::try_from(qd.write_queue_nums).unwrap_or(0) {
                    write_queues.push(MessageQueue::new(topic, &qd.broker_name, id));
                }
            }
            if qd.perm & perm::READ != 0 {
                for id in 0..u32::try_from(qd.read_queue_nums).unwrap_or(0) {
                    read_queues.push(MessageQueue::new(topic, &qd.broker_name, id));
                }
            }
        }
        read_queues.sort();
        Self {
            topic: topic.to_owned(),
            data,
            write_queues,
            read_queues,
            from_default_topic: false,
        }
    }

    /// A publish route for a topic that does not exist yet, from the template topic's route: every
    /// broker's queue count is capped at `queue_nums` (the producer's `defaultTopicQueueNums`).
    #[must_use]
    pub fn from_default(topic: &str, mut template: TopicRouteData, queue_nums: i32) -> Self {
        for qd in &mut template.queue_datas {
            qd.read_queue_nums = qd.read_queue_nums.min(queue_nums);
            qd.write_queue_nums = qd.write_queue_nums.min(queue_nums);
        }
        let mut route = Self::new(topic, template);
        route.from_default_topic = true;
        route
    }
}

/// The route cache of one client. Cheap to clone; clones share the cache.
#[derive(Debug, Clone)]
pub struct Routes {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    namesrv_addrs: Vec<String>,
    /// Index of the name server that answered last.
    sticky: AtomicUsize,
    remote: Remote,
    timeout: Duration,
    topics: Mutex<HashMap<String, Arc<TopicRoute>>>,
    /// Broker name → its addresses, merged from every route fetched.
    brokers: Mutex<BTreeMap<String, BrokerData>>,
    /// Consumers: which member of each broker group to read from.
    read_from: ReadFrom,
}

impl Routes {
    pub(crate) fn new(namesrv_addrs: Vec<String>, remote: Remote, timeout: Duration) -> Self {
        let start = usize::try_from(crate::ids::random_u64() % 1024).unwrap_or(0);
        Self {
            inner: Arc::new(Inner {
                namesrv_addrs,
                sticky: AtomicUsize::new(start),
                remote,
                timeout,
                topics: Mutex::new(HashMap::new()),
                brokers: Mutex::new(BTreeMap::new()),
                read_from: ReadFrom::default(),
            }),
        }
    }

    #[must_use]
    pub fn namesrv_addrs(&self) -> &[String] {
        &self.inner.namesrv_addrs
    }

    /// Sends `cmd` to a name server, moving on to the next one on transport failures. Returns the
    /// response whatever its code, with the address that answered.
    pub(crate) async fn namesrv_call(
        &self,
        cmd: RemotingCommand,
    ) -> Result<(String, RemotingCommand), ClientError> {
        let addrs = &self.inner.namesrv_addrs;
        if addrs.is_empty() {
            return Err(ClientError::NoNameServer);
        }
        let start = self.inner.sticky.load(Ordering::Relaxed);
        let mut last = ClientError::NoNameServer;
        for i in 0..addrs.len() {
            let idx = (start + i) % addrs.len();
            let addr = &addrs[idx];
            match self
                .inner
                .remote
                .call(addr, cmd.clone(), self.inner.timeout)
                .await
            {
                Ok(resp) => {
                    self.inner.sticky.store(idx, Ordering::Relaxed);
                    return Ok((addr.clone(), resp));
                }
                Err(ClientError::Shutdown) => return Err(ClientError::Shutdown),
                Err(e) => {
                    debug!(namesrv = %addr, error = %e, "name server unreachable, trying the next");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Sends `cmd` to a name server; any code but SUCCESS is an error.
    pub(crate) async fn namesrv_call_ok(
        &self,
        cmd: RemotingCommand,
    ) -> Result<(String, RemotingCommand), ClientError> {
        let (addr, resp) = self.namesrv_call(cmd).await?;
        let resp = remote::expect_code(&addr, resp, &[ResponseCode::SUCCESS])?;
        Ok((addr, resp))
    }

    /// `GET_ROUTEINFO_BY_TOPIC`, uncached. TOPIC_NOT_EXIST is a [`ClientError::Server`].
    ///
    /// # Errors
    /// Transport failures of every name server, the name server's refusal, a malformed body.
    pub async fn fetch(&self, topic: &str) -> Result<TopicRouteData, ClientError> {
        let cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC).with_header(
            &GetRouteInfoRequestHeader {
                topic: topic.to_owned(),
                accept_standard_json_only: Some(true),
            },
        );
        let (addr, resp) = self.namesrv_call_ok(cmd).await?;
        remote::json_body(&addr, &resp)
    }

    /// Fetches `topic`'s route and caches it.
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch).
    pub async fn refresh(&self, topic: &str) -> Result<Arc<TopicRoute>, ClientError> {
        let data = self.fetch(topic).await?;
        Ok(self.install(TopicRoute::new(topic, data)))
    }

    fn install(&self, route: TopicRoute) -> Arc<TopicRoute> {
        {
            let mut brokers = self.inner.brokers.lock();
            for b in &route.data.broker_datas {
                brokers.insert(b.broker_name.clone(), b.clone());
            }
        }
        let route = Arc::new(route);
        self.inner
            .topics
            .lock()
            .insert(route.topic.clone(), route.clone());
        route
    }

    /// The cached route, fetched first if there is none.
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch).
    pub async fn route(&self, topic: &str) -> Result<Arc<TopicRoute>, ClientError> {
        match self.cached(topic) {
            Some(r) => Ok(r),
            None => self.refresh(topic).await,
        }
    }

    /// A route to produce to: the topic's own, or, when the name server does not know the topic,
    /// one built from [`DEFAULT_TOPIC`] so that the first send creates it (Java's behaviour).
    ///
    /// # Errors
    /// As [`fetch`](Self::fetch), for the template topic when the topic is unknown.
    pub async fn publish_route(
        &self,
        topic: &str,
        default_queue_nums: i32,
    ) -> Result<Arc<TopicRoute>, ClientError> {
        if let Some(r) = self.cached(topic) {
            return Ok(r);
        }
        self.refresh_publish(topic, default_queue_nums).await
    }

    async fn refresh_publish(
        &self,
        topic: &str,
        default_queue_nums: i32,
    ) -> Result<Arc<TopicRoute>, ClientError> {
        match self.refresh(topic).await {
            Err(e) if e.code() == Some(ResponseCode::TOPIC_NOT_EXIST) => {
                let template = self.fetch(DEFAULT_TOPIC).await?;
                Ok(self.install(TopicRoute::from_default(
                    topic,
                    template,
                    default_queue_nums,
                )))
            }
            other => other,
        }
    }

    /// The cached route.
    #[must_use]
    pub fn cached(&self, topic: &str) -> Option<Arc<TopicRoute>> {
        self.inner.topics.lock().get(topic).cloned()
    }

    /// Forgets a topic's route (the next use fetches it again).
    pub fn forget(&self, topic: &str) {
        self.inner.topics.lock().remove(topic);
    }

    /// Topics with a cached route.
    #[must_use]
    pub fn topics(&self) -> Vec<String> {
        self.inner.topics.lock().keys().cloned().collect()
    }

    /// Re-fetches every cached route. A route built from the template topic is replaced by the
    /// topic's own route once the name server knows it. Failures keep the old route.
    pub async fn refresh_all(&self) {
        let routes: Vec<Arc<TopicRoute>> = self.inner.topics.lock().values().cloned().collect();
        for r in routes {
            let result = if r.from_default_topic {
                match self.fetch(&r.topic).await {
                    Ok(data) => Ok(self.install(TopicRoute::new(&r.topic, data))),
                    Err(e) => Err(e),
                }
            } else {
                self.refresh(&r.topic).await
            };
            if let Err(e) = result {
                if !r.from_default_topic {
                    debug!(topic = %r.topic, error = %e, "route refresh failed; keeping the old route");
                }
            }
        }
    }

    /// Runs [`refresh_all`](Self::refresh_all) every `interval` until `token` is cancelled.
    pub(crate) async fn refresh_loop(self, interval: Duration, token: CancellationToken) {
        loop {
            tokio::select! {
                () = token.cancelled() => return,
                () = tokio::time::sleep(interval) => self.refresh_all().await,
            }
        }
    }

    /// The address of broker `broker_name`'s member `broker_id` (0 = master).
    #[must_use]
    pub fn broker_addr(&self, broker_name: &str, broker_id: i64) -> Option<String> {
        self.inner
            .brokers
            .lock()
            .get(broker_name)
            .and_then(|b| b.broker_addrs.get(&broker_id).cloned())
    }

    /// The master's address of `broker_name`.
    #[must_use]
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.broker_addr(broker_name, MASTER_ID)
    }

    /// The master's address of `broker_name`, refreshing `topic`'s route once when it is unknown.
    pub(crate) async fn find_master(
        &self,
        broker_name: &str,
        topic: &str,
    ) -> Result<String, ClientError> {
        if let Some(addr) = self.master_addr(broker_name) {
            return Ok(addr);
        }
        if let Err(e) = self.refresh(topic).await {
            warn!(%topic, error = %e, "route refresh failed");
        }
        self.master_addr(broker_name)
            .ok_or_else(|| ClientError::BrokerNotFound {
                broker_name: broker_name.to_owned(),
            })
    }

    pub(crate) fn read_from(&self) -> &ReadFrom {
        &self.inner.read_from
    }

    /// The member of group `broker_name` to talk to when `wanted` is preferred (see
    /// [`crate::read_from`]); with `only_wanted`, no other member.
    pub(crate) fn member(
        &self,
        broker_name: &str,
        wanted: i64,
        only_wanted: bool,
    ) -> Option<Member> {
        let brokers = self.inner.brokers.lock();
        let group = brokers.get(broker_name)?;
        self.inner
            .read_from
            .choose(&group.broker_addrs, wanted, only_wanted)
    }

    /// As [`member`](Self::member) with fallbacks allowed, refreshing `topic`'s route once when
    /// the group has no address.
    pub(crate) async fn find_member(
        &self,
        broker_name: &str,
        topic: &str,
        wanted: i64,
    ) -> Result<Member, ClientError> {
        if let Some(m) = self.member(broker_name, wanted, false) {
            return Ok(m);
        }
        if let Err(e) = self.refresh(topic).await {
            warn!(%topic, error = %e, "route refresh failed");
        }
        self.member(broker_name, wanted, false)
            .ok_or_else(|| ClientError::BrokerNotFound {
                broker_name: broker_name.to_owned(),
            })
    }

    /// Runs `call` against the member of group `broker_name` chosen for `wanted` (see
    /// [`find_member`](Self::find_member)); when that member cannot be reached, marks it so and
    /// runs `call` once more against another member of the group, if one is listed. Returns the
    /// member that answered with its answer.
    pub(crate) async fn call_member<T, F, Fut>(
        &self,
        broker_name: &str,
        topic: &str,
        wanted: i64,
        mut call: F,
    ) -> Result<(Member, T), ClientError>
    where
        F: FnMut(Member) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let first = self.find_member(broker_name, topic, wanted).await?;
        match call(first.clone()).await {
            Err(e) if crate::read_from::is_unreachable(&e) => {
                self.inner.read_from.mark_unreachable(&first.addr);
                let Some(other) = self
                    .member(broker_name, wanted, false)
                    .filter(|m| m.addr != first.addr)
                else {
                    return Err(e);
                };
                debug!(broker = %broker_name, from = %first.addr, to = %other.addr, error = %e, "broker unreachable; trying another member of its group");
                let answer = call(other.clone()).await?;
                Ok((other, answer))
            }
            result => result.map(|answer| (first, answer)),
        }
    }

    /// Every known broker address (masters only when `masters_only`), deduplicated.
    #[must_use]
    pub fn broker_addrs(&self, masters_only: bool) -> Vec<String> {
        let brokers = self.inner.brokers.lock();
        let mut out: Vec<String> = brokers
            .values()
            .flat_map(|b| {
                b.broker_addrs
                    .iter()
                    .filter(|(id, _)| !masters_only || **id == MASTER_ID)
                    .map(|(_, a)| a.clone())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_remoting::body::route::QueueData;

    fn broker(name: &str, addrs: &[(i64, &str)]) -> BrokerData {
        BrokerData {
            broker_name: name.into(),
            cluster: "c".into(),
            broker_addrs: addrs.iter().map(|(i, a)| (*i, (*a).to_owned())).collect(),
            ..BrokerData::default()
        }
    }

    fn queues(name: &str, perm: i32, read: i32, write: i32) -> QueueData {
        QueueData {
            broker_name: name.into(),
            perm,
            read_queue_nums: read,
            write_queue_nums: write,
            topic_sys_flag: 0,
        }
    }

    #[test]
    fn queues_follow_permissions_and_masters() {
        let data = TopicRouteData {
            broker_datas: vec![
                broker("b", &[(0, "h2:1")]),
                broker("a", &[(0, "h1:1"), (1, "h1s:1")]),
                broker("slave-only", &[(1, "h3:1")]),
                broker("ro", &[(0, "h4:1")]),
            ],
            queue_datas: vec![
                queues("b", 6, 1, 2),
                queues("a", 6, 2, 2),
                queues("slave-only", 6, 1, 1),
                queues("ro", perm::READ, 1, 3),
            ],
            ..TopicRouteData::default()
        };
        let r = TopicRoute::new("T", data);
        let w: Vec<String> = r.write_queues.iter().map(ToString::to_string).collect();
        assert_eq!(w, ["T@a#0", "T@a#1", "T@b#0", "T@b#1"]);
        let rd: Vec<String> = r.read_queues.iter().map(ToString::to_string).collect();
        assert_eq!(rd, ["T@a#0", "T@a#1", "T@b#0", "T@ro#0", "T@slave-only#0"]);
        assert!(!r.from_default_topic);
    }

    #[test]
    fn default_route_caps_queue_counts() {
        let data = TopicRouteData {
            broker_datas: vec![broker("a", &[(0, "h1:1")])],
            queue_datas: vec![queues("a", 7, 8, 8)],
            ..TopicRouteData::default()
        };
        let r = TopicRoute::from_default("New", data, 4);
        assert_eq!(r.write_queues.len(), 4);
        assert!(r.write_queues.iter().all(|q| q.topic == "New"));
        assert!(r.from_default_topic);
    }
}
