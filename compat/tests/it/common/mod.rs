//! Shared scaffolding of the rocketmq-client-rust scenarios: an in-process ferromq cluster behind
//! logging proxies, the client runtime the client requires, and small helpers to build, send and
//! record messages.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ferromq_compat::client::ClientHarness;
use ferromq_compat::cluster::{Cluster, ClusterOptions};
use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientResult, ClientRuntime, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus,
    ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQProducer, MessageListenerConcurrently,
    MessageListenerOrderly,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;

/// Generous: a debug build on two cores, and the client's own retry back-offs.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// What a scenario gets: the running cluster and the client runtime to build clients on.
pub struct Ctx {
    pub cluster: Cluster,
    pub runtime: Arc<ClientRuntime>,
}

impl Ctx {
    pub fn namesrv(&self) -> String {
        self.cluster.namesrv_addr()
    }

    /// A started producer of group `group`.
    pub async fn producer(&self, group: &str) -> anyhow::Result<DefaultMQProducer> {
        let mut producer = DefaultMQProducer::builder(self.runtime.clone())
            .producer_group(group.to_owned())
            .name_server_addr(self.namesrv())
            .send_msg_timeout(5_000)
            .build();
        producer
            .start()
            .await
            .map_err(|e| anyhow::anyhow!("producer.start: {e}"))?;
        Ok(producer)
    }
}

/// Runs `body` against a fresh cluster, on the client's runtime. On error the frames the proxies
/// saw are printed (the test harness shows them for failing tests only); the cluster and the
/// client runtime are shut down either way.
pub fn scenario<F>(name: &str, options: ClusterOptions, body: F) -> anyhow::Result<()>
where
    F: AsyncFnOnce(&mut Ctx) -> anyhow::Result<()>,
{
    ferromq_compat::init_tracing();
    let harness = ClientHarness::new(name)?;
    let runtime = harness.runtime();
    let result = harness.block_on(async move {
        let cluster = Cluster::start(options).await?;
        let mut ctx = Ctx { cluster, runtime };
        let result = body(&mut ctx).await;
        if result.is_err() {
            eprintln!(
                "---- wire log ----\n{}\n---- end ----",
                ctx.cluster.wire().dump()
            );
        }
        ctx.cluster.shutdown().await;
        result
    });
    for problem in harness.shutdown() {
        // The client's own shutdown trouble is not what these tests check.
        eprintln!("client shutdown report: {problem}");
    }
    result
}

/// A message with a tag, one key and a UTF-8 body.
pub fn message(topic: &str, tag: &str, key: &str, body: &str) -> Message {
    Message::builder()
        .topic(topic)
        .tags(tag)
        .key(key)
        .body_slice(body.as_bytes())
        .build_unchecked()
}

/// What a consumer got, reduced to what a user checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub body: String,
    pub tags: Option<String>,
    pub keys: Option<String>,
    pub topic: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub msg_id: String,
    pub reconsume_times: i32,
}

impl Received {
    pub fn of(m: &MessageExt) -> Self {
        Self {
            body: m
                .body()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            tags: m.get_tags().map(|t| t.to_string()),
            keys: m.get_keys().map(|k| k.to_string()),
            topic: m.topic().to_string(),
            queue_id: m.queue_id(),
            queue_offset: m.queue_offset(),
            msg_id: m.msg_id().to_string(),
            reconsume_times: m.reconsume_times(),
        }
    }
}

/// A concurrently-consuming push listener that records every message it is given.
#[derive(Clone, Default)]
pub struct Recorder {
    pub got: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    pub fn snapshot(&self) -> Vec<Received> {
        self.got.lock().clone()
    }

    pub fn bodies(&self) -> Vec<String> {
        self.got.lock().iter().map(|r| r.body.clone()).collect()
    }
}

impl MessageListenerConcurrently for Recorder {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let mut got = self.got.lock();
        got.extend(msgs.iter().map(|m| Received::of(m)));
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// The same recorder as an orderly listener: one queue's messages are given one at a time, in
/// queue order, after the broker granted this client the queue's lock.
impl MessageListenerOrderly for Recorder {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &mut ConsumeOrderlyContext,
    ) -> ClientResult<ConsumeOrderlyStatus> {
        let mut got = self.got.lock();
        got.extend(msgs.iter().map(|m| Received::of(m)));
        Ok(ConsumeOrderlyStatus::Success)
    }
}

/// Counts of each body; a body seen twice is a duplicate delivery.
pub fn body_counts(bodies: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for b in bodies {
        *counts.entry(b).or_insert(0) += 1;
    }
    counts
}

/// Checks that, per queue, offsets strictly increase in delivery order.
pub fn check_order_per_queue(got: &[Received]) -> anyhow::Result<()> {
    let mut last: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for r in got {
        let k = (r.topic.clone(), r.queue_id);
        if let Some(prev) = last.get(&k) {
            anyhow::ensure!(
                r.queue_offset > *prev,
                "queue {k:?}: offset {} delivered after {prev} ({})",
                r.queue_offset,
                r.body
            );
        }
        last.insert(k, r.queue_offset);
    }
    Ok(())
}

/// `ClientError` is not `std::error::Error + Send + Sync + 'static` in every variant's source;
/// this keeps the message and the call site.
pub trait ClientContext<T> {
    fn ctx(self, what: &str) -> anyhow::Result<T>;
}

impl<T, E: std::fmt::Display> ClientContext<T> for Result<T, E> {
    fn ctx(self, what: &str) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{what}: {e}"))
    }
}

/// `tokio::time::timeout` with a readable error.
pub async fn within<T>(
    what: &str,
    limit: Duration,
    fut: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .with_context(|| format!("{what}: no answer within {limit:?}"))
}
