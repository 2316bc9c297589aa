//! The HTTP listener against a real broker: counters match the traffic exactly, lag per queue is
//! what is left, the whole exposition is well formed, probes answer, unknown paths are 404.

use crate::common;

use common::{get, parse_exposition, value};
use ferromq_client::consumer::pull::{PullConsumer, PullConsumerConfig};
use ferromq_client::{Message, Producer, ProducerConfig};
use ferromq_http::{HttpServer, Target};
use ferromq_testkit::TestCluster;

async fn start_http(cluster: &TestCluster) -> ferromq_http::HttpHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    HttpServer::start(listener, Target::Broker(cluster.broker().service())).expect("http starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_lag_match_the_traffic_exactly() {
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    let broker_name = cluster.broker_config(0).broker_name.clone();
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    // Two topics, created by their first send; every message in that send's queue, so the lag
    // per queue is known exactly.
    let sent = [("MetricsA", 10u64), ("MetricsB", 7u64)];
    let mut queues = Vec::new();
    for (topic, n) in sent {
        let first = producer
            .send(Message::new(topic, format!("{topic}-0")))
            .await
            .expect("send");
        for i in 1..n {
            producer
                .send_to_queue(Message::new(topic, format!("{topic}-{i}")), &first.queue)
                .await
                .expect("send");
        }
        queues.push(first.queue);
    }
    assert!(
        cluster
            .broker()
            .wait_readable(std::time::Duration::from_secs(10))
            .await
    );

    // Group g1 consumes 4 of A and 3 of B, and commits that.
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        group: "g1".to_owned(),
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    let consumed = [("MetricsA", 4u64), ("MetricsB", 3u64)];
    for ((topic, n), mq) in consumed.into_iter().zip(&queues) {
        let got = consumer
            .pull(mq, 0, u32::try_from(n).expect("small"), "*")
            .await
            .expect("pull");
        let bodies: Vec<String> = got
            .messages
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect();
        let want: Vec<String> = (0..n).map(|i| format!("{topic}-{i}")).collect();
        assert_eq!(bodies, want);
        consumer
            .commit_offset("g1", mq, got.next_offset)
            .await
            .expect("commit");
    }

    let (status, headers, body) = get(http.local_addr(), "/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let samples = parse_exposition(&body);
    let node = ("node_id", broker_name.as_str());
    for (((topic, n), (_, out)), mq) in sent.iter().zip(consumed).zip(&queues) {
        let t = ("topic", *topic);
        let queue_id = mq.queue_id.to_string();
        let q = ("queue_id", queue_id.as_str());
        let g = ("consumer_group", "g1");
        #[allow(clippy::cast_precision_loss)]
        let (n, out) = (*n as f64, out as f64);
        assert_eq!(value(&samples, "rocketmq_messages_in_total", &[node, t]), n);
        assert_eq!(
            value(&samples, "rocketmq_message_size_count", &[node, t]),
            n
        );
        let bytes_in = value(&samples, "rocketmq_throughput_in_total", &[node, t]);
        assert!(bytes_in > 0.0);
        assert_eq!(value(&samples, "rocketmq_message_size_sum", &[t]), bytes_in);
        assert_eq!(
            value(&samples, "rocketmq_messages_out_total", &[node, t, g]),
            out
        );
        assert!(value(&samples, "rocketmq_throughput_out_total", &[t, g]) > 0.0);
        assert_eq!(
            value(&samples, "rocketmq_consumer_lag_messages", &[t, g]),
            n - out
        );
        assert_eq!(
            value(&samples, "rocketmq_consumer_ready_messages", &[t, g]),
            n - out
        );
        assert_eq!(
            value(&samples, "rocketmq_consumer_inflight_messages", &[t, g]),
            0.0
        );
        // A pull group waits from its committed offset: its queueing latency is its lag latency.
        assert_eq!(
            value(&samples, "rocketmq_consumer_queueing_latency", &[t, g]),
            value(&samples, "rocketmq_consumer_lag_latency", &[t, g])
        );
        assert_eq!(
            value(&samples, "ferromq_consumer_queue_lag_messages", &[t, g, q]),
            n - out
        );
        assert!(value(&samples, "ferromq_consumer_queue_lag_seconds", &[t, g, q]) >= 0.0);
    }
    // Only the queues the group committed in have a lag series.
    let lag_series = samples
        .keys()
        .filter(|(n, _)| n == "ferromq_consumer_queue_lag_messages")
        .count();
    assert_eq!(lag_series, 2);
    assert_eq!(
        value(&samples, "rocketmq_storage_dispatch_behind_bytes", &[node]),
        0.0
    );
    assert!(value(&samples, "rocketmq_storage_size", &[node]) > 0.0);
    assert!(value(&samples, "process_resident_memory_bytes", &[]) > 0.0);
    // Every send (code 310, SEND_MESSAGE_V2) was answered SUCCESS (0) and timed.
    let sends = value(
        &samples,
        "rocketmq_rpc_latency_count",
        &[("request_code", "310"), ("response_code", "0")],
    );
    assert_eq!(sends, 17.0);

    consumer.shutdown().await;
    producer.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_and_unknown_paths_are_not_found() {
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    let addr = http.local_addr();
    assert_eq!(get(addr, "/healthz").await.0, 200);
    // The cluster starts once the broker is registered: ready at once.
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    let (status, _, body) = get(addr, "/nope").await;
    assert_eq!(status, 404);
    assert!(body.contains("/metrics"), "{body}");
    assert_eq!(get(addr, "/metrics/extra").await.0, 404);
    // An empty broker's exposition is well formed too (families with no series).
    let (status, _, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    parse_exposition(&body);
    http.shutdown().await;
    cluster.shutdown().await;
}

/// POP over remoting, with the headers a Java 5.x client sends.
async fn pop(c: &ferromq_net::Client, group: &str, topic: &str, max: i32) -> usize {
    use ferromq_remoting::headers::pop::PopMessageRequestHeader;
    use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
    let req =
        RemotingCommand::request(RequestCode::POP_MESSAGE).with_header(&PopMessageRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: -1,
            max_msg_nums: max,
            invisible_time: 60_000,
            poll_time: 5_000,
            born_time: 0,
            init_mode: 0,
            exp_type: Some("TAG".into()),
            exp: Some("*".into()),
            order: Some(false),
            attempt_id: None,
        });
    let resp = c
        .request(req, std::time::Duration::from_secs(15))
        .await
        .expect("pop answered");
    match resp.response_code() {
        ResponseCode::SUCCESS => {}
        ResponseCode::PULL_NOT_FOUND | ResponseCode::POLLING_TIMEOUT => return 0,
        other => panic!("pop answered {other:?}: {resp:?}"),
    }
    ferromq_remoting::body::records::decode(resp.body.as_deref().expect("records"), true)
        .expect("valid records")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_deliveries_count_out_and_in_flight() {
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    let topic = "MetricsPop";
    let first = producer
        .send(Message::new(topic, "p-0"))
        .await
        .expect("send");
    for i in 1..5 {
        producer
            .send_to_queue(Message::new(topic, format!("p-{i}")), &first.queue)
            .await
            .expect("send");
    }
    let c = cluster.broker_client().await;
    let mut popped = 0;
    while popped < 3 {
        popped += pop(&c, "pg", topic, 3 - i32::try_from(popped).expect("small")).await;
    }
    assert_eq!(popped, 3);

    let (status, _, body) = get(http.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    let t = ("topic", topic);
    let g = ("consumer_group", "pg");
    assert_eq!(value(&samples, "rocketmq_messages_in_total", &[t]), 5.0);
    assert_eq!(value(&samples, "rocketmq_messages_out_total", &[t, g]), 3.0);
    // Nothing acked: all five are lag, three of them in flight, two ready.
    assert_eq!(
        value(&samples, "rocketmq_consumer_lag_messages", &[t, g]),
        5.0
    );
    assert_eq!(
        value(&samples, "rocketmq_consumer_inflight_messages", &[t, g]),
        3.0
    );
    assert_eq!(
        value(&samples, "rocketmq_consumer_ready_messages", &[t, g]),
        2.0
    );
    let queue_id = first.queue.queue_id.to_string();
    assert_eq!(
        value(
            &samples,
            "ferromq_consumer_queue_lag_messages",
            &[t, g, ("queue_id", &queue_id)]
        ),
        5.0
    );
    // Two wait for delivery (p-3, p-4), stored after p-0, the oldest unacked one.
    assert!(
        value(&samples, "rocketmq_consumer_queueing_latency", &[t, g])
            <= value(&samples, "rocketmq_consumer_lag_latency", &[t, g])
    );
    // Once those two are popped as well nothing waits for delivery: no queueing latency, while
    // the lag (nothing acked) keeps ageing.
    while popped < 5 {
        popped += pop(&c, "pg", topic, 5 - i32::try_from(popped).expect("small")).await;
    }
    let samples = ferromq_testkit::eventually_ok(
        std::time::Duration::from_secs(10),
        "the unacked messages to age",
        || async {
            let (_, _, body) = get(http.local_addr(), "/metrics").await;
            let samples = parse_exposition(&body);
            let age = value(&samples, "rocketmq_consumer_lag_latency", &[t, g]);
            if age > 0.0 {
                Ok(samples)
            } else {
                Err(age)
            }
        },
    )
    .await;
    assert_eq!(
        value(&samples, "rocketmq_consumer_queueing_latency", &[t, g]),
        0.0
    );
    assert_eq!(
        value(&samples, "rocketmq_consumer_ready_messages", &[t, g]),
        0.0
    );
    producer.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_registered_with_its_name_server() {
    // A name server address nothing listens on: the broker starts but cannot register.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead_ns = gone.local_addr().expect("addr").to_string();
    drop(gone);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ferromq_testkit::broker_config(dir.path(), &[dead_ns]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let broker = ferromq_broker::Broker::start(config, listener)
        .await
        .expect("broker starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let http = HttpServer::start(listener, Target::Broker(broker.service())).expect("http");
    let (status, _, body) = get(http.local_addr(), "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not registered"), "{body}");
    // Live all the same.
    assert_eq!(get(http.local_addr(), "/healthz").await.0, 200);
    http.shutdown().await;
    broker.shutdown().await;
}

/// The buckets of histogram series `name` with labels including `want`, cumulative, by bound.
fn buckets(
    samples: &std::collections::BTreeMap<common::Series, f64>,
    name: &str,
    want: &[(&str, &str)],
) -> Vec<(String, f64)> {
    let mut out: Vec<(f64, String, f64)> = samples
        .iter()
        .filter(|((n, labels), _)| {
            n == &format!("{name}_bucket")
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|((_, labels), v)| {
            let le = labels["le"].clone();
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("numeric le")
            };
            (bound, le, *v)
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out.into_iter().map(|(_, le, v)| (le, v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_histograms_add_up_to_what_was_flushed() {
    let cluster = TestCluster::start_with(|c| {
        c.flush_disk_type = ferromq_store::FlushMode::SyncFlush;
        // Nothing but the sends in the log: no batches of broker-side trace records.
        c.broker_trace_enable = false;
    })
    .await;
    let http = start_http(&cluster).await;
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    // One send at a time: each one's append waits for a sync of its own, so every message is
    // counted by the sync that completed it.
    let n = 20u32;
    for i in 0..n {
        producer
            .send(Message::new("MetricsFlush", format!("flush-{i}")))
            .await
            .expect("send");
    }
    let (status, _, body) = get(http.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    let local = [("storage_type", "local")];

    let syncs = value(
        &samples,
        "ferromq_storage_flush_batch_messages_count",
        &local,
    );
    assert!(syncs >= 1.0, "{syncs}");
    assert_eq!(
        value(&samples, "ferromq_storage_flush_batch_messages_sum", &local),
        f64::from(n),
        "{body}"
    );
    // Every byte written was flushed, by syncs whose batches add up to the log's size.
    assert_eq!(
        value(&samples, "rocketmq_storage_flush_behind_bytes", &local),
        0.0
    );
    let stored = value(&samples, "rocketmq_storage_size", &local);
    assert!(stored > 0.0);
    assert_eq!(
        value(&samples, "ferromq_storage_flush_batch_bytes_sum", &local),
        stored
    );
    let in_bytes: f64 = samples
        .iter()
        .filter(|((name, _), _)| name == "rocketmq_throughput_in_total")
        .map(|(_, v)| *v)
        .sum();
    assert_eq!(
        in_bytes, stored,
        "the log holds only the messages sent: {body}"
    );
    // Each sync that completed a send was timed.
    let timed = value(&samples, "ferromq_storage_fsync_seconds_count", &local);
    assert!(timed >= syncs, "{timed} syncs timed, {syncs} batches");
    assert!(value(&samples, "ferromq_storage_fsync_seconds_sum", &local) >= 0.0);
    // Cumulative buckets never go down and end at the count.
    for name in [
        "ferromq_storage_flush_batch_messages",
        "ferromq_storage_flush_batch_bytes",
        "ferromq_storage_fsync_seconds",
    ] {
        let b = buckets(&samples, name, &local);
        assert!(b.len() > 2, "{name}: {b:?}");
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "{name}: {b:?}");
        assert!(b.iter().all(|(_, v)| *v >= 0.0), "{name}: {b:?}");
        let count = value(&samples, &format!("{name}_count"), &local);
        assert_eq!(b.last().map(|x| x.1), Some(count), "{name}");
    }
    // One message per sync at most here: the 1-message bucket holds them all.
    assert_eq!(
        buckets(&samples, "ferromq_storage_flush_batch_messages", &local)[0],
        ("1".to_owned(), f64::from(n))
    );

    producer.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}

/// Replication series of the one replica in `samples`: (lag bytes, lag seconds, connected), and
/// its address label.
fn replica_series(
    samples: &std::collections::BTreeMap<common::Series, f64>,
) -> Option<(f64, f64, f64, String)> {
    let ((_, labels), lag) = samples
        .iter()
        .find(|((n, _), _)| n == "ferromq_replication_lag_bytes")?;
    let addr = labels["replica_addr"].clone();
    let this = [("replica_addr", addr.as_str())];
    Some((
        *lag,
        value(samples, "ferromq_replication_lag_seconds", &this),
        value(samples, "ferromq_replication_replica_connected", &this),
        addr,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_lag_is_zero_when_caught_up_and_the_bytes_since_when_stopped() {
    use std::time::Duration;
    let cluster = TestCluster::start_with(|c| {
        c.ha_listen_port = Some(0);
        // Nothing but the sends in the log, so the lag is exactly their bytes.
        c.broker_trace_enable = false;
    })
    .await;
    let master = cluster.broker();
    let http = start_http(&cluster).await;
    let ha = master.ha_addr().expect("HA listener").to_string();
    let mut config =
        ferromq_testkit::broker_config(&cluster.dir().join("replica"), &cluster.namesrv_addrs());
    config.broker_role = ferromq_broker::BrokerRole::Slave;
    config.broker_id = 1;
    config.ha_master_address = Some(ha);
    config.broker_trace_enable = false;
    let replica = ferromq_testkit::start_broker(config).await;

    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    let topic = "MetricsReplicated";
    let send = |range: std::ops::Range<u32>| {
        let producer = &producer;
        async move {
            for i in range {
                producer
                    .send(Message::new(topic, format!("r-{i}")))
                    .await
                    .expect("send");
            }
        }
    };
    send(0..5).await;
    let addr = http.local_addr();
    let scrape = || async move {
        let (status, _, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        parse_exposition(&body)
    };

    // Caught up: no lag in bytes or in time, connected.
    let before = ferromq_testkit::eventually_ok(
        Duration::from_secs(15),
        "the replica to catch up",
        || async {
            let samples = scrape().await;
            match replica_series(&samples) {
                Some((0.0, 0.0, 1.0, addr)) => Ok((samples, addr)),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let (samples, replica_addr) = before;
    assert!(replica_addr.starts_with("127.0.0.1:"), "{replica_addr}");
    let acked = master.commit_log_end();
    let t = ("topic", topic);
    let bytes_before = value(&samples, "rocketmq_throughput_in_total", &[t]);

    // The replica stops: its series stays, marked gone, and its lag grows by what is sent since.
    replica.shutdown().await;
    ferromq_testkit::eventually_ok(
        Duration::from_secs(15),
        "the master to see the replica leave",
        || async {
            match replica_series(&scrape().await) {
                Some((0.0, _, 0.0, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    send(5..8).await;
    let samples = scrape().await;
    let (lag, lag_seconds, connected, addr) = replica_series(&samples).expect("replica series");
    let appended = master.commit_log_end() - acked;
    assert!(appended > 0);
    #[allow(clippy::cast_precision_loss)]
    let appended = appended as f64;
    assert_eq!(lag, appended);
    assert_eq!(
        lag,
        value(&samples, "rocketmq_throughput_in_total", &[t]) - bytes_before,
        "the lag is the three messages sent since"
    );
    assert!(lag_seconds >= 0.0);
    assert_eq!(connected, 0.0);
    assert_eq!(addr, replica_addr);
    assert_eq!(
        value(
            &samples,
            "ferromq_replication_replica_in_sync",
            &[("replica_addr", &addr)]
        ),
        0.0
    );

    producer.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_count_half_committed_and_rolled_back_messages() {
    use ferromq_client::producer::{LocalTransactionState, TransactionProducer};
    let cluster = TestCluster::start().await;
    let http = start_http(&cluster).await;
    // Checks answer "unknown": the message left undecided stays half.
    let producer = TransactionProducer::start(
        ProducerConfig {
            namesrv_addrs: cluster.namesrv_addrs(),
            group: "metrics-tx".to_owned(),
            ..ProducerConfig::default()
        },
        |_| LocalTransactionState::Unknown,
    )
    .await
    .expect("transaction producer");
    let topic = "MetricsTx";
    let outcomes = [
        LocalTransactionState::Commit,
        LocalTransactionState::Rollback,
        LocalTransactionState::Commit,
        LocalTransactionState::Unknown,
        LocalTransactionState::Commit,
        LocalTransactionState::Rollback,
    ];
    for (i, local) in outcomes.into_iter().enumerate() {
        let r = producer
            .send_in_transaction(Message::new(topic, format!("tx-{i}")), |_, _| local)
            .await
            .expect("half message sent");
        assert_eq!(r.state, local);
    }
    let (status, _, body) = get(http.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    let t = [("topic", topic)];
    assert_eq!(value(&samples, "rocketmq_commit_messages_total", &t), 3.0);
    assert_eq!(value(&samples, "rocketmq_rollback_messages_total", &t), 2.0);
    assert_eq!(value(&samples, "rocketmq_half_messages", &t), 1.0);
    producer.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_messages_count_in_the_wheel_and_out_of_it() {
    use std::time::{Duration, SystemTime};
    let cluster = TestCluster::start_with(|c| c.timer_precision_ms = 100).await;
    let http = start_http(&cluster).await;
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: cluster.namesrv_addrs(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    let topic = "MetricsTimer";
    let soon = SystemTime::now() + Duration::from_millis(300);
    let later = SystemTime::now() + Duration::from_secs(3600);
    for (i, at) in [soon, later, soon].into_iter().enumerate() {
        producer
            .send(Message::new(topic, format!("timer-{i}")).with_delivery_time(at))
            .await
            .expect("send");
    }
    let addr = http.local_addr();
    // Two come out when their time comes; the one due in an hour stays in the wheel.
    ferromq_testkit::eventually_ok(
        Duration::from_secs(20),
        "the due timers to be delivered",
        || async move {
            let (status, _, body) = get(addr, "/metrics").await;
            assert_eq!(status, 200);
            let samples = parse_exposition(&body);
            let got = [
                "rocketmq_timer_enqueue_total",
                "rocketmq_timer_dequeue_total",
                "rocketmq_timing_messages",
                "rocketmq_timer_enqueue_lag",
            ]
            .map(|name| value(&samples, name, &[]));
            if got == [3.0, 2.0, 1.0, 0.0] {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    )
    .await;
    producer.shutdown().await;
    http.shutdown().await;
    cluster.shutdown().await;
}
