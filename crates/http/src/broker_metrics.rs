//! A broker's metrics in RocketMQ 5's names and labels (`BrokerMetricsConstant`,
//! `DefaultStoreMetricsConstant`), plus the `ferromq_*` series Apache has no equivalent for.
//! `docs/observability.md` lists every one.

use std::collections::BTreeMap;

use ferromq_broker::meters::SIZE_BUCKETS;
use ferromq_broker::rpc_latency::{GrpcAnswer, LATENCY_BUCKETS_MS};
use ferromq_broker::service::{HistogramSnapshot, MetricsSnapshot, QueueLag, ReplicaLag};
use ferromq_broker::BrokerRole;

use crate::exposition::{Exposition, Kind};

const RETRY_PREFIX: &str = "%RETRY%";
const DLQ_PREFIX: &str = "%DLQ%";

/// Apache's `is_system`: topics the broker itself writes to.
fn is_system(topic: &str) -> bool {
    topic.starts_with("rmq_sys_")
        || topic.starts_with("SCHEDULE_TOPIC")
        || topic.starts_with("RMQ_SYS_")
        || topic == "TBW102"
}

fn flag(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn role_name(role: BrokerRole) -> &'static str {
    match role {
        BrokerRole::AsyncMaster => "ASYNC_MASTER",
        BrokerRole::SyncMaster => "SYNC_MASTER",
        BrokerRole::Slave => "SLAVE",
    }
}

#[allow(clippy::cast_precision_loss)] // counters stay far below 2^53
fn f(v: u64) -> f64 {
    v as f64
}

/// Writes every broker family of `m` into `e`.
pub fn write(e: &mut Exposition, m: &MetricsSnapshot) {
    let node = [
        ("cluster", m.node.cluster.as_str()),
        ("node_type", "broker"),
        ("node_id", m.node.broker_name.as_str()),
    ];
    let id = m.node.broker_id.to_string();
    e.family(
        "ferromq_broker_info",
        "Always 1: the broker's id and current role as labels.",
        Kind::Gauge,
    );
    e.sample(
        "ferromq_broker_info",
        &[
            node[0],
            node[1],
            node[2],
            ("broker_id", &id),
            ("role", role_name(m.node.role)),
        ],
        1.0,
    );
    write_in(e, &node, m);
    write_out(e, &node, m);
    write_lag(e, &node, &m.lags);
    write_storage(e, &node, m);
    write_replication(e, &node, &m.replicas);
    write_transactions(e, &node, m);
    write_timer(e, &node, m);
    write_rpc(e, &node, m);
}

fn write_rpc(e: &mut Exposition, node: &[(&str, &str); 3], m: &MetricsSnapshot) {
    e.family(
        "rocketmq_rpc_latency",
        "Time to answer a request, in milliseconds: remoting by request and response code, gRPC by method and v5 status code.",
        Kind::Histogram,
    );
    let bounds: Vec<f64> = LATENCY_BUCKETS_MS.iter().map(|&b| f(b)).collect();
    for c in &m.rpc {
        let (request, response) = (c.request_code.to_string(), c.response_code.to_string());
        e.histogram(
            "rocketmq_rpc_latency",
            &[
                node[0],
                node[1],
                node[2],
                ("protocol_type", "remoting"),
                ("request_code", &request),
                ("response_code", &response),
            ],
            &bounds,
            &c.buckets,
            f(c.sum_us) / 1000.0,
        );
    }
    for c in &m.grpc {
        let response = match c.answer {
            GrpcAnswer::Code(code) => code.to_string(),
            GrpcAnswer::Transport(code) => format!("grpc_{code}"),
        };
        e.histogram(
            "rocketmq_rpc_latency",
            &[
                node[0],
                node[1],
                node[2],
                ("protocol_type", "grpc"),
                ("request_code", c.method),
                ("response_code", &response),
            ],
            &bounds,
            &c.buckets,
            f(c.sum_us) / 1000.0,
        );
    }
}

fn in_labels<'a>(
    node: &[(&'a str, &'a str); 3],
    m: &'a MetricsSnapshot,
    topic: &'a str,
) -> [(&'a str, &'a str); 6] {
    let kind = m.message_types.get(topic).map_or("NORMAL", String::as_str);
    [
        node[0],
        node[1],
        node[2],
        ("topic", topic),
        ("message_type", kind),
        ("is_system", flag(is_system(topic))),
    ]
}

fn write_in<'a>(e: &mut Exposition, node: &[(&'a str, &'a str); 3], m: &'a MetricsSnapshot) {
    let series = |topic| in_labels(node, m, topic);
    e.family(
        "rocketmq_messages_in_total",
        "Messages stored, by topic.",
        Kind::Counter,
    );
    for t in &m.topics {
        e.sample(
            "rocketmq_messages_in_total",
            &series(&t.topic),
            f(t.messages),
        );
    }
    e.family(
        "rocketmq_throughput_in_total",
        "Bytes of messages stored (as stored, headers included), by topic.",
        Kind::Counter,
    );
    for t in &m.topics {
        e.sample(
            "rocketmq_throughput_in_total",
            &series(&t.topic),
            f(t.bytes),
        );
    }
    e.family(
        "rocketmq_message_size",
        "Sizes of the messages stored, in bytes, by topic.",
        Kind::Histogram,
    );
    let bounds: Vec<f64> = SIZE_BUCKETS.iter().map(|&b| f(b)).collect();
    for t in &m.topics {
        e.histogram(
            "rocketmq_message_size",
            &series(&t.topic),
            &bounds,
            &t.size_buckets,
            f(t.bytes),
        );
    }
    e.family(
        "rocketmq_send_to_dlq_messages_total",
        "Messages moved to a group's dead-letter queue after their last retry.",
        Kind::Counter,
    );
    for t in &m.topics {
        if let Some(group) = t.topic.strip_prefix(DLQ_PREFIX) {
            e.sample(
                "rocketmq_send_to_dlq_messages_total",
                &[node[0], node[1], node[2], ("consumer_group", group)],
                f(t.messages),
            );
        }
    }
}

fn write_out(e: &mut Exposition, node: &[(&str, &str); 3], m: &MetricsSnapshot) {
    for (name, help, bytes) in [
        (
            "rocketmq_messages_out_total",
            "Messages delivered to consumers (pull and POP, both protocols), by topic and group.",
            false,
        ),
        (
            "rocketmq_throughput_out_total",
            "Bytes of messages delivered to consumers, by topic and group.",
            true,
        ),
    ] {
        e.family(name, help, Kind::Counter);
        for g in &m.groups {
            e.sample(
                name,
                &[
                    node[0],
                    node[1],
                    node[2],
                    ("topic", &g.topic),
                    ("consumer_group", &g.group),
                    ("is_retry", flag(g.topic.starts_with(RETRY_PREFIX))),
                    ("is_system", flag(is_system(&g.topic))),
                ],
                f(if bytes { g.bytes } else { g.messages }),
            );
        }
    }
}

/// A family written from one value per item: name, help, the value.
type Family<T, V> = (&'static str, &'static str, fn(&T) -> V);

/// Per (topic, group) sums of the per-queue lags, as Apache reports them, then the per-queue
/// series Apache lacks.
fn write_lag(e: &mut Exposition, node: &[(&str, &str); 3], lags: &[QueueLag]) {
    #[derive(Default)]
    struct Sum {
        lag: u64,
        oldest_ms: u64,
        inflight: u64,
        queueing_ms: u64,
    }
    let mut sums: BTreeMap<(&str, &str), Sum> = BTreeMap::new();
    for l in lags {
        let s = sums.entry((&l.topic, &l.group)).or_default();
        s.lag += l.lag_messages;
        s.oldest_ms = s.oldest_ms.max(l.lag_ms);
        s.inflight += l.inflight;
        s.queueing_ms = s.queueing_ms.max(l.queueing_ms);
    }
    let families: [Family<Sum, u64>; 5] = [
        (
            "rocketmq_consumer_lag_messages",
            "Messages stored and not yet acknowledged (committed) by the group, by topic.",
            |s| s.lag,
        ),
        (
            "rocketmq_consumer_lag_latency",
            "Age in milliseconds of the oldest message the group has not acknowledged, by topic.",
            |s| s.oldest_ms,
        ),
        (
            "rocketmq_consumer_inflight_messages",
            "Messages delivered by POP and neither acknowledged nor expired yet.",
            |s| s.inflight,
        ),
        (
            "rocketmq_consumer_ready_messages",
            "Messages waiting to be delivered to the group: the lag less those in flight.",
            |s| s.lag.saturating_sub(s.inflight),
        ),
        (
            "rocketmq_consumer_queueing_latency",
            "Age in milliseconds of the oldest message waiting to be delivered to the group (for POP \
             groups the first never popped or whose invisible time passed, for pull groups the first past \
             the committed offset), \
             by topic.",
            |s| s.queueing_ms,
        ),
    ];
    for (name, help, value) in families {
        e.family(name, help, Kind::Gauge);
        for ((topic, group), s) in &sums {
            e.sample(
                name,
                &[
                    node[0],
                    node[1],
                    node[2],
                    ("topic", topic),
                    ("consumer_group", group),
                    ("is_retry", flag(topic.starts_with(RETRY_PREFIX))),
                ],
                f(value(s)),
            );
        }
    }
    let per_queue: [Family<QueueLag, f64>; 2] = [
        (
            "ferromq_consumer_queue_lag_messages",
            "Messages past the group's committed offset in one queue.",
            |l| f(l.lag_messages),
        ),
        (
            "ferromq_consumer_queue_lag_seconds",
            "Age in seconds of the oldest message past the group's committed offset in one queue.",
            |l| f(l.lag_ms) / 1000.0,
        ),
    ];
    for (name, help, value) in per_queue {
        e.family(name, help, Kind::Gauge);
        for l in lags {
            let queue = l.queue_id.to_string();
            e.sample(
                name,
                &[
                    node[0],
                    node[1],
                    node[2],
                    ("topic", &l.topic),
                    ("consumer_group", &l.group),
                    ("queue_id", &queue),
                ],
                value(l),
            );
        }
    }
}

/// Transactions per real topic, as Apache's `BrokerMetricsConstant` names them.
fn write_transactions(e: &mut Exposition, node: &[(&str, &str); 3], m: &MetricsSnapshot) {
    type Tx = ferromq_broker::transaction::meters::TransactionCounts;
    type TxFamily = (&'static str, &'static str, Kind, fn(&Tx) -> u64);
    let families: [TxFamily; 3] = [
        (
            "rocketmq_half_messages",
            "Half (prepared) messages stored since start and not yet committed, rolled back or discarded, by real topic.",
            Kind::Gauge,
            |t| t.half,
        ),
        (
            "rocketmq_commit_messages_total",
            "Transactional messages committed, by real topic.",
            Kind::Counter,
            |t| t.committed,
        ),
        (
            "rocketmq_rollback_messages_total",
            "Transactional messages rolled back, by real topic.",
            Kind::Counter,
            |t| t.rolled_back,
        ),
    ];
    for (name, help, kind, value) in families {
        e.family(name, help, kind);
        for t in &m.transactions {
            e.sample(
                name,
                &[node[0], node[1], node[2], ("topic", &t.topic)],
                f(value(t)),
            );
        }
    }
}

/// The timer wheel, as Apache's `DefaultStoreMetricsConstant` names it; nothing when it is off.
fn write_timer(e: &mut Exposition, node: &[(&str, &str); 3], m: &MetricsSnapshot) {
    let Some(t) = m.timer else { return };
    for (name, help, kind, v) in [
        (
            "rocketmq_timer_enqueue_total",
            "Timer messages taken into the timing wheel.",
            Kind::Counter,
            t.counts.enqueued,
        ),
        (
            "rocketmq_timer_dequeue_total",
            "Timer messages delivered to their topic when their time came.",
            Kind::Counter,
            t.counts.dequeued,
        ),
        (
            "rocketmq_timing_messages",
            "Timer messages in the wheel waiting for their time.",
            Kind::Gauge,
            t.counts.timing,
        ),
        (
            "rocketmq_timer_enqueue_lag",
            "Timer messages stored and not yet taken into the wheel.",
            Kind::Gauge,
            t.enqueue_lag,
        ),
    ] {
        e.family(name, help, kind);
        e.sample(name, node, f(v));
    }
}

/// A master's replicas: one series each, labelled with its address and (controller mode) broker id.
fn write_replication(e: &mut Exposition, node: &[(&str, &str); 3], replicas: &[ReplicaLag]) {
    let families: [Family<ReplicaLag, f64>; 4] = [
        (
            "ferromq_replication_lag_bytes",
            "Bytes of commit log the master has written and the replica has not acknowledged.",
            |r| f(r.lag_bytes),
        ),
        (
            "ferromq_replication_lag_seconds",
            "Age in seconds of the oldest message the replica does not have (0 when caught up).",
            |r| f(r.lag_ms) / 1000.0,
        ),
        (
            "ferromq_replication_replica_connected",
            "1 while the replica's connection is up, 0 once it left (its lag keeps growing).",
            |r| f(u64::from(r.connected)),
        ),
        (
            "ferromq_replication_replica_in_sync",
            "1 when the replica counts towards SYNC_MASTER acknowledgements (connected, reporting, close enough).",
            |r| f(u64::from(r.in_sync)),
        ),
    ];
    let ids: Vec<String> = replicas
        .iter()
        .map(|r| r.broker_id.map(|id| id.to_string()).unwrap_or_default())
        .collect();
    for (name, help, value) in families {
        e.family(name, help, Kind::Gauge);
        for (r, id) in replicas.iter().zip(&ids) {
            e.sample(
                name,
                &[
                    node[0],
                    node[1],
                    node[2],
                    ("replica_addr", &r.addr),
                    ("replica_id", id),
                ],
                value(r),
            );
        }
    }
}

fn write_storage(e: &mut Exposition, node: &[(&str, &str); 3], m: &MetricsSnapshot) {
    let labels = [
        node[0],
        node[1],
        node[2],
        ("storage_type", "local"),
        ("storage_medium", "disk"),
    ];
    for (name, help, v) in [
        (
            "rocketmq_storage_size",
            "Bytes held by the commit log.",
            m.storage.log_bytes,
        ),
        (
            "rocketmq_storage_flush_behind_bytes",
            "Bytes written to the commit log and not yet flushed to disk.",
            m.storage.flush_behind,
        ),
        (
            "rocketmq_storage_dispatch_behind_bytes",
            "Bytes written to the commit log and not yet in the consume queues.",
            m.storage.dispatch_behind,
        ),
    ] {
        e.family(name, help, Kind::Gauge);
        e.sample(name, &labels, f(v));
    }
    let flush = &m.flush;
    for (name, help, h, per_unit) in [
        (
            "ferromq_storage_flush_batch_messages",
            "SYNC_FLUSH: messages made durable by one group-commit sync, counting those whose send waited for it.",
            &flush.batch_messages,
            1.0,
        ),
        (
            "ferromq_storage_flush_batch_bytes",
            "Bytes of commit log made durable by one sync.",
            &flush.batch_bytes,
            1.0,
        ),
        (
            "ferromq_storage_fsync_seconds",
            "Duration of one commit-log sync (fdatasync), in seconds.",
            &flush.fsync_micros,
            1e6,
        ),
    ] {
        e.family(name, help, Kind::Histogram);
        histogram(e, name, &labels, h, per_unit);
    }
}

/// Writes `h` with its bounds and sum divided by `per_unit` (microseconds to seconds: 1e6).
fn histogram(
    e: &mut Exposition,
    name: &str,
    labels: &[(&str, &str)],
    h: &HistogramSnapshot,
    per_unit: f64,
) {
    // Division, not a multiplication by the inverse: 50 / 1e6 prints as 0.00005.
    let bounds: Vec<f64> = h.bounds.iter().map(|&b| f(b) / per_unit).collect();
    e.histogram(name, labels, &bounds, &h.counts, f(h.sum) / per_unit);
}
