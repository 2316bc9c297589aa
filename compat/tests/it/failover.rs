//! rocketmq-client-rust across a master failover: a controller-mode group of two SYNC_MASTER
//! brokers; an unmodified producer sends numbered messages continuously while the master stops;
//! the controller elects the replica, which registers as brokerId 0, and the producer follows the
//! new route without a restart. A consumer then reads the topic from the first offset: every
//! acknowledged message is there, nothing that was never sent, and a message appears twice only
//! when its send was attempted more than once on the wire. The old master comes back on its folder
//! as a replica, and new messages still reach the consumer.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{body_counts, message, within, ClientContext as _, Received, Recorder};
use ferromq_broker::{BrokerConfig, BrokerRole};
use ferromq_compat::client::ClientHarness;
use ferromq_compat::controlled::{store_host, ControlledGroup, ControlledOptions};
use ferromq_compat::{wait_for, wait_until};
use ferromq_controller::ControllerConfig;
use ferromq_remoting::RequestCode;
use parking_lot::Mutex;
use rocketmq_client_rust::{
    ClientConfig, DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer as _, SendStatus,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;

const TOPIC: &str = "CompatFailover";
const QUEUES: i32 = 4;
/// The shortest route polling interval rocketmq-client-rust accepts (its config validation
/// refuses less than 10 s at start).
const POLL_NAME_SERVER_MS: u32 = 10_000;
const SEND_TIMEOUT_MS: u32 = 3_000;
/// Every wait in this test: failover and the client's 10 s route polling fit well inside.
const T: Duration = Duration::from_secs(25);
/// Sends acknowledged before the master stops, and through the new master afterwards.
const BEFORE: usize = 30;
const AFTER: usize = 30;
const REJOINED: usize = 20;

fn options() -> ControlledOptions {
    ControlledOptions {
        broker: BrokerConfig {
            broker_role: BrokerRole::SyncMaster,
            broker_heartbeat_interval_ms: 200,
            controller_lease_ms: 1_000,
            sync_flush_timeout_ms: 3_000,
            register_name_server_period_ms: 1_000,
            commit_log_file_size: 8 << 20,
            ..BrokerConfig::default()
        },
        controller: ControllerConfig {
            master_timeout: Duration::from_millis(1_500),
            check_interval: Duration::from_millis(100),
            raft_heartbeat_interval: Duration::from_millis(50),
            raft_election_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_millis(1_500),
            ..ControllerConfig::default()
        },
    }
}

fn client_config() -> ClientConfig {
    let mut c = ClientConfig::default();
    c.set_poll_name_server_interval(POLL_NAME_SERVER_MS);
    c
}

/// One sync send as the application saw it.
#[derive(Debug, Clone)]
struct Attempt {
    body: String,
    /// When the send call returned.
    done: Instant,
    outcome: Result<Acked, String>,
}

#[derive(Debug, Clone)]
struct Acked {
    status: SendStatus,
    /// The broker that stored it, from the offset message id.
    store_host: Option<SocketAddr>,
}

impl Attempt {
    fn send_ok(&self) -> bool {
        matches!(&self.outcome, Ok(a) if a.status == SendStatus::SendOk)
    }

    fn send_ok_via(&self, broker: SocketAddr) -> bool {
        matches!(&self.outcome, Ok(a) if a.status == SendStatus::SendOk && a.store_host == Some(broker))
    }
}

#[derive(Clone, Default)]
struct SendLog(Arc<Mutex<Vec<Attempt>>>);

impl SendLog {
    fn count(&self, pred: impl Fn(&Attempt) -> bool) -> usize {
        self.0.lock().iter().filter(|a| pred(a)).count()
    }

    fn first(&self, pred: impl Fn(&Attempt) -> bool) -> Option<Attempt> {
        self.0.lock().iter().find(|a| pred(a)).cloned()
    }

    fn snapshot(&self) -> Vec<Attempt> {
        self.0.lock().clone()
    }
}

/// Sends `prefix-00000`, `prefix-00001`, ... one sync send at a time until `stop`, recording each
/// outcome. The short pause keeps a stale route from turning into a busy loop of failures.
async fn send_continuously(
    producer: &DefaultMQProducer,
    prefix: &str,
    log: SendLog,
    stop: Arc<AtomicBool>,
) {
    let mut i = 0_u32;
    while !stop.load(Ordering::Acquire) {
        let body = format!("{prefix}-{i:05}");
        i += 1;
        let result = producer
            .send_with_timeout(
                message(TOPIC, "TagF", &format!("key-{body}"), &body),
                SEND_TIMEOUT_MS.into(),
            )
            .await;
        let outcome = match result {
            Ok(Some(r)) => Ok(Acked {
                status: r.send_status,
                store_host: r.offset_msg_id.as_deref().and_then(store_host),
            }),
            Ok(None) => Err("sync send returned no result".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        log.0.lock().push(Attempt {
            body,
            done: Instant::now(),
            outcome,
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many times each body went out in a send request, on any broker's proxy.
fn wire_send_attempts(group: &ControlledGroup) -> BTreeMap<String, usize> {
    let mut frames = group.wire().exchanges(RequestCode::SEND_MESSAGE);
    frames.extend(group.wire().exchanges(RequestCode::SEND_MESSAGE_V2));
    body_counts(
        frames
            .into_iter()
            .filter(|f| !f.cmd.is_response())
            .filter_map(|f| f.cmd.body)
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    )
}

/// How many times a client asked the name server for the topic's route.
fn route_queries(group: &ControlledGroup) -> usize {
    group
        .wire()
        .exchanges(RequestCode::GET_ROUTEINFO_BY_TOPIC)
        .iter()
        .filter(|f| {
            !f.cmd.is_response() && f.cmd.ext_fields.get("topic").map(String::as_str) == Some(TOPIC)
        })
        .count()
}

async fn await_true(what: &str, condition: impl AsyncFnMut() -> bool) -> anyhow::Result<()> {
    anyhow::ensure!(wait_for(T, condition).await, "timed out: {what}");
    Ok(())
}

#[test]
fn an_unmodified_client_follows_the_new_master_without_a_restart() -> anyhow::Result<()> {
    ferromq_compat::init_tracing();
    let harness = ClientHarness::new("failover")?;
    let runtime = harness.runtime();
    let result = harness.block_on(async move {
        let mut group = ControlledGroup::start(options()).await?;
        let result = scenario(&mut group, runtime).await;
        if result.is_err() {
            eprintln!("---- wire log ----\n{}\n---- end ----", group.wire().dump());
        }
        group.shutdown().await;
        result
    });
    for problem in harness.shutdown() {
        // The client's own shutdown trouble is not what this test checks.
        eprintln!("client shutdown report: {problem}");
    }
    result
}

async fn scenario(
    group: &mut ControlledGroup,
    runtime: Arc<rocketmq_client_rust::ClientRuntime>,
) -> anyhow::Result<()> {
    // 1. Broker 1 is elected first; broker 2 catches up and joins the sync-state set.
    group.start_broker(1).await?;
    anyhow::ensure!(
        wait_until(T, || group.master() == Some(1)).await,
        "broker 1 was never elected: {:?}",
        group.replica_info()
    );
    group.start_broker(2).await?;
    anyhow::ensure!(
        wait_until(T, || group.sync_state_set() == BTreeSet::from([1, 2])).await,
        "broker 2 never joined the sync-state set: {:?}",
        group.replica_info()
    );
    ferromq_compat::raw::create_topic(group.broker_listen(1)?, TOPIC, QUEUES).await?;
    // The replica must know the topic before it can take its sends.
    await_true("broker 2 mirrors the topic", async || {
        group.has_topic(2, TOPIC).await.unwrap_or(false)
    })
    .await?;
    let broker1 = group.broker_addr(1)?;
    let broker2 = group.broker_addr(2)?;

    // 2. An unmodified producer sends continuously.
    let mut producer = DefaultMQProducer::builder(runtime.clone())
        .client_config(client_config())
        .producer_group("compat-failover-producer".to_owned())
        .name_server_addr(group.namesrv_addr())
        .send_msg_timeout(SEND_TIMEOUT_MS)
        .build();
    producer.start().await.ctx("producer.start")?;
    let log = SendLog::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = send_continuously(&producer, "fo", log.clone(), stop.clone());

    // 3. Stop the master while it sends; time the first SEND_OK stored by broker 2.
    let control = async {
        let result = failover(group, &log, broker1, broker2).await;
        stop.store(true, Ordering::Release);
        result
    };
    let ((), failover) = tokio::join!(sender, control);
    failover?;
    let sends = log.snapshot();
    let failures = body_counts(
        sends
            .iter()
            .filter(|a| !a.send_ok())
            .map(|a| match &a.outcome {
                Ok(acked) => format!("{:?}", acked.status),
                Err(e) => e.clone(),
            }),
    );
    eprintln!(
        "failover(compat): {} sends, {} SEND_OK; the others by outcome: {failures:?}",
        sends.len(),
        sends.iter().filter(|a| a.send_ok()).count(),
    );

    // 4. Read the topic from the first offset.
    let recorder = Recorder::default();
    let mut consumer = DefaultMQPushConsumer::builder(runtime.clone())
        .client_config(client_config())
        .consumer_group("compat-failover".to_owned())
        .name_server_addr(group.namesrv_addr())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer.subscribe(TOPIC, "*").await.ctx("subscribe")?;
    consumer.register_message_listener_concurrently(recorder.clone());
    within("consumer.start", T, consumer.start())
        .await?
        .ctx("consumer.start")?;
    check_consumed(group, &recorder, &sends).await?;

    // 5. The old master returns on its folder and rejoins as a replica.
    let back = Instant::now();
    group.start_broker(1).await?;
    await_true(
        "broker 1 rejoins as a replica in the sync-state set",
        async || {
            group.sync_state_set() == BTreeSet::from([1, 2])
                && group.runtime_info(1, "brokerRole").await.ok().flatten() == Some("SLAVE".into())
        },
    )
    .await?;
    anyhow::ensure!(group.master() == Some(2), "{:?}", group.replica_info());
    eprintln!(
        "failover(compat): broker 1 back as SLAVE in the sync-state set after {:?}",
        back.elapsed()
    );
    let mut after = BTreeSet::new();
    for i in 0..REJOINED {
        let body = format!("back-{i:05}");
        let r = within(
            "send after the rejoin",
            T,
            producer.send_with_timeout(
                message(TOPIC, "TagF", &format!("key-{body}"), &body),
                SEND_TIMEOUT_MS.into(),
            ),
        )
        .await?
        .ctx("send after the rejoin")?
        .ok_or_else(|| anyhow::anyhow!("no send result"))?;
        anyhow::ensure!(r.send_status == SendStatus::SendOk, "{body}: {r:?}");
        let host = r.offset_msg_id.as_deref().and_then(store_host);
        anyhow::ensure!(host == Some(broker2), "{body} stored by {host:?}");
        after.insert(body);
    }
    let complete = wait_until(T, || {
        let got: BTreeSet<String> = recorder.bodies().into_iter().collect();
        after.is_subset(&got)
    })
    .await;
    let got = recorder.bodies();
    let missing: Vec<&String> = after.iter().filter(|b| !got.contains(b)).collect();
    anyhow::ensure!(complete, "the consumer never got {missing:?}");
    let counts = body_counts(got.into_iter().filter(|b| b.starts_with("back-")));
    anyhow::ensure!(
        counts.len() == REJOINED && counts.values().all(|n| *n == 1),
        "after the rejoin: {counts:?}"
    );

    consumer.shutdown().await;
    producer.shutdown().await;
    Ok(())
}

/// Waits for `BEFORE` acknowledged sends, stops broker 1, and waits until the producer has had
/// `AFTER` sends acknowledged by broker 2.
async fn failover(
    group: &mut ControlledGroup,
    log: &SendLog,
    broker1: SocketAddr,
    broker2: SocketAddr,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        wait_until(T, || log.count(|a| a.send_ok_via(broker1)) >= BEFORE).await,
        "the producer never got {BEFORE} SEND_OK from broker 1: {:?}",
        log.snapshot().last()
    );
    let queries_at_stop = route_queries(group);
    let stopped = Instant::now();
    group.stop_broker(1).await?;
    let shut = stopped.elapsed();
    let timeline = watch_failover(group, log, stopped, queries_at_stop, broker2).await?;
    anyhow::ensure!(group.master() == Some(2), "{:?}", group.replica_info());
    let first = log
        .first(|a| a.send_ok_via(broker2))
        .ok_or_else(|| anyhow::anyhow!("first SEND_OK via broker 2 vanished"))?;
    let failed_between = log.count(|a| a.done > stopped && !a.send_ok());
    eprintln!(
        "failover(compat): broker 1 stopped (shutdown took {shut:?}); broker 2 elected after \
         {:?}; the name server routes it as brokerId 0 after {:?}; the producer asked for the \
         route at {:?} (seen within 20 ms); first SEND_OK through broker 2 after {:?} ({}); \
         {failed_between} sends not acknowledged in between",
        timeline.elected,
        timeline.routed,
        timeline.route_queries,
        first.done.saturating_duration_since(stopped),
        first.body
    );
    anyhow::ensure!(
        wait_until(T, || log.count(|a| a.send_ok_via(broker2)) >= AFTER).await,
        "fewer than {AFTER} SEND_OK from broker 2"
    );
    // Nothing acknowledged by anyone else once broker 1 stopped.
    let strays: Vec<Attempt> = log
        .snapshot()
        .into_iter()
        .filter(|a| a.done > stopped + shut && a.send_ok() && !a.send_ok_via(broker2))
        .collect();
    anyhow::ensure!(strays.is_empty(), "acknowledged elsewhere: {strays:?}");
    Ok(())
}

/// When each step of the failover was seen, counted from the stop of broker 1.
#[derive(Debug)]
struct Timeline {
    elected: Option<Duration>,
    routed: Option<Duration>,
    /// When the client asked the name server for the topic's route (each query).
    route_queries: Vec<Duration>,
}

/// Polls every 20 ms, until the producer has a SEND_OK from broker 2: the controller's choice,
/// the name server's route, and the client's route queries (the client asks again only on its own
/// schedule, so these tell its delay from the brokers').
async fn watch_failover(
    group: &ControlledGroup,
    log: &SendLog,
    stopped: Instant,
    queries_at_stop: usize,
    broker2: SocketAddr,
) -> anyhow::Result<Timeline> {
    let deadline = Instant::now() + T;
    let (mut elected, mut routed, mut route_queries_at) = (None, None, Vec::new());
    let mut seen_queries = queries_at_stop;
    let broker2_text = broker2.to_string();
    while log.count(|a| a.send_ok_via(broker2)) == 0 {
        let now = stopped.elapsed();
        if elected.is_none() && group.master() == Some(2) {
            elected = Some(now);
        }
        if routed.is_none()
            && group.routed_master(TOPIC).await.ok().flatten().as_deref() == Some(&broker2_text)
        {
            routed = Some(now);
        }
        let queries = route_queries(group);
        if queries > seen_queries {
            route_queries_at.push(now);
            seen_queries = queries;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no SEND_OK from broker 2 within {T:?}: elected {elected:?}, routed {routed:?}, \
             route queries {route_queries_at:?}, last send {:?}, controller {:?}",
            log.snapshot().last(),
            group.replica_info()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The query that brought the new route usually falls in the same step as the SEND_OK.
    if route_queries(group) > seen_queries {
        route_queries_at.push(stopped.elapsed());
    }
    // Seen at 20 ms steps: a step and the SEND_OK may fall in the same one (then `None`).
    Ok(Timeline {
        elected,
        routed,
        route_queries: route_queries_at,
    })
}

/// Every SEND_OK body is delivered; nothing never sent; a body more than once only when it went
/// out more than once on the wire; each stored message exactly once per (queue, offset).
async fn check_consumed(
    group: &ControlledGroup,
    recorder: &Recorder,
    sends: &[Attempt],
) -> anyhow::Result<()> {
    let acked: BTreeSet<&str> = sends
        .iter()
        .filter(|a| a.send_ok())
        .map(|a| a.body.as_str())
        .collect();
    let all_sent: BTreeSet<&str> = sends.iter().map(|a| a.body.as_str()).collect();
    let complete = wait_until(T, || {
        let got: BTreeSet<String> = recorder.bodies().into_iter().collect();
        acked.iter().all(|b| got.contains(*b))
    })
    .await;
    let got = recorder.bodies();
    let missing: Vec<&&str> = acked
        .iter()
        .filter(|b| !got.iter().any(|g| g == **b))
        .collect();
    anyhow::ensure!(
        complete,
        "acknowledged but never delivered ({} of {}): {missing:?}",
        missing.len(),
        acked.len()
    );
    // Counted once every acknowledged message arrived, so the consume queues are complete.
    let mut stored = 0_i64;
    for q in 0..QUEUES {
        stored += group.max_offset(2, TOPIC, q).await?;
    }
    let stored = usize::try_from(stored)?;
    let complete = wait_until(T, || recorder.snapshot().len() >= stored).await;
    let got: Vec<Received> = recorder.snapshot();
    let counts = body_counts(got.iter().map(|r| r.body.clone()));
    anyhow::ensure!(
        complete,
        "received {} of the {stored} messages broker 2 holds",
        got.len()
    );
    anyhow::ensure!(
        got.len() == stored,
        "received {} messages, the broker holds {stored}",
        got.len()
    );
    let never_sent: Vec<&String> = counts
        .keys()
        .filter(|b| !all_sent.contains(b.as_str()))
        .collect();
    anyhow::ensure!(never_sent.is_empty(), "never sent: {never_sent:?}");
    let on_wire = wire_send_attempts(group);
    let unexplained: Vec<(&String, usize, usize)> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(b, n)| (b, *n, on_wire.get(b).copied().unwrap_or(0)))
        .filter(|(_, n, wire)| n > wire)
        .collect();
    anyhow::ensure!(
        unexplained.is_empty(),
        "stored more often than sent (body, times stored, send requests): {unexplained:?}"
    );
    let mut seen = BTreeSet::new();
    for r in &got {
        anyhow::ensure!(r.topic == TOPIC, "{r:?}");
        anyhow::ensure!(
            r.keys.as_deref() == Some(&format!("key-{}", r.body)),
            "{r:?}"
        );
        anyhow::ensure!(
            seen.insert((r.queue_id, r.queue_offset)),
            "queue {} offset {} delivered twice",
            r.queue_id,
            r.queue_offset
        );
    }
    let duplicated: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let unacked_stored = counts
        .keys()
        .filter(|b| !acked.contains(b.as_str()))
        .count();
    eprintln!(
        "failover(compat): consumer got {} messages ({} acknowledged, {unacked_stored} stored \
         though their send failed, duplicates {duplicated:?})",
        got.len(),
        acked.len()
    );
    Ok(())
}
