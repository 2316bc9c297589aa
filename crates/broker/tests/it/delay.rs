//! Delay-level and timer messages end to end over TCP: parked on send, delivered to their real topic
//! and queue when due (never before), in due order, across a wheel shorter than the delay, a clean
//! restart, and a SIGKILL of the broker process.
//!
//! The crash test's broker runs in a child: this same test binary re-executed with an environment
//! variable naming the data folder.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{call, pull_request, send_header};
use ferromq_broker::{Broker, BrokerConfig, BrokerHandle};
use ferromq_model::properties;
use ferromq_net::{Client, ClientConfig};
use ferromq_remoting::body::records;
use ferromq_remoting::headers::pull::PullMessageResponseHeader;
use ferromq_remoting::headers::send::{
    RecallMessageRequestHeader, RecallMessageResponseHeader, SendMessageRequestHeaderV2,
    SendMessageResponseHeader,
};
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_store::FlushMode;
use tokio::net::TcpListener;

const CHILD_ENV: &str = "FERROMQ_DELAY_CRASH_CHILD_DIR";
/// Late delivery tolerated per message (the bound: under a second).
const LATE_BOUND_MS: i64 = 1_000;

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("ms fit")
}

/// Short levels and a small, fine wheel so every case runs in seconds.
fn config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        store_root_dir: dir.join("store"),
        commit_log_file_size: 8 << 20,
        message_delay_level: "200ms 500ms 1s 1500ms".into(),
        timer_precision_ms: 100,
        timer_roll_window_slot: 10,
        timer_flush_interval_ms: 100,
        ..BrokerConfig::default()
    }
}

async fn start(config: BrokerConfig) -> BrokerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Broker::start(config, listener)
        .await
        .expect("broker starts")
}

async fn connect(addr: impl ToString) -> Client {
    Client::connect(addr.to_string(), ClientConfig::default())
        .await
        .expect("connect")
}

/// Sends `body` to `topic`/`queue` with extra properties; returns the response.
async fn send(
    c: &Client,
    topic: &str,
    queue: i32,
    body: &str,
    extra: &[(&str, &str)],
) -> RemotingCommand {
    let uniq = format!("U-{body}");
    let mut entries = vec![("UNIQ_KEY", uniq.as_str()), ("WAIT", "true")];
    entries.extend_from_slice(extra);
    let h = send_header(topic, queue, &properties::encode(entries));
    call(
        c,
        RemotingCommand::request(RequestCode::SEND_MESSAGE_V2)
            .with_header(&SendMessageRequestHeaderV2(h))
            .with_body(Bytes::copy_from_slice(body.as_bytes())),
    )
    .await
}

async fn send_ok(c: &Client, topic: &str, queue: i32, body: &str, extra: &[(&str, &str)]) {
    let resp = send(c, topic, queue, body, extra).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
}

/// A message as a consumer sees it in the real topic.
#[derive(Debug, Clone)]
struct Delivered {
    body: String,
    properties: String,
    store_ms: i64,
    topic: String,
    queue_id: u32,
}

/// Long-polls `topic`/`queue` from offset 0 until `count` messages are read or `deadline` passes.
async fn pull_until(
    c: &Client,
    topic: &str,
    queue: i32,
    count: usize,
    deadline: Duration,
) -> Vec<Delivered> {
    pull_while(c, topic, queue, deadline, |got| got.len() < count).await
}

/// Long-polls `topic`/`queue` from offset 0 while `more` says so, until `deadline`.
async fn pull_while(
    c: &Client,
    topic: &str,
    queue: i32,
    deadline: Duration,
    more: impl Fn(&[Delivered]) -> bool,
) -> Vec<Delivered> {
    let end = Instant::now() + deadline;
    let mut out = Vec::new();
    let mut offset = 0;
    while more(&out) && Instant::now() < end {
        let resp = call(
            c,
            pull_request("cg", topic, queue, offset, "*", Some(1_000)),
        )
        .await;
        let h: PullMessageResponseHeader = resp.decode_header().expect("pull header");
        if resp.response_code() == ResponseCode::SUCCESS {
            let body = resp.body.as_deref().expect("body");
            for r in records::decode(body, true).expect("records") {
                out.push(Delivered {
                    body: String::from_utf8_lossy(r.body).into_owned(),
                    properties: r.properties.to_owned(),
                    store_ms: r.store_timestamp,
                    topic: r.topic.to_owned(),
                    queue_id: r.queue_id,
                });
            }
        }
        offset = h.next_begin_offset;
    }
    out
}

fn prop<'a>(d: &'a Delivered, key: &str) -> Option<&'a str> {
    properties::get(&d.properties, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_levels_deliver_after_their_delay_in_due_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start(config(dir.path())).await;
    let c = connect(broker.local_addr()).await;
    let sent = now_ms();
    // Sent longest first: due order must win over send order.
    for (body, level) in [
        ("L4", "4"),
        ("L3", "3"),
        ("L2", "2"),
        ("L1", "1"),
        ("L9", "9"),
    ] {
        send_ok(&c, "Delayed", 2, body, &[("DELAY", level), ("TAGS", "t")]).await;
    }
    send_ok(&c, "Delayed", 2, "now", &[]).await;
    let got = pull_until(&c, "Delayed", 2, 6, Duration::from_secs(10)).await;
    let bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
    // Level 9 is above the table: it waits as long as the last level, after L4 was parked.
    assert_eq!(bodies, vec!["now", "L1", "L2", "L3", "L4", "L9"]);
    let delay_of = |b: &str| match b {
        "L1" => 200,
        "L2" => 500,
        "L3" => 1_000,
        "L4" | "L9" => 1_500,
        _ => 0,
    };
    for d in &got {
        let due = sent + delay_of(&d.body);
        assert!(
            d.store_ms >= due,
            "{} early: stored {} due {}",
            d.body,
            d.store_ms,
            due
        );
        assert!(
            d.store_ms - due < LATE_BOUND_MS,
            "{} late by {} ms",
            d.body,
            d.store_ms - due
        );
        assert_eq!((d.topic.as_str(), d.queue_id), ("Delayed", 2));
        for gone in ["DELAY", "REAL_TOPIC", "REAL_QID"] {
            assert_eq!(prop(d, gone), None, "{} keeps {gone}", d.body);
        }
        assert_eq!(prop(d, "UNIQ_KEY"), Some(format!("U-{}", d.body).as_str()));
    }
    assert_eq!(prop(&got[1], "TAGS"), Some("t"));
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_messages_deliver_at_their_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start(config(dir.path())).await;
    let c = connect(broker.local_addr()).await;
    let t0 = now_ms();
    let at = (t0 + 900).to_string();
    let past = (t0 - 5_000).to_string();
    send_ok(&c, "Timed", 0, "at+900", &[("TIMER_DELIVER_MS", &at)]).await;
    send_ok(&c, "Timed", 0, "ms+350", &[("TIMER_DELAY_MS", "350")]).await;
    send_ok(&c, "Timed", 0, "sec+1", &[("TIMER_DELAY_SEC", "1")]).await;
    send_ok(&c, "Timed", 0, "past", &[("TIMER_DELIVER_MS", &past)]).await;
    let t1 = now_ms();
    let got = pull_until(&c, "Timed", 0, 4, Duration::from_secs(10)).await;
    let bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, vec!["past", "ms+350", "at+900", "sec+1"]);
    for d in &got[1..] {
        let out: i64 = prop(d, "TIMER_OUT_MS")
            .expect("TIMER_OUT_MS")
            .parse()
            .expect("ms");
        assert!(
            d.store_ms >= out,
            "{} early by {} ms",
            d.body,
            out - d.store_ms
        );
        assert!(
            d.store_ms - out < LATE_BOUND_MS,
            "{} late by {} ms",
            d.body,
            d.store_ms - out
        );
        let (lo, hi) = match d.body.as_str() {
            "at+900" => (t0 + 900, t0 + 900),
            "ms+350" => (t0 + 350, t1 + 350),
            _ => (t0 + 1_000, t1 + 1_000),
        };
        assert!(
            (lo..=hi).contains(&out),
            "{}: out {out} not in {lo}..={hi}",
            d.body
        );
        for gone in [
            "TIMER_DELIVER_MS",
            "TIMER_DELAY_MS",
            "TIMER_DELAY_SEC",
            "REAL_TOPIC",
            "REAL_QID",
        ] {
            assert_eq!(prop(d, gone), None, "{} keeps {gone}", d.body);
        }
        assert!(prop(d, "TIMER_DEQUEUE_MS").is_some());
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_beyond_the_wheel_span_and_bad_timers() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 5 slots of 100 ms: a 2.2 s timer goes round the wheel several times.
    let broker = start(BrokerConfig {
        timer_roll_window_slot: 5,
        timer_max_delay_sec: 10,
        ..config(dir.path())
    })
    .await;
    let c = connect(broker.local_addr()).await;
    let t0 = now_ms();
    send_ok(&c, "Far", 1, "far", &[("TIMER_DELAY_MS", "2200")]).await;
    send_ok(&c, "Far", 1, "near", &[("TIMER_DELAY_MS", "300")]).await;
    let resp = send(&c, "Far", 1, "too-far", &[("TIMER_DELAY_SEC", "11")]).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::MESSAGE_ILLEGAL,
        "{resp:?}"
    );
    assert!(
        resp.remark.as_deref().unwrap_or("").contains("max delay"),
        "{resp:?}"
    );
    let resp = send(&c, "Far", 1, "junk", &[("TIMER_DELAY_MS", "soon")]).await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::MESSAGE_ILLEGAL,
        "{resp:?}"
    );
    let got = pull_until(&c, "Far", 1, 2, Duration::from_secs(10)).await;
    let bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, vec!["near", "far"]);
    let far = &got[1];
    assert!(
        far.store_ms >= t0 + 2_200,
        "early: {} < {}",
        far.store_ms,
        t0 + 2_200
    );
    let out: i64 = prop(far, "TIMER_OUT_MS").expect("out").parse().expect("ms");
    assert!(
        far.store_ms - out < LATE_BOUND_MS,
        "late by {}",
        far.store_ms - out
    );
    // Nothing else arrives: no copy from an earlier turn of the wheel.
    let again = pull_until(&c, "Far", 1, 3, Duration::from_millis(1_500)).await;
    assert_eq!(again.len(), 2, "{again:?}");
    broker.shutdown().await;
}

/// Sends a timer message; returns the recall handle its send answered.
async fn send_timer(c: &Client, topic: &str, body: &str, delay_ms: i64) -> String {
    let delay = delay_ms.to_string();
    let resp = send(c, topic, 0, body, &[("TIMER_DELAY_MS", &delay)]).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: SendMessageResponseHeader = resp.decode_header().expect("send header");
    h.recall_handle
        .expect("a timer send answers a recall handle")
}

/// RECALL_MESSAGE (370) as the Java 5.3 producer sends it.
async fn recall(c: &Client, topic: &str, handle: &str) -> RemotingCommand {
    call(
        c,
        RemotingCommand::request(RequestCode::RECALL_MESSAGE).with_header(
            &RecallMessageRequestHeader {
                producer_group: Some("pg".into()),
                topic: topic.into(),
                recall_handle: handle.into(),
            },
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recalled_timers_stay_recalled_round_the_wheel_and_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 5 slots of 100 ms: the timers below go round the wheel several times before they are due.
    let config = || BrokerConfig {
        timer_roll_window_slot: 5,
        timer_max_delay_sec: 10,
        ..config(dir.path())
    };
    let broker = start(config()).await;
    let c = connect(broker.local_addr()).await;
    let far = send_timer(&c, "Recall", "far", 4_000).await;
    let near = send_timer(&c, "Recall", "near", 3_000).await;
    send_timer(&c, "Recall", "keep", 4_000).await;
    let resp = recall(&c, "Recall", &far).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    let h: RecallMessageResponseHeader = resp.decode_header().expect("recall header");
    assert_eq!(h.msg_id, "U-far");
    let resp = recall(&c, "Recall", "bm90IGEgaGFuZGxl").await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::ILLEGAL_OPERATION,
        "{resp:?}"
    );
    assert!(
        resp.remark.as_deref().unwrap_or("").contains("invalid"),
        "{resp:?}"
    );
    drop(c);
    broker.shutdown().await;

    // The recall of `far` is durable; `near` is recalled after the restart.
    let broker = start(config()).await;
    let c = connect(broker.local_addr()).await;
    let resp = recall(&c, "Recall", &near).await;
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{resp:?}");
    // Due after everything else: once it is delivered, so would the recalled ones have been.
    send_timer(&c, "Recall", "last", 4_500).await;
    let got = pull_until(&c, "Recall", 0, 2, Duration::from_secs(15)).await;
    let bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, vec!["keep", "last"]);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_delays_and_timers_survive_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start(config(dir.path())).await;
    let c = connect(broker.local_addr()).await;
    let t0 = now_ms();
    for i in 0..20 {
        let body = format!("lvl-{i}");
        send_ok(&c, "Restart", 0, &body, &[("DELAY", "3")]).await;
        let body = format!("tmr-{i}");
        let delay = (1_200 + i * 50).to_string();
        send_ok(&c, "Restart", 0, &body, &[("TIMER_DELAY_MS", &delay)]).await;
    }
    drop(c);
    broker.shutdown().await;
    let broker = start(config(dir.path())).await;
    let c = connect(broker.local_addr()).await;
    let got = pull_until(&c, "Restart", 0, 40, Duration::from_secs(15)).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for d in &got {
        *seen.entry(d.body.clone()).or_default() += 1;
        let floor = if d.body.starts_with("lvl") {
            t0 + 1_000
        } else {
            t0 + 1_200
        };
        assert!(d.store_ms >= floor, "{} early", d.body);
    }
    assert_eq!(seen.len(), 40, "{seen:?}");
    assert!(
        seen.values().all(|&n| n == 1),
        "a clean restart repeats nothing: {seen:?}"
    );
    // Nothing more comes later either.
    let again = pull_until(&c, "Restart", 0, 41, Duration::from_millis(1_500)).await;
    assert_eq!(again.len(), 40);
    broker.shutdown().await;
}

/// The child: a SYNC_FLUSH broker on the folder from the environment, serving until killed.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Should the parent die without killing us, its end of our stdin closes: exit then.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    rt.block_on(async move {
        let broker = start(crash_config(Path::new(&dir))).await;
        println!("READY {}", broker.local_addr());
        std::future::pending::<()>().await;
    });
}

fn crash_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        flush_disk_type: FlushMode::SyncFlush,
        ..config(dir)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_pending_timers_loses_none() {
    const N: usize = 150;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) =
        common::spawn_crash_child("delay::crash_child", CHILD_ENV, dir.path()).await;
    let c = connect(&addr).await;
    // Due times spread over 0.3-2.3 s; delay levels mixed in.
    let t0 = now_ms();
    let mut due = BTreeMap::new();
    for i in 0..N {
        let body = format!("m{i}");
        if i % 5 == 0 {
            let before = now_ms();
            send_ok(&c, "Crash", 0, &body, &[("DELAY", "3")]).await;
            due.insert(body, before + 1_000);
        } else {
            let delay = 300 + (i * 2_000 / N) as i64;
            send_ok(
                &c,
                "Crash",
                0,
                &body,
                &[("TIMER_DELAY_MS", &delay.to_string())],
            )
            .await;
            due.insert(body, t0 + delay);
        }
    }
    // Kill once some timers were delivered and most are still pending.
    let early = pull_until(&c, "Crash", 0, N / 5, Duration::from_secs(10)).await;
    assert!(
        early.len() >= N / 5 && early.len() < N,
        "{} delivered before the kill",
        early.len()
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    drop(c);

    let broker = start(crash_config(dir.path())).await;
    let c = connect(broker.local_addr()).await;
    let distinct = |got: &[Delivered]| {
        got.iter()
            .map(|d| d.body.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let got = pull_while(&c, "Crash", 0, Duration::from_secs(20), |got| {
        distinct(got) < N
    })
    .await;
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &got {
        *seen.entry(d.body.as_str()).or_default() += 1;
        let floor = due[&d.body];
        assert!(
            d.store_ms >= floor,
            "{} early: {} < {}",
            d.body,
            d.store_ms,
            floor
        );
    }
    let missing: Vec<&String> = due
        .keys()
        .filter(|b| !seen.contains_key(b.as_str()))
        .collect();
    assert!(missing.is_empty(), "lost after kill -9: {missing:?}");
    let dups = seen.values().filter(|&&n| n > 1).count();
    println!(
        "kill -9: {N} sent, {} delivered before the kill, {dups} delivered twice",
        early.len()
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_sends_delayed_and_timed_messages() {
    use ferromq_client::consumer::{PullConsumer, PullConsumerConfig};
    use ferromq_client::{Message, Producer, ProducerConfig};

    let cluster = common::TestCluster::start_with(|c| {
        c.message_delay_level = "200ms 500ms".into();
        c.timer_precision_ms = 100;
    })
    .await;
    let ns = vec![cluster.ns().local_addr().to_string()];
    let producer = Producer::start(ProducerConfig {
        namesrv_addrs: ns.clone(),
        ..ProducerConfig::default()
    })
    .await
    .expect("producer");
    // The first send creates the topic; the rest go to the same queue so their order is visible.
    let t0 = now_ms();
    let mq = producer
        .send(Message::new("ClientDelayed", "plain"))
        .await
        .expect("sent")
        .queue;
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(t0 + 700).expect("ms"));
    let sends = [
        Message::new("ClientDelayed", "timer-900ms")
            .with_delivery_delay(Duration::from_millis(900)),
        Message::new("ClientDelayed", "at-700ms").with_delivery_time(at),
        Message::new("ClientDelayed", "level-2").with_delay_level(2),
    ];
    for m in sends {
        producer.send_to_queue(m, &mq).await.expect("sent");
    }
    let consumer = PullConsumer::start(PullConsumerConfig {
        namesrv_addrs: ns,
        ..PullConsumerConfig::default()
    })
    .await
    .expect("consumer");
    // The first send created the topic on the broker; its route reaches the name server with the
    // broker's next registration, and the consumer finds the broker through that route.
    ferromq_testkit::eventually_ok(
        Duration::from_secs(15),
        "the name server to route ClientDelayed",
        || consumer.fetch_queues("ClientDelayed"),
    )
    .await;
    let mut got = Vec::new();
    let mut offset = 0;
    let end = Instant::now() + Duration::from_secs(10);
    while got.len() < 4 && Instant::now() < end {
        let r = consumer
            .pull_blocking(&mq, offset, 32, "*", Duration::from_secs(1))
            .await
            .expect("pull");
        offset = r.next_offset;
        got.extend(r.messages);
    }
    let bodies: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(bodies, ["plain", "level-2", "at-700ms", "timer-900ms"]);
    for (m, floor) in got.iter().zip([t0, t0 + 500, t0 + 700, t0 + 900]) {
        assert!(m.store_timestamp >= floor, "{:?} early", m.body);
        // `floor` is taken before the sends, so this over-estimates lateness slightly.
        assert!(
            m.store_timestamp - floor < LATE_BOUND_MS,
            "{:?} late",
            m.body
        );
        assert_eq!(
            (m.topic.as_str(), m.queue_id),
            ("ClientDelayed", mq.queue_id)
        );
    }
    consumer.shutdown().await;
    producer.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn batch_with_a_delay_level_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = start(config(dir.path())).await;
    let c = connect(broker.local_addr()).await;
    let inner = properties::encode([("UNIQ_KEY", "B1")]);
    let mut h = send_header("Batched", 0, &properties::encode([("DELAY", "1")]));
    h.batch = Some(true);
    let resp = call(
        &c,
        RemotingCommand::request(RequestCode::SEND_BATCH_MESSAGE)
            .with_header(&SendMessageRequestHeaderV2(h))
            .with_body(common::batch_body(&[(b"b1", &inner)])),
    )
    .await;
    assert_eq!(
        resp.response_code(),
        ResponseCode::MESSAGE_ILLEGAL,
        "{resp:?}"
    );
    assert!(
        resp.remark.as_deref().unwrap_or("").contains("delay"),
        "{resp:?}"
    );
    let stored = pull_until(&c, "Batched", 0, 1, Duration::from_millis(300)).await;
    assert!(stored.is_empty(), "{stored:?}");
    broker.shutdown().await;
}
