//! `ferromq admin` as an operator runs it: the real binary against a `ferromq dev` started on free
//! ports, every command checked in its table form and its `--output json` form, plus the exit
//! codes for usage errors (2), things that do not exist (3) and server or connection failures (4).

use crate::common;

use std::collections::BTreeSet;
use std::future::Future;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Dev;
use ferromq_client::consumer::push::{
    ConsumeFrom, ConsumeStatus, PushConsumer, PushConsumerConfig,
};
use serde_json::Value;

/// Upper bound for anything the tests wait for.
const DEADLINE: Duration = Duration::from_secs(20);

/// A running `ferromq dev` and the addresses from its ready line.
struct AdminDev {
    namesrv: String,
    broker: String,
    _dev: Dev,
    _dir: tempfile::TempDir,
}

impl AdminDev {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let dev = Dev::start(dir.path(), &[]);
        Self {
            namesrv: dev.field("namesrv"),
            broker: dev.field("broker"),
            _dev: dev,
            _dir: dir,
        }
    }

    /// Runs `ferromq admin <args> -n <namesrv>`.
    async fn admin(&self, args: &[&str]) -> Run {
        let mut all: Vec<String> = vec!["admin".into()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all.extend(["-n".into(), self.namesrv.clone()]);
        run(all).await
    }

    /// Runs the command with `--output json`, expects success and parses stdout.
    async fn json(&self, args: &[&str]) -> Value {
        let mut with: Vec<&str> = args.to_vec();
        with.extend(["--output", "json"]);
        let r = self.admin(&with).await;
        assert_eq!(r.code, 0, "{args:?} failed: {}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout))
    }

    /// Runs the command in table form, expects success, returns stdout.
    async fn table(&self, args: &[&str]) -> String {
        let r = self.admin(args).await;
        assert_eq!(r.code, 0, "{args:?} failed: {}", r.stderr);
        r.stdout
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_ferromq"))
            .args(&args)
            .env_remove("NAMESRV_ADDR")
            .output()
            .expect("run ferromq admin");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("admin task")
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn strs(v: &Value, field: &str) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|m| m[field].as_str().expect("string field").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_and_message_commands() {
    let dev = AdminDev::start();

    let created = dev
        .json(&[
            "updateTopic",
            "-c",
            "DefaultCluster",
            "-t",
            "Orders",
            "-r",
            "2",
            "-w",
            "2",
        ])
        .await;
    assert_eq!(created["topic"], "Orders");
    assert_eq!(created["readQueueNums"], 2);
    assert_eq!(created["brokers"][0], dev.broker.as_str());
    let text = dev
        .table(&[
            "update-topic",
            "-b",
            &dev.broker,
            "-t",
            "Audit",
            "-r",
            "1",
            "-w",
            "1",
        ])
        .await;
    assert!(text.contains("success") && text.contains("Audit"), "{text}");

    let list = dev.json(&["topicList"]).await;
    let topics: Vec<&str> = list["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        topics.contains(&"Orders") && topics.contains(&"Audit"),
        "{topics:?}"
    );
    assert!(dev
        .table(&["topicList"])
        .await
        .lines()
        .any(|l| l == "Orders"));

    let route = dev.json(&["topicRoute", "-t", "Orders"]).await;
    assert_eq!(route["queues"][0]["readQueueNums"], 2);
    assert_eq!(route["queues"][0]["writeQueueNums"], 2);
    assert_eq!(route["brokers"][0]["brokerAddrs"]["0"], dev.broker.as_str());
    let text = dev.table(&["topicRoute", "-t", "Orders"]).await;
    assert!(
        text.contains("#BrokerName") && text.contains(&dev.broker),
        "{text}"
    );

    // Three messages to queue 1, with keys and tags.
    let mut sent = Vec::new();
    for i in 0..3 {
        let body = format!("order-{i}");
        let key = format!("K{i}");
        let r = dev
            .json(&[
                "sendMessage",
                "-t",
                "Orders",
                "-p",
                &body,
                "-k",
                &key,
                "-c",
                "TagA",
                "-b",
                "broker-a",
                "-i",
                "1",
            ])
            .await;
        assert_eq!(r["status"], "SEND_OK");
        assert_eq!(r["queueId"], 1);
        assert_eq!(r["queueOffset"], i);
        sent.push(r);
    }
    let text = dev
        .table(&["sendMessage", "-t", "Audit", "-p", "audit-0"])
        .await;
    assert!(text.contains("SEND_OK"), "{text}");

    let status = dev.json(&["topicStatus", "-t", "Orders"]).await;
    let queues = status["queues"].as_array().expect("queues");
    assert_eq!(queues.len(), 2);
    assert_eq!(queues[0]["maxOffset"], 0);
    assert_eq!(queues[1]["maxOffset"], 3);
    assert!(queues[1]["lastUpdateTimestamp"].as_i64().expect("ts") > 0);
    let text = dev.table(&["topicStatus", "-t", "Orders"]).await;
    assert!(
        text.starts_with("#Broker Name") && text.lines().count() == 3,
        "{text}"
    );

    let by_key = dev
        .json(&["queryMsgByKey", "-t", "Orders", "-k", "K1"])
        .await;
    assert_eq!(strs(&by_key["messages"], "body"), ["order-1"]);
    assert_eq!(by_key["messages"][0]["tags"], "TagA");
    assert_eq!(by_key["messages"][0]["keys"], "K1");
    assert!(dev
        .table(&["queryMsgByKey", "-t", "Orders", "-k", "K2"])
        .await
        .contains("order-2"));

    let offset_id = sent[2]["offsetMsgId"].as_str().expect("offset id");
    let by_id = dev.json(&["queryMsgById", "-i", offset_id]).await;
    assert_eq!(by_id["body"], "order-2");
    assert_eq!(by_id["queueOffset"], 2);
    assert_eq!(by_id["msgId"], sent[2]["msgId"]);
    let uniq = sent[0]["msgId"].as_str().expect("msg id");
    let by_uniq = dev
        .json(&["queryMsgById", "-i", uniq, "-t", "Orders"])
        .await;
    assert_eq!(by_uniq["body"], "order-0");
    let text = dev.table(&["queryMsgById", "-i", offset_id]).await;
    assert!(
        text.contains("Message Body:") && text.contains("order-2"),
        "{text}"
    );

    let at = dev
        .json(&[
            "queryMsgByOffset",
            "-t",
            "Orders",
            "-b",
            "broker-a",
            "-i",
            "1",
            "-o",
            "1",
        ])
        .await;
    assert_eq!(at["body"], "order-1");
    assert!(dev
        .table(&[
            "queryMsgByOffset",
            "-t",
            "Orders",
            "-b",
            "broker-a",
            "-i",
            "1",
            "-o",
            "0"
        ])
        .await
        .contains("order-0"));

    // Everything in the topic, in queue order, nothing extra; -c caps the count.
    let consumed = dev.json(&["consumeMessage", "-t", "Orders"]).await;
    assert_eq!(
        strs(&consumed["messages"], "body"),
        ["order-0", "order-1", "order-2"]
    );
    let capped = dev
        .json(&["consumeMessage", "-t", "Orders", "-c", "2", "-o", "1"])
        .await;
    assert_eq!(strs(&capped["messages"], "body"), ["order-1", "order-2"]);
    let text = dev.table(&["consumeMessage", "-t", "Audit"]).await;
    assert!(
        text.contains("audit-0") && text.lines().count() == 2,
        "{text}"
    );

    // A trace record as a Java client with tracing on writes it: keyed by the traced message id.
    let trace_body = format!(
        "Pub\u{1}1700000000000\u{1}DefaultRegion\u{1}pg\u{1}Orders\u{1}{uniq}\u{1}TagA\u{1}K0\u{1}{b}\u{1}7\u{1}2\u{1}0\u{1}{off}\u{1}true\u{2}\
         SubAfter\u{1}req1\u{1}{uniq}\u{1}4\u{1}true\u{1}K0\u{1}0\u{1}1700000000500\u{1}cg\u{2}\
         SubAfter\u{1}req2\u{1}OTHER\u{1}4\u{1}true\u{1}K9\u{1}0\u{1}1700000000600\u{1}cg\u{2}",
        b = dev.broker,
        off = sent[0]["offsetMsgId"].as_str().expect("offset id"),
    );
    dev.json(&[
        "sendMessage",
        "-t",
        "RMQ_SYS_TRACE_TOPIC",
        "-p",
        &trace_body,
        "-k",
        uniq,
    ])
    .await;
    // The client's records, then the broker's own (written in batches, so wait for them).
    let trace = eventually("the broker's trace records", || async {
        let trace = dev.json(&["queryMsgTraceById", "-i", uniq]).await;
        let types = strs(&trace["traces"], "type");
        let has = |t: &str| types.iter().any(|x| x == t);
        (has("BrokerStored") && has("BrokerDelivered")).then_some(trace)
    })
    .await;
    let types = strs(&trace["traces"], "type");
    assert_eq!(types[..2], ["Pub", "SubAfter"], "{trace}");
    assert!(
        types[2..]
            .iter()
            .all(|t| t == "BrokerStored" || t == "BrokerDelivered"),
        "{trace}"
    );
    assert_eq!(strs(&trace["traces"], "group")[..2], ["pg", "cg"]);
    assert_eq!(trace["traces"][0]["topic"], "Orders");
    assert_eq!(trace["traces"][1]["costTime"], 4);
    let text = dev.table(&["queryMsgTraceById", "-i", uniq]).await;
    assert!(
        text.contains("Pub") && text.contains("SubAfter") && text.contains("success"),
        "{text}"
    );
    let r = dev.admin(&["queryMsgTraceById", "-i", "NOPE"]).await;
    assert_eq!(r.code, 3, "{r:?}");

    // Not found: exit code 3 and a hint.
    let r = dev
        .admin(&["queryMsgByKey", "-t", "Orders", "-k", "nope"])
        .await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("hint:"), "{r:?}");
    let r = dev.admin(&["topicRoute", "-t", "Missing"]).await;
    assert_eq!(r.code, 3, "{r:?}");
    let r = dev
        .admin(&["topicStatus", "-t", "Missing", "--output", "json"])
        .await;
    assert_eq!((r.code, r.stdout.as_str()), (3, ""), "{r:?}");

    let deleted = dev
        .json(&["deleteTopic", "-c", "DefaultCluster", "-t", "Audit"])
        .await;
    assert_eq!(deleted["deleted"], true);
    let list = dev.json(&["topicList"]).await;
    assert!(!strs_plain(&list["topics"]).contains(&"Audit".to_owned()));
    let r = dev
        .admin(&["deleteTopic", "-c", "DefaultCluster", "-t", "Audit"])
        .await;
    assert_eq!(r.code, 3, "{r:?}");
    let text = dev
        .table(&["deleteTopic", "-c", "DefaultCluster", "-t", "Orders"])
        .await;
    assert!(text.contains("delete topic [Orders]"), "{text}");
    let r = dev
        .admin(&["updateTopic", "-c", "NoSuchCluster", "-t", "X"])
        .await;
    assert_eq!(r.code, 3, "{r:?}");

    // Usage errors: exit code 2.
    assert_eq!(dev.admin(&["updateTopic", "-t", "X"]).await.code, 2);
    assert_eq!(dev.admin(&["topicRoute"]).await.code, 2);
    assert_eq!(dev.admin(&["noSuchCommand"]).await.code, 2);
}

fn strs_plain(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_and_broker_commands() {
    let dev = AdminDev::start();

    let clusters = dev.json(&["clusterList"]).await;
    let b = &clusters["brokers"][0];
    assert_eq!(b["cluster"], "DefaultCluster");
    assert_eq!(b["brokerName"], "broker-a");
    assert_eq!(b["brokerId"], 0);
    assert_eq!(b["addr"], dev.broker.as_str());
    assert!(b["error"].is_null(), "{b}");
    assert_eq!(clusters["brokers"].as_array().map(Vec::len), Some(1));
    let text = dev.table(&["clusterList"]).await;
    assert!(
        text.contains("DefaultCluster") && text.contains(&dev.broker),
        "{text}"
    );

    let status = dev.json(&["brokerStatus", "-b", &dev.broker]).await;
    assert_eq!(status["brokers"][0]["brokerAddr"], dev.broker.as_str());
    assert_eq!(status["brokers"][0]["stats"]["brokerActive"], "true");
    assert!(dev
        .table(&["brokerStatus", "-c", "DefaultCluster"])
        .await
        .contains("bootTimestamp:"));

    let config = dev.json(&["getBrokerConfig", "-b", &dev.broker]).await;
    assert_eq!(config["brokers"][0]["config"]["brokerName"], "broker-a");
    assert_eq!(config["brokers"][0]["config"]["longPollingEnable"], "true");
    let updated = dev
        .json(&[
            "updateBrokerConfig",
            "-c",
            "DefaultCluster",
            "-k",
            "longPollingEnable",
            "-v",
            "false",
        ])
        .await;
    assert_eq!(updated["brokers"][0], dev.broker.as_str());
    let text = dev
        .table(&["getBrokerConfig", "-c", "DefaultCluster"])
        .await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("longPollingEnable:") && l.ends_with(" false")),
        "{text}"
    );

    // A runtime change applies to the next request.
    dev.json(&[
        "updateBrokerConfig",
        "-b",
        &dev.broker,
        "-k",
        "maxMessageSize",
        "-v",
        "16",
    ])
    .await;
    let r = dev
        .admin(&["sendMessage", "-t", "Big", "-p", "more than sixteen bytes"])
        .await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("MAX: 16"), "{r:?}");
    let text = dev
        .table(&[
            "updateBrokerConfig",
            "-b",
            &dev.broker,
            "-k",
            "maxMessageSize",
            "-v",
            "1024",
        ])
        .await;
    assert!(text.contains("success"), "{text}");
    let sent = dev
        .json(&["sendMessage", "-t", "Big", "-p", "more than sixteen bytes"])
        .await;
    assert_eq!(sent["status"], "SEND_OK");

    // A key fixed at start-up is refused with the list of runtime keys; nothing changes.
    let r = dev
        .admin(&[
            "updateBrokerConfig",
            "-b",
            &dev.broker,
            "-k",
            "brokerName",
            "-v",
            "x",
        ])
        .await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("maxMessageSize"), "{r:?}");
    let config = dev.json(&["getBrokerConfig", "-b", &dev.broker]).await;
    assert_eq!(config["brokers"][0]["config"]["brokerName"], "broker-a");

    // Without -n, NAMESRV_ADDR names the name servers, as for mqadmin.
    let ns = dev.namesrv.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ferromq"))
            .args(["admin", "clusterList", "--output", "json"])
            .env("NAMESRV_ADDR", ns)
            .output()
            .expect("run ferromq admin")
    })
    .await
    .expect("admin task");
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["brokers"][0]["addr"], dev.broker.as_str());

    // No server there: exit code 4 with a hint about -n.
    let r = run(["admin", "topicList", "-n", "127.0.0.1:1"]
        .map(str::to_owned)
        .to_vec())
    .await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("NAMESRV_ADDR"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn consumer_group_commands_and_reset_offset_by_time() {
    let dev = AdminDev::start();
    dev.json(&[
        "updateTopic",
        "-c",
        "DefaultCluster",
        "-t",
        "Payments",
        "-r",
        "2",
        "-w",
        "2",
    ])
    .await;

    let group = dev
        .json(&[
            "updateSubGroup",
            "-c",
            "DefaultCluster",
            "-g",
            "billing",
            "-r",
            "3",
        ])
        .await;
    assert_eq!(group["groupName"], "billing");
    assert_eq!(group["retryMaxTimes"], 3);
    assert!(dev
        .table(&["updateSubGroup", "-b", &dev.broker, "-g", "audit"])
        .await
        .contains("success"));

    // A running consumer of our own client.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let mut config =
        PushConsumerConfig::new(vec![dev.namesrv.clone()], "billing").subscribe("Payments", "*");
    config.consume_from = ConsumeFrom::FirstOffset;
    config.persist_interval = Duration::from_millis(100);
    config.rebalance_interval = Duration::from_millis(500);
    let consumer = PushConsumer::start(config, move |msgs| {
        sink.lock().expect("lock").extend(
            msgs.iter()
                .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
        );
        ConsumeStatus::ConsumeSuccess
    })
    .await
    .expect("consumer starts");
    let got = |n: usize| {
        let received = received.clone();
        async move { (received.lock().expect("lock").len() >= n).then_some(()) }
    };

    let send = |body: String| {
        let dev = &dev;
        async move {
            let r = dev
                .json(&["sendMessage", "-t", "Payments", "-p", &body])
                .await;
            r["queueId"].as_u64().expect("queue id")
        }
    };
    let before: Vec<String> = (0..4).map(|i| format!("before-{i}")).collect();
    for b in &before {
        send(b.clone()).await;
    }
    eventually("the first messages", || got(4)).await;
    // The reset point: strictly after every first message was stored.
    let stored = dev.json(&["consumeMessage", "-t", "Payments"]).await;
    let reset_at = stored["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["storeTimestamp"].as_i64())
        .max()
        .expect("store times")
        + 1;
    eventually("the clock to pass the reset point", || async {
        (now_ms() > reset_at).then_some(())
    })
    .await;
    let after: Vec<String> = (0..4).map(|i| format!("after-{i}")).collect();
    for b in &after {
        send(b.clone()).await;
    }
    eventually("all messages", || got(8)).await;
    let lag_zero = || async {
        let p = dev.json(&["consumerProgress", "-g", "billing"]).await;
        (p["totalLag"] == 0).then_some(p)
    };
    let progress = eventually("committed offsets to catch up", lag_zero).await;
    let consumer_offsets: i64 = progress["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter(|q| q["topic"] == "Payments")
        .map(|q| q["consumerOffset"].as_i64().expect("offset"))
        .sum();
    assert_eq!(consumer_offsets, 8);
    let text = dev
        .table(&["consumerProgress", "-g", "billing", "-t", "Payments"])
        .await;
    assert!(text.contains("Diff Total: 0"), "{text}");

    let conn = dev.json(&["consumerConnection", "-g", "billing"]).await;
    assert_eq!(
        strs(&conn["connections"], "clientId"),
        [consumer.client_id()]
    );
    assert!(strs(&conn["subscriptions"], "topic").contains(&"Payments".to_owned()));
    assert_eq!(conn["messageModel"], "CLUSTERING");
    let text = dev.table(&["consumerConnection", "-g", "billing"]).await;
    assert!(text.contains(consumer.client_id()), "{text}");

    let groups = dev.json(&["consumerProgress"]).await;
    let names: BTreeSet<String> = strs(&groups["groups"], "group").into_iter().collect();
    assert!(
        names.contains("billing") && names.contains("audit"),
        "{names:?}"
    );
    let text = dev.table(&["consumerProgress"]).await;
    assert!(
        text.starts_with("#Group") && text.contains("billing"),
        "{text}"
    );

    // Reset to the point between the two batches: the running consumer gets the second batch
    // again, and only it.
    let before_reset = received.lock().expect("lock").len();
    let ts = reset_at.to_string();
    let reset = dev
        .json(&[
            "resetOffsetByTime",
            "-g",
            "billing",
            "-t",
            "Payments",
            "-s",
            &ts,
        ])
        .await;
    let new_offsets: i64 = reset["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| o["offset"].as_i64().expect("offset"))
        .sum();
    assert_eq!(new_offsets, 4, "{reset}");
    eventually("the second batch again", || got(before_reset + 4)).await;
    let _ = eventually("committed offsets to catch up again", lag_zero).await;
    let again: BTreeSet<String> = received.lock().expect("lock")[before_reset..]
        .iter()
        .cloned()
        .collect();
    assert_eq!(again, after.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(
        received.lock().expect("lock").len(),
        before_reset + 4,
        "nothing else redelivered"
    );

    // Table form, to the end of the queues (-1): nothing more is delivered.
    let text = dev
        .table(&[
            "resetOffsetByTime",
            "-g",
            "billing",
            "-t",
            "Payments",
            "-s",
            "-1",
        ])
        .await;
    assert!(
        text.contains("#brokerName") && text.contains("broker-a"),
        "{text}"
    );

    // A producer of our own client shows up once it has sent (its heartbeat registers it).
    let producer = ferromq_client::Producer::start(ferromq_client::ProducerConfig {
        namesrv_addrs: vec![dev.namesrv.clone()],
        group: "checkout".into(),
        heartbeat_interval: Duration::from_millis(100),
        ..ferromq_client::ProducerConfig::default()
    })
    .await
    .expect("producer starts");
    producer
        .send(ferromq_client::Message::new("Payments", "from-checkout"))
        .await
        .expect("send");
    let conn = eventually("the producer to register", || async {
        let r = dev
            .admin(&[
                "producerConnection",
                "-g",
                "checkout",
                "-t",
                "Payments",
                "--output",
                "json",
            ])
            .await;
        (r.code == 0).then(|| serde_json::from_str::<Value>(&r.stdout).expect("json"))
    })
    .await;
    assert_eq!(
        strs(&conn["connections"], "clientId"),
        [producer.client_id()]
    );
    let text = dev
        .table(&["producerConnection", "-g", "checkout", "-t", "Payments"])
        .await;
    assert!(text.contains(producer.client_id()), "{text}");
    producer.shutdown().await;
    let r = dev
        .admin(&["producerConnection", "-g", "nobody", "-t", "Payments"])
        .await;
    assert_eq!(r.code, 3, "{r:?}");

    // Not found and usage errors.
    for args in [
        &["consumerProgress", "-g", "nobody"][..],
        &["consumerConnection", "-g", "audit"],
        &[
            "resetOffsetByTime",
            "-g",
            "billing",
            "-t",
            "Missing",
            "-s",
            "now",
        ],
    ] {
        let r = dev.admin(args).await;
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
    }
    let r = dev
        .admin(&[
            "resetOffsetByTime",
            "-g",
            "billing",
            "-t",
            "Payments",
            "-s",
            "yesterday",
        ])
        .await;
    assert_eq!(r.code, 2, "{r:?}");

    let deleted = dev
        .json(&["deleteSubGroup", "-c", "DefaultCluster", "-g", "audit"])
        .await;
    assert_eq!(deleted["groupName"], "audit");
    let groups = dev.json(&["consumerProgress"]).await;
    assert!(!strs(&groups["groups"], "group").contains(&"audit".to_owned()));
    let r = dev
        .admin(&["deleteSubGroup", "-c", "DefaultCluster", "-g", "audit"])
        .await;
    assert_eq!(r.code, 3, "{r:?}");

    consumer.shutdown().await;
    let text = dev
        .table(&[
            "deleteSubGroup",
            "-c",
            "DefaultCluster",
            "-g",
            "billing",
            "-r",
            "true",
        ])
        .await;
    assert!(
        text.contains("delete subscription group [billing]"),
        "{text}"
    );
}
