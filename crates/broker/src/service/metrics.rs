//! What a metrics scraper and a readiness probe read: counters since start, and gauges (lag,
//! in-flight POP deliveries, storage positions) computed from the broker's state at the moment of
//! the call, so nothing is done per message for them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::BrokerService;
use crate::config::BrokerRole;
use crate::meters::{GroupCounts, TopicCounts};
pub use ferromq_store::flush_stats::{FlushStatsSnapshot, HistogramSnapshot};

/// Who this broker is, for the labels every series carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
    pub role: BrokerRole,
}

/// Why a broker is not ready to serve, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// It has name servers and has not yet registered with all of them.
    NotRegistered,
    /// Controller mode, and no controller has told it its role yet.
    RoleUnknown,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotRegistered => "not registered with every name server yet",
            Self::RoleUnknown => "role not assigned by the controllers yet",
        })
    }
}

/// One consumer group's position in one queue, with what is left behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueLag {
    pub group: String,
    pub topic: String,
    pub queue_id: u32,
    /// Messages stored past the group's committed offset.
    pub lag_messages: u64,
    /// How long the oldest of them has been stored, in milliseconds (0 with no lag).
    pub lag_ms: u64,
    /// POP deliveries handed out and neither acked nor expired.
    pub inflight: u64,
    /// How long the oldest message waiting for delivery has been stored, in milliseconds (0 with
    /// none): for a POP group the first never popped or whose invisible time passed; for a pull
    /// group the first past its committed offset (the broker does not keep what a pull consumer
    /// fetched but has not committed yet).
    pub queueing_ms: u64,
}

/// Where the store is: log positions in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageInfo {
    /// Bytes the commit log holds (its end less the oldest offset kept).
    pub log_bytes: u64,
    /// Written bytes not yet on disk.
    pub flush_behind: u64,
    /// Written bytes not yet in the consume queues (not yet readable by consumers).
    pub dispatch_behind: u64,
}

/// How far one replica of this master is behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLag {
    /// The replica's address as the master sees its connection (its last one when disconnected).
    pub addr: String,
    /// Its `brokerId`, when it said (controller mode).
    pub broker_id: Option<i64>,
    /// The master's written offset less what the replica acknowledged.
    pub lag_bytes: u64,
    /// How long the oldest message the replica does not have has been stored, in milliseconds
    /// (0 with no lag).
    pub lag_ms: u64,
    pub connected: bool,
    pub in_sync: bool,
}

/// The timer wheel's counters, and how far its intake is behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerInfo {
    pub counts: crate::schedule::TimerCounts,
    /// Timer messages stored and not yet taken into the wheel.
    pub enqueue_lag: u64,
}

/// Everything a scrape reads, at one moment.
#[derive(Debug, Clone)]
pub struct MetricsSnapshot {
    pub node: NodeInfo,
    pub topics: Vec<TopicCounts>,
    pub groups: Vec<GroupCounts>,
    pub lags: Vec<QueueLag>,
    pub storage: StorageInfo,
    /// A master's replicas, connected or gone (empty on a replica).
    pub replicas: Vec<ReplicaLag>,
    /// Half messages, commits and rollbacks per real topic.
    pub transactions: Vec<crate::transaction::meters::TransactionCounts>,
    /// `None` when the timer wheel is off.
    pub timer: Option<TimerInfo>,
    /// Group-commit batch sizes and sync durations of the commit log.
    pub flush: FlushStatsSnapshot,
    /// v5 (gRPC) unary call latencies by method and answer.
    pub grpc: Vec<crate::rpc_latency::GrpcCounts>,
    /// Remoting answer latencies by request and response code.
    pub rpc: Vec<crate::rpc_latency::RpcCounts>,
    /// Message type of each topic (its `message.type` attribute, `NORMAL` without one).
    pub message_types: BTreeMap<String, String>,
}

impl BrokerService {
    /// `Ok` when the broker serves: registered with every name server it has (none: nothing to
    /// wait for), its store recovered (always, once started) and its role known.
    ///
    /// # Errors
    /// The first reason it is not ready.
    pub fn readiness(&self) -> Result<(), NotReady> {
        let s = &self.state;
        if !s.config.namesrv_addrs.is_empty() && s.stats.registered_ms.load(Ordering::Relaxed) == 0
        {
            return Err(NotReady::NotRegistered);
        }
        if s.role.is_controlled() && s.role.epoch() == 0 {
            return Err(NotReady::RoleUnknown);
        }
        Ok(())
    }

    /// Counts one v5 (gRPC) call of `method` answered `answer` after `micros`: the gRPC adapter
    /// times its calls, the histograms live with the broker's other statistics.
    pub fn record_grpc_latency(
        &self,
        method: &'static str,
        answer: crate::rpc_latency::GrpcAnswer,
        micros: u64,
    ) {
        self.state.stats.grpc.record(method, answer, micros);
    }

    /// The counters and gauges of this broker now.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        let s = &self.state;
        let written = s.store.written_offset();
        let topics = s.stats.meters.topic_counts();
        let message_types = topics
            .iter()
            .map(|t| {
                let kind = s
                    .topics
                    .get(&t.topic)
                    .and_then(|c| c.attributes.get(super::MESSAGE_TYPE_ATTRIBUTE).cloned())
                    .unwrap_or_else(|| "NORMAL".to_owned());
                (t.topic.clone(), kind.to_ascii_uppercase())
            })
            .collect();
        MetricsSnapshot {
            node: NodeInfo {
                cluster: s.config.cluster_name.clone(),
                broker_name: s.config.broker_name.clone(),
                broker_id: s.config.broker_id,
                role: s.role.current(),
            },
            topics,
            groups: s.stats.meters.group_counts(),
            lags: self.queue_lags(),
            storage: StorageInfo {
                log_bytes: written.saturating_sub(s.store.min_physical_offset()),
                flush_behind: written.saturating_sub(s.store.flushed_offset()),
                dispatch_behind: written.saturating_sub(s.store.dispatched_offset()),
            },
            replicas: self.replica_lags(written),
            flush: s.store.flush_stats(),
            transactions: s.stats.transactions.counts(),
            timer: s.schedule.timer_enabled.then(|| {
                let counts = s.schedule.timer_meters.counts();
                let stored = s.store.max_queue_offset(crate::schedule::TIMER_TOPIC, 0);
                TimerInfo {
                    counts,
                    enqueue_lag: stored.saturating_sub(counts.enqueue_offset),
                }
            }),
            rpc: s.stats.rpc.counts(),
            grpc: s.stats.grpc.counts(),
            message_types,
        }
    }

    /// Every replica's lag behind `written`, this master's written offset; none unless master.
    fn replica_lags(&self, written: u64) -> Vec<ReplicaLag> {
        let s = &self.state;
        if !s.role.is_master() {
            return Vec::new();
        }
        let acks = &s.replication.acks;
        let connected = acks
            .replicas(written)
            .into_iter()
            .map(|r| (r.addr, r.broker_id, r.acked, true, r.in_sync));
        let departed = acks
            .departed()
            .into_iter()
            .map(|r| (r.addr, r.broker_id, r.acked, false, false));
        let now = u64::try_from(crate::topics::now_ms()).unwrap_or(0);
        connected
            .chain(departed)
            .map(|(addr, broker_id, acked, connected, in_sync)| {
                let lag_bytes = written.saturating_sub(acked);
                let lag_ms = if lag_bytes == 0 {
                    0
                } else {
                    self.stored_at(acked).map_or(0, |t| now.saturating_sub(t))
                };
                ReplicaLag {
                    addr: addr.to_string(),
                    broker_id,
                    lag_bytes,
                    lag_ms,
                    connected,
                    in_sync,
                }
            })
            .collect()
    }

    /// When the first message at or after commit-log `offset` (an entry boundary) was stored.
    fn stored_at(&self, offset: u64) -> Option<u64> {
        let store = &self.state.store;
        let mut at = offset;
        // At most a segment's end marker, then the next segment's first record.
        for _ in 0..2 {
            let (bytes, next) = store.replication_chunk(at, 1).ok()?;
            match ferromq_model::record::read(&bytes, false).ok()? {
                ferromq_model::record::Entry::Message(m) => {
                    return u64::try_from(m.store_timestamp).ok();
                }
                ferromq_model::record::Entry::Blank { .. } => at = next,
            }
        }
        None
    }

    /// Lag of every (group, topic, queue) with a committed offset: pull groups commit theirs, POP
    /// groups have theirs committed by the broker as acks arrive, so both show up the same way.
    /// Sorted by group, topic, queue.
    fn queue_lags(&self) -> Vec<QueueLag> {
        let s = &self.state;
        let now = u64::try_from(crate::topics::now_ms()).unwrap_or(0);
        let mut positions: BTreeMap<(String, String, u32), u64> = s
            .offsets
            .all_committed()
            .into_iter()
            .map(|(topic, group, queue, offset)| ((group, topic, queue), offset))
            .collect();
        // A POP group that has not acked yet has no committed offset: its start is the leases'.
        for (key, q) in s.pop.all() {
            let committed = q.lock().committed;
            positions.entry(key).or_insert(committed);
        }
        positions
            .into_iter()
            .map(|((group, topic, queue_id), committed)| {
                let max = s.store.max_queue_offset(&topic, queue_id);
                let lag_messages = max.saturating_sub(committed);
                // How long the message at `offset` has been stored (0 past the end).
                let age = |offset: u64| {
                    if offset >= max {
                        return 0;
                    }
                    s.store
                        .message_store_time(&topic, queue_id, offset)
                        .ok()
                        .flatten()
                        .and_then(|t| u64::try_from(t).ok())
                        .map_or(0, |t| now.saturating_sub(t))
                };
                let lag_ms = age(committed);
                let key = (group.clone(), topic.clone(), queue_id);
                let (inflight, ready_from) = s.pop.existing(&key).map_or((0, committed), |q| {
                    let q = q.lock();
                    // Deliveries whose invisible time passed wait for delivery again too.
                    let first = q.expired(now).next().map_or(q.next, |(o, _)| o.min(q.next));
                    (q.leases.len() as u64, first.max(committed))
                });
                let queueing_ms = if ready_from == committed {
                    lag_ms
                } else {
                    age(ready_from)
                };
                QueueLag {
                    group,
                    topic,
                    queue_id,
                    lag_messages,
                    lag_ms,
                    inflight,
                    queueing_ms,
                }
            })
            .collect()
    }
}
